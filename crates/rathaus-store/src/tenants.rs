//! Tenants: municipalities and the administrations serving them.

use std::collections::{HashMap, HashSet};

use rathaus_domain::tenant::{Slug, Tenant, TenantKey, TenantKind, TenantProfile};
use time::OffsetDateTime;

use crate::catalogue::Cached;
use crate::db::{Row, Tx};
use crate::{Store, StoreError, args};

fn tenant(row: &Row) -> Result<Tenant, StoreError> {
    let bad = |what: &str, e: String| StoreError::Decode(format!("tenant {what}: {e}"));
    let kind = row.text("kind")?;
    Ok(Tenant {
        key: row
            .text("key")?
            .parse()
            .map_err(|e| bad("key", format!("{e}")))?,
        ars: row.opt_text("ars")?,
        kind: TenantKind::from_code(&kind).ok_or_else(|| bad("kind", kind.clone()))?,
        name: row.text("name")?,
        official_name: row.text("official_name")?,
        slug: row
            .text("slug")?
            .parse()
            .map_err(|e| bad("slug", format!("{e}")))?,
        district: row.text("district")?,
        parent: row
            .opt_text("parent_key")?
            .map(|p| p.parse())
            .transpose()
            .map_err(|e| bad("parent", format!("{e}")))?,
        population: row.opt_i64("population")?,
        enabled: row.bool("enabled")?,
        profile: serde_json::from_str(&row.text("profile")?)
            .map_err(|e| bad("profile", e.to_string()))?,
    })
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantFilter {
    pub enabled_only: bool,
    /// Two-digit Land key, e.g. "12".
    pub land: Option<String>,
    pub parent: Option<TenantKey>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

impl Store {
    /// A tenant by key (from memory; see [`crate::catalogue`]).
    pub async fn tenant(&self, key: &TenantKey) -> Result<Option<Tenant>, StoreError> {
        const SQL: &str =
            "SELECT key, ars, kind, name, official_name, slug, district, parent_key, population,
            enabled, profile FROM tenants WHERE key = $1";
        self.catalogue.refresh(self.pool()).await?;
        let epoch = match self.catalogue.tenant_by_key(key.as_str()) {
            Cached::Hit(t) => return Ok(Some(t)),
            Cached::Miss(epoch) => epoch,
        };
        let found = self
            .pool()
            .fetch_optional(SQL, args![key.as_str()])
            .await?
            .as_ref()
            .map(tenant)
            .transpose()?;
        if let Some(t) = &found {
            self.catalogue.keep_tenant(epoch, t);
        }
        Ok(found)
    }

    /// A tenant by its address name (from memory; see [`crate::catalogue`]).
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, StoreError> {
        const SQL: &str =
            "SELECT key, ars, kind, name, official_name, slug, district, parent_key, population,
            enabled, profile FROM tenants WHERE slug = $1";
        self.catalogue.refresh(self.pool()).await?;
        let epoch = match self.catalogue.tenant_by_slug(slug) {
            Cached::Hit(t) => return Ok(Some(t)),
            Cached::Miss(epoch) => epoch,
        };
        let found = self
            .pool()
            .fetch_optional(SQL, args![slug])
            .await?
            .as_ref()
            .map(tenant)
            .transpose()?;
        if let Some(t) = &found {
            self.catalogue.keep_tenant(epoch, t);
        }
        Ok(found)
    }

    pub async fn tenants(&self, filter: &TenantFilter) -> Result<Vec<Tenant>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT key, ars, kind, name, official_name, slug, district, parent_key, population, enabled, profile
                 FROM tenants
                 WHERE ($1 = FALSE OR enabled = TRUE)
                   AND ($2 IS NULL OR substr(key, 1, 2) = $2)
                   AND ($3 IS NULL OR parent_key = $3)
                 ORDER BY name, key",
                args![filter.enabled_only, filter.land.clone(), filter.parent.as_ref().map(|p| p.as_str())],
            )
            .await?;
        rows.iter().map(tenant).collect()
    }

    /// Tenants whose name (lower-cased) or slug contains the given parts; municipalities only.
    pub async fn search_tenants(
        &self,
        name_part: &str,
        slug_part: &str,
        limit: i64,
    ) -> Result<Vec<Tenant>, StoreError> {
        let like = |s: &str| format!("%{}%", s.replace(['\\', '%', '_'], ""));
        let rows = self
            .pool()
            .fetch_all(
                "SELECT key, ars, kind, name, official_name, slug, district, parent_key, population, enabled, profile
                 FROM tenants WHERE length(key) = 8 AND (lower(name) LIKE $1 OR slug LIKE $2)
                 ORDER BY enabled DESC, name LIMIT $3",
                args![like(name_part), like(slug_part), limit],
            )
            .await?;
        rows.iter().map(tenant).collect()
    }

    pub async fn count_tenants(&self) -> Result<(i64, i64), StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN enabled THEN 1 ELSE 0 END), 0) AS enabled FROM tenants",
                vec![],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.i64("total")?, row.i64("enabled")?))
    }
}

/// Inserts new tenants and updates the register data (name, kind, district, parent, population)
/// of known ones. A tenant's slug, profile and enabled flag, which the operator may have changed,
/// stay as they are. Administrations must come before their members.
pub async fn import(
    tx: &mut Tx,
    tenants: &[&Tenant],
    now: OffsetDateTime,
) -> Result<ImportCounts, StoreError> {
    tx.changes_catalogue().await?;
    let now = crate::now_ms(now);
    let existing_rows = tx.fetch_all(
        "SELECT key, ars, kind, name, official_name, slug, district, parent_key, population, enabled, profile FROM tenants",
        vec![],
    ).await?;
    let mut existing: HashMap<String, Tenant> = HashMap::with_capacity(existing_rows.len());
    let mut slugs: HashSet<String> = HashSet::with_capacity(existing_rows.len());
    for row in &existing_rows {
        let t = tenant(row)?;
        slugs.insert(t.slug.to_string());
        existing.insert(t.key.to_string(), t);
    }
    let mut counts = ImportCounts::default();
    for t in tenants {
        match existing.get(t.key.as_str()) {
            Some(old) => {
                let same = old.ars == t.ars
                    && old.kind == t.kind
                    && old.name == t.name
                    && old.official_name == t.official_name
                    && old.district == t.district
                    && old.parent == t.parent
                    && old.population == t.population;
                if same {
                    counts.unchanged += 1;
                    continue;
                }
                tx.execute(
                    "UPDATE tenants SET ars = $2, kind = $3, name = $4, official_name = $5, district = $6,
                         parent_key = $7, population = $8, updated_at = $9 WHERE key = $1",
                    args![
                        t.key.as_str(),
                        t.ars.clone(),
                        t.kind.code(),
                        &t.name,
                        &t.official_name,
                        &t.district,
                        t.parent.as_ref().map(|p| p.as_str()),
                        t.population,
                        now
                    ],
                )
                .await?;
                counts.updated += 1;
            }
            None => {
                let mut slug = t.slug.clone();
                if slugs.contains(slug.as_str()) {
                    slug = Slug::from_name(t.kind, &t.name).with_key(&t.key);
                }
                slugs.insert(slug.to_string());
                insert(tx, t, &slug, now).await?;
                counts.inserted += 1;
            }
        }
    }
    Ok(counts)
}

async fn insert(tx: &mut Tx, t: &Tenant, slug: &Slug, now: i64) -> Result<(), StoreError> {
    let profile =
        serde_json::to_string(&t.profile).map_err(|e| StoreError::Decode(e.to_string()))?;
    tx.execute(
        "INSERT INTO tenants (key, ars, kind, name, official_name, slug, district, parent_key, population,
             enabled, profile, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
        args![
            t.key.as_str(),
            t.ars.clone(),
            t.kind.code(),
            &t.name,
            &t.official_name,
            slug.as_str(),
            &t.district,
            t.parent.as_ref().map(|p| p.as_str()),
            t.population,
            t.enabled,
            profile,
            now
        ],
    )
    .await?;
    Ok(())
}

/// Returns whether the flag changed.
pub async fn set_enabled(
    tx: &mut Tx,
    key: &TenantKey,
    enabled: bool,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    tx.changes_catalogue().await?;
    let n = tx
        .execute(
            "UPDATE tenants SET enabled = $2, updated_at = $3 WHERE key = $1 AND enabled <> $2",
            args![key.as_str(), enabled, crate::now_ms(now)],
        )
        .await?;
    Ok(n > 0)
}

/// A tenant's profile read inside a write transaction (locked on PostgreSQL), for a change that
/// keeps the rest of it as it is now rather than as a page showed it earlier.
pub async fn profile_for_update(tx: &mut Tx, key: &TenantKey) -> Result<TenantProfile, StoreError> {
    let sql = match tx.dialect() {
        crate::Dialect::Sqlite => "SELECT profile FROM tenants WHERE key = $1",
        crate::Dialect::Postgres => "SELECT profile FROM tenants WHERE key = $1 FOR UPDATE",
    };
    let row = tx
        .fetch_optional(sql, args![key.as_str()])
        .await?
        .ok_or(StoreError::NotFound)?;
    serde_json::from_str(&row.text("profile")?)
        .map_err(|e| StoreError::Decode(format!("tenant profile: {e}")))
}

pub async fn set_profile(
    tx: &mut Tx,
    key: &TenantKey,
    profile: &TenantProfile,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.changes_catalogue().await?;
    let json = serde_json::to_string(profile).map_err(|e| StoreError::Decode(e.to_string()))?;
    let n = tx
        .execute(
            "UPDATE tenants SET profile = $2, updated_at = $3 WHERE key = $1",
            args![key.as_str(), json, crate::now_ms(now)],
        )
        .await?;
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub async fn set_slug(
    tx: &mut Tx,
    key: &TenantKey,
    slug: &Slug,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.changes_catalogue().await?;
    let n = tx
        .execute(
            "UPDATE tenants SET slug = $2, updated_at = $3 WHERE key = $1",
            args![key.as_str(), slug.as_str(), crate::now_ms(now)],
        )
        .await?;
    if n == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

//! Service definitions (versioned) and the services each municipality offers.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::catalogue::Cached;
use crate::db::Tx;
use crate::{Store, StoreError, args};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDefinition {
    pub service_id: String,
    pub version: i64,
    pub definition: String,
    pub checksum: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub tenant_key: String,
    pub service_id: String,
    pub enabled: bool,
    pub params: Map<String, Value>,
    /// Decisions need a second clerk's confirmation.
    pub four_eyes: bool,
}

/// Stores a definition version. The same version with other content is a conflict: a changed
/// definition needs a new version, because submissions refer to the version they were made with.
/// Returns false when this exact version was already stored.
pub async fn put_definition(
    tx: &mut Tx,
    d: &StoredDefinition,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    tx.changes_catalogue().await?;
    let existing = tx
        .fetch_optional(
            "SELECT checksum FROM service_definitions WHERE service_id = $1 AND version = $2",
            args![&d.service_id, d.version],
        )
        .await?;
    match existing {
        Some(row) if row.text("checksum")? == d.checksum => Ok(false),
        Some(_) => Err(StoreError::Conflict(format!(
            "service {} version {} is already stored with different content; raise the version",
            d.service_id, d.version
        ))),
        None => {
            tx.execute(
                "INSERT INTO service_definitions (service_id, version, definition, checksum, imported_at) VALUES ($1, $2, $3, $4, $5)",
                args![&d.service_id, d.version, &d.definition, &d.checksum, crate::now_ms(now)],
            )
            .await?;
            Ok(true)
        }
    }
}

fn stored(row: &crate::Row) -> Result<StoredDefinition, StoreError> {
    Ok(StoredDefinition {
        service_id: row.text("service_id")?,
        version: row.i64("version")?,
        definition: row.text("definition")?,
        checksum: row.text("checksum")?,
    })
}

fn offer(row: &crate::Row) -> Result<Offer, StoreError> {
    let params: Value = serde_json::from_str(&row.text("params")?)
        .map_err(|e| StoreError::Decode(e.to_string()))?;
    Ok(Offer {
        tenant_key: row.text("tenant_key")?,
        service_id: row.text("service_id")?,
        enabled: row.bool("enabled")?,
        four_eyes: row.bool("four_eyes")?,
        params: match params {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    })
}

impl Store {
    pub async fn definition(
        &self,
        service_id: &str,
        version: i64,
    ) -> Result<Option<StoredDefinition>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT service_id, version, definition, checksum FROM service_definitions WHERE service_id = $1 AND version = $2",
                args![service_id, version],
            )
            .await?;
        row.as_ref().map(stored).transpose()
    }

    /// The id and newest version of every service, ordered by id (from memory; see
    /// [`crate::catalogue`]).
    pub async fn latest_definition_versions(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.catalogue.refresh(self.pool()).await?;
        let epoch = match self.catalogue.latest_versions() {
            Cached::Hit(v) => return Ok(v),
            Cached::Miss(epoch) => epoch,
        };
        let rows = self
            .pool()
            .fetch_all(
                "SELECT service_id, MAX(version) AS version FROM service_definitions
                 GROUP BY service_id ORDER BY service_id",
                vec![],
            )
            .await?;
        let versions = rows
            .iter()
            .map(|r| Ok((r.text("service_id")?, r.i64("version")?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.catalogue.keep_latest_versions(epoch, &versions);
        Ok(versions)
    }

    /// The newest version of every service.
    pub async fn latest_definitions(&self) -> Result<Vec<StoredDefinition>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT d.service_id, d.version, d.definition, d.checksum FROM service_definitions d
                 WHERE d.version = (SELECT MAX(version) FROM service_definitions x WHERE x.service_id = d.service_id)
                 ORDER BY d.service_id",
                vec![],
            )
            .await?;
        rows.iter().map(stored).collect()
    }

    /// The services a tenant offers or withdrew (from memory; see [`crate::catalogue`]).
    pub async fn offers(&self, tenant_key: &str) -> Result<Vec<Offer>, StoreError> {
        self.catalogue.refresh(self.pool()).await?;
        let epoch = match self.catalogue.offers(tenant_key) {
            Cached::Hit(o) => return Ok(o),
            Cached::Miss(epoch) => epoch,
        };
        let rows = self
            .pool()
            .fetch_all(
                "SELECT tenant_key, service_id, enabled, params, four_eyes FROM tenant_services WHERE tenant_key = $1 ORDER BY service_id",
                args![tenant_key],
            )
            .await?;
        let offers = rows.iter().map(offer).collect::<Result<Vec<_>, _>>()?;
        self.catalogue.keep_offers(epoch, tenant_key, &offers);
        Ok(offers)
    }

    pub async fn offer(
        &self,
        tenant_key: &str,
        service_id: &str,
    ) -> Result<Option<Offer>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT tenant_key, service_id, enabled, params, four_eyes FROM tenant_services WHERE tenant_key = $1 AND service_id = $2",
                args![tenant_key, service_id],
            )
            .await?;
        row.as_ref().map(offer).transpose()
    }
}

/// Offers (or withdraws) a service for a tenant; parameters are replaced when given.
pub async fn set_offer(
    tx: &mut Tx,
    tenant_key: &str,
    service_id: &str,
    enabled: bool,
    params: Option<&Map<String, Value>>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    tx.changes_catalogue().await?;
    let params_json = params.map(|p| Value::Object(p.clone()).to_string());
    let changed = tx
        .execute(
            "INSERT INTO tenant_services (tenant_key, service_id, enabled, params, updated_at)
             VALUES ($1, $2, $3, COALESCE($4, '{}'), $5)
             ON CONFLICT (tenant_key, service_id) DO UPDATE
               SET enabled = excluded.enabled, params = COALESCE($4, tenant_services.params), updated_at = excluded.updated_at
               WHERE tenant_services.enabled <> excluded.enabled OR ($4 IS NOT NULL AND tenant_services.params <> $4)",
            args![tenant_key, service_id, enabled, params_json, crate::now_ms(now)],
        )
        .await?;
    Ok(changed > 0)
}

/// Sets the four-eyes rule and the parameters of an offered service. Returns false when the
/// municipality does not offer it.
pub async fn set_offer_settings(
    tx: &mut Tx,
    tenant_key: &str,
    service_id: &str,
    four_eyes: bool,
    params: &Map<String, Value>,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    tx.changes_catalogue().await?;
    let n = tx
        .execute(
            "UPDATE tenant_services SET four_eyes = $3, params = $4, updated_at = $5 WHERE tenant_key = $1 AND service_id = $2",
            args![tenant_key, service_id, four_eyes, Value::Object(params.clone()).to_string(), crate::now_ms(now)],
        )
        .await?;
    Ok(n > 0)
}

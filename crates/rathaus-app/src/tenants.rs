//! Tenant use cases: importing the official register, listing, enabling and disabling.

use std::path::Path;

use rathaus_domain::gv;
use rathaus_domain::tenant::{Tenant, TenantKey, TenantProfile};
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::tenants as store_tenants;
pub use rathaus_store::tenants::{ImportCounts, TenantFilter};

use crate::{Actor, App, AppError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportReport {
    pub municipalities: usize,
    pub administrations: usize,
    pub counts: ImportCounts,
}

/// Parses a tenant reference given on the command line or in a URL: an AGS, an administration
/// key, or a slug.
pub async fn resolve(app: &App, reference: &str) -> Result<Tenant, AppError> {
    let found = match reference.parse::<TenantKey>() {
        Ok(key) => app.store.tenant(&key).await?,
        Err(_) if reference.bytes().all(|b| b.is_ascii_digit()) => {
            return Err(AppError::BadInput(format!(
                "{reference:?} is not an AGS (8 digits) or the key of an administration (9 digits)"
            )));
        }
        Err(_) => app.store.tenant_by_slug(reference).await?,
    };
    found.ok_or_else(|| {
        AppError::NotFound(format!(
            "no municipality or administration with AGS or name {reference:?}"
        ))
    })
}

impl App {
    /// Imports a GV-ISys extract in one transaction: a malformed file imports nothing.
    pub async fn import_gv_file(
        &self,
        actor: &Actor,
        path: &Path,
    ) -> Result<ImportReport, AppError> {
        let bytes = std::fs::read(path)
            .map_err(|e| AppError::BadInput(format!("cannot read {}: {e}", path.display())))?;
        self.import_gv(actor, &bytes, &path.display().to_string())
            .await
    }

    pub async fn import_gv(
        &self,
        actor: &Actor,
        bytes: &[u8],
        source: &str,
    ) -> Result<ImportReport, AppError> {
        let extract = gv::parse(bytes)
            .map_err(|e| AppError::BadInput(format!("{source}: {e}; nothing was imported")))?;
        let all: Vec<&Tenant> = extract.tenants().collect();
        let mut tx = self.store.begin().await?;
        let counts = store_tenants::import(&mut tx, &all, self.now()).await?;
        let outcome = format!(
            "ok: {} new, {} updated, {} unchanged",
            counts.inserted, counts.updated, counts.unchanged
        );
        let actor = actor.audit_name();
        append(
            &mut tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor,
                tenant: None,
                action: "tenant.import_gv",
                object: "register:gv-isys",
                outcome: &outcome,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(ImportReport {
            municipalities: extract.municipalities.len(),
            administrations: extract.administrations.len(),
            counts,
        })
    }

    /// An enabled tenant by its URL slug; disabled and unknown tenants look alike to the public.
    pub async fn public_tenant(&self, slug: &str) -> Result<Tenant, AppError> {
        match self.store.tenant_by_slug(slug).await? {
            Some(t) if t.enabled => Ok(t),
            _ => Err(AppError::NotFound(format!("no municipality {slug:?}"))),
        }
    }

    /// An enabled tenant by its official key (AGS or ARS); disabled, unknown and malformed keys
    /// look alike to the public.
    pub async fn public_tenant_by_key(&self, key: &str) -> Result<Tenant, AppError> {
        let not_found = || {
            AppError::NotFound(format!(
                "no municipality {:?} here",
                key.chars().take(12).collect::<String>()
            ))
        };
        let parsed = key.parse().map_err(|_| not_found())?;
        match self.store.tenant(&parsed).await? {
            Some(t) if t.enabled => Ok(t),
            _ => Err(not_found()),
        }
    }

    pub async fn list_tenants(&self, filter: &TenantFilter) -> Result<Vec<Tenant>, AppError> {
        Ok(self.store.tenants(filter).await?)
    }

    /// Enables or disables a tenant. Enabling creates the tenant's data key in the same
    /// transaction, so an enabled tenant can always seal personal data. Returns whether anything
    /// changed.
    pub async fn set_tenant_enabled(
        &self,
        actor: &Actor,
        reference: &str,
        enabled: bool,
    ) -> Result<(Tenant, bool), AppError> {
        let tenant = resolve(self, reference).await?;
        let mut tx = self.store.begin().await?;
        let changed = store_tenants::set_enabled(&mut tx, &tenant.key, enabled, self.now()).await?;
        if enabled {
            self.store
                .ensure_tenant_key(&mut tx, tenant.key.as_str(), self.now())
                .await?;
        }
        if changed {
            let actor = actor.audit_name();
            let action = if enabled {
                "tenant.enable"
            } else {
                "tenant.disable"
            };
            let object = format!("tenant:{}", tenant.key);
            append(
                &mut tx,
                &NewAuditEntry {
                    at: self.now(),
                    actor: &actor,
                    tenant: Some(tenant.key.as_str()),
                    action,
                    object: &object,
                    outcome: "ok",
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok((Tenant { enabled, ..tenant }, changed))
    }

    pub async fn set_tenant_profile(
        &self,
        actor: &Actor,
        key: &TenantKey,
        profile: &TenantProfile,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        store_tenants::set_profile(&mut tx, key, profile, self.now()).await?;
        let actor = actor.audit_name();
        let object = format!("tenant:{key}");
        append(
            &mut tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor,
                tenant: Some(key.as_str()),
                action: "tenant.profile",
                object: &object,
                outcome: "ok",
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The administration serving a municipality, and the members of an administration.
    pub async fn tenant_family(
        &self,
        tenant: &Tenant,
    ) -> Result<(Option<Tenant>, Vec<Tenant>), AppError> {
        let parent = match &tenant.parent {
            Some(p) => self.store.tenant(p).await?,
            None => None,
        };
        let members = if tenant.kind.is_administration() {
            self.store
                .tenants(&TenantFilter {
                    parent: Some(tenant.key.clone()),
                    ..TenantFilter::default()
                })
                .await?
        } else {
            Vec::new()
        };
        Ok((parent, members))
    }

    /// A municipality's contact data, falling back to its administration's where it has none of
    /// its own (the Amt runs the business of its members).
    pub async fn effective_profile(&self, tenant: &Tenant) -> Result<TenantProfile, AppError> {
        let own = tenant.profile.clone();
        let Some(parent_key) = &tenant.parent else {
            return Ok(own);
        };
        let Some(parent) = self.store.tenant(parent_key).await? else {
            return Ok(own);
        };
        let p = parent.profile;
        Ok(TenantProfile {
            address: if own.address.is_empty() {
                p.address
            } else {
                own.address
            },
            postcode: own.postcode.or(p.postcode),
            phone: own.phone.or(p.phone),
            email: own.email.or(p.email),
            website: own.website.or(p.website),
            office_hours: if own.office_hours.is_empty() {
                p.office_hours
            } else {
                own.office_hours
            },
            bank: own.bank.or(p.bank),
            creditor_id: own.creditor_id.or(p.creditor_id),
            example_data: own.example_data || p.example_data,
            signature: if own.signature.is_empty() {
                p.signature
            } else {
                own.signature
            },
            logo_blob: own.logo_blob.or(p.logo_blob),
        })
    }
}

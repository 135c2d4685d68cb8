//! The catalogue of services: definitions shipped with the product or imported, and the services
//! each municipality offers with its parameters.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use data_encoding::HEXLOWER;
use rathaus_domain::service::ServiceDefinition;
use rathaus_domain::tenant::Tenant;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::services::{self as store_services, StoredDefinition};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::{Actor, App, AppError};

/// Definitions shipped in `services/`, compiled in so that every installation has them.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "maengelmelder.json",
        include_str!("../../../services/maengelmelder.json"),
    ),
    (
        "hundesteuer-anmeldung.json",
        include_str!("../../../services/hundesteuer-anmeldung.json"),
    ),
    (
        "hundesteuer-abmeldung.json",
        include_str!("../../../services/hundesteuer-abmeldung.json"),
    ),
    (
        "hundesteuer-ersatzmarke.json",
        include_str!("../../../services/hundesteuer-ersatzmarke.json"),
    ),
];

/// Parsed definitions by id and version. Definitions never change once stored, so the cache
/// needs no invalidation and may be shared by all requests.
#[derive(Default)]
pub struct DefinitionCache(RwLock<HashMap<(String, i64), Arc<ServiceDefinition>>>);

/// A service as one municipality offers it.
#[derive(Clone, Debug)]
pub struct OfferedService {
    pub definition: Arc<ServiceDefinition>,
    /// The definition's defaults overridden by the municipality's values.
    pub params: Map<String, Value>,
}

fn checksum(json: &str) -> String {
    HEXLOWER.encode(&Sha256::digest(json.as_bytes()))
}

impl App {
    /// Stores the shipped definitions that the database does not have yet. Run at start.
    pub async fn sync_shipped_services(&self) -> Result<Vec<String>, AppError> {
        let mut added = Vec::new();
        for (file, json) in SHIPPED {
            let def = ServiceDefinition::parse(json)
                .map_err(|e| AppError::Internal(format!("services/{file}: {e}")))?;
            if self.store_definition(&Actor::System, &def, json).await? {
                added.push(format!("{} v{}", def.id, def.version));
            }
        }
        Ok(added)
    }

    /// Imports a definition file; returns the definition and whether it was new.
    pub async fn import_service(
        &self,
        actor: &Actor,
        json: &str,
    ) -> Result<(Arc<ServiceDefinition>, bool), AppError> {
        let def = ServiceDefinition::parse(json).map_err(|e| AppError::BadInput(e.to_string()))?;
        let new = self.store_definition(actor, &def, json).await?;
        Ok((Arc::new(def), new))
    }

    async fn store_definition(
        &self,
        actor: &Actor,
        def: &ServiceDefinition,
        json: &str,
    ) -> Result<bool, AppError> {
        let stored = StoredDefinition {
            service_id: def.id.clone(),
            version: i64::from(def.version),
            definition: json.to_owned(),
            checksum: checksum(json),
        };
        let mut tx = self.store.begin().await?;
        let new = store_services::put_definition(&mut tx, &stored, self.now())
            .await
            .map_err(|e| match e {
                rathaus_store::StoreError::Conflict(m) => AppError::BadInput(m),
                other => other.into(),
            })?;
        if new {
            let actor = actor.audit_name();
            let object = format!("service:{}:v{}", def.id, def.version);
            append(
                &mut tx,
                &NewAuditEntry {
                    at: self.now(),
                    actor: &actor,
                    tenant: None,
                    action: "service.import",
                    object: &object,
                    outcome: "ok",
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(new)
    }

    /// A stored definition version (the one a draft or case was made with).
    pub async fn definition(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Arc<ServiceDefinition>, AppError> {
        let key = (id.to_owned(), version);
        if let Some(d) = self
            .definitions
            .0
            .read()
            .ok()
            .and_then(|c| c.get(&key).cloned())
        {
            return Ok(d);
        }
        let stored =
            self.store.definition(id, version).await?.ok_or_else(|| {
                AppError::NotFound(format!("no service {id:?} version {version}"))
            })?;
        let def = Arc::new(
            ServiceDefinition::parse(&stored.definition)
                .map_err(|e| AppError::Internal(e.to_string()))?,
        );
        if let Ok(mut c) = self.definitions.0.write() {
            c.insert(key, def.clone());
        }
        Ok(def)
    }

    /// The newest version of every known service.
    pub async fn latest_services(&self) -> Result<Vec<Arc<ServiceDefinition>>, AppError> {
        let mut out = Vec::new();
        for (id, version) in self.store.latest_definition_versions().await? {
            out.push(self.definition(&id, version).await?);
        }
        Ok(out)
    }

    async fn latest_definition(
        &self,
        id: &str,
    ) -> Result<Option<Arc<ServiceDefinition>>, AppError> {
        Ok(self
            .latest_services()
            .await?
            .into_iter()
            .find(|d| d.id == id))
    }

    /// Offers or withdraws a service for a municipality.
    pub async fn set_service_offered(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        service_id: &str,
        enabled: bool,
    ) -> Result<bool, AppError> {
        if self.latest_definition(service_id).await?.is_none() {
            return Err(AppError::NotFound(format!(
                "no service {service_id:?}; see `rathaus service list`"
            )));
        }
        if tenant.kind.is_administration() {
            return Err(AppError::BadInput(format!(
                "{} is an administration; services are offered by its member municipalities, whose statutes apply",
                tenant.title()
            )));
        }
        let mut tx = self.store.begin().await?;
        let changed = store_services::set_offer(
            &mut tx,
            tenant.key.as_str(),
            service_id,
            enabled,
            None,
            self.now(),
        )
        .await?;
        if changed {
            let actor = actor.audit_name();
            let object = format!("service:{service_id}");
            let action = if enabled {
                "service.offer"
            } else {
                "service.withdraw"
            };
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
        Ok(changed)
    }

    /// The services a municipality offers now, newest definition versions.
    pub async fn offered_services(&self, tenant: &Tenant) -> Result<Vec<OfferedService>, AppError> {
        let latest = self.latest_services().await?;
        let mut out = Vec::new();
        for offer in self
            .store
            .offers(tenant.key.as_str())
            .await?
            .into_iter()
            .filter(|o| o.enabled)
        {
            if let Some(def) = latest.iter().find(|d| d.id == offer.service_id) {
                out.push(OfferedService {
                    params: def.effective_parameters(&offer.params),
                    definition: def.clone(),
                });
            }
        }
        out.sort_by(|a, b| a.definition.title.de.cmp(&b.definition.title.de));
        Ok(out)
    }

    /// One offered service; not offered (or unknown) is `NotFound`.
    pub async fn offered_service(
        &self,
        tenant: &Tenant,
        service_id: &str,
    ) -> Result<OfferedService, AppError> {
        self.offered_services(tenant)
            .await?
            .into_iter()
            .find(|o| o.definition.id == service_id)
            .ok_or_else(|| {
                AppError::NotFound(format!("{} does not offer {service_id:?}", tenant.title()))
            })
    }

    /// The same service with the parameters in force now, but at the definition version a draft
    /// or case was made with.
    pub async fn offered_service_at(
        &self,
        tenant: &Tenant,
        service_id: &str,
        version: i64,
    ) -> Result<OfferedService, AppError> {
        let def = self.definition(service_id, version).await?;
        let overrides = self
            .store
            .offer(tenant.key.as_str(), service_id)
            .await?
            .map(|o| o.params)
            .unwrap_or_default();
        Ok(OfferedService {
            params: def.effective_parameters(&overrides),
            definition: def,
        })
    }
}

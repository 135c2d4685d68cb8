//! The back office: what staff may see and do with cases.
//!
//! Only clerks see case content, and only of their own tenant (an Amt's clerks: of its member
//! municipalities) and of the services assigned to them. Every read of a case and every change
//! is written to the audit log and to the case's access log, which the citizen sees.

pub mod bank;
pub mod cases;
pub mod inbox;
pub mod search;
pub mod settings;
pub mod statute;

use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::TenantKey;
use rathaus_store::tenants::TenantFilter;

use crate::{Actor, App, AppError};

/// The cases a person may see: tenants and (for clerks with assigned services) services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    pub tenant_keys: Vec<String>,
    pub services: Option<Vec<String>>,
}

pub(crate) fn actor(who: &StaffIdentity) -> Actor {
    Actor::Staff(who.user_id.clone())
}

impl App {
    /// The cases a clerk may work on. Other roles never see case content.
    pub async fn case_visibility(&self, who: &StaffIdentity) -> Result<Visibility, AppError> {
        if who.role != Role::Clerk {
            return Err(AppError::Forbidden(
                "Vorgänge bearbeitet die Sachbearbeitung. Ihre Rolle hat keinen Zugriff auf Vorgänge.".into(),
            ));
        }
        let Some(own) = &who.tenant_key else {
            return Err(AppError::Forbidden(
                "Konten des Betriebs haben keinen Zugriff auf den Inhalt von Vorgängen.".into(),
            ));
        };
        let tenant_keys = self.own_and_member_tenants(own).await?;
        let services = (!who.services.is_empty()).then(|| who.services.clone());
        Ok(Visibility {
            tenant_keys,
            services,
        })
    }
}

impl App {
    /// A tenant and, for an Amt, its member municipalities: the tenants whose data its staff
    /// see.
    pub(crate) async fn own_and_member_tenants(&self, own: &str) -> Result<Vec<String>, AppError> {
        let key: TenantKey = own
            .parse()
            .map_err(|e| AppError::Internal(format!("{e}")))?;
        let mut tenant_keys = vec![own.to_owned()];
        if key.is_administration() {
            let members = self
                .store
                .tenants(&TenantFilter {
                    parent: Some(key),
                    ..TenantFilter::default()
                })
                .await?;
            tenant_keys.extend(members.into_iter().map(|m| m.key.to_string()));
        }
        Ok(tenant_keys)
    }

    /// The audit log as the auditor of a tenant sees it: entries about their tenant (and its
    /// members, for an Amt), optionally about one case, newest first.
    pub async fn audit_log_for(
        &self,
        who: &StaffIdentity,
        reference: Option<&str>,
    ) -> Result<Vec<rathaus_crypto::audit::AuditRecord>, AppError> {
        let object = reference.map(|r| format!("case:{r}"));
        match (who.role, &who.tenant_key) {
            (Role::Auditor, Some(own)) => {
                let tenants = self.own_and_member_tenants(own).await?;
                Ok(self
                    .store
                    .audit_entries(&tenants, object.as_deref(), 500)
                    .await?)
            }
            (Role::OperatorAdmin, None) => {
                let mut out = self
                    .store
                    .installation_audit_entries(object.as_deref(), 500)
                    .await?;
                // The operator sees the installation's own entries, not those about cases.
                out.retain(|r| !r.object.starts_with("case"));
                Ok(out)
            }
            _ => Err(AppError::Forbidden(
                "Das Protokoll sehen Revision und Datenschutz.".into(),
            )),
        }
    }
}

//! Each municipality's Hundesteuersatzung versions, and quotes computed from them.

use rathaus_domain::dogtax::{FieldError, Quote, Statute, StatuteHistory, quote_json};
use rathaus_domain::localtime::berlin_date;
use rathaus_domain::tenant::Tenant;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::services as store_services;
use serde_json::{Value, json};

use super::REGISTRATION;
use crate::{Actor, App, AppError};

/// Why a quote could not be given.
#[derive(Debug)]
pub enum QuoteError {
    /// No enabled municipality with this AGS.
    NotFound(String),
    /// The request breaks the rules; every problem names its field.
    Invalid(Vec<FieldError>),
    Failed(AppError),
}

impl From<AppError> for QuoteError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(m) => QuoteError::NotFound(m),
            other => QuoteError::Failed(other),
        }
    }
}

/// What `statute set` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatuteSet {
    pub tenant: Tenant,
    pub valid_from: String,
    /// 1 for a new version; higher when a version with the same `valid_from` was corrected.
    pub revision: i64,
}

impl App {
    /// A municipality that keeps a dog-tax statute: an AGS (or slug) of a municipality, not of an
    /// administration, whose members each have their own Satzung.
    pub async fn dogtax_municipality(&self, reference: &str) -> Result<Tenant, AppError> {
        let tenant = crate::tenants::resolve(self, reference).await?;
        if tenant.kind.is_administration() {
            return Err(AppError::BadInput(format!(
                "{} is an administration; the dog tax is set by each member municipality's own Satzung",
                tenant.title()
            )));
        }
        Ok(tenant)
    }

    /// The municipality behind a public dog-tax request: unknown, disabled and administrations
    /// are all "not found", so the API does not tell them apart.
    pub async fn dogtax_public_tenant(&self, ags: &str) -> Result<Tenant, AppError> {
        let not_found = || {
            AppError::NotFound(format!(
                "no municipality with AGS {:?} offers the dog tax here",
                ags.chars().take(12).collect::<String>()
            ))
        };
        match self.public_tenant_by_key(ags).await {
            Ok(t) if !t.kind.is_administration() => Ok(t),
            Ok(_) | Err(AppError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(e),
        }
    }

    /// The Satzung versions of a municipality (empty when none was set).
    pub async fn dogtax_statutes(&self, tenant: &Tenant) -> Result<StatuteHistory, AppError> {
        let mut history = StatuteHistory::new();
        for stored in self.store.dogtax_statutes(tenant.key.as_str()).await? {
            let statute = Statute::from_json(&stored.statute).map_err(|e| {
                AppError::Internal(format!(
                    "stored statute of {} valid from {}: {e}",
                    tenant.key, stored.valid_from
                ))
            })?;
            history.insert(statute);
        }
        Ok(history)
    }

    /// Adds a Satzung version from its file. A version with the same `valid_from` is superseded
    /// by a new revision; the old one stays in the database.
    pub async fn set_dogtax_statute(
        &self,
        actor: &Actor,
        reference: &str,
        json: &str,
    ) -> Result<StatuteSet, AppError> {
        let tenant = self.dogtax_municipality(reference).await?;
        let statute = Statute::from_json(json).map_err(|e| AppError::BadInput(e.to_string()))?;
        self.store_dogtax_statute(actor, &tenant, &statute).await
    }

    pub(crate) async fn store_dogtax_statute(
        &self,
        actor: &Actor,
        tenant: &Tenant,
        statute: &Statute,
    ) -> Result<StatuteSet, AppError> {
        let valid_from = statute.valid_from().to_string();
        // Stored in the canonical form, so that equal statutes are stored alike.
        let text = serde_json::to_string_pretty(&statute.to_value())
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let actor_name = actor.audit_name();
        let mut tx = self.store.begin().await?;
        let revision = self
            .store
            .insert_dogtax_statute(
                &mut tx,
                tenant.key.as_str(),
                &valid_from,
                &text,
                &actor_name,
                self.now(),
            )
            .await?;
        let object = format!("dogtax-statute:{}:{valid_from}", tenant.key);
        let outcome = format!("ok: revision {revision}");
        append(
            &mut tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor_name,
                tenant: Some(tenant.key.as_str()),
                action: "dogtax.statute.set",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        tx.commit().await?;
        self.sync_dogtax_reasons(actor, tenant).await?;
        Ok(StatuteSet {
            tenant: tenant.clone(),
            valid_from,
            revision,
        })
    }

    /// The exemption and reduction reasons the registration form offers are the municipality's
    /// own, from the Satzung in force today (or the next one when none is yet): they are written
    /// into the service's `reasons` parameter whenever a statute is set. The form engine takes
    /// choice options from parameters, so the form needs no code of its own.
    pub async fn sync_dogtax_reasons(
        &self,
        actor: &Actor,
        tenant: &Tenant,
    ) -> Result<(), AppError> {
        let history = self.dogtax_statutes(tenant).await?;
        let today = berlin_date(self.now());
        let Some(statute) = history
            .valid_on(today)
            .or_else(|| history.versions().first())
        else {
            return Ok(());
        };
        let reasons = reason_options(statute);
        let existing = self.store.offer(tenant.key.as_str(), REGISTRATION).await?;
        let mut params = existing
            .as_ref()
            .map(|o| o.params.clone())
            .unwrap_or_default();
        if params.get("reasons") == Some(&reasons) {
            return Ok(());
        }
        params.insert("reasons".into(), reasons);
        let enabled = existing.as_ref().is_some_and(|o| o.enabled);
        let mut tx = self.store.begin().await?;
        let changed = store_services::set_offer(
            &mut tx,
            tenant.key.as_str(),
            REGISTRATION,
            enabled,
            Some(&params),
            self.now(),
        )
        .await?;
        if changed {
            let actor = actor.audit_name();
            let object = format!("service:{REGISTRATION}");
            append(
                &mut tx,
                &NewAuditEntry {
                    at: self.now(),
                    actor: &actor,
                    tenant: Some(tenant.key.as_str()),
                    action: "service.params",
                    object: &object,
                    outcome: "ok: reasons from the statute",
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The quote for a request in the JSON of the API and the CLI. `assessment_date` defaults to
    /// today in Berlin.
    pub async fn dogtax_quote(&self, ags: &str, request: &Value) -> Result<Quote, QuoteError> {
        let tenant = self.dogtax_public_tenant(ags).await?;
        let history = self.dogtax_statutes(&tenant).await?;
        let today = berlin_date(self.now());
        quote_json(&history, tenant.key.as_str(), request, today).map_err(QuoteError::Invalid)
    }
}

/// The `reasons` parameter: one choice per exemption and reduction of the statute.
pub(crate) fn reason_options(statute: &Statute) -> Value {
    let mut options = Vec::new();
    for e in statute.exemptions() {
        let (de, en, ls) = match e.months() {
            None => (
                format!("{} (Steuerbefreiung)", e.label()),
                format!("{} (tax exemption)", e.label()),
                format!("{} (Sie zahlen keine Steuer)", e.label()),
            ),
            Some(n) => (
                format!("{} (Steuerbefreiung für {n} Monate)", e.label()),
                format!("{} (tax exemption for {n} months)", e.label()),
                format!("{} (Sie zahlen {n} Monate keine Steuer)", e.label()),
            ),
        };
        options.push(json!({"value": format!("exemption:{}", e.code()), "label": {"de": de, "en": en, "ls": ls}}));
    }
    for r in statute.reductions() {
        let p = r.percent();
        options.push(
            json!({"value": format!("reduction:{}", r.code()), "label": {
                "de": format!("{} (Steuerermäßigung um {p} %)", r.label()),
                "en": format!("{} (tax reduced by {p} %)", r.label()),
                "ls": format!("{} (Sie zahlen weniger Steuer)", r.label()),
            }}),
        );
    }
    Value::Array(options)
}

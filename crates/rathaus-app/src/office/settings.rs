//! A municipality's settings, kept by its tenant admin (or the operator): contact data, office
//! hours, bank account and creditor id, letterhead and logo, and the services it offers with
//! their parameters and the four-eyes rule. Changes of the bank account and creditor id wait for
//! a second person's confirmation ([`super::bank`]); everything else takes effect at once.

use rathaus_domain::sepa::{CreditorId, Iban};
use rathaus_domain::service::definition::ParameterKind;
use rathaus_domain::service::{ServiceDefinition, Text};
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::{BankAccount, Tenant, TenantProfile};
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::tenants::{profile_for_update, set_profile};
use serde_json::{Map, Value};
use std::sync::Arc;

use super::actor;
use super::bank::{ALREADY_WAITING, BankDetails};
use crate::{App, AppError};

/// A service in the settings: its definition and how this municipality offers it.
pub struct ServiceSetting {
    pub definition: Arc<ServiceDefinition>,
    pub offered: bool,
    pub four_eyes: bool,
    /// Parameter values as the form shows them.
    pub params: Vec<(String, String, ParameterKind, String)>,
}

/// The profile form as posted: text areas with one entry per line.
#[derive(Debug, Clone, Default)]
pub struct ProfileForm {
    pub address: String,
    pub phone: String,
    pub email: String,
    pub website: String,
    pub office_hours: String,
    pub bank_holder: String,
    pub iban: String,
    pub bic: String,
    pub bank_name: String,
    pub creditor_id: String,
    pub signature: String,
}

impl ProfileForm {
    pub fn from_profile(p: &TenantProfile) -> ProfileForm {
        ProfileForm {
            address: p.address.join("\n"),
            phone: p.phone.clone().unwrap_or_default(),
            email: p.email.clone().unwrap_or_default(),
            website: p.website.clone().unwrap_or_default(),
            office_hours: p.office_hours.join("\n"),
            bank_holder: p
                .bank
                .as_ref()
                .map(|b| b.holder.clone())
                .unwrap_or_default(),
            iban: p.bank.as_ref().map(|b| b.iban.clone()).unwrap_or_default(),
            bic: p
                .bank
                .as_ref()
                .and_then(|b| b.bic.clone())
                .unwrap_or_default(),
            bank_name: p
                .bank
                .as_ref()
                .and_then(|b| b.bank_name.clone())
                .unwrap_or_default(),
            creditor_id: p.creditor_id.clone().unwrap_or_default(),
            signature: p.signature.join("\n"),
        }
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
        .take(20)
        .collect()
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.chars().take(200).collect())
}

/// Field errors of the profile form: (field, message).
pub type FormErrors = Vec<(&'static str, String)>;

/// What saving the profile did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSaved {
    /// The bank details changed: the change waits for a second person's confirmation.
    pub bank_change_waiting: bool,
}

impl App {
    /// The tenant whose settings `who` may manage: their own as tenant admin; any as operator.
    pub async fn settings_tenant(
        &self,
        who: &StaffIdentity,
        requested: Option<&str>,
    ) -> Result<Tenant, AppError> {
        let key =
            match (who.role, &who.tenant_key, requested) {
                (Role::TenantAdmin, Some(own), None) => own.clone(),
                (Role::TenantAdmin, Some(own), Some(r)) if r == own => own.clone(),
                (Role::OperatorAdmin, None, Some(r)) => r.to_owned(),
                (Role::OperatorAdmin, None, None) => {
                    return Err(AppError::BadInput("Bitte wählen Sie eine Kommune.".into()));
                }
                // An Amt's administration keeps the settings of its member municipalities.
                (Role::TenantAdmin, Some(own), Some(r)) if own.len() == 9 => {
                    let member = crate::tenants::resolve(self, r).await?;
                    if member.parent.as_ref().map(|p| p.as_str()) != Some(own.as_str()) {
                        return Err(AppError::NotFound("no such municipality".into()));
                    }
                    member.key.to_string()
                }
                (Role::TenantAdmin, _, Some(_)) => {
                    return Err(AppError::NotFound("no such municipality".into()));
                }
                _ => return Err(AppError::Forbidden(
                    "Nur die Verwaltung der Kommune oder der Betrieb pflegt diese Einstellungen."
                        .into(),
                )),
            };
        crate::tenants::resolve(self, &key).await
    }

    pub async fn service_settings(&self, tenant: &Tenant) -> Result<Vec<ServiceSetting>, AppError> {
        let offers = self.store.offers(tenant.key.as_str()).await?;
        let mut out = Vec::new();
        for def in self.latest_services().await? {
            let offer = offers.iter().find(|o| o.service_id == def.id);
            let effective =
                def.effective_parameters(&offer.map(|o| o.params.clone()).unwrap_or_default());
            let params = def
                .parameters
                .iter()
                .map(|p| {
                    let v = effective.get(&p.name).cloned().unwrap_or(Value::Null);
                    (
                        p.name.clone(),
                        p.label.de.clone(),
                        p.kind,
                        param_text(p.kind, &v),
                    )
                })
                .collect();
            out.push(ServiceSetting {
                offered: offer.is_some_and(|o| o.enabled),
                four_eyes: offer.is_some_and(|o| o.four_eyes),
                params,
                definition: def,
            });
        }
        Ok(out)
    }

    /// Validates and saves the profile; on errors nothing changes. Changed bank details are not
    /// saved but proposed: they wait for a second person's confirmation.
    pub async fn save_profile(
        &self,
        who: &StaffIdentity,
        tenant: &Tenant,
        f: &ProfileForm,
    ) -> Result<Result<ProfileSaved, FormErrors>, AppError> {
        let mut errors: FormErrors = Vec::new();
        let iban = match opt(&f.iban) {
            None => None,
            Some(raw) => match raw.parse::<Iban>() {
                Ok(i) => Some(i.electronic().to_owned()),
                Err(e) => {
                    errors.push(("iban", e.message_de()));
                    None
                }
            },
        };
        let creditor_id = match opt(&f.creditor_id) {
            None => None,
            Some(raw) => match raw.parse::<CreditorId>() {
                Ok(c) => Some(c.as_str().to_owned()),
                Err(e) => {
                    errors.push(("creditor_id", e.message_de()));
                    None
                }
            },
        };
        let email = opt(&f.email);
        if email
            .as_deref()
            .is_some_and(|e| !e.contains('@') || e.contains(char::is_whitespace))
        {
            errors.push((
                "email",
                "Geben Sie eine E-Mail-Adresse in der Form name@beispiel.de an.".into(),
            ));
        }
        let website = opt(&f.website);
        if website
            .as_deref()
            .is_some_and(|w| !(w.starts_with("https://") || w.starts_with("http://")))
        {
            errors.push((
                "website",
                "Die Internetadresse muss mit https:// beginnen.".into(),
            ));
        }
        if iban.is_some() && opt(&f.bank_holder).is_none() {
            errors.push(("bank_holder", "Geben Sie den Kontoinhaber an.".into()));
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let details = BankDetails {
            bank: iban.map(|iban| BankAccount {
                holder: f.bank_holder.trim().to_owned(),
                iban,
                bic: opt(&f.bic),
                bank_name: opt(&f.bank_name),
            }),
            creditor_id,
        };
        let already_waiting = self
            .store
            .pending_bank_change(tenant.key.as_str())
            .await?
            .is_some();
        let mut tx = self.store.begin().await?;
        // The profile as it is now, not as the form showed it: a change confirmed meanwhile stays.
        let mut profile = profile_for_update(&mut tx, &tenant.key).await?;
        let current = BankDetails {
            bank: profile.bank.clone(),
            creditor_id: profile.creditor_id.clone(),
        };
        let bank_changed = details != current;
        if bank_changed && already_waiting {
            return Ok(Err(vec![("iban", ALREADY_WAITING.into())]));
        }
        profile.address = lines(&f.address);
        profile.phone = opt(&f.phone);
        profile.email = email;
        profile.website = website;
        profile.office_hours = lines(&f.office_hours);
        profile.signature = lines(&f.signature);
        profile.example_data = false;
        set_profile(&mut tx, &tenant.key, &profile, self.now()).await?;
        self.audit_profile(&mut tx, who, tenant).await?;
        if bank_changed {
            match self
                .propose_bank_change(&mut tx, who, tenant, &current, &details)
                .await
            {
                Ok(()) => {}
                // Proposed by someone else a moment ago: nothing of this form is saved.
                Err(AppError::Conflict(m)) => return Ok(Err(vec![("iban", m)])),
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        if bank_changed {
            self.mail.wake();
        }
        Ok(Ok(ProfileSaved {
            bank_change_waiting: bank_changed,
        }))
    }

    async fn audit_profile(
        &self,
        tx: &mut rathaus_store::Tx,
        who: &StaffIdentity,
        tenant: &Tenant,
    ) -> Result<(), AppError> {
        let actor = actor(who).audit_name();
        let object = format!("tenant:{}", tenant.key);
        append(
            tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor,
                tenant: Some(tenant.key.as_str()),
                action: "tenant.profile",
                object: &object,
                outcome: "ok",
            },
        )
        .await?;
        Ok(())
    }

    /// Stores a logo (PNG, at most 500 kB), cleaned of metadata.
    pub async fn save_logo(
        &self,
        who: &StaffIdentity,
        tenant: &Tenant,
        bytes: &[u8],
    ) -> Result<Result<(), String>, AppError> {
        use rathaus_domain::upload::{FileKind, check_upload};
        let png = match check_upload(bytes, &[FileKind::Png], 500_000) {
            Ok((_, clean)) => clean,
            Err(e) => return Ok(Err(e.message_de())),
        };
        let key = self.store.put_logo(tenant.key.as_str(), png).await?;
        let mut tx = self.store.begin().await?;
        let mut profile = profile_for_update(&mut tx, &tenant.key).await?;
        profile.logo_blob = Some(key);
        set_profile(&mut tx, &tenant.key, &profile, self.now()).await?;
        self.audit_profile(&mut tx, who, tenant).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    pub async fn logo(&self, tenant: &Tenant) -> Result<Option<Vec<u8>>, AppError> {
        let profile = self.effective_profile(tenant).await?;
        match &profile.logo_blob {
            Some(k) => Ok(self.store.public_blob(k).await?),
            None => Ok(None),
        }
    }

    /// Offers or withdraws a service, with the four-eyes rule and parameters (posted as text).
    pub async fn save_service_setting(
        &self,
        who: &StaffIdentity,
        tenant: &Tenant,
        service_id: &str,
        offered: bool,
        four_eyes: bool,
        raw_params: &[(String, String)],
    ) -> Result<Result<(), FormErrors>, AppError> {
        let def = self
            .latest_services()
            .await?
            .into_iter()
            .find(|d| d.id == service_id)
            .ok_or_else(|| AppError::NotFound(format!("no service {service_id:?}")))?;
        let mut params = Map::new();
        let mut errors: FormErrors = Vec::new();
        for p in &def.parameters {
            let raw = raw_params
                .iter()
                .find(|(k, _)| *k == p.name)
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            match parse_param(p.kind, raw) {
                Ok(Some(v)) => {
                    params.insert(p.name.clone(), v);
                }
                Ok(None) => {}
                Err(m) => errors.push(("params", format!("{}: {m}", p.label.de))),
            }
        }
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        if tenant.kind.is_administration() {
            return Ok(Err(vec![(
                "offered",
                "Leistungen bieten die amtsangehörigen Gemeinden an, nicht das Amt selbst.".into(),
            )]));
        }
        self.set_service_offered(&actor(who), tenant, service_id, offered)
            .await?;
        let mut tx = self.store.begin().await?;
        rathaus_store::services::set_offer_settings(
            &mut tx,
            tenant.key.as_str(),
            service_id,
            four_eyes,
            &params,
            self.now(),
        )
        .await?;
        let object = format!("service:{service_id}");
        let actor = actor(who).audit_name();
        let entry = NewAuditEntry {
            at: self.now(),
            actor: &actor,
            tenant: Some(tenant.key.as_str()),
            action: "service.settings",
            object: &object,
            outcome: "ok",
        };
        append(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}

fn param_text(kind: ParameterKind, v: &Value) -> String {
    match (kind, v) {
        (ParameterKind::Choices, Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                other => other
                    .get("label")
                    .and_then(|l| l.get("de"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        (ParameterKind::Boolean, Value::Bool(b)) => {
            if *b {
                "ja".into()
            } else {
                "nein".into()
            }
        }
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// One answer option per line; the value is derived from the label.
fn parse_param(kind: ParameterKind, raw: &str) -> Result<Option<Value>, String> {
    let raw = raw.trim();
    match kind {
        ParameterKind::Choices => {
            let labels = lines(raw);
            if labels.is_empty() {
                return Err("mindestens eine Auswahl angeben (eine je Zeile)".into());
            }
            let choices: Vec<Value> = labels
                .iter()
                .map(|l| {
                    let value = rathaus_domain::tenant::Slug::from_name(
                        rathaus_domain::tenant::TenantKind::Gemeinde,
                        l,
                    )
                    .to_string();
                    let t = Text::new(l.clone(), l.clone(), l.clone());
                    serde_json::json!({"value": value, "label": t})
                })
                .collect();
            Ok(Some(Value::Array(choices)))
        }
        ParameterKind::Integer => raw
            .parse::<i64>()
            .map(|n| Some(Value::from(n)))
            .map_err(|_| "eine ganze Zahl angeben".to_owned()),
        ParameterKind::Boolean => Ok(Some(Value::Bool(matches!(raw, "ja" | "true" | "on" | "1")))),
        ParameterKind::Email if !raw.is_empty() && !raw.contains('@') => {
            Err("eine E-Mail-Adresse angeben".into())
        }
        ParameterKind::Text | ParameterKind::Email => {
            Ok((!raw.is_empty()).then(|| Value::String(raw.chars().take(500).collect())))
        }
    }
}

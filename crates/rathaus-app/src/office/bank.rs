//! A municipality's bank details under four eyes. The account and the SEPA creditor id are
//! printed on every notice and GiroCode: whoever changes them redirects the municipality's
//! money. A change made in the office therefore waits until a second, different person who
//! keeps the municipality's settings confirms it; until then notices carry the old details.
//! Every administrator of the municipality (and of the Amt that keeps its settings) is told by
//! e-mail of each proposal and of its confirmation or rejection, with the IBAN masked.
//!
//! The operator's console and the demo seeding set profiles directly; they are not the office.

use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::Tenant;
use rathaus_store::Tx;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::bank_changes::{self, Decision};
use time::OffsetDateTime;

pub use rathaus_store::bank_changes::BankDetails;

use super::actor;
use crate::dogtax::masked_iban;
use crate::mail::{Email, enqueue_email};
use crate::staff::StaffSummary;
use crate::{App, AppError};

/// A change waiting for confirmation, as the settings page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBankChange {
    pub id: String,
    pub proposed_by: String,
    pub proposed_at: OffsetDateTime,
    /// The person looking at it proposed it: they may withdraw it, not confirm it.
    pub by_viewer: bool,
    pub details: BankDetails,
    pub current: BankDetails,
    /// Nobody but the proposer keeps the municipality's settings in the office: a second
    /// administrator is needed (or the operator).
    pub needs_second_admin: bool,
}

/// What became of a waiting change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BankDecision {
    Confirm,
    Reject,
}

/// The message for an attempt to propose while a change waits.
pub const ALREADY_WAITING: &str = "Eine Änderung der Bankverbindung wartet schon auf Bestätigung. Bitte lassen Sie diese zuerst bestätigen, ablehnen oder ziehen Sie sie zurück.";

/// One line for e-mails: the IBAN masked (country, check digits, last four).
pub fn masked(details: &BankDetails) -> String {
    let mut parts = Vec::new();
    match &details.bank {
        Some(b) => {
            parts.push(format!("Kontoinhaber {}", b.holder));
            parts.push(format!("IBAN {}", masked_iban(&b.iban)));
            if let Some(bic) = &b.bic {
                parts.push(format!("BIC {bic}"));
            }
            if let Some(name) = &b.bank_name {
                parts.push(name.clone());
            }
        }
        None => parts.push("keine Bankverbindung".into()),
    }
    parts.push(match &details.creditor_id {
        Some(c) => format!("Gläubiger-ID {c}"),
        None => "keine Gläubiger-ID".into(),
    });
    parts.join(", ")
}

/// For the audit log: the masked IBAN and the creditor id, no names.
fn audit_summary(details: &BankDetails) -> String {
    let account = details.bank.as_ref().map_or_else(
        || "keine Bankverbindung".into(),
        |b| format!("IBAN {}", masked_iban(&b.iban)),
    );
    let creditor = details.creditor_id.as_deref().unwrap_or("keine");
    format!("{account}, Gläubiger-ID {creditor}")
}

fn settings_link(app: &App, tenant: &Tenant) -> String {
    format!(
        "{}/verwaltung/einstellungen?kommune={}#bankverbindung",
        app.config.public_url, tenant.key
    )
}

impl App {
    /// The enabled administrators who keep `tenant`'s settings: its own and, for a member
    /// municipality, those of its Amt.
    async fn settings_admins(&self, tenant: &Tenant) -> Result<Vec<StaffSummary>, AppError> {
        let mut keys = vec![tenant.key.to_string()];
        if let Some(parent) = &tenant.parent {
            keys.push(parent.to_string());
        }
        let mut out = Vec::new();
        for key in keys {
            out.extend(
                self.list_staff(Some(&key))
                    .await?
                    .into_iter()
                    .filter(|a| a.role == Role::TenantAdmin && !a.disabled),
            );
        }
        Ok(out)
    }

    async fn staff_name(&self, id: &str) -> Result<String, AppError> {
        Ok(self
            .store
            .staff_by_id(id)
            .await?
            .map(|a| a.name)
            .unwrap_or_else(|| "Ein gelöschtes Konto".into()))
    }

    /// The change of `tenant`'s bank details waiting for confirmation, if any.
    pub async fn pending_bank_change(
        &self,
        who: &StaffIdentity,
        tenant: &Tenant,
    ) -> Result<Option<PendingBankChange>, AppError> {
        let Some(change) = self.store.pending_bank_change(tenant.key.as_str()).await? else {
            return Ok(None);
        };
        let others = self
            .settings_admins(tenant)
            .await?
            .iter()
            .filter(|a| a.id != change.proposed_by)
            .count();
        Ok(Some(PendingBankChange {
            proposed_by: self.staff_name(&change.proposed_by).await?,
            proposed_at: from_unix_ms(change.proposed_at_ms),
            by_viewer: change.proposed_by == who.user_id,
            current: BankDetails {
                bank: tenant.profile.bank.clone(),
                creditor_id: tenant.profile.creditor_id.clone(),
            },
            needs_second_admin: others == 0,
            details: change.details,
            id: change.id,
        }))
    }

    /// Records `details` as a change waiting for a second person, inside the caller's
    /// transaction, and queues the notices to the administrators. The caller has checked that
    /// `who` keeps `tenant`'s settings. [`AppError::Conflict`] when a change already waits.
    pub(crate) async fn propose_bank_change(
        &self,
        tx: &mut Tx,
        who: &StaffIdentity,
        tenant: &Tenant,
        current: &BankDetails,
        details: &BankDetails,
    ) -> Result<(), AppError> {
        let id = rathaus_crypto::token::new_record_id(self.rng.as_ref())?;
        bank_changes::propose(
            tx,
            &id,
            tenant.key.as_str(),
            &who.user_id,
            details,
            self.now(),
        )
        .await
        .map_err(|e| match e {
            rathaus_store::StoreError::Conflict(_) => AppError::Conflict(ALREADY_WAITING.into()),
            other => other.into(),
        })?;
        self.audit_bank(tx, who, tenant, "tenant.bank.propose", &id, details)
            .await?;
        let title = tenant.title();
        let subject = format!("Bankverbindung {title}: Änderung wartet auf Bestätigung");
        let text = format!(
            "Guten Tag,\n\n{who_name} hat am {when} vorgeschlagen, die Bankverbindung von {title} zu ändern, die auf jedem Bescheid und GiroCode steht.\n\nbisher: {old}\nneu: {new}\n\nDie Änderung gilt erst, wenn eine zweite Person der Verwaltung sie bestätigt. Prüfen Sie sie vorher auf einem anderen Weg als dieser E-Mail, etwa durch einen Rückruf:\n{link}\n\nWenn Sie diese Änderung nicht erwartet haben, lehnen Sie sie dort ab und sprechen Sie mit {who_name}.\n\nDiese Nachricht wurde automatisch erstellt.",
            who_name = who.display_name,
            when = format_berlin(self.now()),
            old = masked(current),
            new = masked(details),
            link = settings_link(self, tenant),
        );
        self.mail_settings_admins(tx, tenant, &subject, &text).await
    }

    /// Confirms or rejects the waiting change `id`. Confirming takes a person other than the one
    /// who proposed it; the proposer may withdraw their own change. On confirmation the new
    /// details are in force at once. Both are audit-logged and mailed to the administrators.
    pub async fn decide_bank_change(
        &self,
        who: &StaffIdentity,
        tenant: &Tenant,
        id: &str,
        decision: BankDecision,
    ) -> Result<(), AppError> {
        // Whoever decides must keep this municipality's settings, whatever page the form was on.
        let tenant = self.settings_tenant(who, Some(tenant.key.as_str())).await?;
        let gone = || {
            AppError::Conflict(
                "Diese Änderung der Bankverbindung wartet nicht mehr auf Bestätigung: Sie wurde schon bestätigt, abgelehnt oder zurückgezogen.".into(),
            )
        };
        let waiting = self
            .store
            .pending_bank_change(tenant.key.as_str())
            .await?
            .filter(|c| c.id == id)
            .ok_or_else(gone)?;
        if decision == BankDecision::Confirm && waiting.proposed_by == who.user_id {
            return Err(AppError::Forbidden(
                "Ihre eigene Änderung der Bankverbindung muss eine andere Person bestätigen. Sie können sie zurückziehen.".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let store_decision = match decision {
            BankDecision::Confirm => Decision::Confirmed,
            BankDecision::Reject => Decision::Rejected,
        };
        let change = bank_changes::decide(
            &mut tx,
            tenant.key.as_str(),
            id,
            store_decision,
            &who.user_id,
            self.now(),
        )
        .await?
        .ok_or_else(gone)?;
        let mut profile = rathaus_store::tenants::profile_for_update(&mut tx, &tenant.key).await?;
        let current = BankDetails {
            bank: profile.bank.clone(),
            creditor_id: profile.creditor_id.clone(),
        };
        let proposer = self.staff_name(&change.proposed_by).await?;
        let title = tenant.title();
        let (subject, text) = match decision {
            BankDecision::Confirm => {
                profile.bank = change.details.bank.clone();
                profile.creditor_id = change.details.creditor_id.clone();
                rathaus_store::tenants::set_profile(&mut tx, &tenant.key, &profile, self.now())
                    .await?;
                self.audit_bank(
                    &mut tx,
                    who,
                    &tenant,
                    "tenant.bank.confirm",
                    id,
                    &change.details,
                )
                .await?;
                (
                    format!("Bankverbindung {title} geändert"),
                    format!(
                        "Guten Tag,\n\n{name} hat am {when} die von {proposer} vorgeschlagene Änderung der Bankverbindung von {title} bestätigt. Sie gilt ab sofort für neue Bescheide und GiroCodes.\n\nbisher: {old}\nneu: {new}\n\nWenn Sie diese Änderung nicht erwartet haben, melden Sie sich bitte sofort beim Betrieb und prüfen Sie die Einstellungen:\n{link}\n\nDiese Nachricht wurde automatisch erstellt.",
                        name = who.display_name,
                        when = format_berlin(self.now()),
                        old = masked(&current),
                        new = masked(&change.details),
                        link = settings_link(self, &tenant),
                    ),
                )
            }
            BankDecision::Reject => {
                self.audit_bank(
                    &mut tx,
                    who,
                    &tenant,
                    "tenant.bank.reject",
                    id,
                    &change.details,
                )
                .await?;
                let how = if change.proposed_by == who.user_id {
                    "zurückgezogen"
                } else {
                    "abgelehnt"
                };
                (
                    format!("Bankverbindung {title}: Änderung {how}"),
                    format!(
                        "Guten Tag,\n\n{name} hat am {when} die von {proposer} vorgeschlagene Änderung der Bankverbindung von {title} {how}.\n\nnicht übernommen: {new}\nes bleibt: {old}\n\n{link}\n\nDiese Nachricht wurde automatisch erstellt.",
                        name = who.display_name,
                        when = format_berlin(self.now()),
                        old = masked(&current),
                        new = masked(&change.details),
                        link = settings_link(self, &tenant),
                    ),
                )
            }
        };
        self.mail_settings_admins(&mut tx, &tenant, &subject, &text)
            .await?;
        tx.commit().await?;
        self.mail.wake();
        Ok(())
    }

    async fn audit_bank(
        &self,
        tx: &mut Tx,
        who: &StaffIdentity,
        tenant: &Tenant,
        action: &str,
        change_id: &str,
        details: &BankDetails,
    ) -> Result<(), AppError> {
        let actor = actor(who).audit_name();
        let object = format!("bank_change:{change_id}");
        // The municipality's own account, masked as in the e-mails.
        let outcome = format!("ok: {}", audit_summary(details));
        append(
            tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor,
                tenant: Some(tenant.key.as_str()),
                action,
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        Ok(())
    }

    /// One e-mail to each administrator who keeps `tenant`'s settings, in the caller's
    /// transaction.
    async fn mail_settings_admins(
        &self,
        tx: &mut Tx,
        tenant: &Tenant,
        subject: &str,
        text: &str,
    ) -> Result<(), AppError> {
        for admin in self.settings_admins(tenant).await? {
            let email = Email {
                to: admin.email,
                subject: subject.to_owned(),
                text: text.to_owned(),
                reply_to: None,
            };
            enqueue_email(self, tx, tenant.key.as_str(), None, &email).await?;
        }
        Ok(())
    }
}

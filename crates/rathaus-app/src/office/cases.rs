//! Working on one case: reading it, assigning, notes, questions to the citizen, decisions with
//! an optional second pair of eyes, notices, closing.

use rathaus_crypto::token::new_record_id;
use rathaus_domain::casework::{CaseAction, CaseStatus, Outcome, transition};
use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::service::Lang;
use rathaus_domain::service::flow::{SummarySection, summary};
use rathaus_domain::staff::StaffIdentity;
use rathaus_domain::tenant::Tenant;
use rathaus_store::Tx;
use rathaus_store::attachments::Attachment;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::{Case, CaseEvent, NewCaseEvent};
use rathaus_store::casework::{CaseDocument, Decision};
use serde_json::Value;
use time::Duration;

use super::actor;
use crate::mail::{Email, enqueue_email};
use crate::services::OfferedService;
use crate::{App, AppError};

/// Everything the case page shows.
pub struct CaseFile {
    pub case: Case,
    pub tenant: Tenant,
    pub service: OfferedService,
    pub sections: Vec<SummarySection>,
    pub attachments: Vec<Attachment>,
    pub events: Vec<CaseEvent>,
    pub decisions: Vec<Decision>,
    pub documents: Vec<CaseDocument>,
    /// When, which office, read or change.
    pub access: Vec<(String, String, String)>,
    pub status: CaseStatus,
    pub overdue: bool,
    pub four_eyes: bool,
    /// A proposed decision waiting for a second clerk.
    pub pending_decision: Option<Decision>,
}

fn conflict(e: rathaus_store::StoreError) -> AppError {
    match e {
        rathaus_store::StoreError::Conflict(_) => AppError::Conflict(
            "Der Vorgang wurde inzwischen von jemand anderem geändert. Bitte laden Sie die Seite neu und prüfen Sie den aktuellen Stand.".into(),
        ),
        other => other.into(),
    }
}

impl App {
    /// Finds a case the person may see, or logs the refused attempt and answers `NotFound`, the
    /// same as for a case that does not exist.
    async fn visible_case(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        action: &str,
    ) -> Result<(Case, Tenant), AppError> {
        let vis = self.case_visibility(who).await?;
        let found = self.store.case_by_id(&vis.tenant_keys, case_id).await?;
        let case = match found {
            Some(c)
                if vis
                    .services
                    .as_ref()
                    .is_none_or(|s| s.contains(&c.service_id)) =>
            {
                c
            }
            _ => {
                let object = format!("case-id:{}", case_id.chars().take(40).collect::<String>());
                let actor = actor(who).audit_name();
                let mut tx = self.store.begin().await?;
                append(
                    &mut tx,
                    &NewAuditEntry {
                        at: self.now(),
                        actor: &actor,
                        tenant: who.tenant_key.as_deref(),
                        action,
                        object: &object,
                        outcome: "denied: not visible",
                    },
                )
                .await?;
                tx.commit().await?;
                return Err(AppError::NotFound("no such case".into()));
            }
        };
        let key = case
            .tenant_key
            .parse()
            .map_err(|e| AppError::Internal(format!("{e}")))?;
        let tenant = self
            .store
            .tenant(&key)
            .await?
            .ok_or_else(|| AppError::NotFound("no such case".into()))?;
        Ok((case, tenant))
    }

    /// Audit entry and access-log row for a read or change by the office, in `tx`.
    async fn log_access(
        &self,
        tx: &mut Tx,
        who: &StaffIdentity,
        case: &Case,
        action: &str,
        kind: &str,
    ) -> Result<(), AppError> {
        let object = format!("case:{}", case.reference);
        let actor = actor(who).audit_name();
        append(
            tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor,
                tenant: Some(&case.tenant_key),
                action,
                object: &object,
                outcome: "ok",
            },
        )
        .await?;
        let office = who.tenant_key.clone().unwrap_or_default();
        self.store
            .record_access(tx, &case.tenant_key, &case.id, &office, kind, self.now())
            .await?;
        Ok(())
    }

    pub async fn open_case(
        &self,
        who: &StaffIdentity,
        case_id: &str,
    ) -> Result<CaseFile, AppError> {
        let (case, tenant) = self.visible_case(who, case_id, "case.read").await?;
        let mut tx = self.store.begin().await?;
        self.log_access(&mut tx, who, &case, "case.read", "read")
            .await?;
        tx.commit().await?;
        self.case_file(case, tenant).await
    }

    async fn case_file(&self, case: Case, tenant: Tenant) -> Result<CaseFile, AppError> {
        let service = self
            .offered_service_at(&tenant, &case.service_id, case.service_version)
            .await?;
        let attachments = self
            .store
            .case_attachments(&case.tenant_key, &case.id)
            .await?;
        let name = |id: &str| {
            attachments
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.name.clone())
        };
        let sections = summary(
            &service.definition,
            &case.data,
            Lang::De,
            &service.params,
            &name,
        );
        let events = self.store.case_events(&case.tenant_key, &case.id).await?;
        let decisions = self.store.decisions(&case.tenant_key, &case.id).await?;
        let documents = self
            .store
            .case_documents(&case.tenant_key, &case.id)
            .await?;
        let mut access = Vec::new();
        for (at, office, kind) in self.store.case_access(&case.tenant_key, &case.id).await? {
            access.push((
                format_berlin(from_unix_ms(at)),
                self.office_title(&office).await,
                kind,
            ));
        }
        let status = CaseStatus::from_code(&case.status).unwrap_or(CaseStatus::Received);
        let due = from_unix_ms(case.submitted_at_ms)
            + Duration::days(i64::from(service.definition.processing_days));
        let four_eyes = self
            .store
            .offer(&case.tenant_key, &case.service_id)
            .await?
            .is_some_and(|o| o.four_eyes);
        Ok(CaseFile {
            overdue: status.is_open() && due < self.now(),
            pending_decision: decisions.iter().find(|d| d.state == "proposed").cloned(),
            four_eyes,
            status,
            access,
            documents,
            decisions,
            events,
            sections,
            attachments,
            service,
            tenant,
            case,
        })
    }

    async fn office_title(&self, key: &str) -> String {
        match key.parse() {
            Ok(k) => self
                .store
                .tenant(&k)
                .await
                .ok()
                .flatten()
                .map_or_else(|| key.to_owned(), |t| t.title()),
            Err(_) => key.to_owned(),
        }
    }

    /// An attachment of a case, for the office (audited like a read of the case).
    pub async fn case_attachment(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        attachment_id: &str,
    ) -> Result<(Attachment, Vec<u8>), AppError> {
        let (case, _) = self.visible_case(who, case_id, "case.read_file").await?;
        let att = self
            .store
            .case_attachments(&case.tenant_key, &case.id)
            .await?
            .into_iter()
            .find(|a| a.id == attachment_id)
            .ok_or_else(|| AppError::NotFound("no such file".into()))?;
        let bytes = self
            .store
            .attachment_content(&att.tenant_key, &att.id)
            .await?;
        let mut tx = self.store.begin().await?;
        self.log_access(&mut tx, who, &case, "case.read_file", "read")
            .await?;
        tx.commit().await?;
        Ok((att, bytes))
    }

    pub async fn case_document(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        doc_id: &str,
    ) -> Result<(CaseDocument, Vec<u8>), AppError> {
        let (case, _) = self
            .visible_case(who, case_id, "case.read_document")
            .await?;
        let doc = self
            .store
            .case_documents(&case.tenant_key, &case.id)
            .await?
            .into_iter()
            .find(|d| d.id == doc_id)
            .ok_or_else(|| AppError::NotFound("no such document".into()))?;
        let bytes = self
            .store
            .document_content(&doc.tenant_key, &doc.id)
            .await?;
        Ok((doc, bytes))
    }

    /// Takes a case (or gives it back with `to = None`).
    pub async fn assign_case(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        version: i64,
        to_me: bool,
    ) -> Result<(), AppError> {
        let (case, _) = self.visible_case(who, case_id, "case.assign").await?;
        let (from, next) = status_after(&case, CaseAction::Assign)?;
        let mut tx = self.store.begin().await?;
        let assignee = if to_me {
            Some(who.user_id.as_str())
        } else {
            None
        };
        self.store
            .update_case_status(
                &mut tx,
                &case.tenant_key,
                &case.id,
                version,
                next.code(),
                Some(assignee),
                self.now(),
            )
            .await
            .map_err(conflict)?;
        let kind = if to_me { "assign" } else { "unassign" };
        let status = (next != from).then(|| next.code());
        let ev = NewCaseEvent {
            at: self.now(),
            actor: &actor(who).audit_name(),
            kind,
            status,
            note: None,
        };
        self.store
            .append_case_event(&mut tx, &case.tenant_key, &case.id, &ev)
            .await?;
        self.log_access(&mut tx, who, &case, "case.assign", "change")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An internal note: never shown to the citizen.
    pub async fn add_note(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        text: &str,
    ) -> Result<(), AppError> {
        let text = checked_text(text, "Notiz")?;
        let (case, _) = self.visible_case(who, case_id, "case.note").await?;
        let mut tx = self.store.begin().await?;
        let ev = NewCaseEvent {
            at: self.now(),
            actor: &actor(who).audit_name(),
            kind: "note",
            status: None,
            note: Some(&text),
        };
        self.store
            .append_case_event(&mut tx, &case.tenant_key, &case.id, &ev)
            .await?;
        self.log_access(&mut tx, who, &case, "case.note", "change")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Asks the citizen; the question appears on the status page, and an e-mail without content
    /// tells the citizen to look there.
    pub async fn ask_citizen(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        version: i64,
        question: &str,
    ) -> Result<(), AppError> {
        let question = checked_text(question, "Rückfrage")?;
        let (case, tenant) = self.visible_case(who, case_id, "case.ask").await?;
        let (_, next) = status_after(&case, CaseAction::Ask)?;
        let mut tx = self.store.begin().await?;
        self.store
            .update_case_status(
                &mut tx,
                &case.tenant_key,
                &case.id,
                version,
                next.code(),
                None,
                self.now(),
            )
            .await
            .map_err(conflict)?;
        let ev = NewCaseEvent {
            at: self.now(),
            actor: &actor(who).audit_name(),
            kind: "question",
            status: Some(next.code()),
            note: Some(&question),
        };
        self.store
            .append_case_event(&mut tx, &case.tenant_key, &case.id, &ev)
            .await?;
        self.log_access(&mut tx, who, &case, "case.ask", "change")
            .await?;
        let mailed = self.notify_citizen(&mut tx, &case, &tenant).await?;
        tx.commit().await?;
        if mailed {
            self.mail.wake();
        }
        Ok(())
    }

    /// Decides a case. With the four-eyes rule the decision is only proposed until a second
    /// clerk confirms it. Returns whether it took effect now.
    pub async fn decide(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        version: i64,
        outcome: Outcome,
        reasons: &str,
    ) -> Result<bool, AppError> {
        let reasons = checked_text(reasons, "Begründung")?;
        let (case, tenant) = self.visible_case(who, case_id, "case.decide").await?;
        let (from, _) = status_after(&case, CaseAction::Decide)?;
        let four_eyes = self
            .store
            .offer(&case.tenant_key, &case.service_id)
            .await?
            .is_some_and(|o| o.four_eyes);
        let decisions = self.store.decisions(&case.tenant_key, &case.id).await?;
        if decisions.iter().any(|d| d.state == "proposed") {
            return Err(AppError::Conflict(
                "Für diesen Vorgang liegt bereits ein Entscheidungsvorschlag zur Bestätigung vor."
                    .into(),
            ));
        }
        let by = actor(who).audit_name();
        let mut tx = self.store.begin().await?;
        if four_eyes {
            // Bumping the version makes a concurrent second decision fail, as without the rule.
            self.store
                .update_case_status(
                    &mut tx,
                    &case.tenant_key,
                    &case.id,
                    version,
                    from.code(),
                    None,
                    self.now(),
                )
                .await
                .map_err(conflict)?;
            self.store
                .add_decision(
                    &mut tx,
                    &case.tenant_key,
                    &case.id,
                    outcome.code(),
                    &reasons,
                    &by,
                    "proposed",
                    self.now(),
                )
                .await?;
            let ev = NewCaseEvent {
                at: self.now(),
                actor: &by,
                kind: "decision_proposed",
                status: None,
                note: None,
            };
            self.store
                .append_case_event(&mut tx, &case.tenant_key, &case.id, &ev)
                .await?;
            self.log_access(&mut tx, who, &case, "case.propose_decision", "change")
                .await?;
            tx.commit().await?;
            return Ok(false);
        }
        let new_version = self
            .store
            .update_case_status(
                &mut tx,
                &case.tenant_key,
                &case.id,
                version,
                CaseStatus::Decided.code(),
                None,
                self.now(),
            )
            .await
            .map_err(conflict)?;
        let _ = new_version;
        self.store
            .add_decision(
                &mut tx,
                &case.tenant_key,
                &case.id,
                outcome.code(),
                &reasons,
                &by,
                "final",
                self.now(),
            )
            .await?;
        self.finish_decision(&mut tx, who, &case, &tenant, outcome, &reasons)
            .await?;
        tx.commit().await?;
        self.mail.wake();
        Ok(true)
    }

    /// The second clerk confirms a proposed decision (not the one who proposed it).
    pub async fn confirm_decision(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        version: i64,
        seq: i64,
    ) -> Result<(), AppError> {
        let (case, tenant) = self
            .visible_case(who, case_id, "case.confirm_decision")
            .await?;
        let decisions = self.store.decisions(&case.tenant_key, &case.id).await?;
        let d = decisions.iter().find(|d| d.seq == seq && d.state == "proposed").ok_or_else(|| {
            AppError::Conflict("Dieser Entscheidungsvorschlag ist nicht mehr offen. Bitte laden Sie die Seite neu.".into())
        })?;
        let me = actor(who).audit_name();
        if d.proposed_by == me {
            return Err(AppError::Forbidden("Vier-Augen-Prinzip: Bestätigen muss eine andere Person als die, die entschieden hat.".into()));
        }
        let outcome = Outcome::from_code(&d.outcome)
            .ok_or_else(|| AppError::Internal("unknown outcome".into()))?;
        status_after(&case, CaseAction::Decide)?;
        let mut tx = self.store.begin().await?;
        self.store
            .update_case_status(
                &mut tx,
                &case.tenant_key,
                &case.id,
                version,
                CaseStatus::Decided.code(),
                None,
                self.now(),
            )
            .await
            .map_err(conflict)?;
        if !self
            .store
            .confirm_decision(&mut tx, &case.tenant_key, &case.id, seq, &me, self.now())
            .await?
        {
            return Err(AppError::Conflict(
                "Dieser Entscheidungsvorschlag ist nicht mehr offen.".into(),
            ));
        }
        self.finish_decision(&mut tx, who, &case, &tenant, outcome, &d.reasons)
            .await?;
        tx.commit().await?;
        self.mail.wake();
        Ok(())
    }

    /// Status event, notice, dog-tax register effects and the citizen's e-mail, in `tx`.
    async fn finish_decision(
        &self,
        tx: &mut Tx,
        who: &StaffIdentity,
        case: &Case,
        tenant: &Tenant,
        outcome: Outcome,
        reasons: &str,
    ) -> Result<(), AppError> {
        let by = actor(who).audit_name();
        let ev = NewCaseEvent {
            at: self.now(),
            actor: &by,
            kind: "decision",
            status: Some(CaseStatus::Decided.code()),
            note: Some(outcome.code()),
        };
        self.store
            .append_case_event(tx, &case.tenant_key, &case.id, &ev)
            .await?;
        let service = self
            .offered_service_at(tenant, &case.service_id, case.service_version)
            .await?;
        let profile = self.effective_profile(tenant).await?;
        let lang = Lang::from_code(&case.lang).unwrap_or_default();
        let logo = self.logo(tenant).await?;
        if let Some(pdf) = crate::documents::notice(
            tenant,
            &profile,
            logo,
            case,
            &service,
            outcome,
            reasons,
            lang,
            self.now(),
        )? {
            let id = new_record_id(self.rng.as_ref())?;
            let title = format!("Bescheid {}", case.reference);
            self.store
                .put_case_document(
                    tx,
                    &id,
                    &case.tenant_key,
                    &case.id,
                    "notice",
                    &title,
                    &pdf,
                    self.now(),
                )
                .await?;
        }
        for (title, pdf) in self.decision_documents(tx, case, who, outcome).await? {
            let id = new_record_id(self.rng.as_ref())?;
            self.store
                .put_case_document(
                    tx,
                    &id,
                    &case.tenant_key,
                    &case.id,
                    "notice",
                    &title,
                    &pdf,
                    self.now(),
                )
                .await?;
        }
        self.log_access(tx, who, case, "case.decide", "change")
            .await?;
        self.notify_citizen(tx, case, tenant).await?;
        Ok(())
    }

    /// Documents a service's own rules add to an approval (e.g. the dog-tax notice, with the
    /// register entries made in the same transaction).
    async fn decision_documents(
        &self,
        tx: &mut Tx,
        case: &Case,
        who: &StaffIdentity,
        outcome: Outcome,
    ) -> Result<Vec<(String, Vec<u8>)>, AppError> {
        if outcome != Outcome::Approved {
            return Ok(Vec::new());
        }
        match self.apply_decision(tx, case, &actor(who)).await? {
            Some(doc) => {
                let ev = NewCaseEvent {
                    at: self.now(),
                    actor: &actor(who).audit_name(),
                    kind: "register",
                    status: None,
                    note: Some(&doc.summary),
                };
                self.store
                    .append_case_event(tx, &case.tenant_key, &case.id, &ev)
                    .await?;
                Ok(vec![(doc.title, doc.pdf)])
            }
            None => Ok(Vec::new()),
        }
    }

    pub async fn close_case(
        &self,
        who: &StaffIdentity,
        case_id: &str,
        version: i64,
    ) -> Result<(), AppError> {
        let (case, _) = self.visible_case(who, case_id, "case.close").await?;
        let (_, next) = status_after(&case, CaseAction::Close)?;
        let mut tx = self.store.begin().await?;
        self.store
            .update_case_status(
                &mut tx,
                &case.tenant_key,
                &case.id,
                version,
                next.code(),
                None,
                self.now(),
            )
            .await
            .map_err(conflict)?;
        let ev = NewCaseEvent {
            at: self.now(),
            actor: &actor(who).audit_name(),
            kind: "status",
            status: Some(next.code()),
            note: None,
        };
        self.store
            .append_case_event(&mut tx, &case.tenant_key, &case.id, &ev)
            .await?;
        self.log_access(&mut tx, who, &case, "case.close", "change")
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Queues an e-mail that tells the citizen there is news, with the status link and no
    /// content. Returns whether one was queued (only when the citizen gave an address).
    async fn notify_citizen(
        &self,
        tx: &mut Tx,
        case: &Case,
        tenant: &Tenant,
    ) -> Result<bool, AppError> {
        let service = self
            .offered_service_at(tenant, &case.service_id, case.service_version)
            .await?;
        let Some(to) = service
            .definition
            .contact_email_field
            .as_ref()
            .and_then(|f| case.data.get(f))
            .and_then(Value::as_str)
        else {
            return Ok(false);
        };
        let Some(token) = self.store.status_token(&case.tenant_key, &case.id).await? else {
            return Ok(false);
        };
        let link = format!("{}/{}/vorgang/{token}", self.config.public_url, tenant.slug);
        let lang = Lang::from_code(&case.lang).unwrap_or_default();
        let (subject, text) = match lang {
            Lang::En => (
                format!("News on your case {}", case.reference),
                format!(
                    "There is news on your case {} with {}.\n\nPlease look here:\n{link}\n\nFor your protection this e-mail contains no details.",
                    case.reference,
                    tenant.title()
                ),
            ),
            Lang::Ls => (
                format!("Neues zu Ihrem Antrag {}", case.reference),
                format!(
                    "Es gibt etwas Neues zu Ihrem Antrag.\n\nBitte schauen Sie hier:\n{link}\n\nIn dieser E-Mail steht nichts über Ihren Antrag. Das ist sicherer."
                ),
            ),
            Lang::De => (
                format!("Neuigkeiten zu Ihrem Vorgang {}", case.reference),
                format!(
                    "Zu Ihrem Vorgang {} bei {} gibt es Neuigkeiten.\n\nBitte sehen Sie hier nach:\n{link}\n\nZu Ihrem Schutz enthält diese E-Mail keine Einzelheiten.",
                    case.reference,
                    tenant.title()
                ),
            ),
        };
        let email = Email {
            to: to.to_owned(),
            subject,
            text,
            reply_to: None,
        };
        enqueue_email(self, tx, &case.tenant_key, Some(&case.id), &email).await?;
        Ok(true)
    }
}

/// Trims free text and bounds its length; empty is bad input.
fn checked_text(text: &str, what: &str) -> Result<String, AppError> {
    let t = text.trim().replace("\r\n", "\n");
    if t.is_empty() {
        return Err(AppError::BadInput(format!(
            "Bitte geben Sie eine {what} ein."
        )));
    }
    if t.chars().count() > 5000 {
        return Err(AppError::BadInput(format!(
            "Die {what} darf höchstens 5000 Zeichen lang sein."
        )));
    }
    Ok(t)
}

/// The case's status now and after `action`, or why the action is not possible now (in words for
/// the clerk).
fn status_after(case: &Case, action: CaseAction) -> Result<(CaseStatus, CaseStatus), AppError> {
    let from = CaseStatus::from_code(&case.status).unwrap_or(CaseStatus::Received);
    let next = transition(from, action).map_err(|e| AppError::BadInput(e.to_string()))?;
    Ok((from, next))
}

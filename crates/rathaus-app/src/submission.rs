//! How a case comes in: the checks every case passes and the one transaction that makes it,
//! with reference number, status-page secret, history, search tokens, the draft's files, the
//! confirmation e-mail and the audit entry.

use rathaus_crypto::token::{new_record_id, new_token, token_hash};
use rathaus_domain::localtime::{berlin_date, format_berlin};
use rathaus_domain::service::flow::{Position, schema_mismatch_message};
use rathaus_domain::service::{Context, FieldError, Lang, ServiceDefinition};
use rathaus_domain::tenant::Tenant;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::{NewCase, NewCaseEvent, next_reference_number};
use rathaus_store::keyring::IndexPurpose;
use serde_json::{Value, json};

use crate::citizen::Submitted;
use crate::mail::{Email, enqueue_email};
use crate::services::OfferedService;
use crate::{App, AppError};

/// Where a submission came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Portal,
}

impl Channel {
    /// Who handed it in, for the audit log.
    fn actor(self) -> &'static str {
        match self {
            Channel::Portal => "citizen",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
        }
    }
}

/// Checked data on its way to becoming a case.
pub(crate) struct Intake<'a> {
    pub tenant: &'a Tenant,
    pub service: &'a OfferedService,
    /// As [`App::ready_for_case`] returned it.
    pub data: &'a Value,
    pub lang: Lang,
    pub channel: Channel,
    /// The draft that becomes the case (closed, its files handed to the case).
    pub draft_id: Option<&'a str>,
}

/// What became of an intake.
pub(crate) enum Made {
    Case(Submitted),
    /// Another submit of the same draft closed it first; nothing was written.
    DraftClosed,
}

impl App {
    /// The checks every case passes before it is made, whichever way its data came: complete by
    /// the rules of the steps, reduced to what the steps ask, and fitting the schema. Errors say
    /// where the portal would send the citizen.
    pub(crate) fn ready_for_case(
        &self,
        service: &OfferedService,
        data: &Value,
    ) -> Result<Value, (Position, Vec<FieldError>)> {
        let def = &service.definition;
        let ctx = Context {
            params: &service.params,
            today: berlin_date(self.now()),
        };
        if let Some(incomplete) = def.first_incomplete(data, &ctx) {
            return Err(incomplete);
        }
        let data = def.prune(data);
        let problems = def.schema_errors(&data);
        if !problems.is_empty() {
            tracing::warn!(service = %def.id, count = problems.len(), "submission does not match the schema");
            return Err((
                def.first_position(&data),
                vec![FieldError {
                    field: String::new(),
                    message: schema_mismatch_message(),
                }],
            ));
        }
        Ok(data)
    }

    /// Makes the case as one unit of work. The reference number comes first: its counter row
    /// makes a concurrent submission of the same municipality wait, so a double click on a draft
    /// finds the draft closed and rolls back having written nothing.
    pub(crate) async fn make_case(&self, n: &Intake<'_>) -> Result<Made, AppError> {
        let def = &n.service.definition;
        let tenant = n.tenant.key.as_str();
        let case_id = new_record_id(self.rng.as_ref())?;
        let status_token = new_token(self.rng.as_ref())?;
        let year = berlin_date(self.now()).year();
        let to = def
            .contact_email_field
            .as_ref()
            .and_then(|f| n.data.get(f))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut tx = self.store.begin().await?;
        let number = next_reference_number(&mut tx, tenant, &def.reference_prefix, year).await?;
        let reference = format!("{}-{year}-{number:06}", def.reference_prefix);
        if let Some(draft_id) = n.draft_id {
            let receipt = json!({"reference": reference, "status_token": status_token, "email_sent": to.is_some()});
            if !self
                .store
                .close_draft(&mut tx, tenant, draft_id, &case_id, &receipt, self.now())
                .await?
            {
                return Ok(Made::DraftClosed);
            }
        }
        let case = NewCase {
            id: &case_id,
            tenant_key: tenant,
            service_id: &def.id,
            service_version: i64::from(def.version),
            reference: &reference,
            status: "received",
            status_token_hash: &token_hash(&status_token),
            data: n.data,
            lang: n.lang.code(),
            draft_id: n.draft_id,
            retention_days: i64::from(def.retention_days),
            now: self.now(),
        };
        self.store.insert_case(&mut tx, &case).await?;
        self.store
            .seal_status_token(&mut tx, tenant, &case_id, &status_token)
            .await?;
        if let Some(name) = def
            .applicant_name_field
            .as_ref()
            .and_then(|f| n.data.get(f))
            .and_then(Value::as_str)
        {
            let key = self
                .store
                .index_key(tenant, IndexPurpose::CaseNames)
                .await?
                .ok_or_else(|| AppError::Internal(format!("tenant {tenant} has no index key")))?;
            let tokens = crate::office::search::tokens(key.secret(), tenant, name);
            self.store
                .add_search_tokens(&mut tx, tenant, &case_id, &tokens)
                .await?;
        }
        // The citizen hands the case in, whichever channel carried it.
        let event = NewCaseEvent {
            at: self.now(),
            actor: "citizen",
            kind: "status",
            status: Some("received"),
            note: None,
        };
        self.store
            .append_case_event(&mut tx, tenant, &case_id, &event)
            .await?;
        if let Some(draft_id) = n.draft_id {
            self.store
                .attach_to_case(&mut tx, tenant, draft_id, &case_id)
                .await?;
        }
        if let Some(to) = &to {
            let (subject, text) =
                self.confirmation_email(n.tenant, def, &reference, &status_token, n.lang);
            let email = Email {
                to: to.clone(),
                subject,
                text,
                reply_to: None,
            };
            enqueue_email(self, &mut tx, tenant, Some(&case_id), &email).await?;
        }
        let object = format!("case:{reference}");
        let entry = NewAuditEntry {
            at: self.now(),
            actor: n.channel.actor(),
            tenant: Some(tenant),
            action: "case.submit",
            object: &object,
            outcome: "ok",
        };
        append(&mut tx, &entry).await?;
        tx.commit().await?;
        if to.is_some() {
            self.mail.wake();
        }
        metrics::counter!("submissions_total", "service" => def.id.clone(), "channel" => n.channel.label())
            .increment(1);
        Ok(Made::Case(Submitted {
            reference,
            status_token,
            confirmation_sent_to: to.is_some(),
        }))
    }

    /// The status page's secret link, as e-mails hand it out.
    pub fn status_url(&self, tenant: &Tenant, token: &str) -> String {
        format!("{}/{}/vorgang/{token}", self.config.public_url, tenant.slug)
    }

    fn confirmation_email(
        &self,
        tenant: &Tenant,
        def: &ServiceDefinition,
        reference: &str,
        token: &str,
        lang: Lang,
    ) -> (String, String) {
        let link = self.status_url(tenant, token);
        let when = format_berlin(self.now());
        let title = def.title.get(lang);
        let authority = tenant.title();
        match lang {
            Lang::En => (
                format!("Confirmation of receipt {reference} – {title}"),
                format!(
                    "Thank you. {authority} has received your submission “{title}”.\n\nReference number: {reference}\nReceived: {when}\n\nFollow the progress and download your receipt here:\n{link}\n\nKeep this link to yourself: anyone who has it can see the status of your case.\n\nThis message was generated automatically; please do not reply to it."
                ),
            ),
            Lang::Ls => (
                format!("Ihre Meldung ist angekommen: {reference}"),
                format!(
                    "Vielen Dank.\nIhre Meldung ist bei {authority} angekommen.\n\nIhre Nummer ist: {reference}\nAngekommen am: {when}\n\nHier sehen Sie, was mit Ihrer Meldung passiert:\n{link}\n\nGeben Sie den Link nicht weiter.\n\nDiese E-Mail kommt von einem Computer. Bitte antworten Sie nicht auf diese E-Mail."
                ),
            ),
            Lang::De => (
                format!("Eingangsbestätigung {reference} – {title}"),
                format!(
                    "Vielen Dank. Ihr Antrag „{title}“ ist bei {authority} eingegangen.\n\nAktenzeichen: {reference}\nEingegangen am: {when}\n\nDen Bearbeitungsstand und Ihre Eingangsbestätigung finden Sie hier:\n{link}\n\nBewahren Sie diesen Link für sich: Wer ihn kennt, kann den Stand Ihres Vorgangs sehen.\n\nDiese Nachricht wurde automatisch erstellt; bitte antworten Sie nicht darauf."
                ),
            ),
        }
    }
}

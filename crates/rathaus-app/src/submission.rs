//! How a case comes in. One way for every channel: a draft submitted in the portal and data
//! handed in as a whole through the API pass the same checks and become a case in the same
//! transaction: reference number, status-page secret, history, search tokens, the draft's files,
//! the confirmation e-mail and the audit entry.

use rathaus_crypto::token::{new_record_id, new_token, token_hash};
use rathaus_domain::localtime::{berlin_date, format_berlin};
use rathaus_domain::service::flow::{Position, schema_mismatch_message};
use rathaus_domain::service::{Context, FieldError, Lang, ServiceDefinition};
use rathaus_domain::tenant::Tenant;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::{NewCase, NewCaseEvent, next_reference_number};
use rathaus_store::keyring::IndexPurpose;
use rathaus_store::submission_keys::{NewSubmissionKey, delete_expired_submission_keys};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::Duration;

use crate::citizen::Submitted;
use crate::mail::{Email, enqueue_email};
use crate::services::OfferedService;
use crate::{App, AppError};

/// How long an idempotency key is kept (at least; the housekeeping runs every few minutes).
pub const KEY_LIFETIME: Duration = Duration::hours(24);

/// Where a submission came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    Portal,
    Api,
}

impl Channel {
    /// Who handed it in, for the audit log.
    fn actor(self) -> &'static str {
        match self {
            Channel::Portal => "citizen",
            Channel::Api => "api",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Channel::Portal => "portal",
            Channel::Api => "api",
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
    /// The idempotency key the case is made under.
    pub key: Option<KeyClaim<'a>>,
}

pub(crate) struct KeyClaim<'a> {
    pub key_hash: &'a [u8],
    pub body_hash: &'a [u8],
}

/// What became of an intake.
pub(crate) enum Made {
    Case(Submitted),
    /// Another submit of the same draft closed it first; nothing was written.
    DraftClosed,
    /// Another request with the same idempotency key was first; nothing was written.
    KeyTaken,
}

/// Data handed in as a whole, accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub reference: String,
    /// The status page's secret link, as the confirmation e-mail carries it.
    pub status_url: String,
    /// The case was made earlier, by a request with the same idempotency key and data.
    pub replayed: bool,
}

#[derive(Debug)]
pub enum SubmissionError {
    /// No such municipality (or disabled), no such service there, or one that needs the portal.
    NotFound(String),
    /// The data breaks the service's rules; each error names its field.
    Invalid(Vec<FieldError>),
    /// The idempotency key was used with other data.
    KeyReused,
    Failed(AppError),
}

impl From<AppError> for SubmissionError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(m) => SubmissionError::NotFound(m),
            other => SubmissionError::Failed(other),
        }
    }
}

/// The hash that tells a retry from another request under the same key: the same data in any
/// order of properties and any layout hashes the same (serde_json's objects keep their keys
/// sorted; a test guards that).
fn request_hash(data: &Value) -> Vec<u8> {
    Sha256::digest(data.to_string().as_bytes()).to_vec()
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
    /// finds the draft closed and a second request with the same idempotency key finds the key
    /// taken, and each rolls back having written nothing.
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
        if let Some(k) = &n.key {
            let claim = NewSubmissionKey {
                tenant_key: tenant,
                service_id: &def.id,
                key_hash: k.key_hash,
                body_hash: k.body_hash,
                case_id: &case_id,
                reference: &reference,
                status_token: &status_token,
                now: self.now(),
            };
            if !self.store.claim_submission_key(&mut tx, &claim).await? {
                return Ok(Made::KeyTaken);
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

    /// The status page's secret link, as e-mails and the API hand it out.
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

    /// Data handed in as a whole (the submission API) for a service of a municipality, named by
    /// its AGS. With an idempotency key, a retry with the same data is answered with the case the
    /// first request made, and the key used with other data is refused; of concurrent requests
    /// with one key, one makes the case and the others answer with it. The case is German: the
    /// API has no language of its own.
    pub async fn submit_whole(
        &self,
        ags: &str,
        service_id: &str,
        data: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Accepted, SubmissionError> {
        let tenant = self.public_tenant_by_key(ags).await?;
        let service = self.offered_service(&tenant, service_id).await?;
        let def = &service.definition;
        if !def.open_to_direct_submission() {
            return Err(SubmissionError::NotFound(format!(
                "{service_id:?} is submitted in the portal only: it needs an account or shows the citizen something before submitting"
            )));
        }
        let key_hash = idempotency_key.map(token_hash);
        let body_hash = request_hash(data);
        if let Some(key_hash) = &key_hash
            && let Some(earlier) = self
                .earlier_submission(&tenant, def, key_hash, &body_hash)
                .await?
        {
            return Ok(earlier);
        }
        let ctx = Context {
            params: &service.params,
            today: berlin_date(self.now()),
        };
        let checked = def
            .check_whole(data, &ctx)
            .map_err(SubmissionError::Invalid)?;
        let data = self
            .ready_for_case(&service, &checked)
            .map_err(|(_, errors)| {
                SubmissionError::Invalid(if errors.is_empty() {
                    vec![FieldError {
                        field: String::new(),
                        message: schema_mismatch_message(),
                    }]
                } else {
                    errors
                })
            })?;
        let intake = Intake {
            tenant: &tenant,
            service: &service,
            data: &data,
            lang: Lang::De,
            channel: Channel::Api,
            draft_id: None,
            key: key_hash.as_ref().map(|key_hash| KeyClaim {
                key_hash,
                body_hash: &body_hash,
            }),
        };
        match self
            .make_case(&intake)
            .await
            .map_err(SubmissionError::Failed)?
        {
            Made::Case(s) => Ok(Accepted {
                reference: s.reference,
                status_url: self.status_url(&tenant, &s.status_token),
                replayed: false,
            }),
            Made::KeyTaken | Made::DraftClosed => match &key_hash {
                Some(key_hash) => self
                    .earlier_submission(&tenant, def, key_hash, &body_hash)
                    .await?
                    .ok_or_else(|| {
                        SubmissionError::Failed(AppError::Internal(
                            "an idempotency key was taken but is not found".into(),
                        ))
                    }),
                None => Err(SubmissionError::Failed(AppError::Internal(
                    "a submission without draft or key was refused".into(),
                ))),
            },
        }
    }

    /// The case an idempotency key made, if it was made with the same data.
    async fn earlier_submission(
        &self,
        tenant: &Tenant,
        def: &ServiceDefinition,
        key_hash: &[u8],
        body_hash: &[u8],
    ) -> Result<Option<Accepted>, SubmissionError> {
        let Some(earlier) = self
            .store
            .submission_key(tenant.key.as_str(), &def.id, key_hash)
            .await
            .map_err(AppError::from)?
        else {
            return Ok(None);
        };
        if earlier.body_hash != body_hash {
            return Err(SubmissionError::KeyReused);
        }
        Ok(Some(Accepted {
            reference: earlier.reference,
            status_url: self.status_url(tenant, &earlier.status_token),
            replayed: true,
        }))
    }

    /// Deletes idempotency keys past their lifetime, in all municipalities.
    pub async fn expire_submission_keys(&self) -> Result<u64, AppError> {
        let mut tx = self.store.begin().await?;
        let n = delete_expired_submission_keys(&mut tx, self.now() - KEY_LIFETIME).await?;
        tx.commit().await?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::request_hash;

    #[test]
    fn the_request_hash_ignores_order_and_layout_but_not_values() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"a": 1, "b": {"c": [1, 2], "d": "x"}}"#).unwrap_or_default();
        let b: serde_json::Value =
            serde_json::from_str(r#"{"b":{"d":"x","c":[1,2]},"a":1}"#).unwrap_or_default();
        assert_eq!(request_hash(&a), request_hash(&b));
        assert_ne!(
            request_hash(&a),
            request_hash(&json!({"a": 1, "b": {"c": [2, 1], "d": "x"}}))
        );
    }
}

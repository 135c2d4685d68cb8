//! What citizens do: fill in a service step by step, upload files, save and resume, submit, and
//! follow their case on its status page.

use rathaus_crypto::token::{looks_like_token, new_record_id, new_token, token_hash};
use rathaus_domain::localtime::{berlin_date, format_berlin, from_unix_ms};
use rathaus_domain::service::flow::{Position, SummarySection, summary};
use rathaus_domain::service::{Context, FieldError, FieldKind, FormInput, Lang, Text, apply_step};
use rathaus_domain::tenant::Tenant;
use rathaus_domain::upload::{FileKind, UploadError, check_upload, display_name};
use rathaus_store::attachments::{Attachment, NewAttachment};
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::{Case, CaseEvent, NewCaseEvent};
use rathaus_store::drafts::{Draft, DraftUpdate, NewDraft};
use serde_json::{Value, json};
use time::Duration;

use crate::mail::{Email, enqueue_email};
use crate::services::OfferedService;
use crate::submission::{Channel, Intake, Made};
use crate::uploads::{ScanRefusal, StagedFile};
use crate::{App, AppError};

/// An open draft with everything needed to show and change it.
pub struct DraftSession {
    /// The secret the citizen holds (cookie or resume link).
    pub token: String,
    pub tenant: Tenant,
    pub service: OfferedService,
    pub draft: Draft,
}

impl DraftSession {
    pub fn position(&self) -> Position {
        decode_position(&self.draft.position).unwrap_or(Position::Check)
    }
}

/// What the citizen gets after submitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub reference: String,
    pub status_token: String,
    pub confirmation_sent_to: bool,
}

#[derive(Debug)]
pub enum SubmitError {
    /// Something is missing or wrong; the citizen is sent there.
    Incomplete(Position, Vec<FieldError>),
    Failed(AppError),
}

impl From<AppError> for SubmitError {
    fn from(e: AppError) -> Self {
        SubmitError::Failed(e)
    }
}

/// Why the answers to a step were not taken; nothing was saved either way.
#[derive(Debug)]
pub enum StepError {
    /// Wrong answers, named per field; none when there is no such step to answer.
    Invalid(Vec<FieldError>),
    /// Too many writes at once ([`AppError::Overloaded`]): the same answers may be sent again
    /// in a moment.
    Overloaded,
}

impl From<Vec<FieldError>> for StepError {
    fn from(errors: Vec<FieldError>) -> Self {
        StepError::Invalid(errors)
    }
}

/// Positions are stored as short strings: `step:ort`, `step:hund:1`, `more:hund`, `check`.
pub fn encode_position(p: &Position) -> String {
    match p {
        Position::Step { step, item: None } => format!("step:{step}"),
        Position::Step {
            step,
            item: Some(i),
        } => format!("step:{step}:{i}"),
        Position::AddAnother { step } => format!("more:{step}"),
        Position::Check => "check".into(),
    }
}

pub fn decode_position(s: &str) -> Option<Position> {
    let mut parts = s.split(':');
    match (parts.next()?, parts.next(), parts.next()) {
        ("check", None, None) => Some(Position::Check),
        ("more", Some(step), None) => Some(Position::AddAnother {
            step: step.to_owned(),
        }),
        ("step", Some(step), None) => Some(Position::Step {
            step: step.to_owned(),
            item: None,
        }),
        ("step", Some(step), Some(i)) => Some(Position::Step {
            step: step.to_owned(),
            item: Some(i.parse().ok()?),
        }),
        _ => None,
    }
}

/// The status of a case as the citizen sees it.
#[derive(Debug, Clone)]
pub struct CaseStatus {
    pub case: Case,
    pub service: OfferedService,
    /// Only what the citizen may see: status changes, questions, answers, decisions.
    pub events: Vec<CaseEvent>,
    pub documents: Vec<rathaus_store::casework::CaseDocument>,
    /// When which office read or changed the case (never the clerk's name).
    pub access: Vec<(i64, String, String)>,
}

impl CaseStatus {
    /// The open question, if the office is waiting for an answer.
    pub fn open_question(&self) -> Option<&CaseEvent> {
        if self.case.status != "waiting_for_citizen" {
            return None;
        }
        self.events.iter().rev().find(|e| e.kind == "question")
    }
}

pub fn status_label(status: &str, lang: Lang) -> &'static str {
    match (status, lang) {
        ("received", Lang::En) => "Received",
        ("received", Lang::Ls) => "Ist angekommen",
        ("received", _) => "Eingegangen",
        ("in_progress", Lang::En) => "Being processed",
        ("in_progress", Lang::Ls) => "Wird bearbeitet",
        ("in_progress", _) => "In Bearbeitung",
        ("waiting_for_citizen", Lang::En) => "Waiting for your answer",
        ("waiting_for_citizen", Lang::Ls) => "Wir brauchen Ihre Antwort",
        ("waiting_for_citizen", _) => "Rückfrage an Sie",
        ("decided", Lang::En) => "Decided",
        ("decided", Lang::Ls) => "Es gibt eine Entscheidung",
        ("decided", _) => "Entschieden",
        ("closed", Lang::En) => "Closed",
        ("closed", Lang::Ls) => "Ist fertig",
        ("closed", _) => "Abgeschlossen",
        (_, Lang::En) => "Unknown",
        _ => "Unbekannt",
    }
}

fn ctx_today(app: &App) -> time::Date {
    berlin_date(app.now())
}

impl App {
    fn draft_expiry(&self) -> time::OffsetDateTime {
        self.now() + Duration::days(i64::from(self.config.draft_ttl_days))
    }

    /// Starts a draft; returns its secret token (for the cookie) and the session.
    pub async fn start_draft(
        &self,
        tenant: &Tenant,
        service_id: &str,
    ) -> Result<(String, DraftSession), AppError> {
        let service = self.offered_service(tenant, service_id).await?;
        let token = new_token(self.rng.as_ref())?;
        let id = new_record_id(self.rng.as_ref())?;
        let data = json!({});
        let position = encode_position(&service.definition.first_position(&data));
        let mut tx = self.store.begin().await?;
        self.store
            .create_draft(
                &mut tx,
                &NewDraft {
                    id: &id,
                    tenant_key: tenant.key.as_str(),
                    service_id,
                    service_version: i64::from(service.definition.version),
                    token_hash: &token_hash(&token),
                    data: &data,
                    position: &position,
                    now: self.now(),
                    expires_at: self.draft_expiry(),
                },
            )
            .await?;
        tx.commit().await?;
        let draft = self
            .store
            .draft_by_token(
                tenant.key.as_str(),
                service_id,
                &token_hash(&token),
                self.now(),
            )
            .await?
            .ok_or_else(|| AppError::Internal("draft vanished".into()))?;
        Ok((
            token.clone(),
            DraftSession {
                token,
                tenant: tenant.clone(),
                service,
                draft,
            },
        ))
    }

    /// The draft behind a token, for this municipality and service only.
    pub async fn open_draft(
        &self,
        tenant: &Tenant,
        service_id: &str,
        token: &str,
    ) -> Result<DraftSession, AppError> {
        let not_found =
            || AppError::NotFound("no such draft (expired, or the link is incomplete)".into());
        if !looks_like_token(token) {
            return Err(not_found());
        }
        let draft = self
            .store
            .draft_by_token(
                tenant.key.as_str(),
                service_id,
                &token_hash(token),
                self.now(),
            )
            .await?
            .ok_or_else(not_found)?;
        let service = self
            .offered_service_at(tenant, service_id, draft.service_version)
            .await?;
        Ok(DraftSession {
            token: token.to_owned(),
            tenant: tenant.clone(),
            service,
            draft,
        })
    }

    /// Opens the draft behind a resume link and gives it a fresh token: the link works once, so
    /// whoever sent it to someone else cannot follow what they then enter. Two clicks on the same
    /// link at once: one wins, the other finds nothing.
    pub async fn resume_draft(
        &self,
        tenant: &Tenant,
        service_id: &str,
        link_token: &str,
    ) -> Result<DraftSession, AppError> {
        let mut s = self.open_draft(tenant, service_id, link_token).await?;
        let fresh = new_token(self.rng.as_ref())?;
        let mut tx = self.store.begin().await?;
        let rotated = self
            .store
            .rotate_draft_token(
                &mut tx,
                tenant.key.as_str(),
                &s.draft.id,
                &token_hash(link_token),
                &token_hash(&fresh),
            )
            .await?;
        if !rotated {
            return Err(AppError::NotFound(
                "no such draft (the link was used already)".into(),
            ));
        }
        tx.commit().await?;
        s.token = fresh;
        Ok(s)
    }

    async fn save_draft(
        &self,
        s: &DraftSession,
        data: &Value,
        position: &Position,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        let update = DraftUpdate {
            data,
            position: &encode_position(position),
            now: self.now(),
            expires_at: self.draft_expiry(),
        };
        self.store
            .update_draft(&mut tx, s.tenant.key.as_str(), &s.draft.id, &update)
            .await
            .map_err(|e| match e {
                rathaus_store::StoreError::NotFound => {
                    AppError::Conflict("this application has already been submitted".into())
                }
                other => other.into(),
            })?;
        tx.commit().await?;
        Ok(())
    }

    /// Applies the answers to a step and moves on. On errors nothing is saved.
    pub async fn answer_step(
        &self,
        s: &DraftSession,
        pos: &Position,
        input: &FormInput,
    ) -> Result<Position, StepError> {
        let def = &s.service.definition;
        let Position::Step {
            step: step_id,
            item,
        } = pos
        else {
            return Err(StepError::Invalid(Vec::new()));
        };
        let Some(step) = def.step(step_id) else {
            return Err(StepError::Invalid(Vec::new()));
        };
        let ctx = Context {
            params: &s.service.params,
            today: ctx_today(self),
        };
        if let (Some(r), Some(i)) = (&step.repeat, item)
            && (*i > def.item_count(step, &s.draft.data) || *i >= r.max as usize)
        {
            return Err(StepError::Invalid(Vec::new()));
        }
        let new = apply_step(step, *item, &s.draft.data, input, &ctx)?;
        let next = def.next_position(pos, &new, false);
        self.save_draft(s, &new, &next).await.map_err(not_saved)?;
        Ok(next)
    }

    /// Answers "add another?" of a repeated step.
    pub async fn answer_add_another(
        &self,
        s: &DraftSession,
        step_id: &str,
        another: Option<bool>,
    ) -> Result<Position, StepError> {
        let def = &s.service.definition;
        let Some(step) = def.step(step_id) else {
            return Err(StepError::Invalid(Vec::new()));
        };
        let Some(r) = &step.repeat else {
            return Err(StepError::Invalid(Vec::new()));
        };
        let count = def.item_count(step, &s.draft.data);
        let another = match another {
            Some(a) => a,
            None if count >= r.max as usize => false,
            None => {
                return Err(StepError::Invalid(vec![FieldError {
                    field: "another".into(),
                    message: Text::new(
                        format!(
                            "Wählen Sie aus, ob Sie „{}“ möchten.",
                            r.add_another.de.trim_end_matches('?')
                        ),
                        format!("Select whether you want to: {}", r.add_another.en),
                        "Bitte wählen Sie Ja oder Nein.".to_owned(),
                    ),
                }]));
            }
        };
        if !another && count < r.min as usize {
            let min = r.min.to_string();
            return Err(StepError::Invalid(vec![FieldError {
                field: "another".into(),
                message: Text::new(
                    format!("Geben Sie mindestens {min} an."),
                    format!("Add at least {min}."),
                    format!("Sie müssen mindestens {min} angeben."),
                ),
            }]));
        }
        let pos = Position::AddAnother {
            step: step_id.to_owned(),
        };
        let next = def.next_position(&pos, &s.draft.data, another);
        self.save_draft(s, &s.draft.data, &next)
            .await
            .map_err(not_saved)?;
        Ok(next)
    }

    pub async fn remove_item(
        &self,
        s: &DraftSession,
        step_id: &str,
        index: usize,
    ) -> Result<(), AppError> {
        let def = &s.service.definition;
        let step = def
            .step(step_id)
            .ok_or_else(|| AppError::NotFound("no such step".into()))?;
        let new = def.remove_item(step, index, &s.draft.data);
        self.save_draft(
            s,
            &new,
            &Position::AddAnother {
                step: step_id.to_owned(),
            },
        )
        .await
    }

    /// Scans, checks, cleans and stores an uploaded file for an attachment field of the current
    /// step.
    pub async fn upload(
        &self,
        s: &DraftSession,
        pos: &Position,
        file: &StagedFile,
    ) -> Result<(), FieldError> {
        let field_name = file.field.as_str();
        let def = &s.service.definition;
        let Position::Step {
            step: step_id,
            item,
        } = pos
        else {
            return Err(unknown_field(field_name));
        };
        let step = def.step(step_id).ok_or_else(|| unknown_field(field_name))?;
        let field = step
            .fields
            .iter()
            .find(|f| f.name == field_name && f.kind == FieldKind::Attachment)
            .ok_or_else(|| unknown_field(field_name))?;
        let current = rathaus_domain::service::form::target(step, *item, &s.draft.data)
            .and_then(|t| t.get(&field.name))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let max_count = field.max_count.unwrap_or(1) as usize;
        let label = |l: Lang| field.label.get(l).to_owned();
        if current.len() >= max_count {
            let n = max_count.to_string();
            return Err(FieldError {
                field: field.name.clone(),
                message: Text::new(
                    format!(
                        "Bei „{}“ sind höchstens {n} Dateien möglich. Entfernen Sie zuerst eine Datei.",
                        label(Lang::De)
                    ),
                    format!(
                        "“{}” takes at most {n} files. Remove one first.",
                        label(Lang::En)
                    ),
                    format!(
                        "Bei „{}“ dürfen Sie nur {n} Dateien hochladen.",
                        label(Lang::Ls)
                    ),
                ),
            });
        }
        let allowed: Vec<FileKind> = field
            .accept
            .iter()
            .filter_map(|a| FileKind::from_code(a))
            .collect();
        let refused = |e: UploadError| FieldError {
            field: field.name.clone(),
            message: Text::new(
                format!("„{}“: {}", label(Lang::De), e.message(Lang::De, &allowed)),
                format!("“{}”: {}", label(Lang::En), e.message(Lang::En, &allowed)),
                format!(
                    "Die Datei bei „{}“ geht nicht. {}",
                    label(Lang::Ls),
                    e.message(Lang::Ls, &allowed)
                ),
            ),
        };
        let max_bytes = field.max_bytes.unwrap_or(10_000_000);
        // Size first, from the staged file: an oversized file is never read or sent to clamd.
        size_check(file, max_bytes).map_err(&refused)?;
        let object = format!("draft:{}", s.draft.id);
        self.scan_staged(file, s.tenant.key.as_str(), &object)
            .await
            .map_err(|r| scan_refused(&field.name, &r, &label))?;
        let (_permit, bytes) = self
            .read_staged(file)
            .await
            .map_err(|e| internal_error(&e))?;
        let (kind, clean) = check_upload(&bytes, &allowed, max_bytes).map_err(&refused)?;
        drop(bytes);
        let id = new_record_id(self.rng.as_ref()).map_err(|e| internal_error(&e.into()))?;
        let name = display_name(&file.file_name, kind);
        let mut ids = current;
        ids.push(Value::String(id.clone()));
        let mut new = s.draft.data.clone();
        set_target_field(step, *item, &mut new, &field.name, Value::Array(ids));
        let result = async {
            let mut tx = self.store.begin().await?;
            self.store
                .put_attachment(
                    &mut tx,
                    &NewAttachment {
                        id: &id,
                        tenant_key: s.tenant.key.as_str(),
                        draft_id: &s.draft.id,
                        field: &field.name,
                        kind: kind.code(),
                        name: &name,
                        content: &clean,
                        now: self.now(),
                    },
                )
                .await?;
            let update = DraftUpdate {
                data: &new,
                position: &s.draft.position,
                now: self.now(),
                expires_at: self.draft_expiry(),
            };
            self.store
                .update_draft(&mut tx, s.tenant.key.as_str(), &s.draft.id, &update)
                .await?;
            tx.commit().await
        };
        result.await.map_err(|e| internal_error(&e.into()))
    }

    pub async fn remove_upload(
        &self,
        s: &DraftSession,
        attachment_id: &str,
    ) -> Result<(), AppError> {
        let mut new = s.draft.data.clone();
        strip_attachment(&mut new, attachment_id);
        let mut tx = self.store.begin().await?;
        let blob = self
            .store
            .remove_draft_attachment(&mut tx, s.tenant.key.as_str(), &s.draft.id, attachment_id)
            .await?;
        let update = DraftUpdate {
            data: &new,
            position: &s.draft.position,
            now: self.now(),
            expires_at: self.draft_expiry(),
        };
        self.store
            .update_draft(&mut tx, s.tenant.key.as_str(), &s.draft.id, &update)
            .await?;
        tx.commit().await?;
        if let Some(key) = blob {
            self.store.delete_blob(s.tenant.key.as_str(), &key).await?;
        }
        Ok(())
    }

    pub async fn draft_attachments(&self, s: &DraftSession) -> Result<Vec<Attachment>, AppError> {
        Ok(self
            .store
            .draft_attachments(s.tenant.key.as_str(), &s.draft.id)
            .await?)
    }

    /// The check-your-answers page.
    pub async fn draft_summary(
        &self,
        s: &DraftSession,
        lang: Lang,
    ) -> Result<Vec<SummarySection>, AppError> {
        let files = self.draft_attachments(s).await?;
        let name = |id: &str| files.iter().find(|a| a.id == id).map(|a| a.name.clone());
        Ok(summary(
            &s.service.definition,
            &s.draft.data,
            lang,
            &s.service.params,
            &name,
        ))
    }

    /// Submits the draft: exactly one case per draft, however often and however concurrently
    /// this is called.
    pub async fn submit(&self, s: &DraftSession, lang: Lang) -> Result<Submitted, SubmitError> {
        if s.draft.submitted_case.is_some() {
            return self.already_submitted(s).await;
        }
        let data = self
            .ready_for_case(&s.service, &s.draft.data)
            .map_err(|(pos, errors)| SubmitError::Incomplete(pos, errors))?;
        let intake = Intake {
            tenant: &s.tenant,
            service: &s.service,
            data: &data,
            lang,
            channel: Channel::Portal,
            draft_id: Some(&s.draft.id),
            key: None,
        };
        match self.make_case(&intake).await {
            Ok(Made::Case(submitted)) => Ok(submitted),
            // A concurrent submit of the same draft won; show its result.
            Ok(Made::DraftClosed | Made::KeyTaken) | Err(AppError::Conflict(_)) => {
                let fresh = self
                    .open_draft(&s.tenant, &s.service.definition.id, &s.token)
                    .await?;
                self.already_submitted(&fresh).await
            }
            Err(e) => Err(SubmitError::Failed(e)),
        }
    }

    async fn already_submitted(&self, s: &DraftSession) -> Result<Submitted, SubmitError> {
        let reference = s.draft.data.get("reference").and_then(Value::as_str);
        let token = s.draft.data.get("status_token").and_then(Value::as_str);
        match (reference, token) {
            (Some(r), Some(t)) => Ok(Submitted {
                reference: r.to_owned(),
                status_token: t.to_owned(),
                confirmation_sent_to: false,
            }),
            _ => Err(SubmitError::Failed(AppError::Internal(
                "submitted draft without receipt".into(),
            ))),
        }
    }

    /// Sends the secret link to resume a draft to the given address.
    pub async fn send_resume_link(
        &self,
        s: &DraftSession,
        token: &str,
        address: &str,
        lang: Lang,
    ) -> Result<(), FieldError> {
        let field = rathaus_domain::service::Field {
            name: "email".into(),
            kind: FieldKind::Email,
            label: Text::new("E-Mail-Adresse", "E-mail address", "E-Mail-Adresse"),
            hint: None,
            required: true,
            required_when: None,
            show_when: None,
            options: Vec::new(),
            options_param: None,
            min_length: None,
            max_length: None,
            min: None,
            max: None,
            min_days_from_today: None,
            max_days_from_today: None,
            accept: Vec::new(),
            max_bytes: None,
            max_count: None,
            autocomplete: None,
        };
        let step = rathaus_domain::service::Step {
            id: "resume".into(),
            title: Text::new("", "", ""),
            intro: None,
            show_when: None,
            repeat: None,
            fields: vec![field],
        };
        let ctx = Context {
            params: &s.service.params,
            today: ctx_today(self),
        };
        let input = FormInput::new(vec![("email".into(), address.to_owned())]);
        let checked =
            apply_step(&step, None, &json!({}), &input, &ctx).map_err(|mut e| e.remove(0))?;
        let to = checked
            .get("email")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let link = format!(
            "{}/{}/{}/fortsetzen/{token}",
            self.config.public_url, s.tenant.slug, s.service.definition.id
        );
        let until = rathaus_domain::service::form::format_date_de(berlin_date(self.draft_expiry()));
        let title = s.service.definition.title.get(lang);
        let (subject, text) = match lang {
            Lang::En => (
                format!("Continue your application: {title}"),
                format!(
                    "You saved your application “{title}” to continue later.\n\nContinue here (until {until}):\n{link}\n\nKeep this link to yourself: anyone who has it can read and change your answers.\n\nThis message was generated automatically."
                ),
            ),
            Lang::Ls => (
                format!("Ihr Antrag: {title}"),
                format!(
                    "Sie wollen Ihren Antrag später fertig machen.\n\nHier geht es weiter (bis zum {until}):\n{link}\n\nGeben Sie den Link nicht weiter.\n\nDiese E-Mail kommt von einem Computer."
                ),
            ),
            Lang::De => (
                format!("Ihr gespeicherter Antrag: {title}"),
                format!(
                    "Sie haben Ihren Antrag „{title}“ gespeichert, um ihn später fortzusetzen.\n\nHier geht es weiter (bis zum {until}):\n{link}\n\nBewahren Sie diesen Link für sich: Wer ihn kennt, kann Ihre Angaben lesen und ändern.\n\nDiese Nachricht wurde automatisch erstellt."
                ),
            ),
        };
        let result = async {
            let email = Email {
                to,
                subject,
                text,
                reply_to: None,
            };
            let mut tx = self.store.begin().await?;
            enqueue_email(self, &mut tx, s.tenant.key.as_str(), None, &email).await?;
            tx.commit().await?;
            self.mail.wake();
            Ok::<(), AppError>(())
        };
        result.await.map_err(|e| internal_error(&e))
    }

    /// A case by its status-page token, within the municipality of the link.
    pub async fn case_status(&self, tenant: &Tenant, token: &str) -> Result<CaseStatus, AppError> {
        let not_found = || AppError::NotFound("no case behind this link".into());
        if !looks_like_token(token) {
            return Err(not_found());
        }
        let case = self
            .store
            .case_by_status_token(tenant.key.as_str(), &token_hash(token))
            .await?
            .ok_or_else(not_found)?;
        let service = self
            .offered_service_at(tenant, &case.service_id, case.service_version)
            .await?;
        let events = self
            .store
            .case_events(tenant.key.as_str(), &case.id)
            .await?
            .into_iter()
            .filter(|e| rathaus_domain::casework::visible_to_citizen(&e.kind))
            .collect();
        let documents = self
            .store
            .case_documents(tenant.key.as_str(), &case.id)
            .await?;
        let mut access = Vec::new();
        for (at, office, kind) in self
            .store
            .case_access(tenant.key.as_str(), &case.id)
            .await?
        {
            let title = match office.parse() {
                Ok(k) => self
                    .store
                    .tenant(&k)
                    .await?
                    .map_or(office.clone(), |t| t.title()),
                Err(_) => office.clone(),
            };
            access.push((at, title, kind));
        }
        Ok(CaseStatus {
            case,
            service,
            events,
            documents,
            access,
        })
    }

    /// The receipt (Eingangsbestätigung) as a PDF.
    pub async fn receipt_pdf(&self, tenant: &Tenant, token: &str) -> Result<Vec<u8>, AppError> {
        let status = self.case_status(tenant, token).await?;
        let files = self
            .store
            .case_attachments(tenant.key.as_str(), &status.case.id)
            .await?;
        let lang = Lang::from_code(&status.case.lang).unwrap_or_default();
        let name = |id: &str| files.iter().find(|a| a.id == id).map(|a| a.name.clone());
        let sections = summary(
            &status.service.definition,
            &status.case.data,
            lang,
            &status.service.params,
            &name,
        );
        let profile = self.effective_profile(tenant).await?;
        let logo = self.logo(tenant).await?;
        crate::documents::receipt(tenant, &profile, logo, &status, &sections, lang, self.now())
    }

    /// The citizen answers the office's open question, with text and up to three files.
    pub async fn answer_question(
        &self,
        tenant: &Tenant,
        token: &str,
        text: &str,
        files: &[StagedFile],
    ) -> Result<(), FieldError> {
        let msg = |de: &str, en: &str, ls: &str| FieldError {
            field: "answer".into(),
            message: Text::new(de, en, ls),
        };
        let st = self
            .case_status(tenant, token)
            .await
            .map_err(|e| internal_error(&e))?;
        let no_question = || {
            msg(
                "Zu diesem Vorgang ist keine Frage offen.",
                "There is no open question on this case.",
                "Es gibt gerade keine Frage an Sie.",
            )
        };
        if st.open_question().is_none() {
            return Err(no_question());
        }
        let text = text.trim().replace("\r\n", "\n");
        if text.is_empty() && files.is_empty() {
            return Err(msg(
                "Geben Sie eine Antwort ein oder laden Sie eine Datei hoch.",
                "Enter an answer or upload a file.",
                "Bitte schreiben Sie eine Antwort.",
            ));
        }
        if text.chars().count() > 5000 {
            return Err(msg(
                "Die Antwort darf höchstens 5000 Zeichen lang sein.",
                "The answer can have at most 5000 characters.",
                "Die Antwort ist zu lang.",
            ));
        }
        if files.len() > 3 {
            return Err(FieldError {
                field: "files".into(),
                message: Text::new(
                    "Höchstens 3 Dateien.",
                    "At most 3 files.",
                    "Sie dürfen nur 3 Dateien schicken.",
                ),
            });
        }
        let refused = |e: UploadError| FieldError {
            field: "files".into(),
            message: Text::new(e.message_de(), e.to_string(), e.message_de()),
        };
        let object = format!("case:{}", st.case.reference);
        let mut cleaned = Vec::new();
        for file in files {
            size_check(file, 10_000_000).map_err(refused)?;
            self.scan_staged(file, &st.case.tenant_key, &object)
                .await
                .map_err(|r| {
                    scan_refused("files", &r, &|l| {
                        Text::new("Dateien", "Files", "Dateien").get(l).to_owned()
                    })
                })?;
            let (_permit, bytes) = self
                .read_staged(file)
                .await
                .map_err(|e| internal_error(&e))?;
            let (kind, clean) =
                check_upload(&bytes, &FileKind::ALL, 10_000_000).map_err(refused)?;
            cleaned.push((display_name(&file.file_name, kind), kind, clean));
        }
        let case = &st.case;
        let from = rathaus_domain::casework::CaseStatus::from_code(&case.status)
            .unwrap_or(rathaus_domain::casework::CaseStatus::Received);
        let next = rathaus_domain::casework::transition(
            from,
            rathaus_domain::casework::CaseAction::Answer,
        )
        .map_err(|_| no_question())?;
        let result = async {
            let mut tx = self.store.begin().await?;
            self.store
                .update_case_status(
                    &mut tx,
                    &case.tenant_key,
                    &case.id,
                    case.version,
                    next.code(),
                    None,
                    self.now(),
                )
                .await?;
            let note = if text.is_empty() {
                None
            } else {
                Some(text.as_str())
            };
            let ev = NewCaseEvent {
                at: self.now(),
                actor: "citizen",
                kind: "answer",
                status: Some(next.code()),
                note,
            };
            let seq = self
                .store
                .append_case_event(&mut tx, &case.tenant_key, &case.id, &ev)
                .await?;
            for (name, kind, clean) in &cleaned {
                let id = new_record_id(self.rng.as_ref())?;
                let field = format!("answer-{seq}");
                let f = rathaus_store::casework::NewCaseFile {
                    id: &id,
                    tenant_key: &case.tenant_key,
                    case_id: &case.id,
                    field: &field,
                    kind: kind.code(),
                    name,
                    content: clean,
                    now: self.now(),
                };
                self.store.put_case_file(&mut tx, &f).await?;
            }
            let object = format!("case:{}", case.reference);
            let entry = NewAuditEntry {
                at: self.now(),
                actor: "citizen",
                tenant: Some(&case.tenant_key),
                action: "case.answer",
                object: &object,
                outcome: "ok",
            };
            append(&mut tx, &entry).await?;
            tx.commit().await?;
            Ok::<(), AppError>(())
        };
        result.await.map_err(|e| match e {
            AppError::Conflict(_) => msg(
                "Der Vorgang wurde gerade geändert. Bitte laden Sie die Seite neu.",
                "The case was just changed. Please reload the page.",
                "Bitte laden Sie die Seite neu.",
            ),
            other => internal_error(&other),
        })
    }

    /// A document (notice) of a case, for the holder of its status link.
    pub async fn citizen_document(
        &self,
        tenant: &Tenant,
        token: &str,
        doc_id: &str,
    ) -> Result<(rathaus_store::casework::CaseDocument, Vec<u8>), AppError> {
        let st = self.case_status(tenant, token).await?;
        let doc = st
            .documents
            .into_iter()
            .find(|d| d.id == doc_id)
            .ok_or_else(|| AppError::NotFound("no such document".into()))?;
        let bytes = self
            .store
            .document_content(&doc.tenant_key, &doc.id)
            .await?;
        Ok((doc, bytes))
    }

    /// The virus scan of a staged upload; a detection is audit-logged against `object` (the
    /// draft or case), naming the signature, never the file.
    async fn scan_staged(
        &self,
        file: &StagedFile,
        tenant_key: &str,
        object: &str,
    ) -> Result<(), ScanRefusal> {
        let refusal = match self.scan_upload(file).await {
            Ok(()) => return Ok(()),
            Err(r) => r,
        };
        if let ScanRefusal::Infected(signature) = &refusal {
            let outcome = format!("refused: malware {signature}");
            if let Err(e) = self
                .audit(
                    &crate::Actor::Citizen,
                    Some(tenant_key),
                    "upload.malware",
                    object,
                    &outcome,
                )
                .await
            {
                tracing::error!(error = %e, "could not audit-log a refused upload");
            }
        }
        Err(refusal)
    }

    /// Deletes drafts that were not changed within their lifetime, with their files.
    pub async fn expire_drafts(&self) -> Result<u64, AppError> {
        let mut tx = self.store.begin().await?;
        let (n, blobs) = rathaus_store::drafts::delete_expired_drafts(&mut tx, self.now()).await?;
        if n > 0 {
            let outcome = format!("ok: {n} drafts deleted");
            append(
                &mut tx,
                &NewAuditEntry {
                    at: self.now(),
                    actor: "system",
                    tenant: None,
                    action: "draft.expire",
                    object: "drafts",
                    outcome: &outcome,
                },
            )
            .await?;
        }
        tx.commit().await?;
        for (tenant_key, key) in blobs {
            if let Err(e) = self.store.delete_blob(&tenant_key, &key).await {
                tracing::warn!(error = %e, "could not delete the file of an expired draft");
            }
        }
        Ok(n)
    }

    pub fn case_submitted_at(case: &Case) -> String {
        format_berlin(from_unix_ms(case.submitted_at_ms))
    }
}

/// Empty and oversized files are refused by the staged file's size, before anything reads them.
fn size_check(file: &StagedFile, max_bytes: u64) -> Result<(), UploadError> {
    if file.is_empty() {
        return Err(UploadError::Empty);
    }
    if file.len() > max_bytes {
        return Err(UploadError::TooLarge {
            size: file.len(),
            max: max_bytes,
        });
    }
    Ok(())
}

/// The message next to the field when the virus scan refused a file.
fn scan_refused(field: &str, refusal: &ScanRefusal, label: &dyn Fn(Lang) -> String) -> FieldError {
    let message = match refusal {
        ScanRefusal::Infected(_) => Text::new(
            format!(
                "„{}“: In der Datei wurde Schadsoftware gefunden. Die Datei wurde nicht angenommen. Bitte prüfen Sie Ihr Gerät mit einem Virenschutzprogramm und laden Sie eine andere Datei hoch.",
                label(Lang::De)
            ),
            format!(
                "“{}”: Malware was found in the file, so it was not accepted. Please check your device with an anti-virus program and upload another file.",
                label(Lang::En)
            ),
            format!(
                "Die Datei bei „{}“ geht nicht. In der Datei ist ein Computer-Virus. Bitte laden Sie eine andere Datei hoch.",
                label(Lang::Ls)
            ),
        ),
        ScanRefusal::Unavailable => Text::new(
            format!(
                "„{}“: Die Datei kann gerade nicht auf Schadsoftware geprüft werden und wurde deshalb nicht angenommen. Bitte versuchen Sie es in einigen Minuten noch einmal.",
                label(Lang::De)
            ),
            format!(
                "“{}”: The file cannot be checked for malware just now, so it was not accepted. Please try again in a few minutes.",
                label(Lang::En)
            ),
            format!(
                "Die Datei bei „{}“ geht gerade nicht. Bitte versuchen Sie es später noch einmal.",
                label(Lang::Ls)
            ),
        ),
    };
    FieldError {
        field: field.to_owned(),
        message,
    }
}

fn unknown_field(name: &str) -> FieldError {
    FieldError {
        field: name.to_owned(),
        message: Text::new(
            "Dieses Feld gibt es hier nicht.",
            "There is no such field here.",
            "Dieses Feld gibt es nicht.",
        ),
    }
}

/// A draft that could not be saved: a full write path is worth sending the same answers again
/// for; anything else is a general error on the page.
fn not_saved(e: AppError) -> StepError {
    match e {
        AppError::Overloaded => StepError::Overloaded,
        other => StepError::Invalid(vec![internal_error(&other)]),
    }
}

fn internal_error(e: &AppError) -> FieldError {
    tracing::error!(error = %e, "saving a draft failed");
    FieldError {
        field: String::new(),
        message: Text::new(
            "Ihre Angaben konnten gerade nicht gespeichert werden. Bitte versuchen Sie es noch einmal.",
            "Your answers could not be saved just now. Please try again.",
            "Das Speichern hat nicht geklappt. Bitte versuchen Sie es noch einmal.",
        ),
    }
}

fn set_target_field(
    step: &rathaus_domain::service::Step,
    item: Option<usize>,
    data: &mut Value,
    field: &str,
    value: Value,
) {
    let target = match (&step.repeat, item) {
        (Some(r), Some(i)) => {
            if !data.get(&r.name).is_some_and(Value::is_array) {
                data[&r.name] = Value::Array(Vec::new());
            }
            if let Some(Value::Array(items)) = data.get_mut(&r.name) {
                while items.len() <= i {
                    items.push(json!({}));
                }
            }
            &mut data[&r.name][i]
        }
        _ => data,
    };
    target[field] = value;
}

fn strip_attachment(data: &mut Value, id: &str) {
    match data {
        Value::Array(items) => {
            items.retain(|v| v.as_str() != Some(id));
            for v in items.iter_mut() {
                strip_attachment(v, id);
            }
        }
        Value::Object(m) => {
            for v in m.values_mut() {
                strip_attachment(v, id);
            }
        }
        _ => {}
    }
}

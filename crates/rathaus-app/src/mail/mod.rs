//! E-mail delivery through the outbox.
//!
//! A use case that wants to write to a citizen calls [`enqueue_email`] inside the transaction of
//! its own change, so the e-mail is sent exactly when the change is committed and never lost when
//! the mail server is down. A background worker ([`run_worker`]) later claims due messages,
//! sends them through a [`Mailer`] ([`SmtpMailer`] in production) and records the outcome,
//! retrying transient failures with exponential backoff.
//!
//! # Payload of outbox messages of kind `"email"`
//!
//! JSON, sealed by the store under the tenant's data key:
//!
//! ```json
//! {"to": "max@example.org", "subject": "Ihre Anmeldung", "text": "Guten Tag, …", "reply_to": "steuer@example.org"}
//! ```
//!
//! - `to`: one recipient, a bare address or `Name <address>`.
//! - `subject`: one line of UTF-8.
//! - `text`: the plain-text body, UTF-8, lines separated by `\n`.
//! - `reply_to` (optional, omitted when absent): an address for answers, e.g. the office's.
//!
//! The sender is the installation's `mail_from`; the Message-ID is derived from the outbox id, so
//! a message sent twice (delivery is at least once) carries the same id both times.
//!
//! Addresses, subjects and texts are personal data: they never appear in logs, in error messages
//! or in the outbox's `last_error`; only outbox ids and error categories ([`MailError`]) do.

mod smtp;
mod worker;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use lettre::message::Mailbox;
use rathaus_store::Tx;
use rathaus_store::outbox::NewMessage;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{App, AppError};

pub use smtp::{SmtpMailer, SmtpSecurity, SmtpUrl};
pub use worker::{
    DeliveryReport, LEASE, MAX_ATTEMPTS, MailWaker, MailWorker, POLL_INTERVAL, deliver_due,
    describe_metrics, retry_delay, run_worker, spawn_worker,
};

/// The outbox `kind` of e-mails.
pub const KIND: &str = "email";

/// An e-mail to one recipient, as queued in the outbox (see the module documentation).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

// Every field is personal data; a stray `{:?}` in a log line must not reveal any of it.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Email")
            .field("to", &"<redacted>")
            .field("subject", &"<redacted>")
            .field("text", &format_args!("<{} bytes>", self.text.len()))
            .field("reply_to", &self.reply_to.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Email {
    /// Checks what the mail server would otherwise reject or, worse, misread: CR or LF in a
    /// header value would let the input add headers of its own (header injection). The error
    /// names the field, never its value.
    pub fn validate(&self) -> Result<(), AppError> {
        parse_mailbox("to", &self.to)?;
        if let Some(r) = &self.reply_to {
            parse_mailbox("reply_to", r)?;
        }
        if self.subject.chars().any(char::is_control) {
            return Err(AppError::BadInput(
                "the e-mail subject must be a single line without control characters".into(),
            ));
        }
        Ok(())
    }
}

/// Parses an address (`a@b.de` or `Name <a@b.de>`); `field` names it in the error.
pub(crate) fn parse_mailbox(field: &str, value: &str) -> Result<Mailbox, AppError> {
    if value.chars().any(char::is_control) {
        return Err(AppError::BadInput(format!(
            "{field}: an e-mail address must not contain line breaks or control characters"
        )));
    }
    Mailbox::from_str(value.trim())
        .map_err(|_| AppError::BadInput(format!("{field}: not a valid e-mail address")))
}

/// Queues `email` in the caller's transaction: it is sent once the transaction commits and never
/// if it rolls back. Returns the outbox id. Wake the worker ([`MailWaker::wake`]) after the
/// commit for prompt delivery; otherwise it is picked up within [`POLL_INTERVAL`].
pub async fn enqueue_email(
    app: &App,
    tx: &mut Tx,
    tenant_key: &str,
    case_id: Option<&str>,
    email: &Email,
) -> Result<String, AppError> {
    email.validate()?;
    let payload = serde_json::to_value(email)
        .map_err(|e| AppError::Internal(format!("e-mail payload: {e}")))?;
    let id = rathaus_crypto::token::new_record_id(app.rng.as_ref())?;
    app.store
        .enqueue(
            tx,
            &NewMessage {
                id: &id,
                tenant_key,
                case_id,
                kind: KIND,
                payload: &payload,
                now: app.now(),
            },
        )
        .await?;
    Ok(id)
}

/// One e-mail ready to go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The outbox id; the Message-ID is made from it.
    pub outbox_id: String,
    /// The Date header: the application clock at sending time.
    pub date: OffsetDateTime,
    pub email: Email,
}

/// Why a message was not sent. Carries categories and reply codes only, never the server's text,
/// which often quotes the recipient's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// Worth trying again later: the server was unreachable, slow, or answered 4xx.
    #[error("transient: {0}")]
    Transient(Cause),
    /// Trying again cannot help: the server answered 5xx, or the message itself is unusable.
    #[error("permanent: {0}")]
    Permanent(Cause),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// Could not connect, or the connection broke.
    Connection,
    Timeout,
    /// TLS handshake or certificate failed.
    Tls,
    /// The server's reply could not be understood, or the session could not be set up as
    /// configured (no STARTTLS, no usable authentication).
    Protocol,
    /// The server answered with this reply code.
    Reply(u16),
    /// An address of the message is unusable.
    Address,
    /// The queued payload is not an e-mail.
    Payload,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Connection => f.write_str("connection"),
            Cause::Timeout => f.write_str("timeout"),
            Cause::Tls => f.write_str("tls"),
            Cause::Protocol => f.write_str("protocol"),
            Cause::Reply(code) => write!(f, "smtp {code}"),
            Cause::Address => f.write_str("address"),
            Cause::Payload => f.write_str("payload"),
        }
    }
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Permanent(_))
    }

    pub fn cause(&self) -> Cause {
        match self {
            MailError::Transient(c) | MailError::Permanent(c) => *c,
        }
    }

    /// RFC 5321: 4yz replies are transient, 5yz permanent. Anything else where an error was
    /// expected is a misbehaving server, which may recover.
    pub fn from_reply_code(code: u16) -> MailError {
        if (500..600).contains(&code) {
            MailError::Permanent(Cause::Reply(code))
        } else {
            MailError::Transient(Cause::Reply(code))
        }
    }
}

pub type MailFuture<'a> = Pin<Box<dyn Future<Output = Result<(), MailError>> + Send + 'a>>;

/// Sends e-mails. A trait object, so that tests and other transports can stand in for SMTP.
pub trait Mailer: Send + Sync {
    /// Ok once the server has accepted the message for delivery.
    fn send<'a>(&'a self, message: &'a Outgoing) -> MailFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &str) -> Email {
        Email {
            to: to.into(),
            subject: "Ihre Anmeldung".into(),
            text: "Grüße\n".into(),
            reply_to: None,
        }
    }

    #[test]
    fn addresses_are_checked_without_echoing_them() {
        assert!(email("max@example.org").validate().is_ok());
        assert!(email("Max Mustermann <max@example.org>").validate().is_ok());
        for bad in [
            "max@example.org\r\nBcc: eve@example.org",
            "max@example.org\nBcc: eve@example.org",
            "max@example.org\r",
            "max@exa\u{0}mple.org",
            "kein-at-zeichen",
            "",
        ] {
            let e = email(bad).validate().unwrap_err();
            assert!(matches!(e, AppError::BadInput(_)), "{bad:?}");
            assert!(!e.to_string().contains("example"), "{e}");
        }
        let mut e = email("max@example.org");
        e.reply_to = Some("amt@example.org\nX: y".into());
        assert!(e.validate().unwrap_err().to_string().contains("reply_to"));
        let mut e = email("max@example.org");
        e.subject = "Betreff\r\nBcc: eve@example.org".into();
        assert!(matches!(e.validate(), Err(AppError::BadInput(_))));
    }

    #[test]
    fn payload_format_is_the_documented_one() {
        let e = email("max@example.org");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"to": "max@example.org", "subject": "Ihre Anmeldung", "text": "Grüße\n"})
        );
        let mut with = e.clone();
        with.reply_to = Some("amt@example.org".into());
        let v = serde_json::to_value(&with).unwrap();
        assert_eq!(v["reply_to"], "amt@example.org");
        assert_eq!(serde_json::from_value::<Email>(v).unwrap(), with);
    }

    #[test]
    fn debug_output_hides_personal_data() {
        let mut e = email("max@example.org");
        e.reply_to = Some("amt@example.org".into());
        let shown = format!("{e:?}");
        assert!(!shown.contains("example.org") && !shown.contains("Anmeldung"));
        assert!(!shown.contains("Grüße"), "{shown}");
    }

    #[test]
    fn reply_codes_are_classified_by_rfc_5321() {
        assert_eq!(
            MailError::from_reply_code(550),
            MailError::Permanent(Cause::Reply(550))
        );
        assert!(MailError::from_reply_code(554).is_permanent());
        assert!(MailError::from_reply_code(553).is_permanent());
        assert!(!MailError::from_reply_code(421).is_permanent());
        assert!(!MailError::from_reply_code(451).is_permanent());
        assert!(!MailError::from_reply_code(452).is_permanent());
        assert_eq!(
            MailError::from_reply_code(550).to_string(),
            "permanent: smtp 550"
        );
        assert_eq!(
            MailError::Transient(Cause::Connection).to_string(),
            "transient: connection"
        );
    }
}

//! Sending through an SMTP server (lettre, tokio, rustls).

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::{Host, Url};

use super::{Cause, MailError, MailFuture, Mailer, Outgoing, parse_mailbox};
use crate::{AppError, Config};

/// Per SMTP command; lettre's default of a minute holds the worker too long on a stuck server.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// For a whole message, so that one slow server cannot outlast the outbox lease.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No TLS: only for a relay on the same machine or a trusted network (`?tls=none`).
    Plain,
    /// Plain connection upgraded with STARTTLS, which the server must offer (`?tls=starttls`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// The parsed `smtp_url` setting:
///
/// - `smtp://host[:port]` — STARTTLS required (port 587), except for a loopback host
///   (`localhost`, `127.0.0.1`, `::1`), where it is plain (port 25)
/// - `smtp://host[:port]?tls=starttls` (also `tls=required`) — STARTTLS required
/// - `smtp://host[:port]?tls=none` — no TLS at all
/// - `smtps://host[:port]` — implicit TLS (port 465)
///
/// `user:password@` before the host logs in (percent-encode special characters). The password
/// is never shown: `Debug` and `Display` print the URL without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    credentials: Option<(String, String)>,
}

impl SmtpUrl {
    /// Parses the setting. The error says what is wrong without repeating the URL, which may
    /// hold a password.
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
        let host = match url.host() {
            Some(Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(Host::Ipv4(a)) => a.to_string(),
            // Without brackets: lettre connects with (host, port) and names the TLS server by it.
            Some(Host::Ipv6(a)) => a.to_string(),
            _ => return Err("the URL names no host".into()),
        };
        let mut tls = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" if tls.is_none() => tls = Some(value.into_owned()),
                "tls" => return Err("tls is given twice".into()),
                other => return Err(format!("unknown parameter {other:?}; only tls is known")),
            }
        }
        if !matches!(url.path(), "" | "/") {
            return Err("the URL must not have a path".into());
        }
        let security = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => SmtpSecurity::Tls,
            ("smtps", Some(_)) => {
                return Err("smtps:// always uses TLS; drop the tls parameter".into());
            }
            ("smtp", None) if is_loopback(&host) => SmtpSecurity::Plain,
            ("smtp", None | Some("starttls" | "required")) => SmtpSecurity::StartTls,
            ("smtp", Some("none")) => SmtpSecurity::Plain,
            ("smtp", Some(other)) => {
                // Opportunistic STARTTLS is not offered: an attacker on the path can strip it.
                return Err(format!("tls must be starttls or none, got {other:?}"));
            }
            (other, _) => return Err(format!("the scheme must be smtp or smtps, got {other:?}")),
        };
        let port = url.port().unwrap_or(match security {
            SmtpSecurity::Plain => 25,
            SmtpSecurity::StartTls => 587,
            SmtpSecurity::Tls => 465,
        });
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(pass)) if !user.is_empty() => Some((
                percent_decode(user).ok_or("the user name is not valid percent-encoded UTF-8")?,
                percent_decode(pass).ok_or("the password is not valid percent-encoded UTF-8")?,
            )),
            _ => return Err("give both user and password, or neither".into()),
        };
        Ok(SmtpUrl {
            host,
            port,
            security,
            credentials,
        })
    }

    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }
}

impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let (scheme, tls) = match self.security {
            SmtpSecurity::Plain => ("smtp", "?tls=none"),
            SmtpSecurity::StartTls => ("smtp", "?tls=starttls"),
            SmtpSecurity::Tls => ("smtps", ""),
        };
        write!(f, "{scheme}://{host}:{}{tls}", self.port)
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({self}")?;
        if self.has_credentials() {
            f.write_str(", with credentials")?;
        }
        f.write_str(")")
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback())
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// RFC 3834: tells vacation responders and ticket systems not to answer automatically.
#[derive(Clone)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// Sends through one SMTP server, a new connection per message (mails are few, and a fresh
/// connection never meets a half-dead one left over from an earlier send).
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Right-hand side of Message-IDs: the sender's domain.
    id_domain: String,
}

impl SmtpMailer {
    /// `from` is the sender, `rathaus <noreply@example.org>` or a bare address.
    pub fn new(url: &SmtpUrl, from: &str) -> Result<SmtpMailer, AppError> {
        let from = parse_mailbox("RATHAUS_MAIL_FROM", from)?;
        let tls_parameters = || {
            TlsParameters::new(url.host.clone()).map_err(|_| {
                AppError::Unavailable(format!("cannot set up TLS for the SMTP server {url}"))
            })
        };
        let tls = match url.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .tls(tls)
            .timeout(Some(COMMAND_TIMEOUT));
        if let Some((user, pass)) = &url.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            id_domain: from.email.domain().to_owned(),
            from,
        })
    }

    /// The mailer the configuration asks for; `None` without `smtp_url`.
    pub fn from_config(config: &Config) -> Result<Option<SmtpMailer>, AppError> {
        config
            .smtp_url
            .as_ref()
            .map(|url| SmtpMailer::new(url, &config.mail_from))
            .transpose()
    }

    /// The message as it goes over the wire: plain UTF-8 text (lettre picks 7bit,
    /// quoted-printable or base64, whichever is shortest), RFC 2047-encoded headers.
    pub fn build_message(&self, m: &Outgoing) -> Result<Message, MailError> {
        m.email
            .validate()
            .map_err(|_| MailError::Permanent(Cause::Address))?;
        let to =
            parse_mailbox("to", &m.email.to).map_err(|_| MailError::Permanent(Cause::Address))?;
        if m.outbox_id.is_empty() || !m.outbox_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MailError::Permanent(Cause::Payload));
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.email.subject.clone())
            .date(SystemTime::from(m.date))
            .message_id(Some(format!("<{}@{}>", m.outbox_id, self.id_domain)))
            .header(AutoSubmitted)
            .header(ContentType::TEXT_PLAIN);
        if let Some(r) = &m.email.reply_to {
            builder = builder.reply_to(
                parse_mailbox("reply_to", r).map_err(|_| MailError::Permanent(Cause::Address))?,
            );
        }
        // lettre ends the DATA with CRLF.CRLF whatever the message ends with, so a final line
        // break of our own would reach the recipient as an extra empty line.
        let text = m.email.text.as_str();
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        builder
            .body(text.to_owned())
            .map_err(|_| MailError::Permanent(Cause::Address))
    }
}

impl Mailer for SmtpMailer {
    fn send<'a>(&'a self, m: &'a Outgoing) -> MailFuture<'a> {
        Box::pin(async move {
            let message = self.build_message(m)?;
            match tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message)).await {
                Err(_) => Err(MailError::Transient(Cause::Timeout)),
                Ok(Err(e)) => Err(classify(&e)),
                Ok(Ok(_)) => Ok(()),
            }
        })
    }
}

/// Sorts lettre's errors into categories; its messages are not kept, since they quote the
/// server's reply, which often names the recipient.
fn classify(e: &lettre::transport::smtp::Error) -> MailError {
    if let Some(code) = e.status() {
        return MailError::from_reply_code(u16::from(code));
    }
    let cause = if e.is_timeout() {
        Cause::Timeout
    } else if e.is_tls() {
        Cause::Tls
    } else if e.is_response() || e.is_client() {
        Cause::Protocol
    } else {
        Cause::Connection
    };
    // A misconfigured or unreachable server is the operator's to fix; keep the mail meanwhile.
    MailError::Transient(cause)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Email;
    use time::macros::datetime;

    #[test]
    fn urls_default_to_tls_except_on_loopback() {
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((u.port, u.security), (2525, SmtpSecurity::Plain));
        let u = SmtpUrl::parse("smtp://localhost").unwrap();
        assert_eq!((u.port, u.security), (25, SmtpSecurity::Plain));
        let u = SmtpUrl::parse("smtp://[::1]:2525").unwrap();
        assert_eq!((u.host.as_str(), u.security), ("::1", SmtpSecurity::Plain));
        let u = SmtpUrl::parse("smtp://mail.example.org").unwrap();
        assert_eq!((u.port, u.security), (587, SmtpSecurity::StartTls));
        let u = SmtpUrl::parse("smtp://user:p%40ss@mail.example.org:587?tls=starttls").unwrap();
        assert_eq!(u.security, SmtpSecurity::StartTls);
        assert_eq!(u.credentials, Some(("user".to_owned(), "p@ss".to_owned())));
        let u = SmtpUrl::parse("smtp://relay.intern:25?tls=none").unwrap();
        assert_eq!((u.port, u.security), (25, SmtpSecurity::Plain));
        let u = SmtpUrl::parse("smtps://mail.example.org").unwrap();
        assert_eq!((u.port, u.security), (465, SmtpSecurity::Tls));
    }

    #[test]
    fn tls_mailers_can_be_set_up() {
        for url in [
            "smtps://mail.example.org",
            "smtp://u:p@mail.example.org?tls=starttls",
        ] {
            let url = SmtpUrl::parse(url).unwrap();
            assert!(SmtpMailer::new(&url, "rathaus <noreply@example.org>").is_ok());
        }
    }

    #[test]
    fn bad_urls_are_explained_without_the_password() {
        for bad in [
            "http://u:geheim@mail.example.org",
            "smtp://u:geheim@mail.example.org?tls=opportunistic",
            "smtps://u:geheim@mail.example.org?tls=none",
            "smtp://u:geheim@mail.example.org?tsl=none",
            "smtp://u:geheim@mail.example.org/ehlo",
            "smtp://u@mail.example.org",
            "smtp://",
            "mail.example.org",
        ] {
            let e = SmtpUrl::parse(bad).unwrap_err();
            assert!(!e.contains("geheim"), "{bad}: {e}");
        }
        let u = SmtpUrl::parse("smtps://u:geheim@mail.example.org").unwrap();
        assert_eq!(
            format!("{u:?}"),
            "SmtpUrl(smtps://mail.example.org:465, with credentials)"
        );
        assert!(!u.to_string().contains("geheim"));
    }

    #[test]
    fn configuration_holds_the_parsed_settings() {
        let env: std::collections::HashMap<String, String> = [
            (
                "RATHAUS_SMTP_URL",
                "smtp://u:geheim@mail.example.org?tls=starttls",
            ),
            (
                "RATHAUS_MAIL_FROM",
                "Gemeinde Panketal <noreply@panketal.de>",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let c = Config::load(None, &env).unwrap();
        assert_eq!(
            c.smtp_url.as_ref().map(|u| u.security),
            Some(SmtpSecurity::StartTls)
        );
        assert_eq!(c.mail_from, "Gemeinde Panketal <noreply@panketal.de>");
        assert!(!format!("{c:?}").contains("geheim"));

        let c = Config::load(None, &Default::default()).unwrap();
        assert!(c.smtp_url.is_none());
        assert_eq!(c.mail_from, "rathaus <noreply@localhost>");

        let mut bad = env.clone();
        bad.insert(
            "RATHAUS_SMTP_URL".into(),
            "smtp://u:geheim@x?tls=maybe".into(),
        );
        let e = Config::load(None, &bad).unwrap_err().to_string();
        assert!(
            e.contains("RATHAUS_SMTP_URL") && !e.contains("geheim"),
            "{e}"
        );
        let mut bad = env;
        bad.insert("RATHAUS_MAIL_FROM".into(), "noreply".into());
        let e = Config::load(None, &bad).unwrap_err().to_string();
        assert!(e.contains("RATHAUS_MAIL_FROM"), "{e}");
    }

    fn outgoing(text: &str) -> Outgoing {
        Outgoing {
            outbox_id: "abc123".into(),
            date: datetime!(2026-11-25 21:00 UTC),
            email: Email {
                to: "max@example.org".into(),
                subject: "Bestätigung Ihrer Anmeldung".into(),
                text: text.into(),
                reply_to: Some("steuer@panketal.de".into()),
            },
        }
    }

    #[test]
    fn messages_carry_the_required_headers() {
        let url = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        let mailer = SmtpMailer::new(&url, "Gemeinde Panketal <noreply@panketal.de>").unwrap();
        let m = mailer
            .build_message(&outgoing("Grüße aus Panketal\nZeile zwei\n"))
            .unwrap();
        let raw = String::from_utf8(m.formatted()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        for expected in [
            "Message-ID: <abc123@panketal.de>",
            "Date: Wed, 25 Nov 2026 21:00:00 +0000",
            "Auto-Submitted: auto-generated",
            "Content-Type: text/plain; charset=utf-8",
            "To: max@example.org",
            "Reply-To: steuer@panketal.de",
        ] {
            assert!(head.contains(expected), "{expected} missing in\n{head}");
        }
        // Non-ASCII stays out of the raw headers and body lines: encoded, not 8-bit.
        assert!(raw.is_ascii(), "{raw}");
        assert!(!raw.contains("\n\n") && !raw.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn injected_headers_are_refused_at_sending_too() {
        let url = SmtpUrl::parse("smtp://127.0.0.1:2525").unwrap();
        let mailer = SmtpMailer::new(&url, "rathaus <noreply@localhost>").unwrap();
        let mut m = outgoing("text");
        m.email.to = "max@example.org\r\nBcc: eve@example.org".into();
        assert_eq!(
            mailer.build_message(&m).unwrap_err(),
            MailError::Permanent(Cause::Address)
        );
        let mut m = outgoing("text");
        m.outbox_id = "x>\r\nBcc: eve@example.org".into();
        assert!(mailer.build_message(&m).unwrap_err().is_permanent());
    }
}

//! E-mail delivery through the outbox against a real SMTP server (scripts/smtp-capture.py, which
//! needs Python with aiosmtpd), on both backends.
//!
//! Python is `RATHAUS_TEST_PYTHON`, else `/var/tmp/rathaus-venv/bin/python3`; without either the
//! SMTP tests are skipped with a note, unless `RATHAUS_TEST_REQUIRE_SMTP=1` makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use rathaus_app::mail::{
    DeliveryReport, Email, MailWaker, SmtpMailer, SmtpUrl, deliver_due, enqueue_email, run_worker,
    spawn_worker,
};
use rathaus_app::testing::{TEST_NOW, TestApp, TestBackend, demo_app};
use rathaus_app::{App, AppError};
use rathaus_store::contract_tests;
use rathaus_store::outbox::OutboxCounts;
use serde_json::Value as Json;
use time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// Gemeinde Panketal, one of the demo pilots (it has a data key).
const TENANT: &str = "12060181";
const FROM: &str = "Gemeinde Panketal <noreply@panketal.example>";

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("RATHAUS_TEST_PYTHON")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/rathaus-venv/bin/python3"));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RATHAUS_TEST_REQUIRE_SMTP").as_deref() == Ok("1") {
        panic!(
            "RATHAUS_TEST_REQUIRE_SMTP=1 but there is no Python at {} (set RATHAUS_TEST_PYTHON)",
            path.display()
        );
    }
    eprintln!(
        "note: SMTP test skipped: no Python with aiosmtpd at {} (set RATHAUS_TEST_PYTHON)",
        path.display()
    );
    None
}

/// scripts/smtp-capture.py, killed when dropped.
struct Capture {
    python: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Capture {
    async fn start(python: &Path, port: u16) -> Capture {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-capture.py");
        let mut child = Command::new(python)
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start smtp-capture.py");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::time::timeout(StdDuration::from_secs(30), async {
            BufReader::new(stdout).lines().next_line().await
        })
        .await
        .expect("smtp-capture.py did not start within 30 s")
        .unwrap()
        .expect("smtp-capture.py exited (is aiosmtpd installed?)");
        let port = line
            .strip_prefix("smtp listening on ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        Capture {
            python: python.to_path_buf(),
            port,
            dir,
            child,
        }
    }

    fn url(&self) -> SmtpUrl {
        SmtpUrl::parse(&format!("smtp://127.0.0.1:{}", self.port)).unwrap()
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
    }

    /// The message as Python's e-mail parser reads it, headers and body decoded.
    fn parse(&self, eml: &Path) -> Json {
        const PARSE: &str = r#"
import email, email.policy, json, sys
with open(sys.argv[1], "rb") as f:
    m = email.message_from_binary_file(f, policy=email.policy.default)
h = lambda k: None if m[k] is None else str(m[k])
print(json.dumps({
    "envelope_to": h("X-Envelope-To"), "from": h("From"), "to": h("To"), "reply_to": h("Reply-To"),
    "subject": h("Subject"), "date": h("Date"), "message_id": h("Message-ID"),
    "auto_submitted": h("Auto-Submitted"), "content_type": m.get_content_type(),
    "charset": m.get_content_charset(), "body": m.get_content(),
}))
"#;
        let out = std::process::Command::new(&self.python)
            .arg("-c")
            .arg(PARSE)
            .arg(eml)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A port on which nothing listens (until a test starts a server there).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal SMTP server that answers every RCPT TO with `reply` (smtp-capture.py accepts
/// everything, so it cannot show how rejections are handled).
async fn rejecting_server(reply: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 reject.test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let answer = match verb.as_str() {
                        "EHLO" | "HELO" => "250 reject.test\r\n".to_owned(),
                        "RCPT" => format!("{reply}\r\n"),
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        "MAIL" | "RSET" | "NOOP" => "250 ok\r\n".to_owned(),
                        _ => "502 not implemented\r\n".to_owned(),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

fn letter() -> Email {
    Email {
        to: "max.mustermann@example.org".into(),
        subject: "Ihre Anmeldung zur Hundesteuer – Bestätigung".into(),
        text: "Guten Tag,\n\nwir haben Ihre Anmeldung für „Bello“ erhalten.\nMit freundlichen Grüßen\nIhre Gemeinde Panketal\n".into(),
        reply_to: Some("steueramt@panketal.example".into()),
    }
}

async fn queue(app: &App, email: &Email) -> Result<String, AppError> {
    let mut tx = app.store.begin().await?;
    let id = enqueue_email(app, &mut tx, TENANT, Some("case-1"), email).await?;
    tx.commit().await?;
    Ok(id)
}

struct Row {
    status: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
}

async fn outbox_row(app: &App, id: &str) -> Row {
    let mut tx = app.store.begin().await.unwrap();
    let r = tx
        .fetch_one(
            "SELECT status, attempts, next_attempt_at, last_error FROM outbox WHERE id = $1",
            vec![id.into()],
        )
        .await
        .unwrap();
    Row {
        status: r.text("status").unwrap(),
        attempts: r.i64("attempts").unwrap(),
        next_attempt_at: r.i64("next_attempt_at").unwrap(),
        last_error: r.opt_text("last_error").unwrap(),
    }
}

fn ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

fn counts(pending: i64, sent: i64, failed: i64) -> OutboxCounts {
    OutboxCounts {
        pending,
        sent,
        failed,
    }
}

async fn queued_email_arrives_with_utf8_body(b: TestBackend) {
    let Some(python) = python() else { return };
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let smtp = Capture::start(&python, 0).await;
    let mailer = SmtpMailer::new(&smtp.url(), FROM).unwrap();

    let id = queue(app, &letter()).await.unwrap();
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(1, 0, 0));
    let report = deliver_due(app, &mailer).await.unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            sent: 1,
            ..Default::default()
        }
    );
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 1, 0));
    assert_eq!(outbox_row(app, &id).await.status, "sent");

    let files = smtp.messages();
    assert_eq!(files.len(), 1);
    let m = smtp.parse(&files[0]);
    let e = letter();
    assert_eq!(m["envelope_to"], "max.mustermann@example.org");
    assert_eq!(m["to"], e.to.as_str());
    assert_eq!(m["from"], FROM);
    assert_eq!(m["reply_to"], "steueramt@panketal.example");
    assert_eq!(m["subject"], e.subject.as_str());
    assert_eq!(
        m["body"].as_str().unwrap().replace("\r\n", "\n"),
        e.text,
        "{m}"
    );
    assert_eq!(m["content_type"], "text/plain");
    assert_eq!(m["charset"], "utf-8");
    assert_eq!(m["auto_submitted"], "auto-generated");
    assert_eq!(m["message_id"], format!("<{id}@panketal.example>").as_str());
    // The application's clock, not the machine's.
    assert_eq!(m["date"], "Wed, 25 Nov 2026 21:00:00 +0000");

    // Sent is sent: a second pass finds nothing.
    assert_eq!(
        deliver_due(app, &mailer).await.unwrap(),
        DeliveryReport::default()
    );
    assert_eq!(smtp.messages().len(), 1);
    smtp.stop().await;
}

async fn unreachable_server_means_retry_later(b: TestBackend) {
    let Some(python) = python() else { return };
    let Some(t) = demo_app(b).await else { return };
    let TestApp { app, clock, .. } = &t;
    let port = free_port();
    let url = SmtpUrl::parse(&format!("smtp://127.0.0.1:{port}")).unwrap();
    let mailer = SmtpMailer::new(&url, FROM).unwrap();
    let id = queue(app, &letter()).await.unwrap();

    // Server down: the message stays pending, due again in a minute, then in two.
    let report = deliver_due(app, &mailer).await.unwrap();
    assert_eq!(report.retried, 1, "{report:?}");
    let row = outbox_row(app, &id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("pending", 1));
    assert_eq!(row.next_attempt_at, ms(TEST_NOW + Duration::minutes(1)));
    assert_eq!(row.last_error.as_deref(), Some("transient: connection"));
    assert_eq!(
        deliver_due(app, &mailer).await.unwrap(),
        DeliveryReport::default(),
        "not due yet"
    );
    clock.advance(Duration::minutes(1));
    assert_eq!(deliver_due(app, &mailer).await.unwrap().retried, 1);
    let row = outbox_row(app, &id).await;
    assert_eq!(row.attempts, 2);
    assert_eq!(row.next_attempt_at, ms(app.now() + Duration::minutes(2)));
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(1, 0, 0));

    // Server up, but the retry is not due yet; then it is.
    let smtp = Capture::start(&python, port).await;
    assert_eq!(
        deliver_due(app, &mailer).await.unwrap(),
        DeliveryReport::default()
    );
    assert!(smtp.messages().is_empty());
    clock.advance(Duration::minutes(2));
    assert_eq!(deliver_due(app, &mailer).await.unwrap().sent, 1);
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 1, 0));
    let files = smtp.messages();
    assert_eq!(files.len(), 1);
    assert_eq!(smtp.parse(&files[0])["subject"], letter().subject.as_str());
    smtp.stop().await;
}

async fn rejected_recipient_fails_for_good(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let TestApp { app, clock, .. } = &t;
    let reject = |port: u16| {
        SmtpMailer::new(
            &SmtpUrl::parse(&format!("smtp://127.0.0.1:{port}")).unwrap(),
            FROM,
        )
        .unwrap()
    };

    // 5xx: permanent, given up at the first attempt.
    let mailer = reject(rejecting_server("550 5.1.1 mailbox unavailable").await);
    let id = queue(app, &letter()).await.unwrap();
    let report = deliver_due(app, &mailer).await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    let row = outbox_row(app, &id).await;
    assert_eq!(row.status, "failed");
    // Only the category: the server's text often quotes the address.
    assert_eq!(row.last_error.as_deref(), Some("permanent: smtp 550"));
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 0, 1));

    // 4xx: transient, retried until the tenth attempt, then given up.
    let mailer = reject(rejecting_server("451 4.3.0 try again later").await);
    let id = queue(app, &letter()).await.unwrap();
    for attempt in 1..=9 {
        let report = deliver_due(app, &mailer).await.unwrap();
        assert_eq!(report.retried, 1, "attempt {attempt}: {report:?}");
        let row = outbox_row(app, &id).await;
        assert_eq!(row.last_error.as_deref(), Some("transient: smtp 451"));
        clock.advance(Duration::minutes(60));
    }
    assert_eq!(deliver_due(app, &mailer).await.unwrap().failed, 1);
    let row = outbox_row(app, &id).await;
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 10));
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 0, 2));
}

async fn header_injection_is_refused_and_nothing_is_queued(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let mut tx = app.store.begin().await.unwrap();
    for (to, subject) in [
        ("max@example.org\r\nBcc: eve@example.org", "Betreff"),
        ("max@example.org\nBcc: eve@example.org", "Betreff"),
        ("max@example.org", "Betreff\r\nBcc: eve@example.org"),
        ("keine adresse", "Betreff"),
    ] {
        let email = Email {
            to: to.into(),
            subject: subject.into(),
            ..letter()
        };
        let err = enqueue_email(app, &mut tx, TENANT, None, &email)
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::BadInput(_)), "{err:?}");
        assert!(!err.to_string().contains("example.org"), "{err}");
    }
    tx.commit().await.unwrap();
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 0, 0));

    // A rolled-back transaction takes its e-mail with it.
    let mut tx = app.store.begin().await.unwrap();
    enqueue_email(app, &mut tx, TENANT, None, &letter())
        .await
        .unwrap();
    drop(tx);
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 0, 0));

    // Without smtp_url no worker runs, and the queue is left alone.
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    assert!(app.config.smtp_url.is_none());
    assert!(spawn_worker(app, shutdown).unwrap().handle.is_none());
}

async fn worker_sends_when_woken_and_stops_on_shutdown(b: TestBackend) {
    let Some(python) = python() else { return };
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let smtp = Capture::start(&python, 0).await;
    let mailer = Arc::new(SmtpMailer::new(&smtp.url(), FROM).unwrap());
    let waker = MailWaker::new();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(run_worker(app.clone(), mailer, waker.clone(), shutdown));

    queue(app, &letter()).await.unwrap();
    waker.wake();
    let mut waited = 0;
    while smtp.messages().is_empty() {
        assert!(waited < 300, "the worker sent nothing within 30 s");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
        waited += 1;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(StdDuration::from_secs(30), worker)
        .await
        .expect("the worker did not stop")
        .unwrap();
    assert_eq!(app.store.outbox_counts().await.unwrap(), counts(0, 1, 0));
    smtp.stop().await;
}

contract_tests!(
    queued_email_arrives_with_utf8_body,
    unreachable_server_means_retry_later,
    rejected_recipient_fails_for_good,
    header_injection_is_refused_and_nothing_is_queued,
    worker_sends_when_woken_and_stops_on_shutdown,
);

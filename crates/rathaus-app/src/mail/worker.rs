//! The background worker that drains the outbox.

use std::sync::Arc;

use rathaus_store::outbox::Message;
use time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{Cause, Email, KIND, MailError, Mailer, Outgoing, SmtpMailer};
use crate::{App, AppError};

/// Attempts before a message is given up (about four hours of retries with [`retry_delay`]).
pub const MAX_ATTEMPTS: i64 = 10;
/// How long a claimed message is reserved for the worker that claimed it. Longer than one send
/// may take, so that no second worker sends it meanwhile; a worker that dies mid-send leaves it
/// to another after this time.
pub const LEASE: Duration = Duration::minutes(5);
/// How often the worker looks for due messages when nobody wakes it.
pub const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// Messages per pass, so that a long queue does not keep the worker from checking for shutdown.
const MAX_PER_PASS: usize = 50;

/// Wait before the next attempt after `attempts` failed ones: 1, 2, 4, … minutes, at most an hour.
pub fn retry_delay(attempts: i64) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 6);
    Duration::minutes((1i64 << exponent).min(60))
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed transiently; scheduled again.
    pub retried: usize,
    /// Given up for good (permanent error, or [`MAX_ATTEMPTS`] reached).
    pub failed: usize,
}

impl DeliveryReport {
    pub fn attempted(&self) -> usize {
        self.sent + self.retried + self.failed
    }
}

/// Registers the counters' help texts; call once after the metrics recorder is installed.
pub fn describe_metrics() {
    metrics::describe_counter!("mail_sent_total", "e-mails accepted by the SMTP server");
    metrics::describe_counter!(
        "mail_retry_total",
        "e-mail attempts that failed transiently and were scheduled again"
    );
    metrics::describe_counter!(
        "mail_failed_total",
        "e-mails given up (permanent error or too many attempts)"
    );
}

/// One pass: sends the messages that are due (up to a batch) and records each outcome.
///
/// A transient failure ends the pass early: the next message would most likely meet the same
/// unreachable server, and its attempt would be spent for nothing.
pub async fn deliver_due(app: &App, mailer: &dyn Mailer) -> Result<DeliveryReport, AppError> {
    deliver(app, mailer, || false).await
}

async fn deliver<F: Fn() -> bool + Sync>(
    app: &App,
    mailer: &dyn Mailer,
    stop: F,
) -> Result<DeliveryReport, AppError> {
    let mut report = DeliveryReport::default();
    // One message per claim: a message is leased only while it is being sent, so one that waits
    // behind a slow server or an interrupted pass is not held back until its lease runs out.
    while report.attempted() < MAX_PER_PASS && !stop() {
        let Some(message) = app.store.claim_due(app.now(), LEASE, 1).await?.pop() else {
            break;
        };
        let result = attempt(app, mailer, &message).await;
        let now = app.now();
        let id = message.id.as_str();
        match result {
            Ok(()) => {
                app.store.outbox_sent(&message.tenant_key, id, now).await?;
                metrics::counter!("mail_sent_total").increment(1);
                tracing::info!(outbox_id = id, "e-mail sent");
                report.sent += 1;
            }
            Err(e) if e.is_permanent() || message.attempts >= MAX_ATTEMPTS => {
                app.store
                    .outbox_failed(&message.tenant_key, id, &e.to_string(), None, now)
                    .await?;
                metrics::counter!("mail_failed_total").increment(1);
                tracing::warn!(outbox_id = id, error = %e, attempts = message.attempts, "e-mail given up");
                report.failed += 1;
            }
            Err(e) => {
                let at = now + retry_delay(message.attempts);
                app.store
                    .outbox_failed(&message.tenant_key, id, &e.to_string(), Some(at), now)
                    .await?;
                metrics::counter!("mail_retry_total").increment(1);
                tracing::info!(outbox_id = id, error = %e, attempts = message.attempts, retry_at = %at, "e-mail not sent; will retry");
                report.retried += 1;
                break;
            }
        }
    }
    Ok(report)
}

async fn attempt(app: &App, mailer: &dyn Mailer, message: &Message) -> Result<(), MailError> {
    // The e-mail worker is the outbox's only consumer so far; a kind it cannot handle would
    // otherwise be claimed and retried forever.
    if message.kind != KIND {
        return Err(MailError::Permanent(Cause::Payload));
    }
    let email: Email = serde_json::from_value(message.payload.clone())
        .map_err(|_| MailError::Permanent(Cause::Payload))?;
    mailer
        .send(&Outgoing {
            outbox_id: message.id.clone(),
            date: app.now(),
            email,
        })
        .await
}

/// Wakes the worker so that it sends right away instead of at its next poll. Cheap to clone;
/// call [`MailWaker::wake`] after committing a transaction that queued e-mail. A wake while the
/// worker is busy is remembered and causes one more pass.
#[derive(Debug, Clone, Default)]
pub struct MailWaker(Arc<Notify>);

impl MailWaker {
    pub fn new() -> MailWaker {
        MailWaker::default()
    }

    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Runs passes until `shutdown` turns true (or its sender is dropped): every [`POLL_INTERVAL`]
/// and whenever woken. Shutdown is noticed between messages; a send under way is finished (it
/// is bounded by the mailer's timeout), so no message is left half-recorded.
pub async fn run_worker(
    app: App,
    mailer: Arc<dyn Mailer>,
    waker: MailWaker,
    mut shutdown: watch::Receiver<bool>,
) {
    tracing::info!("mail worker started");
    loop {
        if *shutdown.borrow() {
            break;
        }
        let pass = {
            let stop = || *shutdown.borrow();
            deliver(&app, mailer.as_ref(), stop).await
        };
        match pass {
            // More may be due: go on at once.
            Ok(r) if r.attempted() >= MAX_PER_PASS => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "mail delivery pass failed"),
        }
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = waker.0.notified() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
    tracing::info!("mail worker stopped");
}

/// The running worker of `rathaus serve`.
pub struct MailWorker {
    /// Hand this to whoever commits e-mails (the web state).
    pub waker: MailWaker,
    /// `None` when no SMTP server is configured.
    pub handle: Option<JoinHandle<()>>,
}

/// Starts the worker as the configuration asks: with `smtp_url` set, a task sending through it;
/// without, none (e-mails stay in the outbox, and a warning says so once).
pub fn spawn_worker(app: &App, shutdown: watch::Receiver<bool>) -> Result<MailWorker, AppError> {
    let waker = app.mail.clone();
    let handle = match &app.config.smtp_url {
        Some(url) => {
            let mailer = SmtpMailer::new(url, &app.config.mail_from)?;
            tracing::info!(server = %url, "sending e-mail through SMTP");
            Some(tokio::spawn(run_worker(
                app.clone(),
                Arc::new(mailer),
                waker.clone(),
                shutdown,
            )))
        }
        None => {
            tracing::warn!(
                "no smtp_url configured: e-mails are kept in the outbox and sent once one is"
            );
            None
        }
    };
    Ok(MailWorker { waker, handle })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_an_hour() {
        let minutes: Vec<i64> = (1..=MAX_ATTEMPTS)
            .map(|a| retry_delay(a).whole_minutes())
            .collect();
        assert_eq!(minutes, vec![1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(retry_delay(0).whole_minutes(), 1);
        assert_eq!(retry_delay(i64::MAX).whole_minutes(), 60);
    }
}

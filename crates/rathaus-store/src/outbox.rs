//! The outbox: messages to send after a commit, queued in the same transaction as the change that
//! causes them, delivered by a background worker with retries. Delivery is at least once: a
//! worker that dies while sending lets another take the message over when its lease runs out.

use serde_json::Value;
use time::{Duration, OffsetDateTime};

use crate::cases::found;
use crate::db::{Dialect, Tx};
use crate::keyring::Place;
use crate::{Store, StoreError, args};

pub struct NewMessage<'a> {
    pub id: &'a str,
    pub tenant_key: &'a str,
    pub case_id: Option<&'a str>,
    pub kind: &'a str,
    pub payload: &'a Value,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub tenant_key: String,
    pub case_id: Option<String>,
    pub kind: String,
    pub payload: Value,
    pub attempts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

fn place(id: &str) -> Place<'_> {
    Place {
        table: "outbox",
        record: id,
        field: "payload",
    }
}

impl Store {
    pub async fn enqueue(&self, tx: &mut Tx, m: &NewMessage<'_>) -> Result<(), StoreError> {
        let sealed = self
            .seal(m.tenant_key, place(m.id), m.payload.to_string().as_bytes())
            .await?;
        let now = crate::now_ms(m.now);
        tx.execute(
            "INSERT INTO outbox (id, tenant_key, case_id, kind, payload, status, attempts, next_attempt_at, last_error, created_at, done_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, NULL, $6, NULL)",
            args![m.id, m.tenant_key, m.case_id, m.kind, sealed, now],
        )
        .await?;
        Ok(())
    }

    /// Takes up to `limit` due messages of any tenant (the delivery worker serves the whole
    /// installation) and leases them for `lease`, so that no other worker sends them meanwhile.
    pub async fn claim_due(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Message>, StoreError> {
        let mut tx = self.begin().await?;
        let sql: &'static str = match tx.dialect() {
            Dialect::Sqlite => {
                "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2"
            }
            Dialect::Postgres => {
                "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2
                 FOR UPDATE SKIP LOCKED"
            }
        };
        let ids: Vec<String> = tx
            .fetch_all(sql, args![crate::now_ms(now), limit])
            .await?
            .iter()
            .map(|r| r.text("id"))
            .collect::<Result<_, _>>()?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            let row = tx
                .fetch_one(
                    "UPDATE outbox SET next_attempt_at = $2, attempts = attempts + 1 WHERE id = $1
                     RETURNING id, tenant_key, case_id, kind, payload, attempts",
                    args![id.clone(), crate::now_ms(now + lease)],
                )
                .await?;
            claimed.push(row);
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(claimed.len());
        for row in claimed {
            let id = row.text("id")?;
            let tenant_key = row.text("tenant_key")?;
            let plain = self
                .open(&tenant_key, place(&id), &row.bytes("payload")?)
                .await?;
            out.push(Message {
                payload: serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Decode(e.to_string()))?,
                case_id: row.opt_text("case_id")?,
                kind: row.text("kind")?,
                attempts: row.i64("attempts")?,
                id,
                tenant_key,
            });
        }
        Ok(out)
    }

    /// Marks a message of the tenant as sent.
    pub async fn outbox_sent(
        &self,
        tenant_key: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let n = tx
            .execute(
                "UPDATE outbox SET status = 'sent', done_at = $2, last_error = NULL WHERE id = $1 AND tenant_key = $3",
                args![id, crate::now_ms(now), tenant_key],
            )
            .await?;
        found(n)?;
        tx.commit().await
    }

    /// Records a failed attempt at a message of the tenant: retried at `retry_at`, or given up for
    /// good when `None`.
    pub async fn outbox_failed(
        &self,
        tenant_key: &str,
        id: &str,
        error: &str,
        retry_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let n = match retry_at {
            Some(at) => {
                tx.execute(
                    "UPDATE outbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1 AND tenant_key = $4",
                    args![id, crate::now_ms(at), error, tenant_key],
                )
                .await?
            }
            None => {
                tx.execute(
                    "UPDATE outbox SET status = 'failed', done_at = $2, last_error = $3 WHERE id = $1 AND tenant_key = $4",
                    args![id, crate::now_ms(now), error, tenant_key],
                )
                .await?
            }
        };
        found(n)?;
        tx.commit().await
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
                        COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) AS sent,
                        COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS failed
                 FROM outbox",
                vec![],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(OutboxCounts {
            pending: row.i64("pending")?,
            sent: row.i64("sent")?,
            failed: row.i64("failed")?,
        })
    }
}

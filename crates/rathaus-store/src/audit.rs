//! The append-only, hash-chained audit log.

use rathaus_crypto::audit::{AuditRecord, ChainBreak, ChainVerifier, StoredEntry};
use time::OffsetDateTime;

use crate::db::{AuditHead, Row, Tx};
use crate::{Store, StoreError, args};

/// What happened, by whom, to what. Never personal data: objects are named by reference numbers
/// or ids, actors by account ids.
#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub at: OffsetDateTime,
    pub actor: &'a str,
    pub tenant: Option<&'a str>,
    pub action: &'a str,
    pub object: &'a str,
    pub outcome: &'a str,
}

/// Appends an entry inside the caller's transaction, so the entry exists exactly when the change
/// it records does.
///
/// The chain is one sequence for the installation. On SQLite, whose writes are grouped into
/// batches on one connection, the batch keeps the chain's head in memory: it is read once when
/// the batch starts and written once before it commits, so an entry costs a single insert and the
/// head is no point of contention. On PostgreSQL the head row is locked, which orders concurrent
/// writers into one chain.
pub async fn append(tx: &mut Tx, entry: &NewAuditEntry<'_>) -> Result<i64, StoreError> {
    let head = match tx.audit_head() {
        Some(h) => h,
        None => {
            let sql: &'static str = match tx.dialect() {
                crate::Dialect::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
                crate::Dialect::Postgres => {
                    "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
                }
            };
            let row = tx.fetch_one(sql, vec![]).await?;
            AuditHead {
                seq: row.i64("seq")?,
                hash: row.bytes("hash")?.try_into().map_err(|_| {
                    StoreError::Decode("audit head hash has the wrong length".into())
                })?,
            }
        }
    };
    let prev = head.hash;
    let record = AuditRecord {
        seq: head.seq + 1,
        at_ms: crate::now_ms(entry.at),
        actor: entry.actor.to_owned(),
        tenant: entry.tenant.map(str::to_owned),
        action: entry.action.to_owned(),
        object: entry.object.to_owned(),
        outcome: entry.outcome.to_owned(),
    };
    let hash = record.chain_hash(&prev);
    tx.execute(
        "INSERT INTO audit_log (seq, at_ms, actor, tenant, action, object, outcome, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        args![
            record.seq,
            record.at_ms,
            record.actor,
            record.tenant,
            record.action,
            record.object,
            record.outcome,
            prev.to_vec(),
            hash.to_vec()
        ],
    )
    .await?;
    let moved = AuditHead {
        seq: record.seq,
        hash,
    };
    if !tx.defer_audit_head(moved) {
        tx.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            args![record.seq, hash.to_vec()],
        )
        .await?;
    }
    Ok(record.seq)
}

fn record(row: &Row) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: row.i64("seq")?,
        at_ms: row.i64("at_ms")?,
        actor: row.text("actor")?,
        tenant: row.opt_text("tenant")?,
        action: row.text("action")?,
        object: row.text("object")?,
        outcome: row.text("outcome")?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    Intact { entries: u64 },
    Broken(ChainBreak),
}

impl Store {
    /// Recomputes the whole chain in pages, then checks that the head points at its end (which
    /// catches entries cut off the tail).
    pub async fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        const PAGE: i64 = 5_000;
        let mut verifier = ChainVerifier::default();
        let mut after = 0_i64;
        loop {
            let rows = self
                .pool()
                .fetch_all(
                    "SELECT seq, at_ms, actor, tenant, action, object, outcome, prev_hash, hash
                     FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                    args![after, PAGE],
                )
                .await?;
            let n = rows.len();
            for row in &rows {
                let entry = StoredEntry {
                    record: record(row)?,
                    prev_hash: row.bytes("prev_hash")?,
                    hash: row.bytes("hash")?,
                };
                if let Err(b) = verifier.check(&entry) {
                    return Ok(AuditVerdict::Broken(b));
                }
                after = entry.record.seq;
            }
            if (n as i64) < PAGE {
                break;
            }
        }
        let head = self
            .pool()
            .fetch_optional("SELECT seq, hash FROM audit_head WHERE id = 1", vec![])
            .await?;
        let (head_seq, head_hash) = match head {
            Some(h) => (h.i64("seq")?, h.bytes("hash")?),
            None => (-1, Vec::new()),
        };
        if head_seq != verifier.last_seq()
            || head_hash.as_slice() != verifier.last_hash().as_slice()
        {
            return Ok(AuditVerdict::Broken(ChainBreak {
                seq: verifier.last_seq() + 1,
                reason: format!(
                    "the log ends at entry {} but its head records entry {head_seq}: entries were removed from the end",
                    verifier.last_seq()
                ),
            }));
        }
        Ok(AuditVerdict::Intact {
            entries: verifier.count(),
        })
    }

    /// The chain's head as recorded (sequence number and hash of the newest entry); sequence
    /// number 0 and the genesis hash while the log is empty.
    pub async fn audit_head(&self) -> Result<(i64, Vec<u8>), StoreError> {
        let row = self
            .pool()
            .fetch_optional("SELECT seq, hash FROM audit_head WHERE id = 1", vec![])
            .await?;
        match row {
            Some(r) => Ok((r.i64("seq")?, r.bytes("hash")?)),
            None => Ok((0, rathaus_crypto::audit::GENESIS.to_vec())),
        }
    }

    /// The stored hash of entry `seq`, if the log holds it.
    pub async fn audit_entry_hash(&self, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self
            .pool()
            .fetch_optional("SELECT hash FROM audit_log WHERE seq = $1", args![seq])
            .await?;
        row.map(|r| r.bytes("hash")).transpose()
    }

    /// The newest entries about the given tenants (an Amt's auditor: the Amt and its members),
    /// optionally about one object, newest first. No tenants, no entries.
    pub async fn audit_entries(
        &self,
        tenant_keys: &[String],
        object: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        if tenant_keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut args = args![object, limit];
        let mut placeholders = Vec::with_capacity(tenant_keys.len());
        for t in tenant_keys {
            args.push(t.into());
            placeholders.push(format!("${}", args.len()));
        }
        let sql = format!(
            "SELECT seq, at_ms, actor, tenant, action, object, outcome FROM audit_log
             WHERE tenant IN ({}) AND ($1 IS NULL OR object = $1)
             ORDER BY seq DESC LIMIT $2",
            placeholders.join(", ")
        );
        let rows = self
            .pool()
            .fetch_all(sqlx::AssertSqlSafe(sql), args)
            .await?;
        rows.iter().map(record).collect()
    }

    /// Up to `limit` entries about the tenant made from `from_ms` up to, not including, `to_ms`
    /// (ms since the epoch), after entry `after_seq`, oldest first: a window of the log read a
    /// page at a time.
    pub async fn audit_entries_between(
        &self,
        tenant_key: &str,
        from_ms: i64,
        to_ms: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT seq, at_ms, actor, tenant, action, object, outcome FROM audit_log
                 WHERE tenant = $1 AND at_ms >= $2 AND at_ms < $3 AND seq > $4
                 ORDER BY seq LIMIT $5",
                args![tenant_key, from_ms, to_ms, after_seq, limit],
            )
            .await?;
        rows.iter().map(record).collect()
    }

    /// The newest entries of the whole installation, of every tenant and of none, optionally
    /// about one object, newest first: the operator's and the command line's view.
    pub async fn installation_audit_entries(
        &self,
        object: Option<&str>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT seq, at_ms, actor, tenant, action, object, outcome FROM audit_log
                 WHERE ($1 IS NULL OR object = $1)
                 ORDER BY seq DESC LIMIT $2",
                args![object, limit],
            )
            .await?;
        rows.iter().map(record).collect()
    }
}

//! Idempotency keys of the submission API: which case a client's key made, so that a request
//! retried with the same key is answered with that case rather than making a second one.
//!
//! The key is found by its hash within one tenant and service. What must not lie in clear (the
//! status-page secret of the case, and the hash of the body, which fingerprints personal data) is
//! sealed in the row's receipt.

use data_encoding::HEXLOWER;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::db::Tx;
use crate::keyring::Place;
use crate::{Store, StoreError, args};

pub struct NewSubmissionKey<'a> {
    pub tenant_key: &'a str,
    pub service_id: &'a str,
    /// SHA-256 of the client's key.
    pub key_hash: &'a [u8],
    /// The hash of the request, to tell a retry from another request that reuses the key.
    pub body_hash: &'a [u8],
    pub case_id: &'a str,
    pub reference: &'a str,
    pub status_token: &'a str,
    pub now: OffsetDateTime,
}

/// The case a key made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionKey {
    pub case_id: String,
    pub reference: String,
    pub body_hash: Vec<u8>,
    pub status_token: String,
    pub created_at_ms: i64,
}

/// The receipt is bound to its row (tenant, service and key), so it cannot be moved to another.
fn record(service_id: &str, key_hash: &[u8]) -> String {
    format!("{service_id}:{}", HEXLOWER.encode(key_hash))
}

fn place(record: &str) -> Place<'_> {
    Place {
        table: "submission_key",
        record,
        field: "receipt",
    }
}

impl Store {
    /// Records the key of a case being made, in the transaction that makes it. False when the
    /// tenant's service has this key already (an earlier request, or a concurrent one that
    /// committed first): the caller rolls back and answers with the case that key made.
    pub async fn claim_submission_key(
        &self,
        tx: &mut Tx,
        k: &NewSubmissionKey<'_>,
    ) -> Result<bool, StoreError> {
        let receipt = json!({
            "body_hash": HEXLOWER.encode(k.body_hash),
            "status_token": k.status_token,
        });
        let record = record(k.service_id, k.key_hash);
        let sealed = self
            .seal(k.tenant_key, place(&record), receipt.to_string().as_bytes())
            .await?;
        // DO NOTHING rather than an error: on PostgreSQL the loser waits for the winner's commit
        // and its transaction stays usable.
        let n = tx
            .execute(
                "INSERT INTO submission_keys (tenant_key, service_id, key_hash, case_id, reference, receipt, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (tenant_key, service_id, key_hash) DO NOTHING",
                args![
                    k.tenant_key,
                    k.service_id,
                    k.key_hash,
                    k.case_id,
                    k.reference,
                    sealed,
                    crate::now_ms(k.now)
                ],
            )
            .await?;
        Ok(n > 0)
    }

    /// The case made with a key in this tenant's service, if the key is still kept.
    pub async fn submission_key(
        &self,
        tenant_key: &str,
        service_id: &str,
        key_hash: &[u8],
    ) -> Result<Option<SubmissionKey>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT case_id, reference, receipt, created_at FROM submission_keys
                 WHERE tenant_key = $1 AND service_id = $2 AND key_hash = $3",
                args![tenant_key, service_id, key_hash],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let record = record(service_id, key_hash);
        let plain = self
            .open(tenant_key, place(&record), &row.bytes("receipt")?)
            .await?;
        let receipt: Value =
            serde_json::from_slice(&plain).map_err(|e| StoreError::Decode(e.to_string()))?;
        let field = |name: &str| {
            receipt
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| StoreError::Decode(format!("submission key receipt without {name}")))
        };
        let body_hash = HEXLOWER
            .decode(field("body_hash")?.as_bytes())
            .map_err(|e| StoreError::Decode(e.to_string()))?;
        Ok(Some(SubmissionKey {
            case_id: row.text("case_id")?,
            reference: row.text("reference")?,
            body_hash,
            status_token: field("status_token")?,
            created_at_ms: row.i64("created_at")?,
        }))
    }
}

/// Deletes the keys of all tenants recorded before `before` (the installation's housekeeping);
/// returns how many.
pub async fn delete_expired_submission_keys(
    tx: &mut Tx,
    before: OffsetDateTime,
) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM submission_keys WHERE created_at < $1",
        args![crate::now_ms(before)],
    )
    .await
}

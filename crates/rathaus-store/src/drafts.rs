//! Drafts: applications being filled in, found by the hash of their secret token.

use serde_json::Value;
use time::OffsetDateTime;

use crate::db::Tx;
use crate::keyring::Place;
use crate::{Store, StoreError, args};

#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub id: String,
    pub tenant_key: String,
    pub service_id: String,
    pub service_version: i64,
    pub data: Value,
    /// Where the citizen was (an opaque string the application layer understands).
    pub position: String,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub expires_at_ms: i64,
    /// The case made from this draft, once submitted.
    pub submitted_case: Option<String>,
}

pub struct NewDraft<'a> {
    pub id: &'a str,
    pub tenant_key: &'a str,
    pub service_id: &'a str,
    pub service_version: i64,
    pub token_hash: &'a [u8],
    pub data: &'a Value,
    pub position: &'a str,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub struct DraftUpdate<'a> {
    pub data: &'a Value,
    pub position: &'a str,
    pub now: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

fn place(id: &str) -> Place<'_> {
    Place {
        table: "draft",
        record: id,
        field: "data",
    }
}

impl Store {
    pub async fn create_draft(&self, tx: &mut Tx, d: &NewDraft<'_>) -> Result<(), StoreError> {
        let sealed = self
            .seal(d.tenant_key, place(d.id), d.data.to_string().as_bytes())
            .await?;
        let now = crate::now_ms(d.now);
        tx.execute(
            "INSERT INTO drafts (id, tenant_key, service_id, service_version, token_hash, data, position,
                 created_at, updated_at, expires_at, submitted_case)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, NULL)",
            args![d.id, d.tenant_key, d.service_id, d.service_version, d.token_hash, sealed, d.position, now, crate::now_ms(d.expires_at)],
        )
        .await?;
        Ok(())
    }

    /// The draft of this tenant and service behind a token; expired drafts are not returned.
    pub async fn draft_by_token(
        &self,
        tenant_key: &str,
        service_id: &str,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<Draft>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT id, tenant_key, service_id, service_version, data, position, created_at, updated_at, expires_at, submitted_case
                 FROM drafts WHERE token_hash = $1 AND tenant_key = $2 AND service_id = $3 AND expires_at > $4",
                args![token_hash, tenant_key, service_id, crate::now_ms(now)],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let id = row.text("id")?;
        let plain = self
            .open(tenant_key, place(&id), &row.bytes("data")?)
            .await?;
        let data = serde_json::from_slice(&plain).map_err(|e| StoreError::Decode(e.to_string()))?;
        Ok(Some(Draft {
            tenant_key: row.text("tenant_key")?,
            service_id: row.text("service_id")?,
            service_version: row.i64("service_version")?,
            data,
            position: row.text("position")?,
            created_at_ms: row.i64("created_at")?,
            updated_at_ms: row.i64("updated_at")?,
            expires_at_ms: row.i64("expires_at")?,
            submitted_case: row.opt_text("submitted_case")?,
            id,
        }))
    }

    /// Saves new answers. Fails with `NotFound` when the draft was submitted meanwhile, so that a
    /// late step post cannot change what has already been handed in.
    pub async fn update_draft(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        id: &str,
        u: &DraftUpdate<'_>,
    ) -> Result<(), StoreError> {
        let (position, now, expires_at) = (u.position, u.now, u.expires_at);
        let sealed = self
            .seal(tenant_key, place(id), u.data.to_string().as_bytes())
            .await?;
        let n = tx
            .execute(
                "UPDATE drafts SET data = $3, position = $4, updated_at = $5, expires_at = $6
                 WHERE id = $1 AND tenant_key = $2 AND submitted_case IS NULL",
                args![
                    id,
                    tenant_key,
                    sealed,
                    position,
                    crate::now_ms(now),
                    crate::now_ms(expires_at)
                ],
            )
            .await?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Marks the draft as submitted and replaces its data by `receipt` (what is needed to show the
    /// confirmation again; the answers now live in the case). Returns false when it had already
    /// been submitted: the caller lost a race with a double click.
    pub async fn close_draft(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        id: &str,
        case_id: &str,
        receipt: &Value,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .seal(tenant_key, place(id), receipt.to_string().as_bytes())
            .await?;
        let n = tx
            .execute(
                "UPDATE drafts SET submitted_case = $3, data = $4, updated_at = $5
                 WHERE id = $1 AND tenant_key = $2 AND submitted_case IS NULL",
                args![id, tenant_key, case_id, sealed, crate::now_ms(now)],
            )
            .await?;
        Ok(n > 0)
    }
}

impl Store {
    /// Replaces the draft's secret token. Only the holder of `old_hash` can do it, and only once:
    /// false when another request rotated it first.
    pub async fn rotate_draft_token(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        id: &str,
        old_hash: &[u8],
        new_hash: &[u8],
    ) -> Result<bool, StoreError> {
        let n = tx
            .execute(
                "UPDATE drafts SET token_hash = $4 WHERE id = $1 AND tenant_key = $2 AND token_hash = $3",
                args![id, tenant_key, old_hash, new_hash],
            )
            .await?;
        Ok(n > 0)
    }
}

/// Deletes drafts past their expiry, with their attachments' rows, in all tenants (the
/// installation's housekeeping); returns the tenant and blob key of each file to delete.
pub async fn delete_expired_drafts(
    tx: &mut Tx,
    now: OffsetDateTime,
) -> Result<(u64, Vec<(String, String)>), StoreError> {
    let now = crate::now_ms(now);
    let blobs = tx
        .fetch_all(
            "SELECT a.tenant_key, a.blob_key FROM attachments a
             JOIN drafts d ON a.draft_id = d.id AND a.tenant_key = d.tenant_key
             WHERE d.expires_at <= $1 AND a.case_id IS NULL",
            args![now],
        )
        .await?
        .iter()
        .map(|r| Ok((r.text("tenant_key")?, r.text("blob_key")?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    tx.execute(
        "DELETE FROM attachments WHERE case_id IS NULL AND EXISTS (
             SELECT 1 FROM drafts d WHERE d.id = attachments.draft_id AND d.tenant_key = attachments.tenant_key AND d.expires_at <= $1)",
        args![now],
    )
    .await?;
    let n = tx
        .execute("DELETE FROM drafts WHERE expires_at <= $1", args![now])
        .await?;
    Ok((n, blobs))
}

//! Attachments of drafts and cases. Metadata in the database, sealed content in the blob store.

use time::OffsetDateTime;

use crate::cases::found;
use crate::db::{Row, Tx};
use crate::keyring::Place;
use crate::{Store, StoreError, args};

pub struct NewAttachment<'a> {
    pub id: &'a str,
    pub tenant_key: &'a str,
    pub draft_id: &'a str,
    pub field: &'a str,
    /// The sniffed kind ("pdf", "jpeg", "png").
    pub kind: &'a str,
    pub name: &'a str,
    pub content: &'a [u8],
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub tenant_key: String,
    pub draft_id: Option<String>,
    pub case_id: Option<String>,
    pub field: String,
    pub kind: String,
    pub size: i64,
    pub name: String,
    pub blob_key: String,
}

fn name_place(id: &str) -> Place<'_> {
    Place {
        table: "attachment",
        record: id,
        field: "name",
    }
}

fn content_place(id: &str) -> Place<'_> {
    Place {
        table: "attachment",
        record: id,
        field: "content",
    }
}

impl Store {
    /// Records a file of a draft of the tenant (`NotFound` otherwise) in the caller's transaction,
    /// then stores the sealed content. Should storing fail, the caller's transaction fails with it;
    /// should the transaction fail later, an unreadable orphan remains in the blob store, never a
    /// row without content.
    pub async fn put_attachment(
        &self,
        tx: &mut Tx,
        a: &NewAttachment<'_>,
    ) -> Result<(), StoreError> {
        let blobs = self.blobs()?;
        let blob_key = format!("{}/{}", a.tenant_key, a.id);
        let sealed = self
            .seal(a.tenant_key, content_place(a.id), a.content)
            .await?;
        let name = self
            .seal(a.tenant_key, name_place(a.id), a.name.as_bytes())
            .await?;
        let n = tx
            .execute(
                "INSERT INTO attachments (id, tenant_key, draft_id, case_id, field, kind, size, name, blob_key, created_at)
                 SELECT $1, d.tenant_key, d.id, NULL, $4, $5, $6, $7, $8, $9 FROM drafts d WHERE d.id = $3 AND d.tenant_key = $2",
                args![a.id, a.tenant_key, a.draft_id, a.field, a.kind, a.content.len() as i64, name, &blob_key, crate::now_ms(a.now)],
            )
            .await?;
        found(n)?;
        blobs.put(&blob_key, sealed).await
    }

    async fn attachment_from_row(&self, row: &Row) -> Result<Attachment, StoreError> {
        let id = row.text("id")?;
        let tenant_key = row.text("tenant_key")?;
        let name = self
            .open(&tenant_key, name_place(&id), &row.bytes("name")?)
            .await?;
        Ok(Attachment {
            name: String::from_utf8(name).map_err(|e| StoreError::Decode(e.to_string()))?,
            draft_id: row.opt_text("draft_id")?,
            case_id: row.opt_text("case_id")?,
            field: row.text("field")?,
            kind: row.text("kind")?,
            size: row.i64("size")?,
            blob_key: row.text("blob_key")?,
            id,
            tenant_key,
        })
    }

    pub async fn draft_attachments(
        &self,
        tenant_key: &str,
        draft_id: &str,
    ) -> Result<Vec<Attachment>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT id, tenant_key, draft_id, case_id, field, kind, size, name, blob_key FROM attachments
                 WHERE tenant_key = $1 AND draft_id = $2 ORDER BY created_at, id",
                args![tenant_key, draft_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.attachment_from_row(r).await?);
        }
        Ok(out)
    }

    pub async fn case_attachments(
        &self,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Vec<Attachment>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT id, tenant_key, draft_id, case_id, field, kind, size, name, blob_key FROM attachments
                 WHERE tenant_key = $1 AND case_id = $2 ORDER BY created_at, id",
                args![tenant_key, case_id],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.attachment_from_row(r).await?);
        }
        Ok(out)
    }

    /// The decrypted content of one of the tenant's attachments.
    pub async fn attachment_content(
        &self,
        tenant_key: &str,
        id: &str,
    ) -> Result<Vec<u8>, StoreError> {
        self.sealed_file(
            crate::blobs::FileTable::Attachments,
            tenant_key,
            id,
            content_place(id),
        )
        .await
    }

    /// Removes an attachment of a draft; returns the blob key to delete after commit.
    pub async fn remove_draft_attachment(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        draft_id: &str,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT blob_key FROM attachments WHERE id = $1 AND tenant_key = $2 AND draft_id = $3 AND case_id IS NULL",
                args![id, tenant_key, draft_id],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        tx.execute(
            "DELETE FROM attachments WHERE id = $1 AND tenant_key = $2",
            args![id, tenant_key],
        )
        .await?;
        Ok(Some(row.text("blob_key")?))
    }

    /// Hands the attachments of a draft of the tenant over to the case made from it, which must be
    /// the tenant's too; returns how many were handed over.
    pub async fn attach_to_case(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        draft_id: &str,
        case_id: &str,
    ) -> Result<u64, StoreError> {
        tx.execute(
            "UPDATE attachments SET case_id = $3 WHERE tenant_key = $1 AND draft_id = $2 AND case_id IS NULL
               AND EXISTS (SELECT 1 FROM cases c WHERE c.id = $3 AND c.tenant_key = $1)",
            args![tenant_key, draft_id, case_id],
        )
        .await
    }

    /// Deletes the content of one of the tenant's files once its row is gone (see
    /// [`Store::remove_draft_attachment`]); keys outside the tenant's part of the blob store are
    /// not found.
    pub async fn delete_blob(&self, tenant_key: &str, key: &str) -> Result<(), StoreError> {
        // Every file of a tenant lies under its key (see the writers above).
        let own = key
            .strip_prefix(tenant_key)
            .is_some_and(|rest| rest.starts_with('/'));
        if !own {
            return Err(StoreError::NotFound);
        }
        self.blobs()?.delete(key).await
    }
}

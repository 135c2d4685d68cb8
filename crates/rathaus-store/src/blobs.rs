//! File contents (attachments, later generated notices) in an object store: the local
//! filesystem by default, an S3-compatible store when configured. Contents are sealed before
//! they leave the process, like every other piece of personal data.

use std::path::Path;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::StoreError;

#[derive(Clone)]
pub struct Blobs {
    inner: Arc<dyn ObjectStore>,
}

fn io(e: object_store::Error) -> StoreError {
    StoreError::Unavailable(format!("blob store: {e}"))
}

impl Blobs {
    pub fn local(dir: &Path) -> Result<Blobs, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
        })?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(io)?;
        Ok(Blobs {
            inner: Arc::new(fs),
        })
    }

    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map(|_| ())
            .map_err(io)
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let r = self
            .inner
            .get(&ObjectPath::from(key))
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => StoreError::NotFound,
                other => io(other),
            })?;
        Ok(r.bytes().await.map_err(io)?.to_vec())
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io(e)),
        }
    }
}

impl crate::Store {
    /// A municipality's logo or coat of arms: public, so stored as is.
    pub async fn put_logo(&self, tenant_key: &str, png: Vec<u8>) -> Result<String, StoreError> {
        let key = format!("{tenant_key}/public/logo.png");
        self.blobs()?.put(&key, png).await?;
        Ok(key)
    }

    pub async fn public_blob(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if !key.contains("/public/") {
            return Ok(None);
        }
        match self.blobs()?.get(key).await {
            Ok(b) => Ok(Some(b)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl crate::Store {
    /// The decrypted content of a file whose blob key stands in `table`'s row `id` of the
    /// tenant; `NotFound` when the row is another tenant's or missing.
    pub(crate) async fn sealed_file(
        &self,
        table: FileTable,
        tenant_key: &str,
        id: &str,
        place: crate::keyring::Place<'_>,
    ) -> Result<Vec<u8>, StoreError> {
        let sql = match table {
            FileTable::Attachments => {
                "SELECT blob_key FROM attachments WHERE id = $1 AND tenant_key = $2"
            }
            FileTable::CaseDocuments => {
                "SELECT blob_key FROM case_documents WHERE id = $1 AND tenant_key = $2"
            }
        };
        let row = self
            .pool()
            .fetch_optional(sql, crate::args![id, tenant_key])
            .await?
            .ok_or(StoreError::NotFound)?;
        let sealed = self.blobs()?.get(&row.text("blob_key")?).await?;
        self.open(tenant_key, place, &sealed).await
    }
}

/// The tables whose rows name a file in the blob store.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FileTable {
    Attachments,
    CaseDocuments,
}

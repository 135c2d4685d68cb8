//! Uploaded files on their way in: received into a temporary file in the data directory rather
//! than into memory, scanned for malware, then checked and cleaned a few at a time.
//!
//! However many citizens upload at once, memory holds at most [`CHECKS_AT_ONCE`] files; the
//! number of uploads being received is bounded by the web layer (`uploads_in_flight`). A staged
//! file is deleted when it is dropped, on success and on every error path alike; files left by a
//! crash are swept by the server's housekeeping.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use crate::App;
use crate::clamd::{Clamd, Verdict};

/// Directory under `data_dir` for uploads being received.
pub const STAGING_DIR: &str = "uploads-tmp";

/// Files read into memory for checking and cleaning at the same time.
pub const CHECKS_AT_ONCE: usize = 4;

/// An upload being written to its temporary file.
pub struct StagingFile {
    field: String,
    file_name: String,
    file: tokio::fs::File,
    path: TempPath,
    len: u64,
}

impl StagingFile {
    pub async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk).await?;
        self.len += u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        Ok(())
    }

    pub async fn finish(mut self) -> io::Result<StagedFile> {
        self.file.flush().await?;
        Ok(StagedFile {
            field: self.field,
            file_name: self.file_name,
            path: self.path,
            len: self.len,
        })
    }
}

/// A received upload in its temporary file; the file goes when this is dropped.
pub struct StagedFile {
    /// The form field it was posted in.
    pub field: String,
    /// The name the browser gave it (chosen by the uploader; only shown, never trusted).
    pub file_name: String,
    path: TempPath,
    len: u64,
}

impl StagedFile {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for StagedFile {
    // The file name may be personal ("Attest Erika Mustermann.pdf").
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedFile")
            .field("field", &self.field)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Why an upload was not accepted before its content was even looked at.
#[derive(Debug)]
pub(crate) enum ScanRefusal {
    Infected(String),
    Unavailable,
}

impl App {
    pub fn staging_dir(&self) -> PathBuf {
        self.config.data_dir.join(STAGING_DIR)
    }

    /// A new temporary file (mode 0600) for an upload in form field `field`.
    pub async fn stage_upload(&self, field: &str, file_name: &str) -> io::Result<StagingFile> {
        let dir = self.staging_dir();
        let file = tokio::task::spawn_blocking(move || {
            create_private_dir(&dir)?;
            tempfile::Builder::new().prefix("upload-").tempfile_in(&dir)
        })
        .await
        .map_err(io::Error::other)??;
        let (file, path) = file.into_parts();
        Ok(StagingFile {
            field: field.to_owned(),
            file_name: file_name.to_owned(),
            file: tokio::fs::File::from_std(file),
            path,
            len: 0,
        })
    }

    /// Stages bytes already in memory (files made by the platform itself, tests).
    pub async fn stage_bytes(
        &self,
        field: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> io::Result<StagedFile> {
        let mut f = self.stage_upload(field, file_name).await?;
        f.write(bytes).await?;
        f.finish().await
    }

    /// Deletes staged files older than `age`: those of requests that died with the process.
    pub async fn sweep_staged_uploads(&self, age: Duration) -> io::Result<usize> {
        let dir = self.staging_dir();
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            };
            let cutoff = SystemTime::now() - age;
            let mut removed = 0;
            for entry in entries.flatten() {
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < cutoff);
                if stale && std::fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(io::Error::other)?
    }

    /// Scans a staged file with clamd when one is configured. Unreachable or failing clamd
    /// refuses the upload: nothing unscanned reaches the office.
    pub(crate) async fn scan_upload(&self, file: &StagedFile) -> Result<(), ScanRefusal> {
        let Some(url) = self.config.clamd_url.clone() else {
            return Ok(());
        };
        match Clamd::new(url).scan_file(file.path()).await {
            Ok(Verdict::Clean) => Ok(()),
            Ok(Verdict::Infected(signature)) => {
                tracing::warn!(signature = %signature, "upload refused: malware found");
                Err(ScanRefusal::Infected(signature))
            }
            Err(e) => {
                tracing::error!(error = %e, "upload refused: the virus scanner is unavailable");
                Err(ScanRefusal::Unavailable)
            }
        }
    }

    /// Reads a staged file into memory, at most [`CHECKS_AT_ONCE`] at a time across the process.
    pub(crate) async fn read_staged(
        &self,
        file: &StagedFile,
    ) -> Result<(tokio::sync::OwnedSemaphorePermit, Vec<u8>), crate::AppError> {
        let permit = self
            .upload_checks
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| crate::AppError::Internal(e.to_string()))?;
        let bytes = tokio::fs::read(file.path())
            .await
            .map_err(|e| crate::AppError::Internal(format!("reading a staged upload: {e}")))?;
        Ok((permit, bytes))
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

//! Storage of rathaus: the only crate that writes SQL.
//!
//! One [`Store`] serves both backends, chosen by the URL scheme: SQLite (`sqlite://…`, WAL,
//! synchronous=FULL, a single writer connection) for a small installation and PostgreSQL
//! (`postgres://…`) when one machine is not enough. Each backend has its own migrations under
//! `migrations/<backend>/`; the same contract tests run against both.
//!
//! Personal data crosses this boundary only sealed: [`keyring`] encrypts on the way in and
//! decrypts on the way out, under the tenant's data key.

pub mod attachments;
pub mod audit;
pub mod bank_changes;
pub mod blobs;
pub mod cases;
pub mod casework;
pub mod catalogue;
pub mod db;
pub mod dogtax;
pub mod dogtax_bulk;
pub mod dogtax_export;
pub mod dogtax_pages;
pub mod drafts;
pub mod keyring;
pub mod migrate;
pub mod outbox;
pub mod services;
mod sqlite;
pub mod staff;
pub mod submission_keys;
pub mod tenants;
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use rathaus_crypto::random::RandomSource;

pub use db::{Dialect, Row, Tx, Value};
pub use keyring::Keyring;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Unavailable(String),
    /// The write queue is full: the request was refused before anything was written. The
    /// caller should answer quickly (503 with `Retry-After`) rather than wait.
    #[error("the write queue is full")]
    Overloaded,
    #[error("database error: {0}")]
    Database(String),
    #[error("conflicts with existing data: {0}")]
    Conflict(String),
    #[error("not found")]
    NotFound,
    #[error("stored data could not be read: {0}")]
    Decode(String),
    #[error("{0}")]
    Migration(String),
    #[error("{0}")]
    Key(String),
    #[error(transparent)]
    Crypto(#[from] rathaus_crypto::CryptoError),
}

/// The storage of one installation.
#[derive(Clone)]
pub struct Store {
    pool: db::Pool,
    keyring: Arc<Keyring>,
    blobs: Option<blobs::Blobs>,
    catalogue: Arc<catalogue::Catalogue>,
}

impl Store {
    /// Connects without touching the schema. A database that cannot be reached gives one clear
    /// line in [`StoreError::Unavailable`].
    pub async fn connect(url: &str, rng: Arc<dyn RandomSource>) -> Result<Store, StoreError> {
        let pool = db::Pool::connect(url, Duration::from_secs(5)).await?;
        Ok(Store {
            pool,
            keyring: Arc::new(Keyring::new(rng)),
            blobs: None,
            catalogue: Arc::default(),
        })
    }

    /// Keeps file contents in this blob store.
    pub fn with_blobs(mut self, blobs: blobs::Blobs) -> Store {
        self.blobs = Some(blobs);
        self
    }

    pub(crate) fn blobs(&self) -> Result<&blobs::Blobs, StoreError> {
        self.blobs
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("no blob store configured".into()))
    }

    /// Bounds how many write transactions may wait for their turn; beyond it, writes are refused
    /// at once with [`StoreError::Overloaded`]. `0` means unbounded.
    pub fn set_write_queue_limit(&self, limit: usize) {
        self.pool.set_write_queue_limit(limit);
    }

    /// Write transactions waiting for their turn now (for metrics).
    pub fn write_queue_depth(&self) -> usize {
        self.pool.write_queue_depth()
    }

    /// Whether a write transaction begun now would be refused with [`StoreError::Overloaded`]:
    /// lets a request be turned away before any work is spent on it.
    pub fn write_queue_full(&self) -> bool {
        self.pool.write_queue_full()
    }

    /// Units of work and the commits that made them durable, since start, on SQLite's group
    /// commit (`None` on PostgreSQL). Units per commit is the batching factor.
    pub fn write_stats(&self) -> Option<(u64, u64)> {
        self.pool.write_stats()
    }

    pub fn dialect(&self) -> Dialect {
        self.pool.dialect()
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Starts a write transaction (on SQLite, waits for the single writer connection).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        self.pool.begin(false).await
    }

    /// A write transaction for bulk work (thousands of rows): on SQLite it has its batch to
    /// itself and runs without the savepoint that lets small units share a commit. Inside a
    /// savepoint, every statement's end walks SQLite's in-memory sub-journal of the whole
    /// transaction, which makes a large transaction quadratic. Rolled back alone when dropped.
    pub async fn begin_bulk(&self) -> Result<Tx, StoreError> {
        self.pool.begin(true).await
    }

    /// Cheap round trip for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.pool
            .fetch_optional("SELECT 1 AS one", vec![])
            .await
            .map(|_| ())
    }

    /// A value of the installation's settings table (operator name and the like).
    pub async fn installation_value(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = self
            .pool
            .fetch_optional("SELECT value FROM installation WHERE key = $1", args![key])
            .await?;
        row.map(|r| r.text("value")).transpose()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &db::Pool {
        &self.pool
    }
}

pub(crate) fn now_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

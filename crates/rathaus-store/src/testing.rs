//! Fresh, migrated, unlocked stores for tests of this and the upper crates.
//!
//! SQLite stores live in a temporary directory. PostgreSQL stores each get a schema of their own
//! in the server named by `RATHAUS_TEST_POSTGRES_URL` (`scripts/pg-test-cluster.sh` starts a
//! throwaway one). With `RATHAUS_TEST_REQUIRE_POSTGRES=1` a missing server is a failure rather than
//! a skip, so that CI cannot pass without having run against PostgreSQL.

use std::path::PathBuf;
use std::sync::Arc;

use rathaus_crypto::envelope::MasterKey;
use rathaus_crypto::random::{OsRandom, RandomSource};

use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestStore {
    pub store: Store,
    /// The URL the store was opened with, for tests that start a second process on it.
    pub url: String,
    /// Removed on drop.
    pub dir: TempDir,
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir, StoreError> {
        let id = rathaus_crypto::token::new_record_id(&OsRandom)?;
        let path = std::env::temp_dir().join(format!("rathaus-test-{id}"));
        std::fs::create_dir_all(&path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TempDir(path))
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The PostgreSQL server for tests, if one is configured.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("RATHAUS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() && std::env::var("RATHAUS_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") {
        // Tests only: CI sets this so that a missing server fails loudly.
        #[allow(clippy::panic)]
        {
            panic!("RATHAUS_TEST_REQUIRE_POSTGRES=1 but RATHAUS_TEST_POSTGRES_URL is not set");
        }
    }
    url
}

/// A URL for a fresh, empty database of the given backend; `None` when PostgreSQL is not configured.
pub async fn fresh_url(backend: Backend, dir: &TempDir) -> Result<Option<String>, StoreError> {
    match backend {
        Backend::Sqlite => Ok(Some(format!(
            "sqlite://{}",
            dir.path().join("rathaus.db").display()
        ))),
        Backend::Postgres => {
            let Some(base) = postgres_url() else {
                return Ok(None);
            };
            let schema = format!("t_{}", rathaus_crypto::token::new_record_id(&OsRandom)?);
            let admin = Store::connect(&base, Arc::new(OsRandom)).await?;
            let mut tx = admin.begin().await?;
            tx.execute(
                sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")),
                vec![],
            )
            .await?;
            tx.commit().await?;
            admin.close().await;
            let sep = if base.contains('?') { '&' } else { '?' };
            Ok(Some(format!(
                "{base}{sep}options=-c%20search_path%3D{schema}"
            )))
        }
    }
}

/// A migrated store unlocked with a fresh master key, or `None` when the backend is not available.
pub async fn fresh_store(
    backend: Backend,
    rng: Arc<dyn RandomSource>,
) -> Result<Option<TestStore>, StoreError> {
    let dir = TempDir::new()?;
    let Some(url) = fresh_url(backend, &dir).await? else {
        return Ok(None);
    };
    let store = Store::connect(&url, rng.clone())
        .await?
        .with_blobs(crate::blobs::Blobs::local(&dir.path().join("blobs"))?);
    let now = time::OffsetDateTime::now_utc();
    store.migrate(now).await?;
    store
        .unlock(MasterKey::generate(rng.as_ref())?, now)
        .await?;
    Ok(Some(TestStore { store, url, dir }))
}

/// Stands in for `n` writes waiting for their turn until dropped: with the write queue's limit at
/// `n`, every new write is refused with [`StoreError::Overloaded`] while reads go on. For
/// PostgreSQL, where real waiting writers cannot fill the queue without stalling the reads of the
/// code under test (both wait for a connection from the same pool). Not for SQLite: there a
/// committing write keeps its batch open for the writes it sees waiting, so a stand-in would hold
/// up commits; hold the writer with a transaction and let a real write queue behind it instead.
pub fn occupy_write_queue(store: &Store, n: usize) -> crate::db::WriteQueueHold {
    store.pool.occupy_write_queue(n)
}

/// Runs an async test body once per backend: always SQLite, PostgreSQL when configured.
#[macro_export]
macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// A municipality (Gemeinde) of the district Barnim with the given key and name, enabled, for
/// tests that need a tenant to hang records on.
#[allow(clippy::expect_used)] // a test helper: a malformed key is the calling test's own mistake
pub fn gemeinde(key: &str, name: &str) -> rathaus_domain::tenant::Tenant {
    use rathaus_domain::tenant::{Slug, Tenant, TenantKind, TenantProfile};
    Tenant {
        key: key.parse().expect("a test tenant's key"),
        ars: None,
        kind: TenantKind::Gemeinde,
        name: name.into(),
        official_name: name.into(),
        slug: Slug::from_name(TenantKind::Gemeinde, name),
        district: "Barnim".into(),
        parent: None,
        population: None,
        enabled: true,
        profile: TenantProfile::default(),
    }
}

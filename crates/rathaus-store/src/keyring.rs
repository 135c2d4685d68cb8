//! The encryption boundary: tenant data keys and index keys, wrapped by the master key, and
//! sealing of personal data with the record it belongs to bound as associated data.
//!
//! Every key is wrapped under the master key recorded in the `installation` table. A process
//! that still holds an older master key (another process rotated it) refuses to wrap a new key:
//! the check of the recorded id and the insert of the wrapped key share one transaction, and the
//! rotation takes the same row first, so the two cannot interleave — also with several servers
//! on one PostgreSQL database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use rathaus_crypto::envelope::{Aad, DataKey, IndexKey, MasterKey, sealed_key_id};
use rathaus_crypto::random::RandomSource;
use time::OffsetDateTime;

use crate::db::{Dialect, Tx};
use crate::staff::INSTALLATION_SCOPE;
use crate::{Store, StoreError, args};

/// Holds the master key once the store is unlocked, and caches of unwrapped keys (only keys
/// read committed from the database are cached).
pub struct Keyring {
    rng: Arc<dyn RandomSource>,
    master: RwLock<Option<Arc<MasterKey>>>,
    keys: Mutex<HashMap<(String, String), Arc<DataKey>>>,
    active: Mutex<HashMap<String, Arc<DataKey>>>,
    index: Mutex<HashMap<(String, IndexPurpose), Arc<IndexKey>>>,
}

/// What an index key is for. Each scope (a tenant, or the installation) has at most one index key
/// per purpose, created together with the scope's data key and never replaced: the values computed
/// with it are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexPurpose {
    /// The blind index of applicants' names (the office's search).
    CaseNames,
    /// The dog-tax register's holder index.
    DogtaxHolders,
    /// The lookup hash of staff e-mail addresses (installation scope only: an address is
    /// looked up before its tenant is known).
    StaffEmail,
}

impl IndexPurpose {
    pub fn code(self) -> &'static str {
        match self {
            IndexPurpose::CaseNames => "case-names",
            IndexPurpose::DogtaxHolders => "dogtax-holders",
            IndexPurpose::StaffEmail => "staff-email",
        }
    }

    /// The index keys a scope has.
    fn of_scope(scope: &str) -> &'static [IndexPurpose] {
        if scope == INSTALLATION_SCOPE {
            &[IndexPurpose::StaffEmail]
        } else {
            &[IndexPurpose::CaseNames, IndexPurpose::DogtaxHolders]
        }
    }

    /// The label of the secret derived from the master key that keyed this index before index
    /// keys existed; `None` where the index had no key.
    fn derived_label(self) -> Option<&'static str> {
        match self {
            IndexPurpose::CaseNames => Some("blind-index"),
            IndexPurpose::DogtaxHolders => Some("dogtax-holder-index"),
            IndexPurpose::StaffEmail => None,
        }
    }
}

/// What a master key rotation re-wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotated {
    pub data_keys: u64,
    pub index_keys: u64,
}

/// Left by migration 7 in an installation that holds data from before index keys; the first
/// unlock adopts the derived secrets as index keys and removes it.
const INDEX_KEYS_PENDING: &str = "index_keys_pending";

/// Where a sealed value lives: bound into the ciphertext so that it cannot be moved.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub record: &'a str,
    pub field: &'a str,
}

impl Keyring {
    pub(crate) fn new(rng: Arc<dyn RandomSource>) -> Keyring {
        Keyring {
            rng,
            master: RwLock::new(None),
            keys: Mutex::default(),
            active: Mutex::default(),
            index: Mutex::default(),
        }
    }

    pub fn rng(&self) -> &dyn RandomSource {
        self.rng.as_ref()
    }

    fn master(&self) -> Result<Arc<MasterKey>, StoreError> {
        self.master
            .read()
            .map_err(|_| StoreError::Key("keyring lock poisoned".into()))?
            .clone()
            .ok_or_else(|| StoreError::Key("the store is locked: no master key loaded".into()))
    }

    /// A secret derived from the master key for `label` (see [`MasterKey::derive`]). It changes
    /// with every master key rotation, so it serves only short-lived things that may be lost then
    /// (CSRF tokens, sealed search terms, throttle counters, the demo's credentials); what is
    /// stored and looked up later is keyed by an index key ([`Store::index_key`]).
    pub fn derive_secret(&self, label: &str) -> Result<[u8; 32], StoreError> {
        Ok(self.master()?.derive(label)?)
    }

    fn set_master(&self, key: Arc<MasterKey>) -> Result<(), StoreError> {
        *self
            .master
            .write()
            .map_err(|_| StoreError::Key("keyring lock poisoned".into()))? = Some(key);
        Ok(())
    }

    fn cached(&self, tenant: &str, key_id: &str) -> Option<Arc<DataKey>> {
        self.keys
            .lock()
            .ok()?
            .get(&(tenant.to_owned(), key_id.to_owned()))
            .cloned()
    }

    fn remember(&self, tenant: &str, key: Arc<DataKey>, active: bool) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert((tenant.to_owned(), key.id().to_owned()), key.clone());
        }
        if active && let Ok(mut a) = self.active.lock() {
            a.insert(tenant.to_owned(), key);
        }
    }

    fn cached_index(&self, scope: &str, purpose: IndexPurpose) -> Option<Arc<IndexKey>> {
        self.index
            .lock()
            .ok()?
            .get(&(scope.to_owned(), purpose))
            .cloned()
    }

    fn remember_index(&self, scope: &str, purpose: IndexPurpose, key: Arc<IndexKey>) {
        if let Ok(mut index) = self.index.lock() {
            index.insert((scope.to_owned(), purpose), key);
        }
    }
}

/// Checks, inside the transaction that is about to store a key wrapped under `master`, that
/// `master` is still the database's master key, and returns its id. On PostgreSQL the row stays
/// share-locked until the transaction ends: a rotation (which updates the row first) either waits
/// for this transaction and then re-wraps the new key too, or has committed before and this check
/// sees the new id. SQLite has one writer, and a transaction whose snapshot predates a rotation
/// cannot write.
async fn current_master_id(tx: &mut Tx, master: &MasterKey) -> Result<String, StoreError> {
    let lock = match tx.dialect() {
        Dialect::Sqlite => "",
        Dialect::Postgres => " FOR SHARE",
    };
    let row = tx
        .fetch_optional(
            sqlx::AssertSqlSafe(format!(
                "SELECT value FROM installation WHERE key = 'master_key_id'{lock}"
            )),
            vec![],
        )
        .await?;
    let id = master.id()?;
    let recorded = row.map(|r| r.text("value")).transpose()?;
    if recorded.as_deref() == Some(id.as_str()) {
        Ok(id)
    } else {
        Err(rotated_elsewhere(&id, recorded.as_deref()))
    }
}

fn rotated_elsewhere(held: &str, recorded: Option<&str>) -> StoreError {
    StoreError::Key(format!(
        "the master key of this database was rotated (it is now {}), but this process still holds \
         master key {held}; restart it with the current master key file. No key was written",
        recorded.unwrap_or("not recorded")
    ))
}

impl Store {
    /// The id of the master key this database's data keys are wrapped with, if any was recorded.
    pub async fn recorded_master_key_id(&self) -> Result<Option<String>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT value FROM installation WHERE key = 'master_key_id'",
                vec![],
            )
            .await?;
        row.map(|r| r.text("value")).transpose()
    }

    /// Checks the master key against the database, recording it on first use. A different key
    /// is refused and nothing is written.
    pub async fn unlock(&self, master: MasterKey, now: OffsetDateTime) -> Result<(), StoreError> {
        let id = master.id()?;
        match self.recorded_master_key_id().await? {
            Some(recorded) if recorded != id => {
                return Err(StoreError::Key(format!(
                    "the master key (id {id}) is not the key of this database (id {recorded}); \
                     refusing to start, nothing was changed"
                )));
            }
            Some(_) => {}
            None => {
                let mut tx = self.begin().await?;
                tx.execute(
                    "INSERT INTO installation (key, value) VALUES ('master_key_id', $1) ON CONFLICT (key) DO NOTHING",
                    args![id.clone()],
                )
                .await?;
                let row = tx
                    .fetch_one(
                        "SELECT value FROM installation WHERE key = 'master_key_id'",
                        vec![],
                    )
                    .await?;
                if row.text("value")? != id {
                    return Err(StoreError::Key(
                        "another master key was recorded concurrently".into(),
                    ));
                }
                tx.commit().await?;
            }
        }
        // The id matched; prove it by unwrapping one data key, so a damaged key file is caught now.
        if let Some(row) = self
            .pool()
            .fetch_optional(
                "SELECT tenant_key, key_id, wrapped FROM tenant_keys ORDER BY tenant_key LIMIT 1",
                vec![],
            )
            .await?
        {
            master
                .unwrap_key(
                    &row.text("tenant_key")?,
                    &row.text("key_id")?,
                    &row.bytes("wrapped")?,
                )
                .map_err(|_| {
                    StoreError::Key("the master key does not open this database's data keys".into())
                })?;
        }
        let master = Arc::new(master);
        self.keyring().set_master(master.clone())?;
        self.adopt_derived_index_secrets(&master, now).await
    }

    /// Installations from before index keys keyed the names' blind index and the dog-tax holder
    /// index with secrets derived from the master key (so a rotation broke them), and hashed staff
    /// e-mail addresses without a key. Here each scope that has a data key gets those very secrets
    /// as its first index keys, now stored wrapped: every stored index value stays valid without
    /// opening and recomputing it, and from now on the keys survive rotations. Staff addresses get
    /// a random index key, and their hashes are recomputed from the sealed addresses. Migration 7
    /// leaves a marker for this; the first process to unlock removes it and does the work.
    async fn adopt_derived_index_secrets(
        &self,
        master: &MasterKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let marker = self
            .pool()
            .fetch_optional(
                "SELECT value FROM installation WHERE key = $1",
                args![INDEX_KEYS_PENDING],
            )
            .await?;
        if marker.is_none() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        // Deleting the marker first takes the write lock (SQLite) or the row lock (PostgreSQL): of
        // two processes starting at once, one does the work and the other finds nothing to do.
        if tx
            .execute(
                "DELETE FROM installation WHERE key = $1",
                args![INDEX_KEYS_PENDING],
            )
            .await?
            == 0
        {
            return Ok(());
        }
        current_master_id(&mut tx, master).await?;
        let scopes = tx
            .fetch_all(
                "SELECT DISTINCT tenant_key FROM tenant_keys ORDER BY tenant_key",
                vec![],
            )
            .await?;
        for row in scopes {
            let scope = row.text("tenant_key")?;
            for purpose in IndexPurpose::of_scope(&scope) {
                if let Some(label) = purpose.derived_label() {
                    let key = IndexKey::from_secret(master.derive(label)?);
                    self.insert_index_key(&mut tx, master, &scope, *purpose, &key, now)
                        .await?;
                }
            }
        }
        let staff = tx
            .fetch_all("SELECT id, tenant_key, email FROM staff_users", vec![])
            .await?;
        if !staff.is_empty() {
            self.insert_index_key(
                &mut tx,
                master,
                INSTALLATION_SCOPE,
                IndexPurpose::StaffEmail,
                &IndexKey::generate(self.keyring().rng())?,
                now,
            )
            .await?;
            // Read back rather than trust the one just generated: the insert keeps an existing key.
            let key = self
                .unwrap_index_row(
                    &mut tx,
                    master,
                    INSTALLATION_SCOPE,
                    IndexPurpose::StaffEmail,
                )
                .await?
                .ok_or_else(|| StoreError::Key("the staff e-mail index key is missing".into()))?;
            for row in staff {
                let id = row.text("id")?;
                let email = self
                    .open_staff_email(
                        row.opt_text("tenant_key")?.as_deref(),
                        &id,
                        &row.bytes("email")?,
                    )
                    .await?;
                tx.execute(
                    "UPDATE staff_users SET email_hash = $1 WHERE id = $2",
                    args![crate::staff::keyed_email_hash(&key, &email)?, id],
                )
                .await?;
            }
        }
        tx.commit().await
    }

    /// Creates the tenant's data key and index keys inside the caller's transaction unless they
    /// exist. Refused when another process has rotated the master key since this one started.
    pub async fn ensure_tenant_key(
        &self,
        tx: &mut Tx,
        tenant: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let exists = tx
            .fetch_optional(
                "SELECT key_id FROM tenant_keys WHERE tenant_key = $1 AND active = $2",
                args![tenant, true],
            )
            .await?;
        if exists.is_none() {
            let master = self.keyring().master()?;
            let master_id = current_master_id(tx, &master).await?;
            let key = DataKey::generate(self.keyring().rng())?;
            let wrapped = master.wrap(self.keyring().rng(), tenant, &key)?;
            tx.execute(
                "INSERT INTO tenant_keys (tenant_key, key_id, wrapped, master_key_id, active, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                args![tenant, key.id(), wrapped, master_id, true, crate::now_ms(now)],
            )
            .await?;
        }
        for purpose in IndexPurpose::of_scope(tenant) {
            self.ensure_index_key(tx, tenant, *purpose, now).await?;
        }
        Ok(())
    }

    /// Creates a random index key of `scope` for `purpose` inside the caller's transaction unless
    /// one exists. Like data keys, it is used only once committed.
    pub(crate) async fn ensure_index_key(
        &self,
        tx: &mut Tx,
        scope: &str,
        purpose: IndexPurpose,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let exists = tx
            .fetch_optional(
                "SELECT purpose FROM index_keys WHERE scope = $1 AND purpose = $2",
                args![scope, purpose.code()],
            )
            .await?;
        if exists.is_some() {
            return Ok(());
        }
        let master = self.keyring().master()?;
        let key = IndexKey::generate(self.keyring().rng())?;
        self.insert_index_key(tx, &master, scope, purpose, &key, now)
            .await
    }

    /// Stores `key` wrapped, unless the scope already has a key for the purpose (that one stays).
    async fn insert_index_key(
        &self,
        tx: &mut Tx,
        master: &MasterKey,
        scope: &str,
        purpose: IndexPurpose,
        key: &IndexKey,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let master_id = current_master_id(tx, master).await?;
        let wrapped = master.wrap_index_key(self.keyring().rng(), scope, purpose.code(), key)?;
        tx.execute(
            "INSERT INTO index_keys (scope, purpose, wrapped, master_key_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (scope, purpose) DO NOTHING",
            args![
                scope,
                purpose.code(),
                wrapped,
                master_id,
                crate::now_ms(now)
            ],
        )
        .await?;
        Ok(())
    }

    async fn unwrap_index_row(
        &self,
        tx: &mut Tx,
        master: &MasterKey,
        scope: &str,
        purpose: IndexPurpose,
    ) -> Result<Option<IndexKey>, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT wrapped FROM index_keys WHERE scope = $1 AND purpose = $2",
                args![scope, purpose.code()],
            )
            .await?;
        row.map(|r| Ok(master.unwrap_index_key(scope, purpose.code(), &r.bytes("wrapped")?)?))
            .transpose()
    }

    /// The index key of `scope` for `purpose`; `None` when the scope has none (a tenant without a
    /// data key, which therefore has no data to index either).
    pub async fn index_key(
        &self,
        scope: &str,
        purpose: IndexPurpose,
    ) -> Result<Option<Arc<IndexKey>>, StoreError> {
        if let Some(k) = self.keyring().cached_index(scope, purpose) {
            return Ok(Some(k));
        }
        // Read through the pool, never an open transaction: only committed keys are cached.
        let Some(row) = self
            .pool()
            .fetch_optional(
                "SELECT wrapped, master_key_id FROM index_keys WHERE scope = $1 AND purpose = $2",
                args![scope, purpose.code()],
            )
            .await?
        else {
            return Ok(None);
        };
        let master = self.keyring().master()?;
        let wrapped_under = row.text("master_key_id")?;
        let key = master
            .unwrap_index_key(scope, purpose.code(), &row.bytes("wrapped")?)
            .map_err(|e| stale_or(&master, &wrapped_under, e.into()))?;
        let key = Arc::new(key);
        self.keyring().remember_index(scope, purpose, key.clone());
        Ok(Some(key))
    }

    async fn load_key(
        &self,
        tenant: &str,
        key_id: Option<&str>,
    ) -> Result<Arc<DataKey>, StoreError> {
        if let Some(id) = key_id
            && let Some(k) = self.keyring().cached(tenant, id)
        {
            return Ok(k);
        }
        if key_id.is_none()
            && let Some(k) = self
                .keyring()
                .active
                .lock()
                .ok()
                .and_then(|a| a.get(tenant).cloned())
        {
            return Ok(k);
        }
        // Read through the pool, never an open transaction: only committed keys are cached.
        let row = match key_id {
            Some(id) => {
                self.pool()
                    .fetch_optional(
                        "SELECT key_id, wrapped, active, master_key_id FROM tenant_keys WHERE tenant_key = $1 AND key_id = $2",
                        args![tenant, id],
                    )
                    .await?
            }
            None => {
                self.pool()
                    .fetch_optional(
                        "SELECT key_id, wrapped, active, master_key_id FROM tenant_keys WHERE tenant_key = $1 AND active = $2",
                        args![tenant, true],
                    )
                    .await?
            }
        };
        let row = row.ok_or_else(|| StoreError::Key(format!("tenant {tenant} has no data key")))?;
        let master = self.keyring().master()?;
        let wrapped_under = row.text("master_key_id")?;
        let key = master
            .unwrap_key(tenant, &row.text("key_id")?, &row.bytes("wrapped")?)
            .map_err(|e| stale_or(&master, &wrapped_under, e.into()))?;
        let key = Arc::new(key);
        self.keyring()
            .remember(tenant, key.clone(), row.bool("active")?);
        Ok(key)
    }

    /// Seals personal data for storage in `place` of `tenant`.
    pub async fn seal(
        &self,
        tenant: &str,
        place: Place<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let key = self.load_key(tenant, None).await?;
        let aad = Aad {
            tenant,
            table: place.table,
            record: place.record,
            field: place.field,
        };
        Ok(key.seal(self.keyring().rng(), aad, plaintext)?)
    }

    /// Opens data sealed by [`Store::seal`] for the same tenant and place.
    pub async fn open(
        &self,
        tenant: &str,
        place: Place<'_>,
        sealed: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let key = self.load_key(tenant, Some(sealed_key_id(sealed)?)).await?;
        let aad = Aad {
            tenant,
            table: place.table,
            record: place.record,
            field: place.field,
        };
        Ok(key.open(aad, sealed)?)
    }

    /// Re-wraps every data key and index key under `new` in one transaction. Sealed data and
    /// index values are not touched.
    pub async fn rotate_master_key(&self, new: MasterKey) -> Result<Rotated, StoreError> {
        let old = self.keyring().master()?;
        let (old_id, new_id) = (old.id()?, new.id()?);
        let rng = self.keyring().rng();
        let mut tx = self.begin().await?;
        // The recorded id is changed first, before any key is read: that takes the write lock
        // (SQLite) or the row lock (PostgreSQL), so a key another process creates meanwhile is
        // either committed before and re-wrapped below, or refused (see `current_master_id`).
        if tx
            .execute(
                "UPDATE installation SET value = $1 WHERE key = 'master_key_id' AND value = $2",
                args![new_id.clone(), old_id.clone()],
            )
            .await?
            != 1
        {
            let recorded = self.recorded_master_key_id().await?;
            return Err(rotated_elsewhere(&old_id, recorded.as_deref()));
        }
        let rows = tx
            .fetch_all(
                "SELECT tenant_key, key_id, wrapped FROM tenant_keys",
                vec![],
            )
            .await?;
        let mut rotated = Rotated {
            data_keys: 0,
            index_keys: 0,
        };
        for row in rows {
            let (tenant, key_id) = (row.text("tenant_key")?, row.text("key_id")?);
            let key = old.unwrap_key(&tenant, &key_id, &row.bytes("wrapped")?)?;
            let wrapped = new.wrap(rng, &tenant, &key)?;
            tx.execute(
                "UPDATE tenant_keys SET wrapped = $1, master_key_id = $2 WHERE tenant_key = $3 AND key_id = $4",
                args![wrapped, new_id.clone(), tenant, key_id],
            )
            .await?;
            rotated.data_keys += 1;
        }
        let rows = tx
            .fetch_all("SELECT scope, purpose, wrapped FROM index_keys", vec![])
            .await?;
        for row in rows {
            let (scope, purpose) = (row.text("scope")?, row.text("purpose")?);
            let key = old.unwrap_index_key(&scope, &purpose, &row.bytes("wrapped")?)?;
            let wrapped = new.wrap_index_key(rng, &scope, &purpose, &key)?;
            tx.execute(
                "UPDATE index_keys SET wrapped = $1, master_key_id = $2 WHERE scope = $3 AND purpose = $4",
                args![wrapped, new_id.clone(), scope, purpose],
            )
            .await?;
            rotated.index_keys += 1;
        }
        tx.commit().await?;
        self.keyring().set_master(Arc::new(new))?;
        Ok(rotated)
    }
}

/// A key that does not unwrap because it is wrapped under a newer master key than this process
/// holds gets an error saying so; any other failure stays as it is.
fn stale_or(master: &MasterKey, wrapped_under: &str, other: StoreError) -> StoreError {
    match master.id() {
        Ok(held) if held != wrapped_under => rotated_elsewhere(&held, Some(wrapped_under)),
        _ => other,
    }
}

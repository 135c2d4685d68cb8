//! The encryption boundary: tenant data keys, wrapped by the master key, and sealing of personal
//! data with the record it belongs to bound as associated data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use rathaus_crypto::envelope::{Aad, DataKey, MasterKey, sealed_key_id};
use rathaus_crypto::random::RandomSource;

use crate::db::Tx;
use crate::{Store, StoreError, args};

/// Holds the master key once the store is unlocked, and a cache of unwrapped data keys.
pub struct Keyring {
    rng: Arc<dyn RandomSource>,
    master: RwLock<Option<Arc<MasterKey>>>,
    keys: Mutex<HashMap<(String, String), Arc<DataKey>>>,
    active: Mutex<HashMap<String, Arc<DataKey>>>,
}

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

    /// A secret derived from the master key for `label` (see [`MasterKey::derive`]).
    pub fn derive_secret(&self, label: &str) -> Result<[u8; 32], StoreError> {
        Ok(self.master()?.derive(label))
    }

    fn set_master(&self, key: MasterKey) -> Result<(), StoreError> {
        *self
            .master
            .write()
            .map_err(|_| StoreError::Key("keyring lock poisoned".into()))? = Some(Arc::new(key));
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
    pub async fn unlock(&self, master: MasterKey) -> Result<(), StoreError> {
        let id = master.id();
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
        self.keyring().set_master(master)
    }

    /// Creates the tenant's data key inside the caller's transaction unless one exists.
    pub async fn ensure_tenant_key(
        &self,
        tx: &mut Tx,
        tenant: &str,
        now: time::OffsetDateTime,
    ) -> Result<(), StoreError> {
        let exists = tx
            .fetch_optional(
                "SELECT key_id FROM tenant_keys WHERE tenant_key = $1 AND active = $2",
                args![tenant, true],
            )
            .await?;
        if exists.is_some() {
            return Ok(());
        }
        let master = self.keyring().master()?;
        let key = DataKey::generate(self.keyring().rng())?;
        let wrapped = master.wrap(self.keyring().rng(), tenant, &key)?;
        tx.execute(
            "INSERT INTO tenant_keys (tenant_key, key_id, wrapped, master_key_id, active, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![tenant, key.id(), wrapped, master.id(), true, crate::now_ms(now)],
        )
        .await?;
        Ok(())
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
                        "SELECT key_id, wrapped, active FROM tenant_keys WHERE tenant_key = $1 AND key_id = $2",
                        args![tenant, id],
                    )
                    .await?
            }
            None => {
                self.pool()
                    .fetch_optional(
                        "SELECT key_id, wrapped, active FROM tenant_keys WHERE tenant_key = $1 AND active = $2",
                        args![tenant, true],
                    )
                    .await?
            }
        };
        let row = row.ok_or_else(|| StoreError::Key(format!("tenant {tenant} has no data key")))?;
        let key = Arc::new(self.keyring().master()?.unwrap_key(
            tenant,
            &row.text("key_id")?,
            &row.bytes("wrapped")?,
        )?);
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

    /// Re-wraps every data key under `new` in one transaction. Sealed data is not touched.
    /// Returns how many keys were re-wrapped.
    pub async fn rotate_master_key(&self, new: MasterKey) -> Result<u64, StoreError> {
        let old = self.keyring().master()?;
        let new_id = new.id();
        let mut tx = self.begin().await?;
        let rows = tx
            .fetch_all(
                "SELECT tenant_key, key_id, wrapped FROM tenant_keys",
                vec![],
            )
            .await?;
        let mut count = 0;
        for row in rows {
            let (tenant, key_id) = (row.text("tenant_key")?, row.text("key_id")?);
            let key = old.unwrap_key(&tenant, &key_id, &row.bytes("wrapped")?)?;
            let wrapped = new.wrap(self.keyring().rng(), &tenant, &key)?;
            tx.execute(
                "UPDATE tenant_keys SET wrapped = $1, master_key_id = $2 WHERE tenant_key = $3 AND key_id = $4",
                args![wrapped, new_id.clone(), tenant, key_id],
            )
            .await?;
            count += 1;
        }
        tx.execute(
            "UPDATE installation SET value = $1 WHERE key = 'master_key_id'",
            args![new_id],
        )
        .await?;
        tx.commit().await?;
        self.keyring().set_master(new)?;
        Ok(count)
    }
}

//! Opening an installation: data directory, database, migrations and the master key.
//!
//! The order matters: the master key is checked against the database *before* anything is
//! written, so a wrong key never changes a byte.

use std::path::Path;
use std::sync::Arc;

use rathaus_crypto::envelope::MasterKey;
use rathaus_crypto::random::RandomSource;
use rathaus_store::Store;
use rathaus_store::audit::{AuditVerdict, NewAuditEntry, append};
use rathaus_store::keyring::Rotated;

use crate::files::write_new_secret_file;
use crate::{Actor, App, AppError, Clock, Config};

/// How to treat the schema when opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// Apply pending migrations (`serve` with auto_migrate, `migrate`, `demo`).
    Migrate,
    /// Refuse to run against an outdated schema.
    RequireCurrent,
}

fn ensure_data_dir(dir: &Path) -> Result<(), AppError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        AppError::Unavailable(format!(
            "cannot create the data directory {}: {e}",
            dir.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    Ok(())
}

/// Reads the master key, or creates it when this is a new installation at the default place.
fn load_or_create_master_key(
    config: &Config,
    recorded: Option<&str>,
    rng: &dyn RandomSource,
) -> Result<(MasterKey, bool), AppError> {
    let path = &config.master_key_file;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = MasterKey::from_file_contents(&text).map_err(|e| {
                AppError::Key(format!(
                    "{}: {e}; refusing to start, nothing was changed",
                    path.display()
                ))
            })?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(id) = recorded {
                return Err(AppError::Key(format!(
                    "the master key file {} is missing, but this database is encrypted with master key {id}; \
                     restore the key file from your backup. Refusing to start, nothing was changed",
                    path.display()
                )));
            }
            if config.master_key_file_explicit {
                return Err(AppError::Key(format!(
                    "RATHAUS_MASTER_KEY_FILE names {}, which does not exist; refusing to start",
                    path.display()
                )));
            }
            let key = MasterKey::generate(rng)?;
            write_new_key_file(path, &key)?;
            Ok((key, true))
        }
        Err(e) => Err(AppError::Key(format!(
            "cannot read the master key file {}: {e}",
            path.display()
        ))),
    }
}

/// Writes a key file that did not exist before (never overwrites), readable by the owner only.
pub fn write_new_key_file(path: &Path, key: &MasterKey) -> Result<(), AppError> {
    write_new_secret_file(path, &key.to_file_contents(), "master key file")
}

/// Opens the installation described by `config`: connects, checks the master key, migrates.
pub async fn open(
    config: Config,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn RandomSource>,
    schema: Schema,
) -> Result<App, AppError> {
    if config.database_url.starts_with("sqlite:") || !config.master_key_file_explicit {
        ensure_data_dir(&config.data_dir)?;
    }
    let store = Store::connect(&config.database_url, rng.clone())
        .await?
        .with_blobs(rathaus_store::blobs::Blobs::local(
            &config.data_dir.join("blobs"),
        )?);
    store.set_write_queue_limit(config.write_queue_limit as usize);
    let status = store.migration_status().await?;
    let recorded = if status.applied.is_empty() {
        None
    } else {
        store.recorded_master_key_id().await?
    };
    let (key, created) = load_or_create_master_key(&config, recorded.as_deref(), rng.as_ref())?;
    let key_id = key.id()?;
    if let Some(id) = &recorded
        && *id != key_id
    {
        return Err(AppError::Key(format!(
            "the master key in {} (id {key_id}) is not the key of this database (id {id}); \
             refusing to start, nothing was changed",
            config.master_key_file.display(),
        )));
    }
    match schema {
        Schema::Migrate => {
            let applied = store.migrate(clock.now()).await?;
            if !applied.is_empty() {
                tracing::info!(versions = ?applied, "applied database migrations");
            }
        }
        Schema::RequireCurrent if !status.is_current() => {
            return Err(AppError::Unavailable(format!(
                "the database schema is not current ({} migrations pending); run `rathaus migrate`",
                status.pending.len()
            )));
        }
        Schema::RequireCurrent => {}
    }
    store.unlock(key, clock.now()).await?;
    if created {
        tracing::info!(path = %config.master_key_file.display(), "generated a new master key");
    }
    let app = App {
        store,
        clock,
        rng,
        config: Arc::new(config),
        definitions: Arc::default(),
        mail: crate::mail::MailWaker::new(),
        upload_checks: Arc::new(tokio::sync::Semaphore::new(crate::uploads::CHECKS_AT_ONCE)),
    };
    let added = app.sync_shipped_services().await?;
    if !added.is_empty() {
        tracing::info!(services = ?added, "stored shipped service definitions");
    }
    Ok(app)
}

impl App {
    /// Writes one audit entry in its own transaction (for events without another state change,
    /// such as a refused access).
    pub async fn audit(
        &self,
        actor: &Actor,
        tenant: Option<&str>,
        action: &str,
        object: &str,
        outcome: &str,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        let actor = actor.audit_name();
        append(
            &mut tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor,
                tenant,
                action,
                object,
                outcome,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ready for traffic: the database answers and its schema is current.
    pub async fn readiness(&self) -> Result<(), String> {
        self.store.ping().await.map_err(|e| e.to_string())?;
        let status = self
            .store
            .migration_status()
            .await
            .map_err(|e| e.to_string())?;
        if status.is_current() {
            Ok(())
        } else {
            Err(format!("{} migrations pending", status.pending.len()))
        }
    }

    pub async fn verify_audit(&self) -> Result<AuditVerdict, AppError> {
        Ok(self.store.verify_audit().await?)
    }

    /// Generates a new master key, re-wraps every tenant key and index key under it and replaces
    /// the key file. The old file is kept beside it as `<name>.old` until the operator removes it.
    /// Servers still running with the old key refuse to create keys until restarted with the new
    /// one.
    pub async fn rotate_master_key(&self, actor: &Actor) -> Result<Rotated, AppError> {
        let path = &self.config.master_key_file;
        let staged = path.with_extension("key.new");
        let old_copy = path.with_extension("key.old");
        let new = MasterKey::generate(self.rng.as_ref())?;
        let new_id = new.id()?;
        // Staged first: should the process die after the database commit, the new key is on disk.
        let _ = std::fs::remove_file(&staged);
        write_new_key_file(&staged, &new)?;
        let rotated = self.store.rotate_master_key(new).await?;
        std::fs::rename(path, &old_copy)
            .and_then(|_| std::fs::rename(&staged, path))
            .map_err(|e| AppError::Internal(format!("rotated in the database, but moving the key files failed: {e}; the new key is in {}", staged.display())))?;
        self.audit(
            actor,
            None,
            "keys.rotate_master",
            &format!("master_key:{new_id}"),
            &format!(
                "ok: {} tenant keys and {} index keys re-wrapped",
                rotated.data_keys, rotated.index_keys
            ),
        )
        .await?;
        Ok(rotated)
    }
}

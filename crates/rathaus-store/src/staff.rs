//! Staff accounts, sessions, sign-in throttling and pending OIDC logins.
//!
//! Names, e-mail addresses and TOTP secrets are sealed here, at the store's boundary: under the
//! data key of the account's tenant, or under the data key of the [`INSTALLATION_SCOPE`] for the
//! operator's accounts, which belong to no tenant. That scope's key lives in `tenant_keys` like a
//! tenant's, so rotating the master key re-wraps it too (a key derived from the master key would
//! change with every rotation and lock every operator out). Accounts are found by a keyed hash of
//! the normalised e-mail address; tokens of sessions and links are stored only as hashes.

use std::sync::Arc;

use rathaus_crypto::envelope::IndexKey;
use rathaus_domain::staff::Role;
use time::OffsetDateTime;

use crate::db::{Row, Tx};
use crate::keyring::{IndexPurpose, Place};
use crate::{Store, StoreError, args};

/// The sealing scope of everything that belongs to the installation rather than a tenant. Never a
/// tenant key: those consist of 8 or 9 digits.
pub const INSTALLATION_SCOPE: &str = "installation";

/// The lookup key of an e-mail address: HMAC-SHA-256 of the trimmed, lower-cased address under
/// the installation's staff e-mail index key. Addresses are guessable, so an unkeyed hash would
/// give them away to anyone holding a copy of the database; the address itself is sealed.
pub(crate) fn keyed_email_hash(key: &IndexKey, email: &str) -> Result<Vec<u8>, StoreError> {
    Ok(key
        .mac(&[
            b"rathaus staff e-mail v2|",
            email.trim().to_lowercase().as_bytes(),
        ])?
        .to_vec())
}

fn scope(tenant_key: Option<&str>) -> &str {
    tenant_key.unwrap_or(INSTALLATION_SCOPE)
}

fn place<'a>(id: &'a str, field: &'a str) -> Place<'a> {
    Place {
        table: "staff_users",
        record: id,
        field,
    }
}

/// A staff account as the application sees it, with its sealed fields opened.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffAccount {
    pub id: String,
    pub tenant_key: Option<String>,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub services: Vec<String>,
    pub password_hash: Option<String>,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_confirmed: bool,
    pub totp_last_step: Option<i64>,
    pub oidc_subject: Option<String>,
    pub disabled: bool,
    /// Whether an unused enrolment or reset link exists (its expiry).
    pub enrol_expires_at: Option<i64>,
    pub created_at: i64,
}

// Secrets stay out of debug output.
impl std::fmt::Debug for StaffAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffAccount")
            .field("id", &self.id)
            .field("tenant_key", &self.tenant_key)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("totp_confirmed", &self.totp_confirmed)
            .finish_non_exhaustive()
    }
}

impl StaffAccount {
    /// Enrolled: a password and a confirmed second factor.
    pub fn is_enrolled(&self) -> bool {
        self.password_hash.is_some() && self.totp_confirmed && self.totp_secret.is_some()
    }
}

/// A new account. The e-mail address must already be normalised by the caller.
pub struct NewStaff<'a> {
    pub id: &'a str,
    pub tenant_key: Option<&'a str>,
    pub role: Role,
    pub email: &'a str,
    pub name: &'a str,
    pub services: &'a [String],
    pub enrol_token_hash: Option<Vec<u8>>,
    pub enrol_expires_at: Option<OffsetDateTime>,
    /// Set directly only for demo accounts, which start enrolled.
    pub password_hash: Option<&'a str>,
    pub totp_secret: Option<&'a [u8]>,
}

const COLUMNS: &str = "id, tenant_key, role, email, name, services, password_hash, totp_secret, \
    totp_confirmed, totp_last_step, oidc_subject, disabled, enrol_expires_at, created_at";

/// One session row.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user_id: String,
    pub stage: String,
    pub next_path: Option<String>,
    pub pending_password: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("user_id", &self.user_id)
            .field("stage", &self.stage)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A pending OIDC authorization request, found by the hash of the browser's cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub next_path: Option<String>,
    pub expires_at: i64,
}

impl Store {
    /// Makes sure the sealing scope of an account has a data key, and the installation its staff
    /// e-mail index key, committed before anything is sealed or hashed under them (both are read
    /// committed only).
    pub async fn ensure_staff_scope(
        &self,
        tenant_key: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let created_elsewhere = match self
            .ensure_tenant_key(&mut tx, scope(tenant_key), now)
            .await
        {
            Ok(()) => false,
            // Another request created it at the same moment: it exists now.
            Err(StoreError::Conflict(_)) => true,
            Err(e) => return Err(e),
        };
        if created_elsewhere {
            // The failed transaction is given up (its connection freed) before the next one.
            drop(tx);
            tx = self.begin().await?;
        }
        self.ensure_index_key(&mut tx, INSTALLATION_SCOPE, IndexPurpose::StaffEmail, now)
            .await?;
        tx.commit().await
    }

    /// The installation's staff e-mail index key; `None` before the first account exists.
    async fn staff_email_key(&self) -> Result<Option<Arc<IndexKey>>, StoreError> {
        self.index_key(INSTALLATION_SCOPE, IndexPurpose::StaffEmail)
            .await
    }

    /// Opens an account's sealed e-mail address.
    pub(crate) async fn open_staff_email(
        &self,
        tenant_key: Option<&str>,
        id: &str,
        sealed: &[u8],
    ) -> Result<String, StoreError> {
        String::from_utf8(
            self.open(scope(tenant_key), place(id, "email"), sealed)
                .await?,
        )
        .map_err(|_| StoreError::Decode("staff email".into()))
    }

    /// Seals a TOTP secret for the account's field.
    pub async fn seal_totp_secret(
        &self,
        tenant_key: Option<&str>,
        id: &str,
        secret: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        self.seal(scope(tenant_key), place(id, "totp_secret"), secret)
            .await
    }

    /// Inserts an account; the scope's key must exist ([`Store::ensure_staff_scope`]).
    pub async fn insert_staff(
        &self,
        tx: &mut Tx,
        new: &NewStaff<'_>,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let sc = scope(new.tenant_key);
        let hash_key = self.staff_email_key().await?.ok_or_else(|| {
            StoreError::Key("no staff e-mail index key: ensure_staff_scope comes first".into())
        })?;
        let email = self
            .seal(sc, place(new.id, "email"), new.email.as_bytes())
            .await?;
        let name = self
            .seal(sc, place(new.id, "name"), new.name.as_bytes())
            .await?;
        let totp = match new.totp_secret {
            Some(s) => Some(self.seal_totp_secret(new.tenant_key, new.id, s).await?),
            None => None,
        };
        let services =
            serde_json::to_string(new.services).map_err(|e| StoreError::Decode(e.to_string()))?;
        let now = crate::now_ms(now);
        tx.execute(
            "INSERT INTO staff_users (id, tenant_key, role, email_hash, email, name, services,
                password_hash, totp_secret, totp_confirmed, disabled, enrol_token_hash,
                enrol_expires_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
            args![
                new.id,
                new.tenant_key,
                new.role.code(),
                keyed_email_hash(&hash_key, new.email)?,
                email,
                name,
                services,
                new.password_hash,
                totp.clone(),
                totp.is_some(),
                false,
                new.enrol_token_hash.clone(),
                new.enrol_expires_at.map(crate::now_ms),
                now
            ],
        )
        .await?;
        Ok(())
    }

    async fn staff_from_row(&self, row: &Row) -> Result<StaffAccount, StoreError> {
        let id = row.text("id")?;
        let tenant_key = row.opt_text("tenant_key")?;
        let sc = scope(tenant_key.as_deref());
        let text = |b: Vec<u8>, what: &str| {
            String::from_utf8(b).map_err(|_| StoreError::Decode(format!("staff {what}")))
        };
        let email = self
            .open_staff_email(tenant_key.as_deref(), &id, &row.bytes("email")?)
            .await?;
        let name = text(
            self.open(sc, place(&id, "name"), &row.bytes("name")?)
                .await?,
            "name",
        )?;
        let totp_secret = match row.opt_bytes("totp_secret")? {
            Some(s) => Some(self.open(sc, place(&id, "totp_secret"), &s).await?),
            None => None,
        };
        let role_code = row.text("role")?;
        let role = Role::from_code(&role_code)
            .ok_or_else(|| StoreError::Decode(format!("staff role {role_code:?}")))?;
        let services: Vec<String> = serde_json::from_str(&row.text("services")?)
            .map_err(|e| StoreError::Decode(format!("staff services: {e}")))?;
        Ok(StaffAccount {
            id,
            tenant_key,
            role,
            email,
            name,
            services,
            password_hash: row.opt_text("password_hash")?,
            totp_secret,
            totp_confirmed: row.bool("totp_confirmed")?,
            totp_last_step: row.opt_i64("totp_last_step")?,
            oidc_subject: row.opt_text("oidc_subject")?,
            disabled: row.bool("disabled")?,
            enrol_expires_at: row.opt_i64("enrol_expires_at")?,
            created_at: row.i64("created_at")?,
        })
    }

    async fn staff_where(
        &self,
        condition: &'static str,
        args: Vec<crate::Value>,
    ) -> Result<Option<StaffAccount>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM staff_users WHERE {condition}");
        match self
            .pool()
            .fetch_optional(sqlx::AssertSqlSafe(sql), args)
            .await?
        {
            Some(row) => Ok(Some(self.staff_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    pub async fn staff_by_id(&self, id: &str) -> Result<Option<StaffAccount>, StoreError> {
        self.staff_where("id = $1", args![id]).await
    }

    pub async fn staff_by_email(&self, email: &str) -> Result<Option<StaffAccount>, StoreError> {
        // Without the key there is no account yet.
        let Some(key) = self.staff_email_key().await? else {
            return Ok(None);
        };
        self.staff_where("email_hash = $1", args![keyed_email_hash(&key, email)?])
            .await
    }

    /// The account of an unused, unexpired enrolment or reset link.
    pub async fn staff_by_enrol_token(
        &self,
        token_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Option<StaffAccount>, StoreError> {
        self.staff_where(
            "enrol_token_hash = $1 AND enrol_expires_at > $2",
            args![token_hash, crate::now_ms(now)],
        )
        .await
    }

    pub async fn staff_by_oidc_subject(
        &self,
        subject: &str,
    ) -> Result<Option<StaffAccount>, StoreError> {
        self.staff_where("oidc_subject = $1", args![subject]).await
    }

    /// The accounts of one tenant, oldest first.
    pub async fn list_staff(&self, tenant_key: &str) -> Result<Vec<StaffAccount>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM staff_users WHERE tenant_key = $1 ORDER BY created_at, id"
        );
        self.staff_list(sql, args![tenant_key]).await
    }

    /// Every account of the installation, of all tenants and the operator's, oldest first: the
    /// operator's and the command line's view.
    pub async fn list_all_staff(&self) -> Result<Vec<StaffAccount>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM staff_users ORDER BY created_at, id");
        self.staff_list(sql, vec![]).await
    }

    async fn staff_list(
        &self,
        sql: String,
        args: Vec<crate::Value>,
    ) -> Result<Vec<StaffAccount>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(sqlx::AssertSqlSafe(sql), args)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.staff_from_row(row).await?);
        }
        Ok(out)
    }

    /// Disables or enables an account of the tenant (`None`: of the operator); disabling ends all
    /// its sessions. Returns whether the flag changed; `NotFound` for an account of another scope.
    pub async fn set_staff_disabled(
        &self,
        tx: &mut Tx,
        tenant_key: Option<&str>,
        id: &str,
        disabled: bool,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = tx
            .execute(
                "UPDATE staff_users SET disabled = $1, updated_at = $2
                 WHERE id = $3 AND COALESCE(tenant_key, 'installation') = $4 AND disabled <> $1",
                args![disabled, crate::now_ms(now), id, scope(tenant_key)],
            )
            .await?;
        if n == 0 {
            account_in_scope(tx, tenant_key, id).await?;
        }
        if disabled {
            delete_sessions_of(tx, id).await?;
        }
        Ok(n > 0)
    }

    /// Replaces the link token of an account of the tenant (`None`: of the operator): a new
    /// enrolment or reset link; the old one stops working.
    pub async fn set_staff_enrol_token(
        &self,
        tx: &mut Tx,
        tenant_key: Option<&str>,
        id: &str,
        token_hash: &[u8],
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let n = tx
            .execute(
                "UPDATE staff_users SET enrol_token_hash = $1, enrol_expires_at = $2, updated_at = $3
                 WHERE id = $4 AND COALESCE(tenant_key, 'installation') = $5",
                args![token_hash, crate::now_ms(expires_at), crate::now_ms(now), id, scope(tenant_key)],
            )
            .await?;
        crate::cases::found(n)
    }

    /// Second-factor reset of an account of the tenant (`None`: of the operator): the secret is
    /// dropped and a new one must be enrolled.
    pub async fn clear_staff_totp(
        &self,
        tx: &mut Tx,
        tenant_key: Option<&str>,
        id: &str,
    ) -> Result<(), StoreError> {
        let n = tx
            .execute(
                "UPDATE staff_users SET totp_secret = NULL, totp_confirmed = $1, totp_last_step = NULL
                 WHERE id = $2 AND COALESCE(tenant_key, 'installation') = $3",
                args![false, id, scope(tenant_key)],
            )
            .await?;
        crate::cases::found(n)
    }
}

/// `NotFound` unless the account belongs to the scope. The statements spell out
/// [`INSTALLATION_SCOPE`] as `'installation'` for the operator's accounts, which have no tenant.
async fn account_in_scope(
    tx: &mut Tx,
    tenant_key: Option<&str>,
    id: &str,
) -> Result<(), StoreError> {
    tx.fetch_optional(
        "SELECT id FROM staff_users WHERE id = $1 AND COALESCE(tenant_key, 'installation') = $2",
        args![id, scope(tenant_key)],
    )
    .await?
    .map(|_| ())
    .ok_or(StoreError::NotFound)
}

/// Uses up a link: true for exactly one caller, however many race.
pub async fn consume_enrol_token(
    tx: &mut Tx,
    id: &str,
    token_hash: &[u8],
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE staff_users SET enrol_token_hash = NULL, enrol_expires_at = NULL
             WHERE id = $1 AND enrol_token_hash = $2",
            args![id, token_hash],
        )
        .await?;
    Ok(n == 1)
}

/// Stores a new, not yet confirmed TOTP secret (already sealed) of an account without one.
pub async fn set_pending_totp(tx: &mut Tx, id: &str, sealed: &[u8]) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE staff_users SET totp_secret = $1, totp_confirmed = $2, totp_last_step = NULL
         WHERE id = $3 AND totp_confirmed = $2",
        args![sealed, false, id],
    )
    .await?;
    Ok(())
}

/// Records the use of a TOTP time step. False when this or a later step was used already: the
/// code is a replay. Confirms the secret on first use.
pub async fn use_totp_step(tx: &mut Tx, id: &str, step: i64) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE staff_users SET totp_last_step = $1, totp_confirmed = $2
             WHERE id = $3 AND (totp_last_step IS NULL OR totp_last_step < $1)",
            args![step, true, id],
        )
        .await?;
    Ok(n == 1)
}

pub async fn set_password_hash(
    tx: &mut Tx,
    id: &str,
    hash: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE staff_users SET password_hash = $1, updated_at = $2 WHERE id = $3",
        args![hash, crate::now_ms(now), id],
    )
    .await?;
    Ok(())
}

pub async fn set_oidc_subject(tx: &mut Tx, id: &str, subject: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE staff_users SET oidc_subject = $1 WHERE id = $2",
        args![subject, id],
    )
    .await?;
    Ok(())
}

// ---- sessions ----

pub async fn insert_session(
    tx: &mut Tx,
    token_hash: &[u8],
    row: &SessionRow,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO staff_sessions (token_hash, user_id, stage, next_path, pending_password,
            created_at, last_seen_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            token_hash,
            row.user_id.clone(),
            row.stage.clone(),
            row.next_path.clone(),
            row.pending_password.clone(),
            row.created_at,
            row.last_seen_at,
            row.expires_at
        ],
    )
    .await?;
    Ok(())
}

pub async fn touch_session(tx: &mut Tx, token_hash: &[u8], at_ms: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE staff_sessions SET last_seen_at = $1 WHERE token_hash = $2",
        args![at_ms, token_hash],
    )
    .await?;
    Ok(())
}

/// Removes a session; true when it existed (so that only one request can use it up).
pub async fn delete_session(tx: &mut Tx, token_hash: &[u8]) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "DELETE FROM staff_sessions WHERE token_hash = $1",
            args![token_hash],
        )
        .await?
        == 1)
}

pub async fn delete_sessions_of(tx: &mut Tx, user_id: &str) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM staff_sessions WHERE user_id = $1",
        args![user_id],
    )
    .await
}

/// Deletes sessions past their absolute end, pending OIDC logins past theirs, and throttle
/// counters untouched since `forget_before_ms`.
pub async fn delete_expired(
    tx: &mut Tx,
    now_ms: i64,
    forget_before_ms: i64,
) -> Result<u64, StoreError> {
    let a = tx
        .execute(
            "DELETE FROM staff_sessions WHERE expires_at <= $1",
            args![now_ms],
        )
        .await?;
    let b = tx
        .execute(
            "DELETE FROM staff_oidc_logins WHERE expires_at <= $1",
            args![now_ms],
        )
        .await?;
    let c = tx
        .execute(
            "DELETE FROM staff_throttle WHERE last_failure < $1",
            args![forget_before_ms],
        )
        .await?;
    Ok(a + b + c)
}

impl Store {
    pub async fn staff_session(&self, token_hash: &[u8]) -> Result<Option<SessionRow>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT user_id, stage, next_path, pending_password, created_at, last_seen_at, expires_at
                 FROM staff_sessions WHERE token_hash = $1",
                args![token_hash],
            )
            .await?;
        row.map(|r| {
            Ok(SessionRow {
                user_id: r.text("user_id")?,
                stage: r.text("stage")?,
                next_path: r.opt_text("next_path")?,
                pending_password: r.opt_text("pending_password")?,
                created_at: r.i64("created_at")?,
                last_seen_at: r.i64("last_seen_at")?,
                expires_at: r.i64("expires_at")?,
            })
        })
        .transpose()
    }

    /// How many sessions (of any stage) an account has; for tests and the operator.
    pub async fn count_staff_sessions(&self, user_id: &str) -> Result<i64, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM staff_sessions WHERE user_id = $1",
                args![user_id],
            )
            .await?;
        row.map(|r| r.i64("n")).transpose().map(|n| n.unwrap_or(0))
    }

    // ---- throttling ----

    /// Failures and the time of the last one under a throttle key.
    pub async fn throttle_state(&self, key: &str) -> Result<Option<(i64, i64)>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT failures, last_failure FROM staff_throttle WHERE key = $1",
                args![key],
            )
            .await?;
        row.map(|r| Ok((r.i64("failures")?, r.i64("last_failure")?)))
            .transpose()
    }

    pub async fn oidc_login(&self, token_hash: &[u8]) -> Result<Option<OidcLogin>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT state, nonce, verifier, next_path, expires_at FROM staff_oidc_logins WHERE token_hash = $1",
                args![token_hash],
            )
            .await?;
        row.map(|r| {
            Ok(OidcLogin {
                state: r.text("state")?,
                nonce: r.text("nonce")?,
                verifier: r.text("verifier")?,
                next_path: r.opt_text("next_path")?,
                expires_at: r.i64("expires_at")?,
            })
        })
        .transpose()
    }
}

/// Counts one failure. A counter whose last failure is older than `forget_before_ms` starts over.
pub async fn throttle_fail(
    tx: &mut Tx,
    key: &str,
    now_ms: i64,
    forget_before_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO staff_throttle (key, failures, last_failure) VALUES ($1, 1, $2)
         ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN staff_throttle.last_failure < $3 THEN 1 ELSE staff_throttle.failures + 1 END,
            last_failure = $2",
        args![key, now_ms, forget_before_ms],
    )
    .await?;
    Ok(())
}

pub async fn throttle_reset(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM staff_throttle WHERE key = $1", args![key])
        .await?;
    Ok(())
}

pub async fn insert_oidc_login(
    tx: &mut Tx,
    token_hash: &[u8],
    login: &OidcLogin,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO staff_oidc_logins (token_hash, state, nonce, verifier, next_path, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            token_hash,
            login.state.clone(),
            login.nonce.clone(),
            login.verifier.clone(),
            login.next_path.clone(),
            login.expires_at
        ],
    )
    .await?;
    Ok(())
}

/// Uses up a pending OIDC login: true for exactly one caller.
pub async fn take_oidc_login(tx: &mut Tx, token_hash: &[u8]) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "DELETE FROM staff_oidc_logins WHERE token_hash = $1",
            args![token_hash],
        )
        .await?
        == 1)
}

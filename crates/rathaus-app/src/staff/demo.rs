//! Demo staff: for each pilot a clerk and a tenant administrator, and one operator administrator,
//! already enrolled. Passwords and TOTP secrets are derived from the installation's master key:
//! stable across runs of `rathaus demo`, different in every installation, written nowhere.

use data_encoding::BASE32_NOPAD;
use rathaus_crypto::totp;
use rathaus_domain::staff::Role;
use rathaus_store::staff::NewStaff;

use super::{audit, hash_password};
use crate::{App, AppError};

/// One demo account with its credentials, for the demo banner.
#[derive(Clone, PartialEq, Eq)]
pub struct DemoStaff {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub tenant_key: Option<String>,
    pub password: String,
    /// Base32, for typing into an authenticator app.
    pub totp_secret: String,
    pub otpauth_uri: String,
    /// The account, once it exists.
    pub account_id: Option<String>,
    /// Whether the account still has these credentials. Not so once the master key was rotated
    /// (they derive from it) or someone gave the account a new second factor.
    pub current: bool,
    secret: Vec<u8>,
}

impl std::fmt::Debug for DemoStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoStaff")
            .field("role", &self.role)
            .field("tenant_key", &self.tenant_key)
            .finish_non_exhaustive()
    }
}

impl DemoStaff {
    /// The code an authenticator app shows at `unix_seconds` (for tests and scripts).
    pub fn code_at(&self, unix_seconds: i64) -> String {
        totp::code_at(&self.secret, unix_seconds)
    }
}

/// (tenant key, e-mail domain, tenant title) of the pilots whose staff the demo creates.
const PILOT_STAFF: [(&str, &str, &str); 3] = [
    ("12060181", "panketal.example", "Panketal"),
    ("12069020", "bad-belzig.example", "Bad Belzig"),
    ("120695910", "amt-niemegk.example", "Amt Niemegk"),
];

pub const OPERATOR_EMAIL: &str = "betrieb@dikom.example";

fn plan() -> Vec<(Option<&'static str>, Role, String, String)> {
    let mut out = Vec::new();
    for (key, domain, title) in PILOT_STAFF {
        out.push((
            Some(key),
            Role::Clerk,
            format!("sachbearbeitung@{domain}"),
            format!("Sachbearbeitung {title}"),
        ));
        out.push((
            Some(key),
            Role::TenantAdmin,
            format!("verwaltung@{domain}"),
            format!("Verwaltung {title}"),
        ));
    }
    out.push((
        None,
        Role::OperatorAdmin,
        OPERATOR_EMAIL.to_owned(),
        "Betrieb Rechenzentrum".to_owned(),
    ));
    out
}

impl App {
    /// The demo accounts and their credentials, derived from the master key (nothing is written).
    /// A rotation changes them, and should: whoever saw the printed demo credentials of the old
    /// key learns nothing about the new ones. The accounts keep what is stored (password hash,
    /// sealed second factor), and the banner names those no longer derived from the key.
    pub async fn demo_staff_credentials(&self) -> Result<Vec<DemoStaff>, AppError> {
        let operator = self
            .operator_name()
            .await?
            .unwrap_or_else(|| super::PRODUCT_NAME.to_owned());
        let mut out = Vec::new();
        for (tenant_key, role, email, name) in plan() {
            let seed = self
                .store
                .keyring()
                .derive_secret(&format!("demo-staff|{email}"))?;
            // Four groups of five base32 characters: 100 bits, easy to type, and never a word.
            let pw_raw = BASE32_NOPAD.encode(&seed[..13]).to_lowercase();
            let password = format!(
                "demo-{}-{}-{}-{}",
                &pw_raw[0..5],
                &pw_raw[5..10],
                &pw_raw[10..15],
                &pw_raw[15..20]
            );
            let secret = self
                .store
                .keyring()
                .derive_secret(&format!("demo-staff-totp|{email}"))?[..totp::SECRET_LEN]
                .to_vec();
            let issuer = match tenant_key {
                Some(k) => match k.parse() {
                    Ok(key) => self
                        .store
                        .tenant(&key)
                        .await?
                        .map_or_else(|| operator.clone(), |t| t.title()),
                    Err(_) => operator.clone(),
                },
                None => operator.clone(),
            };
            out.push(DemoStaff {
                otpauth_uri: totp::otpauth_uri(&secret, &issuer, &email),
                totp_secret: totp::secret_base32(&secret),
                email,
                name,
                role,
                tenant_key: tenant_key.map(str::to_owned),
                password,
                account_id: None,
                current: true,
                secret,
            });
        }
        Ok(out)
    }

    /// Creates the demo accounts that do not exist yet (idempotent; existing accounts are left as
    /// an administrator may have changed them). Returns the credentials of all demo accounts, each
    /// marked whether the account still has them.
    pub async fn seed_demo_staff(&self) -> Result<Vec<DemoStaff>, AppError> {
        let mut all = self.demo_staff_credentials().await?;
        for d in &mut all {
            if let Some(account) = self.store.staff_by_email(&d.email).await? {
                d.current = account.totp_secret.as_deref() == Some(d.secret.as_slice());
                d.account_id = Some(account.id);
                continue;
            }
            let tenant_key = d.tenant_key.as_deref();
            self.store
                .ensure_staff_scope(tenant_key, self.now())
                .await?;
            let hash = hash_password(self, &d.password).await?;
            let id = rathaus_crypto::token::new_record_id(self.rng.as_ref())?;
            let mut tx = self.store.begin().await?;
            self.store
                .insert_staff(
                    &mut tx,
                    &NewStaff {
                        id: &id,
                        tenant_key,
                        role: d.role,
                        email: &d.email,
                        name: &d.name,
                        services: &[],
                        enrol_token_hash: None,
                        enrol_expires_at: None,
                        password_hash: Some(&hash),
                        totp_secret: Some(&d.secret),
                    },
                    self.now(),
                )
                .await?;
            audit(
                self,
                &mut tx,
                "system",
                tenant_key,
                "staff.add",
                &format!("staff:{id}"),
                &format!("ok: demo account, role {}", d.role.code()),
            )
            .await?;
            tx.commit().await?;
            d.account_id = Some(id);
        }
        Ok(all)
    }
}

//! Staff identity for the back office: accounts, enrolment by one-time link, password and TOTP
//! sign-in, server-side sessions, throttling of guessing, and optional OIDC sign-in.
//!
//! Every change is audit-logged in the same transaction, naming accounts by id (`staff:<id>`),
//! never by e-mail address. Passwords are hashed with Argon2id; at most [`MAX_CONCURRENT_HASHES`]
//! hashes run at once, so that a flood of sign-in attempts queues instead of exhausting memory
//! (64 MiB each).

mod auth;
pub mod demo;
mod http;
mod link_mail;
pub mod oidc;
pub mod throttle;

use std::time::Duration;

use rathaus_crypto::password::{self, PasswordProblem};
use rathaus_crypto::token::{new_record_id, new_token, token_hash};
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::Tenant;
use rathaus_store::Tx;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::staff::{NewStaff, StaffAccount};
use tokio::sync::Semaphore;

use crate::mail::enqueue_email;
use crate::{Actor, App, AppError};
use link_mail::{LinkPurpose, link_email};

pub use auth::{CodeStep, PendingStage, SignInError, SignedIn, qr_svg_data_uri, safe_next};
pub use rathaus_store::staff::INSTALLATION_SCOPE;

/// Argon2id with 64 MiB per hash: two at a time keep a flood to 128 MiB.
pub const MAX_CONCURRENT_HASHES: usize = 2;
static HASHING: Semaphore = Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// How long an enrolment or reset link stays valid.
pub const LINK_VALIDITY: time::Duration = time::Duration::days(7);

/// The product's name, refused inside passwords like the municipality's.
pub const PRODUCT_NAME: &str = "rathaus";

/// Where a one-time enrolment or reset link went. Whoever holds the link can take the account
/// over, so it reaches only the person it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkDelivery {
    /// Sent by e-mail to the account's own address (an administrator's action in the office,
    /// who is told only that it was sent).
    Mailed,
    /// The operator's console (`rathaus user add|reset`) prints it: the channel for a
    /// municipality's first administrator and for the operator's own accounts.
    ForOperator(String),
}

impl LinkDelivery {
    /// The link, where it was handed to the operator.
    pub fn operator_link(self) -> Option<String> {
        match self {
            LinkDelivery::Mailed => None,
            LinkDelivery::ForOperator(link) => Some(link),
        }
    }
}

/// Links are printed only for the operator's console; any account in the office gets them mailed.
fn mails_links(actor: &Actor) -> bool {
    matches!(actor, Actor::Staff(_))
}

fn operator_accounts_by_cli() -> AppError {
    AppError::BadInput(
        "Konten des Betriebs erhalten ihren Link über die Konsole (rathaus user add / rathaus user reset).".into(),
    )
}

/// An account as shown to administrators (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffSummary {
    pub id: String,
    pub tenant_key: Option<String>,
    pub role: Role,
    pub email: String,
    pub name: String,
    pub services: Vec<String>,
    pub disabled: bool,
    /// Password and second factor set up.
    pub enrolled: bool,
    pub oidc_linked: bool,
}

impl From<&StaffAccount> for StaffSummary {
    fn from(a: &StaffAccount) -> Self {
        StaffSummary {
            id: a.id.clone(),
            tenant_key: a.tenant_key.clone(),
            role: a.role,
            email: a.email.clone(),
            name: a.name.clone(),
            services: a.services.clone(),
            disabled: a.disabled,
            enrolled: a.is_enrolled(),
            oidc_linked: a.oidc_subject.is_some(),
        }
    }
}

pub(crate) fn identity(a: &StaffAccount) -> StaffIdentity {
    StaffIdentity {
        user_id: a.id.clone(),
        tenant_key: a.tenant_key.clone(),
        role: a.role,
        display_name: a.name.clone(),
        services: a.services.clone(),
    }
}

/// Trims and lower-cases an e-mail address and checks its shape (one `@`, a dotted domain, no
/// spaces or control characters, at most 254 characters). The error never repeats the input.
pub fn normalise_email(raw: &str) -> Result<String, AppError> {
    let e = raw.trim().to_lowercase();
    let bad = || {
        AppError::BadInput(
            "Bitte geben Sie eine gültige E-Mail-Adresse ein (wie name@example.org).".into(),
        )
    };
    if e.len() > 254 || e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = e.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || e.contains(['<', '>', '"', ',', ';'])
    {
        return Err(bad());
    }
    Ok(e)
}

fn check_name(name: &str) -> Result<String, AppError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(AppError::BadInput(
            "Der Name muss 1 bis 200 Zeichen lang sein und darf keine Steuerzeichen enthalten."
                .into(),
        ));
    }
    Ok(n.to_owned())
}

/// The words a tenant's staff may not use in passwords: its name, its slug and the product's name.
pub(crate) fn forbidden_words(tenant: Option<&Tenant>) -> Vec<String> {
    let mut words = vec![PRODUCT_NAME.to_owned()];
    if let Some(t) = tenant {
        words.push(t.name.clone());
        words.push(t.slug.to_string());
    }
    words
}

/// The message for a refused password (German: shown to staff).
pub fn password_message(p: &PasswordProblem) -> String {
    match p {
        PasswordProblem::TooShort => format!(
            "Das Passwort ist zu kurz: Es muss mindestens {} Zeichen lang sein. Ein Satz aus mehreren Wörtern ist leicht zu merken.",
            password::MIN_LEN
        ),
        PasswordProblem::TooLong => format!(
            "Das Passwort ist zu lang: Es darf höchstens {} Zeichen lang sein.",
            password::MAX_LEN
        ),
        PasswordProblem::Common => "Dieses Passwort ist aus Datenlecks bekannt und wird bei Angriffen zuerst ausprobiert. Bitte wählen Sie ein anderes.".into(),
        PasswordProblem::ContainsWord(w) => format!(
            "Das Passwort darf „{w}“ nicht enthalten. Bitte wählen Sie ein anderes."
        ),
    }
}

/// Runs Argon2id on a blocking thread under the concurrency cap.
pub(crate) async fn hash_password(app: &App, password: &str) -> Result<String, AppError> {
    let _permit = acquire_hashing().await?;
    let rng = app.rng.clone();
    let pw = password.to_owned();
    let cost = app.config.password_cost;
    tokio::task::spawn_blocking(move || password::hash_password_with(rng.as_ref(), &pw, cost))
        .await
        .map_err(|e| AppError::Internal(format!("hashing task: {e}")))?
        .map_err(AppError::from)
}

/// Verifies on a blocking thread under the cap; `None` as the stored hash spends the same time.
pub(crate) async fn verify_password(
    stored: Option<String>,
    password: &str,
) -> Result<bool, AppError> {
    let _permit = acquire_hashing().await?;
    let pw = password.to_owned();
    tokio::task::spawn_blocking(move || match stored {
        Some(h) => password::verify_password(&h, &pw),
        None => {
            password::verify_dummy(&pw);
            false
        }
    })
    .await
    .map_err(|e| AppError::Internal(format!("hashing task: {e}")))
}

async fn acquire_hashing() -> Result<tokio::sync::SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(Duration::from_secs(20), HASHING.acquire()).await {
        Ok(Ok(p)) => Ok(p),
        _ => Err(AppError::Unavailable(
            "too many sign-ins at once; please try again in a moment".into(),
        )),
    }
}

pub(crate) async fn audit(
    app: &App,
    tx: &mut Tx,
    actor: &str,
    tenant: Option<&str>,
    action: &str,
    object: &str,
    outcome: &str,
) -> Result<(), AppError> {
    append(
        tx,
        &NewAuditEntry {
            at: app.now(),
            actor,
            tenant,
            action,
            object,
            outcome,
        },
    )
    .await?;
    Ok(())
}

impl App {
    /// The link a person opens to set up (or reset) their account.
    pub fn enrolment_link(&self, token: &str) -> String {
        format!("{}/verwaltung/einrichten/{token}", self.config.public_url)
    }

    /// What `actor` may do with accounts of `tenant_key` (`None`: the operator's accounts).
    async fn may_manage(
        &self,
        actor: &Actor,
        tenant_key: Option<&str>,
        role: Role,
    ) -> Result<(), AppError> {
        let Actor::Staff(id) = actor else {
            return match actor {
                Actor::Cli | Actor::System => Ok(()),
                _ => Err(AppError::Forbidden(
                    "Konten verwalten nur die Verwaltung der Kommune und der Betrieb.".into(),
                )),
            };
        };
        let me = self
            .store
            .staff_by_id(id)
            .await?
            .filter(|a| !a.disabled)
            .ok_or_else(|| {
                AppError::Forbidden("Dieses Konto gibt es nicht oder es ist gesperrt.".into())
            })?;
        match me.role {
            Role::OperatorAdmin => Ok(()),
            Role::TenantAdmin
                if me.tenant_key.as_deref() == tenant_key
                    && tenant_key.is_some()
                    && role != Role::OperatorAdmin =>
            {
                Ok(())
            }
            _ => Err(AppError::Forbidden(
                "Ihre Rolle erlaubt es nicht, diese Konten zu verwalten.".into(),
            )),
        }
    }

    /// Creates an account with a one-time enrolment link (valid for [`LINK_VALIDITY`]): mailed to
    /// the new account's address when an account in the office creates it, handed back for the
    /// operator's console otherwise. Operator accounts (`tenant` None) have the role
    /// OperatorAdmin, and only they do.
    pub async fn add_staff(
        &self,
        actor: &Actor,
        tenant: Option<&Tenant>,
        role: Role,
        email: &str,
        name: &str,
        services: &[String],
    ) -> Result<(StaffIdentity, LinkDelivery), AppError> {
        let email = normalise_email(email)?;
        let name = check_name(name)?;
        match (tenant, role) {
            (None, Role::OperatorAdmin)
            | (Some(_), Role::TenantAdmin | Role::Clerk | Role::Auditor) => {}
            (None, _) => {
                return Err(AppError::BadInput(format!(
                    "Ein Konto ohne Kommune muss die Rolle operator_admin haben, nicht {}.",
                    role.code()
                )));
            }
            (Some(_), Role::OperatorAdmin) => {
                return Err(AppError::BadInput(
                    "Konten mit der Rolle operator_admin gehören zum Betrieb: Bitte keine Kommune angeben.".into(),
                ));
            }
        }
        for s in services {
            if s.is_empty()
                || s.len() > 64
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(AppError::BadInput(format!(
                    "{s:?} ist keine Kennung einer Leistung."
                )));
            }
        }
        let services: Vec<String> = if role == Role::Clerk {
            services.to_vec()
        } else {
            Vec::new()
        };
        let tenant_key = tenant.map(|t| t.key.as_str());
        self.may_manage(actor, tenant_key, role).await?;
        if mails_links(actor) && tenant.is_none() {
            return Err(operator_accounts_by_cli());
        }
        if self.store.staff_by_email(&email).await?.is_some() {
            return Err(AppError::Conflict(
                "Es gibt bereits ein Konto mit dieser E-Mail-Adresse.".into(),
            ));
        }
        self.store
            .ensure_staff_scope(tenant_key, self.now())
            .await?;
        let id = new_record_id(self.rng.as_ref())?;
        let token = new_token(self.rng.as_ref())?;
        let mut tx = self.store.begin().await?;
        self.store
            .insert_staff(
                &mut tx,
                &NewStaff {
                    id: &id,
                    tenant_key,
                    role,
                    email: &email,
                    name: &name,
                    services: &services,
                    enrol_token_hash: Some(token_hash(&token)),
                    enrol_expires_at: Some(self.now() + LINK_VALIDITY),
                    password_hash: None,
                    totp_secret: None,
                },
                self.now(),
            )
            .await
            .map_err(|e| match e {
                rathaus_store::StoreError::Conflict(_) => AppError::Conflict(
                    "Es gibt bereits ein Konto mit dieser E-Mail-Adresse.".into(),
                ),
                other => other.into(),
            })?;
        audit(
            self,
            &mut tx,
            &actor.audit_name(),
            tenant_key,
            "staff.add",
            &format!("staff:{id}"),
            &format!("ok: role {}", role.code()),
        )
        .await?;
        let link = self.enrolment_link(&token);
        let delivery = match tenant {
            Some(t) if mails_links(actor) => {
                let mail = link_email(
                    &email,
                    &name,
                    &t.title(),
                    LinkPurpose::Enrol,
                    &link,
                    self.now() + LINK_VALIDITY,
                );
                enqueue_email(self, &mut tx, t.key.as_str(), None, &mail).await?;
                LinkDelivery::Mailed
            }
            _ => LinkDelivery::ForOperator(link),
        };
        tx.commit().await?;
        if delivery == LinkDelivery::Mailed {
            self.mail.wake();
        }
        let who = StaffIdentity {
            user_id: id,
            tenant_key: tenant_key.map(str::to_owned),
            role,
            display_name: name,
            services,
        };
        Ok((who, delivery))
    }

    /// The accounts of one tenant, or all accounts of the installation (`None`).
    pub async fn list_staff(
        &self,
        tenant_key: Option<&str>,
    ) -> Result<Vec<StaffSummary>, AppError> {
        let accounts = match tenant_key {
            Some(t) => self.store.list_staff(t).await?,
            None => self.store.list_all_staff().await?,
        };
        Ok(accounts.iter().map(StaffSummary::from).collect())
    }

    pub async fn staff_account(&self, user_id: &str) -> Result<StaffSummary, AppError> {
        self.store
            .staff_by_id(user_id)
            .await?
            .as_ref()
            .map(StaffSummary::from)
            .ok_or_else(|| AppError::NotFound(format!("no staff account {user_id:?}")))
    }

    async fn managed_account(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> Result<StaffAccount, AppError> {
        let account = self
            .store
            .staff_by_id(user_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no staff account {user_id:?}")))?;
        self.may_manage(actor, account.tenant_key.as_deref(), account.role)
            .await?;
        Ok(account)
    }

    /// Disables (or re-enables) an account. Disabling ends all its sessions at once. Returns
    /// whether anything changed.
    pub async fn set_staff_disabled(
        &self,
        actor: &Actor,
        user_id: &str,
        disabled: bool,
    ) -> Result<bool, AppError> {
        let account = self.managed_account(actor, user_id).await?;
        if actor == &Actor::Staff(account.id.clone()) && disabled {
            return Err(AppError::BadInput(
                "Das eigene Konto können Sie nicht sperren.".into(),
            ));
        }
        let mut tx = self.store.begin().await?;
        let changed = self
            .store
            .set_staff_disabled(
                &mut tx,
                account.tenant_key.as_deref(),
                &account.id,
                disabled,
                self.now(),
            )
            .await?;
        if changed {
            audit(
                self,
                &mut tx,
                &actor.audit_name(),
                account.tenant_key.as_deref(),
                if disabled {
                    "staff.disable"
                } else {
                    "staff.enable"
                },
                &format!("staff:{}", account.id),
                "ok",
            )
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// A new one-time link with which the person sets a new password. The second factor stays:
    /// the reset completes only with a code from the enrolled authenticator. An account that was
    /// never enrolled gets a fresh enrolment link instead.
    pub async fn reset_staff(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> Result<LinkDelivery, AppError> {
        self.new_link(actor, user_id, false).await
    }

    /// For a lost authenticator: the link sets a new password *and* enrols a new second factor.
    /// The old secret is deleted at once and all sessions end. An administrator's decision, after
    /// checking the person's identity outside the platform.
    pub async fn reset_staff_second_factor(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> Result<LinkDelivery, AppError> {
        self.new_link(actor, user_id, true).await
    }

    /// A new one-time link, delivered as [`LinkDelivery`] says.
    async fn new_link(
        &self,
        actor: &Actor,
        user_id: &str,
        second_factor: bool,
    ) -> Result<LinkDelivery, AppError> {
        let account = self.managed_account(actor, user_id).await?;
        // In the office the link goes to the account's own address, under its municipality.
        let mail_to = if mails_links(actor) {
            let key = account
                .tenant_key
                .as_deref()
                .ok_or_else(operator_accounts_by_cli)?;
            Some(crate::tenants::resolve(self, key).await?)
        } else {
            None
        };
        let token = new_token(self.rng.as_ref())?;
        let mut tx = self.store.begin().await?;
        self.store
            .set_staff_enrol_token(
                &mut tx,
                account.tenant_key.as_deref(),
                &account.id,
                &token_hash(&token),
                self.now() + LINK_VALIDITY,
                self.now(),
            )
            .await?;
        if second_factor {
            self.store
                .clear_staff_totp(&mut tx, account.tenant_key.as_deref(), &account.id)
                .await?;
            rathaus_store::staff::delete_sessions_of(&mut tx, &account.id).await?;
        }
        audit(
            self,
            &mut tx,
            &actor.audit_name(),
            account.tenant_key.as_deref(),
            if second_factor {
                "staff.reset_second_factor"
            } else {
                "staff.reset"
            },
            &format!("staff:{}", account.id),
            "ok",
        )
        .await?;
        let link = self.enrolment_link(&token);
        let Some(tenant) = mail_to else {
            tx.commit().await?;
            return Ok(LinkDelivery::ForOperator(link));
        };
        let purpose = if !account.is_enrolled() {
            LinkPurpose::Enrol
        } else if second_factor {
            LinkPurpose::SecondFactor
        } else {
            LinkPurpose::Reset
        };
        let mail = link_email(
            &account.email,
            &account.name,
            &tenant.title(),
            purpose,
            &link,
            self.now() + LINK_VALIDITY,
        );
        enqueue_email(self, &mut tx, tenant.key.as_str(), None, &mail).await?;
        tx.commit().await?;
        self.mail.wake();
        Ok(LinkDelivery::Mailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Sachbearbeitung@Panketal.Example ").unwrap(),
            "sachbearbeitung@panketal.example"
        );
        for bad in [
            "",
            "a",
            "a@b",
            "@b.de",
            "a@.de",
            "a@b.",
            "a b@c.de",
            "a@b@c.de",
            "x<y>@a.de",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}

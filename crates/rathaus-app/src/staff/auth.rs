//! Signing in (password, then a TOTP code), enrolment and reset by one-time link, sessions.
//!
//! A session token lives in the browser's cookie; the database keeps only its hash. A session is
//! first *pending* (password accepted, code outstanding; or link used, code outstanding) and
//! becomes *full* with the code, under a new token, so that a token seen before sign-in is
//! worthless after it. A password set by link is kept in the pending session and written to the
//! account only together with a valid code: a stolen reset link neither bypasses the second factor
//! nor changes the password.

use std::net::IpAddr;

use rathaus_crypto::password::check_new_password;
use rathaus_crypto::token::{looks_like_token, new_token, token_hash};
use rathaus_crypto::totp;
use rathaus_domain::staff::StaffIdentity;
use rathaus_store::staff::{self as store_staff, SessionRow, StaffAccount};

use super::throttle::{self, Keys, crate_now_ms};
use super::{audit, forbidden_words, hash_password, identity, password_message, verify_password};
use crate::{App, AppError};

/// How long the step between password and code (or link and code) may take.
pub const PENDING_LIFETIME: time::Duration = time::Duration::minutes(10);
/// The idle timer is written back at most this often, so that reading pages stays cheap.
const TOUCH_EVERY_MS: i64 = 60_000;

const STAGE_TOTP: &str = "totp";
const STAGE_ENROL: &str = "enrol";
const STAGE_RESET: &str = "reset";
const STAGE_FULL: &str = "full";

/// Why a sign-in step was refused. `Invalid` deliberately does not say whether the address,
/// the password or the account's state was wrong.
#[derive(Debug)]
pub enum SignInError {
    /// Too many failures: try again in this many seconds.
    Throttled {
        retry_after: i64,
    },
    Invalid,
    /// A code that was used already (replay).
    Replayed,
    /// The pending session is unknown or expired: start again.
    Expired,
    /// A new password is not acceptable (message for the person).
    Password(String),
    App(AppError),
}

impl From<AppError> for SignInError {
    fn from(e: AppError) -> Self {
        SignInError::App(e)
    }
}

impl From<rathaus_store::StoreError> for SignInError {
    fn from(e: rathaus_store::StoreError) -> Self {
        SignInError::App(e.into())
    }
}

/// A full session: the token for the cookie and where to go next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub token: String,
    pub next: String,
    pub who: StaffIdentity,
}

/// After the first step: the pending session's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeStep {
    pub token: String,
}

/// What the code page shows for a pending session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingStage {
    /// Enter the code from the app.
    Code,
    /// Password reset: confirm with the code from the enrolled app.
    Reset,
    /// Enrolment: scan this secret, then enter a code.
    Enrol {
        name: String,
        secret_grouped: String,
        otpauth_uri: String,
        qr_svg_data_uri: String,
    },
}

/// Where to go after signing in: only a local path, never another site. Anything else is dropped.
pub fn safe_next(raw: Option<&str>) -> Option<String> {
    let p = raw?.trim();
    let ok = p.starts_with('/')
        && !p.starts_with("//")
        && !p.starts_with("/\\")
        && p.len() <= 512
        && !p.chars().any(|c| c.is_control() || c == '\\')
        && !p.contains("://");
    ok.then(|| p.to_owned())
}

fn ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// An SVG image of a QR code as a data URI (the page's policy allows `data:` images, no scripts).
pub fn qr_svg_data_uri(text: &str) -> Result<String, AppError> {
    let code = qrcode::QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::Internal(format!("QR code: {e}")))?;
    let width = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut path = String::new();
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"{}\" height=\"{}\" shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>",
        size * 6,
        size * 6
    );
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        data_encoding::BASE64.encode(svg.as_bytes())
    ))
}

impl App {
    fn idle_ms(&self) -> i64 {
        i64::from(self.config.session_idle_minutes) * 60_000
    }

    fn absolute_ms(&self) -> i64 {
        i64::from(self.config.session_absolute_hours) * 3_600_000
    }

    async fn throttled(&self, keys: &Keys) -> Result<(), SignInError> {
        let wait = throttle::wait_seconds(self, keys).await?;
        if wait > 0 {
            metrics::counter!("staff_sign_in_throttled_total").increment(1);
            return Err(SignInError::Throttled { retry_after: wait });
        }
        Ok(())
    }

    /// Counts a failure and audits it (`object` is `staff:<id>` or `staff:unknown`).
    async fn sign_in_failed(
        &self,
        keys: &Keys,
        account: Option<&StaffAccount>,
        outcome: &str,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        throttle::record_failure(self, &mut tx, keys).await?;
        let object =
            account.map_or_else(|| "staff:unknown".to_owned(), |a| format!("staff:{}", a.id));
        audit(
            self,
            &mut tx,
            "anonymous",
            account.and_then(|a| a.tenant_key.as_deref()),
            "staff.sign_in",
            &object,
            &format!("denied: {outcome}"),
        )
        .await?;
        tx.commit().await?;
        metrics::counter!("staff_sign_in_failed_total").increment(1);
        Ok(())
    }

    /// First step: e-mail address and password. On success the code is asked next.
    pub async fn sign_in_password(
        &self,
        email: &str,
        password: &str,
        client: Option<IpAddr>,
        next: Option<&str>,
    ) -> Result<CodeStep, SignInError> {
        let email = email.trim().to_lowercase();
        let keys = Keys::new(self, &email, client)?;
        self.throttled(&keys).await?;
        let account = if email.is_empty() || email.len() > 254 {
            None
        } else {
            self.store.staff_by_email(&email).await?
        };
        let long = password.chars().count() > rathaus_crypto::password::MAX_LEN;
        let stored = account
            .as_ref()
            .filter(|_| !long)
            .and_then(|a| a.password_hash.clone());
        // Unknown accounts cost the same time as known ones.
        let ok = verify_password(stored, if long { "" } else { password }).await?;
        let Some(account) = account else {
            self.sign_in_failed(&keys, None, "unknown account").await?;
            return Err(SignInError::Invalid);
        };
        if !ok {
            self.sign_in_failed(&keys, Some(&account), "password")
                .await?;
            return Err(SignInError::Invalid);
        }
        if account.disabled || !account.is_enrolled() {
            let why = if account.disabled {
                "disabled"
            } else {
                "not enrolled"
            };
            self.sign_in_failed(&keys, Some(&account), why).await?;
            return Err(SignInError::Invalid);
        }
        let token = self
            .pending_session(&account.id, STAGE_TOTP, safe_next(next), None)
            .await?;
        Ok(CodeStep { token })
    }

    async fn pending_session(
        &self,
        user_id: &str,
        stage: &str,
        next: Option<String>,
        pending_password: Option<String>,
    ) -> Result<String, AppError> {
        let token = new_token(self.rng.as_ref())?;
        let now = ms(self.now());
        let mut tx = self.store.begin().await?;
        store_staff::insert_session(
            &mut tx,
            &token_hash(&token),
            &SessionRow {
                user_id: user_id.to_owned(),
                stage: stage.to_owned(),
                next_path: next,
                pending_password,
                created_at: now,
                last_seen_at: now,
                expires_at: now + PENDING_LIFETIME.whole_milliseconds() as i64,
            },
        )
        .await?;
        // Housekeeping where it costs nothing extra: expired sessions and old counters go.
        store_staff::delete_expired(
            &mut tx,
            now,
            now - throttle::FORGET_AFTER.whole_milliseconds() as i64,
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    async fn pending(&self, token: &str) -> Result<Option<(SessionRow, StaffAccount)>, AppError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let Some(s) = self.store.staff_session(&token_hash(token)).await? else {
            return Ok(None);
        };
        if s.stage == STAGE_FULL || s.expires_at <= ms(self.now()) {
            return Ok(None);
        }
        match self.store.staff_by_id(&s.user_id).await? {
            Some(a) if !a.disabled => Ok(Some((s, a))),
            _ => Ok(None),
        }
    }

    /// What the code page shows for a pending session; `None` when there is none (start again).
    pub async fn pending_stage(&self, token: &str) -> Result<Option<PendingStage>, AppError> {
        let Some((s, a)) = self.pending(token).await? else {
            return Ok(None);
        };
        Ok(Some(match s.stage.as_str() {
            STAGE_ENROL => {
                let secret = a.totp_secret.clone().ok_or_else(|| {
                    AppError::Internal("enrolment without a pending secret".into())
                })?;
                let issuer = self.totp_issuer(&a).await?;
                let uri = totp::otpauth_uri(&secret, &issuer, &a.email);
                PendingStage::Enrol {
                    name: a.name.clone(),
                    secret_grouped: totp::secret_grouped(&secret),
                    qr_svg_data_uri: qr_svg_data_uri(&uri)?,
                    otpauth_uri: uri,
                }
            }
            STAGE_RESET => PendingStage::Reset,
            _ => PendingStage::Code,
        }))
    }

    /// The name shown in authenticator apps: the operator's, so that entries are recognisable.
    async fn totp_issuer(&self, a: &StaffAccount) -> Result<String, AppError> {
        let operator = self
            .operator_name()
            .await?
            .unwrap_or_else(|| super::PRODUCT_NAME.to_owned());
        Ok(match &a.tenant_key {
            Some(k) => match k.parse() {
                Ok(key) => match self.store.tenant(&key).await? {
                    Some(t) => t.title(),
                    None => operator,
                },
                Err(_) => operator,
            },
            None => operator,
        })
    }

    /// Second step: the code from the app. Completes sign-in, enrolment or reset.
    pub async fn sign_in_code(
        &self,
        token: &str,
        code: &str,
        client: Option<IpAddr>,
    ) -> Result<SignedIn, SignInError> {
        let Some((session, account)) = self.pending(token).await? else {
            return Err(SignInError::Expired);
        };
        let keys = Keys::new(self, &account.email, client)?;
        self.throttled(&keys).await?;
        let secret = match (&account.totp_secret, session.stage.as_str()) {
            (Some(s), STAGE_ENROL) => s.clone(),
            (Some(s), _) if account.totp_confirmed => s.clone(),
            _ => return Err(SignInError::Expired),
        };
        let now_s = self.now().unix_timestamp();
        let Some(step) = totp::verify(&secret, code, now_s) else {
            self.sign_in_failed(&keys, Some(&account), "code").await?;
            return Err(SignInError::Invalid);
        };
        if account.totp_last_step.is_some_and(|last| step <= last) {
            self.sign_in_failed(&keys, Some(&account), "code used before")
                .await?;
            return Err(SignInError::Replayed);
        }
        let mut tx = self.store.begin().await?;
        if !store_staff::delete_session(&mut tx, &token_hash(token)).await? {
            return Err(SignInError::Expired);
        }
        if !store_staff::use_totp_step(&mut tx, &account.id, step).await? {
            drop(tx);
            self.sign_in_failed(&keys, Some(&account), "code used before")
                .await?;
            return Err(SignInError::Replayed);
        }
        let object = format!("staff:{}", account.id);
        let actor = format!("staff:{}", account.id);
        let tenant = account.tenant_key.as_deref();
        if let Some(pw) = &session.pending_password {
            store_staff::set_password_hash(&mut tx, &account.id, pw, self.now()).await?;
            let action = if session.stage == STAGE_ENROL {
                "staff.enrol"
            } else {
                "staff.password_reset"
            };
            audit(self, &mut tx, &actor, tenant, action, &object, "ok").await?;
            // A new password ends every other session of the account.
            store_staff::delete_sessions_of(&mut tx, &account.id).await?;
        }
        rathaus_store::staff::throttle_reset(&mut tx, &keys.account).await?;
        let signed = self
            .full_session(&mut tx, &account, session.next_path)
            .await?;
        audit(
            self,
            &mut tx,
            &actor,
            tenant,
            "staff.sign_in",
            &object,
            "ok",
        )
        .await?;
        tx.commit().await?;
        Ok(signed)
    }

    pub(crate) async fn full_session(
        &self,
        tx: &mut rathaus_store::Tx,
        account: &StaffAccount,
        next: Option<String>,
    ) -> Result<SignedIn, AppError> {
        let token = new_token(self.rng.as_ref())?;
        let now = ms(self.now());
        store_staff::insert_session(
            tx,
            &token_hash(&token),
            &SessionRow {
                user_id: account.id.clone(),
                stage: STAGE_FULL.to_owned(),
                next_path: None,
                pending_password: None,
                created_at: now,
                last_seen_at: now,
                expires_at: now + self.absolute_ms(),
            },
        )
        .await?;
        Ok(SignedIn {
            token,
            next: safe_next(next.as_deref()).unwrap_or_else(|| "/verwaltung".to_owned()),
            who: identity(account),
        })
    }

    /// The signed-in person behind a session token, refreshing the idle timer; `None` when the
    /// session is unknown, pending, idle too long, past its absolute end, or its account disabled.
    pub async fn staff_session(&self, token: &str) -> Result<Option<StaffIdentity>, AppError> {
        if !looks_like_token(token) {
            return Ok(None);
        }
        let hash = token_hash(token);
        let Some(s) = self.store.staff_session(&hash).await? else {
            return Ok(None);
        };
        let now = ms(self.now());
        if s.stage != STAGE_FULL || now >= s.expires_at || now - s.last_seen_at >= self.idle_ms() {
            return Ok(None);
        }
        let Some(account) = self.store.staff_by_id(&s.user_id).await? else {
            return Ok(None);
        };
        if account.disabled {
            return Ok(None);
        }
        if now - s.last_seen_at >= TOUCH_EVERY_MS {
            let mut tx = self.store.begin().await?;
            store_staff::touch_session(&mut tx, &hash, now).await?;
            tx.commit().await?;
        }
        Ok(Some(identity(&account)))
    }

    /// Ends the session on the server (sign-out). Unknown tokens are ignored.
    pub async fn sign_out(&self, token: &str) -> Result<(), AppError> {
        if !looks_like_token(token) {
            return Ok(());
        }
        let hash = token_hash(token);
        let Some(s) = self.store.staff_session(&hash).await? else {
            return Ok(());
        };
        let account = self.store.staff_by_id(&s.user_id).await?;
        let mut tx = self.store.begin().await?;
        if store_staff::delete_session(&mut tx, &hash).await? && s.stage == STAGE_FULL {
            let id = format!("staff:{}", s.user_id);
            audit(
                self,
                &mut tx,
                &id,
                account.as_ref().and_then(|a| a.tenant_key.as_deref()),
                "staff.sign_out",
                &id,
                "ok",
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account behind an enrolment or reset link: its display name and whether it is a reset
    /// (an enrolled second factor exists). `None` for unknown, used or expired links.
    pub async fn enrolment(&self, link_token: &str) -> Result<Option<(String, bool)>, AppError> {
        Ok(self
            .link_account(link_token)
            .await?
            .map(|a| (a.name.clone(), a.totp_confirmed)))
    }

    async fn link_account(&self, link_token: &str) -> Result<Option<StaffAccount>, AppError> {
        if !looks_like_token(link_token) {
            return Ok(None);
        }
        Ok(self
            .store
            .staff_by_enrol_token(&token_hash(link_token), self.now())
            .await?
            .filter(|a| !a.disabled))
    }

    /// Sets a new password through a link. The link is used up; the password takes effect with
    /// the code that follows (a new second factor is enrolled first where there is none).
    pub async fn enrol_password(
        &self,
        link_token: &str,
        password: &str,
        repeated: &str,
    ) -> Result<CodeStep, SignInError> {
        let Some(account) = self.link_account(link_token).await? else {
            return Err(SignInError::Expired);
        };
        if password != repeated {
            return Err(SignInError::Password(
                "Die beiden Eingaben stimmen nicht überein.".into(),
            ));
        }
        let tenant = match &account.tenant_key {
            Some(k) => match k.parse() {
                Ok(key) => self.store.tenant(&key).await?,
                Err(_) => None,
            },
            None => None,
        };
        let words = forbidden_words(tenant.as_ref());
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        if let Err(p) = check_new_password(password, &words) {
            return Err(SignInError::Password(password_message(&p)));
        }
        let hash = hash_password(self, password).await?;
        let enrol = !account.totp_confirmed;
        let sealed = if enrol {
            let secret = totp::new_secret(self.rng.as_ref()).map_err(AppError::from)?;
            self.store
                .ensure_staff_scope(account.tenant_key.as_deref(), self.now())
                .await?;
            Some(
                self.store
                    .seal_totp_secret(account.tenant_key.as_deref(), &account.id, &secret)
                    .await?,
            )
        } else {
            None
        };
        let token = new_token(self.rng.as_ref()).map_err(AppError::from)?;
        let now = ms(self.now());
        let mut tx = self.store.begin().await?;
        if !store_staff::consume_enrol_token(&mut tx, &account.id, &token_hash(link_token)).await? {
            return Err(SignInError::Expired);
        }
        if let Some(s) = &sealed {
            store_staff::set_pending_totp(&mut tx, &account.id, s).await?;
        }
        store_staff::insert_session(
            &mut tx,
            &token_hash(&token),
            &SessionRow {
                user_id: account.id.clone(),
                stage: if enrol { STAGE_ENROL } else { STAGE_RESET }.to_owned(),
                next_path: None,
                pending_password: Some(hash),
                created_at: now,
                last_seen_at: now,
                expires_at: now + PENDING_LIFETIME.whole_milliseconds() as i64 * 3,
            },
        )
        .await?;
        audit(
            self,
            &mut tx,
            &format!("staff:{}", account.id),
            account.tenant_key.as_deref(),
            "staff.link_used",
            &format!("staff:{}", account.id),
            "ok",
        )
        .await?;
        tx.commit().await?;
        Ok(CodeStep { token })
    }

    /// The throttle wait for tests and the operator: seconds until `email` may try again from
    /// `client`.
    pub async fn sign_in_wait(&self, email: &str, client: Option<IpAddr>) -> Result<i64, AppError> {
        let keys = Keys::new(self, &email.trim().to_lowercase(), client)?;
        throttle::wait_seconds(self, &keys).await
    }

    pub(crate) fn now_ms(&self) -> i64 {
        crate_now_ms(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(
            safe_next(Some("/verwaltung/vorgaenge?seite=2")).as_deref(),
            Some("/verwaltung/vorgaenge?seite=2")
        );
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "evil.example",
            "/x\r\nLocation: https://evil.example",
            "javascript:alert(1)",
            "/redirect?to=https://evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn qr_codes_are_svg_data_uris() {
        let uri = qr_svg_data_uri("otpauth://totp/x:y?secret=AAAA").unwrap();
        assert!(uri.starts_with("data:image/svg+xml;base64,"));
        let svg = data_encoding::BASE64
            .decode(
                uri.trim_start_matches("data:image/svg+xml;base64,")
                    .as_bytes(),
            )
            .unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M"));
    }
}

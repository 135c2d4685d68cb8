//! Optional sign-in through the operator's OpenID Connect provider: authorization code flow with
//! PKCE (S256), `state` bound to a cookie of the browser, and a `nonce`; the ID token's RS256
//! signature is checked against the provider's published keys, and its issuer, audience,
//! expiry and nonce against what was asked.
//!
//! The person is mapped to an existing, enabled staff account: by the provider's subject once
//! linked, otherwise by a *verified* e-mail address (`email_verified: true`), which links the
//! subject for next time. Nobody gets an account by signing in.
//!
//! Second factor: the provider's login counts as the password. The TOTP step is skipped only
//! when the provider asserts a multi-factor login — `amr` containing `mfa` (RFC 8176) or an `acr`
//! value the operator listed in `oidc_mfa_acr`; otherwise the account's TOTP code is asked as after
//! a password. The platform's rule "a second factor for every staff login" thus holds either way.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use rathaus_crypto::token::{looks_like_token, new_token, token_hash};
use rathaus_store::staff::{self as store_staff, OidcLogin, StaffAccount};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle_compare::eq;
use tokio::sync::Mutex;

use super::audit;
use super::auth::{CodeStep, SignInError, SignedIn, safe_next};
use super::http;
use super::throttle::Keys;
use crate::config::OidcConfig;
use crate::{App, AppError};

/// How long the trip to the provider and back may take.
pub const LOGIN_LIFETIME: time::Duration = time::Duration::minutes(10);
const CACHE_FOR: Duration = Duration::from_secs(3600);
/// Allowed clock difference to the provider.
const LEEWAY_SECONDS: i64 = 120;

mod subtle_compare {
    pub fn eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default, rename = "use")]
    use_: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

struct Provider {
    metadata: Metadata,
    jwks: Jwks,
    fetched: Instant,
}

fn cache() -> &'static Mutex<HashMap<String, Provider>> {
    static C: OnceLock<Mutex<HashMap<String, Provider>>> = OnceLock::new();
    C.get_or_init(Mutex::default)
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, AppError> {
    let res = http::request(url, None, None).await?;
    if res.status != 200 {
        return Err(AppError::Unavailable(format!(
            "identity provider answered {} for its metadata",
            res.status
        )));
    }
    serde_json::from_slice(&res.body)
        .map_err(|e| AppError::Unavailable(format!("identity provider metadata: {e}")))
}

async fn fetch_provider(cfg: &OidcConfig) -> Result<Provider, AppError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        cfg.issuer.trim_end_matches('/')
    );
    let metadata: Metadata = get_json(&url).await?;
    if metadata.issuer.trim_end_matches('/') != cfg.issuer.trim_end_matches('/') {
        return Err(AppError::Unavailable(
            "identity provider: its metadata names another issuer".into(),
        ));
    }
    let jwks: Jwks = get_json(&metadata.jwks_uri).await?;
    Ok(Provider {
        metadata,
        jwks,
        fetched: Instant::now(),
    })
}

/// The provider's metadata and keys, fetched at most once an hour (or when `refresh`).
async fn provider(cfg: &OidcConfig, refresh: bool) -> Result<(Metadata, Jwks), AppError> {
    let mut c = cache().lock().await;
    let fresh = c
        .get(&cfg.issuer)
        .is_some_and(|p| !refresh && p.fetched.elapsed() < CACHE_FOR);
    if !fresh {
        let p = fetch_provider(cfg).await?;
        c.insert(cfg.issuer.clone(), p);
    }
    let p = c
        .get(&cfg.issuer)
        .ok_or_else(|| AppError::Internal("provider cache".into()))?;
    Ok((p.metadata.clone(), p.jwks.clone()))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// The claims rathaus reads from an ID token.
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    aud: Audience,
    #[serde(default)]
    azp: Option<String>,
    pub exp: i64,
    #[serde(default)]
    pub iat: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub acr: Option<String>,
}

/// Whether the provider asserts a multi-factor login (then no TOTP code is asked).
pub fn asserts_mfa(amr: &[String], acr: Option<&str>, mfa_acr: &[String]) -> bool {
    amr.iter().any(|m| m == "mfa") || acr.is_some_and(|a| mfa_acr.iter().any(|x| x == a))
}

/// Checks an ID token (compact JWS, RS256) against the keys, issuer, client, nonce and time.
pub fn verify_id_token(
    token: &str,
    keys: &[(Option<String>, Vec<u8>, Vec<u8>)],
    issuer: &str,
    client_id: &str,
    nonce: &str,
    now: i64,
) -> Result<Claims, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    let decode = |x: &str| {
        BASE64URL_NOPAD
            .decode(x.trim_end_matches('=').as_bytes())
            .map_err(|_| "bad base64url".to_owned())
    };
    let header: Header = serde_json::from_slice(&decode(h)?).map_err(|e| format!("header: {e}"))?;
    if header.alg != "RS256" {
        return Err(format!("algorithm {} is not accepted", header.alg));
    }
    let signature = decode(s)?;
    let signed = format!("{h}.{p}");
    let candidates = keys
        .iter()
        .filter(|(kid, _, _)| header.kid.is_none() || kid.is_none() || kid == &header.kid);
    let mut valid = false;
    for (_, n, e) in candidates {
        let key = ring::signature::RsaPublicKeyComponents { n, e };
        if key
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                signed.as_bytes(),
                &signature,
            )
            .is_ok()
        {
            valid = true;
            break;
        }
    }
    if !valid {
        return Err("signature does not verify with the provider's keys".into());
    }
    let claims: Claims = serde_json::from_slice(&decode(p)?).map_err(|e| format!("claims: {e}"))?;
    if claims.iss.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return Err("wrong issuer".into());
    }
    let aud_ok = match &claims.aud {
        Audience::One(a) => a == client_id,
        Audience::Many(list) => {
            list.iter().any(|a| a == client_id)
                && (list.len() == 1 || claims.azp.as_deref() == Some(client_id))
        }
    };
    if !aud_ok {
        return Err("wrong audience".into());
    }
    if claims.exp + LEEWAY_SECONDS <= now {
        return Err("expired".into());
    }
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECONDS) {
        return Err("issued in the future".into());
    }
    if !claims.nonce.as_deref().is_some_and(|n| eq(n, nonce)) {
        return Err("wrong nonce".into());
    }
    Ok(claims)
}

fn rsa_keys(jwks: &Jwks) -> Vec<(Option<String>, Vec<u8>, Vec<u8>)> {
    jwks.keys
        .iter()
        .filter(|k| k.kty == "RSA" && k.use_.as_deref().is_none_or(|u| u == "sig"))
        .filter_map(|k| {
            let n = BASE64URL_NOPAD
                .decode(k.n.as_deref()?.trim_end_matches('=').as_bytes())
                .ok()?;
            let e = BASE64URL_NOPAD
                .decode(k.e.as_deref()?.trim_end_matches('=').as_bytes())
                .ok()?;
            Some((k.kid.clone(), n, e))
        })
        .collect()
}

/// After the provider: either signed in, or the TOTP code is still to be entered.
#[derive(Debug)]
pub enum OidcOutcome {
    SignedIn(SignedIn),
    NeedCode(CodeStep),
}

impl App {
    pub fn oidc_enabled(&self) -> bool {
        self.config.oidc.is_some()
    }

    fn oidc_config(&self) -> Result<&OidcConfig, AppError> {
        self.config
            .oidc
            .as_ref()
            .ok_or_else(|| AppError::NotFound("OIDC sign-in is not configured".into()))
    }

    pub fn oidc_redirect_uri(&self) -> String {
        format!("{}/verwaltung/oidc/callback", self.config.public_url)
    }

    /// Starts a login: returns the token for the browser's cookie and the provider's URL.
    pub async fn oidc_start(&self, next: Option<&str>) -> Result<(String, String), AppError> {
        let cfg = self.oidc_config()?;
        let (metadata, _) = provider(cfg, false).await?;
        let rng = self.rng.as_ref();
        let cookie = new_token(rng)?;
        let state = new_token(rng)?;
        let nonce = new_token(rng)?;
        let verifier = new_token(rng)?;
        let challenge = BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes()));
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        store_staff::insert_oidc_login(
            &mut tx,
            &token_hash(&cookie),
            &OidcLogin {
                state: state.clone(),
                nonce: nonce.clone(),
                verifier,
                next_path: safe_next(next),
                expires_at: now + LOGIN_LIFETIME.whole_milliseconds() as i64,
            },
        )
        .await?;
        tx.commit().await?;
        let sep = if metadata.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        let url = format!(
            "{}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&nonce={nonce}&code_challenge={challenge}&code_challenge_method=S256",
            metadata.authorization_endpoint,
            enc(&cfg.client_id),
            enc(&self.oidc_redirect_uri()),
            enc("openid email"),
        );
        Ok((cookie, url))
    }

    /// The provider sent the browser back with `code` and `state`.
    pub async fn oidc_callback(
        &self,
        cookie: &str,
        code: &str,
        state: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<OidcOutcome, SignInError> {
        let cfg = self.oidc_config()?.clone();
        if !looks_like_token(cookie) {
            return Err(SignInError::Expired);
        }
        let hash = token_hash(cookie);
        let Some(login) = self.store.oidc_login(&hash).await? else {
            return Err(SignInError::Expired);
        };
        let mut tx = self.store.begin().await?;
        let taken = store_staff::take_oidc_login(&mut tx, &hash).await?;
        tx.commit().await?;
        if !taken || login.expires_at <= self.now_ms() || !eq(&login.state, state) {
            return Err(SignInError::Expired);
        }
        let (metadata, jwks) = provider(&cfg, false).await?;
        let form = format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
            enc(code),
            enc(&self.oidc_redirect_uri()),
            enc(&login.verifier)
        );
        // RFC 6749 2.3.1: client id and secret are form-encoded before the Basic encoding.
        let basic = format!(
            "Basic {}",
            BASE64
                .encode(format!("{}:{}", enc(&cfg.client_id), enc(&cfg.client_secret)).as_bytes())
        );
        let res = http::request(&metadata.token_endpoint, Some(&form), Some(&basic)).await?;
        if res.status != 200 {
            tracing::warn!(status = res.status, "OIDC token request refused");
            return Err(SignInError::Invalid);
        }
        let tokens: TokenResponse = serde_json::from_slice(&res.body)
            .map_err(|e| AppError::Unavailable(format!("identity provider token response: {e}")))?;
        let id_token = tokens.id_token.ok_or(SignInError::Invalid)?;
        let now_s = self.now().unix_timestamp();
        let mut result = verify_id_token(
            &id_token,
            &rsa_keys(&jwks),
            &metadata.issuer,
            &cfg.client_id,
            &login.nonce,
            now_s,
        );
        if matches!(&result, Err(e) if e.starts_with("signature")) {
            // The provider may have rotated its keys since they were fetched.
            let (_, jwks) = provider(&cfg, true).await?;
            result = verify_id_token(
                &id_token,
                &rsa_keys(&jwks),
                &metadata.issuer,
                &cfg.client_id,
                &login.nonce,
                now_s,
            );
        }
        let claims = match result {
            Ok(c) => c,
            Err(why) => {
                tracing::warn!(reason = %why, "OIDC ID token refused");
                return Err(SignInError::Invalid);
            }
        };
        let subject = format!("{}|{}", claims.iss.trim_end_matches('/'), claims.sub);
        let account = match self.store.staff_by_oidc_subject(&subject).await? {
            Some(a) => Some(a),
            None => match (&claims.email, claims.email_verified) {
                (Some(email), Some(true)) => self
                    .store
                    .staff_by_email(email)
                    .await?
                    .filter(|a| a.oidc_subject.is_none()),
                _ => None,
            },
        };
        let keys = Keys::new(
            self,
            account
                .as_ref()
                .map_or("", |a: &StaffAccount| a.email.as_str()),
            client,
        )?;
        let Some(account) = account.filter(|a| !a.disabled) else {
            let mut tx = self.store.begin().await?;
            audit(
                self,
                &mut tx,
                "anonymous",
                None,
                "staff.sign_in",
                "staff:unknown",
                "denied: no enabled account for this OIDC login",
            )
            .await?;
            tx.commit().await?;
            return Err(SignInError::Invalid);
        };
        let object = format!("staff:{}", account.id);
        let actor = object.clone();
        let tenant = account.tenant_key.as_deref();
        let mfa = asserts_mfa(&claims.amr, claims.acr.as_deref(), &cfg.mfa_acr);
        let mut tx = self.store.begin().await?;
        if account.oidc_subject.is_none() {
            store_staff::set_oidc_subject(&mut tx, &account.id, &subject).await?;
            audit(
                self,
                &mut tx,
                &actor,
                tenant,
                "staff.oidc_link",
                &object,
                "ok",
            )
            .await?;
        }
        if mfa {
            store_staff::throttle_reset(&mut tx, &keys.account).await?;
            let signed = self
                .full_session(&mut tx, &account, login.next_path)
                .await?;
            audit(
                self,
                &mut tx,
                &actor,
                tenant,
                "staff.sign_in",
                &object,
                "ok: oidc with multi-factor",
            )
            .await?;
            tx.commit().await?;
            return Ok(OidcOutcome::SignedIn(signed));
        }
        tx.commit().await?;
        if !(account.totp_confirmed && account.totp_secret.is_some()) {
            let mut tx = self.store.begin().await?;
            audit(
                self,
                &mut tx,
                "anonymous",
                tenant,
                "staff.sign_in",
                &object,
                "denied: oidc without multi-factor and no TOTP enrolled",
            )
            .await?;
            tx.commit().await?;
            return Err(SignInError::Invalid);
        }
        let token = self.oidc_pending(&account, login.next_path).await?;
        Ok(OidcOutcome::NeedCode(CodeStep { token }))
    }

    async fn oidc_pending(
        &self,
        account: &StaffAccount,
        next: Option<String>,
    ) -> Result<String, AppError> {
        let token = new_token(self.rng.as_ref())?;
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        store_staff::insert_session(
            &mut tx,
            &token_hash(&token),
            &store_staff::SessionRow {
                user_id: account.id.clone(),
                stage: "totp".into(),
                next_path: next,
                pending_password: None,
                created_at: now,
                last_seen_at: now,
                expires_at: now + super::auth::PENDING_LIFETIME.whole_milliseconds() as i64,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfa_is_taken_from_amr_or_configured_acr() {
        assert!(asserts_mfa(&["pwd".into(), "mfa".into()], None, &[]));
        assert!(!asserts_mfa(&["pwd".into()], None, &[]));
        assert!(!asserts_mfa(&[], Some("urn:x:loa:2"), &[]));
        assert!(asserts_mfa(
            &[],
            Some("urn:x:loa:2"),
            &["urn:x:loa:2".into()]
        ));
    }

    #[test]
    fn malformed_and_unsigned_tokens_are_refused() {
        let none_alg = format!(
            "{}.{}.",
            BASE64URL_NOPAD.encode(br#"{"alg":"none"}"#),
            BASE64URL_NOPAD
                .encode(br#"{"iss":"x","sub":"y","aud":"c","exp":9999999999,"nonce":"n"}"#)
        );
        assert!(
            verify_id_token(&none_alg, &[], "x", "c", "n", 0)
                .unwrap_err()
                .contains("algorithm")
        );
        assert!(verify_id_token("a.b", &[], "x", "c", "n", 0).is_err());
        let rs = format!(
            "{}.{}.{}",
            BASE64URL_NOPAD.encode(br#"{"alg":"RS256"}"#),
            BASE64URL_NOPAD
                .encode(br#"{"iss":"x","sub":"y","aud":"c","exp":9999999999,"nonce":"n"}"#),
            BASE64URL_NOPAD.encode(b"forged")
        );
        assert!(
            verify_id_token(&rs, &[], "x", "c", "n", 0)
                .unwrap_err()
                .contains("signature")
        );
    }
}

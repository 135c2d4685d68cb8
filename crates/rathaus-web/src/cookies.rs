//! Cookies, CSRF protection and the interface language.
//!
//! CSRF: every browser gets a random `rh_csrf` cookie (HttpOnly, SameSite=Strict); forms carry
//! an HMAC of it under a key derived from the master key. A post from another site has neither
//! the cookie (SameSite) nor can it compute the HMAC. Posts whose Origin header names another
//! site are refused as well.

use axum::http::header::{COOKIE, ORIGIN, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use rathaus_domain::service::Lang;
use sha2::Sha256;

use crate::AppState;

pub(crate) const CSRF_COOKIE: &str = "rh_csrf";
pub(crate) const LANG_COOKIE: &str = "rh_lang";
pub(crate) const DRAFT_COOKIE: &str = "rh_draft";

pub(crate) fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// A `Set-Cookie` value. `path` scopes it (drafts live under their service's path);
/// `max_age` None makes a session cookie; Some(0) deletes.
pub(crate) fn set(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let secure = if state.app.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    let v = format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}{age}");
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

pub(crate) fn append(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

/// The token is keyed by a secret derived from the master key: a rotation (after which every
/// server restarts with the new key) refuses the forms open at that moment once; reloading the
/// page gives a valid token. Nothing stored depends on it.
fn mac(state: &AppState, cookie: &str) -> Option<String> {
    let key = state.app.store.keyring().derive_secret("csrf").ok()?;
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).ok()?;
    m.update(cookie.as_bytes());
    Some(BASE64URL_NOPAD.encode(&m.finalize().into_bytes()))
}

/// The token for forms on this page, and a cookie to set if the browser has none yet.
pub(crate) fn csrf_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    let existing = get(headers, CSRF_COOKIE).filter(|c| c.len() == 43);
    let (cookie, set_header) = match existing {
        Some(c) => (c, None),
        None => {
            let fresh =
                rathaus_crypto::token::new_token(state.app.rng.as_ref()).unwrap_or_default();
            let h = set(state, CSRF_COOKIE, &fresh, "/", "Strict", None);
            (fresh, Some(h))
        }
    };
    (mac(state, &cookie).unwrap_or_default(), set_header)
}

/// Checks a posted form's token against the browser's cookie, and the Origin header if sent.
pub(crate) fn csrf_ok(state: &AppState, headers: &HeaderMap, posted: Option<&str>) -> bool {
    if let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok())
        && origin != "null"
        && !origin_matches(state, headers, origin)
    {
        return false;
    }
    let (Some(cookie), Some(posted)) = (get(headers, CSRF_COOKIE), posted) else {
        return false;
    };
    let Some(expected) = mac(state, &cookie) else {
        return false;
    };
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), posted.as_bytes()).into()
}

fn origin_matches(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    if origin == state.app.config.public_url {
        return true;
    }
    // Behind no proxy the browser's origin is the Host it talked to.
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        == Some(host)
}

/// The interface language: a `?lang=` choice (remembered in a cookie) wins, then the cookie,
/// then the browser's preference, then German.
pub(crate) fn lang(headers: &HeaderMap) -> Lang {
    if let Some(l) = get(headers, LANG_COOKIE).and_then(|c| Lang::from_code(&c)) {
        return l;
    }
    let accept = headers
        .get(axum::http::header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let first = accept
        .split(',')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if first.starts_with("en") {
        Lang::En
    } else {
        Lang::De
    }
}

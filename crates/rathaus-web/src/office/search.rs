//! The inbox's search for an applicant's name never travels in a URL: the form is posted, the name
//! sealed under a key derived from the staff session, and the inbox's address carries only the
//! sealed form (`?suche=…`). Access logs of proxies and the browser's history see no name, and the
//! address is of no use outside the session that made it. Reference numbers are not personal and
//! stay readable (`?q=MM-2026-000001`).

use axum::http::HeaderMap;
use data_encoding::BASE64URL_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use rathaus_crypto::envelope::{Aad, DataKey};
use sha2::Sha256;

use super::auth::SESSION_COOKIE;
use crate::{AppState, cookies};

const AAD: Aad<'static> = Aad {
    tenant: "",
    table: "office",
    record: "inbox",
    field: "search",
};

/// The key of this browser's staff session: without the session cookie, no key. Its root is
/// derived from the master key, so a rotation makes the sealed searches of that moment
/// unreadable: the inbox then says the search is no longer valid and the clerk types it again.
/// Nothing stored depends on it.
fn session_key(state: &AppState, headers: &HeaderMap) -> Option<DataKey> {
    let token = cookies::get(headers, SESSION_COOKIE)?;
    let root = state
        .app
        .store
        .keyring()
        .derive_secret("office-inbox-search")
        .ok()?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&root).ok()?;
    mac.update(token.as_bytes());
    Some(DataKey::derived(
        "inbox-search",
        mac.finalize().into_bytes().into(),
    ))
}

/// The sealed form of a search term, for the inbox's address.
pub(crate) fn seal(state: &AppState, headers: &HeaderMap, term: &str) -> Option<String> {
    let key = session_key(state, headers)?;
    let sealed = key
        .seal(state.app.rng.as_ref(), AAD, term.as_bytes())
        .ok()?;
    Some(BASE64URL_NOPAD.encode(&sealed))
}

/// The search term behind `?suche=…`; `None` when it was sealed in another session (or altered).
pub(crate) fn open(state: &AppState, headers: &HeaderMap, sealed: &str) -> Option<String> {
    let key = session_key(state, headers)?;
    let bytes = BASE64URL_NOPAD.decode(sealed.as_bytes()).ok()?;
    String::from_utf8(key.open(AAD, &bytes).ok()?).ok()
}

//! Redirects to the platform's own pages.
//!
//! Every redirect whose target is built from a request passes through [`see_other`], so that a
//! path such as `//evil.example/` or `/\evil.example` (which browsers read as another host) can
//! never send a browser off the platform. The only redirect to another site, the one to the
//! staff's OpenID provider, is built from the provider's discovery document and does not use it.

use axum::response::{IntoResponse, Redirect, Response};

/// `303 See Other` to `to` when it is a path on this origin; otherwise to the start page.
pub(crate) fn see_other(to: &str) -> Response {
    let target = rathaus_app::staff::safe_next(Some(to)).unwrap_or_else(|| "/".to_owned());
    Redirect::to(&target).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn location(to: &str) -> String {
        see_other(to).headers()["location"]
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn only_local_paths_are_redirected_to() {
        assert_eq!(location("/panketal?x=1"), "/panketal?x=1");
        for bad in [
            "//evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "evil.example",
            "/a\r\nSet-Cookie: x=1",
            "",
        ] {
            assert_eq!(location(bad), "/", "{bad:?}");
        }
    }
}

//! Who is asking: the client's address, for throttling sign-ins and public endpoints.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap};

use crate::AppState;

/// The client's address: the TCP peer, or the address a trusted reverse proxy reports in
/// `X-Forwarded-For` (the rightmost entry that is not itself a trusted proxy).
pub(crate) struct ClientAddr(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_of(
            state,
            &parts.extensions,
            &parts.headers,
        )))
    }
}

/// The client's address from a request's parts (for handlers that take the whole request).
pub(crate) fn client_of(
    state: &AppState,
    extensions: &Extensions,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    client_address(peer, headers, &state.app.config.trusted_proxies)
}

fn client_address(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    trusted: &[rathaus_app::config::IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let mut addr = peer?;
    if !is_trusted(addr) {
        return Some(addr);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                addr = ip;
                if !is_trusted(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use rathaus_app::config::IpNet;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = vec![IpNet::parse("10.0.0.0/8").unwrap()];
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("203.0.113.9, 198.51.100.7, 10.1.1.1"),
        );
        let peer = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(
            client_address(peer("10.0.0.2"), &h, &trusted),
            peer("198.51.100.7"),
            "the rightmost untrusted hop"
        );
        assert_eq!(
            client_address(peer("192.0.2.5"), &h, &trusted),
            peer("192.0.2.5"),
            "an untrusted peer's header is ignored"
        );
        assert_eq!(client_address(None, &h, &trusted), None);
        assert_eq!(
            client_address(peer("10.0.0.2"), &HeaderMap::new(), &trusted),
            peer("10.0.0.2")
        );
    }
}

//! Cross-cutting behaviour of every response: security headers, request ids, logs and metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;

/// No inline scripts or styles anywhere, so the policy needs no 'unsafe-inline'.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) async fn security_headers(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    // A response that brings its own policy keeps it: it is stricter than the general one (files
    // served to clerks run in a `sandbox`).
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Status and resume links carry secrets in their path: never pass them on as a referrer.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    // Pages may show what a citizen typed (names, an IBAN) or a clerk's cases: no copy stays in
    // the browser's cache for the next person at a shared computer to page back to. Assets say
    // otherwise for themselves.
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.web.hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request id from a proxy is kept when it is short and plain; otherwise a fresh one is drawn.
fn request_id(request: &Request, state: &AppState) -> String {
    if let Some(v) = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        && !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return v.to_owned();
    }
    let mut bytes = [0u8; 8];
    let _ = state.app.rng.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The route pattern a request matched, carried on the response to the outer middleware.
#[derive(Clone)]
pub(crate) struct RouteTag(pub String);

/// Runs inside routing, where the matched route is known, and tags the response with it.
pub(crate) async fn tag_route(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteTag(route));
    }
    response
}

/// Logs one line per request and records metrics. The path is logged as its route pattern
/// (`/status/{token}`), never as sent: paths may carry secrets.
pub(crate) async fn observe(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&request, &state);
    let method = request.method().clone();
    if let Ok(v) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = response
        .extensions()
        .get::<RouteTag>()
        .map(|r| r.0.clone())
        .unwrap_or_else(|| "unmatched".to_owned());
    span.record("route", route.as_str());
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    metrics::counter!("http_requests_total", "method" => method.to_string(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    response
}

/// `?lang=en` on any page: remember the choice in a cookie and show the same page without the
/// parameter, so that links stay clean and the choice holds on every following page.
pub(crate) async fn language_switch(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let wanted = request.uri().query().and_then(|q| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .ok()
            .map(|pairs| {
                let lang = pairs
                    .iter()
                    .find(|(k, _)| k == "lang")
                    .and_then(|(_, v)| rathaus_domain::service::Lang::from_code(v));
                let rest: Vec<(String, String)> =
                    pairs.into_iter().filter(|(k, _)| k != "lang").collect();
                (lang, rest)
            })
    });
    match (request.method() == axum::http::Method::GET, wanted) {
        (true, Some((Some(lang), rest))) => {
            let mut to = request.uri().path().to_owned();
            if !rest.is_empty()
                && let Ok(q) = serde_urlencoded::to_string(&rest)
            {
                to = format!("{to}?{q}");
            }
            let mut r = crate::redirect::see_other(&to);
            let cookie = crate::cookies::set(
                &state,
                crate::cookies::LANG_COOKIE,
                lang.code(),
                "/",
                "Lax",
                Some(365 * 24 * 3600),
            );
            crate::cookies::append(r.headers_mut(), cookie);
            r
        }
        _ => next.run(request).await,
    }
}

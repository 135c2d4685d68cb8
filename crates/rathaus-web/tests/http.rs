//! The HTTP surface against a real router and a real database of either backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_store::contract_tests;
use tower::ServiceExt;

struct Harness {
    router: Router,
    _t: TestApp,
}

async fn harness(b: TestBackend, hsts: bool) -> Option<Harness> {
    let mut t = demo_app(b).await?;
    if hsts {
        let mut cfg = (*t.app.config).clone();
        cfg.hsts = true;
        t.app.config = std::sync::Arc::new(cfg);
    }
    let assets = rathaus_web::Assets::locate(None);
    let router = rathaus_web::router(rathaus_web::AppState::new(t.app.clone(), assets));
    Some(Harness { router, _t: t })
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn get(router: &Router, path: &str) -> Reply {
    send(router, Request::get(path).body(Body::empty()).unwrap()).await
}

fn assert_security_headers(r: &Reply) {
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["referrer-policy"], "no-referrer");
    assert!(r.headers.contains_key("x-request-id"));
}

async fn health_and_readiness(b: TestBackend) {
    let Some(h) = harness(b, false).await else {
        return;
    };
    let r = get(&h.router, "/healthz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok\n"));
    assert_security_headers(&r);
    assert!(!r.headers.contains_key("strict-transport-security"));
    let r = get(&h.router, "/readyz").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, r#"{"status":"ready"}"#);
    // Metrics are for operators, on their own listener (see tests/hardening.rs).
    assert_eq!(
        get(&h.router, "/metrics").await.status,
        StatusCode::NOT_FOUND
    );
}

async fn start_page_lists_enabled_municipalities_only(b: TestBackend) {
    let Some(h) = harness(b, false).await else {
        return;
    };
    let r = get(&h.router, "/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_security_headers(&r);
    for (title, href) in [
        ("Gemeinde Panketal", "/panketal"),
        ("Stadt Bad Belzig", "/bad-belzig"),
        ("Amt Niemegk", "/amt-niemegk"),
        ("Stadt Niemegk", "/niemegk"),
        ("Gemeinde Mühlenfließ", "/muehlenfliess"),
        ("Gemeinde Planetal", "/planetal"),
        ("Gemeinde Rabenstein/Fläming", "/rabenstein-flaeming"),
    ] {
        assert!(
            r.body.contains(&format!("href=\"{href}\">{title}</a>")),
            "{title} missing"
        );
    }
    assert!(!r.body.contains("Cottbus"));
}

async fn municipality_pages_and_not_found(b: TestBackend) {
    let Some(h) = harness(b, false).await else {
        return;
    };
    let r = get(&h.router, "/panketal").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("<h1 class=\"kern-heading-x-large\">Gemeinde Panketal</h1>")
    );
    assert!(r.body.contains("Schönerlinder Straße 47"));
    let r = get(&h.router, "/niemegk").await;
    assert!(
        r.body.contains("href=\"/amt-niemegk\">Amt Niemegk</a>"),
        "member page links its Amt"
    );
    // Disabled, unknown and malformed all look the same: a 404 page with headers.
    for path in [
        "/cottbus-chosebuz",
        "/gibt-es-nicht",
        "/%2e%2e",
        "/panketal/unbekannt",
    ] {
        let r = get(&h.router, path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.body.contains("Seite nicht gefunden"), "{path}");
        assert_security_headers(&r);
    }
}

async fn request_ids_hsts_and_body_limit(b: TestBackend) {
    let Some(h) = harness(b, true).await else {
        return;
    };
    let r = send(
        &h.router,
        Request::get("/healthz")
            .header("x-request-id", "proxy-123")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.headers["x-request-id"], "proxy-123");
    let r = send(
        &h.router,
        Request::get("/healthz")
            .header("x-request-id", "bad id with spaces")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_ne!(r.headers["x-request-id"], "bad id with spaces");
    assert!(
        r.headers["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
    // A form body over the general limit, and any body over the upload limit, are refused.
    let big = vec![b'x'; 2 * 1024 * 1024];
    let r = send(
        &h.router,
        Request::post("/panketal/maengelmelder/start")
            .header("content-type", "application/x-www-form-urlencoded")
            .header("content-length", big.len())
            .body(Body::from(big))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let huge = vec![b'x'; 40 * 1024 * 1024];
    let r = send(
        &h.router,
        Request::post("/panketal/maengelmelder/schritt/foto")
            .header("content-type", "multipart/form-data; boundary=x")
            .header("content-length", huge.len())
            .body(Body::from(huge))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn assets_are_served_with_long_cache_lifetimes(b: TestBackend) {
    let Some(h) = harness(b, false).await else {
        return;
    };
    let page = get(&h.router, "/").await.body;
    let own = page
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|s| s.contains("/assets/rathaus-"))
        .unwrap()
        .to_owned();
    let r = get(&h.router, &own).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let assets = rathaus_web::Assets::locate(None);
    if assets.has_kern() {
        let r = send(
            &h.router,
            Request::get(assets.kern_css())
                .header("accept-encoding", "gzip")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers["content-encoding"], "gzip");
    } else if std::env::var("RATHAUS_TEST_REQUIRE_ASSETS").as_deref() == Ok("1") {
        panic!("KERN assets not installed (npm ci --prefix web)");
    }
}

contract_tests!(
    health_and_readiness,
    start_page_lists_enabled_municipalities_only,
    municipality_pages_and_not_found,
    request_ids_hsts_and_body_limit,
    assets_are_served_with_long_cache_lifetimes,
);

//! Defences against a hostile client, over HTTP against a real router and database of either
//! backend: redirects stay on the platform, files shown to clerks keep their sandbox, operator
//! endpoints stay off the citizens' listener, and secret links do not linger in addresses.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::http::StatusCode;
use common::{Browser, png};
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_store::contract_tests;

struct H {
    router: Router,
    t: TestApp,
}

async fn harness(b: TestBackend) -> Option<H> {
    let t = demo_app(b).await?;
    let router = rathaus_web::router(rathaus_web::AppState::new(
        t.app.clone(),
        rathaus_web::Assets::locate(None),
    ));
    Some(H { router, t })
}

const BASE: &str = "/panketal/maengelmelder";

async fn answer(b: &mut Browser, step: &str, form: &[(&str, &str)]) -> common::Page {
    let path = format!("{BASE}/schritt/{step}");
    let csrf = b.get(&path).await.csrf().unwrap();
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    all.extend_from_slice(form);
    b.post(&path, &all).await
}

/// A citizen's browser with a draft of a defect report, positioned on its first step.
async fn draft(h: &H) -> Browser {
    let mut b = Browser::new(&h.router);
    let csrf = b.get(BASE).await.csrf().unwrap();
    let r = b.post(&format!("{BASE}/start"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    b
}

/// A defect report with a photo, submitted through the portal; returns the status link's path.
async fn submitted_with_photo(h: &H) -> String {
    let mut b = draft(h).await;
    answer(
        &mut b,
        "mangel",
        &[
            ("category", "strasse"),
            ("description", "Tiefes Schlagloch vor Hausnummer 12"),
        ],
    )
    .await;
    answer(
        &mut b,
        "ort",
        &[("location_kind", "address"), ("street", "Hauptstraße 1")],
    )
    .await;
    let path = format!("{BASE}/schritt/foto");
    let csrf = b.get(&path).await.csrf().unwrap();
    let r = b
        .post_files(
            &path,
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "schlagloch.png", &png())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    b.post(&path, &[("csrf", &csrf), ("action", "continue")])
        .await;
    answer(&mut b, "kontakt", &[("privacy_ack", "true")]).await;
    let csrf = b.get(&format!("{BASE}/pruefen")).await.csrf().unwrap();
    let r = b
        .post(&format!("{BASE}/absenden"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let conf = b.get(&format!("{BASE}/bestaetigung")).await;
    let token = conf
        .body
        .split("/panketal/vorgang/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    format!("/panketal/vorgang/{token}")
}

async fn signed_in_clerk(h: &H) -> Browser {
    let staff = h.t.app.demo_staff_credentials().await.unwrap();
    let clerk = staff
        .iter()
        .find(|s| s.email == "sachbearbeitung@panketal.example")
        .unwrap()
        .clone();
    let mut b = Browser::new(&h.router);
    let now = h.t.app.now().unix_timestamp();
    b.sign_in(&clerk.email, &clerk.password, || clerk.code_at(now))
        .await;
    b
}

async fn redirects_never_leave_the_platform(b: TestBackend) {
    let Some(h) = harness(b).await else {
        return;
    };
    let mut browser = Browser::new(&h.router);
    // The language switch drops `?lang=` and redirects to the same path: a path that a browser
    // reads as another host must not become the target.
    for evil in ["//evil.example/?lang=en", "//evil.example/panketal?lang=en"] {
        let r = browser.get(evil).await;
        let to = r.location.clone().unwrap_or_default();
        assert!(
            to.starts_with('/') && !to.starts_with("//") && !to.starts_with("/\\"),
            "{evil} redirected to {to:?}"
        );
        assert!(!to.contains("evil.example"), "{to}");
    }
    // A page's language links never point off the platform, whatever its path decodes to.
    for evil in [
        "/%2Fevil.example",
        "/%2F%2Fevil.example/x",
        "/%5Cevil.example",
    ] {
        let r = browser.get(evil).await;
        assert!(
            !r.body.contains("href=\"//") && !r.body.contains("href=\"/\\"),
            "{evil}: {}",
            r.body
        );
    }
    // The switch itself still works.
    let r = browser.get("/panketal?lang=en").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/panketal"));
    assert!(browser.get("/panketal").await.body.contains("lang=\"en\""));
    // After sign-in only local paths are followed.
    let r = browser
        .get("/verwaltung/anmelden?weiter=%2F%2Fevil.example")
        .await;
    assert!(!r.body.contains("evil.example"), "{}", r.body);
}

async fn files_shown_to_clerks_keep_their_sandbox(b: TestBackend) {
    let Some(h) = harness(b).await else {
        return;
    };
    submitted_with_photo(&h).await;
    let mut clerk = signed_in_clerk(&h).await;
    let inbox = clerk.get("/verwaltung/vorgaenge").await;
    let case = inbox
        .body
        .split("href=\"/verwaltung/vorgaenge/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let page = clerk.get(&format!("/verwaltung/vorgaenge/{case}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let file = page
        .body
        .split(&format!("href=\"/verwaltung/vorgaenge/{case}/dateien/"))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let r = clerk
        .get(&format!("/verwaltung/vorgaenge/{case}/dateien/{file}"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "image/png");
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.split(';').any(|d| d.trim() == "sandbox"),
        "an uploaded file runs in a sandbox: {csp}"
    );
    assert!(!csp.contains("script-src"), "{csp}");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    // Pages keep the general policy.
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

async fn metrics_answer_only_on_the_operators_listener(b: TestBackend) {
    let Some(h) = harness(b).await else {
        return;
    };
    let mut citizen = Browser::new(&h.router);
    assert_eq!(citizen.get("/metrics").await.status, StatusCode::NOT_FOUND);
    assert_eq!(citizen.get("/healthz").await.status, StatusCode::OK);
    let ops = rathaus_web::ops_router(rathaus_web::AppState::new(
        h.t.app.clone(),
        rathaus_web::Assets::locate(None),
    ));
    let mut operator = Browser::new(&ops);
    let r = operator.get("/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("http_requests_total"), "{}", r.body);
    assert_eq!(operator.get("/readyz").await.status, StatusCode::OK);
    // The operators' listener serves nothing else.
    assert_eq!(
        operator.get("/panketal").await.status,
        StatusCode::NOT_FOUND
    );
}

/// The path of the resume link in the newest queued e-mail.
async fn mailed_resume_path(h: &H) -> String {
    let messages =
        h.t.app
            .store
            .claim_due(h.t.app.now(), time::Duration::minutes(5), 10)
            .await
            .unwrap();
    let text = messages.last().unwrap().payload["text"].as_str().unwrap();
    let link = text.lines().find(|l| l.contains("/fortsetzen/")).unwrap();
    link.split(&h.t.app.config.public_url)
        .nth(1)
        .unwrap()
        .trim()
        .to_owned()
}

async fn a_resume_link_cannot_fix_someone_elses_draft(b: TestBackend) {
    let Some(h) = harness(b).await else {
        return;
    };
    // The attacker starts a draft and has its resume link mailed to themselves ...
    let mut attacker = draft(&h).await;
    let r = answer(
        &mut attacker,
        "mangel",
        &[
            ("category", "muell"),
            ("description", "Sperrmüll am Feldweg"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let csrf = attacker
        .get(&format!("{BASE}/speichern"))
        .await
        .csrf()
        .unwrap();
    let r = attacker
        .post(
            &format!("{BASE}/speichern"),
            &[("csrf", &csrf), ("email", "angreifer@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let link = mailed_resume_path(&h).await;
    let link_token = link.rsplit('/').next().unwrap().to_owned();

    // ... and sends it to the victim, who opens it and goes on typing.
    let mut victim = Browser::new(&h.router);
    let r = victim.get(&link).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/ort")
    );
    let victims_token = victim.cookies["rh_draft"].clone();
    assert_ne!(victims_token, link_token, "resuming issues a fresh token");
    let r = answer(
        &mut victim,
        "ort",
        &[("location_kind", "address"), ("street", "Geheimweg 7")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Neither the link nor the attacker's own cookie opens the draft any more.
    let r = Browser::new(&h.router).get(&link).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("nicht mehr gültig"), "{}", r.body);
    let r = attacker.get(&format!("{BASE}/schritt/ort")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("Geheimweg"));
    // The victim carries on.
    let r = victim.get(&format!("{BASE}/schritt/ort")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Geheimweg 7"));
}

async fn a_status_link_is_exchanged_for_a_cookie_and_leaves_the_address(b: TestBackend) {
    let Some(h) = harness(b).await else {
        return;
    };
    let link = submitted_with_photo(&h).await;
    let mut citizen = Browser::new(&h.router);
    let r = citizen.get(&link).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.location.clone().unwrap();
    assert_eq!(to, "/panketal/vorgang/MM-2026-000001");
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("Path=/panketal/vorgang/MM-2026-000001")
            && cookie.contains("HttpOnly")
            && !cookie.contains("Max-Age"),
        "scoped to this case, gone when the browser closes: {cookie}"
    );
    let page = citizen.get(&to).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Tiefes Schlagloch") || page.body.contains("MM-2026-000001"));
    let secret = link.rsplit('/').next().unwrap();
    assert!(
        !page.body.contains(secret),
        "no link on the page carries the secret"
    );

    // The address alone shows nothing: without the secret there is only the advice to use it.
    let mut other = Browser::new(&h.router);
    let r = other.get(&to).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Link"), "{}", r.body);
    assert!(!r.body.contains("Eingegangen am"), "{}", r.body);
    for sub in ["/eingangsbestaetigung.pdf", "/dokumente/x"] {
        let r = other.get(&format!("{to}{sub}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{sub}");
    }
    // Another case's address with this case's cookie: nothing either.
    other
        .cookies
        .insert("rh_vorgang".into(), citizen.cookies["rh_vorgang"].clone());
    let r = other.get("/panketal/vorgang/MM-2026-000002").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

contract_tests!(
    a_status_link_is_exchanged_for_a_cookie_and_leaves_the_address,
    a_resume_link_cannot_fix_someone_elses_draft,
    redirects_never_leave_the_platform,
    files_shown_to_clerks_keep_their_sandbox,
    metrics_answer_only_on_the_operators_listener,
);

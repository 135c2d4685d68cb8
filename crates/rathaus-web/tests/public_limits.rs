//! What the public may do how often, over HTTP against the real router: drafts, uploads and
//! save-and-continue e-mails per client address (one setting, `public_rate_limit_per_minute`,
//! 0 = off), and the node's overall bounds (uploads in flight, e-mails per hour). Uploads are
//! received into temporary files that never outlive their request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::{Browser, Harness as H, MULTIPART_TYPE, Page, harness, multipart_body, png_with_text};
use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use rathaus_app::testing::TestBackend;
use rathaus_store::contract_tests;
use tower::ServiceExt;

const BASE: &str = "/panketal/maengelmelder";
const PHOTO_STEP: &str = "/panketal/maengelmelder/schritt/foto";

/// Posts the service's start form; the page as answered.
async fn start(b: &mut Browser) -> Page {
    let csrf = b.get(BASE).await.csrf().unwrap();
    b.post(&format!("{BASE}/start"), &[("csrf", &csrf)]).await
}

/// A browser at `peer` with a fresh draft, on the photo step.
async fn at_photo_step(h: &H, peer: &str) -> Browser {
    let mut b = Browser::from_address(&h.router, peer);
    assert_eq!(start(&mut b).await.status, StatusCode::SEE_OTHER);
    for (step, form) in [
        (
            "mangel",
            vec![
                ("category", "strasse"),
                ("description", "Tiefes Schlagloch vor Hausnummer 12"),
            ],
        ),
        (
            "ort",
            vec![
                ("location_kind", "address"),
                ("street", "Schönerlinder Straße"),
            ],
        ),
    ] {
        let path = format!("{BASE}/schritt/{step}");
        let csrf = b.get(&path).await.csrf().unwrap();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(form);
        assert_eq!(b.post(&path, &all).await.status, StatusCode::SEE_OTHER);
    }
    b
}

/// Files stored with this browser's draft.
async fn draft_files(h: &H, b: &Browser) -> usize {
    let app = &h.t.app;
    let tenant = app.public_tenant("panketal").await.unwrap();
    let s = app
        .open_draft(&tenant, "maengelmelder", &b.cookies["rh_draft"])
        .await
        .unwrap();
    app.draft_attachments(&s).await.unwrap().len()
}

/// Files in the directory uploads are received into.
fn staged(h: &H) -> Vec<std::fs::Metadata> {
    match std::fs::read_dir(h.t.app.staging_dir()) {
        Ok(entries) => entries.flatten().map(|e| e.metadata().unwrap()).collect(),
        Err(_) => Vec::new(),
    }
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

fn retry_after(p: &Page) -> u64 {
    p.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

/// An upload whose body the test hands over piece by piece, as a slow connection would; the
/// request runs in its own task.
struct SlowUpload {
    body: Vec<u8>,
    tx: http_body_util::channel::Sender<Bytes, std::io::Error>,
    response: tokio::task::JoinHandle<axum::response::Response>,
}

impl SlowUpload {
    async fn begin(router: &Router, b: &mut Browser, file: &[u8]) -> SlowUpload {
        let csrf = b.get(PHOTO_STEP).await.csrf().unwrap();
        let body = multipart_body(
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG_0001.PNG", file)],
        );
        let (tx, channel) = Channel::<Bytes, std::io::Error>::new(4);
        let mut req = Request::post(PHOTO_STEP)
            .header("content-type", MULTIPART_TYPE)
            .header("cookie", b.cookie_header())
            .body(Body::new(channel))
            .unwrap();
        req.extensions_mut().insert(ConnectInfo(b.peer));
        let router = router.clone();
        let response = tokio::spawn(async move { router.oneshot(req).await.unwrap() });
        SlowUpload { body, tx, response }
    }

    /// Sends the body up to `end`.
    async fn send(&mut self, from: usize, end: usize) {
        for piece in self.body[from..end].chunks(256 * 1024) {
            self.tx
                .send_data(Bytes::copy_from_slice(piece))
                .await
                .unwrap();
        }
    }

    async fn finish(mut self, from: usize) -> (StatusCode, String) {
        let end = self.body.len();
        self.send(from, end).await;
        drop(self.tx);
        let res = self.response.await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The client goes away in the middle of the upload.
    async fn abort(self) -> StatusCode {
        self.tx.abort(std::io::Error::other("connection reset"));
        self.response.await.unwrap().status()
    }
}

/// Asks the public dog-tax API for a quote.
async fn quote(b: &mut Browser) -> Page {
    let body = serde_json::json!({"year": 2026, "assessment_date": "2026-03-20", "dogs": [
        {"name": "Bello", "kept_from": "2025-05-10", "kept_until": null, "dangerous": false, "exemption": null, "reduction": null}
    ]});
    b.send(
        Request::post("/api/v1/tenants/12060181/dog-tax/quote")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn starting_drafts_beyond_the_client_limit_is_refused(backend: TestBackend) {
    let Some(h) = harness(backend, |c| c.public_rate_limit_per_minute = 3).await else {
        return;
    };
    for port in 0..3 {
        let mut b = Browser::from_address(&h.router, &format!("198.51.100.7:{}", 5000 + port));
        assert_eq!(start(&mut b).await.status, StatusCode::SEE_OTHER);
    }
    // The same address from another port (another browser, same household): refused.
    let mut b = Browser::from_address(&h.router, "198.51.100.7:6000");
    let r = start(&mut b).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(
        r.body.contains("Bitte warten Sie einen Moment")
            && r.body.contains("viele Anträge begonnen")
            && r.body.contains("Sekunden noch einmal"),
        "{}",
        r.body
    );
    assert!((1..=20).contains(&retry_after(&r)));
    assert!(!b.cookies.contains_key("rh_draft"), "no draft was made");
    // The other languages say it too.
    b.get("/?lang=en").await;
    let r = start(&mut b).await;
    assert!(
        r.body.contains("Many applications were started"),
        "{}",
        r.body
    );

    // Another address is not affected.
    let mut other = Browser::from_address(&h.router, "203.0.113.5:7000");
    assert_eq!(start(&mut other).await.status, StatusCode::SEE_OTHER);

    // Four drafts exist, not six.
    h.t.clock.advance(time::Duration::days(31));
    assert_eq!(h.t.app.expire_drafts().await.unwrap(), 4);
}

/// Saves the draft behind `b` and asks for the link to be mailed to `email`.
async fn ask_for_link(b: &mut Browser, email: &str) -> Page {
    let page = b.get(&format!("{BASE}/speichern")).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.csrf().unwrap();
    b.post(
        &format!("{BASE}/speichern"),
        &[("csrf", &csrf), ("email", email)],
    )
    .await
}

async fn save_mails_beyond_the_client_limit_are_refused_and_none_is_queued(backend: TestBackend) {
    // 4 a minute: a quarter of it, one e-mail, for save-and-continue links.
    let Some(h) = harness(backend, |c| c.public_rate_limit_per_minute = 4).await else {
        return;
    };
    let mut b = Browser::from_address(&h.router, "198.51.100.7:5000");
    assert_eq!(start(&mut b).await.status, StatusCode::SEE_OTHER);
    let ok = ask_for_link(&mut b, "erika@example.org").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("Link verschickt"));
    let outbox = || async { h.t.app.store.outbox_counts().await.unwrap().pending };
    assert_eq!(outbox().await, 1);

    let r = ask_for_link(&mut b, "opfer@example.org").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(
        r.body.contains("viele Links angefordert")
            && r.body.contains("Es wurde keine E-Mail verschickt"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("opfer@example.org"),
        "the address stays in the form"
    );
    assert!((1..=60).contains(&retry_after(&r)));
    assert_eq!(outbox().await, 1, "no e-mail queued");
}

async fn the_overall_mail_bound_holds_with_client_limits_off(backend: TestBackend) {
    let Some(h) = harness(backend, |c| {
        c.public_rate_limit_per_minute = 0;
        c.resume_mails_per_hour = 2;
    })
    .await
    else {
        return;
    };
    for i in 0..2 {
        let mut b = Browser::from_address(&h.router, &format!("198.51.100.{i}:5000"));
        start(&mut b).await;
        assert_eq!(
            ask_for_link(&mut b, "erika@example.org").await.status,
            StatusCode::OK
        );
    }
    let mut b = Browser::from_address(&h.router, "203.0.113.9:5000");
    start(&mut b).await;
    let r = ask_for_link(&mut b, "erika@example.org").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body.contains("Gerade werden sehr viele Links verschickt"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("Minuten noch einmal"),
        "one e-mail every 30 minutes"
    );
    assert_eq!(h.t.app.store.outbox_counts().await.unwrap().pending, 2);
}

async fn with_the_setting_zero_no_client_is_refused(backend: TestBackend) {
    let Some(h) = harness(backend, |c| c.public_rate_limit_per_minute = 0).await else {
        return;
    };
    let mut b = at_photo_step(&h, "198.51.100.7:5000").await;
    for _ in 0..25 {
        let mut again = Browser::from_address(&h.router, "198.51.100.7:5000");
        assert_eq!(start(&mut again).await.status, StatusCode::SEE_OTHER);
    }
    for i in 0..10 {
        let r = ask_for_link(&mut b, "erika@example.org").await;
        assert_eq!(r.status, StatusCode::OK, "e-mail {i}");
    }
    let csrf = b.get(PHOTO_STEP).await.csrf().unwrap();
    for i in 0..25 {
        let r = b
            .post_files(
                PHOTO_STEP,
                &[("csrf", &csrf), ("action", "upload")],
                &[("photos", "IMG.PNG", &png_with_text(100))],
            )
            .await;
        // Three are stored; the field takes no more, which the page says next to it.
        let expected = if i < 3 {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(r.status, expected, "upload {i}");
    }
    for i in 0..25 {
        let r = quote(&mut b).await;
        assert_eq!(r.status, StatusCode::OK, "quote {i}: {}", r.body);
    }
}

async fn the_quote_api_follows_the_same_setting(backend: TestBackend) {
    let Some(h) = harness(backend, |c| c.public_rate_limit_per_minute = 2).await else {
        return;
    };
    let mut b = Browser::from_address(&h.router, "198.51.100.7:5000");
    assert_eq!(quote(&mut b).await.status, StatusCode::OK);
    assert_eq!(quote(&mut b).await.status, StatusCode::OK);
    let r = quote(&mut b).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert!((1..=30).contains(&retry_after(&r)));
}

async fn uploads_beyond_the_client_limit_are_refused_and_nothing_is_kept(backend: TestBackend) {
    let Some(h) = harness(backend, |c| c.public_rate_limit_per_minute = 2).await else {
        return;
    };
    let mut b = at_photo_step(&h, "198.51.100.7:5000").await;
    let csrf = b.get(PHOTO_STEP).await.csrf().unwrap();
    let png = png_with_text(100);
    let r = b
        .post_files(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG_1.PNG", &png)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Two more in one request: the second is one too many, so neither is kept.
    let r = b
        .post_files(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG_2.PNG", &png), ("photos", "IMG_3.PNG", &png)],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(
        r.body.contains("viele Dateien hochgeladen")
            && r.body.contains("Ihre Datei wurde nicht gespeichert")
            && r.body
                .contains("href=\"/panketal/maengelmelder/schritt/foto\""),
        "{}",
        r.body
    );
    assert!((1..=30).contains(&retry_after(&r)));
    assert_eq!(draft_files(&h, &b).await, 1);
    assert!(staged(&h).is_empty(), "no temporary file left");
}

async fn uploads_beyond_the_bound_get_503_and_leave_no_files(backend: TestBackend) {
    let Some(h) = harness(backend, |c| {
        c.public_rate_limit_per_minute = 0;
        c.uploads_in_flight = 1;
    })
    .await
    else {
        return;
    };
    let png = png_with_text(2_000_000);
    let mut slow = at_photo_step(&h, "198.51.100.7:5000").await;
    let mut upload = SlowUpload::begin(&h.router, &mut slow, &png).await;
    let half = upload.body.len() / 2;
    upload.send(0, half).await;
    wait_until("the first upload is being received", || {
        staged(&h).len() == 1
    })
    .await;

    // The only slot is taken: another citizen is asked to come back, nothing of theirs is kept.
    let mut other = at_photo_step(&h, "203.0.113.9:5000").await;
    let csrf = other.get(PHOTO_STEP).await.csrf().unwrap();
    let r = other
        .post_files(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG.PNG", &png_with_text(100))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(retry_after(&r), 30);
    assert!(
        r.body
            .contains("Gerade werden sehr viele Dateien hochgeladen")
            && r.body.contains("Ihre Datei wurde nicht gespeichert"),
        "{}",
        r.body
    );
    assert_eq!(draft_files(&h, &other).await, 0);
    assert_eq!(staged(&h).len(), 1, "only the first upload's file");

    // The first citizen's connection breaks off: its half file goes, nothing is stored.
    assert_ne!(upload.abort().await, StatusCode::OK);
    assert!(staged(&h).is_empty(), "the half-received file is deleted");
    assert_eq!(draft_files(&h, &slow).await, 0);

    // The slot is free again.
    let r = other
        .post_files(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG.PNG", &png_with_text(100))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(draft_files(&h, &other).await, 1);
}

async fn a_large_upload_is_received_into_a_temporary_file(backend: TestBackend) {
    let Some(h) = harness(backend, |_| {}).await else {
        return;
    };
    // 5 MB, five times the largest body anything but an upload may have; the text is stripped.
    let png = png_with_text(5_000_000);
    let mut b = at_photo_step(&h, "198.51.100.7:5000").await;
    let mut upload = SlowUpload::begin(&h.router, &mut b, &png).await;
    let half = upload.body.len() / 2;
    upload.send(0, half).await;
    // While the request is still arriving, what came so far is on disk, not in memory.
    wait_until("half the file is in the temporary file", || {
        staged(&h).first().is_some_and(|m| m.len() >= 2_000_000)
    })
    .await;
    if let Some(m) = staged(&h).first() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                m.permissions().mode() & 0o777,
                0o600,
                "readable by rathaus only"
            );
        }
        let _ = m;
    }
    let (status, body) = upload.finish(half).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("IMG_0001.PNG (1 kB)"), "{body}");
    assert_eq!(draft_files(&h, &b).await, 1);
    assert!(staged(&h).is_empty(), "the temporary file is gone");
}

async fn only_files_may_be_large(backend: TestBackend) {
    let Some(h) = harness(backend, |_| {}).await else {
        return;
    };
    let mut b = at_photo_step(&h, "198.51.100.7:5000").await;
    let csrf = b.get(PHOTO_STEP).await.csrf().unwrap();
    let long = "x".repeat(2 * 1024 * 1024);
    // Two megabytes of text, plain or beside a file, are more than any form needs.
    let r = b
        .post(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "continue"), ("other", &long)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    let r = b
        .post_files(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "upload"), ("other", &long)],
            &[("photos", "IMG.PNG", &png_with_text(100))],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(draft_files(&h, &b).await, 0);
    assert!(staged(&h).is_empty());
    // The same photo with an ordinary form is taken.
    let r = b
        .post_files(
            PHOTO_STEP,
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG.PNG", &png_with_text(100))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(draft_files(&h, &b).await, 1);
}

contract_tests!(
    only_files_may_be_large,
    starting_drafts_beyond_the_client_limit_is_refused,
    save_mails_beyond_the_client_limit_are_refused_and_none_is_queued,
    the_overall_mail_bound_holds_with_client_limits_off,
    with_the_setting_zero_no_client_is_refused,
    the_quote_api_follows_the_same_setting,
    uploads_beyond_the_client_limit_are_refused_and_nothing_is_kept,
    uploads_beyond_the_bound_get_503_and_leave_no_files,
    a_large_upload_is_received_into_a_temporary_file,
);

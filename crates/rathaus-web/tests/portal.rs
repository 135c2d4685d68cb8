//! The citizen's way through a service, over HTTP against a real router and database: every
//! request goes through the same middleware, cookies and CSRF checks a browser meets.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::png;
use http_body_util::BodyExt;
use rathaus_app::citizen::DraftSession;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_store::testing::occupy_write_queue;
use rathaus_store::{StoreError, contract_tests};
use tower::ServiceExt;

/// A browser in miniature: keeps cookies (ignoring their paths, which the tests respect).
struct Browser {
    router: Router,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    content_type: String,
    cache_control: Option<String>,
    retry_after: Option<String>,
    body: String,
    bytes: Vec<u8>,
}

impl Page {
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("page has a form with a CSRF token");
        self.body[at + 19..].split('"').next().unwrap().to_owned()
    }
}

impl Browser {
    fn new(router: &Router) -> Browser {
        Browser {
            router: router.clone(),
            cookies: HashMap::new(),
        }
    }

    async fn send(&mut self, mut req: Request<Body>) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        let res = self.router.clone().oneshot(req).await.unwrap();
        for c in res.headers().get_all("set-cookie") {
            let (pair, _) = c.to_str().unwrap().split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.insert(k.to_owned(), v.to_owned());
        }
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let content_type = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let cache_control = header("cache-control");
        let retry_after = header("retry-after");
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Page {
            cache_control,
            retry_after,
            status,
            location,
            content_type,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        self.send(
            Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    async fn post_files(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        let mut body = Vec::new();
        for (k, v) in form {
            body.extend_from_slice(
                format!("--B\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        for (field, name, bytes) in files {
            body.extend_from_slice(
                format!("--B\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: image/png\r\n\r\n")
                    .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--B--\r\n");
        self.send(
            Request::post(path)
                .header("content-type", "multipart/form-data; boundary=B")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

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

/// Starts a draft and returns the browser positioned on the first step.
async fn started(h: &H) -> Browser {
    let mut b = Browser::new(&h.router);
    let page = b.get(BASE).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Mangel melden") && page.body.contains("Datenschutz"),
        "start page explains the service"
    );
    let csrf = page.csrf();
    let r = b.post(&format!("{BASE}/start"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/mangel")
    );
    assert!(b.cookies.contains_key("rh_draft"));
    b
}

async fn answer(b: &mut Browser, step: &str, form: &[(&str, &str)]) -> Page {
    let path = format!("{BASE}/schritt/{step}");
    let csrf = b.get(&path).await.csrf();
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    all.extend_from_slice(form);
    b.post(&path, &all).await
}

async fn a_citizen_reports_a_defect_end_to_end(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    let mut b = started(&h).await;

    // Errors are named per field, the page keeps what was typed, nothing is saved.
    let r = answer(&mut b, "mangel", &[("description", "kurz")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Es gibt ein Problem"));
    assert!(
        r.body.contains(
            "href=\"#f-category\">Wählen Sie bei „Art des Mangels“ eine Antwort aus.</a>"
        ),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("„Beschreibung“ muss mindestens 10 Zeichen lang sein.")
    );
    assert!(
        r.body.contains(">kurz</textarea>"),
        "typed value shown again"
    );
    assert_eq!(
        r.cache_control.as_deref(),
        Some("no-store"),
        "what was typed stays out of the browser's cache"
    );
    // Assets, by contrast, are kept for good (their names change with their content).
    let css = r.body.split("href=\"").find_map(|rest| {
        let href = rest.split('"').next()?;
        (href.starts_with("/assets/rathaus") && href.ends_with(".css")).then(|| href.to_owned())
    });
    let css = b.get(&css.expect("the page links its stylesheet")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(
        css.cache_control.as_deref(),
        Some("public, max-age=31536000, immutable")
    );

    let r = answer(
        &mut b,
        "mangel",
        &[
            ("category", "strasse"),
            ("description", "Tiefes Schlagloch vor Hausnummer 12"),
        ],
    )
    .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/ort")
    );
    let r = answer(
        &mut b,
        "ort",
        &[
            ("location_kind", "address"),
            ("street", "Schönerlinder Straße"),
        ],
    )
    .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/foto")
    );

    // Upload: stored, metadata stripped, listed on the page.
    let csrf = b.get(&format!("{BASE}/schritt/foto")).await.csrf();
    let r = b
        .post_files(
            &format!("{BASE}/schritt/foto"),
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "IMG_0001.PNG", &png())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("IMG_0001.PNG (1 kB)"), "{}", r.body);
    // A wrong type is refused with the reason next to the field.
    let r = b
        .post_files(
            &format!("{BASE}/schritt/foto"),
            &[("csrf", &csrf), ("action", "upload")],
            &[("photos", "notes.png", b"just text")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("kern-error") && r.body.contains("Fotos"),
        "{}",
        r.body
    );
    let r = b
        .post(
            &format!("{BASE}/schritt/foto"),
            &[("csrf", &csrf), ("action", "continue")],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/kontakt")
    );

    let r = answer(
        &mut b,
        "kontakt",
        &[
            ("email", "erika@example.org"),
            ("privacy_ack", "true"),
            ("status", "approved"),
            ("fee", "0"),
        ],
    )
    .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/pruefen")
    );

    let check = b.get(&format!("{BASE}/pruefen")).await;
    assert_eq!(check.status, StatusCode::OK);
    for text in [
        "Straße oder Gehweg beschädigt",
        "Tiefes Schlagloch vor Hausnummer 12",
        "Schönerlinder Straße",
        "IMG_0001.PNG",
        "erika@example.org",
    ] {
        assert!(check.body.contains(text), "check page lacks {text}");
    }
    let csrf = check.csrf();
    let r = b
        .post(&format!("{BASE}/absenden"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/bestaetigung")
    );
    // A double click submits again: same result, one case.
    let again = b
        .post(&format!("{BASE}/absenden"), &[("csrf", &csrf)])
        .await;
    assert_eq!(
        again.location.as_deref(),
        Some("/panketal/maengelmelder/bestaetigung")
    );

    let conf = b.get(&format!("{BASE}/bestaetigung")).await;
    assert_eq!(conf.status, StatusCode::OK);
    assert!(conf.body.contains("MM-2026-000001"), "{}", conf.body);
    assert!(conf.body.contains("Eingangsbestätigung per E-Mail"));
    let status_href = conf
        .body
        .split("href=\"/panketal/vorgang/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let token = status_href.clone();
    assert_eq!(token.len(), 43, "a status link carries 256 random bits");

    // The status link works in any browser: it is exchanged for a cookie and leads to the
    // case's address without the secret. The receipt is a PDF.
    let mut stranger = Browser::new(&h.router);
    let r = stranger.get(&format!("/panketal/vorgang/{token}")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/vorgang/MM-2026-000001")
    );
    let st = stranger.get("/panketal/vorgang/MM-2026-000001").await;
    assert_eq!(st.status, StatusCode::OK);
    assert!(st.body.contains("MM-2026-000001") && st.body.contains("Eingegangen"));
    assert!(
        !st.body.contains(&token),
        "the secret is not repeated in the page"
    );
    let pdf = stranger
        .get("/panketal/vorgang/MM-2026-000001/eingangsbestaetigung.pdf")
        .await;
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.bytes.starts_with(b"%PDF-"));
    // The same token under another municipality finds nothing.
    assert_eq!(
        stranger
            .get(&format!("/bad-belzig/vorgang/{token}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Exactly one case; its data as submitted, without forged fields, with the cleaned photo.
    let app = &h.t.app;
    let panketal = app.public_tenant("panketal").await.unwrap();
    let status = app.case_status(&panketal, &token).await.unwrap();
    assert_eq!(status.case.reference, "MM-2026-000001");
    assert!(status.case.data.get("status").is_none() && status.case.data.get("fee").is_none());
    assert_eq!(status.case.status, "received");
    let files = app
        .store
        .case_attachments("12060181", &status.case.id)
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    let content = app
        .store
        .attachment_content(&files[0].tenant_key, &files[0].id)
        .await
        .unwrap();
    assert!(
        !content.windows(10).any(|w| w == b"Mustermann"),
        "PNG text metadata removed"
    );
    // Stored sealed: the plaintext appears nowhere in the blob file.
    let on_disk = std::fs::read(h.t.dir.path().join("blobs").join(&files[0].blob_key)).unwrap();
    assert!(!on_disk.windows(4).any(|w| w == b"IHDR"));

    // One confirmation e-mail queued in the same transaction, with the status link.
    assert_eq!(app.store.outbox_counts().await.unwrap().pending, 1);
    let audit = app
        .store
        .audit_entries(&["12060181".into()], Some("case:MM-2026-000001"), 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "case.submit");
}

async fn forged_and_foreign_posts_change_nothing(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    let mut b = Browser::new(&h.router);
    b.get(BASE).await;
    // No token, a wrong token, a foreign Origin: all refused, no draft made.
    let r = b.post(&format!("{BASE}/start"), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = b
        .post(&format!("{BASE}/start"), &[("csrf", "forged")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let csrf = b.get(BASE).await.csrf();
    let req = Request::post(format!("{BASE}/start"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", "https://evil.example")
        .body(Body::from(format!("csrf={csrf}")))
        .unwrap();
    assert_eq!(b.send(req).await.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("rh_draft"));

    // Another browser's token does not fit this browser's cookie.
    let mut other = Browser::new(&h.router);
    other.get(BASE).await;
    assert_eq!(
        other
            .post(&format!("{BASE}/start"), &[("csrf", &csrf)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Without a draft, steps explain how to continue instead of failing.
    let r = other.get(&format!("{BASE}/schritt/mangel")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("Ihr Antrag wurde nicht gefunden"));

    // A disabled municipality and a service not offered are 404 pages.
    assert_eq!(
        b.get("/cottbus-chosebuz/maengelmelder").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/panketal/hundesteuer").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        b.get("/amt-niemegk/maengelmelder").await.status,
        StatusCode::NOT_FOUND
    );
    // Steps that do not exist, or are not reachable yet, are 404 too.
    let mut c = started(&h).await;
    assert_eq!(
        c.get(&format!("{BASE}/schritt/gibt-es-nicht")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(&format!("{BASE}/pruefen")).await.status,
        StatusCode::SEE_OTHER,
        "check page sends back to the first open step"
    );
}

async fn save_and_resume_by_email(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    let mut b = started(&h).await;
    let r = answer(
        &mut b,
        "mangel",
        &[
            ("category", "muell"),
            ("description", "Sperrmüll im Wald am Feldweg"),
            ("action", "save"),
        ],
    )
    .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/speichern")
    );
    let page = b.get(&format!("{BASE}/speichern")).await;
    assert!(page.body.contains("fortsetzen"));
    let csrf = page.csrf();
    let bad = b
        .post(
            &format!("{BASE}/speichern"),
            &[("csrf", &csrf), ("email", "kaputt")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let ok = b
        .post(
            &format!("{BASE}/speichern"),
            &[("csrf", &csrf), ("email", "erika@example.org")],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok.body.contains("Link verschickt"));

    // The resume link from the queued e-mail opens the draft in a fresh browser.
    let messages =
        h.t.app
            .store
            .claim_due(h.t.app.now(), time::Duration::minutes(5), 10)
            .await
            .unwrap();
    assert_eq!(messages.len(), 1);
    let text = messages[0].payload["text"].as_str().unwrap();
    let link = text.lines().find(|l| l.contains("/fortsetzen/")).unwrap();
    let path = link.split("127.0.0.1:8080").nth(1).unwrap();
    let mut fresh = Browser::new(&h.router);
    let r = fresh.get(path).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/ort"),
        "resumes where the citizen stopped"
    );
    let back = fresh.get(&format!("{BASE}/schritt/mangel")).await;
    assert!(
        back.body.contains("Sperrmüll im Wald am Feldweg"),
        "answers kept"
    );

    // A broken or unknown link says so.
    let r = Browser::new(&h.router)
        .get(&format!("{BASE}/fortsetzen/{}", "x".repeat(43)))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("nicht mehr gültig"));

    // After the lifetime the draft is gone.
    h.t.clock.advance(time::Duration::days(31));
    assert_eq!(h.t.app.expire_drafts().await.unwrap(), 1);
    let r = fresh.get(&format!("{BASE}/schritt/mangel")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn search_finds_by_postcode_and_name(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    let mut b = Browser::new(&h.router);
    let r = b.get("/?q=16341").await;
    assert!(
        r.body.contains("href=\"/panketal\">Gemeinde Panketal</a>"),
        "{}",
        r.body
    );
    let r = b.get("/?q=14823").await;
    assert!(r.body.contains("gehört zu mehreren Kommunen"));
    assert!(r.body.contains("href=\"/niemegk\">Stadt Niemegk</a>"));
    let r = b.get("/?q=mühlenf").await;
    assert!(
        r.body
            .contains("href=\"/muehlenfliess\">Gemeinde Mühlenfließ</a>")
    );
    let r = b.get("/?q=Cottbus").await;
    assert!(
        r.body.contains("bietet seine Dienste hier noch nicht an"),
        "disabled municipalities found but not linked"
    );
    let r = b.get("/?q=x").await;
    assert!(r.body.contains("mindestens zwei Zeichen"));
    let r = b.get("/?q=Atlantis").await;
    assert!(r.body.contains("keine Kommune gefunden"));
}

async fn languages_are_chosen_and_remembered(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    let mut b = Browser::new(&h.router);
    let r = b.get("/panketal?lang=en").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/panketal"));
    let r = b.get("/panketal/maengelmelder").await;
    assert!(
        r.body.contains("<html lang=\"en\">")
            && r.body.contains("Report a defect")
            && r.body.contains("Start now")
    );
    b.get("/?lang=ls").await;
    let r = b.get("/panketal/maengelmelder").await;
    assert!(r.body.contains("Einen Schaden melden") && r.body.contains("Anfangen"));
}

/// The write path kept full: the next write is refused at once while reads go on.
struct FullWritePath {
    /// Kept until released: the transaction on the writer, or the stand-in for a waiting write.
    _held: Vec<Box<dyn Send>>,
    queued: Option<tokio::task::JoinHandle<Result<(), StoreError>>>,
}

async fn fill_write_path(h: &H, backend: TestBackend) -> FullWritePath {
    let store = h.t.app.store.clone();
    store.set_write_queue_limit(1);
    match backend {
        // A transaction holds the one writer and a second write waits for it in the queue's
        // one place.
        TestBackend::Sqlite => {
            let held = store.begin().await.unwrap();
            let s = store.clone();
            let queued = tokio::spawn(async move { s.begin().await.map(drop) });
            while store.write_queue_depth() < 1 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            FullWritePath {
                _held: vec![Box::new(held)],
                queued: Some(queued),
            }
        }
        // Writers wait for a connection from the pool that reads use too: filling it would
        // stall the page's reads as well, so a stand-in takes the queue's place.
        TestBackend::Postgres => FullWritePath {
            _held: vec![Box::new(occupy_write_queue(&store, 1))],
            queued: None,
        },
    }
}

impl FullWritePath {
    async fn release(mut self) {
        let queued = self.queued.take();
        drop(self);
        if let Some(q) = queued {
            q.await.unwrap().unwrap();
        }
    }
}

/// The draft behind the browser's cookie, as stored.
async fn stored_draft(h: &H, b: &Browser) -> DraftSession {
    let app = &h.t.app;
    let tenant = app.public_tenant("panketal").await.unwrap();
    app.open_draft(&tenant, "maengelmelder", &b.cookies["rh_draft"])
        .await
        .unwrap()
}

/// The waiting page: 503 with `Retry-After`, the calm notice, the form set to send itself again
/// with the button that sent it, and the script that does it.
fn assert_waiting_page(r: &Page, button: &str) {
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("3"));
    assert!(
        r.body.contains("role=\"status\" data-retry-notice")
            && r.body
                .contains("Einen Moment bitte: Gerade nutzen sehr viele Menschen diesen Dienst."),
        "{}",
        r.body
    );
    assert!(r.body.contains(" data-retry-after=\"3\">"), "{}", r.body);
    assert!(r.body.contains(button), "{}", r.body);
    assert!(
        r.body.contains("<script src=\"/assets/retry-"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("Es gibt ein Problem"), "not an error");
}

async fn a_full_write_path_keeps_what_was_typed(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    // Starting refused: the start page again, and no draft.
    let mut fresh = Browser::new(&h.router);
    let csrf = fresh.get(BASE).await.csrf();
    let full = fill_write_path(&h, backend).await;
    let r = fresh
        .post(&format!("{BASE}/start"), &[("csrf", &csrf)])
        .await;
    assert_waiting_page(&r, "type=\"submit\" data-retry>");
    assert!(r.body.contains("Mangel melden"), "{}", r.body);
    assert!(!fresh.cookies.contains_key("rh_draft"));
    full.release().await;
    let r = fresh
        .post(&format!("{BASE}/start"), &[("csrf", &r.csrf())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(fresh.cookies.contains_key("rh_draft"));

    // A step refused: what was typed is in the fields, nothing is saved.
    let mut b = started(&h).await;
    let path = format!("{BASE}/schritt/mangel");
    let csrf = b.get(&path).await.csrf();
    let description = "Tiefes Schlagloch vor Hausnummer 12";
    let typed = [
        ("category", "strasse"),
        ("description", description),
        ("action", "continue"),
    ];
    let before = stored_draft(&h, &b).await.draft;
    let full = fill_write_path(&h, backend).await;
    let r = b
        .post(&path, &[&[("csrf", &*csrf)], &typed[..]].concat())
        .await;
    assert_waiting_page(&r, "value=\"continue\" data-retry>");
    assert!(
        r.body.contains(&format!(">{description}</textarea>")),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"strasse\" checked>"), "{}", r.body);
    let after = stored_draft(&h, &b).await.draft;
    assert_eq!(
        (after.data, after.position),
        (before.data, before.position),
        "nothing saved"
    );
    // Once there is room, the same answers sent again go through.
    full.release().await;
    let csrf = r.csrf();
    let r = b
        .post(&path, &[&[("csrf", &*csrf)], &typed[..]].concat())
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/schritt/ort")
    );
    let saved = stored_draft(&h, &b).await.draft;
    assert_eq!(saved.data["description"], description);
}

async fn a_full_write_path_loses_no_submission(backend: TestBackend) {
    let Some(h) = harness(backend).await else {
        return;
    };
    let mut b = started(&h).await;
    for (step, form) in [
        (
            "mangel",
            &[
                ("category", "strasse"),
                ("description", "Laterne flackert seit Tagen"),
            ][..],
        ),
        (
            "ort",
            &[("location_kind", "address"), ("street", "Am Anger")],
        ),
        ("foto", &[]),
        ("kontakt", &[("privacy_ack", "true")]),
    ] {
        let r = answer(&mut b, step, form).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{step}: {}", r.body);
    }
    let csrf = b.get(&format!("{BASE}/pruefen")).await.csrf();
    let full = fill_write_path(&h, backend).await;
    let r = b
        .post(&format!("{BASE}/absenden"), &[("csrf", &csrf)])
        .await;
    assert_waiting_page(&r, "type=\"submit\" data-retry>");
    assert!(
        r.body.contains("Angaben prüfen") && r.body.contains("Laterne flackert seit Tagen"),
        "{}",
        r.body
    );
    assert!(stored_draft(&h, &b).await.draft.submitted_case.is_none());
    full.release().await;
    let r = b
        .post(&format!("{BASE}/absenden"), &[("csrf", &r.csrf())])
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/bestaetigung")
    );
    // Exactly one case, with the first number: the refused attempt took none.
    let conf = b.get(&format!("{BASE}/bestaetigung")).await;
    assert!(conf.body.contains("MM-2026-000001"), "{}", conf.body);
    let submits =
        h.t.app
            .store
            .audit_entries(&["12060181".into()], None, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "case.submit")
            .count();
    assert_eq!(submits, 1);
}

contract_tests!(
    a_full_write_path_keeps_what_was_typed,
    a_full_write_path_loses_no_submission,
    a_citizen_reports_a_defect_end_to_end,
    forged_and_foreign_posts_change_nothing,
    save_and_resume_by_email,
    search_finds_by_postcode_and_name,
    languages_are_chosen_and_remembered,
);

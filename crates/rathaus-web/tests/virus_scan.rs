//! Uploads are scanned by ClamAV's daemon before they are accepted, over HTTP against the router.
//!
//! Needs a running clamd whose database knows the EICAR test file (`scripts/clamd-test.sh start`
//! prints `RATHAUS_TEST_CLAMD_URL`). Without it the tests that need it are skipped with a note,
//! unless `RATHAUS_TEST_REQUIRE_CLAMD=1` makes that a failure. An unreachable scanner needs none.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use common::{Browser, png_with_comment, png_with_text};
use rathaus_app::clamd::ClamdUrl;
use rathaus_app::office::inbox::InboxQuery;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_store::contract_tests;

const BASE: &str = "/panketal/maengelmelder";
const PHOTO_STEP: &str = "/panketal/maengelmelder/schritt/foto";

/// The standard anti-virus test file: harmless, and detected by every scanner.
const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn clamd() -> Option<ClamdUrl> {
    match std::env::var("RATHAUS_TEST_CLAMD_URL") {
        Ok(url) if !url.is_empty() => Some(ClamdUrl::parse(&url).unwrap()),
        _ => {
            let why = "RATHAUS_TEST_CLAMD_URL is not set (scripts/clamd-test.sh start)";
            assert!(
                std::env::var("RATHAUS_TEST_REQUIRE_CLAMD").as_deref() != Ok("1"),
                "RATHAUS_TEST_REQUIRE_CLAMD=1 but {why}"
            );
            eprintln!("skipped: {why}");
            None
        }
    }
}

struct H {
    router: Router,
    t: TestApp,
}

async fn harness(b: TestBackend, clamd: ClamdUrl) -> Option<H> {
    let mut t = demo_app(b).await?;
    let mut cfg = (*t.app.config).clone();
    cfg.clamd_url = Some(clamd);
    t.app.config = Arc::new(cfg);
    let router = rathaus_web::router(rathaus_web::AppState::new(
        t.app.clone(),
        rathaus_web::Assets::locate(None),
    ));
    Some(H { router, t })
}

/// A browser with a fresh draft, on the photo step.
async fn at_photo_step(h: &H) -> Browser {
    let mut b = Browser::new(&h.router);
    let csrf = b.get(BASE).await.csrf().unwrap();
    let r = b.post(&format!("{BASE}/start"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
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

async fn upload(b: &mut Browser, name: &str, bytes: &[u8]) -> common::Page {
    let csrf = b.get(PHOTO_STEP).await.csrf().unwrap();
    b.post_files(
        PHOTO_STEP,
        &[("csrf", &csrf), ("action", "upload")],
        &[("photos", name, bytes)],
    )
    .await
}

/// The draft behind the browser: its id and how many files it holds.
async fn draft(h: &H, b: &Browser) -> (String, usize) {
    let app = &h.t.app;
    let tenant = app.public_tenant("panketal").await.unwrap();
    let s = app
        .open_draft(&tenant, "maengelmelder", &b.cookies["rh_draft"])
        .await
        .unwrap();
    let files = app.draft_attachments(&s).await.unwrap().len();
    (s.draft.id, files)
}

fn staged(h: &H) -> usize {
    std::fs::read_dir(h.t.app.staging_dir()).map_or(0, |d| d.count())
}

async fn malware_is_refused_next_to_the_field_and_clean_files_pass(backend: TestBackend) {
    let Some(url) = clamd() else { return };
    let Some(h) = harness(backend, url).await else {
        return;
    };
    let mut b = at_photo_step(&h).await;

    // The test file itself, and inside a photo that is otherwise a valid PNG: both refused by the
    // scanner, before the type check would have a say.
    let infected_png = png_with_comment(EICAR);
    for (name, bytes) in [
        ("eicar.com", EICAR.to_vec()),
        ("IMG_0001.PNG", infected_png),
    ] {
        let r = upload(&mut b, name, &bytes).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}: {}",
            r.body
        );
        assert!(
            r.body
                .contains("„Fotos“: In der Datei wurde Schadsoftware gefunden. Die Datei wurde nicht angenommen."),
            "{name}: {}",
            r.body
        );
        assert!(
            r.body.contains("href=\"#f-photos\""),
            "named next to the field"
        );
    }
    let (draft_id, files) = draft(&h, &b).await;
    assert_eq!(files, 0, "nothing stored");
    assert_eq!(staged(&h), 0, "no temporary file left");
    let audit =
        h.t.app
            .store
            .audit_entries(
                &["12060181".to_owned()],
                Some(&format!("draft:{draft_id}")),
                10,
            )
            .await
            .unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit.iter().all(|e| e.action == "upload.malware"
        && e.actor == "citizen"
        && e.outcome.contains("Eicar-Test-Signature")));

    // A clean photo passes.
    let r = upload(&mut b, "IMG_0002.PNG", &png_with_text(100)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("IMG_0002.PNG (1 kB)"), "{}", r.body);
    assert_eq!(draft(&h, &b).await.1, 1);
    assert_eq!(staged(&h), 0);

    // The message in the other languages.
    b.get("/?lang=en").await;
    let r = upload(&mut b, "eicar.com", EICAR).await;
    assert!(
        r.body.contains("“Photos”: Malware was found in the file"),
        "{}",
        r.body
    );
}

async fn an_unreachable_scanner_refuses_every_upload(backend: TestBackend) {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = ClamdUrl::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
    let Some(h) = harness(backend, url).await else {
        return;
    };
    let mut b = at_photo_step(&h).await;
    let r = upload(&mut b, "IMG_0001.PNG", &png_with_text(100)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains(
            "„Fotos“: Die Datei kann gerade nicht auf Schadsoftware geprüft werden und wurde deshalb nicht angenommen. Bitte versuchen Sie es in einigen Minuten noch einmal."
        ),
        "{}",
        r.body
    );
    assert_eq!(draft(&h, &b).await.1, 0, "fail closed: nothing stored");
    assert_eq!(staged(&h), 0);
}

/// The part of `body` after `start`, up to the next quote.
fn attribute_after<'a>(body: &'a str, start: &str) -> &'a str {
    body.split(start).nth(1).unwrap().split('"').next().unwrap()
}

async fn an_answer_to_the_office_with_malware_is_refused(backend: TestBackend) {
    let Some(url) = clamd() else { return };
    let Some(h) = harness(backend, url).await else {
        return;
    };
    // A citizen reports a defect without a photo …
    let mut b = at_photo_step(&h).await;
    let csrf = b.get(PHOTO_STEP).await.csrf().unwrap();
    let r = b
        .post(PHOTO_STEP, &[("csrf", &csrf), ("action", "continue")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let path = format!("{BASE}/schritt/kontakt");
    let csrf = b.get(&path).await.csrf().unwrap();
    let r = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("email", "erika@example.org"),
                ("privacy_ack", "true"),
            ],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/panketal/maengelmelder/pruefen")
    );
    let csrf = b.get(&format!("{BASE}/pruefen")).await.csrf().unwrap();
    let r = b
        .post(&format!("{BASE}/absenden"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let conf = b.get(&format!("{BASE}/bestaetigung")).await;
    let status_link = format!(
        "/panketal/vorgang/{}",
        attribute_after(&conf.body, "href=\"/panketal/vorgang/")
    );
    let reference = "MM-2026-000001";
    assert!(conf.body.contains(reference));

    // … the office asks for one …
    let app = &h.t.app;
    let clerk = StaffIdentity {
        user_id: "clerk-pk".into(),
        tenant_key: Some("12060181".into()),
        role: Role::Clerk,
        display_name: "clerk-pk".into(),
        services: vec![],
    };
    let inbox = app
        .inbox(
            &clerk,
            &InboxQuery {
                q: Some(reference.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = inbox.items[0].id.clone();
    let version = app.open_case(&clerk, &id).await.unwrap().case.version;
    app.assign_case(&clerk, &id, version, true).await.unwrap();
    let version = app.open_case(&clerk, &id).await.unwrap().case.version;
    app.ask_citizen(&clerk, &id, version, "Haben Sie ein Foto?")
        .await
        .unwrap();

    // … and the answer brings malware: refused on the status page, the question stays open.
    let mut page = b.get(&status_link).await;
    while let Some(to) = page.location.clone() {
        page = b.get(&to).await;
    }
    assert!(page.body.contains("Haben Sie ein Foto?"), "{}", page.body);
    let action = attribute_after(&page.body, "method=\"post\" action=\"").to_owned();
    let csrf = page.csrf().unwrap();
    let r = b
        .post_files(
            &action,
            &[("csrf", &csrf), ("answer", "Hier ist das Foto")],
            &[("files", "foto.png", &png_with_comment(EICAR))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("In der Datei wurde Schadsoftware gefunden"),
        "{}",
        r.body
    );
    let case = app.open_case(&clerk, &id).await.unwrap();
    assert_eq!(case.case.status, "waiting_for_citizen");
    assert!(
        app.store
            .case_attachments("12060181", &id)
            .await
            .unwrap()
            .is_empty()
    );
    let audit = app
        .store
        .audit_entries(
            &["12060181".to_owned()],
            Some(&format!("case:{reference}")),
            20,
        )
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "upload.malware" && e.outcome.contains("Eicar-Test-Signature")),
        "{audit:?}"
    );
    assert_eq!(staged(&h), 0);

    // A clean photo is taken.
    let r = b
        .post_files(
            &action,
            &[("csrf", &csrf), ("answer", "Hier ist das Foto")],
            &[("files", "foto.png", &png_with_text(100))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let case = app.open_case(&clerk, &id).await.unwrap();
    assert_ne!(case.case.status, "waiting_for_citizen");
    assert_eq!(
        app.store
            .case_attachments("12060181", &id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(staged(&h), 0);
}

contract_tests!(
    malware_is_refused_next_to_the_field_and_clean_files_pass,
    an_unreachable_scanner_refuses_every_upload,
    an_answer_to_the_office_with_malware_is_refused,
);

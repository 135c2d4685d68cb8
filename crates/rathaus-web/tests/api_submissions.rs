//! The submission API against a real router and a real database of either backend: a case handed
//! in as JSON is the same as one made through the portal, bad data is named field by field, and
//! idempotency keys make retries safe, also concurrent ones.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::api::{self, Reply, misfits};
use common::{Browser, Harness as H, harness, signed_in};
use rathaus_app::Actor;
use rathaus_app::testing::TestBackend;
use rathaus_domain::staff::Role;
use rathaus_store::casework::InboxFilter;
use rathaus_store::contract_tests;
use rathaus_store::testing::occupy_write_queue;
use serde_json::{Value, json};

const PANKETAL: &str = "/api/v1/tenants/12060181/services/maengelmelder/submissions";
const BAD_BELZIG: &str = "/api/v1/tenants/12069020/services/maengelmelder/submissions";
const CLIENT: &str = "192.0.2.30:5000";

fn report() -> Value {
    json!({"category": "strasse", "description": "Tiefes Schlagloch vor Nr. 12",
           "location_kind": "address", "street": "Hauptstraße 1", "privacy_ack": true})
}

async fn submit(h: &H, path: &str, body: &Value, key: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    api::post_json(&h.router, path, &body.to_string(), CLIENT, &headers).await
}

/// Every case of a municipality, newest first.
async fn cases(h: &H, tenant: &str) -> Vec<String> {
    let (rows, total) =
        h.t.app
            .store
            .inbox(
                &[tenant.to_owned()],
                &InboxFilter {
                    limit: 100,
                    ..InboxFilter::default()
                },
            )
            .await
            .unwrap();
    assert_eq!(rows.len() as i64, total);
    rows.into_iter().map(|r| r.reference).collect()
}

/// The status link's path (the part a browser requests).
fn path_of(status_url: &str) -> String {
    let rest = status_url.strip_prefix("http://127.0.0.1:8080").unwrap();
    assert!(rest.starts_with("/panketal/vorgang/"), "{status_url}");
    rest.to_owned()
}

async fn a_submission_becomes_a_case_as_in_the_portal(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let app = &h.t.app;
    let mut body = report();
    body["email"] = json!("erika@example.org");
    body["name"] = json!("Erika Mustermann");
    let r = submit(&h, PANKETAL, &body, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert!(!r.headers.contains_key("location"));
    assert!(!r.headers.contains_key("idempotent-replayed"));
    assert_eq!(r.json["reference"], "MM-2026-000001");
    let status_url = r.json["status_url"].as_str().unwrap().to_owned();
    let token = path_of(&status_url)
        .trim_start_matches("/panketal/vorgang/")
        .to_owned();
    assert_eq!(token.len(), 43, "a status link carries 256 random bits");
    assert_eq!(r.json.as_object().unwrap().len(), 2, "{}", r.json);

    // The status link leads a browser to the case, as the confirmation e-mail's link does.
    let mut citizen = Browser::new(&h.router);
    let page = citizen.open_link(&path_of(&status_url)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("MM-2026-000001") && page.body.contains("Eingegangen"));
    let pdf = citizen
        .get("/panketal/vorgang/MM-2026-000001/eingangsbestaetigung.pdf")
        .await;
    assert_eq!(pdf.status, StatusCode::OK);

    // The case holds the data as the portal would have stored it.
    let panketal = app.public_tenant("panketal").await.unwrap();
    let status = app.case_status(&panketal, &token).await.unwrap();
    assert_eq!(status.case.data, body);
    assert_eq!(
        (status.case.status.as_str(), status.case.lang.as_str()),
        ("received", "de")
    );
    let offered = app
        .offered_service(&panketal, "maengelmelder")
        .await
        .unwrap();
    assert_eq!(
        status.case.service_version,
        i64::from(offered.definition.version)
    );
    // The confirmation e-mail carries the same link; the audit log names the channel.
    assert_eq!(app.store.outbox_counts().await.unwrap().pending, 1);
    let audit = app
        .store
        .audit_entries(&["12060181".into()], Some("case:MM-2026-000001"), 10)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].action.as_str(),
            audit[0].actor.as_str(),
            audit[0].outcome.as_str()
        ),
        ("case.submit", "api", "ok")
    );

    // A clerk of Panketal finds it in the inbox, by reference and by the applicant's name.
    let mut office = signed_in(&h.router, app, "12060181", Role::Clerk).await;
    let inbox = office.get("/verwaltung/vorgaenge").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.body.contains("MM-2026-000001"), "{}", inbox.body);
    let case = office
        .get(&format!("/verwaltung/vorgaenge/{}", status.case.id))
        .await;
    assert_eq!(case.status, StatusCode::OK);
    assert!(case.body.contains("Tiefes Schlagloch vor Nr. 12"));
    let csrf = inbox.csrf().unwrap();
    let found = office
        .post(
            "/verwaltung/vorgaenge",
            &[("csrf", &csrf), ("q", "Mustermann"), ("status", "")],
        )
        .await;
    let found = office.get(&found.location.unwrap()).await;
    assert!(found.body.contains("MM-2026-000001"), "{}", found.body);

    // A portal submission after it takes the next number of the same series.
    let r = submit(&h, PANKETAL, &report(), None).await;
    assert_eq!(r.json["reference"], "MM-2026-000002");
}

fn fields(r: &Reply) -> Vec<&str> {
    let mut f: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    f.sort_unstable();
    f
}

async fn bad_data_is_named_field_by_field_and_stores_nothing(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let r = submit(
        &h,
        PANKETAL,
        &json!({"category": "vip", "description": "kurz", "email": "nicht-erreichbar",
                "privacy_ack": false}),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(
        (r.json["status"].as_u64(), r.json["type"].as_str()),
        (Some(422), Some("about:blank"))
    );
    assert_eq!(
        fields(&r),
        [
            "category",
            "description",
            "email",
            "location_kind",
            "privacy_ack"
        ]
    );
    for e in r.json["errors"].as_array().unwrap() {
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        assert!(
            e["message_de"].as_str().is_some_and(|m| !m.is_empty()),
            "{e}"
        );
    }
    assert!(
        !r.text.contains("nicht-erreichbar"),
        "answers do not repeat what was sent: {}",
        r.text
    );

    // A property the service does not have, an answer the others hide, a file.
    let mut extra = report();
    extra["colour"] = json!("rot");
    extra["latitude"] = json!("52.6543");
    extra["photos"] = json!(["IMG_0001.PNG"]);
    let r = submit(&h, PANKETAL, &extra, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&r), ["colour", "latitude", "photos"]);
    // Wrong JSON types, and what only the schema says (the decimal point).
    let mut typed = report();
    typed["privacy_ack"] = json!("true");
    typed["street"] = json!(12);
    let r = submit(&h, PANKETAL, &typed, None).await;
    assert_eq!(fields(&r), ["privacy_ack", "street"]);
    let mut comma = report();
    comma["location_kind"] = json!("coordinates");
    comma.as_object_mut().unwrap().remove("street");
    comma["latitude"] = json!("52,6543");
    comma["longitude"] = json!("13.5432");
    let r = submit(&h, PANKETAL, &comma, None).await;
    assert_eq!(fields(&r), ["latitude"]);

    assert!(cases(&h, "12060181").await.is_empty());
    assert_eq!(h.t.app.store.outbox_counts().await.unwrap().pending, 0);
}

async fn malformed_requests_are_refused(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let post = |body: &'static str, headers: Vec<(&'static str, &'static str)>| {
        let router = h.router.clone();
        async move { api::post_json(&router, PANKETAL, body, CLIENT, &headers).await }
    };
    for body in ["{not json", "[1, 2]", "\"Schlagloch\"", ""] {
        let r = post(body, vec![]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.json["status"], 400);
        assert_eq!(r.json["errors"][0]["field"], "");
    }
    let r = api::send(
        &h.router,
        axum::http::Request::post(PANKETAL)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from("category=strasse"))
            .unwrap(),
        CLIENT,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.json["status"], 415);
    let mut large = report();
    large["description"] = json!("x".repeat(h.t.app.config.max_body_bytes));
    let r = submit(&h, PANKETAL, &large, None).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json["status"], 413);
    let body = report().to_string();
    let long = "k".repeat(256);
    for key in ["", "mit Leerzeichen", long.as_str()] {
        let r = api::post_json(
            &h.router,
            PANKETAL,
            &body,
            CLIENT,
            &[("idempotency-key", key)],
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{key:?}");
        assert_eq!(r.json["status"], 400);
    }
    let r = api::post_json(
        &h.router,
        PANKETAL,
        &body,
        CLIENT,
        &[("idempotency-key", "a"), ("idempotency-key", "b")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(cases(&h, "12060181").await.is_empty());
}

async fn unknown_disabled_and_portal_only_services_are_not_found(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let app = &h.t.app;
    // A service that needs an account, offered by Panketal.
    let mm: Value =
        serde_json::from_str(include_str!("../../../services/maengelmelder.json")).unwrap();
    let mut with_account = mm.clone();
    with_account["id"] = json!("maengelmelder-konto");
    with_account["version"] = json!(1);
    with_account["access"] = json!({"level": "account"});
    app.import_service(&Actor::Cli, &with_account.to_string())
        .await
        .unwrap();
    let panketal = app.public_tenant("panketal").await.unwrap();
    app.set_service_offered(&Actor::Cli, &panketal, "maengelmelder-konto", true)
        .await
        .unwrap();
    // Bad Belzig withdraws the defect report.
    let belzig = app.public_tenant("bad-belzig").await.unwrap();
    app.set_service_offered(&Actor::Cli, &belzig, "maengelmelder", false)
        .await
        .unwrap();

    for path in [
        // No such AGS, not a pilot (disabled), not an AGS, the Amt (offers nothing itself).
        "/api/v1/tenants/99999999/services/maengelmelder/submissions",
        "/api/v1/tenants/12060005/services/maengelmelder/submissions",
        "/api/v1/tenants/panketal/services/maengelmelder/submissions",
        "/api/v1/tenants/120695910/services/maengelmelder/submissions",
        // No such service; one not offered (any more); one needing an account; one that shows
        // the tax and the SEPA mandate before submitting.
        "/api/v1/tenants/12060181/services/bauantrag/submissions",
        BAD_BELZIG,
        "/api/v1/tenants/12060181/services/maengelmelder-konto/submissions",
        "/api/v1/tenants/12060181/services/hundesteuer-anmeldung/submissions",
    ] {
        let r = submit(&h, path, &report(), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.text);
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.json["status"], 404);
    }
    assert!(cases(&h, "12060181").await.is_empty());
    assert!(cases(&h, "12069020").await.is_empty());
}

async fn a_retry_with_the_same_key_answers_with_the_same_case(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let key = "3f0e8c52-7a1d-4f0b-9b7e-5c2d1a6e4f80";
    let first = submit(&h, PANKETAL, &report(), Some(key)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert!(!first.headers.contains_key("idempotent-replayed"));
    // The same data, in another order and layout.
    let reordered = r#"{ "privacy_ack": true, "street": "Hauptstraße 1", "location_kind": "address",
        "description": "Tiefes Schlagloch vor Nr. 12", "category": "strasse" }"#;
    let again = api::post_json(
        &h.router,
        PANKETAL,
        reordered,
        CLIENT,
        &[("idempotency-key", key)],
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_eq!(again.json, first.json);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(cases(&h, "12060181").await, ["MM-2026-000001"]);

    // The key with other data is a conflict and changes nothing.
    let mut other = report();
    other["description"] = json!("Laterne flackert seit Tagen");
    let r = submit(&h, PANKETAL, &other, Some(key)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.json["status"], 409);
    assert_eq!(cases(&h, "12060181").await, ["MM-2026-000001"]);

    // Keys belong to one municipality's service: Bad Belzig's case is its own.
    let r = submit(&h, BAD_BELZIG, &report(), Some(key)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json["reference"], "MM-2026-000001");
    assert_ne!(r.json["status_url"], first.json["status_url"]);
    assert_eq!(cases(&h, "12069020").await.len(), 1);

    // A day later the key is forgotten; it makes a new case.
    h.t.clock.advance(time::Duration::hours(23));
    assert_eq!(h.t.app.expire_submission_keys().await.unwrap(), 0);
    let r = submit(&h, PANKETAL, &report(), Some(key)).await;
    assert_eq!(r.json, first.json, "still kept after 23 hours");
    h.t.clock.advance(time::Duration::hours(2));
    assert_eq!(h.t.app.expire_submission_keys().await.unwrap(), 2);
    let r = submit(&h, PANKETAL, &report(), Some(key)).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json["reference"], "MM-2026-000002");
    assert_eq!(cases(&h, "12060181").await.len(), 2);
}

/// With the write queue full the API answers at once with 503 and `Retry-After`, stores
/// nothing, and the same request goes through once there is room again.
async fn a_full_write_queue_is_answered_at_once_with_503(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let store = h.t.app.store.clone();
    store.set_write_queue_limit(1);
    // On SQLite a real writer holds the connection and another waits behind it; on PostgreSQL a
    // waiting writer would also hold up the reads (one pool), so a stand-in takes its place.
    let held = match b {
        TestBackend::Sqlite => {
            let holder = store.begin().await.unwrap();
            let s = store.clone();
            let queued = tokio::spawn(async move { s.begin().await.map(drop) });
            while store.write_queue_depth() < 1 {
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            (Some(holder), Some(queued), None)
        }
        TestBackend::Postgres => (None, None, Some(occupy_write_queue(&store, 1))),
    };
    let started = std::time::Instant::now();
    let r = submit(&h, PANKETAL, &report(), Some("overload-1")).await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(r.headers["content-type"], "application/problem+json");
    // Not a timing measurement (that is the benchmark's): it did not wait for the writer.
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    // Turned away before its body is even read: a body that is not JSON gets the same 503, not
    // the 400 it would get with room in the queue.
    let r = api::post_json(&h.router, PANKETAL, "{not json", CLIENT, &[]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    let (holder, queued, stand_in) = held;
    drop(stand_in);
    drop(holder);
    if let Some(q) = queued {
        q.await.unwrap().unwrap();
    }
    assert!(cases(&h, "12060181").await.is_empty());
    let r = submit(&h, PANKETAL, &report(), Some("overload-1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(cases(&h, "12060181").await, ["MM-2026-000001"]);
}

/// Beyond `submissions_in_flight` submissions being checked and stored, the next one is answered
/// at once with 503 rather than waiting behind them; nothing of it is stored.
async fn submissions_beyond_the_slots_in_flight_are_refused_at_once(b: TestBackend) {
    let Some(h) = harness(b, |c| c.submissions_in_flight = 1).await else {
        return;
    };
    let store = h.t.app.store.clone();
    // Holds up the first submission once it has its slot: on SQLite by holding the one writer,
    // on PostgreSQL by holding the audit chain's head, which every submission appends to.
    let mut holder = store.begin().await.unwrap();
    if b == TestBackend::Postgres {
        holder
            .fetch_one("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE", vec![])
            .await
            .unwrap();
    }
    let router = h.router.clone();
    let body = report().to_string();
    let first = tokio::spawn(async move {
        api::post_json(
            &router,
            PANKETAL,
            &body,
            CLIENT,
            &[("idempotency-key", "slot-1")],
        )
        .await
    });
    // Once the first waits for the database it holds the slot.
    for i in 0.. {
        assert!(
            i < 1_000,
            "the first submission never waited for the database"
        );
        let waiting = match b {
            TestBackend::Sqlite => store.write_queue_depth() as i64,
            TestBackend::Postgres => holder
                .fetch_one(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
                    vec![],
                )
                .await
                .unwrap()
                .i64("n")
                .unwrap(),
        };
        if waiting > 0 {
            break;
        }
        assert!(!first.is_finished(), "the first submission was not held up");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let refused = submit(&h, PANKETAL, &report(), Some("slot-2")).await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text
    );
    assert!(refused.headers.contains_key("retry-after"));
    assert_eq!(refused.headers["content-type"], "application/problem+json");
    drop(holder);
    let first = first.await.unwrap();
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(cases(&h, "12060181").await, ["MM-2026-000001"]);
    // The slot is free again.
    let r = submit(&h, PANKETAL, &report(), Some("slot-2")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(cases(&h, "12060181").await.len(), 2);
}

async fn concurrent_requests_with_one_key_make_one_case(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let key = "b7c1d2e3-0000-4000-8000-concurrent01";
    let body = report().to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..8 {
        let router = h.router.clone();
        let body = body.clone();
        let client = format!("192.0.2.{}:5000", 40 + i);
        tasks.spawn(async move {
            api::post_json(
                &router,
                PANKETAL,
                &body,
                &client,
                &[("idempotency-key", key)],
            )
            .await
        });
    }
    let mut answers = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        answers.push(r);
    }
    assert!(answers.iter().all(|r| r.json == answers[0].json));
    assert_eq!(
        answers
            .iter()
            .filter(|r| !r.headers.contains_key("idempotent-replayed"))
            .count(),
        1,
        "one request made the case, the others answered with it"
    );
    assert_eq!(cases(&h, "12060181").await, ["MM-2026-000001"]);
    let audit =
        h.t.app
            .store
            .audit_entries(&["12060181".into()], Some("case:MM-2026-000001"), 10)
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
}

async fn each_client_address_is_rate_limited(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    // Refused data counts too: the limit comes before anything else.
    let body = json!({}).to_string();
    for i in 0..20 {
        let r = api::post_json(&h.router, PANKETAL, &body, "198.51.100.9:4000", &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "request {i}");
    }
    let r = submit_from(&h, "198.51.100.9:4001").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry), "{retry}");
    assert_eq!(r.json["status"], 429);
    assert!(cases(&h, "12060181").await.is_empty());
    // Another address is not affected.
    let r = submit_from(&h, "[2001:db8::7]:4000").await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Other public actions keep their own budget.
    let r = api::post_json(
        &h.router,
        "/api/v1/tenants/12060181/dog-tax/quote",
        &json!({"year": 2026, "dogs": [{"name": "Bello", "kept_from": "2025-05-10"}]}).to_string(),
        "198.51.100.9:4002",
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn submit_from(h: &H, client: &str) -> Reply {
    api::post_json(&h.router, PANKETAL, &report().to_string(), client, &[]).await
}

async fn with_the_setting_zero_no_client_is_limited(b: TestBackend) {
    let Some(h) = harness(b, |c| c.public_rate_limit_per_minute = 0).await else {
        return;
    };
    let body = json!({}).to_string();
    for i in 0..40 {
        let r = api::post_json(&h.router, PANKETAL, &body, "198.51.100.10:4000", &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "request {i}");
    }
    assert_eq!(
        submit_from(&h, "198.51.100.10:4000").await.status,
        StatusCode::CREATED
    );
}

/// `/api/openapi.json` describes the submission API as it answers: the request example is
/// accepted with the 201 example's reference, the 422 example is the real answer to too short a
/// description and a property the service does not have, and every answer fits the documented
/// schemas.
async fn the_openapi_document_matches_the_answers(b: TestBackend) {
    let Some(h) = harness(b, |_| {}).await else {
        return;
    };
    let doc = api::openapi(&h.router).await;
    let op = &doc["paths"]["/api/v1/tenants/{ags}/services/{service}/submissions"]["post"];
    let misfits = |component: &str, instance: &Value| misfits(&doc, component, instance);
    let example =
        |status: &str, media: &str| op["responses"][status]["content"][media]["example"].clone();

    let request = op["requestBody"]["content"]["application/json"]["example"].clone();
    assert_eq!(request, report());
    assert_eq!(misfits("SubmissionData", &request), Vec::<String>::new());
    let r = submit(&h, PANKETAL, &request, None).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(misfits("Submission", &r.json), Vec::<String>::new());
    let documented = example("201", "application/json");
    assert_eq!(misfits("Submission", &documented), Vec::<String>::new());
    assert_eq!(r.json["reference"], documented["reference"]);
    // The same link but for the installation's address and the secret.
    let tail = |url: &Value| {
        let url = url.as_str().unwrap();
        let at = url.find("/panketal/vorgang/").unwrap();
        (
            url[at..].len(),
            url[at..].split('/').nth(2).unwrap().to_owned(),
        )
    };
    assert_eq!(
        tail(&r.json["status_url"]).0,
        tail(&documented["status_url"]).0
    );
    assert!(op["responses"]["201"]["headers"]["Idempotent-Replayed"].is_object());

    let mut short = request.clone();
    short["description"] = json!("kurz");
    short["colour"] = json!("rot");
    let r = submit(&h, PANKETAL, &short, None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json, example("422", "application/problem+json"));
    assert_eq!(misfits("Problem", &r.json), Vec::<String>::new());

    let mut answers = vec![
        (
            "400",
            api::post_json(&h.router, PANKETAL, "{not json", CLIENT, &[]).await,
        ),
        (
            "404",
            submit(
                &h,
                "/api/v1/tenants/99999999/services/maengelmelder/submissions",
                &request,
                None,
            )
            .await,
        ),
    ];
    submit(&h, PANKETAL, &request, Some("openapi-key")).await;
    answers.push((
        "409",
        submit(&h, PANKETAL, &short, Some("openapi-key")).await,
    ));
    let mut large = request.clone();
    large["description"] = json!("x".repeat(h.t.app.config.max_body_bytes));
    answers.push(("413", submit(&h, PANKETAL, &large, None).await));
    let as_text = axum::http::Request::post(PANKETAL)
        .header("content-type", "text/plain")
        .body(axum::body::Body::from(request.to_string()))
        .unwrap();
    answers.push(("415", api::send(&h.router, as_text, CLIENT).await));
    for (status, r) in answers {
        assert_eq!(r.status.as_str(), status, "{}", r.text);
        assert_eq!(
            misfits("Problem", &r.json),
            Vec::<String>::new(),
            "{status}"
        );
        assert!(
            op["responses"][status].is_object(),
            "{status} is documented"
        );
    }
    for status in ["429", "500", "503"] {
        assert!(
            op["responses"][status].is_object(),
            "{status} is documented"
        );
    }
}

contract_tests!(
    a_full_write_queue_is_answered_at_once_with_503,
    submissions_beyond_the_slots_in_flight_are_refused_at_once,
    a_submission_becomes_a_case_as_in_the_portal,
    bad_data_is_named_field_by_field_and_stores_nothing,
    malformed_requests_are_refused,
    unknown_disabled_and_portal_only_services_are_not_found,
    a_retry_with_the_same_key_answers_with_the_same_case,
    concurrent_requests_with_one_key_make_one_case,
    each_client_address_is_rate_limited,
    with_the_setting_zero_no_client_is_limited,
    the_openapi_document_matches_the_answers,
);

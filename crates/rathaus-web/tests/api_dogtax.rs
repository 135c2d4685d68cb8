//! The dog-tax quote API against a real router and a real database of either backend.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::api::{self, Reply, misfits};
use rathaus_app::testing::TestBackend;
use rathaus_store::contract_tests;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn harness(b: TestBackend) -> Option<common::Harness> {
    common::harness(b, |_| {}).await
}

async fn post(router: &Router, path: &str, body: &str, client: &str) -> Reply {
    api::post_json(router, path, body, client, &[]).await
}

fn request() -> Value {
    json!({"year": 2026, "assessment_date": "2026-03-20", "dogs": [
        {"name": "Bello", "kept_from": "2025-05-10", "kept_until": null, "dangerous": false, "exemption": null, "reduction": null},
        {"name": "Rocky", "kept_from": "2026-01-15", "dangerous": true},
        {"name": "Luna", "kept_from": "2026-02-01", "exemption": "shelter"}
    ]})
}

async fn quote_answers_with_the_engine_result(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let r = post(
        &h.router,
        "/api/v1/tenants/12060181/dog-tax/quote",
        &request().to_string(),
        "192.0.2.10:5000",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.headers["content-type"], "application/json");
    // The fields in the documented order, for readers and for clients that compare text.
    assert!(
        r.text.starts_with(r#"{"tenant":"12060181","year":2026,"currency":"EUR","dogs":[{"name":"Bello","months":12,"amount":"46.00"}"#),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains(r#"],"installments":[{"due":"2026-04-20","amount":"79.67"}"#)
    );
    assert!(r.text.ends_with(r#"],"total":"420.92"}"#), "{}", r.text);
    let expected = h.t.app.dogtax_quote("12060181", &request()).await.unwrap();
    assert_eq!(r.json, serde_json::to_value(&expected).unwrap());
    // Bello 46; Rocky, the first dangerous dog, 409 from February (11/12); Luna exempt. The
    // first quarter is due before 20 March, so it is collected a month later.
    assert_eq!(
        r.json,
        json!({"tenant": "12060181", "year": 2026, "currency": "EUR",
               "dogs": [{"name": "Bello", "months": 12, "amount": "46.00"},
                        {"name": "Rocky", "months": 11, "amount": "374.92"},
                        {"name": "Luna", "months": 0, "amount": "0.00"}],
               "installments": [{"due": "2026-04-20", "amount": "79.67"},
                                {"due": "2026-05-15", "amount": "113.75"},
                                {"due": "2026-08-15", "amount": "113.75"},
                                {"due": "2026-11-15", "amount": "113.75"}],
               "total": "420.92"})
    );
    // The tenant comes from the route: the same household costs less in Bad Belzig.
    let r = post(
        &h.router,
        "/api/v1/tenants/12069020/dog-tax/quote",
        &request().to_string(),
        "192.0.2.10:5000",
    )
    .await;
    assert_eq!(r.json["tenant"], "12069020");
    assert_eq!(r.json["total"], "355.83");
}

async fn bad_input_is_a_problem_naming_each_field(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let body = json!({"year": 2026, "dogs": [
        {"name": "Bello", "kept_from": "2026-05-10", "kept_until": "2026-01-01", "exemption": "vip"},
        {"name": "Rex", "kept_from": "10.05.2026", "colour": "brown"}
    ]});
    let r = post(
        &h.router,
        "/api/v1/tenants/12060181/dog-tax/quote",
        &body.to_string(),
        "192.0.2.11:5000",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    assert_eq!(r.json["status"], 422);
    assert_eq!(r.json["type"], "about:blank");
    let fields: Vec<&str> = r.json["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in [
        "dogs[0].kept_until",
        "dogs[0].exemption",
        "dogs[1].kept_from",
        "dogs[1].colour",
    ] {
        assert!(fields.contains(&f), "{fields:?}");
    }
    assert!(
        r.json["errors"][0]["message_de"].as_str().is_some(),
        "{}",
        r.json
    );
    let r = post(
        &h.router,
        "/api/v1/tenants/12060181/dog-tax/quote",
        "{not json",
        "192.0.2.11:5000",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"][0]["field"], "");
    let r = post(
        &h.router,
        "/api/v1/tenants/12060181/dog-tax/quote",
        &json!({"year": 2019, "dogs": [{"name": "A", "kept_from": "2018-01-01"}]}).to_string(),
        "192.0.2.11:5000",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["errors"][0]["field"], "year", "{}", r.json);
}

async fn unknown_disabled_and_administrations_are_not_found(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    // Not a pilot (disabled), the Amt (no statute of its own), nonsense, no such AGS.
    for ags in ["12060005", "120695910", "panketal", "99999999"] {
        let r = post(
            &h.router,
            &format!("/api/v1/tenants/{ags}/dog-tax/quote"),
            &request().to_string(),
            "192.0.2.12:5000",
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{ags}");
        assert_eq!(r.headers["content-type"], "application/problem+json");
        assert_eq!(r.json["status"], 404);
    }
    let res = h
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/tenants/12060181/dog-tax/quote")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn each_client_address_is_rate_limited(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let path = "/api/v1/tenants/12060181/dog-tax/quote";
    let body = request().to_string();
    for i in 0..20 {
        let r = post(&h.router, path, &body, "198.51.100.7:4000").await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
    }
    let r = post(&h.router, path, &body, "198.51.100.7:4001").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=3).contains(&retry), "{retry}");
    assert_eq!(r.json["status"], 429);
    // Another address is not affected.
    let r = post(&h.router, path, &body, "[2001:db8::1]:4000").await;
    assert_eq!(r.status, StatusCode::OK);
}

/// `/api/openapi.json` describes what the API really does: its examples are real answers, and real
/// answers (a quote, a 422, a 404) fit its schemas.
async fn the_openapi_document_matches_the_answers(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let doc = api::openapi(&h.router).await;
    let op = &doc["paths"]["/api/v1/tenants/{ags}/dog-tax/quote"]["post"];
    let misfits = |component: &str, instance: &Value| misfits(&doc, component, instance);
    let path = "/api/v1/tenants/12060181/dog-tax/quote";

    // The request example, sent, is answered with the response example.
    let request = op["requestBody"]["content"]["application/json"]["example"].clone();
    assert_eq!(misfits("QuoteRequest", &request), Vec::<String>::new());
    let r = post(&h.router, path, &request.to_string(), "192.0.2.20:5000").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        r.json,
        op["responses"]["200"]["content"]["application/json"]["example"]
    );
    assert_eq!(misfits("Quote", &r.json), Vec::<String>::new());

    // The 422 example is the answer to an unknown exemption code.
    let mut bad = request.clone();
    bad["dogs"][0]["exemption"] = json!("vip");
    let r = post(&h.router, path, &bad.to_string(), "192.0.2.20:5000").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json,
        op["responses"]["422"]["content"]["application/problem+json"]["example"]
    );
    assert_eq!(misfits("Problem", &r.json), Vec::<String>::new());

    // A field the schema does not have is refused by the schema and by the API.
    let mut extra = request.clone();
    extra["fee"] = json!("0.00");
    assert!(!misfits("QuoteRequest", &extra).is_empty());
    let r = post(&h.router, path, &extra.to_string(), "192.0.2.20:5000").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(misfits("Problem", &r.json), Vec::<String>::new());

    let r = post(
        &h.router,
        "/api/v1/tenants/99999999/dog-tax/quote",
        &request.to_string(),
        "192.0.2.20:5000",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(misfits("Problem", &r.json), Vec::<String>::new());
}

contract_tests!(
    the_openapi_document_matches_the_answers,
    quote_answers_with_the_engine_result,
    bad_input_is_a_problem_naming_each_field,
    unknown_disabled_and_administrations_are_not_found,
    each_client_address_is_rate_limited,
);

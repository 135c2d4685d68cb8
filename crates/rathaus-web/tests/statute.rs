//! The tenant admin keeps the dog-tax statute; the engine then uses the new version.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Browser, signed_in};
use rathaus_app::testing::{TestBackend, demo_app};
use rathaus_domain::staff::Role;
use rathaus_store::contract_tests;

async fn tenant_admins_keep_their_statutes(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let router = rathaus_web::router(rathaus_web::AppState::new(
        app.clone(),
        rathaus_web::Assets::locate(None),
    ));
    let demo = app.demo_staff_credentials().await.unwrap();
    let now = app.now().unix_timestamp();
    let admin = |tenant: &str| {
        demo.iter()
            .find(|d| d.tenant_key.as_deref() == Some(tenant) && d.role == Role::TenantAdmin)
            .unwrap()
            .clone()
    };

    let pk = admin("12060181");
    let mut br = Browser::new(&router);
    br.sign_in(&pk.email, &pk.password, || pk.code_at(now))
        .await;
    let page = br.get("/verwaltung/hundesteuersatzung").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("ab 2020-01-01") && page.body.contains("46,00 €"),
        "{}",
        page.body
    );
    let csrf = page.csrf().unwrap();
    let form = |rates: &'static str, valid: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("valid_from", valid.to_owned()),
            ("rate_model", "by_position".to_owned()),
            ("rates", rates.to_owned()),
            ("dangerous_rates", "409,00; 512,00".to_owned()),
            ("liability_start", "following_month".to_owned()),
            ("installments", "quarterly".to_owned()),
            (
                "exemptions",
                "assistance | Assistenzhund | \nshelter | Hund aus dem Tierheim | 12".to_owned(),
            ),
            (
                "reductions",
                "sachkunde | Sachkundenachweis | 50".to_owned(),
            ),
            ("replacement_tag_fee", "5,00".to_owned()),
        ]
    };
    let post = |f: Vec<(&'static str, String)>| f;
    let bad = post(form("sechsundvierzig", "2027-01-01"));
    let bad_ref: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = br.post("/verwaltung/hundesteuersatzung", &bad_ref).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("rates"),
        "the engine names the key: {}",
        r.body
    );

    let good = post(form("50,00; 80,00; 130,00", "2027-01-01"));
    let good_ref: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = br.post("/verwaltung/hundesteuersatzung", &good_ref).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = br.get("/verwaltung/hundesteuersatzung").await;
    assert!(page.body.contains("ab 2027-01-01") && page.body.contains("50,00 €"));

    // The quote for 2027 uses the new rate, 2026 the old one.
    let q = |year: i32| serde_json::json!({"year": year, "assessment_date": "2026-12-01", "dogs": [{"name": "Bello", "kept_from": "2025-05-10"}]});
    assert_eq!(
        app.dogtax_quote("12060181", &q(2027))
            .await
            .unwrap()
            .total
            .to_string(),
        "50.00"
    );
    assert_eq!(
        app.dogtax_quote("12060181", &q(2026))
            .await
            .unwrap()
            .total
            .to_string(),
        "46.00"
    );

    // The Amt's administration keeps its members' statutes, not Panketal's.
    let amt = admin("120695910");
    let mut am = Browser::new(&router);
    am.sign_in(&amt.email, &amt.password, || amt.code_at(now))
        .await;
    assert_eq!(
        am.get("/verwaltung/hundesteuersatzung?kommune=12069402")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        am.get("/verwaltung/hundesteuersatzung?kommune=12060181")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Clerks do not change statutes.
    let mut cl = signed_in(&router, app, "12060181", Role::Clerk).await;
    assert_eq!(
        cl.get("/verwaltung/hundesteuersatzung").await.status,
        StatusCode::FORBIDDEN
    );
}

contract_tests!(tenant_admins_keep_their_statutes);

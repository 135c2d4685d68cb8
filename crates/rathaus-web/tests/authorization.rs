//! Every office route × every role × own and other tenant: no unauthorised success, and no
//! case content in any refusal.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::Browser;

use axum::http::StatusCode;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_app::{Actor, App};
use rathaus_domain::service::flow::Position;
use rathaus_domain::service::{FormInput, Lang};
use rathaus_domain::staff::Role;
use rathaus_store::contract_tests;

fn input(pairs: &[(&str, &str)]) -> FormInput {
    FormInput::new(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// A submitted defect report with a photo; returns the case id.
async fn case_in(app: &App, slug: &str, secret_text: &str) -> String {
    let tenant = app.public_tenant(slug).await.unwrap();
    let (token, mut s) = app.start_draft(&tenant, "maengelmelder").await.unwrap();
    let steps: [(&str, &[(&str, &str)]); 4] = [
        (
            "mangel",
            &[("category", "gruen"), ("description", secret_text)],
        ),
        (
            "ort",
            &[("location_kind", "address"), ("street", "Lindenallee")],
        ),
        ("foto", &[]),
        (
            "kontakt",
            &[("name", "Erika Mustermann"), ("privacy_ack", "true")],
        ),
    ];
    for (step, pairs) in steps {
        app.answer_step(
            &s,
            &Position::Step {
                step: step.into(),
                item: None,
            },
            &input(pairs),
        )
        .await
        .unwrap();
        s = app
            .open_draft(&tenant, "maengelmelder", &token)
            .await
            .unwrap();
    }
    let sub = app
        .submit(&s, Lang::De)
        .await
        .map_err(|e| format!("{e:?}"))
        .unwrap();
    app.case_status(&tenant, &sub.status_token)
        .await
        .unwrap()
        .case
        .id
}

fn router_of(app: &App) -> axum::Router {
    rathaus_web::router(rathaus_web::AppState::new(
        app.clone(),
        rathaus_web::Assets::locate(None),
    ))
}

/// Method, path, kind of route, form fields.
type RouteCase = (
    &'static str,
    String,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    ClerkOwn,
    AdminOwn,
    AuditorOwn,
    ClerkOther,
    AdminOther,
    Operator,
}

/// What the matrix expects: may `who` succeed on a route of `kind` aimed at Panketal?
fn allowed(who: Who, kind: &str) -> bool {
    matches!(
        (who, kind),
        (Who::ClerkOwn, "case" | "home" | "inbox")
            | (Who::AdminOwn, "settings" | "home")
            | (Who::AuditorOwn, "audit" | "home")
            | (Who::Operator, "settings" | "audit" | "home")
            | (Who::ClerkOther | Who::AdminOther, "home" | "inbox")
    )
}

async fn every_office_route_refuses_everyone_it_should(b: TestBackend) {
    let Some(t): Option<TestApp> = demo_app(b).await else {
        return;
    };
    let app = &t.app;
    let router = router_of(app);
    let secret = "Geheime Beschreibung 4711 des Mangels";
    let case = case_in(app, "panketal", secret).await;
    let other_case = case_in(app, "bad-belzig", "Andere Beschreibung 0815 in Belzig").await;
    let demo = app.demo_staff_credentials().await.unwrap();
    let now = app.now().unix_timestamp();

    // An auditor of Panketal, enrolled through the link like anyone else.
    let panketal = rathaus_app::tenants::resolve(app, "12060181")
        .await
        .unwrap();
    let (_, link) = app
        .add_staff(
            &Actor::Cli,
            Some(&panketal),
            Role::Auditor,
            "revision@panketal.example",
            "Revision",
            &[],
        )
        .await
        .unwrap();
    let mut auditor = Browser::new(&router);
    let path = link
        .operator_link()
        .unwrap()
        .strip_prefix(&app.config.public_url)
        .unwrap()
        .to_owned();
    assert_eq!(auditor.get(&path).await.status, StatusCode::SEE_OTHER);
    let path = "/verwaltung/einrichten";
    let csrf = auditor.get(path).await.csrf().unwrap();
    let pw = "Wolken über dem Barnim am Abend";
    let r = auditor
        .post(
            path,
            &[("csrf", &csrf), ("password", pw), ("password2", pw)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = auditor.get("/verwaltung/anmelden/code").await;
    let at = page.body.find("<code id=\"totp-secret\">").unwrap() + 23;
    let b32: String = page.body[at..]
        .split('<')
        .next()
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let totp = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let r = auditor
        .post(
            "/verwaltung/anmelden/code",
            &[
                ("csrf", &page.csrf().unwrap()),
                ("code", &rathaus_crypto::totp::code_at(&totp, now)),
            ],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/verwaltung"));

    let demo_of = |tenant: Option<&str>, role: Role| {
        demo.iter()
            .find(|d| d.tenant_key.as_deref() == tenant && d.role == role)
            .unwrap()
            .clone()
    };
    let mut browsers: Vec<(Who, Browser)> = vec![
        (Who::Anonymous, Browser::new(&router)),
        (Who::AuditorOwn, auditor),
    ];
    for (who, tenant, role) in [
        (Who::ClerkOwn, Some("12060181"), Role::Clerk),
        (Who::AdminOwn, Some("12060181"), Role::TenantAdmin),
        (Who::ClerkOther, Some("12069020"), Role::Clerk),
        (Who::AdminOther, Some("12069020"), Role::TenantAdmin),
        (Who::Operator, None, Role::OperatorAdmin),
    ] {
        let d = demo_of(tenant, role);
        let mut br = Browser::new(&router);
        br.sign_in(&d.email, &d.password, || d.code_at(now)).await;
        browsers.push((who, br));
    }

    let case_path = format!("/verwaltung/vorgaenge/{case}");
    let panketal_staff = app.list_staff(Some("12060181")).await.unwrap();
    let some_user = panketal_staff
        .iter()
        .find(|u| u.role == Role::Clerk)
        .unwrap()
        .id
        .clone();
    // (method, path, kind, form)
    let routes: Vec<RouteCase> = vec![
        ("GET", "/verwaltung".into(), "home", vec![]),
        ("GET", "/verwaltung/vorgaenge".into(), "inbox", vec![]),
        (
            "POST",
            "/verwaltung/vorgaenge".into(),
            "inbox",
            vec![("q", "Mustermann")],
        ),
        ("GET", case_path.clone(), "case", vec![]),
        (
            "POST",
            format!("{case_path}/notiz"),
            "case",
            vec![("text", "Notiz")],
        ),
        (
            "POST",
            format!("{case_path}/zuweisen"),
            "case",
            vec![("version", "1"), ("action", "take")],
        ),
        (
            "POST",
            format!("{case_path}/rueckfrage"),
            "case",
            vec![("version", "2"), ("question", "Frage?")],
        ),
        (
            "POST",
            format!("{case_path}/entscheiden"),
            "case",
            vec![("version", "3"), ("outcome", "approved"), ("reasons", "ok")],
        ),
        (
            "POST",
            format!("{case_path}/bestaetigen"),
            "case",
            vec![("version", "4"), ("seq", "1")],
        ),
        (
            "POST",
            format!("{case_path}/abschliessen"),
            "case",
            vec![("version", "4")],
        ),
        ("GET", format!("{case_path}/dateien/x"), "case", vec![]),
        ("GET", format!("{case_path}/dokumente/x"), "case", vec![]),
        (
            "GET",
            "/verwaltung/einstellungen?kommune=12060181".into(),
            "settings",
            vec![],
        ),
        (
            "POST",
            "/verwaltung/einstellungen/profil?kommune=12060181".into(),
            "settings",
            vec![("address", "Rathaus Panketal")],
        ),
        (
            "POST",
            "/verwaltung/einstellungen/leistungen/maengelmelder?kommune=12060181".into(),
            "settings",
            vec![("offered", "ja")],
        ),
        (
            "POST",
            "/verwaltung/einstellungen/bankverbindung/x/bestaetigen?kommune=12060181".into(),
            "settings",
            vec![],
        ),
        (
            "POST",
            "/verwaltung/einstellungen/bankverbindung/x/ablehnen?kommune=12060181".into(),
            "settings",
            vec![],
        ),
        (
            "GET",
            "/verwaltung/benutzer?kommune=12060181".into(),
            "settings",
            vec![],
        ),
        (
            "POST",
            format!("/verwaltung/benutzer/{some_user}/zuruecksetzen?kommune=12060181"),
            "settings",
            vec![],
        ),
        ("GET", "/verwaltung/protokoll".into(), "audit", vec![]),
    ];

    let mut unauthorised = Vec::new();
    let mut checked = 0;
    for (who, br) in browsers.iter_mut() {
        let csrf = br.csrf().await;
        for (method, path, kind, form) in &routes {
            let r = if *method == "GET" {
                br.get(path).await
            } else {
                let mut f: Vec<(&str, &str)> = vec![("csrf", &csrf)];
                f.extend(form.iter().copied());
                br.post(path, &f).await
            };
            checked += 1;
            let to_sign_in = r
                .location
                .as_deref()
                .is_some_and(|l| l.starts_with("/verwaltung/anmelden"));
            let success =
                r.status.is_success() || (r.status == StatusCode::SEE_OTHER && !to_sign_in);
            // Tenant admins see their own tenant without ?kommune=; the query names theirs here.
            let ok_for_role =
                allowed(*who, kind) && !(matches!(who, Who::AdminOther) && *kind == "settings");
            if success && !ok_for_role {
                unauthorised.push(format!("{who:?} {method} {path} -> {}", r.status));
            }
            if !ok_for_role && r.body.contains("4711") {
                unauthorised.push(format!("{who:?} {method} {path} leaked case content"));
            }
        }
        // The other tenant's case by id: never, for anyone but its own office.
        let r = br.get(&format!("/verwaltung/vorgaenge/{other_case}")).await;
        checked += 1;
        if r.status.is_success() && *who != Who::ClerkOther {
            unauthorised.push(format!("{who:?} read Bad Belzig's case"));
        }
    }
    assert!(checked >= 120, "{checked}");
    assert!(
        unauthorised.is_empty(),
        "unauthorised successes:\n{}",
        unauthorised.join("\n")
    );

    // The own clerk really can work (the matrix is not passing because everything fails).
    let clerk = &mut browsers
        .iter_mut()
        .find(|(w, _)| *w == Who::ClerkOwn)
        .unwrap()
        .1;
    let page = clerk.get(&case_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("4711"));
    // Bad Belzig's clerk reads Bad Belzig's case; Panketal's clerk was refused, and that is logged.
    let other = &mut browsers
        .iter_mut()
        .find(|(w, _)| *w == Who::ClerkOther)
        .unwrap()
        .1;
    assert_eq!(
        other
            .get(&format!("/verwaltung/vorgaenge/{other_case}"))
            .await
            .status,
        StatusCode::OK
    );
    let denied = app
        .store
        .audit_entries(&["12060181".into()], None, 200)
        .await
        .unwrap();
    assert!(
        denied.iter().any(|e| e.outcome.starts_with("denied")),
        "{denied:?}"
    );
}

/// A name typed into the inbox's search never appears in an address (proxies' logs, the browser's
/// history): the form is posted and the inbox's address carries the name sealed for the session,
/// which another session cannot open. Reference numbers stay readable.
async fn a_name_searched_in_the_inbox_stays_out_of_every_address(b: TestBackend) {
    let Some(t): Option<TestApp> = demo_app(b).await else {
        return;
    };
    let app = &t.app;
    let router = router_of(app);
    let case = case_in(app, "panketal", "Ast auf dem Gehweg").await;
    let case_link = format!("/verwaltung/vorgaenge/{case}");
    let demo = app.demo_staff_credentials().await.unwrap();
    let clerk = demo
        .iter()
        .find(|d| d.tenant_key.as_deref() == Some("12060181") && d.role == Role::Clerk)
        .unwrap()
        .clone();
    let now = app.now().unix_timestamp();
    let mut br = Browser::new(&router);
    br.sign_in(&clerk.email, &clerk.password, || clerk.code_at(now))
        .await;

    let csrf = br.get("/verwaltung/vorgaenge").await.csrf().unwrap();
    let search = |q: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("q", q.to_owned()),
            ("status", String::new()),
        ]
    };
    let form = search("Mustermann");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = br.post("/verwaltung/vorgaenge", &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let address = r.location.clone().unwrap();
    assert!(
        address.starts_with("/verwaltung/vorgaenge?suche="),
        "{address}"
    );
    assert!(!address.to_lowercase().contains("muster"), "{address}");
    let page = br.get(&address).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&case_link), "the name finds the case");
    assert!(
        page.body.contains("value=\"Mustermann\""),
        "the search box shows the name"
    );

    let form = search("Musterfrau");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = br
        .post("/verwaltung/vorgaenge", &form)
        .await
        .location
        .unwrap();
    assert!(
        !br.get(&other).await.body.contains(&case_link),
        "another name finds nothing"
    );

    // A reference number is not personal: it stays in the address as typed.
    let form = search("MM-2026-000001");
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = br.post("/verwaltung/vorgaenge", &form).await;
    assert_eq!(
        r.location.as_deref(),
        Some("/verwaltung/vorgaenge?q=MM-2026-000001")
    );

    // Without the token the form is refused.
    let r = br
        .post("/verwaltung/vorgaenge", &[("q", "Mustermann")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The same clerk in another session (half a minute later, the next code): the sealed search
    // is of no use there.
    t.clock.advance(time::Duration::seconds(30));
    let mut second = Browser::new(&router);
    second
        .sign_in(&clerk.email, &clerk.password, || clerk.code_at(now + 30))
        .await;
    let page = second.get(&address).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Suche nicht mehr gültig"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("value=\"Mustermann\""));
}

/// After a master key rotation and a restart with the new key, a clerk signs in with the same
/// e-mail address (found by its keyed hash) and the name search finds the case submitted before.
async fn sign_in_and_name_search_work_after_a_master_key_rotation(b: TestBackend) {
    let Some(t): Option<TestApp> = demo_app(b).await else {
        return;
    };
    let case = case_in(&t.app, "panketal", "Ast auf dem Gehweg").await;
    let clerk = t
        .app
        .demo_staff_credentials()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.tenant_key.as_deref() == Some("12060181") && d.role == Role::Clerk)
        .unwrap();
    t.app.rotate_master_key(&Actor::Cli).await.unwrap();
    let app = t.restarted(79).await;
    let router = router_of(&app);
    let now = app.now().unix_timestamp();
    let mut br = Browser::new(&router);
    br.sign_in(&clerk.email.to_uppercase(), &clerk.password, || {
        clerk.code_at(now)
    })
    .await;
    let csrf = br.get("/verwaltung/vorgaenge").await.csrf().unwrap();
    let r = br
        .post(
            "/verwaltung/vorgaenge",
            &[("csrf", &csrf), ("q", "Mustermann"), ("status", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = br.get(&r.location.unwrap()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(&format!("/verwaltung/vorgaenge/{case}")),
        "the name finds the case from before the rotation"
    );
}

contract_tests!(
    every_office_route_refuses_everyone_it_should,
    a_name_searched_in_the_inbox_stays_out_of_every_address,
    sign_in_and_name_search_work_after_a_master_key_rotation,
);

//! Separation of duties in the office, over HTTP against a real router and database of either
//! backend: an administrator never sees another person's enrolment or reset link (it goes by
//! e-mail to that person's own address), and a change of the municipality's bank details takes
//! a second administrator's confirmation before it reaches any notice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::Browser;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_app::{Actor, App};
use rathaus_domain::staff::Role;
use rathaus_store::contract_tests;

const PANKETAL: &str = "12060181";
const ADMIN: &str = "verwaltung@panketal.example";
const CLERK: &str = "sachbearbeitung@panketal.example";
const OLD_IBAN: &str = "DE02120300000000202051";
const NEW_IBAN: &str = "DE89370400440532013000";

fn router_of(app: &App) -> axum::Router {
    rathaus_web::router(rathaus_web::AppState::new(
        app.clone(),
        rathaus_web::Assets::locate(None),
    ))
}

/// An e-mail taken from the outbox: (to, subject, text).
type Mail = (String, String, String);

/// Takes every e-mail the outbox holds now (each is handed out once).
async fn drain_outbox(app: &App) -> Vec<Mail> {
    app.store
        .claim_due(app.now(), time::Duration::minutes(5), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "email")
        .map(|m| {
            let field = |k: &str| m.payload[k].as_str().unwrap_or_default().to_owned();
            (field("to"), field("subject"), field("text"))
        })
        .collect()
}

/// The path of the one-time link in a mail's text.
fn link_path(app: &App, text: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.contains("/verwaltung/einrichten/"))
        .unwrap_or_else(|| panic!("no link in:\n{text}"));
    line.trim()
        .strip_prefix(&app.config.public_url)
        .unwrap()
        .to_owned()
}

async fn signed_in(t: &TestApp, router: &axum::Router, email: &str) -> Browser {
    let demo = t.app.demo_staff_credentials().await.unwrap();
    let d = demo.iter().find(|d| d.email == email).unwrap().clone();
    let now = t.app.now().unix_timestamp();
    let mut b = Browser::new(router);
    b.sign_in(&d.email, &d.password, || d.code_at(now)).await;
    b
}

/// Follows an enrolment link to the end: a password and the authenticator app. Returns the
/// signed-in browser.
async fn enrol(app: &App, router: &axum::Router, path: &str) -> Browser {
    let mut b = Browser::new(router);
    let csrf = b.open_link(path).await.csrf().unwrap();
    let pw = "Wolken über dem Barnim am Abend";
    let r = b
        .post(
            "/verwaltung/einrichten",
            &[("csrf", &csrf), ("password", pw), ("password2", pw)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = b.get("/verwaltung/anmelden/code").await;
    let at = page.body.find("<code id=\"totp-secret\">").unwrap() + 23;
    let b32: String = page.body[at..]
        .split('<')
        .next()
        .unwrap()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let totp = data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap();
    let code = rathaus_crypto::totp::code_at(&totp, app.now().unix_timestamp());
    let r = b
        .post(
            "/verwaltung/anmelden/code",
            &[("csrf", &page.csrf().unwrap()), ("code", &code)],
        )
        .await;
    assert_eq!(r.location.as_deref(), Some("/verwaltung"), "{}", r.body);
    b
}

async fn user_id(app: &App, email: &str) -> String {
    app.list_staff(None)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap()
        .id
}

async fn links_go_by_mail_to_the_account_holder_only(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let router = router_of(app);
    let mut admin = signed_in(&t, &router, ADMIN).await;
    drain_outbox(app).await;

    // A new clerk: the page says a link was sent to the person, and shows none.
    let csrf = admin.get("/verwaltung/benutzer").await.csrf().unwrap();
    let page = admin
        .post(
            "/verwaltung/benutzer",
            &[
                ("csrf", &csrf),
                ("name", "Neue Person"),
                ("email", "Neue.Person@Panketal.example"),
                ("role", "clerk"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("Link an Neue Person geschickt"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("neue.person@panketal.example"),
        "names the address"
    );
    assert!(
        !page.body.contains("/verwaltung/einrichten/"),
        "the administrator's page shows no link:\n{}",
        page.body
    );
    let mails = drain_outbox(app).await;
    assert_eq!(mails.len(), 1, "one e-mail, to the new person");
    let (to, subject, text) = &mails[0];
    assert_eq!(to, "neue.person@panketal.example");
    assert!(subject.contains("Gemeinde Panketal"), "{subject}");
    let path = link_path(app, text);
    let token = path.rsplit('/').next().unwrap();
    assert!(token.len() >= 40, "{token}");
    assert!(!page.body.contains(token), "the token is not on the page");
    // The link in the mail is the one that works.
    let mut person = Browser::new(&router);
    let enrol_page = person.open_link(&path).await;
    assert_eq!(enrol_page.status, StatusCode::OK);
    assert!(enrol_page.body.contains("Guten Tag, Neue Person."));

    // The clerk's second factor, reset by the administrator: again only the clerk gets the link.
    let clerk_id = user_id(app, CLERK).await;
    for action in ["zweiter-faktor", "zuruecksetzen"] {
        let csrf = admin.get("/verwaltung/benutzer").await.csrf().unwrap();
        let page = admin
            .post(
                &format!("/verwaltung/benutzer/{clerk_id}/{action}"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{action}: {}", page.body);
        assert!(
            page.body
                .contains("Link an Sachbearbeitung Panketal geschickt"),
            "{action}: {}",
            page.body
        );
        assert!(
            !page.body.contains("/verwaltung/einrichten/"),
            "{action}: the administrator's page shows no link:\n{}",
            page.body
        );
        let mails = drain_outbox(app).await;
        assert_eq!(mails.len(), 1, "{action}");
        assert_eq!(mails[0].0, CLERK);
        let path = link_path(app, &mails[0].2);
        assert!(!page.body.contains(path.rsplit('/').next().unwrap()));
        assert_eq!(
            Browser::new(&router).open_link(&path).await.status,
            StatusCode::OK,
            "{action}: the mailed link opens"
        );
    }
    assert!(drain_outbox(app).await.is_empty(), "nobody else got a link");

    // The operator's console still gets the link printed (and nothing is mailed).
    let panketal = rathaus_app::tenants::resolve(app, PANKETAL).await.unwrap();
    let (_, delivery) = app
        .add_staff(
            &Actor::Cli,
            Some(&panketal),
            Role::TenantAdmin,
            "kasse@panketal.example",
            "Kasse Panketal",
            &[],
        )
        .await
        .unwrap();
    assert!(delivery.operator_link().is_some());
    assert!(drain_outbox(app).await.is_empty());
}

/// The profile form as the settings page would post it, with this IBAN.
fn profile_form<'a>(csrf: &'a str, iban: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        (
            "address",
            "Gemeinde Panketal\nSchönerlinder Straße 47\n16341 Panketal",
        ),
        ("phone", "030 944 14-0"),
        ("email", "buergerservice@panketal.example"),
        ("website", "https://www.panketal.de"),
        ("office_hours", "Dienstag 9–12 Uhr"),
        ("bank_holder", "Gemeinde Panketal"),
        ("iban", iban),
        ("bic", ""),
        ("bank_name", "Beispielbank Barnim"),
        ("creditor_id", "DE98ZZZ09999999999"),
        ("signature", "Im Auftrag"),
    ]
}

async fn iban_in_force(app: &App, key: &str) -> String {
    let tenant = rathaus_app::tenants::resolve(app, key).await.unwrap();
    app.effective_profile(&tenant)
        .await
        .unwrap()
        .bank
        .unwrap()
        .iban
}

/// The value of the IBAN field on a settings page.
fn iban_field(body: &str) -> String {
    let at = body.find("id=\"s-iban\"").unwrap();
    let v = body[at..].find("value=\"").unwrap() + at + 7;
    body[v..].split('"').next().unwrap().to_owned()
}

/// The address of the confirm or reject form of the waiting change.
fn decision_path(body: &str, action: &str) -> String {
    let marker = "action=\"/verwaltung/einstellungen/bankverbindung/";
    body.match_indices(marker)
        .map(|(i, _)| body[i + 8..].split('"').next().unwrap().to_owned())
        .find(|p| p.contains(&format!("/{action}")))
        .unwrap_or_else(|| panic!("no {action} form on the page"))
}

fn assert_no_full_iban(mails: &[Mail], iban: &str) {
    let grouped: String = iban
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    for (to, subject, text) in mails {
        for shown in [iban, grouped.as_str()] {
            assert!(
                !text.contains(shown) && !subject.contains(shown),
                "the mail to {to} shows the full IBAN:\n{text}"
            );
        }
    }
}

async fn a_bank_change_takes_a_second_admin(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let router = router_of(app);
    // A second administrator of Panketal, set up by the operator.
    let panketal = rathaus_app::tenants::resolve(app, PANKETAL).await.unwrap();
    let (_, delivery) = app
        .add_staff(
            &Actor::Cli,
            Some(&panketal),
            Role::TenantAdmin,
            "kasse@panketal.example",
            "Kasse Panketal",
            &[],
        )
        .await
        .unwrap();
    let link = delivery.operator_link().unwrap();
    let mut second = enrol(
        app,
        &router,
        link.strip_prefix(&app.config.public_url).unwrap(),
    )
    .await;
    let mut first = signed_in(&t, &router, ADMIN).await;
    drain_outbox(app).await;
    assert_eq!(iban_in_force(app, PANKETAL).await, OLD_IBAN);

    // The first administrator changes the IBAN (and the phone number).
    let csrf = first.get("/verwaltung/einstellungen").await.csrf().unwrap();
    let r = first
        .post(
            "/verwaltung/einstellungen/profil",
            &profile_form(&csrf, "DE89 3704 0044 0532 0130 00"),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some("/verwaltung/einstellungen?gespeichert=bank")
    );
    // The phone number is in force, the IBAN is not: notices and the form keep the old one.
    let tenant = rathaus_app::tenants::resolve(app, PANKETAL).await.unwrap();
    assert_eq!(tenant.profile.phone.as_deref(), Some("030 944 14-0"));
    assert_eq!(iban_in_force(app, PANKETAL).await, OLD_IBAN);
    let pending = app.store.pending_bank_change(PANKETAL).await.unwrap();
    let pending = pending.expect("a change waits");
    assert_eq!(pending.details.bank.as_ref().unwrap().iban, NEW_IBAN);
    let page = first
        .get("/verwaltung/einstellungen?gespeichert=bank")
        .await;
    assert_eq!(iban_field(&page.body), OLD_IBAN);
    assert!(
        page.body
            .contains("Neue Bankverbindung wartet auf Bestätigung")
    );
    assert!(
        page.body
            .contains("zweite Person der Verwaltung sie bestätigt")
    );
    assert!(
        !page.body.contains("kein Verwaltungskonto"),
        "a second admin exists"
    );
    // Both administrators are told, without the full IBAN.
    let mails = drain_outbox(app).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m.0.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["kasse@panketal.example", ADMIN]);
    assert!(mails.iter().all(|m| m.1.contains("wartet auf Bestätigung")));
    assert!(mails.iter().all(|m| m.2.contains("DE89 **** **** 3000")));
    assert_no_full_iban(&mails, NEW_IBAN);
    assert_no_full_iban(&mails, OLD_IBAN);

    // A second change while one waits: refused, nothing of the form saved.
    let csrf = first.get("/verwaltung/einstellungen").await.csrf().unwrap();
    let mut form = profile_form(&csrf, "DE12500105170648489890");
    form.retain(|(k, _)| *k != "phone");
    let r = first.post("/verwaltung/einstellungen/profil", &form).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("wartet schon auf Bestätigung"),
        "{}",
        r.body
    );
    let tenant = rathaus_app::tenants::resolve(app, PANKETAL).await.unwrap();
    assert_eq!(tenant.profile.phone.as_deref(), Some("030 944 14-0"));

    // The same administrator cannot confirm their own change: refused, nothing changes.
    let page = first.get("/verwaltung/einstellungen").await;
    assert!(!page.body.contains("/bestaetigen\""), "no confirm button");
    let confirm = format!(
        "/verwaltung/einstellungen/bankverbindung/{}/bestaetigen",
        pending.id
    );
    let r = first
        .post(&confirm, &[("csrf", &page.csrf().unwrap())])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("andere Person bestätigen"), "{}", r.body);
    assert_eq!(iban_in_force(app, PANKETAL).await, OLD_IBAN);
    assert!(
        app.store
            .pending_bank_change(PANKETAL)
            .await
            .unwrap()
            .is_some()
    );
    assert!(drain_outbox(app).await.is_empty());

    // The second administrator sees the change and confirms it: now it is in force.
    let page = second.get("/verwaltung/einstellungen").await;
    assert!(
        page.body.contains("Verwaltung Panketal hat am"),
        "{}",
        page.body
    );
    assert!(page.body.contains("DE89 3704 0044 0532 0130 00"));
    assert_eq!(decision_path(&page.body, "bestaetigen"), confirm);
    let r = second
        .post(&confirm, &[("csrf", &page.csrf().unwrap())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some("/verwaltung/einstellungen?gespeichert=bestaetigt")
    );
    assert_eq!(iban_in_force(app, PANKETAL).await, NEW_IBAN);
    assert!(
        app.store
            .pending_bank_change(PANKETAL)
            .await
            .unwrap()
            .is_none()
    );
    let page = second.get("/verwaltung/einstellungen").await;
    assert_eq!(iban_field(&page.body), NEW_IBAN);
    let tenant = rathaus_app::tenants::resolve(app, PANKETAL).await.unwrap();
    assert_eq!(tenant.profile.phone.as_deref(), Some("030 944 14-0"));
    let mails = drain_outbox(app).await;
    let mut to: Vec<&str> = mails.iter().map(|m| m.0.as_str()).collect();
    to.sort_unstable();
    assert_eq!(to, ["kasse@panketal.example", ADMIN]);
    assert!(mails.iter().all(|m| m.1.contains("geändert")));
    assert_no_full_iban(&mails, NEW_IBAN);
    assert_no_full_iban(&mails, OLD_IBAN);
    // Deciding again: it no longer waits.
    let r = second
        .post(&confirm, &[("csrf", &page.csrf().unwrap())])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // Audit-logged: the proposal by the first, the confirmation by the second administrator.
    let entries = app
        .store
        .audit_entries(&[PANKETAL.to_owned()], None, 100)
        .await
        .unwrap();
    let object = format!("bank_change:{}", pending.id);
    let first_id = user_id(app, ADMIN).await;
    let second_id = user_id(app, "kasse@panketal.example").await;
    assert!(entries.iter().any(|e| e.action == "tenant.bank.propose"
        && e.object == object
        && e.actor == format!("staff:{first_id}")));
    assert!(entries.iter().any(|e| e.action == "tenant.bank.confirm"
        && e.object == object
        && e.actor == format!("staff:{second_id}")));
    assert!(
        entries
            .iter()
            .all(|e| !e.outcome.contains(NEW_IBAN) && !e.outcome.contains(OLD_IBAN))
    );
}

async fn a_lone_admin_is_told_a_second_one_is_needed(b: TestBackend) {
    let Some(t) = demo_app(b).await else { return };
    let app = &t.app;
    let router = router_of(app);
    // Amt Niemegk's administration keeps the settings of its member, the town of Niemegk, and is
    // its only administrator.
    let member = "12069448";
    let mut amt = signed_in(&t, &router, "verwaltung@amt-niemegk.example").await;
    drain_outbox(app).await;
    let settings = format!("/verwaltung/einstellungen?kommune={member}");
    let page = amt.get(&settings).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "/verwaltung/einstellungen/profil?kommune={member}"
        )),
        "the form stays with the member municipality"
    );
    let csrf = page.csrf().unwrap();
    let r = amt
        .post(
            &format!("/verwaltung/einstellungen/profil?kommune={member}"),
            &[
                ("csrf", &csrf),
                ("bank_holder", "Stadt Niemegk"),
                ("iban", NEW_IBAN),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let niemegk = rathaus_app::tenants::resolve(app, member).await.unwrap();
    assert!(niemegk.profile.bank.is_none(), "not in force");
    assert!(
        app.store
            .pending_bank_change("120695910")
            .await
            .unwrap()
            .is_none(),
        "the Amt's own details are untouched"
    );
    let page = amt.get(&settings).await;
    assert!(
        page.body
            .contains("Außer Ihnen gibt es dafür kein Verwaltungskonto"),
        "{}",
        page.body
    );
    let mails = drain_outbox(app).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].0, "verwaltung@amt-niemegk.example");
    assert_no_full_iban(&mails, NEW_IBAN);

    // Another municipality's administration can neither see nor decide it.
    let id = app
        .store
        .pending_bank_change(member)
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut belzig = signed_in(&t, &router, "verwaltung@bad-belzig.example").await;
    let csrf = belzig.csrf().await;
    for path in [
        format!("/verwaltung/einstellungen/bankverbindung/{id}/bestaetigen?kommune={member}"),
        format!("/verwaltung/einstellungen/bankverbindung/{id}/bestaetigen"),
    ] {
        let r = belzig.post(&path, &[("csrf", &csrf)]).await;
        assert!(
            !r.status.is_success() && r.status != StatusCode::SEE_OTHER,
            "{path}: {}",
            r.status
        );
    }
    assert!(belzig.get(&settings).await.status.is_client_error());

    // The proposer may withdraw it.
    let withdraw = decision_path(&page.body, "ablehnen");
    assert!(
        withdraw.ends_with(&format!("/ablehnen?kommune={member}")),
        "{withdraw}"
    );
    let r = amt
        .post(&withdraw, &[("csrf", &page.csrf().unwrap())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        app.store
            .pending_bank_change(member)
            .await
            .unwrap()
            .is_none()
    );
    let mails = drain_outbox(app).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].1.contains("zurückgezogen"), "{}", mails[0].1);
    let niemegk = rathaus_app::tenants::resolve(app, member).await.unwrap();
    assert!(niemegk.profile.bank.is_none());
}

contract_tests!(
    links_go_by_mail_to_the_account_holder_only,
    a_bank_change_takes_a_second_admin,
    a_lone_admin_is_told_a_second_one_is_needed,
);

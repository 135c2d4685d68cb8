//! Staff sign-in over HTTP against a real router and database of either backend: password and
//! TOTP code, throttling, session timeouts, sign-out, enrolment and reset links, and OIDC against
//! a real provider (the npm package oidc-provider, started with node).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rathaus_app::Actor;
use rathaus_app::staff::demo::DemoStaff;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_domain::staff::Role;
use rathaus_store::contract_tests;
use time::Duration;
use tower::ServiceExt;

struct Browser {
    router: Router,
    cookies: HashMap<String, String>,
    peer: SocketAddr,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookies: Vec<String>,
    retry_after: Option<String>,
    body: String,
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
        Browser::at(router, "192.0.2.10:50000")
    }

    fn at(router: &Router, peer: &str) -> Browser {
        Browser {
            router: router.clone(),
            cookies: HashMap::new(),
            peer: peer.parse().unwrap(),
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
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let res = self.router.clone().oneshot(req).await.unwrap();
        let mut set_cookies = Vec::new();
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap().to_owned();
            common::assert_cookie_prefix_rules(&c);
            let (pair, _) = c.split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
            set_cookies.push(c);
        }
        let header = |n: &str| res.headers().get(n).map(|l| l.to_str().unwrap().to_owned());
        let (status, location, retry_after) =
            (res.status(), header("location"), header("retry-after"));
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Page {
            status,
            location,
            set_cookies,
            retry_after,
            body: String::from_utf8_lossy(&bytes).into_owned(),
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

    /// The first step: e-mail and password on the sign-in page.
    async fn password(&mut self, email: &str, password: &str, weiter: &str) -> Page {
        let page = self.get("/verwaltung/anmelden").await;
        let csrf = page.csrf();
        self.post(
            "/verwaltung/anmelden",
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", password),
                ("weiter", weiter),
            ],
        )
        .await
    }

    async fn code(&mut self, code: &str) -> Page {
        let page = self.get("/verwaltung/anmelden/code").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.csrf();
        self.post(
            "/verwaltung/anmelden/code",
            &[("csrf", &csrf), ("code", code)],
        )
        .await
    }
}

struct H {
    router: Router,
    t: TestApp,
    staff: Vec<DemoStaff>,
}

async fn harness(b: TestBackend) -> Option<H> {
    let t = demo_app(b).await?;
    let staff = t.app.demo_staff_credentials().await.unwrap();
    let router = router_for(&t.app);
    Some(H { router, t, staff })
}

fn router_for(app: &rathaus_app::App) -> Router {
    rathaus_web::router(rathaus_web::AppState::new(
        app.clone(),
        rathaus_web::Assets::locate(None),
    ))
}

impl H {
    fn clerk(&self) -> &DemoStaff {
        self.staff
            .iter()
            .find(|s| s.email == "sachbearbeitung@panketal.example")
            .unwrap()
    }

    fn code_now(&self, who: &DemoStaff) -> String {
        who.code_at(self.t.app.now().unix_timestamp())
    }

    /// Moves to the next 30-second step, so that a fresh code is not a replay.
    fn next_step(&self) {
        self.t.clock.advance(Duration::seconds(30));
    }

    async fn signed_in(&self, who: &DemoStaff) -> Browser {
        let mut b = Browser::new(&self.router);
        let r = b.password(&who.email, &who.password, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let r = b.code(&self.code_now(who)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location.as_deref(), Some("/verwaltung"));
        b
    }

    async fn user_id(&self, email: &str) -> String {
        self.t
            .app
            .list_staff(None)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.email == email)
            .unwrap()
            .id
    }
}

async fn full_sign_in_with_password_and_code(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();
    let mut br = Browser::new(&h.router);

    let r = br.get("/verwaltung").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location.as_deref(),
        Some("/verwaltung/anmelden?weiter=%2Fverwaltung")
    );

    let r = br
        .password(&clerk.email.to_uppercase(), &clerk.password, "")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/verwaltung/anmelden/code"));
    let pending = br.cookies["__Host-rh_staff"].clone();
    // A pending session opens nothing.
    let r = br.get("/verwaltung").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    let r = br.code(&h.code_now(&clerk)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/verwaltung"));
    let cookie = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-rh_staff="))
        .unwrap();
    for attr in ["; Path=/", "; Secure", "; HttpOnly", "; SameSite=Strict"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    assert_ne!(
        br.cookies["__Host-rh_staff"], pending,
        "a new token after the second factor"
    );

    let home = br.get("/verwaltung").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Sachbearbeitung Panketal") && home.body.contains("Gemeinde Panketal"),
        "{}",
        home.body
    );
    assert!(home.body.contains("Übersicht"));

    // Audited by account id, never by address.
    let id = h.user_id(&clerk.email).await;
    let entries =
        h.t.app
            .store
            .installation_audit_entries(None, 1000)
            .await
            .unwrap();
    assert!(entries.iter().any(|e| e.action == "staff.sign_in"
        && e.object == format!("staff:{id}")
        && e.outcome == "ok"));
    assert!(
        entries
            .iter()
            .all(|e| !format!("{} {} {}", e.actor, e.object, e.outcome).contains('@'))
    );
}

async fn wrong_password_wrong_code_and_replayed_code_are_refused(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();
    let mut br = Browser::new(&h.router);
    let r = br.password(&clerk.email, "falsches passwort 123", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body
            .contains("E-Mail-Adresse oder Passwort stimmen nicht")
    );
    let r = br
        .password("niemand@panketal.example", &clerk.password, "")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let entries =
        h.t.app
            .store
            .installation_audit_entries(None, 100)
            .await
            .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.object == "staff:unknown" && e.outcome.starts_with("denied"))
    );

    // The right password, the wrong code.
    let r = br.password(&clerk.email, &clerk.password, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let good = h.code_now(&clerk);
    let wrong = if good == "000000" { "111111" } else { "000000" };
    let r = br.code(wrong).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Der Code stimmt nicht"));
    let r = br.code(&good).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // The same code once more, in another browser: a replay.
    let mut other = Browser::new(&h.router);
    other.password(&clerk.email, &clerk.password, "").await;
    let r = other.code(&good).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("schon verwendet"), "{}", r.body);
    // An earlier step's code is refused too, the next one works.
    h.next_step();
    let r = other.code(&h.code_now(&clerk)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

async fn guessing_is_slowed_per_account_and_per_address(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();
    let mut br = Browser::at(&h.router, "198.51.100.1:4000");
    for _ in 0..5 {
        let r = br.password(&clerk.email, "falsches passwort 123", "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Sixth attempt at once: refused without checking, even with the right password.
    let r = br.password(&clerk.email, &clerk.password, "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    assert!(r.body.contains("Bitte warten Sie 1 Sekunden"), "{}", r.body);
    // From another address too: the account is slowed, not the address only.
    let mut elsewhere = Browser::at(&h.router, "203.0.113.7:4000");
    let r = elsewhere.password(&clerk.email, &clerk.password, "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);

    h.t.clock.advance(Duration::seconds(1));
    let r = br.password(&clerk.email, "falsches passwort 123", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = br.password(&clerk.email, &clerk.password, "").await;
    assert_eq!(r.retry_after.as_deref(), Some("2"), "doubles: 2^(6-5) s");
    // Never a lock: the delay is capped and the owner gets in once it has passed.
    assert_eq!(
        rathaus_app::staff::throttle::delay_seconds(1000, 5),
        15 * 60
    );
    h.t.clock.advance(Duration::seconds(2));
    let r = elsewhere.password(&clerk.email, &clerk.password, "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = elsewhere.code(&h.code_now(&clerk)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // Success reset the account's counter.
    assert_eq!(h.t.app.sign_in_wait(&clerk.email, None).await.unwrap(), 0);

    // Per address: ten failures against different accounts slow that address only.
    let mut sprayer = Browser::at(&h.router, "198.51.100.99:4000");
    for i in 0..10 {
        let r = sprayer
            .password(
                &format!("person{i}@panketal.example"),
                "falsches passwort",
                "",
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = sprayer
        .password("noch.jemand@panketal.example", "falsches passwort", "")
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    h.next_step();
    let r = Browser::at(&h.router, "203.0.113.7:4001")
        .password(&clerk.email, &clerk.password, "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "another address is not affected"
    );
}

async fn sessions_end_when_idle_at_their_absolute_end_and_on_sign_out(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();

    let mut br = h.signed_in(&clerk).await;
    for _ in 0..2 {
        h.t.clock.advance(Duration::minutes(29));
        assert_eq!(br.get("/verwaltung").await.status, StatusCode::OK);
    }
    h.t.clock.advance(Duration::minutes(31));
    let r = br.get("/verwaltung/vorgaenge?seite=2").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "idle for 31 minutes");
    assert_eq!(
        r.location.as_deref(),
        Some("/verwaltung/anmelden?weiter=%2Fverwaltung%2Fvorgaenge%3Fseite%3D2")
    );

    h.next_step();
    let mut br = h.signed_in(&clerk).await;
    let mut minutes = 0;
    loop {
        h.t.clock.advance(Duration::minutes(25));
        minutes += 25;
        let r = br.get("/verwaltung").await;
        if minutes < 600 {
            assert_eq!(r.status, StatusCode::OK, "after {minutes} minutes");
        } else {
            assert_eq!(r.status, StatusCode::SEE_OTHER, "after {minutes} minutes");
            break;
        }
    }

    h.next_step();
    let mut br = h.signed_in(&clerk).await;
    let token = br.cookies["__Host-rh_staff"].clone();
    let home = br.get("/verwaltung").await;
    // Sign-out needs the form's CSRF token.
    let r = br.post("/verwaltung/abmelden", &[("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = br
        .post("/verwaltung/abmelden", &[("csrf", &home.csrf())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-rh_staff=;") && c.contains("Max-Age=0"))
    );
    assert!(!br.cookies.contains_key("__Host-rh_staff"));
    // The old token is dead on the server, not only forgotten by the browser.
    br.cookies.insert("__Host-rh_staff".into(), token);
    assert_eq!(br.get("/verwaltung").await.status, StatusCode::SEE_OTHER);
}

async fn disabling_an_account_ends_its_sessions(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();
    let mut one = h.signed_in(&clerk).await;
    h.next_step();
    let mut two = h.signed_in(&clerk).await;
    let id = h.user_id(&clerk.email).await;
    assert_eq!(h.t.app.store.count_staff_sessions(&id).await.unwrap(), 2);
    assert!(
        h.t.app
            .set_staff_disabled(&Actor::Cli, &id, true)
            .await
            .unwrap()
    );
    assert_eq!(h.t.app.store.count_staff_sessions(&id).await.unwrap(), 0);
    assert_eq!(one.get("/verwaltung").await.status, StatusCode::SEE_OTHER);
    assert_eq!(two.get("/verwaltung").await.status, StatusCode::SEE_OTHER);
    h.next_step();
    let r = Browser::new(&h.router)
        .password(&clerk.email, &clerk.password, "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "disabled accounts cannot sign in"
    );
}

fn secret_on_page(body: &str) -> Vec<u8> {
    let at = body.find("<code id=\"totp-secret\">").unwrap() + 23;
    let grouped = body[at..].split('<').next().unwrap();
    let b32: String = grouped.chars().filter(|c| !c.is_whitespace()).collect();
    data_encoding::BASE32_NOPAD.decode(b32.as_bytes()).unwrap()
}

async fn enrolment_link_works_once_and_reset_keeps_the_second_factor(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let app = &h.t.app;
    let panketal = rathaus_app::tenants::resolve(app, "12060181")
        .await
        .unwrap();
    let (who, link) = app
        .add_staff(
            &Actor::Cli,
            Some(&panketal),
            Role::Clerk,
            "Neue.Person@Panketal.example",
            "Neue Person",
            &[],
        )
        .await
        .unwrap();
    let path = link
        .operator_link()
        .unwrap()
        .strip_prefix(&app.config.public_url)
        .unwrap()
        .to_owned();
    assert!(path.starts_with("/verwaltung/einrichten/"));
    let link_path = path.clone();

    // The link's secret moves into a cookie; the address the person then sees carries none.
    let mut br = Browser::new(&h.router);
    let r = br.get(&path).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location.as_deref(), Some("/verwaltung/einrichten"));
    assert!(
        r.set_cookies
            .iter()
            .any(|c| c.starts_with("__Host-rh_enrol=") && c.contains("HttpOnly"))
    );
    let page = br.get("/verwaltung/einrichten").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Guten Tag, Neue Person."));
    assert!(!page.body.contains(path.rsplit('/').next().unwrap()));
    // Without the cookie the address shows nothing.
    assert_eq!(
        Browser::new(&h.router)
            .get("/verwaltung/einrichten")
            .await
            .status,
        StatusCode::GONE
    );
    let path = "/verwaltung/einrichten".to_owned();
    let csrf = page.csrf();
    for (pw, expect) in [
        ("kurz", "zu kurz"),
        ("panketal ist schön 2026", "Panketal"),
        ("qwerty123456", "Datenlecks"),
    ] {
        let r = br
            .post(
                &path,
                &[("csrf", &csrf), ("password", pw), ("password2", pw)],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{pw}");
        assert!(r.body.contains(expect), "{pw}: {}", r.body);
    }
    let pw = "Kiefern am Gorinsee im Nebel";
    let r = br
        .post(
            &path,
            &[("csrf", &csrf), ("password", pw), ("password2", pw)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location.as_deref(), Some("/verwaltung/anmelden/code"));
    // Used once: the link is gone.
    assert_eq!(
        Browser::new(&h.router).get(&link_path).await.status,
        StatusCode::GONE
    );

    let page = br.get("/verwaltung/anmelden/code").await;
    assert!(page.body.contains("src=\"data:image/svg+xml;base64,"));
    let secret = secret_on_page(&page.body);
    assert_eq!(secret.len(), 20);
    let now = app.now().unix_timestamp();
    let r = br.code(&rathaus_crypto::totp::code_at(&secret, now)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(br.get("/verwaltung").await.status, StatusCode::OK);

    // Signing in again: password and code.
    h.next_step();
    let mut again = Browser::new(&h.router);
    assert_eq!(
        again
            .password("neue.person@panketal.example", pw, "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let now = app.now().unix_timestamp();
    let r = again
        .code(&rathaus_crypto::totp::code_at(&secret, now))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);

    // A reset: the new password takes effect only with a code from the enrolled app.
    let link = app.reset_staff(&Actor::Cli, &who.user_id).await.unwrap();
    let path = link
        .operator_link()
        .unwrap()
        .strip_prefix(&app.config.public_url)
        .unwrap()
        .to_owned();
    let mut br = Browser::new(&h.router);
    assert_eq!(br.get(&path).await.status, StatusCode::SEE_OTHER);
    let page = br.get("/verwaltung/einrichten").await;
    assert!(page.body.contains("Neues Passwort festlegen"));
    let new_pw = "Fliederduft über dem Dorfanger";
    let r = br
        .post(
            "/verwaltung/einrichten",
            &[
                ("csrf", &page.csrf()),
                ("password", new_pw),
                ("password2", new_pw),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = br.get("/verwaltung/anmelden/code").await;
    assert!(
        !page.body.contains("data:image/svg"),
        "no new secret on a reset"
    );
    // Not yet: the old password still holds, the new one does not.
    h.next_step();
    let mut probe = Browser::new(&h.router);
    assert_eq!(
        probe
            .password("neue.person@panketal.example", new_pw, "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = br.code("000000").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let now = app.now().unix_timestamp();
    let r = br.code(&rathaus_crypto::totp::code_at(&secret, now)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    h.next_step();
    assert_eq!(
        Browser::new(&h.router)
            .password("neue.person@panketal.example", new_pw, "")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        Browser::new(&h.router)
            .password("neue.person@panketal.example", pw, "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // A used or unknown link.
    assert_eq!(
        Browser::new(&h.router).get(&path).await.status,
        StatusCode::GONE
    );
    assert_eq!(
        Browser::new(&h.router)
            .get("/verwaltung/einrichten/nonsense")
            .await
            .status,
        StatusCode::GONE
    );
}

async fn only_local_paths_are_followed_after_sign_in(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();
    let mut br = Browser::new(&h.router);
    let page = br
        .get("/verwaltung/anmelden?weiter=https%3A%2F%2Fevil.example%2F")
        .await;
    assert!(page.body.contains("name=\"weiter\" value=\"\""));
    for (weiter, expect) in [
        ("//evil.example/x", "/verwaltung"),
        ("https://evil.example/", "/verwaltung"),
        ("/\\evil.example", "/verwaltung"),
        (
            "/verwaltung/vorgaenge?seite=2",
            "/verwaltung/vorgaenge?seite=2",
        ),
    ] {
        h.next_step();
        let mut br = Browser::new(&h.router);
        let r = br.password(&clerk.email, &clerk.password, weiter).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let r = br.code(&h.code_now(&clerk)).await;
        assert_eq!(r.location.as_deref(), Some(expect), "{weiter}");
    }
    // Signed in already: the sign-in page sends on, but never off-site.
    let r = br.get("/verwaltung/anmelden?weiter=//evil.example").await;
    assert_eq!(r.status, StatusCode::OK, "not signed in in this browser");
}

async fn csrf_is_required_on_sign_in(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let clerk = h.clerk().clone();
    let mut br = Browser::new(&h.router);
    br.get("/verwaltung/anmelden").await;
    let r = br
        .post(
            "/verwaltung/anmelden",
            &[
                ("csrf", "x"),
                ("email", &clerk.email),
                ("password", &clerk.password),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!br.cookies.contains_key("__Host-rh_staff"));
}

// ---- OIDC against a real provider ----

/// The oidc-provider process; killed on drop.
struct ProviderProcess {
    child: std::process::Child,
    issuer: String,
}

impl Drop for ProviderProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider(redirect_uri: &str) -> Option<ProviderProcess> {
    let required = std::env::var("RATHAUS_TEST_REQUIRE_OIDC").as_deref() == Ok("1");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf();
    let skip = |why: &str| {
        assert!(!required, "RATHAUS_TEST_REQUIRE_OIDC=1 but {why}");
        eprintln!("skipping the OIDC test: {why}");
        None
    };
    if !root
        .join("web/node_modules/oidc-provider/package.json")
        .is_file()
    {
        return skip("the npm package oidc-provider is not installed (npm ci --prefix web)");
    }
    let child = std::process::Command::new("node")
        .arg(root.join("scripts/oidc-provider.mjs"))
        .arg(redirect_uri)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) => return skip("node is not installed"),
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let issuer = line.trim().to_owned();
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer:?}");
    Some(ProviderProcess { child, issuer })
}

/// A tiny HTTP/1.0 client for the provider's pages, with a cookie jar.
#[derive(Default)]
struct ProviderBrowser {
    cookies: HashMap<String, String>,
}

struct ProviderReply {
    status: u16,
    location: Option<String>,
    body: String,
}

impl ProviderBrowser {
    fn request(&mut self, url: &str, form: Option<&str>) -> ProviderReply {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest
            .split_once('/')
            .map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut s = std::net::TcpStream::connect(host).unwrap();
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = format!(
            "{} {path} HTTP/1.0\r\nHost: {host}\r\nCookie: {cookie}\r\n",
            if form.is_some() { "POST" } else { "GET" }
        );
        if let Some(f) = form {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                f.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(form.unwrap_or_default());
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut location = None;
        for l in lines {
            let (k, v) = l.split_once(':').unwrap();
            let v = v.trim();
            match k.to_ascii_lowercase().as_str() {
                "location" => location = Some(v.to_owned()),
                "set-cookie" => {
                    let pair = v.split(';').next().unwrap();
                    let (n, val) = pair.split_once('=').unwrap();
                    self.cookies.insert(n.to_owned(), val.to_owned());
                }
                _ => {}
            }
        }
        let base = format!("http://{host}");
        ProviderReply {
            status,
            location: location.map(|l| {
                if l.starts_with('/') {
                    format!("{base}{l}")
                } else {
                    l
                }
            }),
            body: body.to_owned(),
        }
    }

    /// Follows the provider's pages from the authorization URL to the redirect back to rathaus,
    /// signing in on its login form as `login`.
    fn sign_in(&mut self, auth_url: &str, login: &str, back_to: &str) -> String {
        let mut url = auth_url.to_owned();
        let mut form: Option<String> = None;
        for _ in 0..12 {
            if url.starts_with(back_to) {
                return url;
            }
            let r = self.request(&url, form.as_deref());
            form = None;
            if let Some(l) = r.location {
                url = l;
                continue;
            }
            assert_eq!(r.status, 200, "{}", r.body);
            let at = r.body.find("action=\"").expect("a form") + 8;
            let action = r.body[at..]
                .split('"')
                .next()
                .unwrap()
                .replace("&amp;", "&");
            let host = url.split('/').take(3).collect::<Vec<_>>().join("/");
            url = if action.starts_with('/') {
                format!("{host}{action}")
            } else {
                action
            };
            form = Some(if r.body.contains("name=\"login\"") {
                serde_urlencoded::to_string([
                    ("prompt", "login"),
                    ("login", login),
                    ("password", "anything"),
                ])
                .unwrap()
            } else {
                "prompt=consent".to_owned()
            });
        }
        panic!("the provider did not send the browser back");
    }
}

async fn oidc_sign_in_against_a_real_provider(b: TestBackend) {
    let Some(mut t) = demo_app(b).await else {
        return;
    };
    let callback = format!("{}/verwaltung/oidc/callback", t.app.config.public_url);
    let Some(provider) = start_provider(&callback) else {
        return;
    };
    // The provider signs with the real time.
    t.clock.set(time::OffsetDateTime::now_utc());
    let mut cfg = (*t.app.config).clone();
    cfg.oidc = Some(rathaus_app::config::OidcConfig {
        issuer: provider.issuer.clone(),
        client_id: "rathaus-test".into(),
        client_secret: "rathaus-test-secret".into(),
        mfa_acr: vec![],
    });
    t.app.config = Arc::new(cfg);
    let router = router_for(&t.app);
    let staff = t.app.demo_staff_credentials().await.unwrap();
    let clerk = staff
        .iter()
        .find(|s| s.email == "sachbearbeitung@panketal.example")
        .unwrap();

    let mut br = Browser::new(&router);
    let page = br
        .get("/verwaltung/anmelden?weiter=%2Fverwaltung%2Fvorgaenge")
        .await;
    assert!(
        page.body
            .contains("/verwaltung/anmelden/oidc?weiter=%2Fverwaltung%2Fvorgaenge")
    );
    let r = br
        .get("/verwaltung/anmelden/oidc?weiter=%2Fverwaltung")
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let auth_url = r.location.unwrap();
    assert!(auth_url.starts_with(&provider.issuer));
    for p in [
        "code_challenge_method=S256",
        "code_challenge=",
        "state=",
        "nonce=",
        "scope=openid",
    ] {
        assert!(auth_url.contains(p), "{auth_url} lacks {p}");
    }
    let oidc_cookie = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("__Host-rh_oidc="))
        .unwrap();
    assert!(oidc_cookie.contains("SameSite=Lax") && oidc_cookie.contains("Secure"));

    let mut idp = ProviderBrowser::default();
    let back = idp.sign_in(&auth_url, &clerk.email, &callback);
    let back_path = back
        .strip_prefix(&t.app.config.public_url)
        .unwrap()
        .to_owned();

    // A callback whose state was tampered with is refused.
    let tampered = back_path.replace("state=", "state=x");
    let mut thief = Browser::new(&router);
    thief.cookies.insert(
        "__Host-rh_oidc".into(),
        br.cookies["__Host-rh_oidc"].clone(),
    );
    assert_eq!(thief.get(&tampered).await.status, StatusCode::UNAUTHORIZED);
    // That used up the pending login: start again.
    let r = br.get("/verwaltung/anmelden/oidc").await;
    let back = idp.sign_in(&r.location.unwrap(), &clerk.email, &callback);
    let back_path = back
        .strip_prefix(&t.app.config.public_url)
        .unwrap()
        .to_owned();

    let r = br.get(&back_path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // No multi-factor assertion from this provider: the TOTP code is still asked.
    assert!(
        r.body.contains("url=/verwaltung/anmelden/code"),
        "{}",
        r.body
    );
    assert_eq!(br.get("/verwaltung").await.status, StatusCode::SEE_OTHER);
    let code = clerk.code_at(t.app.now().unix_timestamp());
    let r = br.code(&code).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(br.get("/verwaltung").await.status, StatusCode::OK);
    // The same callback a second time is refused (one-time state).
    assert_eq!(br.get(&back_path).await.status, StatusCode::UNAUTHORIZED);

    // The subject is linked to the account now.
    let entries = t
        .app
        .store
        .installation_audit_entries(None, 200)
        .await
        .unwrap();
    assert!(entries.iter().any(|e| e.action == "staff.oidc_link"));

    // A person the provider knows but rathaus does not.
    let mut stranger = Browser::new(&router);
    let r = stranger.get("/verwaltung/anmelden/oidc").await;
    let mut idp2 = ProviderBrowser::default();
    let back = idp2.sign_in(&r.location.unwrap(), "fremd@example.org", &callback);
    let r = stranger
        .get(back.strip_prefix(&t.app.config.public_url).unwrap())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(!stranger.cookies.contains_key("__Host-rh_staff"));
}

async fn oidc_routes_are_absent_unless_configured(b: TestBackend) {
    let Some(h) = harness(b).await else { return };
    let mut br = Browser::new(&h.router);
    assert_eq!(
        br.get("/verwaltung/anmelden/oidc").await.status,
        StatusCode::NOT_FOUND
    );
    let page = br.get("/verwaltung/anmelden").await;
    assert!(!page.body.contains("/verwaltung/anmelden/oidc"));
}

contract_tests!(
    full_sign_in_with_password_and_code,
    wrong_password_wrong_code_and_replayed_code_are_refused,
    guessing_is_slowed_per_account_and_per_address,
    sessions_end_when_idle_at_their_absolute_end_and_on_sign_out,
    disabling_an_account_ends_its_sessions,
    enrolment_link_works_once_and_reset_keeps_the_second_factor,
    only_local_paths_are_followed_after_sign_in,
    csrf_is_required_on_sign_in,
    oidc_sign_in_against_a_real_provider,
    oidc_routes_are_absent_unless_configured,
);

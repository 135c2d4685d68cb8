//! A browser in miniature for office tests: cookies, CSRF tokens, sign-in with password and
//! second factor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub struct Browser {
    router: Router,
    cookies: HashMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
}

impl Page {
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")?;
        Some(self.body[at + 19..].split('"').next()?.to_owned())
    }
}

impl Browser {
    pub fn new(router: &Router) -> Browser {
        Browser {
            router: router.clone(),
            cookies: HashMap::new(),
        }
    }

    pub async fn send(&mut self, mut req: Request<Body>) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookie.is_empty() {
            req.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(
            "192.0.2.20:40000".parse().unwrap(),
        ));
        let res = self.router.clone().oneshot(req).await.unwrap();
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = serde_urlencoded::to_string(form).unwrap();
        self.send(
            Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// A CSRF token valid for this browser (any page with a form hands one out).
    pub async fn csrf(&mut self) -> String {
        match self.get("/verwaltung/anmelden").await.csrf() {
            Some(c) => c,
            None => self.get("/verwaltung").await.csrf().unwrap(),
        }
    }

    pub async fn sign_in(&mut self, email: &str, password: &str, code: impl Fn() -> String) {
        let csrf = self.csrf().await;
        let r = self
            .post(
                "/verwaltung/anmelden",
                &[
                    ("csrf", &csrf),
                    ("email", email),
                    ("password", password),
                    ("weiter", ""),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let csrf = self.get("/verwaltung/anmelden/code").await.csrf().unwrap();
        let r = self
            .post(
                "/verwaltung/anmelden/code",
                &[("csrf", &csrf), ("code", &code())],
            )
            .await;
        assert_eq!(r.location.as_deref(), Some("/verwaltung"), "{}", r.body);
    }
}

//! A browser in miniature for office tests: cookies, CSRF tokens, sign-in with password and
//! second factor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod api;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use rathaus_app::testing::{TestApp, TestBackend, demo_app};
use rathaus_app::{App, Config};
use rathaus_domain::staff::Role;
use tower::ServiceExt;

/// The demo installation, with its configuration as `tune` leaves it, behind the whole router.
pub struct Harness {
    pub router: Router,
    pub t: TestApp,
}

pub async fn harness(b: TestBackend, tune: impl FnOnce(&mut Config)) -> Option<Harness> {
    let mut t = demo_app(b).await?;
    let mut cfg = (*t.app.config).clone();
    tune(&mut cfg);
    t.app.config = Arc::new(cfg);
    let router = rathaus_web::router(rathaus_web::AppState::new(
        t.app.clone(),
        rathaus_web::Assets::locate(None),
    ));
    Some(Harness { router, t })
}

/// A browser signed in as the demo account with this role in the tenant with this key.
pub async fn signed_in(router: &Router, app: &App, tenant_key: &str, role: Role) -> Browser {
    let who = app
        .demo_staff_credentials()
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.tenant_key.as_deref() == Some(tenant_key) && d.role == role)
        .unwrap();
    let now = app.now().unix_timestamp();
    let mut br = Browser::new(router);
    br.sign_in(&who.email, &who.password, || who.code_at(now))
        .await;
    br
}

pub struct Browser {
    router: Router,
    pub cookies: HashMap<String, String>,
    /// The client address the requests come from.
    pub peer: SocketAddr,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")?;
        Some(self.body[at + 19..].split('"').next()?.to_owned())
    }
}

/// Browsers drop a cookie whose name prefix's rules it breaks (RFC 6265bis, 4.1.3): `__Secure-`
/// needs `Secure`; `__Host-` needs `Secure`, `Path=/` and no `Domain`. A test's cookie jar must not
/// be more forgiving than a browser, so every jar here refuses such a cookie loudly.
pub fn assert_cookie_prefix_rules(set_cookie: &str) {
    let name = set_cookie.split('=').next().unwrap_or("");
    let attrs: Vec<String> = set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    let has = |a: &str| attrs.iter().any(|x| x == a);
    if name.starts_with("__Secure-") || name.starts_with("__Host-") {
        assert!(has("secure"), "a browser drops {set_cookie:?}: no Secure");
    }
    if name.starts_with("__Host-") {
        assert!(
            has("path=/"),
            "a browser drops {set_cookie:?}: Path is not /"
        );
        assert!(
            !attrs.iter().any(|a| a.starts_with("domain=")),
            "a browser drops {set_cookie:?}: Domain is set"
        );
    }
}

impl Browser {
    pub fn new(router: &Router) -> Browser {
        Browser::from_address(router, "192.0.2.20:40000")
    }

    /// A browser whose requests come from `peer` (`address:port`).
    pub fn from_address(router: &Router, peer: &str) -> Browser {
        Browser {
            router: router.clone(),
            cookies: HashMap::new(),
            peer: peer.parse().unwrap(),
        }
    }

    /// The `cookie` header this browser would send.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, mut req: Request<Body>) -> Page {
        let cookie = self.cookie_header();
        if !cookie.is_empty() {
            req.headers_mut().insert("cookie", cookie.parse().unwrap());
        }
        req.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(self.peer));
        let res = self.router.clone().oneshot(req).await.unwrap();
        for c in res.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            assert_cookie_prefix_rules(c);
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
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// Opens a link from an e-mail as a browser does: follows the redirect that exchanges its
    /// secret for a cookie and returns the page it leads to.
    pub async fn open_link(&mut self, path: &str) -> Page {
        let r = self.get(path).await;
        match (r.status, r.location.clone()) {
            (StatusCode::SEE_OTHER, Some(to)) => self.get(&to).await,
            _ => r,
        }
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

    /// A multipart form with files, as a browser posts it.
    pub async fn post_files(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        files: &[(&str, &str, &[u8])],
    ) -> Page {
        self.send(
            Request::post(path)
                .header("content-type", MULTIPART_TYPE)
                .body(Body::from(multipart_body(form, files)))
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

/// The content type of [`multipart_body`].
pub const MULTIPART_TYPE: &str = "multipart/form-data; boundary=B0undary";

/// A multipart/form-data body with text fields and files.
pub fn multipart_body(form: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in form {
        body.extend_from_slice(
            format!("--B0undary\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (field, name, bytes) in files {
        body.extend_from_slice(
            format!("--B0undary\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--B0undary--\r\n");
    body
}

/// A valid 1×1 PNG with a tEXt chunk (metadata that must be stripped).
pub fn png() -> Vec<u8> {
    png_with_comment(b"Erika Mustermann")
}

/// A valid 1×1 PNG with a tEXt chunk of `text_len` bytes (metadata that must be stripped).
pub fn png_with_text(text_len: usize) -> Vec<u8> {
    png_with_comment(&vec![b'x'; text_len.saturating_sub(8)])
}

/// A valid 1×1 PNG whose tEXt chunk "Comment" holds `comment`.
pub fn png_with_comment(comment: &[u8]) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut c = kind.to_vec();
        c.extend_from_slice(data);
        out.extend_from_slice(&c);
        out.extend_from_slice(&crc32(&c).to_be_bytes());
    }
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for b in data {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xedb8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut text = b"Comment\0".to_vec();
    text.extend_from_slice(comment);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    chunk(&mut out, b"tEXt", &text);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

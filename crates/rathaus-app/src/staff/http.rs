//! A minimal HTTPS client for the three requests of an OIDC login (discovery, keys, token).
//!
//! hyper's HTTP/1 client over rustls, both already compiled for the server and the mailer, rather
//! than a full client crate: one request per connection, bodies capped at 1 MiB, a timeout on
//! everything. Plain `http://` only to loopback addresses (a provider on the same machine, tests).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::AppError;

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BODY: usize = 1024 * 1024;

pub(crate) struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, AppError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| AppError::Unavailable(format!("TLS setup: {e}")))
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Unavailable(format!("identity provider: {what}: {e}"))
}

/// Whether a URL may be used: https anywhere, http only on the loopback interface.
pub(crate) fn allowed_url(url: &url::Url) -> bool {
    match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d == "localhost",
            None => false,
        },
        _ => false,
    }
}

/// GET (no body) or POST (form body, optional basic authorization) of one URL.
pub(crate) async fn request(
    url: &str,
    form: Option<&str>,
    authorization: Option<&str>,
) -> Result<HttpResponse, AppError> {
    tokio::time::timeout(TIMEOUT, request_inner(url, form, authorization))
        .await
        .map_err(|_| unavailable("request", "timed out"))?
}

async fn request_inner(
    url: &str,
    form: Option<&str>,
    authorization: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let parsed = url::Url::parse(url).map_err(|e| unavailable("URL", e))?;
    if !allowed_url(&parsed) {
        return Err(AppError::Unavailable(
            "identity provider: only https:// URLs (http:// on loopback only)".into(),
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| unavailable("URL", "no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| unavailable("URL", "no port"))?;
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| unavailable("connect", e))?;
    let mut path = parsed.path().to_owned();
    if let Some(q) = parsed.query() {
        path = format!("{path}?{q}");
    }
    let authority = match parsed.port() {
        Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
        None => parsed.host_str().unwrap_or_default().to_owned(),
    };
    let mut builder = hyper::Request::builder()
        .method(if form.is_some() { "POST" } else { "GET" })
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "rathaus");
    if form.is_some() {
        builder = builder.header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    }
    if let Some(a) = authorization {
        builder = builder.header(hyper::header::AUTHORIZATION, a);
    }
    let req = builder
        .body(Full::new(Bytes::from(form.unwrap_or_default().to_owned())))
        .map_err(|e| unavailable("request", e))?;
    if parsed.scheme() == "https" {
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| unavailable("host name", e))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config()?)
            .connect(name, tcp)
            .await
            .map_err(|e| unavailable("TLS", e))?;
        send(TokioIo::new(tls), req).await
    } else {
        send(TokioIo::new(tcp), req).await
    }
}

async fn send<T>(io: T, req: hyper::Request<Full<Bytes>>) -> Result<HttpResponse, AppError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| unavailable("handshake", e))?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| unavailable("request", e))?;
    let status = res.status().as_u16();
    let body = Limited::new(res.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| unavailable("response", e))?
        .to_bytes()
        .to_vec();
    driver.abort();
    Ok(HttpResponse { status, body })
}

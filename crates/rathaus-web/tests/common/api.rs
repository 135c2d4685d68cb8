//! The REST API from a client's side: JSON requests from a given address, their answers, and
//! the OpenAPI document to check those answers against.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// `Null` when the body is not JSON.
    pub json: Value,
    pub text: String,
}

/// Sends a request as the client at `client` (`address:port`).
pub async fn send(router: &Router, mut req: Request<Body>, client: &str) -> Reply {
    let addr: SocketAddr = client.parse().unwrap();
    req.extensions_mut().insert(ConnectInfo(addr));
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Posts `body` as `application/json`, with the extra headers given.
pub async fn post_json(
    router: &Router,
    path: &str,
    body: &str,
    client: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::post(path).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(
        router,
        req.body(Body::from(body.to_owned())).unwrap(),
        client,
    )
    .await
}

/// `/api/openapi.json`, as served.
pub async fn openapi(router: &Router) -> Value {
    let r = send(
        router,
        Request::get("/api/openapi.json")
            .body(Body::empty())
            .unwrap(),
        "192.0.2.250:5000",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json["openapi"], "3.1.0");
    r.json
}

/// Where `instance` does not fit the document's schema `component`: the document itself is the
/// schema, and `$ref` picks one of its components.
pub fn misfits(doc: &Value, component: &str, instance: &Value) -> Vec<String> {
    let mut schema = doc.clone();
    schema["$ref"] = json!(format!("#/components/schemas/{component}"));
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    validator
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

//! The REST API (`/api/v1/…`): JSON in, JSON out, errors as RFC 9457 problem details.

mod dogtax;
mod submissions;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tenants/{ags}/dog-tax/quote", post(dogtax::quote))
        .route(
            "/tenants/{ags}/services/{service}/submissions",
            post(submissions::submit),
        )
}

/// The API's description (OpenAPI 3.1), at `/api/openapi.json`. Written by hand next to the
/// handlers; the tests check real answers against its schemas and examples.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

pub(crate) async fn openapi() -> Response {
    let mut response = OPENAPI.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// JSON with the given status and content type.
pub(crate) fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &serde_json::Value,
) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// An RFC 9457 problem document (`application/problem+json`) with its status.
pub(crate) fn problem(body: &serde_json::Value) -> Response {
    let status = body
        .get("status")
        .and_then(serde_json::Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, "application/problem+json", body)
}

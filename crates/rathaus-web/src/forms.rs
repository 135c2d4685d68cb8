//! Reading posted forms.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use rathaus_domain::service::FormInput;

/// Reads a urlencoded body into name/value pairs (limited by the route's body limit).
pub(crate) async fn urlencoded(request: Request) -> Result<FormInput, StatusCode> {
    let bytes = Bytes::from_request(request, &())
        .await
        .map_err(|e| e.status())?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&bytes).map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(FormInput::new(pairs))
}

//! The REST API (`/api/v1/…`): JSON in, JSON out, errors as RFC 9457 problem details.

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

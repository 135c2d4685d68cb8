//! Staff sign-in: password and second factor, sessions, enrolment, sign-out.

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
}

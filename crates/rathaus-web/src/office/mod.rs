//! The back office (`/verwaltung/…`) for municipal staff: sign-in, inbox, case work, settings.

mod auth;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(auth::routes())
}

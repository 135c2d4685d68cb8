//! The back office (`/verwaltung/…`) for municipal staff: sign-in, inbox, case work, settings.

mod auth;
mod cases;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(auth::routes()).merge(cases::routes())
}

/// The signed-in staff member, or a redirect to the sign-in page.
// Until sign-in lands every office page redirects there.
pub(crate) async fn require_staff(
    _state: &AppState,
    _headers: &axum::http::HeaderMap,
) -> Result<rathaus_domain::staff::StaffIdentity, axum::response::Response> {
    Err(axum::response::IntoResponse::into_response(
        axum::response::Redirect::to("/verwaltung/anmelden"),
    ))
}

//! The back office (`/verwaltung/…`) for municipal staff: sign-in, inbox, case work, settings.

mod auth;
mod cases;
mod settings;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(auth::routes())
        .merge(cases::routes())
        .merge(settings::routes())
        // Lets `require_staff` send people back to the page they asked for after signing in.
        .layer(axum::middleware::from_fn(auth::remember_path))
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

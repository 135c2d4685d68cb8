//! The back office (`/verwaltung/…`) for municipal staff: sign-in, inbox, case work, settings.

mod auth;
mod cases;
mod settings;
mod statute;
mod users;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(auth::routes())
        .merge(cases::routes())
        .merge(settings::routes())
        .merge(users::routes())
        .merge(statute::routes())
        // Lets `require_staff` send people back to the page they asked for after signing in.
        .layer(axum::middleware::from_fn(auth::remember_path))
}

/// The signed-in staff member, or a redirect to the sign-in page.
pub(crate) use auth::require_staff;

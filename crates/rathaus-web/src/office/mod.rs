//! The back office (`/verwaltung/…`) for municipal staff: sign-in, inbox, case work, settings.

mod auth;
mod cases;
mod search;
mod settings;
mod statute;
mod users;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

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
        .layer(axum::middleware::from_fn(no_store))
}

/// Office pages show personal data and who is signed in: no browser or proxy keeps a copy, so Back
/// after signing out on a shared computer shows the sign-in page, not the last inbox.
async fn no_store(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The signed-in staff member, or a redirect to the sign-in page.
pub(crate) use auth::require_staff;

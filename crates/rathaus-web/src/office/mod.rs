//! The back office (`/verwaltung/…`) for municipal staff: sign-in, inbox, case work, settings.

mod auth;
mod cases;
mod search;
mod settings;
mod statute;
mod users;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rathaus_domain::service::FormInput;
use rathaus_domain::staff::StaffIdentity;
use rathaus_domain::tenant::Tenant;

use crate::AppState;
use crate::portal::Layout;

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

/// The start of every settings page: the signed-in person and the municipality whose settings they
/// open; or the page that says why not.
pub(crate) async fn open_settings(
    state: &AppState,
    headers: &HeaderMap,
    kommune: Option<&str>,
) -> Result<(StaffIdentity, Tenant), Response> {
    let who = require_staff(state, headers).await?;
    match state.app.settings_tenant(&who, kommune).await {
        Ok(t) => Ok((who, t)),
        Err(e) => Err(cases::office_error(
            e,
            cases::office_layout(state, headers, &who, "/verwaltung").await,
        )),
    }
}

/// The start of every change on the settings pages: the signed-in person, the page's layout (for
/// errors), the posted form with its CSRF token checked, and the municipality whose settings it
/// changes; or the page that says why not.
pub(crate) async fn settings_form(
    state: &AppState,
    headers: &HeaderMap,
    kommune: Option<&str>,
    request: Request,
    path: &str,
) -> Result<(StaffIdentity, Layout, Tenant, FormInput), Response> {
    let who = require_staff(state, headers).await?;
    let layout = cases::office_layout(state, headers, &who, path).await;
    let input = crate::forms::urlencoded(request)
        .await
        .map_err(IntoResponse::into_response)?;
    if !crate::cookies::csrf_ok(state, headers, input.get("csrf")) {
        return Err(cases::form_expired(layout));
    }
    let tenant = match state.app.settings_tenant(&who, kommune).await {
        Ok(t) => t,
        Err(e) => return Err(cases::office_error(e, layout)),
    };
    Ok((who, layout, tenant, input))
}

//! Staff accounts of a municipality, kept by its tenant admin (or the operator).

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rathaus_app::staff::StaffSummary;
use rathaus_app::{Actor, AppError};
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::Tenant;
use serde::Deserialize;

use super::cases::{office_error, office_layout};
use super::settings::suffix;
use super::{open_settings, settings_form};
use crate::portal::{Layout, render};
use crate::{AppState, cookies};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/verwaltung/benutzer", get(users_page).post(add_user))
        .route("/verwaltung/benutzer/{id}/{action}", post(user_action))
}

#[derive(Deserialize, Default)]
struct Which {
    kommune: Option<String>,
}

#[derive(Template)]
#[template(path = "office/users.html")]
struct UsersPage {
    layout: Layout,
    tenant: Tenant,
    users: Vec<StaffSummary>,
    services: Vec<(String, String)>,
    csrf: String,
    suffix: String,
    error: Option<String>,
    /// Whom a one-time link was just e-mailed to: (name, address). The page never shows the
    /// link itself: whoever holds it can take the account over.
    sent: Option<(String, String)>,
}

impl UsersPage {
    fn role_label(&self, r: &Role) -> &'static str {
        r.label_de()
    }
}

async fn page(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    tenant: Tenant,
    error: Option<String>,
    sent: Option<(String, String)>,
) -> Response {
    let layout = office_layout(state, headers, who, "/verwaltung/benutzer").await;
    let users = match state.app.list_staff(Some(tenant.key.as_str())).await {
        Ok(u) => u,
        Err(e) => return office_error(e, layout),
    };
    let services = match state.app.latest_services().await {
        Ok(s) => s
            .iter()
            .map(|d| (d.id.clone(), d.title.de.clone()))
            .collect(),
        Err(e) => return office_error(e, layout),
    };
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut r = (
        status,
        render(&UsersPage {
            suffix: suffix(who, &tenant),
            tenant,
            users,
            services,
            csrf,
            error,
            sent,
            layout,
        }),
    )
        .into_response();
    if let Some(c) = cookie {
        cookies::append(r.headers_mut(), c);
    }
    r
}

async fn users_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
) -> Response {
    let (who, t) = match open_settings(&state, &headers, w.kommune.as_deref()).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    page(&state, &headers, &who, t, None, None).await
}

async fn add_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    request: Request,
) -> Response {
    let (who, _, tenant, input) = match settings_form(
        &state,
        &headers,
        w.kommune.as_deref(),
        request,
        "/verwaltung/benutzer",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let role = match input.get("role").and_then(Role::from_code) {
        Some(Role::OperatorAdmin) | None => {
            return page(
                &state,
                &headers,
                &who,
                tenant,
                Some("Bitte wählen Sie eine Rolle.".into()),
                None,
            )
            .await;
        }
        Some(r) => r,
    };
    let services: Vec<String> = input
        .all("services")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let actor = Actor::Staff(who.user_id.clone());
    let name = input.get("name").unwrap_or("").trim().to_owned();
    let email = input.get("email").unwrap_or("").trim().to_owned();
    match state
        .app
        .add_staff(&actor, Some(&tenant), role, &email, &name, &services)
        .await
    {
        Ok((added, _mailed)) => {
            let to = rathaus_app::staff::normalise_email(&email).unwrap_or(email);
            page(
                &state,
                &headers,
                &who,
                tenant,
                None,
                Some((added.display_name, to)),
            )
            .await
        }
        Err(AppError::BadInput(m) | AppError::Conflict(m)) => {
            page(&state, &headers, &who, tenant, Some(m), None).await
        }
        Err(e) => office_error(
            e,
            office_layout(&state, &headers, &who, "/verwaltung/benutzer").await,
        ),
    }
}

async fn user_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    Path((id, action)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (who, _, tenant, _input) = match settings_form(
        &state,
        &headers,
        w.kommune.as_deref(),
        request,
        "/verwaltung/benutzer",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    // The account must belong to the tenant on this page; others look like unknown ones.
    let account = state
        .app
        .list_staff(Some(tenant.key.as_str()))
        .await
        .ok()
        .and_then(|users| users.into_iter().find(|u| u.id == id));
    let Some(account) = account else {
        return office_error(
            AppError::NotFound("no such account".into()),
            office_layout(&state, &headers, &who, "/verwaltung").await,
        );
    };
    let actor = Actor::Staff(who.user_id.clone());
    let result = match action.as_str() {
        "sperren" => state
            .app
            .set_staff_disabled(&actor, &id, true)
            .await
            .map(|_| None),
        "entsperren" => state
            .app
            .set_staff_disabled(&actor, &id, false)
            .await
            .map(|_| None),
        "zuruecksetzen" => state.app.reset_staff(&actor, &id).await.map(Some),
        "zweiter-faktor" => state
            .app
            .reset_staff_second_factor(&actor, &id)
            .await
            .map(Some),
        _ => Err(AppError::NotFound("no such action".into())),
    };
    match result {
        Ok(mailed) => {
            let sent = mailed.map(|_| (account.name, account.email));
            page(&state, &headers, &who, tenant, None, sent).await
        }
        Err(AppError::BadInput(m) | AppError::Conflict(m)) => {
            page(&state, &headers, &who, tenant, Some(m), None).await
        }
        Err(e) => office_error(
            e,
            office_layout(&state, &headers, &who, "/verwaltung/benutzer").await,
        ),
    }
}

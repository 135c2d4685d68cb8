//! The dog-tax statute page of a municipality's tenant admin.

use askama::Template;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rathaus_app::office::statute::StatuteForm;
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::Tenant;
use serde::Deserialize;

use super::cases::{form_expired, office_error, office_layout};
use super::require_staff;
use crate::portal::{Layout, render};
use crate::{AppState, cookies, forms};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/verwaltung/hundesteuersatzung", get(page).post(save))
}

#[derive(Deserialize, Default)]
struct Which {
    kommune: Option<String>,
    gespeichert: Option<String>,
}

struct VersionView {
    valid_from: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "office/statute.html")]
struct StatutePage {
    layout: Layout,
    tenant: Tenant,
    versions: Vec<VersionView>,
    form: StatuteForm,
    error: Option<String>,
    saved: bool,
    csrf: String,
    action: String,
}

async fn show(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    tenant: Tenant,
    form: Option<StatuteForm>,
    error: Option<String>,
    saved: bool,
) -> Response {
    let layout = office_layout(state, headers, who, "/verwaltung/hundesteuersatzung").await;
    let versions = match state.app.statute_versions(&tenant).await {
        Ok(v) => v,
        Err(e) => return office_error(e, layout),
    };
    let form = form.unwrap_or_else(|| {
        versions
            .first()
            .map(StatuteForm::from_statute)
            .unwrap_or_default()
    });
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let action = if who.role == Role::OperatorAdmin
        || who.tenant_key.as_deref() != Some(tenant.key.as_str())
    {
        format!("/verwaltung/hundesteuersatzung?kommune={}", tenant.key)
    } else {
        "/verwaltung/hundesteuersatzung".into()
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = StatutePage {
        versions: versions
            .iter()
            .map(|s| VersionView {
                valid_from: s.valid_from().to_string(),
                summary: rathaus_app::office::statute::describe(s),
            })
            .collect(),
        tenant,
        form,
        error,
        saved,
        csrf,
        action,
        layout,
    };
    let mut r = (status, render(&page)).into_response();
    if let Some(c) = cookie {
        cookies::append(r.headers_mut(), c);
    }
    r
}

async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match state.app.settings_tenant(&who, w.kommune.as_deref()).await {
        Ok(t) => {
            show(
                &state,
                &headers,
                &who,
                t,
                None,
                None,
                w.gespeichert.is_some(),
            )
            .await
        }
        Err(e) => office_error(
            e,
            office_layout(&state, &headers, &who, "/verwaltung").await,
        ),
    }
}

async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    request: Request,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let layout = office_layout(&state, &headers, &who, "/verwaltung/hundesteuersatzung").await;
    let input = match forms::urlencoded(request).await {
        Ok(i) => i,
        Err(s) => return s.into_response(),
    };
    if !cookies::csrf_ok(&state, &headers, input.get("csrf")) {
        return form_expired(layout);
    }
    let tenant = match state.app.settings_tenant(&who, w.kommune.as_deref()).await {
        Ok(t) => t,
        Err(e) => return office_error(e, layout),
    };
    let g = |k: &str| input.get(k).unwrap_or("").to_owned();
    let form = StatuteForm {
        valid_from: g("valid_from"),
        rate_model: g("rate_model"),
        rates: g("rates"),
        dangerous_rates: g("dangerous_rates"),
        liability_start: g("liability_start"),
        installments: g("installments"),
        exemptions: g("exemptions"),
        reductions: g("reductions"),
        replacement_tag_fee: g("replacement_tag_fee"),
    };
    match state.app.save_statute(&who, &tenant, &form).await {
        Ok(Ok(())) => {
            let sep = if w.kommune.is_some() { "&" } else { "?" };
            let q = w
                .kommune
                .as_ref()
                .map(|k| format!("?kommune={k}"))
                .unwrap_or_default();
            Redirect::to(&format!(
                "/verwaltung/hundesteuersatzung{q}{sep}gespeichert=1"
            ))
            .into_response()
        }
        Ok(Err(m)) => show(&state, &headers, &who, tenant, Some(form), Some(m), false).await,
        Err(e) => office_error(e, layout),
    }
}

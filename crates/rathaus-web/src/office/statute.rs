//! The dog-tax statute page of a municipality's tenant admin.

use askama::Template;
use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rathaus_app::office::statute::StatuteForm;
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::Tenant;
use serde::Deserialize;

use super::cases::{office_error, office_layout};
use super::{open_settings, settings_form};
use crate::portal::{Layout, render};
use crate::{AppState, cookies};

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
    let (who, t) = match open_settings(&state, &headers, w.kommune.as_deref()).await {
        Ok(found) => found,
        Err(r) => return r,
    };
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

async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    request: Request,
) -> Response {
    let (who, layout, tenant, input) = match settings_form(
        &state,
        &headers,
        w.kommune.as_deref(),
        request,
        "/verwaltung/hundesteuersatzung",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
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
            crate::redirect::see_other(&format!(
                "/verwaltung/hundesteuersatzung{q}{sep}gespeichert=1"
            ))
        }
        Ok(Err(m)) => show(&state, &headers, &who, tenant, Some(form), Some(m), false).await,
        Err(e) => office_error(e, layout),
    }
}

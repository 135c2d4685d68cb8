//! Settings of a municipality (tenant admin; the operator for any municipality) and the audit
//! log (auditor / data-protection officer).

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rathaus_app::office::settings::{ProfileForm, ServiceSetting};
use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::service::definition::ParameterKind;
use rathaus_domain::staff::{Role, StaffIdentity};
use rathaus_domain::tenant::Tenant;
use serde::Deserialize;

use super::cases::{form_expired, office_error, office_layout};
use super::{open_settings, require_staff, settings_form};
use crate::portal::{Layout, render};
use crate::{AppState, cookies};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/verwaltung/einstellungen", get(settings_page))
        .route("/verwaltung/einstellungen/profil", post(save_profile))
        .route("/verwaltung/einstellungen/logo", post(save_logo))
        .route(
            "/verwaltung/einstellungen/leistungen/{service}",
            post(save_service),
        )
        .route("/verwaltung/protokoll", get(audit_log))
        .route("/{slug}/logo.png", get(public_logo))
}

#[derive(Deserialize, Default)]
struct Which {
    kommune: Option<String>,
    gespeichert: Option<String>,
}

#[derive(Template)]
#[template(path = "office/settings.html")]
struct SettingsPage {
    layout: Layout,
    tenant: Tenant,
    form: ProfileForm,
    errors: Vec<(&'static str, String)>,
    services: Vec<ServiceSetting>,
    csrf: String,
    suffix: String,
    saved: bool,
    has_logo: bool,
}

impl SettingsPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
    fn is_choices(&self, kind: &ParameterKind) -> bool {
        *kind == ParameterKind::Choices
    }
}

/// `?kommune=…` for the operator, who manages every municipality.
fn suffix(who: &StaffIdentity, tenant: &Tenant) -> String {
    if who.role == Role::OperatorAdmin {
        format!("?kommune={}", tenant.key)
    } else {
        String::new()
    }
}

async fn render_settings(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    tenant: Tenant,
    form: Option<ProfileForm>,
    errors: Vec<(&'static str, String)>,
    saved: bool,
) -> Response {
    let layout = office_layout(state, headers, who, "/verwaltung/einstellungen").await;
    let services = match state.app.service_settings(&tenant).await {
        Ok(s) => s,
        Err(e) => return office_error(e, layout),
    };
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = SettingsPage {
        form: form.unwrap_or_else(|| ProfileForm::from_profile(&tenant.profile)),
        has_logo: tenant.profile.logo_blob.is_some(),
        suffix: suffix(who, &tenant),
        tenant,
        errors,
        services,
        csrf,
        saved,
        layout,
    };
    let mut r = (status, render(&page)).into_response();
    if let Some(c) = cookie {
        cookies::append(r.headers_mut(), c);
    }
    r
}

async fn settings_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
) -> Response {
    let (who, t) = match open_settings(&state, &headers, w.kommune.as_deref()).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    render_settings(
        &state,
        &headers,
        &who,
        t,
        None,
        Vec::new(),
        w.gespeichert.is_some(),
    )
    .await
}

async fn save_profile(
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
        "/verwaltung/einstellungen",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let g = |k: &str| input.get(k).unwrap_or("").to_owned();
    let form = ProfileForm {
        address: g("address"),
        phone: g("phone"),
        email: g("email"),
        website: g("website"),
        office_hours: g("office_hours"),
        bank_holder: g("bank_holder"),
        iban: g("iban"),
        bic: g("bic"),
        bank_name: g("bank_name"),
        creditor_id: g("creditor_id"),
        signature: g("signature"),
    };
    match state.app.save_profile(&who, &tenant, &form).await {
        Ok(Ok(())) => {
            let sep = if suffix(&who, &tenant).is_empty() {
                "?"
            } else {
                "&"
            };
            crate::redirect::see_other(&format!(
                "/verwaltung/einstellungen{}{sep}gespeichert=1",
                suffix(&who, &tenant)
            ))
        }
        Ok(Err(errors)) => {
            render_settings(&state, &headers, &who, tenant, Some(form), errors, false).await
        }
        Err(e) => office_error(e, layout),
    }
}

async fn save_logo(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    mut mp: Multipart,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let layout = office_layout(&state, &headers, &who, "/verwaltung/einstellungen").await;
    let (mut csrf, mut bytes) = (String::new(), Vec::new());
    while let Ok(Some(field)) = mp.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("logo") => bytes = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default(),
            _ => {}
        }
    }
    if !cookies::csrf_ok(&state, &headers, Some(&csrf)) {
        return form_expired(layout);
    }
    let tenant = match state.app.settings_tenant(&who, w.kommune.as_deref()).await {
        Ok(t) => t,
        Err(e) => return office_error(e, layout),
    };
    match state.app.save_logo(&who, &tenant, &bytes).await {
        Ok(Ok(())) => crate::redirect::see_other(&format!(
            "/verwaltung/einstellungen{}",
            suffix(&who, &tenant)
        )),
        Ok(Err(m)) => {
            render_settings(
                &state,
                &headers,
                &who,
                tenant,
                None,
                vec![("logo", m)],
                false,
            )
            .await
        }
        Err(e) => office_error(e, layout),
    }
}

async fn save_service(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    Path(service): Path<String>,
    request: Request,
) -> Response {
    let (who, layout, tenant, input) = match settings_form(
        &state,
        &headers,
        w.kommune.as_deref(),
        request,
        "/verwaltung/einstellungen",
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let params: Vec<(String, String)> = input
        .all_pairs()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("param_").map(|n| (n.to_owned(), v.clone())))
        .collect();
    let offered = input.get("offered") == Some("ja");
    let four_eyes = input.get("four_eyes") == Some("ja");
    match state
        .app
        .save_service_setting(&who, &tenant, &service, offered, four_eyes, &params)
        .await
    {
        Ok(Ok(())) => crate::redirect::see_other(&format!(
            "/verwaltung/einstellungen{}",
            suffix(&who, &tenant)
        )),
        Ok(Err(errors)) => {
            render_settings(&state, &headers, &who, tenant, None, errors, false).await
        }
        Err(e) => office_error(e, layout),
    }
}

async fn public_logo(State(state): State<AppState>, Path(slug): Path<String>) -> Response {
    let Ok(tenant) = state.app.public_tenant(&slug).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match state.app.logo(&tenant).await {
        Ok(Some(png)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("image/png")),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            png,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    vorgang: Option<String>,
}

#[derive(Template)]
#[template(path = "office/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<(i64, String, String, String, String, String)>,
    reference: String,
}

async fn audit_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let layout = office_layout(&state, &headers, &who, "/verwaltung/protokoll").await;
    let reference = q.vorgang.unwrap_or_default().trim().to_uppercase();
    match state
        .app
        .audit_log_for(&who, (!reference.is_empty()).then_some(reference.as_str()))
        .await
    {
        Ok(records) => render(&AuditPage {
            entries: records
                .into_iter()
                .map(|r| {
                    (
                        r.seq,
                        format_berlin(from_unix_ms(r.at_ms)),
                        r.actor,
                        r.action,
                        r.object,
                        r.outcome,
                    )
                })
                .collect(),
            reference,
            layout,
        }),
        Err(e) => office_error(e, layout),
    }
}

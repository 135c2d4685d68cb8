//! Settings of a municipality (tenant admin; the operator for any municipality) and the audit
//! log (auditor / data-protection officer). A change of the bank details waits on the page for a
//! second person to confirm or reject it.

use askama::Template;
use axum::Router;
use axum::extract::{Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rathaus_app::AppError;
use rathaus_app::office::bank::{BankDecision, BankDetails, PendingBankChange};
use rathaus_app::office::settings::{ProfileForm, ServiceSetting};
use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::service::definition::ParameterKind;
use rathaus_domain::staff::StaffIdentity;
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
        .route(
            "/verwaltung/einstellungen/bankverbindung/{id}/{action}",
            post(decide_bank_change),
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
    /// What was just done: a heading and, where needed, a sentence more.
    saved: Option<(&'static str, &'static str)>,
    has_logo: bool,
    pending: Option<BankChangeView>,
}

/// A waiting change of the bank details: who proposed it when, and each detail before and after.
struct BankChangeView {
    id: String,
    proposed_by: String,
    proposed_at: String,
    by_viewer: bool,
    needs_second_admin: bool,
    /// (label, now, proposed, differs)
    rows: Vec<(&'static str, String, String, bool)>,
}

impl BankChangeView {
    fn new(p: PendingBankChange) -> BankChangeView {
        fn rows(d: &BankDetails) -> [String; 5] {
            let b = d.bank.as_ref();
            [
                b.map(|b| b.holder.clone()).unwrap_or_default(),
                b.map(|b| grouped(&b.iban)).unwrap_or_default(),
                b.and_then(|b| b.bic.clone()).unwrap_or_default(),
                b.and_then(|b| b.bank_name.clone()).unwrap_or_default(),
                d.creditor_id.clone().unwrap_or_default(),
            ]
        }
        let labels = [
            "Kontoinhaber",
            "IBAN",
            "BIC",
            "Bank",
            "Gläubiger-Identifikationsnummer",
        ];
        let (now, new) = (rows(&p.current), rows(&p.details));
        BankChangeView {
            rows: labels
                .iter()
                .zip(now.into_iter().zip(new))
                .map(|(l, (a, b))| {
                    let differs = a != b;
                    (*l, a, b, differs)
                })
                .collect(),
            id: p.id,
            proposed_by: p.proposed_by,
            proposed_at: format_berlin(p.proposed_at),
            by_viewer: p.by_viewer,
            needs_second_admin: p.needs_second_admin,
        }
    }
}

/// An IBAN in groups of four, as people read it aloud to check it.
fn grouped(iban: &str) -> String {
    iban.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
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

/// `?kommune=…` on every form of a page that is not the viewer's own municipality: the
/// operator's, and an Amt's administration keeping a member's settings.
pub(crate) fn suffix(who: &StaffIdentity, tenant: &Tenant) -> String {
    if who.tenant_key.as_deref() == Some(tenant.key.as_str()) {
        String::new()
    } else {
        format!("?kommune={}", tenant.key)
    }
}

/// The settings page's address with a note of what was just done.
fn settings_after(who: &StaffIdentity, tenant: &Tenant, done: &str) -> String {
    let suffix = suffix(who, tenant);
    let sep = if suffix.is_empty() { "?" } else { "&" };
    format!("/verwaltung/einstellungen{suffix}{sep}gespeichert={done}")
}

fn saved_note(done: Option<&str>) -> Option<(&'static str, &'static str)> {
    match done? {
        "bank" => Some((
            "Gespeichert",
            "Die neue Bankverbindung gilt erst, wenn eine zweite Person der Verwaltung sie bestätigt. Bis dahin stehen auf Bescheiden und GiroCodes die bisherigen Angaben.",
        )),
        "bestaetigt" => Some((
            "Neue Bankverbindung bestätigt",
            "Sie gilt ab sofort für neue Bescheide und GiroCodes. Alle Verwaltungskonten wurden per E-Mail benachrichtigt.",
        )),
        "abgelehnt" => Some((
            "Änderung der Bankverbindung verworfen",
            "Es bleibt bei der bisherigen Bankverbindung.",
        )),
        _ => Some(("Gespeichert", "")),
    }
}

async fn render_settings(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    tenant: Tenant,
    form: Option<ProfileForm>,
    errors: Vec<(&'static str, String)>,
    saved: Option<(&'static str, &'static str)>,
) -> Response {
    let layout = office_layout(state, headers, who, "/verwaltung/einstellungen").await;
    let services = match state.app.service_settings(&tenant).await {
        Ok(s) => s,
        Err(e) => return office_error(e, layout),
    };
    let pending = match state.app.pending_bank_change(who, &tenant).await {
        Ok(p) => p.map(BankChangeView::new),
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
        pending,
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
        saved_note(w.gespeichert.as_deref()),
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
        Ok(Ok(saved)) => {
            let done = if saved.bank_change_waiting {
                "bank"
            } else {
                "1"
            };
            crate::redirect::see_other(&settings_after(&who, &tenant, done))
        }
        Ok(Err(errors)) => {
            render_settings(&state, &headers, &who, tenant, Some(form), errors, None).await
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
                None,
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
            render_settings(&state, &headers, &who, tenant, None, errors, None).await
        }
        Err(e) => office_error(e, layout),
    }
}

async fn decide_bank_change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(w): Query<Which>,
    Path((id, action)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (who, layout, tenant, _input) = match settings_form(
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
    let (decision, done) = match action.as_str() {
        "bestaetigen" => (BankDecision::Confirm, "bestaetigt"),
        "ablehnen" => (BankDecision::Reject, "abgelehnt"),
        _ => return office_error(AppError::NotFound("no such action".into()), layout),
    };
    match state
        .app
        .decide_bank_change(&who, &tenant, &id, decision)
        .await
    {
        Ok(()) => crate::redirect::see_other(&settings_after(&who, &tenant, done)),
        Err(AppError::Forbidden(m)) => {
            refused_decision(&state, &headers, &who, tenant, m, StatusCode::FORBIDDEN).await
        }
        Err(AppError::Conflict(m)) => {
            refused_decision(&state, &headers, &who, tenant, m, StatusCode::CONFLICT).await
        }
        Err(e) => office_error(e, layout),
    }
}

/// A refused decision (one's own change, or one already decided): said on the settings page,
/// next to the change.
async fn refused_decision(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    tenant: Tenant,
    message: String,
    status: StatusCode,
) -> Response {
    let mut r = render_settings(
        state,
        headers,
        who,
        tenant,
        None,
        vec![("bankverbindung", message)],
        None,
    )
    .await;
    *r.status_mut() = status;
    r
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

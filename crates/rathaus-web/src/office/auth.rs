//! Staff sign-in: password and second factor, sessions, enrolment, sign-out, optional OIDC.
//!
//! The session lives on the server; the browser holds only a random token in the cookie
//! `__Host-rh_staff` (Secure, HttpOnly, SameSite=Strict, Path=/, no Domain: the `__Host-` prefix
//! makes browsers enforce exactly that). Pages of the back office call [`require_staff`].

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use rathaus_app::AppError;
use rathaus_app::staff::oidc::OidcOutcome;
use rathaus_app::staff::{PendingStage, SignInError};
use rathaus_domain::staff::{Role, StaffIdentity};
use serde::Deserialize;

use crate::AppState;
use crate::client::ClientAddr;
use crate::cookies;
use crate::error::PageError;
use crate::i18n;
use crate::portal::{Layout, render};
use crate::redirect::see_other;

pub(crate) const SESSION_COOKIE: &str = "__Host-rh_staff";
const OIDC_COOKIE: &str = "__Host-rh_oidc";
const ENROL_COOKIE: &str = "__Host-rh_enrol";
const ENROL: &str = "/verwaltung/einrichten";
const SIGN_IN: &str = "/verwaltung/anmelden";
const CODE: &str = "/verwaltung/anmelden/code";
/// Set by [`remember_path`] for [`require_staff`]'s redirect; any value a client sends is replaced.
const PATH_HEADER: &str = "x-rathaus-office-path";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/verwaltung", get(office_home))
        .route(SIGN_IN, get(sign_in_page).post(sign_in_post))
        .route(CODE, get(code_page).post(code_post))
        .route("/verwaltung/abmelden", post(sign_out))
        .route("/verwaltung/einrichten/{token}", get(enrol_link))
        .route(ENROL, get(enrol_page).post(enrol_post))
        .route("/verwaltung/anmelden/oidc", get(oidc_start))
        .route("/verwaltung/oidc/callback", get(oidc_callback))
}

/// Records the requested path (and query) for [`require_staff`], which sees only the headers.
pub(crate) async fn remember_path(mut request: Request, next: Next) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/verwaltung".to_owned());
    request.headers_mut().remove(PATH_HEADER);
    if let Ok(v) = HeaderValue::from_str(&path) {
        request.headers_mut().insert(PATH_HEADER, v);
    }
    next.run(request).await
}

/// A `__Host-` cookie: browsers accept it only with `Path=/`, `Secure` and no `Domain`, so no
/// other path or subdomain can set or shadow it. `max_age` None: until the browser closes.
fn host_cookie(name: &str, value: &str, same_site: &str, max_age: Option<u32>) -> HeaderValue {
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Secure; HttpOnly; SameSite={same_site}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn session_cookie(token: &str, delete: bool) -> HeaderValue {
    host_cookie(SESSION_COOKIE, token, "Strict", delete.then_some(0))
}

/// Lax, unlike the session: the provider's redirect back is a cross-site navigation.
fn oidc_cookie(token: &str, delete: bool) -> HeaderValue {
    host_cookie(
        OIDC_COOKIE,
        token,
        "Lax",
        Some(if delete { 0 } else { 600 }),
    )
}

/// Holds an enrolment or reset link's secret once the link was opened. Lax: the link is opened
/// from an e-mail, a cross-site navigation.
fn enrol_cookie(token: &str, delete: bool) -> HeaderValue {
    host_cookie(
        ENROL_COOKIE,
        token,
        "Lax",
        Some(if delete { 0 } else { 3600 }),
    )
}

fn with_cookie(mut r: Response, cookie: HeaderValue) -> Response {
    cookies::append(r.headers_mut(), cookie);
    r
}

fn sign_in_url(next: Option<&str>) -> String {
    match rathaus_app::staff::safe_next(next) {
        Some(p) => format!(
            "{SIGN_IN}?weiter={}",
            serde_urlencoded::to_string([("", p.as_str())])
                .unwrap_or_default()
                .trim_start_matches('=')
        ),
        None => SIGN_IN.to_owned(),
    }
}

/// The signed-in person behind the session cookie (refreshing the idle timer), or a redirect to
/// the sign-in page that comes back to the requested page afterwards.
pub(crate) async fn require_staff(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<StaffIdentity, Response> {
    if let Some(token) = cookies::get(headers, SESSION_COOKIE) {
        match state.app.staff_session(&token).await {
            Ok(Some(who)) => return Ok(who),
            Ok(None) => {}
            Err(e) => {
                let layout = Layout::new(state, headers).await;
                return Err(PageError::from_app(e, layout).into_response());
            }
        }
    }
    let here = headers.get(PATH_HEADER).and_then(|v| v.to_str().ok());
    Err(see_other(&sign_in_url(here)))
}

// ---- pages ----

#[derive(Template)]
#[template(path = "office/sign_in.html")]
struct SignInPage {
    layout: Layout,
    csrf: String,
    email: String,
    weiter: String,
    error: Option<String>,
    notice: Option<String>,
    oidc: bool,
    oidc_href: String,
}

#[derive(Template)]
#[template(path = "office/code.html")]
struct CodePage {
    layout: Layout,
    csrf: String,
    error: Option<String>,
    enrol: Option<EnrolView>,
    reset: bool,
}

struct EnrolView {
    qr: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "office/enrol.html")]
struct EnrolPage {
    layout: Layout,
    csrf: String,
    action: String,
    greeting: String,
    reset: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "office/home.html")]
struct HomePage {
    layout: Layout,
    csrf: String,
    name: String,
    role: String,
    tenant: String,
    /// What this role can do here: link, title, description.
    links: Vec<(String, String, String)>,
    /// For the operator: the municipalities, with their settings.
    tenants: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "office/continue.html")]
struct ContinuePage {
    layout: Layout,
    target: String,
}

#[derive(Template)]
#[template(path = "office/link_invalid.html")]
struct LinkInvalidPage {
    layout: Layout,
}

async fn layout(state: &AppState, headers: &HeaderMap, path: &str) -> Layout {
    Layout::new(state, headers).await.at(path.to_owned())
}

fn respond(status: StatusCode, page: &impl Template, cookie: Option<HeaderValue>) -> Response {
    let mut r = render(page);
    *r.status_mut() = status;
    if let Some(c) = cookie {
        cookies::append(r.headers_mut(), c);
    }
    r
}

#[derive(Deserialize, Default)]
struct NextQuery {
    weiter: Option<String>,
    #[serde(default)]
    abgemeldet: Option<String>,
}

async fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    next: Option<&str>,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let l = layout(state, headers, SIGN_IN).await;
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let next = rathaus_app::staff::safe_next(next).unwrap_or_default();
    let oidc_href = if next.is_empty() {
        "/verwaltung/anmelden/oidc".to_owned()
    } else {
        format!(
            "/verwaltung/anmelden/oidc?{}",
            serde_urlencoded::to_string([("weiter", next.as_str())]).unwrap_or_default()
        )
    };
    let page = SignInPage {
        layout: l,
        csrf,
        email: email.to_owned(),
        weiter: next,
        error,
        notice,
        oidc: state.app.oidc_enabled(),
        oidc_href,
    };
    respond(status, &page, cookie)
}

async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    if let Some(token) = cookies::get(&headers, SESSION_COOKIE)
        && let Ok(Some(_)) = state.app.staff_session(&token).await
    {
        let to = rathaus_app::staff::safe_next(q.weiter.as_deref())
            .unwrap_or_else(|| "/verwaltung".to_owned());
        return see_other(&to);
    }
    let lang = cookies::lang(&headers);
    let notice = q
        .abgemeldet
        .is_some()
        .then(|| i18n::t(lang, "office.signed_out"));
    sign_in_form(
        &state,
        &headers,
        StatusCode::OK,
        "",
        q.weiter.as_deref(),
        None,
        notice,
    )
    .await
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    weiter: String,
}

fn throttled(
    lang: rathaus_domain::service::Lang,
    retry_after: i64,
) -> (String, Option<HeaderValue>) {
    (
        i18n::tf(
            lang,
            "office.err_throttled",
            &[("n", &retry_after.to_string())],
        ),
        HeaderValue::from_str(&retry_after.to_string()).ok(),
    )
}

async fn sign_in_post(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let lang = cookies::lang(&headers);
    let next = Some(form.weiter.as_str()).filter(|w| !w.is_empty());
    if !cookies::csrf_ok(&state, &headers, Some(&form.csrf)) {
        let msg = i18n::t(lang, "office.err_csrf");
        return sign_in_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            &form.email,
            next,
            Some(msg),
            None,
        )
        .await;
    }
    match state
        .app
        .sign_in_password(&form.email, &form.password, client, next)
        .await
    {
        Ok(step) => with_cookie(see_other(CODE), session_cookie(&step.token, false)),
        Err(e) => sign_in_error(&state, &headers, e, &form.email, next, lang).await,
    }
}

async fn sign_in_error(
    state: &AppState,
    headers: &HeaderMap,
    e: SignInError,
    email: &str,
    next: Option<&str>,
    lang: rathaus_domain::service::Lang,
) -> Response {
    let (status, msg, retry) = match e {
        SignInError::Throttled { retry_after } => {
            let (m, h) = throttled(lang, retry_after);
            (StatusCode::TOO_MANY_REQUESTS, m, h)
        }
        SignInError::App(e) => {
            let l = layout(state, headers, SIGN_IN).await;
            return PageError::from_app(e, l).into_response();
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            i18n::t(lang, "office.err_invalid"),
            None,
        ),
    };
    let mut r = sign_in_form(state, headers, status, email, next, Some(msg), None).await;
    if let Some(h) = retry {
        r.headers_mut().insert(header::RETRY_AFTER, h);
    }
    r
}

async fn code_form(
    state: &AppState,
    headers: &HeaderMap,
    stage: PendingStage,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let l = layout(state, headers, CODE).await;
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let (enrol, reset) = match stage {
        PendingStage::Enrol {
            secret_grouped,
            qr_svg_data_uri,
            ..
        } => (
            Some(EnrolView {
                qr: qr_svg_data_uri,
                secret: secret_grouped,
            }),
            false,
        ),
        PendingStage::Reset => (None, true),
        PendingStage::Code => (None, false),
    };
    respond(
        status,
        &CodePage {
            layout: l,
            csrf,
            error,
            enrol,
            reset,
        },
        cookie,
    )
}

async fn code_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(token) = cookies::get(&headers, SESSION_COOKIE) else {
        return see_other(SIGN_IN);
    };
    match state.app.pending_stage(&token).await {
        Ok(Some(stage)) => code_form(&state, &headers, stage, StatusCode::OK, None).await,
        Ok(None) => see_other(SIGN_IN),
        Err(e) => {
            let l = layout(&state, &headers, CODE).await;
            PageError::from_app(e, l).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

async fn code_post(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = cookies::lang(&headers);
    let Some(token) = cookies::get(&headers, SESSION_COOKIE) else {
        return see_other(SIGN_IN);
    };
    let stage = match state.app.pending_stage(&token).await {
        Ok(Some(s)) => s,
        Ok(None) => return see_other(SIGN_IN),
        Err(e) => {
            let l = layout(&state, &headers, CODE).await;
            return PageError::from_app(e, l).into_response();
        }
    };
    if !cookies::csrf_ok(&state, &headers, Some(&form.csrf)) {
        let msg = i18n::t(lang, "office.err_csrf");
        return code_form(&state, &headers, stage, StatusCode::FORBIDDEN, Some(msg)).await;
    }
    match state.app.sign_in_code(&token, &form.code, client).await {
        Ok(signed) => with_cookie(
            see_other(&signed.next),
            session_cookie(&signed.token, false),
        ),
        Err(SignInError::Expired) => with_cookie(see_other(SIGN_IN), session_cookie("", true)),
        Err(SignInError::Throttled { retry_after }) => {
            let (m, h) = throttled(lang, retry_after);
            let mut r = code_form(
                &state,
                &headers,
                stage,
                StatusCode::TOO_MANY_REQUESTS,
                Some(m),
            )
            .await;
            if let Some(h) = h {
                r.headers_mut().insert(header::RETRY_AFTER, h);
            }
            r
        }
        Err(SignInError::Replayed) => {
            let m = i18n::t(lang, "office.err_replayed");
            code_form(&state, &headers, stage, StatusCode::UNAUTHORIZED, Some(m)).await
        }
        Err(SignInError::App(e)) => {
            let l = layout(&state, &headers, CODE).await;
            PageError::from_app(e, l).into_response()
        }
        Err(_) => {
            let m = i18n::t(lang, "office.err_code");
            code_form(&state, &headers, stage, StatusCode::UNAUTHORIZED, Some(m)).await
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !cookies::csrf_ok(&state, &headers, Some(&form.csrf)) {
        let lang = cookies::lang(&headers);
        let msg = i18n::t(lang, "office.err_csrf");
        return sign_in_form(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            "",
            None,
            Some(msg),
            None,
        )
        .await;
    }
    if let Some(token) = cookies::get(&headers, SESSION_COOKIE)
        && let Err(e) = state.app.sign_out(&token).await
    {
        let l = layout(&state, &headers, SIGN_IN).await;
        return PageError::from_app(e, l).into_response();
    }
    with_cookie(
        see_other(&format!("{SIGN_IN}?abgemeldet=1")),
        session_cookie("", true),
    )
}

async fn enrol_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let Some(token) = cookies::get(headers, ENROL_COOKIE) else {
        return link_invalid(state, headers).await;
    };
    match state.app.enrolment(&token).await {
        Ok(Some((name, reset))) => {
            let l = layout(state, headers, ENROL).await;
            let (csrf, cookie) = cookies::csrf_token(state, headers);
            let greeting = i18n::tf(l.lang, "office.greeting", &[("name", &name)]);
            respond(
                status,
                &EnrolPage {
                    layout: l,
                    csrf,
                    action: ENROL.to_owned(),
                    greeting,
                    reset,
                    error,
                },
                cookie,
            )
        }
        Ok(None) => link_invalid(state, headers).await,
        Err(e) => {
            let l = layout(state, headers, ENROL).await;
            PageError::from_app(e, l).into_response()
        }
    }
}

async fn link_invalid(state: &AppState, headers: &HeaderMap) -> Response {
    let l = layout(state, headers, ENROL).await;
    let mut r = respond(StatusCode::GONE, &LinkInvalidPage { layout: l }, None);
    if cookies::get(headers, ENROL_COOKIE).is_some() {
        cookies::append(r.headers_mut(), enrol_cookie("", true));
    }
    r
}

/// The link from the e-mail: its secret moves into a cookie and the browser to an address
/// without it, so the secret stays out of the history and of proxies' logs.
async fn enrol_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    match state.app.enrolment(&token).await {
        Ok(Some(_)) => with_cookie(see_other(ENROL), enrol_cookie(&token, false)),
        Ok(None) => link_invalid(&state, &headers).await,
        Err(e) => {
            let l = layout(&state, &headers, ENROL).await;
            PageError::from_app(e, l).into_response()
        }
    }
}

async fn enrol_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    enrol_form(&state, &headers, StatusCode::OK, None).await
}

#[derive(Deserialize)]
struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

async fn enrol_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Response {
    let lang = cookies::lang(&headers);
    if !cookies::csrf_ok(&state, &headers, Some(&form.csrf)) {
        let msg = i18n::t(lang, "office.err_csrf");
        return enrol_form(&state, &headers, StatusCode::FORBIDDEN, Some(msg)).await;
    }
    let Some(token) = cookies::get(&headers, ENROL_COOKIE) else {
        return link_invalid(&state, &headers).await;
    };
    match state
        .app
        .enrol_password(&token, &form.password, &form.password2)
        .await
    {
        Ok(step) => {
            let mut r = with_cookie(see_other(CODE), session_cookie(&step.token, false));
            cookies::append(r.headers_mut(), enrol_cookie("", true));
            r
        }
        Err(SignInError::Password(msg)) => {
            enrol_form(
                &state,
                &headers,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(msg),
            )
            .await
        }
        Err(SignInError::App(e)) => {
            let l = layout(&state, &headers, ENROL).await;
            PageError::from_app(e, l).into_response()
        }
        Err(_) => link_invalid(&state, &headers).await,
    }
}

/// The start page after signing in. Kept in its own handler so that the back office's real start
/// page can replace it.
async fn office_home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let l = layout(&state, &headers, "/verwaltung").await;
    let tenant = match &who.tenant_key {
        Some(k) => match rathaus_app::tenants::resolve(&state.app, k).await {
            Ok(t) => t.title(),
            Err(_) => k.clone(),
        },
        None => i18n::t(l.lang, "office.operator"),
    };
    let (csrf, cookie) = cookies::csrf_token(&state, &headers);
    let link =
        |href: &str, title: &str, text: &str| (href.to_owned(), title.to_owned(), text.to_owned());
    let links = match who.role {
        Role::Clerk => vec![link(
            "/verwaltung/vorgaenge",
            "Vorgänge",
            "Eingegangene Anträge und Meldungen bearbeiten.",
        )],
        Role::TenantAdmin => vec![
            link(
                "/verwaltung/einstellungen",
                "Einstellungen",
                "Kontakt, Öffnungszeiten, Bankverbindung, Briefkopf und angebotene Leistungen.",
            ),
            link(
                "/verwaltung/benutzer",
                "Benutzer",
                "Konten der Mitarbeiterinnen und Mitarbeiter und ihre Rollen.",
            ),
        ],
        Role::Auditor => vec![link(
            "/verwaltung/protokoll",
            "Protokoll",
            "Wer hat wann was gelesen oder geändert.",
        )],
        Role::OperatorAdmin => vec![link(
            "/verwaltung/protokoll",
            "Protokoll",
            "Einträge der Installation (ohne Vorgangsinhalte).",
        )],
    };
    let tenants = if who.role == Role::OperatorAdmin {
        state
            .app
            .list_tenants(&rathaus_app::tenants::TenantFilter {
                enabled_only: true,
                ..Default::default()
            })
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.title(), t.key.to_string()))
            .collect()
    } else {
        Vec::new()
    };
    let mut l = l;
    l.office_user = Some(format!("{} · {}", who.display_name, who.role.label_de()));
    respond(
        StatusCode::OK,
        &HomePage {
            layout: l,
            csrf,
            name: who.display_name.clone(),
            role: who.role.label_de().to_owned(),
            tenant,
            links,
            tenants,
        },
        cookie,
    )
}

async fn oidc_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let l = layout(&state, &headers, SIGN_IN).await;
    if !state.app.oidc_enabled() {
        return PageError::not_found(l).into_response();
    }
    match state.app.oidc_start(q.weiter.as_deref()).await {
        Ok((cookie, url)) => {
            // A redirect to another site: axum's Redirect accepts any URI.
            with_cookie(
                Redirect::to(&url).into_response(),
                oidc_cookie(&cookie, false),
            )
        }
        Err(e) => PageError::from_app(e, l).into_response(),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

async fn oidc_callback(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let lang = cookies::lang(&headers);
    if !state.app.oidc_enabled() {
        let l = layout(&state, &headers, SIGN_IN).await;
        return PageError::not_found(l).into_response();
    }
    let cookie = cookies::get(&headers, OIDC_COOKIE).unwrap_or_default();
    let result = match (q.code, q.state) {
        (Some(code), Some(st)) => state.app.oidc_callback(&cookie, &code, &st, client).await,
        // The provider reports an error (the person cancelled, for example).
        _ => Err(SignInError::Invalid),
    };
    let (target, token) = match result {
        Ok(OidcOutcome::SignedIn(s)) => (s.next, s.token),
        Ok(OidcOutcome::NeedCode(step)) => (CODE.to_owned(), step.token),
        Err(SignInError::App(AppError::Unavailable(m))) => {
            tracing::warn!(error = %m, "OIDC provider unavailable");
            let msg = i18n::t(lang, "office.err_oidc");
            let r = sign_in_form(
                &state,
                &headers,
                StatusCode::SERVICE_UNAVAILABLE,
                "",
                None,
                Some(msg),
                None,
            )
            .await;
            return with_cookie(r, oidc_cookie("", true));
        }
        Err(SignInError::App(e)) => {
            let l = layout(&state, &headers, SIGN_IN).await;
            return with_cookie(
                PageError::from_app(e, l).into_response(),
                oidc_cookie("", true),
            );
        }
        Err(_) => {
            let msg = i18n::t(lang, "office.err_oidc");
            let r = sign_in_form(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                "",
                None,
                Some(msg),
                None,
            )
            .await;
            return with_cookie(r, oidc_cookie("", true));
        }
    };
    let l = layout(&state, &headers, SIGN_IN).await;
    let r = respond(
        StatusCode::OK,
        &ContinuePage { layout: l, target },
        Some(session_cookie(&token, false)),
    );
    with_cookie(r, oidc_cookie("", true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_links_keep_only_local_paths() {
        assert_eq!(
            sign_in_url(Some("/verwaltung/vorgaenge?seite=2")),
            "/verwaltung/anmelden?weiter=%2Fverwaltung%2Fvorgaenge%3Fseite%3D2"
        );
        assert_eq!(sign_in_url(Some("https://evil.example/")), SIGN_IN);
        assert_eq!(sign_in_url(Some("//evil.example/")), SIGN_IN);
    }
}

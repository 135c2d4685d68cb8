//! Filling in a service: start page, steps, "add another", uploads, check, submit, save and
//! resume. The draft is found through a cookie scoped to the service's path; nothing in a URL
//! identifies it, except the secret resume link sent by e-mail.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rathaus_app::AppError;
use rathaus_app::citizen::{DraftSession, StepError, SubmitError};
use rathaus_domain::localtime::berlin_date;
use rathaus_domain::service::flow::Position;
use rathaus_domain::service::form::{format_date_de, target};
use rathaus_domain::service::{FieldError, FormInput, Lang, ServiceDefinition};
use rathaus_domain::tenant::Tenant;
use time::Duration;

use super::fields::{self, FieldView, Source};
use super::uploads::{UploadRefusal, read_upload_form};
use super::{Layout, MessagePage, render};
use crate::client::{ClientAddr, client_of};
use crate::cookies::{self, DRAFT_COOKIE};
use crate::error::PageError;
use crate::ratelimit::{Class, UPLOADS_BUSY_RETRY, retry_after_seconds, wait_text};
use crate::redirect::see_other;
use crate::{AppState, i18n};

/// Uploads may carry several files of up to 10 MB; everything else stays small.
pub(crate) const UPLOAD_BODY_LIMIT: usize = 32 * 1024 * 1024;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{slug}/{service}", get(service_start))
        .route("/{slug}/{service}/start", post(start_draft))
        .route(
            "/{slug}/{service}/schritt/{step}",
            get(step_page)
                .post(step_post)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route(
            "/{slug}/{service}/schritt/{step}/weitere",
            get(more_page).post(more_post),
        )
        .route(
            "/{slug}/{service}/schritt/{step}/{n}",
            get(item_page)
                .post(item_post)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route(
            "/{slug}/{service}/schritt/{step}/{n}/entfernen",
            post(remove_item),
        )
        .route("/{slug}/{service}/pruefen", get(check_page))
        .route("/{slug}/{service}/absenden", post(submit))
        .route("/{slug}/{service}/bestaetigung", get(confirmation))
        .route(
            "/{slug}/{service}/speichern",
            get(save_page).post(save_post),
        )
        .route("/{slug}/{service}/fortsetzen/{token}", get(resume))
}

fn base(tenant: &Tenant, service: &str) -> String {
    format!("/{}/{}", tenant.slug, service)
}

pub(crate) fn position_url(tenant: &Tenant, service: &str, p: &Position) -> String {
    let b = base(tenant, service);
    match p {
        Position::Step { step, item: None } => format!("{b}/schritt/{step}"),
        Position::Step {
            step,
            item: Some(i),
        } => format!("{b}/schritt/{step}/{}", i + 1),
        Position::AddAnother { step } => format!("{b}/schritt/{step}/weitere"),
        Position::Check => format!("{b}/pruefen"),
    }
}

struct Ctx {
    layout: Layout,
    tenant: Tenant,
}

async fn ctx(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    service: &str,
    path: String,
) -> Result<Ctx, PageError> {
    let layout = Layout::new(state, headers).await.at(path);
    let tenant = state
        .app
        .public_tenant(slug)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
    // A service the municipality does not offer is a 404 before any draft is looked at.
    state
        .app
        .offered_service(&tenant, service)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
    Ok(Ctx {
        layout: layout.for_tenant(&tenant),
        tenant,
    })
}

/// The draft behind the browser's cookie, if any.
async fn draft_from_cookie(
    state: &AppState,
    headers: &HeaderMap,
    tenant: &Tenant,
    service: &str,
) -> Result<Option<DraftSession>, AppError> {
    let Some(token) = cookies::get(headers, DRAFT_COOKIE) else {
        return Ok(None);
    };
    match state.app.open_draft(tenant, service, &token).await {
        Ok(s) => Ok(Some(s)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Like [`draft_from_cookie`], but a missing draft is a page explaining how to continue.
async fn require_draft(
    state: &AppState,
    headers: &HeaderMap,
    c: &Ctx,
    service: &str,
) -> Result<DraftSession, Response> {
    match draft_from_cookie(state, headers, &c.tenant, service).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(message_page(
            c,
            StatusCode::NOT_FOUND,
            "service.session_title",
            "service.session_text",
            &base(&c.tenant, service),
        )),
        Err(e) => Err(PageError::from_app(e, c.layout.clone()).into_response()),
    }
}

/// The page's context and the draft behind the browser's cookie, or the page that says why not.
async fn draft_ctx(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    service: &str,
    path: String,
) -> Result<(Ctx, DraftSession), Response> {
    let c = ctx(state, headers, slug, service, path)
        .await
        .map_err(IntoResponse::into_response)?;
    let s = require_draft(state, headers, &c, service).await?;
    Ok((c, s))
}

fn message_page(c: &Ctx, status: StatusCode, heading: &str, text: &str, link: &str) -> Response {
    notice_page(c, status, heading, c.layout.t(text), link, None)
}

/// A page that says why something was refused, with `Retry-After` when waiting helps.
fn notice_page(
    c: &Ctx,
    status: StatusCode,
    heading: &str,
    text: String,
    link: &str,
    retry_after: Option<std::time::Duration>,
) -> Response {
    let l = &c.layout;
    let page = MessagePage {
        heading: l.t(heading),
        text,
        link: link.to_owned(),
        link_text: l.t("service.back_to_form"),
        layout: l.clone(),
    };
    let mut r = (status, render(&page)).into_response();
    if let Some(wait) = retry_after {
        set_retry_after(&mut r, wait);
    }
    r
}

fn set_retry_after(r: &mut Response, wait: std::time::Duration) {
    if let Ok(v) = header::HeaderValue::from_str(&retry_after_seconds(wait).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// The page for a form with files that was not accepted; nothing of it was stored.
fn upload_refused(c: &Ctx, refusal: UploadRefusal, back: &str) -> Response {
    let lang = c.layout.lang;
    match refusal {
        UploadRefusal::Status(status) => status.into_response(),
        UploadRefusal::Busy => notice_page(
            c,
            StatusCode::SERVICE_UNAVAILABLE,
            "upload.busy_title",
            i18n::tf(
                lang,
                "upload.busy",
                &[("wait", &wait_text(lang, UPLOADS_BUSY_RETRY))],
            ),
            back,
            Some(UPLOADS_BUSY_RETRY),
        ),
        UploadRefusal::TooMany(wait) => notice_page(
            c,
            StatusCode::TOO_MANY_REQUESTS,
            "limit.title",
            i18n::tf(lang, "upload.too_many", &[("wait", &wait_text(lang, wait))]),
            back,
            Some(wait),
        ),
        UploadRefusal::Failed(e) => {
            tracing::error!(error = %e, "receiving an upload failed");
            notice_page(
                c,
                StatusCode::SERVICE_UNAVAILABLE,
                "upload.failed_title",
                i18n::t(lang, "upload.failed"),
                back,
                Some(UPLOADS_BUSY_RETRY),
            )
        }
    }
}

fn csrf_refused(c: &Ctx, service: &str) -> Response {
    message_page(
        c,
        StatusCode::FORBIDDEN,
        "service.csrf_title",
        "service.csrf_text",
        &base(&c.tenant, service),
    )
}

/// How long a browser waits at least before sending a form again that the full write path
/// refused; its script waits longer after each refusal in a row.
const OVERLOAD_RETRY: std::time::Duration = std::time::Duration::from_secs(3);

/// A form the write path was too full to take ([`AppError::Overloaded`]; nothing was saved). Its
/// page is shown again as it was sent, with a calm notice (`waiting.html`), and answered 503
/// with `Retry-After`; the page's script sends it again with the same button after a while, and
/// without JavaScript the citizen presses the button.
pub(crate) struct Waiting {
    pub seconds: u64,
    /// The button that sent the form: on a step page, its `action` value.
    pub button: &'static str,
}

impl Waiting {
    fn to_send_again_with(button: &'static str) -> Option<Waiting> {
        Some(Waiting {
            seconds: retry_after_seconds(OVERLOAD_RETRY),
            button,
        })
    }
}

/// A page as a response: 503 with `Retry-After` while it waits to be sent again, else `status`.
fn page_response(
    page: &impl Template,
    status: StatusCode,
    waiting: bool,
    cookie: Option<header::HeaderValue>,
) -> Response {
    let status = if waiting {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        status
    };
    let mut r = with_cookie((status, render(page)).into_response(), cookie);
    if waiting {
        set_retry_after(&mut r, OVERLOAD_RETRY);
    }
    r
}

/// Adds the CSRF cookie to a response if the page had to create one.
fn with_cookie(mut r: Response, cookie: Option<header::HeaderValue>) -> Response {
    if let Some(c) = cookie {
        cookies::append(r.headers_mut(), c);
    }
    r
}

// ---------------------------------------------------------------------------------------------
// Start page

#[derive(Template)]
#[template(path = "service_start.html")]
struct StartPage {
    layout: Layout,
    title: String,
    description: String,
    requirements: String,
    duration: String,
    costs: String,
    legal_basis: String,
    privacy: String,
    start_action: String,
    resume_href: Option<String>,
    csrf: String,
    waiting: Option<Waiting>,
}

async fn service_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
) -> Response {
    match ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}"),
    )
    .await
    {
        Ok(c) => render_start(&state, &headers, &c, &service, None).await,
        Err(e) => e.into_response(),
    }
}

async fn render_start(
    state: &AppState,
    headers: &HeaderMap,
    c: &Ctx,
    service: &str,
    waiting: Option<Waiting>,
) -> Response {
    let offered = match state.app.offered_service(&c.tenant, service).await {
        Ok(o) => o,
        Err(e) => return PageError::from_app(e, c.layout.clone()).into_response(),
    };
    let resume_href = match draft_from_cookie(state, headers, &c.tenant, service).await {
        Ok(Some(s)) if s.draft.submitted_case.is_none() => {
            Some(position_url(&c.tenant, service, &s.position()))
        }
        _ => None,
    };
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let lang = c.layout.lang;
    let d = &offered.definition;
    let page = StartPage {
        title: d.title.get(lang).to_owned(),
        description: d.description.get(lang).to_owned(),
        requirements: d.requirements.get(lang).to_owned(),
        duration: i18n::tf(
            lang,
            "service.duration_value",
            &[("n", &d.duration_minutes.to_string())],
        ),
        costs: d.costs.get(lang).to_owned(),
        legal_basis: d.legal_basis.get(lang).to_owned(),
        privacy: d.privacy.get(lang).to_owned(),
        start_action: format!("{}/start", base(&c.tenant, service)),
        resume_href,
        csrf,
        layout: c.layout.clone(),
        waiting,
    };
    page_response(&page, StatusCode::OK, page.waiting.is_some(), cookie)
}

async fn form_pairs(request: Request) -> Result<FormInput, StatusCode> {
    crate::forms::urlencoded(request).await
}

/// The common start of every form post within a draft: municipality and service, the form,
/// its CSRF token, and the browser's draft.
async fn posted(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    service: &str,
    path: String,
    request: Request,
) -> Result<(Ctx, FormInput, DraftSession), Response> {
    let c = ctx(state, headers, slug, service, path)
        .await
        .map_err(IntoResponse::into_response)?;
    let input = form_pairs(request)
        .await
        .map_err(IntoResponse::into_response)?;
    if !cookies::csrf_ok(state, headers, input.get("csrf")) {
        return Err(csrf_refused(&c, service));
    }
    let s = require_draft(state, headers, &c, service).await?;
    Ok((c, input, s))
}

async fn start_draft(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let c = match ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}"),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let input = match form_pairs(request).await {
        Ok(i) => i,
        Err(s) => return s.into_response(),
    };
    if !cookies::csrf_ok(&state, &headers, input.get("csrf")) {
        return csrf_refused(&c, &service);
    }
    if let Err(wait) = state.limits.check(Class::DraftStart, client) {
        let lang = c.layout.lang;
        return notice_page(
            &c,
            StatusCode::TOO_MANY_REQUESTS,
            "limit.title",
            i18n::tf(lang, "limit.drafts", &[("wait", &wait_text(lang, wait))]),
            &base(&c.tenant, &service),
            Some(wait),
        );
    }
    match state.app.start_draft(&c.tenant, &service).await {
        Ok((token, s)) => {
            let mut r = see_other(&position_url(&c.tenant, &service, &s.position()));
            cookies::append(
                r.headers_mut(),
                cookies::set(
                    &state,
                    DRAFT_COOKIE,
                    &token,
                    &base(&c.tenant, &service),
                    "Lax",
                    None,
                ),
            );
            r
        }
        Err(AppError::Overloaded) => {
            let waiting = Waiting::to_send_again_with("start");
            render_start(&state, &headers, &c, &service, waiting).await
        }
        Err(e) => PageError::from_app(e, c.layout).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Steps

#[derive(Template)]
#[template(path = "step.html")]
struct StepPage {
    layout: Layout,
    caption: String,
    heading: String,
    intro: Option<String>,
    errors: Vec<(String, String)>,
    fields: Vec<FieldView>,
    action: String,
    back: String,
    multipart: bool,
    csrf: String,
    save_label: String,
    /// Came from a change link on the check page: return there afterwards.
    from_check: bool,
    waiting: Option<Waiting>,
}

impl StepPage {
    /// Whether the page's script sends the form again with this button.
    fn retries_with(&self, button: &str) -> bool {
        self.waiting.as_ref().is_some_and(|w| w.button == button)
    }
}

fn step_number(def: &ServiceDefinition, data: &serde_json::Value, step_id: &str) -> (usize, usize) {
    let visible: Vec<&str> = def
        .steps
        .iter()
        .filter(|s| def.step_visible(s, data))
        .map(|s| s.id.as_str())
        .collect();
    let n = visible
        .iter()
        .position(|s| *s == step_id)
        .map_or(1, |i| i + 1);
    (n, visible.len())
}

/// The position before `pos`, for the back link.
fn previous(def: &ServiceDefinition, data: &serde_json::Value, pos: &Position) -> Option<Position> {
    let mut p = def.first_position(data);
    let mut prev = None;
    for _ in 0..200 {
        if &p == pos {
            return prev;
        }
        let next = def.next_position(&p, data, false);
        if next == p {
            break;
        }
        prev = Some(p);
        p = next;
    }
    prev
}

fn error_list(errors: &[FieldError], lang: Lang) -> Vec<(String, String)> {
    errors
        .iter()
        .map(|e| {
            let href = if e.field.is_empty() {
                "#inhalt".to_owned()
            } else {
                format!("#f-{}", e.field)
            };
            (href, e.message.get(lang).to_owned())
        })
        .collect()
}

struct StepRender<'a> {
    typed: Option<&'a FormInput>,
    errors: &'a [FieldError],
    files: &'a [rathaus_store::attachments::Attachment],
    from_check: bool,
    waiting: Option<Waiting>,
}

fn render_step(
    state: &AppState,
    headers: &HeaderMap,
    c: &Ctx,
    s: &DraftSession,
    pos: &Position,
    r: StepRender<'_>,
) -> Response {
    let StepRender {
        typed,
        errors,
        files,
        from_check,
        waiting,
    } = r;
    let def = &s.service.definition;
    let lang = c.layout.lang;
    let Position::Step {
        step: step_id,
        item,
    } = pos
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(step) = def.step(step_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let empty = serde_json::json!({});
    let stored = target(step, *item, &s.draft.data).unwrap_or(&empty);
    let source = match typed {
        Some(t) => Source::Typed(t),
        None => Source::Stored(stored),
    };
    let (n, total) = step_number(def, &s.draft.data, step_id);
    let heading = match (&step.repeat, item) {
        (Some(r), Some(i)) => r
            .item_title
            .fill(&[("n", &(i + 1).to_string())])
            .get(lang)
            .to_owned(),
        _ => step.title.get(lang).to_owned(),
    };
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let back = previous(def, &s.draft.data, pos)
        .map(|p| position_url(&c.tenant, &def.id, &p))
        .unwrap_or_else(|| base(&c.tenant, &def.id));
    let page = StepPage {
        caption: format!(
            "{} · {}",
            def.title.get(lang),
            i18n::tf(
                lang,
                "service.step_of",
                &[("n", &n.to_string()), ("total", &total.to_string())]
            )
        ),
        heading,
        intro: step.intro.as_ref().map(|t| t.get(lang).to_owned()),
        errors: error_list(errors, lang),
        fields: fields::build(
            step,
            stored,
            &source,
            errors,
            lang,
            &s.service.params,
            files,
        ),
        action: position_url(&c.tenant, &def.id, pos),
        back,
        multipart: step
            .fields
            .iter()
            .any(|f| f.kind == rathaus_domain::service::FieldKind::Attachment),
        csrf,
        save_label: c.layout.t("service.save_later"),
        from_check,
        layout: c.layout.clone(),
        waiting,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page_response(&page, status, page.waiting.is_some(), cookie)
}

/// Whether a position may be shown for this draft: the step exists and is visible; an item
/// index is an existing item or the next new one.
fn allowed(def: &ServiceDefinition, data: &serde_json::Value, pos: &Position) -> bool {
    let (Position::Step { step, .. } | Position::AddAnother { step }) = pos else {
        return true;
    };
    let Some(s) = def.step(step) else {
        return false;
    };
    if !def.step_visible(s, data) {
        return false;
    }
    match (pos, &s.repeat) {
        (Position::Step { item: None, .. }, None) => true,
        (Position::Step { item: Some(i), .. }, Some(r)) => {
            *i <= def.item_count(s, data) && *i < r.max as usize
        }
        (Position::AddAnother { .. }, Some(_)) => true,
        _ => false,
    }
}

async fn show_position(
    state: AppState,
    headers: HeaderMap,
    slug: String,
    service: String,
    pos: Position,
    from_check: bool,
) -> Response {
    let path = format!("/{slug}/{service}");
    let c = match ctx(&state, &headers, &slug, &service, path).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let c = Ctx {
        layout: c.layout.clone().at(position_url(&c.tenant, &service, &pos)),
        tenant: c.tenant,
    };
    let s = match require_draft(&state, &headers, &c, &service).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.draft.submitted_case.is_some() {
        return see_other(&format!("{}/bestaetigung", base(&c.tenant, &service)));
    }
    if !allowed(&s.service.definition, &s.draft.data, &pos) {
        return PageError::not_found(c.layout).into_response();
    }
    match &pos {
        Position::AddAnother { step } => render_more(&state, &headers, &c, &s, step, &[]),
        _ => {
            let files = state.app.draft_attachments(&s).await.unwrap_or_default();
            render_step(
                &state,
                &headers,
                &c,
                &s,
                &pos,
                StepRender {
                    typed: None,
                    errors: &[],
                    files: &files,
                    from_check,
                    waiting: None,
                },
            )
        }
    }
}

#[derive(serde::Deserialize)]
struct StepQuery {
    von: Option<String>,
}

async fn step_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step)): Path<(String, String, String)>,
    Query(q): Query<StepQuery>,
) -> Response {
    let from_check = q.von.as_deref() == Some("pruefen");
    show_position(
        state,
        headers,
        slug,
        service,
        Position::Step { step, item: None },
        from_check,
    )
    .await
}

fn parse_item(n: &str) -> Option<usize> {
    n.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1 && *n <= 100)
        .map(|n| n - 1)
}

async fn item_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step, n)): Path<(String, String, String, String)>,
) -> Response {
    match parse_item(&n) {
        Some(i) => {
            show_position(
                state,
                headers,
                slug,
                service,
                Position::Step {
                    step,
                    item: Some(i),
                },
                false,
            )
            .await
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn answer(
    state: AppState,
    headers: HeaderMap,
    slug: String,
    service: String,
    pos: Position,
    request: Request,
) -> Response {
    let c = match ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}"),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let client = client_of(&state, request.extensions(), request.headers());
    let posted = match read_upload_form(&state, client, request).await {
        Ok(p) => p,
        Err(r) => return upload_refused(&c, r, &position_url(&c.tenant, &service, &pos)),
    };
    if !cookies::csrf_ok(&state, &headers, posted.input.get("csrf")) {
        return csrf_refused(&c, &service);
    }
    let mut s = match require_draft(&state, &headers, &c, &service).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if s.draft.submitted_case.is_some() {
        return see_other(&format!("{}/bestaetigung", base(&c.tenant, &service)));
    }
    if !allowed(&s.service.definition, &s.draft.data, &pos) {
        return PageError::not_found(c.layout).into_response();
    }
    let action = posted.input.get("action").unwrap_or("continue").to_owned();

    // Files first: they are stored even if other answers on the page are wrong.
    let mut errors: Vec<FieldError> = Vec::new();
    let uploaded = !posted.files.is_empty();
    for file in &posted.files {
        if let Err(e) = state.app.upload(&s, &pos, file).await {
            errors.push(e);
        }
        match state.app.open_draft(&c.tenant, &service, &s.token).await {
            Ok(fresh) => s = fresh,
            Err(e) => return PageError::from_app(e, c.layout).into_response(),
        }
    }
    if let Some(id) = action.strip_prefix("remove:") {
        if let Err(e) = state.app.remove_upload(&s, id).await {
            return PageError::from_app(e, c.layout).into_response();
        }
        return see_other(&position_url(&c.tenant, &service, &pos));
    }
    let from_check = posted.input.get("from") == Some("check");
    if !errors.is_empty() || (action == "upload" && uploaded) {
        let files = state.app.draft_attachments(&s).await.unwrap_or_default();
        let r = StepRender {
            typed: Some(&posted.input),
            errors: &errors,
            files: &files,
            from_check,
            waiting: None,
        };
        return render_step(&state, &headers, &c, &s, &pos, r);
    }
    match state.app.answer_step(&s, &pos, &posted.input).await {
        Ok(next) if action == "save" => {
            let _ = next;
            see_other(&format!("{}/speichern", base(&c.tenant, &service)))
        }
        Ok(next) => {
            // Returning from the check page's change links goes back there.
            let back_to_check = from_check && matches!(pos, Position::Step { item: None, .. });
            let to = if back_to_check { Position::Check } else { next };
            see_other(&position_url(&c.tenant, &service, &to))
        }
        Err(StepError::Invalid(errors)) if errors.is_empty() => {
            PageError::not_found(c.layout).into_response()
        }
        Err(e) => {
            let (errors, waiting) = match e {
                StepError::Invalid(errors) => (errors, None),
                StepError::Overloaded => {
                    let button = if action == "save" { "save" } else { "continue" };
                    (Vec::new(), Waiting::to_send_again_with(button))
                }
            };
            let files = state.app.draft_attachments(&s).await.unwrap_or_default();
            let r = StepRender {
                typed: Some(&posted.input),
                errors: &errors,
                files: &files,
                from_check,
                waiting,
            };
            render_step(&state, &headers, &c, &s, &pos, r)
        }
    }
}

async fn step_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    answer(
        state,
        headers,
        slug,
        service,
        Position::Step { step, item: None },
        request,
    )
    .await
}

async fn item_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step, n)): Path<(String, String, String, String)>,
    request: Request,
) -> Response {
    match parse_item(&n) {
        Some(i) => {
            answer(
                state,
                headers,
                slug,
                service,
                Position::Step {
                    step,
                    item: Some(i),
                },
                request,
            )
            .await
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// "Add another"

struct ItemView {
    title: String,
    lines: Vec<String>,
    change: String,
    remove: String,
    remove_label: String,
}

#[derive(Template)]
#[template(path = "more.html")]
struct MorePage {
    layout: Layout,
    caption: String,
    heading: String,
    question: String,
    items: Vec<ItemView>,
    can_add: bool,
    errors: Vec<(String, String)>,
    action: String,
    back: String,
    csrf: String,
}

fn render_more(
    state: &AppState,
    headers: &HeaderMap,
    c: &Ctx,
    s: &DraftSession,
    step_id: &str,
    errors: &[FieldError],
) -> Response {
    let def = &s.service.definition;
    let lang = c.layout.lang;
    let Some(step) = def.step(step_id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(r) = &step.repeat else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let sections =
        rathaus_domain::service::summary(def, &s.draft.data, lang, &s.service.params, &|_| None);
    let items: Vec<ItemView> = sections
        .into_iter()
        .filter_map(|sec| match &sec.position {
            Position::Step {
                step,
                item: Some(i),
            } if step == step_id => {
                let i = *i;
                Some(ItemView {
                    change: position_url(&c.tenant, &def.id, &sec.position),
                    remove: format!(
                        "{}/entfernen",
                        position_url(&c.tenant, &def.id, &sec.position)
                    ),
                    remove_label: i18n::tf(lang, "service.item_remove", &[("title", &sec.title)]),
                    lines: sec
                        .rows
                        .iter()
                        .take(3)
                        .map(|row| format!("{}: {}", row.label, row.value.join(", ")))
                        .collect(),
                    title: sec.title,
                })
                .filter(|_| i < 1000)
            }
            _ => None,
        })
        .collect();
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let pos = Position::AddAnother {
        step: step_id.to_owned(),
    };
    let (n, total) = step_number(def, &s.draft.data, step_id);
    let page = MorePage {
        caption: format!(
            "{} · {}",
            def.title.get(lang),
            i18n::tf(
                lang,
                "service.step_of",
                &[("n", &n.to_string()), ("total", &total.to_string())]
            )
        ),
        heading: step.title.get(lang).to_owned(),
        question: r.add_another.get(lang).to_owned(),
        can_add: items.len() < r.max as usize,
        items,
        errors: error_list(errors, lang),
        action: position_url(&c.tenant, &def.id, &pos),
        back: previous(def, &s.draft.data, &pos)
            .map(|p| position_url(&c.tenant, &def.id, &p))
            .unwrap_or_else(|| base(&c.tenant, &def.id)),
        csrf,
        layout: c.layout.clone(),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    with_cookie((status, render(&page)).into_response(), cookie)
}

async fn more_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step)): Path<(String, String, String)>,
) -> Response {
    show_position(
        state,
        headers,
        slug,
        service,
        Position::AddAnother { step },
        false,
    )
    .await
}

async fn more_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    let (c, input, s) = match posted(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}/schritt/{step}/weitere"),
        request,
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    if s.draft.submitted_case.is_some() {
        return see_other(&format!("{}/bestaetigung", base(&c.tenant, &service)));
    }
    let another = match input.get("another") {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    match state.app.answer_add_another(&s, &step, another).await {
        Ok(next) => see_other(&position_url(&c.tenant, &service, &next)),
        Err(StepError::Invalid(errors)) if errors.is_empty() => {
            PageError::not_found(c.layout).into_response()
        }
        Err(StepError::Invalid(errors)) => render_more(&state, &headers, &c, &s, &step, &errors),
        // One choice to make again: the general busy page suffices.
        Err(StepError::Overloaded) => {
            PageError::from_app(AppError::Overloaded, c.layout).into_response()
        }
    }
}

async fn remove_item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, step, n)): Path<(String, String, String, String)>,
    request: Request,
) -> Response {
    let (c, _input, s) = match posted(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}"),
        request,
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(i) = parse_item(&n) else {
        return PageError::not_found(c.layout).into_response();
    };
    match state.app.remove_item(&s, &step, i).await {
        Ok(()) => see_other(&position_url(
            &c.tenant,
            &service,
            &Position::AddAnother { step },
        )),
        Err(e) => PageError::from_app(e, c.layout).into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Check and submit

struct SectionView {
    title: String,
    change: String,
    rows: Vec<(String, Vec<String>)>,
}

#[derive(Template)]
#[template(path = "check.html")]
struct CheckPage {
    layout: Layout,
    caption: String,
    sections: Vec<SectionView>,
    computed: Vec<(String, Vec<String>)>,
    submit_hint: String,
    action: String,
    back: String,
    csrf: String,
    waiting: Option<Waiting>,
}

/// Values the platform computes for the check page (fee previews); none for most services.
pub(crate) async fn computed_values(
    state: &AppState,
    s: &DraftSession,
    lang: Lang,
) -> Vec<(String, Vec<String>)> {
    match state.app.computed_values(s, lang).await {
        Ok(values) => values.into_iter().map(|v| (v.label, v.lines)).collect(),
        Err(e) => {
            tracing::error!(error = %e, "computing values for the check page failed");
            Vec::new()
        }
    }
}

async fn check_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
) -> Response {
    let (c, s) = match draft_ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}/pruefen"),
    )
    .await
    {
        Ok(found) => found,
        Err(r) => return r,
    };
    if s.draft.submitted_case.is_some() {
        return see_other(&format!("{}/bestaetigung", base(&c.tenant, &service)));
    }
    let def = &s.service.definition;
    let ctx_rules = rathaus_domain::service::Context {
        params: &s.service.params,
        today: berlin_date(state.app.now()),
    };
    if let Some((pos, _)) = def.first_incomplete(&s.draft.data, &ctx_rules) {
        return see_other(&position_url(&c.tenant, &service, &pos));
    }
    render_check(&state, &headers, &c, &s, None).await
}

async fn render_check(
    state: &AppState,
    headers: &HeaderMap,
    c: &Ctx,
    s: &DraftSession,
    waiting: Option<Waiting>,
) -> Response {
    let def = &s.service.definition;
    let service = def.id.as_str();
    let lang = c.layout.lang;
    let sections = match state.app.draft_summary(s, lang).await {
        Ok(x) => x,
        Err(e) => return PageError::from_app(e, c.layout.clone()).into_response(),
    };
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let page = CheckPage {
        caption: def.title.get(lang).to_owned(),
        sections: sections
            .into_iter()
            .map(|sec| SectionView {
                change: match &sec.position {
                    Position::Step { item: None, .. } => format!(
                        "{}?von=pruefen",
                        position_url(&c.tenant, service, &sec.position)
                    ),
                    p => position_url(&c.tenant, service, p),
                },
                title: sec.title,
                rows: sec.rows.into_iter().map(|r| (r.label, r.value)).collect(),
            })
            .collect(),
        computed: computed_values(state, s, lang).await,
        submit_hint: i18n::tf(
            lang,
            "service.submit_hint",
            &[("authority", &c.tenant.title())],
        ),
        action: format!("{}/absenden", base(&c.tenant, service)),
        back: previous(def, &s.draft.data, &Position::Check)
            .map(|p| position_url(&c.tenant, service, &p))
            .unwrap_or_default(),
        csrf,
        layout: c.layout.clone(),
        waiting,
    };
    page_response(&page, StatusCode::OK, page.waiting.is_some(), cookie)
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
    request: Request,
) -> Response {
    let (c, _input, s) = match posted(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}/pruefen"),
        request,
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.app.submit(&s, c.layout.lang).await {
        Ok(_) => see_other(&format!("{}/bestaetigung", base(&c.tenant, &service))),
        Err(SubmitError::Incomplete(pos, errors)) => {
            let files = state.app.draft_attachments(&s).await.unwrap_or_default();
            match pos {
                Position::Step { .. } => render_step(
                    &state,
                    &headers,
                    &c,
                    &s,
                    &pos,
                    StepRender {
                        typed: None,
                        errors: &errors,
                        files: &files,
                        from_check: false,
                        waiting: None,
                    },
                ),
                other => see_other(&position_url(&c.tenant, &service, &other)),
            }
        }
        Err(SubmitError::Failed(AppError::Overloaded)) => {
            let waiting = Waiting::to_send_again_with("submit");
            render_check(&state, &headers, &c, &s, waiting).await
        }
        Err(SubmitError::Failed(e)) => PageError::from_app(e, c.layout).into_response(),
    }
}

#[derive(Template)]
#[template(path = "confirmation.html")]
struct ConfirmationPage {
    layout: Layout,
    reference: String,
    status_href: String,
    receipt_href: String,
    email_sent: bool,
}

async fn confirmation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
) -> Response {
    let (c, s) = match draft_ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}/bestaetigung"),
    )
    .await
    {
        Ok(found) => found,
        Err(r) => return r,
    };
    let (Some(reference), Some(token)) = (
        s.draft
            .data
            .get("reference")
            .and_then(serde_json::Value::as_str),
        s.draft
            .data
            .get("status_token")
            .and_then(serde_json::Value::as_str),
    ) else {
        return see_other(&position_url(&c.tenant, &service, &s.position()));
    };
    let email_sent = s
        .draft
        .data
        .get("email_sent")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    // The status link (to keep: it is the way back to the case) carries the secret; the receipt
    // is fetched at the case's address, opened in this browser by its cookie.
    let status_href = format!("/{}/vorgang/{token}", c.tenant.slug);
    let case_path = super::status::case_path(c.tenant.slug.as_str(), reference);
    let mut r = render(&ConfirmationPage {
        reference: reference.to_owned(),
        receipt_href: format!("{case_path}/eingangsbestaetigung.pdf"),
        status_href,
        email_sent,
        layout: c.layout,
    });
    let cookie = super::status::case_cookie(&state, c.tenant.slug.as_str(), reference, token);
    cookies::append(r.headers_mut(), cookie);
    r
}

// ---------------------------------------------------------------------------------------------
// Save and resume

#[derive(Template)]
#[template(path = "save.html")]
struct SavePage {
    layout: Layout,
    intro: String,
    email: String,
    error: Option<String>,
    action: String,
    back: String,
    csrf: String,
    sent: bool,
}

async fn save_view(
    state: &AppState,
    headers: &HeaderMap,
    c: &Ctx,
    s: &DraftSession,
    email: &str,
    error: Option<String>,
    sent: bool,
) -> Response {
    let lang = c.layout.lang;
    let until = format_date_de(berlin_date(
        state.app.now() + Duration::days(i64::from(state.app.config.draft_ttl_days)),
    ));
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = SavePage {
        intro: i18n::tf(lang, "service.save_intro", &[("date", &until)]),
        email: email.to_owned(),
        error,
        action: format!("{}/speichern", base(&c.tenant, &s.service.definition.id)),
        back: position_url(&c.tenant, &s.service.definition.id, &s.position()),
        csrf,
        sent,
        layout: c.layout.clone(),
    };
    with_cookie((status, render(&page)).into_response(), cookie)
}

async fn save_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
) -> Response {
    match draft_ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}/speichern"),
    )
    .await
    {
        Ok((c, s)) => save_view(&state, &headers, &c, &s, "", None, false).await,
        Err(r) => r,
    }
}

async fn save_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service)): Path<(String, String)>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Response {
    let (c, input, s) = match posted(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}/speichern"),
        request,
    )
    .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let email = input.get("email").unwrap_or("").trim().to_owned();
    // Mail to any address on anyone's request: this client's budget, then the node's.
    let lang = c.layout.lang;
    let refused = match state.limits.check(Class::ResumeMail, client) {
        Err(wait) => Some((wait, "limit.mails")),
        Ok(()) => state
            .limits
            .resume_mail()
            .err()
            .map(|wait| (wait, "limit.mails_all")),
    };
    if let Some((wait, key)) = refused {
        let msg = i18n::tf(lang, key, &[("wait", &wait_text(lang, wait))]);
        let mut r = save_view(&state, &headers, &c, &s, &email, Some(msg), false).await;
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        set_retry_after(&mut r, wait);
        return r;
    }
    match state
        .app
        .send_resume_link(&s, &s.token, &email, c.layout.lang)
        .await
    {
        Ok(()) => save_view(&state, &headers, &c, &s, "", None, true).await,
        Err(e) => {
            let msg = e.message.get(c.layout.lang).to_owned();
            save_view(&state, &headers, &c, &s, &email, Some(msg), false).await
        }
    }
}

async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, service, token)): Path<(String, String, String)>,
) -> Response {
    let c = match ctx(
        &state,
        &headers,
        &slug,
        &service,
        format!("/{slug}/{service}"),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    match state.app.resume_draft(&c.tenant, &service, &token).await {
        Ok(s) => {
            let to = if s.draft.submitted_case.is_some() {
                format!("{}/bestaetigung", base(&c.tenant, &service))
            } else {
                position_url(&c.tenant, &service, &s.position())
            };
            let mut r = see_other(&to);
            cookies::append(
                r.headers_mut(),
                cookies::set(
                    &state,
                    DRAFT_COOKIE,
                    &s.token,
                    &base(&c.tenant, &service),
                    "Lax",
                    None,
                ),
            );
            r
        }
        Err(AppError::NotFound(_)) => message_page(
            &c,
            StatusCode::NOT_FOUND,
            "service.expired_title",
            "service.expired_text",
            &base(&c.tenant, &service),
        ),
        Err(e) => PageError::from_app(e, c.layout).into_response(),
    }
}

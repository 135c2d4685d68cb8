//! Inbox and case pages of the back office.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rathaus_app::AppError;
use rathaus_app::office::cases::CaseFile;
use rathaus_app::office::inbox::{InboxPage, InboxQuery};
use rathaus_domain::casework::{CaseStatus, Outcome};
use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::staff::StaffIdentity;
use serde::Deserialize;

use super::require_staff;
use crate::cookies;
use crate::error::PageError;
use crate::portal::{Layout, render};
use crate::{AppState, forms};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/verwaltung/vorgaenge", get(inbox).post(inbox_search))
        .route("/verwaltung/vorgaenge/{id}", get(case_page))
        .route("/verwaltung/vorgaenge/{id}/zuweisen", post(assign))
        .route("/verwaltung/vorgaenge/{id}/notiz", post(note))
        .route("/verwaltung/vorgaenge/{id}/rueckfrage", post(ask))
        .route("/verwaltung/vorgaenge/{id}/entscheiden", post(decide))
        .route("/verwaltung/vorgaenge/{id}/bestaetigen", post(confirm))
        .route("/verwaltung/vorgaenge/{id}/abschliessen", post(close))
        .route("/verwaltung/vorgaenge/{id}/dateien/{file}", get(file))
        .route("/verwaltung/vorgaenge/{id}/dokumente/{doc}", get(document))
}

/// Maps an application error to the office's error page: not visible is 404, not allowed 403.
pub(crate) fn office_error(e: AppError, layout: Layout) -> Response {
    match e {
        AppError::Forbidden(m) => (
            StatusCode::FORBIDDEN,
            render(&Message {
                layout,
                heading: "Keine Berechtigung".into(),
                text: m,
            }),
        )
            .into_response(),
        other => PageError::from_app(other, layout).into_response(),
    }
}

/// A form posted without a valid token (an old page, or another site): 403, nothing done.
pub(crate) fn form_expired(layout: Layout) -> Response {
    (
        StatusCode::FORBIDDEN,
        render(&Message {
            layout,
            heading: "Formular abgelaufen".into(),
            text: "Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.".into(),
        }),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "office/message.html")]
pub(crate) struct Message {
    pub layout: Layout,
    pub heading: String,
    pub text: String,
}

pub(crate) async fn office_layout(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    path: &str,
) -> Layout {
    let mut layout = Layout::new(state, headers).await.at(path.to_owned());
    layout.lang = rathaus_domain::service::Lang::De;
    layout.office_user = Some(format!("{} · {}", who.display_name, who.role.label_de()));
    layout
}

#[derive(Deserialize, Default)]
struct InboxParams {
    status: Option<String>,
    dienst: Option<String>,
    zustaendig: Option<String>,
    von: Option<String>,
    bis: Option<String>,
    ueberfaellig: Option<String>,
    /// A reference number (names come sealed, in `suche`).
    q: Option<String>,
    /// A search term sealed for this session (see [`super::search`]).
    suche: Option<String>,
    seite: Option<i64>,
}

#[derive(Template)]
#[template(path = "office/inbox.html")]
struct InboxView {
    layout: Layout,
    page: InboxPage,
    status: String,
    service: String,
    assignee: String,
    from: String,
    to: String,
    overdue: bool,
    q: String,
    /// `?suche=…` came from another session (or was altered): the search is not applied.
    search_lost: bool,
    csrf: String,
    prev: Option<String>,
    next: Option<String>,
}

async fn inbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<InboxParams>,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let layout = office_layout(&state, &headers, &who, "/verwaltung/vorgaenge").await;
    let sealed = p.suche.clone().filter(|s| !s.is_empty());
    let opened = sealed
        .as_deref()
        .and_then(|s| super::search::open(&state, &headers, s));
    let search_lost = sealed.is_some() && opened.is_none();
    let term = opened.or_else(|| p.q.clone());
    let query = InboxQuery {
        status: p.status.clone().filter(|s| !s.is_empty()),
        service: p.dienst.clone().filter(|s| !s.is_empty()),
        assignee: p.zustaendig.clone().filter(|s| !s.is_empty()),
        from: p.von.clone(),
        to: p.bis.clone(),
        overdue: p.ueberfaellig.as_deref() == Some("ja"),
        q: term.clone(),
        page: p.seite.unwrap_or(1),
    };
    let page = match state.app.inbox(&who, &query).await {
        Ok(p) => p,
        Err(e) => return office_error(e, layout),
    };
    let link = |n: i64| {
        let params: Vec<(&str, String)> = [
            ("status", p.status.clone().unwrap_or_default()),
            ("dienst", p.dienst.clone().unwrap_or_default()),
            ("zustaendig", p.zustaendig.clone().unwrap_or_default()),
            ("von", p.von.clone().unwrap_or_default()),
            ("bis", p.bis.clone().unwrap_or_default()),
            ("ueberfaellig", p.ueberfaellig.clone().unwrap_or_default()),
            ("q", p.q.clone().unwrap_or_default()),
            ("suche", sealed.clone().unwrap_or_default()),
            ("seite", n.to_string()),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
        format!(
            "/verwaltung/vorgaenge?{}",
            serde_urlencoded::to_string(params).unwrap_or_default()
        )
    };
    let prev = (page.page > 1).then(|| link(page.page - 1));
    let next = (page.page < page.pages).then(|| link(page.page + 1));
    let (csrf, cookie) = cookies::csrf_token(&state, &headers);
    let mut response = render(&InboxView {
        layout,
        status: query.status.clone().unwrap_or_default(),
        service: query.service.clone().unwrap_or_default(),
        assignee: query.assignee.clone().unwrap_or_default(),
        from: p.von.unwrap_or_default(),
        to: p.bis.unwrap_or_default(),
        overdue: query.overdue,
        q: if search_lost {
            String::new()
        } else {
            term.unwrap_or_default()
        },
        search_lost,
        csrf,
        page,
        prev,
        next,
    })
    .into_response();
    if let Some(c) = cookie {
        cookies::append(response.headers_mut(), c);
    }
    response
}

/// The filter form, posted so that a name typed into the search stays out of the address: answers
/// with the inbox's address, the name sealed for this session.
async fn inbox_search(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    // Only those who may see the inbox get an address for it.
    if let Err(e) = state.app.case_visibility(&who).await {
        let layout = office_layout(&state, &headers, &who, "/verwaltung/vorgaenge").await;
        return office_error(e, layout);
    }
    let input = match forms::urlencoded(request).await {
        Ok(i) => i,
        Err(s) => return s.into_response(),
    };
    if !cookies::csrf_ok(&state, &headers, input.get("csrf")) {
        return form_expired(office_layout(&state, &headers, &who, "/verwaltung").await);
    }
    let mut params: Vec<(&str, String)> = [
        "status",
        "dienst",
        "zustaendig",
        "von",
        "bis",
        "ueberfaellig",
    ]
    .into_iter()
    .filter_map(|k| {
        input
            .get(k)
            .filter(|v| !v.is_empty())
            .map(|v| (k, v.to_owned()))
    })
    .collect();
    let term = input.get("q").map(str::trim).unwrap_or_default();
    if !term.is_empty() {
        if rathaus_app::office::inbox::looks_like_reference(term) {
            params.push(("q", term.to_owned()));
        } else {
            match super::search::seal(&state, &headers, term) {
                Some(sealed) => params.push(("suche", sealed)),
                None => {
                    let layout =
                        office_layout(&state, &headers, &who, "/verwaltung/vorgaenge").await;
                    return office_error(
                        AppError::Internal("the search could not be sealed".into()),
                        layout,
                    );
                }
            }
        }
    }
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let to = if query.is_empty() {
        "/verwaltung/vorgaenge".to_owned()
    } else {
        format!("/verwaltung/vorgaenge?{query}")
    };
    crate::redirect::see_other(&to)
}

struct EventView {
    when: String,
    what: String,
    note: Option<String>,
    internal: bool,
}

struct FileView {
    href: String,
    name: String,
    size: String,
    image: bool,
    field: String,
}

#[derive(Template)]
#[template(path = "office/case.html")]
struct CaseView {
    layout: Layout,
    f: CaseFile,
    id: String,
    submitted: String,
    assigned_to_me: bool,
    assigned: bool,
    events: Vec<EventView>,
    files: Vec<FileView>,
    documents: Vec<(String, String, String)>,
    csrf: String,
    error: Option<String>,
    can_ask: bool,
    can_decide: bool,
    can_close: bool,
    pending_mine: bool,
}

fn event_text(kind: &str, status: Option<&str>, note: Option<&str>) -> (String, bool) {
    let status_label = status
        .and_then(CaseStatus::from_code)
        .map(CaseStatus::label_de)
        .unwrap_or("");
    match kind {
        "status" => (format!("Status: {status_label}"), false),
        "assign" => ("Übernommen".into(), true),
        "unassign" => ("Zurückgegeben".into(), true),
        "note" => ("Interne Notiz".into(), true),
        "question" => ("Rückfrage an Bürger/in".into(), false),
        "answer" => ("Antwort von Bürger/in".into(), false),
        "decision_proposed" => (
            "Entscheidung vorgeschlagen (Vier-Augen-Prinzip)".into(),
            true,
        ),
        "register" => ("Register fortgeschrieben".into(), true),
        "decision" => (
            format!(
                "Entschieden: {}",
                if note == Some("approved") {
                    "stattgegeben"
                } else {
                    "abgelehnt"
                }
            ),
            false,
        ),
        other => (other.to_owned(), true),
    }
}

async fn show_case(
    state: &AppState,
    headers: &HeaderMap,
    who: &StaffIdentity,
    id: &str,
    error: Option<String>,
) -> Response {
    let layout = office_layout(state, headers, who, &format!("/verwaltung/vorgaenge/{id}")).await;
    let f = match state.app.open_case(who, id).await {
        Ok(f) => f,
        Err(e) => return office_error(e, layout),
    };
    let (csrf, cookie) = cookies::csrf_token(state, headers);
    let events = f
        .events
        .iter()
        .map(|e| {
            let (what, internal) = event_text(&e.kind, e.status.as_deref(), e.note.as_deref());
            let note = if e.kind == "decision" {
                None
            } else {
                e.note.clone()
            };
            EventView {
                when: format_berlin(from_unix_ms(e.at_ms)),
                what,
                note,
                internal,
            }
        })
        .collect();
    let files = f
        .attachments
        .iter()
        .map(|a| FileView {
            href: format!("/verwaltung/vorgaenge/{id}/dateien/{}", a.id),
            name: a.name.clone(),
            size: crate::portal::size_label(a.size),
            image: a.kind == "jpeg" || a.kind == "png",
            field: if a.field.starts_with("answer-") {
                "Mit einer Antwort nachgereicht".into()
            } else {
                a.field.clone()
            },
        })
        .collect();
    let documents = f
        .documents
        .iter()
        .map(|d| {
            (
                format!("/verwaltung/vorgaenge/{id}/dokumente/{}", d.id),
                d.title.clone(),
                format_berlin(from_unix_ms(d.created_at_ms)),
            )
        })
        .collect();
    let me = format!("staff:{}", who.user_id);
    let view = CaseView {
        submitted: format_berlin(from_unix_ms(f.case.submitted_at_ms)),
        assigned_to_me: f.case.assignee.as_deref() == Some(who.user_id.as_str()),
        assigned: f.case.assignee.is_some(),
        can_ask: matches!(
            f.status,
            CaseStatus::Received | CaseStatus::InProgress | CaseStatus::WaitingForCitizen
        ),
        can_decide: f.status.is_open() && f.pending_decision.is_none(),
        can_close: f.status == CaseStatus::Decided,
        pending_mine: f
            .pending_decision
            .as_ref()
            .is_some_and(|d| d.proposed_by == me),
        id: id.to_owned(),
        events,
        files,
        documents,
        csrf,
        error: error.clone(),
        layout,
        f,
    };
    let status = if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let mut r = (status, render(&view)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie {
        cookies::append(r.headers_mut(), c);
    }
    r
}

async fn case_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match require_staff(&state, &headers).await {
        Ok(who) => show_case(&state, &headers, &who, &id, None).await,
        Err(r) => r,
    }
}

/// Common frame of the case actions: signed in, CSRF checked, then the action; success goes
/// back to the case, a conflict or bad input shows the case with the message.
async fn act<F, Fut>(
    state: AppState,
    headers: HeaderMap,
    id: String,
    request: Request,
    action: F,
) -> Response
where
    F: FnOnce(AppState, StaffIdentity, String, rathaus_domain::service::FormInput) -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let input = match forms::urlencoded(request).await {
        Ok(i) => i,
        Err(s) => return s.into_response(),
    };
    if !cookies::csrf_ok(&state, &headers, input.get("csrf")) {
        return form_expired(office_layout(&state, &headers, &who, "/verwaltung").await);
    }
    match action(state.clone(), who.clone(), id.clone(), input).await {
        Ok(()) => crate::redirect::see_other(&format!("/verwaltung/vorgaenge/{id}")),
        Err(AppError::Conflict(m) | AppError::BadInput(m)) => {
            show_case(&state, &headers, &who, &id, Some(m)).await
        }
        Err(e) => {
            let layout = office_layout(&state, &headers, &who, "/verwaltung").await;
            office_error(e, layout)
        }
    }
}

fn version(input: &rathaus_domain::service::FormInput) -> Result<i64, AppError> {
    input
        .get("version")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| AppError::BadInput("Das Formular ist unvollständig.".into()))
}

async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    act(
        state,
        headers,
        id,
        request,
        |state, who, id, input| async move {
            let to_me = input.get("action") != Some("release");
            state
                .app
                .assign_case(&who, &id, version(&input)?, to_me)
                .await
        },
    )
    .await
}

async fn note(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    act(
        state,
        headers,
        id,
        request,
        |state, who, id, input| async move {
            state
                .app
                .add_note(&who, &id, input.get("text").unwrap_or(""))
                .await
        },
    )
    .await
}

async fn ask(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    act(
        state,
        headers,
        id,
        request,
        |state, who, id, input| async move {
            state
                .app
                .ask_citizen(
                    &who,
                    &id,
                    version(&input)?,
                    input.get("question").unwrap_or(""),
                )
                .await
        },
    )
    .await
}

async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    act(
        state,
        headers,
        id,
        request,
        |state, who, id, input| async move {
            let outcome = input
                .get("outcome")
                .and_then(Outcome::from_code)
                .ok_or_else(|| {
                    AppError::BadInput(
                        "Bitte wählen Sie, ob dem Antrag stattgegeben oder er abgelehnt wird."
                            .into(),
                    )
                })?;
            state
                .app
                .decide(
                    &who,
                    &id,
                    version(&input)?,
                    outcome,
                    input.get("reasons").unwrap_or(""),
                )
                .await
                .map(|_| ())
        },
    )
    .await
}

async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    act(
        state,
        headers,
        id,
        request,
        |state, who, id, input| async move {
            let seq = input
                .get("seq")
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| AppError::BadInput("Das Formular ist unvollständig.".into()))?;
            state
                .app
                .confirm_decision(&who, &id, version(&input)?, seq)
                .await
        },
    )
    .await
}

async fn close(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Response {
    act(state, headers, id, request, |state, who, id, input| async move { state.app.close_case(&who, &id, version(&input)?).await }).await
}

/// Files are served only to signed-in clerks who may see the case, never cached, and in a
/// sandbox so that a crafted file cannot run script in the office's origin.
fn file_response(bytes: Vec<u8>, mime: &'static str, inline: bool, name: &str) -> Response {
    let safe: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-_ ".contains(*c))
        .collect();
    let disposition = format!(
        "{}; filename=\"{}\"",
        if inline { "inline" } else { "attachment" },
        if safe.is_empty() { "datei" } else { &safe }
    );
    let mut r = (
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        bytes,
    )
        .into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; sandbox"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

async fn file(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, file)): Path<(String, String)>,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match state.app.case_attachment(&who, &id, &file).await {
        Ok((att, bytes)) => {
            let kind = rathaus_domain::upload::FileKind::from_code(&att.kind);
            let mime = kind.map_or("application/octet-stream", |k| k.mime());
            let inline = matches!(att.kind.as_str(), "jpeg" | "png");
            file_response(bytes, mime, inline, &att.name)
        }
        Err(e) => office_error(
            e,
            office_layout(&state, &headers, &who, "/verwaltung").await,
        ),
    }
}

async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, doc)): Path<(String, String)>,
) -> Response {
    let who = match require_staff(&state, &headers).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    match state.app.case_document(&who, &id, &doc).await {
        Ok((d, bytes)) => {
            file_response(bytes, "application/pdf", false, &format!("{}.pdf", d.title))
        }
        Err(e) => office_error(
            e,
            office_layout(&state, &headers, &who, "/verwaltung").await,
        ),
    }
}

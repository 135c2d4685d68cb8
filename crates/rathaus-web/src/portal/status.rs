//! The status page of a case and the receipt PDF.
//!
//! The case's secret link (`/{slug}/vorgang/{token}`, from the confirmation page and e-mails) is
//! exchanged for a cookie on arrival and redirects to an address without the secret
//! (`/{slug}/vorgang/{reference}`), so the secret stays out of the address bar, the history,
//! bookmarks and the logs of proxies in front of the page's sub-resources. The cookie is scoped
//! to that case's path and lasts until the browser closes: a citizen with several cases keeps
//! them apart, and the next person at a shared computer finds nothing.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rathaus_app::citizen::status_label;
use rathaus_crypto::token::looks_like_token;
use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::tenant::Tenant;

use super::uploads::{UploadRefusal, read_upload_form};
use super::{Layout, MessagePage, render};
use crate::error::PageError;
use crate::ratelimit::{UPLOADS_BUSY_RETRY, retry_after_seconds, wait_text};
use crate::{AppState, i18n};

const CASE_COOKIE: &str = "rh_vorgang";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{slug}/vorgang/{key}", get(status_page))
        .route(
            "/{slug}/vorgang/{reference}/eingangsbestaetigung.pdf",
            get(receipt),
        )
        .route(
            "/{slug}/vorgang/{reference}/antwort",
            axum::routing::post(answer).layer(axum::extract::DefaultBodyLimit::max(
                super::UPLOAD_BODY_LIMIT,
            )),
        )
        .route("/{slug}/vorgang/{reference}/dokumente/{doc}", get(document))
}

/// The case's address without its secret.
pub(crate) fn case_path(slug: &str, reference: &str) -> String {
    format!("/{slug}/vorgang/{reference}")
}

/// The cookie that opens the case at [`case_path`] in this browser until it closes.
pub(crate) fn case_cookie(
    state: &AppState,
    slug: &str,
    reference: &str,
    token: &str,
) -> HeaderValue {
    crate::cookies::set(
        state,
        CASE_COOKIE,
        token,
        &case_path(slug, reference),
        "Lax",
        None,
    )
}

/// The secret the status link left for the case at this path, if any.
fn case_token(headers: &HeaderMap) -> Option<String> {
    crate::cookies::get(headers, CASE_COOKIE).filter(|t| looks_like_token(t))
}

/// The page for a browser that arrives at a case's address without its secret.
fn link_needed(layout: Layout) -> Response {
    let page = MessagePage {
        heading: layout.t("status.link_title"),
        text: layout.t("status.link_text"),
        link: "/".to_owned(),
        link_text: layout.t("site.home"),
        layout,
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

async fn public_tenant(state: &AppState, layout: &Layout, slug: &str) -> Result<Tenant, Response> {
    state
        .app
        .public_tenant(slug)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()).into_response())
}

/// `key` is either the secret of a status link (exchanged for the cookie) or a case's reference.
async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, key)): Path<(String, String)>,
) -> Response {
    if !looks_like_token(&key) {
        return show_status(&state, &headers, &slug, &key, None, "", false).await;
    }
    let layout = Layout::new(&state, &headers).await;
    let tenant = match public_tenant(&state, &layout, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match state.app.case_status(&tenant, &key).await {
        Ok(st) => {
            let mut r = crate::redirect::see_other(&case_path(&slug, &st.case.reference));
            let cookie = case_cookie(&state, &slug, &st.case.reference, &key);
            crate::cookies::append(r.headers_mut(), cookie);
            r
        }
        Err(e) => PageError::from_app(e, layout.for_tenant(&tenant)).into_response(),
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    layout: Layout,
    reference: String,
    service: String,
    authority: String,
    submitted: String,
    status: String,
    history: Vec<(String, String, Option<String>)>,
    receipt_href: String,
    question: Option<String>,
    answer_action: String,
    answer_error: Option<String>,
    answer_text: String,
    documents: Vec<(String, String)>,
    access: Vec<(String, String)>,
    csrf: String,
    answered: bool,
}

async fn show_status(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    reference: &str,
    answer_error: Option<String>,
    answer_text: &str,
    answered: bool,
) -> Response {
    let base = case_path(slug, reference);
    let layout = Layout::new(state, headers).await.at(base.clone());
    let tenant = match public_tenant(state, &layout, slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let layout = layout.for_tenant(&tenant);
    let Some(token) = case_token(headers) else {
        return link_needed(layout);
    };
    let st = match state.app.case_status(&tenant, &token).await {
        Ok(s) if s.case.reference == reference => s,
        Ok(_) | Err(rathaus_app::AppError::NotFound(_)) => return link_needed(layout),
        Err(e) => return PageError::from_app(e, layout).into_response(),
    };
    let lang = layout.lang;
    let t = |k: &str| crate::i18n::t(lang, k);
    let history = st
        .events
        .iter()
        .map(|e| {
            let when = format_berlin(from_unix_ms(e.at_ms));
            match e.kind.as_str() {
                "question" => (when, t("status.question"), e.note.clone()),
                "answer" => (when, t("status.your_answer"), e.note.clone()),
                _ => (
                    when,
                    e.status
                        .as_deref()
                        .map(|s| status_label(s, lang).to_owned())
                        .unwrap_or_default(),
                    None,
                ),
            }
        })
        .collect();
    let (csrf, cookie) = crate::cookies::csrf_token(state, headers);
    let status = if answer_error.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    let mut r = (
        status,
        render(&StatusPage {
            reference: st.case.reference.clone(),
            service: st.service.definition.title.get(lang).to_owned(),
            authority: tenant.title(),
            submitted: format_berlin(from_unix_ms(st.case.submitted_at_ms)),
            status: status_label(&st.case.status, lang).to_owned(),
            question: st.open_question().and_then(|q| q.note.clone()),
            answer_action: format!("{base}/antwort"),
            answer_error,
            answer_text: answer_text.to_owned(),
            documents: st
                .documents
                .iter()
                .map(|d| (format!("{base}/dokumente/{}", d.id), d.title.clone()))
                .collect(),
            access: st
                .access
                .iter()
                .map(|(at, office, kind)| {
                    let what = if kind == "read" {
                        t("status.access_read")
                    } else {
                        t("status.access_change")
                    };
                    (
                        format_berlin(from_unix_ms(*at)),
                        format!("{office} ({what})"),
                    )
                })
                .collect(),
            history,
            receipt_href: format!("{base}/eingangsbestaetigung.pdf"),
            csrf,
            answered,
            layout,
        }),
    )
        .into_response();
    // A page behind a secret link is nobody's business but its holder's: no caching by proxies.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(c) = cookie {
        crate::cookies::append(r.headers_mut(), c);
    }
    r
}

async fn answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, reference)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    // Without the case's secret nothing is received.
    let Some(token) = case_token(&headers) else {
        return link_needed(Layout::new(&state, &headers).await);
    };
    let client = crate::client::client_of(&state, request.extensions(), request.headers());
    let form = match read_upload_form(&state, client, request).await {
        Ok(f) => f,
        Err(r) => return answer_refused(&state, &headers, &slug, &reference, r).await,
    };
    let text = form.input.get("answer").unwrap_or("").to_owned();
    let csrf = form.input.get("csrf").unwrap_or("").to_owned();
    if !crate::cookies::csrf_ok(&state, &headers, Some(&csrf)) {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    }
    let layout = Layout::new(&state, &headers).await;
    let tenant = match public_tenant(&state, &layout, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    match state
        .app
        .answer_question(&tenant, &token, &text, &form.files)
        .await
    {
        Ok(()) => show_status(&state, &headers, &slug, &reference, None, "", true).await,
        Err(e) => {
            let lang = crate::cookies::lang(&headers);
            show_status(
                &state,
                &headers,
                &slug,
                &reference,
                Some(e.message.get(lang).to_owned()),
                &text,
                false,
            )
            .await
        }
    }
}

/// The status page with the reason an answer's files were not taken; nothing was stored.
async fn answer_refused(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    reference: &str,
    refusal: UploadRefusal,
) -> Response {
    let lang = crate::cookies::lang(headers);
    let (status, key, wait) = match refusal {
        UploadRefusal::Status(status) => return status.into_response(),
        UploadRefusal::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "upload.busy",
            UPLOADS_BUSY_RETRY,
        ),
        UploadRefusal::TooMany(wait) => (StatusCode::TOO_MANY_REQUESTS, "upload.too_many", wait),
        UploadRefusal::Failed(e) => {
            tracing::error!(error = %e, "receiving an upload failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "upload.failed",
                UPLOADS_BUSY_RETRY,
            )
        }
    };
    let message = i18n::tf(lang, key, &[("wait", &wait_text(lang, wait))]);
    let mut r = show_status(state, headers, slug, reference, Some(message), "", false).await;
    if r.status() == StatusCode::UNPROCESSABLE_ENTITY {
        *r.status_mut() = status;
        if let Ok(v) = HeaderValue::from_str(&retry_after_seconds(wait).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

async fn document(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, _reference, doc)): Path<(String, String, String)>,
) -> Response {
    let layout = Layout::new(&state, &headers).await;
    let tenant = match public_tenant(&state, &layout, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(token) = case_token(&headers) else {
        return link_needed(layout.for_tenant(&tenant));
    };
    match state.app.citizen_document(&tenant, &token, &doc).await {
        Ok((_, pdf)) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/pdf"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"bescheid.pdf\""),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            pdf,
        )
            .into_response(),
        Err(e) => PageError::from_app(e, layout.for_tenant(&tenant)).into_response(),
    }
}

async fn receipt(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, _reference)): Path<(String, String)>,
) -> Response {
    let layout = Layout::new(&state, &headers).await;
    let tenant = match public_tenant(&state, &layout, &slug).await {
        Ok(t) => t,
        Err(r) => return r,
    };
    let Some(token) = case_token(&headers) else {
        return link_needed(layout.for_tenant(&tenant));
    };
    match state.app.receipt_pdf(&tenant, &token).await {
        Ok(pdf) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/pdf"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"eingangsbestaetigung.pdf\""),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            pdf,
        )
            .into_response(),
        Err(e) => PageError::from_app(e, layout.for_tenant(&tenant)).into_response(),
    }
}

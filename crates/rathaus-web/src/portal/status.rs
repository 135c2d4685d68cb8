//! The status page of a case, reached by its secret link, and the receipt PDF.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rathaus_app::citizen::status_label;
use rathaus_domain::localtime::{format_berlin, from_unix_ms};

use super::uploads::{UploadRefusal, read_upload_form};
use super::{Layout, render};
use crate::error::PageError;
use crate::ratelimit::{UPLOADS_BUSY_RETRY, retry_after_seconds, wait_text};
use crate::{AppState, i18n};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/{slug}/vorgang/{token}", get(status_page))
        .route(
            "/{slug}/vorgang/{token}/eingangsbestaetigung.pdf",
            get(receipt),
        )
        .route(
            "/{slug}/vorgang/{token}/antwort",
            axum::routing::post(answer).layer(axum::extract::DefaultBodyLimit::max(
                super::UPLOAD_BODY_LIMIT,
            )),
        )
        .route("/{slug}/vorgang/{token}/dokumente/{doc}", get(document))
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

async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, token)): Path<(String, String)>,
) -> Response {
    show_status(&state, &headers, &slug, &token, None, "", false).await
}

async fn show_status(
    state: &AppState,
    headers: &HeaderMap,
    slug: &str,
    token: &str,
    answer_error: Option<String>,
    answer_text: &str,
    answered: bool,
) -> Response {
    let layout = Layout::new(state, headers)
        .await
        .at(format!("/{slug}/vorgang/{token}"));
    let tenant = match state.app.public_tenant(slug).await {
        Ok(t) => t,
        Err(e) => return PageError::from_app(e, layout).into_response(),
    };
    let layout = layout.for_tenant(&tenant);
    let st = match state.app.case_status(&tenant, token).await {
        Ok(s) => s,
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
    let base = format!("/{slug}/vorgang/{token}");
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
    Path((slug, token)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Response {
    let client = crate::client::client_of(&state, request.extensions(), request.headers());
    let form = match read_upload_form(&state, client, request).await {
        Ok(f) => f,
        Err(r) => return answer_refused(&state, &headers, &slug, &token, r).await,
    };
    let text = form.input.get("answer").unwrap_or("").to_owned();
    let csrf = form.input.get("csrf").unwrap_or("").to_owned();
    if !crate::cookies::csrf_ok(&state, &headers, Some(&csrf)) {
        return axum::http::StatusCode::FORBIDDEN.into_response();
    }
    let tenant = match state.app.public_tenant(&slug).await {
        Ok(t) => t,
        Err(e) => {
            return PageError::from_app(e, Layout::new(&state, &headers).await).into_response();
        }
    };
    match state
        .app
        .answer_question(&tenant, &token, &text, &form.files)
        .await
    {
        Ok(()) => show_status(&state, &headers, &slug, &token, None, "", true).await,
        Err(e) => {
            let lang = crate::cookies::lang(&headers);
            show_status(
                &state,
                &headers,
                &slug,
                &token,
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
    token: &str,
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
    let mut r = show_status(state, headers, slug, token, Some(message), "", false).await;
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
    Path((slug, token, doc)): Path<(String, String, String)>,
) -> Response {
    let layout = Layout::new(&state, &headers).await;
    let tenant = match state.app.public_tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return PageError::from_app(e, layout).into_response(),
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
    Path((slug, token)): Path<(String, String)>,
) -> Response {
    let layout = Layout::new(&state, &headers).await;
    let tenant = match state.app.public_tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return PageError::from_app(e, layout).into_response(),
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

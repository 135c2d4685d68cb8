//! The status page of a case, reached by its secret link, and the receipt PDF.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rathaus_app::citizen::status_label;
use rathaus_domain::localtime::{format_berlin, from_unix_ms};

use super::{Layout, render};
use crate::AppState;
use crate::error::PageError;

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
    mut multipart: axum::extract::Multipart,
) -> Response {
    let mut text = String::new();
    let mut csrf = String::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                match field.file_name().map(str::to_owned) {
                    Some(file_name) => match field.bytes().await {
                        Ok(b) if !b.is_empty() => files.push((file_name, b.to_vec())),
                        Ok(_) => {}
                        Err(e) => return e.status().into_response(),
                    },
                    None => {
                        let value = match field.text().await {
                            Ok(v) => v,
                            Err(e) => return e.status().into_response(),
                        };
                        if name == "answer" {
                            text = value;
                        } else if name == "csrf" {
                            csrf = value;
                        }
                    }
                }
            }
            Ok(None) => break,
            Err(e) => return e.status().into_response(),
        }
    }
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
        .answer_question(&tenant, &token, &text, &files)
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

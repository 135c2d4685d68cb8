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
    history: Vec<(String, String)>,
    receipt_href: String,
}

async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((slug, token)): Path<(String, String)>,
) -> Response {
    // The path holds the secret; the language switcher links back to it, which is harmless
    // since the page itself is the secret's holder.
    let layout = Layout::new(&state, &headers)
        .await
        .at(format!("/{slug}/vorgang/{token}"));
    let tenant = match state.app.public_tenant(&slug).await {
        Ok(t) => t,
        Err(e) => return PageError::from_app(e, layout).into_response(),
    };
    let layout = layout.for_tenant(&tenant);
    let st = match state.app.case_status(&tenant, &token).await {
        Ok(s) => s,
        Err(e) => return PageError::from_app(e, layout).into_response(),
    };
    let lang = layout.lang;
    let history = st
        .events
        .iter()
        .filter_map(|e| {
            e.status.as_ref().map(|s| {
                (
                    format_berlin(from_unix_ms(e.at_ms)),
                    status_label(s, lang).to_owned(),
                )
            })
        })
        .collect();
    let mut r = render(&StatusPage {
        reference: st.case.reference.clone(),
        service: st.service.definition.title.get(lang).to_owned(),
        authority: tenant.title(),
        submitted: format_berlin(from_unix_ms(st.case.submitted_at_ms)),
        status: status_label(&st.case.status, lang).to_owned(),
        history,
        receipt_href: format!("/{slug}/vorgang/{token}/eingangsbestaetigung.pdf"),
        layout,
    });
    // A page behind a secret link is nobody's business but its holder's: no caching by proxies.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
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

//! Error responses: HTML pages for people, RFC 9457 problem JSON for programs.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use rathaus_app::AppError;

use crate::AppState;
use crate::portal::Layout;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

/// An error as a page. Internal details go to the log, never to the page.
pub(crate) struct PageError {
    status: StatusCode,
    heading: &'static str,
    message: &'static str,
    layout: Option<Layout>,
}

impl PageError {
    pub(crate) fn not_found(layout: Layout) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            heading: "Seite nicht gefunden",
            message: "Diese Seite gibt es nicht oder nicht mehr. Bitte prüfen Sie die Adresse oder beginnen Sie auf der Startseite.",
            layout: Some(layout),
        }
    }

    pub(crate) fn from_app(e: AppError, layout: Layout) -> PageError {
        match e {
            AppError::NotFound(_) => PageError::not_found(layout),
            AppError::Overloaded => PageError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                heading: "Gerade ist sehr viel los",
                message: "Ihre Anfrage wurde nicht verarbeitet, weil gerade sehr viele Menschen den Dienst nutzen. Bitte versuchen Sie es in wenigen Sekunden erneut. Ihre bisherigen Angaben gehen nicht verloren.",
                layout: Some(layout),
            },
            AppError::Unavailable(m) => {
                tracing::error!(error = %m, "dependency unavailable");
                PageError {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    heading: "Vorübergehend nicht erreichbar",
                    message: "Der Dienst ist gerade nicht erreichbar. Bitte versuchen Sie es in einigen Minuten erneut. Ihre bisherigen Angaben gehen nicht verloren.",
                    layout: Some(layout),
                }
            }
            other => {
                tracing::error!(error = %other, "request failed");
                PageError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    heading: "Ein Fehler ist aufgetreten",
                    message: "Ihre Anfrage konnte nicht bearbeitet werden. Bitte versuchen Sie es später erneut.",
                    layout: Some(layout),
                }
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            layout: self.layout.unwrap_or_default(),
            heading: self.heading.to_owned(),
            message: self.message.to_owned(),
        };
        let mut response = match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.heading).into_response(),
        };
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

pub(crate) async fn not_found_fallback(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    let layout = Layout::new(&state, &headers).await;
    PageError::not_found(layout).into_response()
}

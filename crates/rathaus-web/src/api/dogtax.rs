//! `POST /api/v1/tenants/{ags}/dog-tax/quote`: the year's dog tax for a household under the
//! municipality's statute. Public and rate-limited per client address; the same request and
//! response JSON as `rathaus dogtax quote`.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rathaus_app::dogtax::{self, QuoteError};

use super::problem;
use crate::AppState;
use crate::client::client_of;
use crate::ratelimit::{Class, retry_after_seconds};

pub(crate) async fn quote(
    State(state): State<AppState>,
    Path(ags): Path<String>,
    request: Request,
) -> Response {
    // Per node: a cluster of n nodes lets a client through n times as often. Good enough
    // against a script hammering one node; not a quota.
    let client = client_of(&state, request.extensions(), request.headers());
    if let Err(wait) = state.limits.check(Class::Quote, client) {
        let seconds = retry_after_seconds(wait);
        let mut response = problem(&rathaus_app::problem::problem(
            429,
            &format!("too many requests from this address; try again in {seconds} s"),
        ));
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let limit = state.web.max_body_bytes;
    let Ok(body) = axum::body::to_bytes(request.into_body(), limit).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return problem(&dogtax::not_json_problem());
    };
    match state.app.dogtax_quote(&ags, &value).await {
        // Serialised from the struct, not a JSON value: the fields keep the documented order.
        Ok(quote) => match serde_json::to_string(&quote) {
            Ok(body) => {
                let mut response = (StatusCode::OK, body).into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(e) => internal(&e.to_string()),
        },
        Err(QuoteError::Failed(e)) => internal(&e.to_string()),
        Err(e) => match dogtax::quote_problem(&e) {
            Some(p) => problem(&p),
            None => internal("quote failed"),
        },
    }
}

fn internal(error: &str) -> Response {
    tracing::error!(error, "dog-tax quote failed");
    problem(&rathaus_app::problem::problem(
        500,
        "the quote could not be computed; please try again later",
    ))
}

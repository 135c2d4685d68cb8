//! `POST /api/v1/tenants/{ags}/services/{service}/submissions`: hands in a service's data as a
//! whole, for services anyone may use without an account and without the portal (see
//! `ServiceDefinition::open_to_direct_submission`). The case is the same as one made through the
//! portal: the clerks see it in their inbox, the citizen follows it through `status_url`.
//!
//! Public and rate-limited per client address. An `Idempotency-Key` makes retries safe: the same
//! key with the same data answers with the case made the first time. No `Location` header: the
//! case's only address that works without a cookie is its secret status link, and secrets are
//! kept out of headers, which gateways log; the link is in the body.

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use rathaus_app::AppError;
use rathaus_app::problem::{
    FieldProblem, invalid, not_json, problem as problem_json, problem_with,
};
use rathaus_app::submission::{Accepted, SubmissionError};
use serde_json::json;

use super::{json_response, problem};
use crate::AppState;
use crate::client::client_of;
use crate::ratelimit::{Class, retry_after_seconds};

const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on the answer to a retry: the case was made by an earlier request with the same key.
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

pub(crate) async fn submit(
    State(state): State<AppState>,
    Path((ags, service)): Path<(String, String)>,
    request: Request,
) -> Response {
    let client = client_of(&state, request.extensions(), request.headers());
    if let Err(wait) = state.limits.check(Class::Submission, client) {
        let seconds = retry_after_seconds(wait);
        return with_retry_after(
            problem(&problem_json(
                429,
                &format!("too many requests from this address; try again in {seconds} s"),
            )),
            seconds,
        );
    }
    // Under overload the answer must stay fast: refuse before the body is read, parsed and
    // validated, work that a full write queue would throw away.
    if state.app.store.write_queue_full() {
        return failed(&AppError::Overloaded);
    }
    if !is_json(request.headers()) {
        return problem(&problem_json(
            415,
            "the request body must be JSON, sent as `Content-Type: application/json`",
        ));
    }
    let key = match idempotency_key(request.headers()) {
        Ok(k) => k,
        Err(()) => {
            return problem(&problem_json(
                400,
                "`Idempotency-Key` must be one value of 1 to 255 visible ASCII characters, such as a UUID",
            ));
        }
    };
    let limit = state.web.max_body_bytes;
    let Ok(body) = axum::body::to_bytes(request.into_body(), limit).await else {
        return problem(&problem_json(
            413,
            &format!("the request body is larger than {limit} bytes"),
        ));
    };
    // Taken once the body is in, so that slow senders cannot hold the slots.
    let Some(_slot) = state.limits.submission_slot() else {
        return failed(&AppError::Overloaded);
    };
    let Ok(data) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return problem(&problem_with(
            400,
            "the request body is not valid JSON",
            &[not_json()],
        ));
    };
    if !data.is_object() {
        return problem(&problem_with(
            400,
            "the request body must be a JSON object: the service's data",
            &[FieldProblem {
                field: String::new(),
                message: "the request body must be a JSON object".into(),
                message_de: "Die Anfrage muss ein JSON-Objekt sein.".into(),
            }],
        ));
    }
    match state
        .app
        .submit_whole(&ags, &service, &data, key.as_deref())
        .await
    {
        Ok(accepted) => created(&accepted),
        Err(SubmissionError::NotFound(m)) => problem(&problem_json(404, &m)),
        Err(SubmissionError::Invalid(errors)) => {
            let errors: Vec<FieldProblem> = errors.iter().map(FieldProblem::from).collect();
            problem(&invalid(&errors))
        }
        Err(SubmissionError::KeyReused) => problem(&problem_json(
            409,
            "this Idempotency-Key was used with other data; use a new key for a new submission",
        )),
        Err(SubmissionError::Failed(e)) => failed(&e),
    }
}

fn created(a: &Accepted) -> Response {
    let mut response = json_response(
        StatusCode::CREATED,
        "application/json",
        &json!({"reference": a.reference, "status_url": a.status_url}),
    );
    let h = response.headers_mut();
    // The body holds the status page's secret.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if a.replayed {
        h.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

/// Overloaded or a dependency down: nothing was written, the client may retry (with the same
/// key, safely). Anything else is ours.
fn failed(e: &AppError) -> Response {
    match e {
        AppError::Overloaded => with_retry_after(
            problem(&problem_json(
                503,
                "too many submissions at once; nothing was stored, please retry in a moment",
            )),
            1,
        ),
        AppError::Unavailable(m) => {
            tracing::error!(error = %m, "dependency unavailable");
            with_retry_after(
                problem(&problem_json(
                    503,
                    "the service is unavailable just now; nothing was stored, please retry in a few minutes",
                )),
                60,
            )
        }
        other => {
            tracing::error!(error = %other, "submission failed");
            problem(&problem_json(
                500,
                "the submission could not be stored; please try again later",
            ))
        }
    }
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

/// The optional `Idempotency-Key`: one header of 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ()> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    let bytes = value.as_bytes();
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(());
    }
    String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_bytes(v),
            ) {
                h.append(k, v);
            }
        }
        h
    }

    #[test]
    fn an_idempotency_key_is_one_value_of_visible_ascii() {
        let key = |v: &[u8]| idempotency_key(&headers(&[("idempotency-key", v)]));
        assert_eq!(idempotency_key(&HeaderMap::new()), Ok(None));
        assert_eq!(
            key(b"8e0f7a8c-5b1e-4bb5-9d64-2a0e4f1b6c3d"),
            Ok(Some("8e0f7a8c-5b1e-4bb5-9d64-2a0e4f1b6c3d".to_owned()))
        );
        assert_eq!(key(&[b'k'; 255]), Ok(Some("k".repeat(255))));
        assert_eq!(key(&[b'k'; 256]), Err(()));
        assert_eq!(key(b"with space"), Err(()));
        assert_eq!(key(b"tab\there"), Err(()));
        assert_eq!(key("Schlüssel".as_bytes()), Err(()));
        assert_eq!(key(b""), Err(()));
        let twice = headers(&[("idempotency-key", b"a"), ("idempotency-key", b"b")]);
        assert_eq!(idempotency_key(&twice), Err(()));
    }

    #[test]
    fn json_is_recognised_with_parameters() {
        let ct = |v: &str| is_json(&headers(&[("content-type", v.as_bytes())]));
        assert!(ct("application/json"));
        assert!(ct("Application/JSON; charset=utf-8"));
        assert!(!ct("text/plain"));
        assert!(!ct("application/x-www-form-urlencoded"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn an_overloaded_store_is_503_with_retry_after() {
        let r = failed(&AppError::Overloaded);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let r = failed(&AppError::Unavailable("database down".into()));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(header::RETRY_AFTER));
        let r = failed(&AppError::Internal("bug".into()));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!r.headers().contains_key(header::RETRY_AFTER));
    }
}

//! RFC 9457 problem documents (`application/problem+json`), as the API answers and the CLI
//! prints. `errors` names each offending field: `field` (a path like `year`, `dogs[0].kept_from`,
//! or empty for the request as a whole), `message` and `message_de`.

use serde::Serialize;
use serde_json::{Value, json};

/// A problem without fields to name.
pub fn problem(status: u16, detail: &str) -> Value {
    let title = match status {
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    json!({
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    })
}

/// A problem naming the fields at fault.
pub fn problem_with<E: Serialize>(status: u16, detail: &str, errors: &[E]) -> Value {
    let mut p = problem(status, detail);
    if !errors.is_empty() {
        p["errors"] = json!(errors);
    }
    p
}

/// 422: the request breaks the rules; each problem is named.
pub fn invalid<E: Serialize>(errors: &[E]) -> Value {
    let n = errors.len();
    let detail = format!(
        "the request has {n} problem{}; each is named in `errors`",
        if n == 1 { "" } else { "s" }
    );
    problem_with(422, &detail, errors)
}

/// One field of a service's data at fault, in the API's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
    pub message_de: String,
}

impl From<&rathaus_domain::service::FieldError> for FieldProblem {
    fn from(e: &rathaus_domain::service::FieldError) -> Self {
        FieldProblem {
            field: e.field.clone(),
            message: e.message.en.clone(),
            message_de: e.message.de.clone(),
        }
    }
}

/// The whole request, when its body is not JSON at all.
pub fn not_json() -> FieldProblem {
    FieldProblem {
        field: String::new(),
        message: "the request is not valid JSON".into(),
        message_de: "Die Anfrage ist kein gültiges JSON.".into(),
    }
}

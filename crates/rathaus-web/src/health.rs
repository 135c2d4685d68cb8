//! Liveness, readiness and metrics for the operator.
//!
//! `/healthz` and `/readyz` answer on every listener (load balancers probe them); `/metrics`
//! only on the operators' listener, since it tells who is using which service how often.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The operators' listener: health, readiness and metrics.
pub(crate) fn ops_routes() -> Router<AppState> {
    routes().route("/metrics", get(metrics))
}

/// The process-wide Prometheus recorder; installed once however many routers a test builds.
pub(crate) fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The process is up and serving.
async fn healthz() -> &'static str {
    "ok\n"
}

/// The database answers and its schema is current: ready for traffic.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.app.readiness().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "reason": reason})),
            )
                .into_response()
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let store = &state.app.store;
    metrics::gauge!("write_queue_depth").set(store.write_queue_depth() as f64);
    if let Some((units, commits)) = store.write_stats() {
        // Units of work per commit is how well group commit batches.
        metrics::gauge!("write_units_total").set(units as f64);
        metrics::gauge!("write_commits_total").set(commits as f64);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

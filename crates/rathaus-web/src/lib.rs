//! The HTTP interface of rathaus: citizen portal, health and metrics endpoints, static assets.
//!
//! Handlers are thin: they translate HTTP into calls of the application services in
//! `rathaus-app` and render the result. Every response passes the security-header middleware.

mod api;
mod assets;
mod client;
mod cookies;
mod error;
mod forms;
mod health;
mod i18n;
mod middleware;
mod office;
mod portal;
mod ratelimit;
mod redirect;
mod state;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use tower_http::limit::RequestBodyLimitLayer;

pub use assets::Assets;
pub use state::AppState;

/// Settings of the HTTP layer, derived from the installation's configuration.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub hsts: bool,
    pub max_body_bytes: usize,
}

impl WebConfig {
    pub fn from_config(config: &rathaus_app::Config) -> WebConfig {
        WebConfig {
            hsts: config.hsts,
            max_body_bytes: config.max_body_bytes,
        }
    }
}

/// The whole application as one router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.web.max_body_bytes;
    Router::new()
        .merge(health::routes())
        .merge(portal::routes())
        .merge(office::routes())
        .nest("/api/v1", api::routes())
        .route("/api/openapi.json", axum::routing::get(api::openapi))
        .nest("/assets", assets::routes(&state.assets))
        .route_layer(axum::middleware::from_fn(middleware::tag_route))
        .fallback(error::not_found_fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::language_switch,
        ))
        .layer(DefaultBodyLimit::max(body_limit))
        // Nothing larger than an upload form ever gets in; each route then applies its own limit.
        .layer(RequestBodyLimitLayer::new(
            body_limit.max(portal::UPLOAD_BODY_LIMIT),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .with_state(state)
}

/// The operators' router (`ops_listen`): `/metrics`, `/healthz`, `/readyz`, with the same
/// security headers and request logs as the public one.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .merge(health::ops_routes())
        .route_layer(axum::middleware::from_fn(middleware::tag_route))
        .fallback(error::not_found_fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish for up to `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (notify_tx, notify_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = notify_tx.send(());
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result,
        _ = async {
            let _ = notify_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    }
}

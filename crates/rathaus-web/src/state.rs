use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use rathaus_app::App;

use crate::ratelimit::PublicLimits;
use crate::{Assets, WebConfig};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub web: Arc<WebConfig>,
    pub assets: Arc<Assets>,
    pub metrics: PrometheusHandle,
    /// What the public may do how often (per client address and overall).
    pub(crate) limits: Arc<PublicLimits>,
}

impl AppState {
    pub fn new(app: App, assets: Assets) -> AppState {
        AppState {
            web: Arc::new(WebConfig::from_config(&app.config)),
            limits: Arc::new(PublicLimits::from_config(&app.config)),
            app,
            assets: Arc::new(assets),
            metrics: crate::health::metrics_handle(),
        }
    }
}

use std::ops::Deref;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use rathaus_app::App;

use crate::ratelimit::PublicLimits;
use crate::{Assets, WebConfig};

/// What every handler can reach. Cloned for every request (and by every layer that takes it), so
/// it is one shared pointer: a clone is one atomic increment, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The fields of [`AppState`], reached through it as `state.app`, `state.web`, ….
pub struct Shared {
    pub app: App,
    pub web: Arc<WebConfig>,
    pub assets: Arc<Assets>,
    pub metrics: PrometheusHandle,
    /// What the public may do how often (per client address and overall).
    pub(crate) limits: Arc<PublicLimits>,
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(app: App, assets: Assets) -> AppState {
        AppState(Arc::new(Shared {
            web: Arc::new(WebConfig::from_config(&app.config)),
            limits: Arc::new(PublicLimits::from_config(&app.config)),
            app,
            assets: Arc::new(assets),
            metrics: crate::health::metrics_handle(),
        }))
    }
}

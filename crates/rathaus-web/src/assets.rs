//! Static assets: the KERN UX design system (installed from npm, not committed), our own small
//! stylesheet and the one script (both compiled in). File names carry a version, so browsers may
//! cache them forever.

use std::path::{Path, PathBuf};

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::AppState;

const OWN_CSS: &str = include_str!("../static/rathaus.css");
/// Sends a form again by itself after the server was too busy to take it; pages work without it.
const RETRY_JS: &str = include_str!("../static/retry.js");

pub struct Assets {
    kern_dist: Option<PathBuf>,
    kern_version: String,
    own_css_name: String,
    retry_js_name: String,
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf29ce484222325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// `rathaus-<hash>.css`: a new name whenever the content changes.
fn versioned_name(stem: &str, ext: &str, content: &str) -> String {
    format!(
        "{stem}-{:012x}.{ext}",
        fnv1a(content.as_bytes()) & 0xffff_ffff_ffff
    )
}

fn kern_version(package_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package_dir.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("version")?.as_str().map(str::to_owned)
}

impl Assets {
    /// Finds the KERN package: the configured directory, else `web/node_modules/@kern-ux/native`
    /// below the working directory, one of its parents, or a directory above the executable.
    pub fn locate(configured: Option<&Path>) -> Assets {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = configured {
            candidates.push(dir.to_path_buf());
        } else {
            let rel = Path::new("web/node_modules/@kern-ux/native");
            if let Ok(cwd) = std::env::current_dir() {
                candidates.extend(cwd.ancestors().take(4).map(|a| a.join(rel)));
            }
            if let Ok(exe) = std::env::current_exe() {
                candidates.extend(exe.ancestors().skip(1).take(5).map(|a| a.join(rel)));
            }
        }
        let found = candidates.into_iter().find_map(|dir| {
            let version = kern_version(&dir)?;
            dir.join("dist/kern.min.css")
                .is_file()
                .then(|| (dir.join("dist"), version))
        });
        if found.is_none() {
            tracing::warn!(
                "KERN UX assets not found (run `npm ci --prefix web` or set RATHAUS_ASSETS_DIR); pages will be unstyled"
            );
        }
        let own_css_name = versioned_name("rathaus", "css", OWN_CSS);
        let retry_js_name = versioned_name("retry", "js", RETRY_JS);
        match found {
            Some((dist, version)) => Assets {
                kern_dist: Some(dist),
                kern_version: version,
                own_css_name,
                retry_js_name,
            },
            None => Assets {
                kern_dist: None,
                kern_version: "missing".into(),
                own_css_name,
                retry_js_name,
            },
        }
    }

    pub fn kern_css(&self) -> String {
        format!("/assets/kern-{}/kern.min.css", self.kern_version)
    }

    pub fn kern_fonts_css(&self) -> String {
        format!("/assets/kern-{}/fonts/fira-sans.css", self.kern_version)
    }

    pub fn own_css(&self) -> String {
        format!("/assets/{}", self.own_css_name)
    }

    pub fn retry_js(&self) -> String {
        format!("/assets/{}", self.retry_js_name)
    }

    pub fn has_kern(&self) -> bool {
        self.kern_dist.is_some()
    }
}

pub(crate) fn routes(assets: &Assets) -> Router<AppState> {
    let immutable = SetResponseHeaderLayer::overriding(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    let mut router = Router::new()
        .route(
            &format!("/{}", assets.own_css_name),
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], OWN_CSS).into_response()
            }),
        )
        .route(
            &format!("/{}", assets.retry_js_name),
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    RETRY_JS,
                )
                    .into_response()
            }),
        );
    if let Some(dist) = &assets.kern_dist {
        router = router.nest_service(
            &format!("/kern-{}", assets.kern_version),
            ServeDir::new(dist),
        );
    }
    router.layer(immutable).layer(CompressionLayer::new())
}

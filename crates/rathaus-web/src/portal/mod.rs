//! The citizens' side: start page and municipality pages.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rathaus_app::tenants::TenantFilter;
use rathaus_domain::tenant::{Tenant, TenantProfile};

use crate::AppState;
use crate::error::PageError;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route("/{slug}", get(municipality))
}

/// What the page frame needs: stylesheets, the operator's name, the tenant in whose name the page
/// speaks (if any).
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    pub kern_css: String,
    pub kern_fonts_css: String,
    pub own_css: String,
    pub operator: String,
    pub tenant_title: Option<String>,
    pub tenant_slug: Option<String>,
}

impl Layout {
    pub(crate) async fn new(state: &AppState) -> Layout {
        let operator = state
            .app
            .operator_name()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| "rathaus".to_owned());
        Layout {
            kern_css: state.assets.kern_css(),
            kern_fonts_css: state.assets.kern_fonts_css(),
            own_css: state.assets.own_css(),
            operator,
            tenant_title: None,
            tenant_slug: None,
        }
    }

    fn for_tenant(mut self, t: &Tenant) -> Layout {
        self.tenant_title = Some(t.title());
        self.tenant_slug = Some(t.slug.to_string());
        self
    }
}

pub(crate) fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// One entry of the start page: a municipality, or an administration with its members.
struct Entry {
    title: String,
    slug: String,
    members: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    layout: Layout,
    entries: Vec<Entry>,
}

async fn start(State(state): State<AppState>) -> Result<Response, PageError> {
    let layout = Layout::new(&state).await;
    let enabled = match state
        .app
        .list_tenants(&TenantFilter {
            enabled_only: true,
            ..TenantFilter::default()
        })
        .await
    {
        Ok(t) => t,
        Err(e) => return Err(PageError::from_app(e, layout)),
    };
    let mut entries: Vec<Entry> = Vec::new();
    for t in enabled.iter().filter(|t| {
        t.parent
            .as_ref()
            .is_none_or(|p| !enabled.iter().any(|a| &a.key == p))
    }) {
        let members = enabled
            .iter()
            .filter(|m| m.parent.as_ref() == Some(&t.key))
            .map(|m| (m.title(), m.slug.to_string()))
            .collect();
        entries.push(Entry {
            title: t.title(),
            slug: t.slug.to_string(),
            members,
        });
    }
    entries.sort_by(|a, b| a.title.cmp(&b.title));
    Ok(render(&StartPage { layout, entries }))
}

#[derive(Template)]
#[template(path = "municipality.html")]
struct MunicipalityPage {
    layout: Layout,
    tenant: Tenant,
    administration: Option<(String, String)>,
    members: Vec<(String, String)>,
    profile: TenantProfile,
}

async fn municipality(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let layout = Layout::new(&state).await;
    let tenant = state
        .app
        .public_tenant(&slug)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
    let (parent, members) = state
        .app
        .tenant_family(&tenant)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
    let profile = state
        .app
        .effective_profile(&tenant)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
    Ok(render(&MunicipalityPage {
        layout: layout.for_tenant(&tenant),
        administration: parent
            .filter(|p| p.enabled)
            .map(|p| (p.title(), p.slug.to_string())),
        members: members
            .into_iter()
            .filter(|m| m.enabled)
            .map(|m| (m.title(), m.slug.to_string()))
            .collect(),
        tenant,
        profile,
    }))
}

//! The citizens' side: finding a municipality, its page, its services, status pages.

mod fields;
mod service;
mod status;
mod uploads;

pub(crate) use fields::size_label;
pub(crate) use service::UPLOAD_BODY_LIMIT;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rathaus_app::places::SearchResult;
use rathaus_app::services::OfferedService;
use rathaus_app::tenants::TenantFilter;
use rathaus_domain::service::Lang;
use rathaus_domain::tenant::{Tenant, TenantProfile};
use serde::Deserialize;

use crate::AppState;
use crate::error::PageError;
use crate::i18n;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(start))
        .route("/barrierefreiheit", get(accessibility))
        .route("/{slug}", get(municipality))
        .merge(service::routes())
        .merge(status::routes())
}

/// What the page frame needs: stylesheets, language, the operator's name, the tenant in whose
/// name the page speaks (if any).
#[derive(Debug, Clone, Default)]
pub(crate) struct Layout {
    pub kern_css: String,
    pub kern_fonts_css: String,
    pub own_css: String,
    /// Only pages that may send themselves again load it (see `waiting.html`).
    pub retry_js: String,
    pub operator: String,
    pub tenant_title: Option<String>,
    pub tenant_slug: Option<String>,
    pub lang: Lang,
    /// The current path, for the language switcher.
    pub path: String,
    /// On office pages: who is signed in (name and role).
    pub office_user: Option<String>,
}

impl Layout {
    pub(crate) async fn new(state: &AppState, headers: &HeaderMap) -> Layout {
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
            retry_js: state.assets.retry_js(),
            operator,
            tenant_title: None,
            tenant_slug: None,
            lang: crate::cookies::lang(headers),
            path: "/".into(),
            office_user: None,
        }
    }

    pub(crate) fn at(mut self, path: impl Into<String>) -> Layout {
        self.path = path.into();
        self
    }

    pub(crate) fn for_tenant(mut self, t: &Tenant) -> Layout {
        self.tenant_title = Some(t.title());
        self.tenant_slug = Some(t.slug.to_string());
        self
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    pub fn html_lang(&self) -> &'static str {
        self.lang.html_lang()
    }

    pub fn offer_line(&self) -> String {
        i18n::tf(self.lang, "site.offer", &[("operator", &self.operator)])
    }

    /// The other languages with links to this page in them. The path may come from the request
    /// (a decoded `%2F` makes `//host`): a link only ever points at a local path.
    pub fn switch_links(&self) -> Vec<(&'static str, &'static str, String)> {
        let path =
            rathaus_app::staff::safe_next(Some(&self.path)).unwrap_or_else(|| "/".to_owned());
        Lang::ALL
            .into_iter()
            .filter(|l| *l != self.lang)
            .map(|l| {
                (
                    l.native_name(),
                    l.html_lang(),
                    format!("{path}?lang={}", l.code()),
                )
            })
            .collect()
    }
}

/// A heading, a sentence and one link: for dead ends that need explaining.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub text: String,
    pub link: String,
    pub link_text: String,
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

/// A search hit: title, district, link if the municipality takes part.
struct Hit {
    title: String,
    district: String,
    slug: Option<String>,
}

#[derive(Template)]
#[template(path = "start.html")]
struct StartPage {
    layout: Layout,
    entries: Vec<Entry>,
    query: String,
    hits: Option<Vec<Hit>>,
    search_message: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(sq): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let layout = Layout::new(&state, &headers).await;
    let lang = layout.lang;
    let enabled = state
        .app
        .list_tenants(&TenantFilter {
            enabled_only: true,
            ..TenantFilter::default()
        })
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
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

    let query =
        sq.q.unwrap_or_default()
            .chars()
            .take(80)
            .collect::<String>();
    let (hits, search_message) = if query.trim().is_empty() {
        (None, None)
    } else {
        let to_hit = |t: Tenant| Hit {
            title: t.title(),
            district: t.district.clone(),
            slug: t.enabled.then(|| t.slug.to_string()),
        };
        match state
            .app
            .find_municipalities(&query)
            .await
            .map_err(|e| PageError::from_app(e, layout.clone()))?
        {
            SearchResult::TooShort => (
                Some(Vec::new()),
                Some(i18n::t(lang, "start.query_too_short")),
            ),
            SearchResult::ByPostcode(found) => {
                let msg = match found.len() {
                    0 => Some(i18n::tf(lang, "start.no_results", &[("q", query.trim())])),
                    1 => None,
                    _ => Some(i18n::tf(lang, "start.several", &[("q", query.trim())])),
                };
                (Some(found.into_iter().map(to_hit).collect()), msg)
            }
            SearchResult::ByName(found) => {
                let msg = found
                    .is_empty()
                    .then(|| i18n::tf(lang, "start.no_results", &[("q", query.trim())]));
                (Some(found.into_iter().map(to_hit).collect()), msg)
            }
        }
    };
    Ok(render(&StartPage {
        layout,
        entries,
        query,
        hits,
        search_message,
    }))
}

struct ServiceLink {
    title: String,
    summary: String,
    href: String,
}

#[derive(Template)]
#[template(path = "municipality.html")]
struct MunicipalityPage {
    layout: Layout,
    tenant: Tenant,
    administration: Option<(String, String)>,
    members: Vec<(String, String)>,
    profile: TenantProfile,
    services: Vec<ServiceLink>,
}

fn service_links(tenant: &Tenant, services: &[OfferedService], lang: Lang) -> Vec<ServiceLink> {
    services
        .iter()
        .map(|s| ServiceLink {
            title: s.definition.title.get(lang).to_owned(),
            summary: s.definition.summary.get(lang).to_owned(),
            href: format!("/{}/{}", tenant.slug, s.definition.id),
        })
        .collect()
}

async fn municipality(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let layout = Layout::new(&state, &headers).await.at(format!("/{slug}"));
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
    let services = state
        .app
        .offered_services(&tenant)
        .await
        .map_err(|e| PageError::from_app(e, layout.clone()))?;
    let lang = layout.lang;
    Ok(render(&MunicipalityPage {
        services: service_links(&tenant, &services, lang),
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

#[derive(Template)]
#[template(path = "accessibility.html")]
struct AccessibilityPage {
    layout: Layout,
    en: bool,
    ls: bool,
}

async fn accessibility(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let layout = Layout::new(&state, &headers).await.at("/barrierefreiheit");
    let (en, ls) = (layout.lang == Lang::En, layout.lang == Lang::Ls);
    render(&AccessibilityPage { layout, en, ls })
}

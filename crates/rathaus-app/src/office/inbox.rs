//! The inbox: open and recent cases of the services a clerk works on, with filters and paging.

use rathaus_domain::casework::CaseStatus;
use rathaus_domain::localtime::{format_berlin, from_unix_ms};
use rathaus_domain::service::form::parse_date;
use rathaus_domain::staff::StaffIdentity;
use rathaus_store::casework::{AssigneeFilter, InboxFilter, NameTokens};
use rathaus_store::keyring::IndexPurpose;
use time::{Duration, PrimitiveDateTime, Time};

use crate::{App, AppError};

pub const PAGE_SIZE: i64 = 25;

/// What the clerk asked for; everything optional. Dates as typed (ISO or German).
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    pub status: Option<String>,
    pub service: Option<String>,
    /// "me", "none" or empty.
    pub assignee: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub overdue: bool,
    /// A reference number or words of the applicant's name.
    pub q: Option<String>,
    pub page: i64,
}

#[derive(Debug, Clone)]
pub struct InboxItem {
    pub id: String,
    pub reference: String,
    pub service_title: String,
    pub tenant_title: String,
    pub status_label: &'static str,
    pub submitted: String,
    pub assigned_to_me: bool,
    pub assigned: bool,
    pub overdue: bool,
}

#[derive(Debug, Clone)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Per status: code, label, count.
    pub counts: Vec<(&'static str, &'static str, i64)>,
    /// The services this clerk works on: id and title.
    pub services: Vec<(String, String)>,
    /// Problems with the filter input, e.g. a malformed date.
    pub problems: Vec<String>,
}

impl App {
    pub async fn inbox(&self, who: &StaffIdentity, q: &InboxQuery) -> Result<InboxPage, AppError> {
        let vis = self.case_visibility(who).await?;
        let latest = self.latest_services().await?;
        let visible_services: Vec<_> = latest
            .iter()
            .filter(|d| vis.services.as_ref().is_none_or(|s| s.contains(&d.id)))
            .map(|d| (d.id.clone(), d.title.de.clone(), d.processing_days))
            .collect();
        let mut problems = Vec::new();
        let day_start =
            |raw: &Option<String>, what: &str, problems: &mut Vec<String>| -> Option<i64> {
                let raw = raw.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
                match parse_date(raw) {
                    Some(d) => Some(
                        (PrimitiveDateTime::new(d, Time::MIDNIGHT)
                            .assume_utc()
                            .unix_timestamp())
                            * 1000,
                    ),
                    None => {
                        problems.push(format!(
                            "„{what}“ ist kein gültiges Datum (z. B. 27.11.2026)."
                        ));
                        None
                    }
                }
            };
        let from = day_start(&q.from, "von", &mut problems);
        let to = day_start(&q.to, "bis", &mut problems).map(|t| t + 24 * 3600 * 1000);
        let status = q
            .status
            .as_deref()
            .filter(|s| CaseStatus::from_code(s).is_some())
            .map(str::to_owned);
        let service = q
            .service
            .as_deref()
            .filter(|s| visible_services.iter().any(|v| v.0 == *s))
            .map(str::to_owned);
        let now = self.now();
        let overdue_cutoffs: Vec<(String, i64)> = visible_services
            .iter()
            .map(|(id, _, days)| {
                (
                    id.clone(),
                    ((now - Duration::days(i64::from(*days))).unix_timestamp()) * 1000,
                )
            })
            .collect();
        let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let looks_like_reference = search.is_some_and(looks_like_reference);
        let mut filter = InboxFilter {
            services: vis.services.clone(),
            status,
            open_only: false,
            service,
            assignee: match q.assignee.as_deref() {
                Some("me") => AssigneeFilter::User(who.user_id.clone()),
                Some("none") => AssigneeFilter::Unassigned,
                _ => AssigneeFilter::Any,
            },
            submitted_from_ms: from,
            submitted_to_ms: to,
            overdue_cutoffs: q.overdue.then(|| overdue_cutoffs.clone()),
            reference: if looks_like_reference {
                search.map(str::to_owned)
            } else {
                None
            },
            name: None,
            limit: PAGE_SIZE,
            offset: (q.page.max(1) - 1) * PAGE_SIZE,
        };
        if let (Some(words), false) = (search, looks_like_reference) {
            // Names are indexed per tenant, under each tenant's index key: the tokens under each
            // visible tenant's key, matched in one query so that pages and totals span all of
            // them (a tenant without a key has no cases).
            let mut per_tenant = Vec::new();
            for t in &vis.tenant_keys {
                let Some(key) = self.store.index_key(t, IndexPurpose::CaseNames).await? else {
                    continue;
                };
                per_tenant.push(NameTokens {
                    tenant_key: t.clone(),
                    tokens: super::search::tokens(key.secret(), t, words),
                });
            }
            filter.name = Some(per_tenant);
        }
        let (rows, total) = self.store.inbox(&vis.tenant_keys, &filter).await?;
        let counts_raw = self.store.inbox_counts(&vis.tenant_keys, &filter).await?;
        let counts = CaseStatus::ALL
            .into_iter()
            .map(|s| {
                (
                    s.code(),
                    s.label_de(),
                    counts_raw
                        .iter()
                        .find(|(c, _)| c == s.code())
                        .map_or(0, |(_, n)| *n),
                )
            })
            .collect();
        let mut tenant_titles = std::collections::HashMap::new();
        let mut items = Vec::with_capacity(rows.len());
        for r in rows {
            if !tenant_titles.contains_key(&r.tenant_key)
                && let Ok(key) = r.tenant_key.parse()
                && let Some(t) = self.store.tenant(&key).await?
            {
                tenant_titles.insert(r.tenant_key.clone(), t.title());
            }
            let cutoff = overdue_cutoffs
                .iter()
                .find(|(s, _)| *s == r.service_id)
                .map_or(i64::MIN, |(_, c)| *c);
            let status = CaseStatus::from_code(&r.status);
            items.push(InboxItem {
                overdue: status.is_some_and(CaseStatus::is_open) && r.submitted_at_ms < cutoff,
                status_label: status.map_or("?", CaseStatus::label_de),
                service_title: visible_services
                    .iter()
                    .find(|v| v.0 == r.service_id)
                    .map_or(r.service_id.clone(), |v| v.1.clone()),
                tenant_title: tenant_titles
                    .get(&r.tenant_key)
                    .cloned()
                    .unwrap_or_default(),
                submitted: format_berlin(from_unix_ms(r.submitted_at_ms)),
                assigned_to_me: r.assignee.as_deref() == Some(who.user_id.as_str()),
                assigned: r.assignee.is_some(),
                reference: r.reference,
                id: r.id,
            });
        }
        Ok(InboxPage {
            items,
            total,
            page: q.page.max(1),
            pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
            counts,
            services: visible_services
                .into_iter()
                .map(|(id, title, _)| (id, title))
                .collect(),
            problems,
        })
    }
}

/// Whether a search term is a reference number (`MM-2026-000001`) rather than words of a name.
pub fn looks_like_reference(term: &str) -> bool {
    term.contains('-') && term.chars().any(|c| c.is_ascii_digit())
}

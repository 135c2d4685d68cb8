//! Finding a municipality by name or postcode.

use std::collections::HashMap;
use std::sync::OnceLock;

use rathaus_domain::tenant::{Slug, Tenant, TenantKey, TenantKind};

use crate::{App, AppError};

/// Postcode to municipalities, from OpenStreetMap (ODbL, see refdata/SOURCES.md).
const POSTCODES: &str = include_str!("../../../refdata/plz-gemeinde.csv");

fn postcodes() -> &'static HashMap<String, Vec<String>> {
    static MAP: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for line in POSTCODES.lines().skip(1) {
            // osm_id,ags,ort,plz,landkreis,bundesland — names may be quoted, so count from the
            // left for the two fields we need.
            let mut cols = line.splitn(3, ',');
            let (_, ags) = (cols.next(), cols.next());
            let rest = cols.next().unwrap_or("");
            let plz = rest
                .rsplitn(3, ',')
                .nth(2)
                .and_then(|s| s.rsplit(',').next())
                .unwrap_or("");
            if let Some(ags) = ags
                && plz.len() == 5
            {
                let list = map.entry(plz.to_owned()).or_default();
                if !list.iter().any(|a| a == ags) {
                    list.push(ags.to_owned());
                }
            }
        }
        map
    })
}

/// What a search found.
#[derive(Debug, Clone)]
pub enum SearchResult {
    /// The query was too short to search.
    TooShort,
    ByPostcode(Vec<Tenant>),
    ByName(Vec<Tenant>),
}

impl App {
    pub async fn find_municipalities(&self, query: &str) -> Result<SearchResult, AppError> {
        let q = query.trim();
        if q.len() == 5 && q.bytes().all(|b| b.is_ascii_digit()) {
            let mut found = Vec::new();
            for ags in postcodes().get(q).map(Vec::as_slice).unwrap_or(&[]) {
                if let Ok(key) = ags.parse::<TenantKey>()
                    && let Some(t) = self.store.tenant(&key).await?
                {
                    found.push(t);
                }
            }
            found.sort_by(|a, b| b.enabled.cmp(&a.enabled).then_with(|| a.name.cmp(&b.name)));
            return Ok(SearchResult::ByPostcode(found));
        }
        if q.chars().count() < 2 {
            return Ok(SearchResult::TooShort);
        }
        let slug_part = Slug::from_name(TenantKind::Gemeinde, q).to_string();
        let mut found = self
            .store
            .search_tenants(&q.to_lowercase(), &slug_part, 30)
            .await?;
        found.sort_by(|a, b| {
            b.enabled
                .cmp(&a.enabled)
                .then_with(|| a.name.len().cmp(&b.name.len()))
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(SearchResult::ByName(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_map_to_municipalities() {
        assert_eq!(
            postcodes()
                .get("16341")
                .map(|v| v.contains(&"12060181".to_owned())),
            Some(true)
        );
        // 14823 is shared by several members of Amt Niemegk.
        assert!(
            postcodes().get("14823").is_some_and(|v| v.len() >= 2),
            "{:?}",
            postcodes().get("14823")
        );
        assert!(postcodes().len() > 8000);
    }
}

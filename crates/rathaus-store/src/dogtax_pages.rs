//! The register read page by page, for the bulk steps of the dog-tax year: the annual
//! assessment, printing its notices and the treasury's export. Each step holds one page of
//! households (with their dogs or notices) at a time, so its memory is bounded by the page size
//! and not by the size of the municipality.
//!
//! Pages follow the register order (date of entry, then Kassenzeichen) by keyset: a page starts
//! after the last household of the one before, so no page is read twice or skipped even while
//! the register grows.

use std::collections::HashMap;

use crate::db::{Row, Tx, Value, placeholders};
use crate::dogtax::{DOG_COLUMNS, Dog, HOUSEHOLD_COLUMNS, Household, NOTICE_COLUMNS, Notice};
use crate::dogtax_export::ExportedClaim;
use crate::{Store, StoreError, args};

/// Where a page of households ended; the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdCursor {
    created_at_ms: i64,
    kassenzeichen: String,
}

/// What the notices already say about a household, for the annual run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoticeMarks {
    /// The number of its latest notice (0: none yet).
    pub last_seq: i64,
    /// It has a tax or change notice for the year being assessed.
    pub assessed: bool,
}

// The page's household ids pick the rows of the queries below; the tenant is checked on each row
// as `tenant_key || ''`, an expression no index serves, so that a planner without statistics
// (SQLite's, before any ANALYZE) does not read all of the tenant's rows through the tenant's
// index for every page, which makes a run quadratic in the size of the municipality.

impl Store {
    /// Rows of a query about a page of households: `sql` is given the `IN (…)` list for the
    /// ids, whose values follow `leading`. No ids, no query.
    async fn rows_of_households(
        &self,
        tx: Option<&mut Tx>,
        sql: impl FnOnce(&str) -> String,
        leading: Vec<Value>,
        household_ids: &[String],
    ) -> Result<Vec<Row>, StoreError> {
        if household_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = placeholders(leading.len() + 1, household_ids.len());
        let mut values = leading;
        values.extend(household_ids.iter().map(Value::from));
        self.dogtax_rows_dynamic(tx, sql(&list), values).await
    }

    /// Up to `limit` households of the tenant after `after` (from the first when `None`), in
    /// register order, with the cursor to pass for the next page (`None` after the last).
    pub async fn dogtax_household_page(
        &self,
        tenant_key: &str,
        after: Option<&HouseholdCursor>,
        limit: usize,
    ) -> Result<(Vec<Household>, Option<HouseholdCursor>), StoreError> {
        let (created_at, kassenzeichen) = after
            .map(|c| (c.created_at_ms, c.kassenzeichen.as_str()))
            .unwrap_or((i64::MIN, ""));
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let rows = self
            .dogtax_rows_dynamic(
                None,
                format!(
                    "{HOUSEHOLD_COLUMNS} WHERE tenant_key = $1 AND (created_at, kassenzeichen) > ($2, $3)
                     ORDER BY created_at, kassenzeichen LIMIT $4"
                ),
                args![tenant_key, created_at, kassenzeichen, limit],
            )
            .await?;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            page.push(self.household_from_row(row).await?);
        }
        let next = match page.last() {
            Some(h) if i64::try_from(page.len()).unwrap_or(i64::MAX) == limit => {
                Some(HouseholdCursor {
                    created_at_ms: h.created_at_ms,
                    kassenzeichen: h.kassenzeichen.clone(),
                })
            }
            _ => None,
        };
        Ok((page, next))
    }

    /// The dogs of these households of the tenant, by household in the order they were entered.
    pub async fn dogtax_dogs_of(
        &self,
        tenant_key: &str,
        household_ids: &[String],
    ) -> Result<Vec<Dog>, StoreError> {
        let rows = self
            .rows_of_households(
                None,
                |list| {
                    format!(
                        "{DOG_COLUMNS} WHERE d.tenant_key || '' = $1 AND d.household_id IN ({list})
                     ORDER BY d.household_id, d.entry_no"
                    )
                },
                args![tenant_key],
                household_ids,
            )
            .await?;
        self.dogs_from_rows(tenant_key, &rows).await
    }

    /// The notices of these households of the tenant issued on or before `issued_until`
    /// (YYYY-MM-DD) that are for `since_year` or later or were issued on or after
    /// `issued_since`, by household in the order of issue. (What falls due on a day comes from
    /// the notices of its year and the year before, or from a notice issued shortly before; the
    /// window keeps a treasury export from reading every year of a municipality's history.)
    pub async fn dogtax_notices_of(
        &self,
        tenant_key: &str,
        household_ids: &[String],
        issued_until: &str,
        since_year: i32,
        issued_since: &str,
    ) -> Result<Vec<Notice>, StoreError> {
        let rows = self
            .rows_of_households(
                None,
                |list| {
                    format!(
                        "{NOTICE_COLUMNS} WHERE tenant_key || '' = $1 AND issued_on <= $2
                         AND (year >= $3 OR issued_on >= $4) AND household_id IN ({list})
                         ORDER BY household_id, seq"
                    )
                },
                args![
                    tenant_key,
                    issued_until,
                    i64::from(since_year),
                    issued_since
                ],
                household_ids,
            )
            .await?;
        self.notices_from_rows(tenant_key, &rows).await
    }

    /// For these households of the tenant, as the caller's transaction (or the pool) sees
    /// them: the number of each one's latest notice and whether it has a tax or change notice for `year`. Households
    /// without any notice are left out.
    pub async fn dogtax_notice_marks(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        year: i32,
        household_ids: &[String],
    ) -> Result<HashMap<String, NoticeMarks>, StoreError> {
        let rows = self
            .rows_of_households(
                tx,
                |list| {
                    format!(
                        "SELECT household_id, MAX(seq) AS last,
                            CAST(MAX(CASE WHEN year = $2 AND kind <> 'fee' THEN 1 ELSE 0 END) AS BIGINT) AS assessed
                     FROM dogtax_notices WHERE tenant_key || '' = $1 AND household_id IN ({list})
                     GROUP BY household_id"
                    )
                },
                args![tenant_key, i64::from(year)],
                household_ids,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.text("household_id")?,
                    NoticeMarks {
                        last_seq: r.i64("last")?,
                        assessed: r.i64("assessed")? == 1,
                    },
                ))
            })
            .collect()
    }

    /// Up to `limit` of the year's annual notices (tax notices issued without a case) of the
    /// tenant after the notice `after`, in a stable order.
    pub async fn dogtax_annual_notice_page(
        &self,
        tenant_key: &str,
        year: i32,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Notice>, StoreError> {
        let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
        let rows = self
            .dogtax_rows_dynamic(
                None,
                format!(
                    "{NOTICE_COLUMNS} WHERE tenant_key = $1 AND year = $2 AND kind = 'tax' AND case_id IS NULL AND id > $3
                     ORDER BY id LIMIT $4"
                ),
                args![tenant_key, i64::from(year), after.unwrap_or(""), limit],
            )
            .await?;
        self.notices_from_rows(tenant_key, &rows).await
    }

    /// How many annual notices the tenant has for the year.
    pub async fn dogtax_annual_notice_count(
        &self,
        tenant_key: &str,
        year: i32,
    ) -> Result<usize, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT COUNT(*) AS n FROM dogtax_notices
                 WHERE tenant_key = $1 AND year = $2 AND kind = 'tax' AND case_id IS NULL",
                args![tenant_key, i64::from(year)],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        usize::try_from(row.i64("n")?).map_err(|e| StoreError::Decode(e.to_string()))
    }

    /// The claims of these households that earlier runs exported for the due date, as the
    /// caller's transaction or the pool sees them.
    pub async fn dogtax_exported_claims_of(
        &self,
        tx: Option<&mut Tx>,
        tenant_key: &str,
        due_on: &str,
        household_ids: &[String],
    ) -> Result<Vec<ExportedClaim>, StoreError> {
        let rows = self
            .rows_of_households(
                tx,
                |list| {
                    format!(
                        "SELECT run, household_id, claim, kind FROM dogtax_export_items
                     WHERE tenant_key || '' = $1 AND due_on = $2 AND household_id IN ({list})
                     ORDER BY run, household_id, claim"
                    )
                },
                args![tenant_key, due_on],
                household_ids,
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ExportedClaim {
                    run: r.i64("run")?,
                    household_id: r.text("household_id")?,
                    claim: r.text("claim")?,
                    kind: r.text("kind")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_on_from_the_first() {
        assert_eq!(crate::db::placeholders(3, 3), "$3, $4, $5");
        assert_eq!(crate::db::placeholders(2, 1), "$2");
    }
}

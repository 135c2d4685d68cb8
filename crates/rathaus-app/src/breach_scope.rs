//! Breach scoping (GDPR Art. 33: 72 hours to tell the authority what was affected): for a
//! municipality and a time window, which records — cases, register entries, exports — were read,
//! changed or exported, by which accounts, and how. Drawn from the audit log, which names
//! records by reference and people by account id, never by personal data.

use std::collections::{BTreeMap, BTreeSet};

use rathaus_domain::localtime::{berlin_offset, format_berlin, from_unix_ms, to_unix_ms};
use rathaus_store::audit::{NewAuditEntry, append};
use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::{Actor, App, AppError};

/// Entries read from the log at a time.
const PAGE: i64 = 5_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Changed,
    Exported,
}

impl Access {
    /// From the audit action's name: reading and downloading, exporting, everything else.
    fn of(action: &str) -> Access {
        if action.contains("read") || action.contains("download") {
            Access::Read
        } else if action.contains("export") {
            Access::Exported
        } else {
            Access::Changed
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopedEntry {
    pub at: String,
    pub account: String,
    pub action: String,
    pub access: Access,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopedRecord {
    /// The record as the audit log names it (`case:<reference>`, `dogtax-export:…`).
    pub record: String,
    pub read: usize,
    pub changed: usize,
    pub exported: usize,
    pub entries: Vec<ScopedEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BreachScope {
    pub municipality: String,
    pub key: String,
    /// The window, local time in Germany: from the start of `from` to the end of `to`.
    pub from: Date,
    pub to: Date,
    pub records: Vec<ScopedRecord>,
    pub accounts: BTreeSet<String>,
}

/// Midnight at the start of `day`, Germany's local time.
fn berlin_midnight(day: Date) -> OffsetDateTime {
    let offset = berlin_offset(day.midnight().assume_utc() + time::Duration::hours(12));
    day.midnight().assume_offset(offset)
}

impl App {
    /// What the audit log records about the municipality from the start of `from` to the end of
    /// `to` (both days in local time), by record. Making a scope is itself audit-logged.
    pub async fn breach_scope(
        &self,
        actor: &Actor,
        municipality: &str,
        from: Date,
        to: Date,
    ) -> Result<BreachScope, AppError> {
        if to < from {
            return Err(AppError::BadInput(format!(
                "the window ends ({to}) before it starts ({from})"
            )));
        }
        let tenant = crate::tenants::resolve(self, municipality).await?;
        let key = tenant.key.as_str();
        let start = to_unix_ms(berlin_midnight(from));
        let end = to_unix_ms(berlin_midnight(to.next_day().unwrap_or(to)));
        let mut records: BTreeMap<String, ScopedRecord> = BTreeMap::new();
        let mut accounts = BTreeSet::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .audit_entries_between(key, start, end, after, PAGE)
                .await?;
            let n = page.len();
            for e in page {
                after = e.seq;
                let access = Access::of(&e.action);
                let record = records
                    .entry(e.object.clone())
                    .or_insert_with(|| ScopedRecord {
                        record: e.object.clone(),
                        read: 0,
                        changed: 0,
                        exported: 0,
                        entries: Vec::new(),
                    });
                match access {
                    Access::Read => record.read += 1,
                    Access::Changed => record.changed += 1,
                    Access::Exported => record.exported += 1,
                }
                accounts.insert(e.actor.clone());
                record.entries.push(ScopedEntry {
                    at: format_berlin(from_unix_ms(e.at_ms)),
                    account: e.actor,
                    action: e.action,
                    access,
                });
            }
            if i64::try_from(n).unwrap_or(0) < PAGE {
                break;
            }
        }
        let scope = BreachScope {
            municipality: tenant.title(),
            key: key.to_owned(),
            from,
            to,
            records: records.into_values().collect(),
            accounts,
        };
        let mut tx = self.store.begin().await?;
        append(
            &mut tx,
            &NewAuditEntry {
                at: self.now(),
                actor: &actor.audit_name(),
                tenant: Some(key),
                action: "audit.scope",
                object: &format!("audit-scope:{key}:{from}:{to}"),
                outcome: &format!(
                    "ok: {} records, {} accounts",
                    scope.records.len(),
                    scope.accounts.len()
                ),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn days_start_at_midnight_in_germany_summer_and_winter() {
        assert_eq!(
            berlin_midnight(date!(2026 - 12 - 03)),
            datetime!(2026-12-02 23:00 UTC)
        );
        assert_eq!(
            berlin_midnight(date!(2026 - 07 - 01)),
            datetime!(2026-06-30 22:00 UTC)
        );
        assert_eq!(Access::of("case.read_file"), Access::Read);
        assert_eq!(Access::of("dogtax.export"), Access::Exported);
        assert_eq!(Access::of("case.decide"), Access::Changed);
    }
}

//! Cases (Vorgänge): submitted applications, their history and their reference numbers.

use serde_json::Value;
use time::OffsetDateTime;

use crate::db::{Row, Tx};
use crate::keyring::Place;
use crate::{Store, StoreError, args};

pub struct NewCase<'a> {
    pub id: &'a str,
    pub tenant_key: &'a str,
    pub service_id: &'a str,
    pub service_version: i64,
    pub reference: &'a str,
    pub status: &'a str,
    pub status_token_hash: &'a [u8],
    pub data: &'a Value,
    pub lang: &'a str,
    pub draft_id: Option<&'a str>,
    pub retention_days: i64,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub id: String,
    pub tenant_key: String,
    pub service_id: String,
    pub service_version: i64,
    pub reference: String,
    pub status: String,
    pub data: Value,
    pub lang: String,
    pub submitted_at_ms: i64,
    pub updated_at_ms: i64,
    pub closed_at_ms: Option<i64>,
    pub assignee: Option<String>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseEvent {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub kind: String,
    pub status: Option<String>,
    pub note: Option<String>,
}

fn data_place(id: &str) -> Place<'_> {
    Place {
        table: "case",
        record: id,
        field: "data",
    }
}

const COLUMNS: &str = "id, tenant_key, service_id, service_version, reference, status, data, lang, submitted_at, updated_at, closed_at, assignee, version";

impl Store {
    pub async fn insert_case(&self, tx: &mut Tx, c: &NewCase<'_>) -> Result<(), StoreError> {
        let sealed = self
            .seal(
                c.tenant_key,
                data_place(c.id),
                c.data.to_string().as_bytes(),
            )
            .await?;
        let now = crate::now_ms(c.now);
        tx.execute(
            "INSERT INTO cases (id, tenant_key, service_id, service_version, reference, status, status_token_hash, data, lang,
                 draft_id, submitted_at, updated_at, closed_at, retention_days, assignee, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, NULL, $12, NULL, 1)",
            args![
                c.id,
                c.tenant_key,
                c.service_id,
                c.service_version,
                c.reference,
                c.status,
                c.status_token_hash,
                sealed,
                c.lang,
                c.draft_id,
                now,
                c.retention_days
            ],
        )
        .await?;
        Ok(())
    }

    async fn case_from_row(&self, row: &Row) -> Result<Case, StoreError> {
        let id = row.text("id")?;
        let tenant_key = row.text("tenant_key")?;
        let plain = self
            .open(&tenant_key, data_place(&id), &row.bytes("data")?)
            .await?;
        Ok(Case {
            data: serde_json::from_slice(&plain).map_err(|e| StoreError::Decode(e.to_string()))?,
            service_id: row.text("service_id")?,
            service_version: row.i64("service_version")?,
            reference: row.text("reference")?,
            status: row.text("status")?,
            lang: row.text("lang")?,
            submitted_at_ms: row.i64("submitted_at")?,
            updated_at_ms: row.i64("updated_at")?,
            closed_at_ms: row.opt_i64("closed_at")?,
            assignee: row.opt_text("assignee")?,
            version: row.i64("version")?,
            id,
            tenant_key,
        })
    }

    /// A case by the hash of its status-page token, only within the given tenant.
    pub async fn case_by_status_token(
        &self,
        tenant_key: &str,
        token_hash: &[u8],
    ) -> Result<Option<Case>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM cases WHERE status_token_hash = $1 AND tenant_key = $2");
        let row = self
            .pool()
            .fetch_optional(sqlx::AssertSqlSafe(sql), args![token_hash, tenant_key])
            .await?;
        match row {
            Some(r) => Ok(Some(self.case_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// A case by id, only within one of the given tenants (an Amt sees its members' cases).
    pub async fn case_by_id(
        &self,
        tenant_keys: &[String],
        id: &str,
    ) -> Result<Option<Case>, StoreError> {
        if tenant_keys.is_empty() {
            return Ok(None);
        }
        let mut args = args![id];
        let mut placeholders = Vec::with_capacity(tenant_keys.len());
        for t in tenant_keys {
            args.push(t.into());
            placeholders.push(format!("${}", args.len()));
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM cases WHERE id = $1 AND tenant_key IN ({})",
            placeholders.join(", ")
        );
        let row = self
            .pool()
            .fetch_optional(sqlx::AssertSqlSafe(sql), args)
            .await?;
        match row {
            Some(r) => Ok(Some(self.case_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    /// The case a draft became, with the draft's tenant checked.
    pub async fn case_of_draft(
        &self,
        tenant_key: &str,
        draft_id: &str,
    ) -> Result<Option<Case>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM cases WHERE draft_id = $1 AND tenant_key = $2");
        let row = self
            .pool()
            .fetch_optional(sqlx::AssertSqlSafe(sql), args![draft_id, tenant_key])
            .await?;
        match row {
            Some(r) => Ok(Some(self.case_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    pub async fn case_events(
        &self,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Vec<CaseEvent>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT e.seq, e.at, e.actor, e.kind, e.status, e.note FROM case_events e JOIN cases c ON c.id = e.case_id
                 WHERE e.case_id = $1 AND c.tenant_key = $2 ORDER BY e.seq",
                args![case_id, tenant_key],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let seq = r.i64("seq")?;
            let note = match r.opt_bytes("note")? {
                Some(sealed) => {
                    let field = format!("event-{seq}");
                    let plain = self
                        .open(
                            tenant_key,
                            Place {
                                table: "case",
                                record: case_id,
                                field: &field,
                            },
                            &sealed,
                        )
                        .await?;
                    Some(String::from_utf8(plain).map_err(|e| StoreError::Decode(e.to_string()))?)
                }
                None => None,
            };
            out.push(CaseEvent {
                seq,
                at_ms: r.i64("at")?,
                actor: r.text("actor")?,
                kind: r.text("kind")?,
                status: r.opt_text("status")?,
                note,
            });
        }
        Ok(out)
    }

    /// Appends to the history of a case of the tenant; a note (which may hold personal data) is
    /// sealed. `NotFound` when the case is not the tenant's.
    pub async fn append_case_event(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        e: &NewCaseEvent<'_>,
    ) -> Result<i64, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT (SELECT COALESCE(MAX(e.seq), 0) FROM case_events e WHERE e.case_id = c.id) AS last
                 FROM cases c WHERE c.id = $1 AND c.tenant_key = $2",
                args![case_id, tenant_key],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let seq = row.i64("last")? + 1;
        let note = match e.note {
            Some(n) => {
                let field = format!("event-{seq}");
                Some(
                    self.seal(
                        tenant_key,
                        Place {
                            table: "case",
                            record: case_id,
                            field: &field,
                        },
                        n.as_bytes(),
                    )
                    .await?,
                )
            }
            None => None,
        };
        let n = tx
            .execute(
                "INSERT INTO case_events (case_id, seq, at, actor, kind, status, note)
                 SELECT c.id, $2, $3, $4, $5, $6, $7 FROM cases c WHERE c.id = $1 AND c.tenant_key = $8",
                args![case_id, seq, crate::now_ms(e.at), e.actor, e.kind, e.status, note, tenant_key],
            )
            .await?;
        found(n)?;
        Ok(seq)
    }
}

pub struct NewCaseEvent<'a> {
    pub at: OffsetDateTime,
    pub actor: &'a str,
    pub kind: &'a str,
    pub status: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// Fails with `NotFound` unless the case belongs to the tenant: for writes that hang something on
/// a case named by id.
pub(crate) async fn case_of_tenant(
    tx: &mut Tx,
    tenant_key: &str,
    case_id: &str,
) -> Result<(), StoreError> {
    tx.fetch_optional(
        "SELECT id FROM cases WHERE id = $1 AND tenant_key = $2",
        args![case_id, tenant_key],
    )
    .await?
    .map(|_| ())
    .ok_or(StoreError::NotFound)
}

/// `NotFound` when a scoped write touched no row: the record is not the tenant's.
pub(crate) fn found(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// The next number of a tenant's reference series for a prefix and year, in the caller's
/// transaction (so a rolled-back submission returns its number... to nobody: gaps are allowed,
/// duplicates are not).
pub async fn next_reference_number(
    tx: &mut Tx,
    tenant_key: &str,
    prefix: &str,
    year: i32,
) -> Result<i64, StoreError> {
    reserve_reference_numbers(tx, tenant_key, prefix, year, 1).await
}

/// Takes `count` consecutive numbers of a series at once (for bulk writers) and returns the
/// first; the numbers up to `first + count - 1` are the caller's.
pub async fn reserve_reference_numbers(
    tx: &mut Tx,
    tenant_key: &str,
    prefix: &str,
    year: i32,
    count: i64,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO reference_counters (tenant_key, prefix, year, last) VALUES ($1, $2, $3, 0)
         ON CONFLICT (tenant_key, prefix, year) DO NOTHING",
        args![tenant_key, prefix, i64::from(year)],
    )
    .await?;
    let row = tx
        .fetch_one(
            "UPDATE reference_counters SET last = last + $4 WHERE tenant_key = $1 AND prefix = $2 AND year = $3 RETURNING last",
            args![tenant_key, prefix, i64::from(year), count],
        )
        .await?;
    Ok(row.i64("last")? - count + 1)
}

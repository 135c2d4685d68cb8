//! The office's view of cases: the inbox with its filters, status changes with optimistic
//! locking, the access log shown to citizens, decisions and issued documents.
//!
//! Every query names the tenants it may see; a case of another tenant is simply not found.

use time::OffsetDateTime;

use crate::cases::{case_of_tenant, found};
use crate::db::{Row, Tx, Value};
use crate::keyring::Place;
use crate::{Store, StoreError, args};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AssigneeFilter {
    #[default]
    Any,
    Unassigned,
    User(String),
}

#[derive(Debug, Clone, Default)]
pub struct InboxFilter {
    /// The services the viewer works on; `None` means all.
    pub services: Option<Vec<String>>,
    pub status: Option<String>,
    pub open_only: bool,
    pub service: Option<String>,
    pub assignee: AssigneeFilter,
    pub submitted_from_ms: Option<i64>,
    pub submitted_to_ms: Option<i64>,
    /// Overdue: open cases submitted before the cut-off of their service.
    pub overdue_cutoffs: Option<Vec<(String, i64)>>,
    pub reference: Option<String>,
    /// A search by the applicant's name: a case matches when it has all the tokens of its own
    /// tenant. With no tokens for any tenant nothing matches.
    pub name: Option<Vec<NameTokens>>,
    pub limit: i64,
    pub offset: i64,
}

/// The blind-index tokens of a searched name under one tenant's key. Tokens are bound to the
/// tenant, so an Amt's search carries one set per member and still runs as one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTokens {
    pub tenant_key: String,
    pub tokens: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxRow {
    pub id: String,
    pub tenant_key: String,
    pub service_id: String,
    pub reference: String,
    pub status: String,
    pub submitted_at_ms: i64,
    pub updated_at_ms: i64,
    pub assignee: Option<String>,
}

/// Builds the WHERE clause of the inbox from fixed fragments and numbered placeholders only.
fn inbox_where(tenant_keys: &[String], f: &InboxFilter) -> (String, Vec<Value>) {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut ph = |args: &mut Vec<Value>, v: Value| {
        args.push(v);
        format!("${}", args.len())
    };
    let list = |args: &mut Vec<Value>,
                items: &[String],
                ph: &mut dyn FnMut(&mut Vec<Value>, Value) -> String| {
        items
            .iter()
            .map(|t| ph(args, Value::Text(t.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if tenant_keys.is_empty() {
        sql.push_str(" AND 1 = 0");
    } else {
        let l = list(&mut args, tenant_keys, &mut ph);
        sql.push_str(&format!(" AND c.tenant_key IN ({l})"));
    }
    if let Some(services) = &f.services {
        if services.is_empty() {
            sql.push_str(" AND 1 = 0");
        } else {
            let l = list(&mut args, services, &mut ph);
            sql.push_str(&format!(" AND c.service_id IN ({l})"));
        }
    }
    if let Some(s) = &f.service {
        let p = ph(&mut args, Value::Text(s.clone()));
        sql.push_str(&format!(" AND c.service_id = {p}"));
    }
    if let Some(s) = &f.status {
        let p = ph(&mut args, Value::Text(s.clone()));
        sql.push_str(&format!(" AND c.status = {p}"));
    }
    if f.open_only {
        sql.push_str(" AND c.status IN ('received', 'in_progress', 'waiting_for_citizen')");
    }
    match &f.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => sql.push_str(" AND c.assignee IS NULL"),
        AssigneeFilter::User(u) => {
            let p = ph(&mut args, Value::Text(u.clone()));
            sql.push_str(&format!(" AND c.assignee = {p}"));
        }
    }
    if let Some(from) = f.submitted_from_ms {
        let p = ph(&mut args, Value::I64(from));
        sql.push_str(&format!(" AND c.submitted_at >= {p}"));
    }
    if let Some(to) = f.submitted_to_ms {
        let p = ph(&mut args, Value::I64(to));
        sql.push_str(&format!(" AND c.submitted_at < {p}"));
    }
    if let Some(cutoffs) = &f.overdue_cutoffs {
        let mut parts = Vec::new();
        for (service, cutoff) in cutoffs {
            let ps = ph(&mut args, Value::Text(service.clone()));
            let pc = ph(&mut args, Value::I64(*cutoff));
            parts.push(format!("(c.service_id = {ps} AND c.submitted_at < {pc})"));
        }
        if parts.is_empty() {
            sql.push_str(" AND 1 = 0");
        } else {
            sql.push_str(&format!(
                " AND c.status IN ('received', 'in_progress', 'waiting_for_citizen') AND ({})",
                parts.join(" OR ")
            ));
        }
    }
    if let Some(r) = &f.reference {
        let p = ph(&mut args, Value::Text(r.trim().to_uppercase()));
        sql.push_str(&format!(" AND c.reference = {p}"));
    }
    if let Some(name) = &f.name {
        let mut per_tenant = Vec::new();
        for n in name.iter().filter(|n| !n.tokens.is_empty()) {
            let pt = ph(&mut args, Value::Text(n.tenant_key.clone()));
            let mut all = vec![format!("c.tenant_key = {pt}")];
            for token in &n.tokens {
                let p = ph(&mut args, Value::Bytes(token.clone()));
                all.push(format!("EXISTS (SELECT 1 FROM case_search s WHERE s.case_id = c.id AND s.tenant_key = c.tenant_key AND s.token = {p})"));
            }
            per_tenant.push(format!("({})", all.join(" AND ")));
        }
        if per_tenant.is_empty() {
            sql.push_str(" AND 1 = 0");
        } else {
            sql.push_str(&format!(" AND ({})", per_tenant.join(" OR ")));
        }
    }
    (sql, args)
}

fn inbox_row(r: &Row) -> Result<InboxRow, StoreError> {
    Ok(InboxRow {
        id: r.text("id")?,
        tenant_key: r.text("tenant_key")?,
        service_id: r.text("service_id")?,
        reference: r.text("reference")?,
        status: r.text("status")?,
        submitted_at_ms: r.i64("submitted_at")?,
        updated_at_ms: r.i64("updated_at")?,
        assignee: r.opt_text("assignee")?,
    })
}

impl Store {
    /// One page of the inbox over the cases of `tenant_keys`, newest first, and the number of all
    /// matching cases.
    pub async fn inbox(
        &self,
        tenant_keys: &[String],
        f: &InboxFilter,
    ) -> Result<(Vec<InboxRow>, i64), StoreError> {
        let (where_sql, mut args) = inbox_where(tenant_keys, f);
        let count_sql = format!("SELECT COUNT(*) AS n FROM cases c{where_sql}");
        let total = self
            .pool()
            .fetch_optional(sqlx::AssertSqlSafe(count_sql), args.clone())
            .await?
            .map(|r| r.i64("n"))
            .transpose()?
            .unwrap_or(0);
        args.push(Value::I64(f.limit.clamp(1, 200)));
        args.push(Value::I64(f.offset.max(0)));
        let n = args.len();
        let sql = format!(
            "SELECT c.id, c.tenant_key, c.service_id, c.reference, c.status, c.submitted_at, c.updated_at, c.assignee
             FROM cases c{where_sql} ORDER BY c.submitted_at DESC, c.id LIMIT ${} OFFSET ${}",
            n - 1,
            n
        );
        let rows = self
            .pool()
            .fetch_all(sqlx::AssertSqlSafe(sql), args)
            .await?;
        Ok((rows.iter().map(inbox_row).collect::<Result<_, _>>()?, total))
    }

    /// Cases per status for the inbox's tabs.
    pub async fn inbox_counts(
        &self,
        tenant_keys: &[String],
        f: &InboxFilter,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let base = InboxFilter {
            status: None,
            open_only: false,
            limit: 1,
            offset: 0,
            ..f.clone()
        };
        let (where_sql, args) = inbox_where(tenant_keys, &base);
        let sql =
            format!("SELECT c.status, COUNT(*) AS n FROM cases c{where_sql} GROUP BY c.status");
        let rows = self
            .pool()
            .fetch_all(sqlx::AssertSqlSafe(sql), args)
            .await?;
        rows.iter()
            .map(|r| Ok((r.text("status")?, r.i64("n")?)))
            .collect()
    }

    /// Moves a case of the tenant to `status` if nobody changed it since `expected_version` was
    /// read; returns the new version, `Conflict` when someone else was quicker, `NotFound` when
    /// the case is not the tenant's.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_case_status(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        expected_version: i64,
        status: &str,
        assignee: Option<Option<&str>>,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let now = crate::now_ms(now);
        let closed = if status == "closed" { Some(now) } else { None };
        let n = match assignee {
            Some(a) => {
                tx.execute(
                    "UPDATE cases SET status = $3, assignee = $4, updated_at = $5, closed_at = COALESCE($6, closed_at),
                         version = version + 1 WHERE id = $1 AND version = $2 AND tenant_key = $7",
                    args![case_id, expected_version, status, a, now, closed, tenant_key],
                )
                .await?
            }
            None => {
                tx.execute(
                    "UPDATE cases SET status = $3, updated_at = $4, closed_at = COALESCE($5, closed_at), version = version + 1
                     WHERE id = $1 AND version = $2 AND tenant_key = $6",
                    args![case_id, expected_version, status, now, closed, tenant_key],
                )
                .await?
            }
        };
        if n == 0 {
            case_of_tenant(tx, tenant_key, case_id).await?;
            return Err(StoreError::Conflict(
                "the case was changed by someone else in the meantime".into(),
            ));
        }
        Ok(expected_version + 1)
    }

    /// Records that an office read or changed a case of the tenant.
    pub async fn record_access(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        office_tenant: &str,
        kind: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let n = tx
            .execute(
                "INSERT INTO case_access (case_id, at, office_tenant, kind)
                 SELECT c.id, $2, $3, $4 FROM cases c WHERE c.id = $1 AND c.tenant_key = $5",
                args![case_id, crate::now_ms(now), office_tenant, kind, tenant_key],
            )
            .await?;
        found(n)
    }

    /// Which offices read or changed a case of the tenant, oldest first.
    pub async fn case_access(
        &self,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT a.at, a.office_tenant, a.kind FROM case_access a JOIN cases c ON c.id = a.case_id
                 WHERE a.case_id = $1 AND c.tenant_key = $2 ORDER BY a.at",
                args![case_id, tenant_key],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.i64("at")?, r.text("office_tenant")?, r.text("kind")?)))
            .collect()
    }

    /// Adds the blind-index tokens of the applicant's name to a case of the tenant.
    pub async fn add_search_tokens(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        tokens: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        case_of_tenant(tx, tenant_key, case_id).await?;
        for t in tokens {
            tx.execute(
                "INSERT INTO case_search (case_id, tenant_key, token)
                 SELECT c.id, c.tenant_key, $3 FROM cases c WHERE c.id = $1 AND c.tenant_key = $2
                 ON CONFLICT (case_id, token) DO NOTHING",
                args![case_id, tenant_key, t.clone()],
            )
            .await?;
        }
        Ok(())
    }

    pub async fn seal_status_token(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        token: &str,
    ) -> Result<(), StoreError> {
        let sealed = self
            .seal(
                tenant_key,
                Place {
                    table: "case",
                    record: case_id,
                    field: "status_token",
                },
                token.as_bytes(),
            )
            .await?;
        let n = tx
            .execute(
                "UPDATE cases SET status_token_sealed = $2 WHERE id = $1 AND tenant_key = $3",
                args![case_id, sealed, tenant_key],
            )
            .await?;
        found(n)
    }

    /// The status-page secret of a case, to send the citizen a link with news.
    pub async fn status_token(
        &self,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .pool()
            .fetch_optional(
                "SELECT status_token_sealed FROM cases WHERE id = $1 AND tenant_key = $2",
                args![case_id, tenant_key],
            )
            .await?;
        let Some(sealed) = row
            .map(|r| r.opt_bytes("status_token_sealed"))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        let plain = self
            .open(
                tenant_key,
                Place {
                    table: "case",
                    record: case_id,
                    field: "status_token",
                },
                &sealed,
            )
            .await?;
        Ok(Some(
            String::from_utf8(plain).map_err(|e| StoreError::Decode(e.to_string()))?,
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Decisions

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub seq: i64,
    pub outcome: String,
    pub reasons: String,
    pub proposed_by: String,
    pub proposed_at_ms: i64,
    pub confirmed_by: Option<String>,
    pub confirmed_at_ms: Option<i64>,
    pub state: String,
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn add_decision(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        outcome: &str,
        reasons: &str,
        by: &str,
        state: &str,
        now: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        let row = tx
            .fetch_optional(
                "SELECT (SELECT COALESCE(MAX(d.seq), 0) FROM case_decisions d WHERE d.case_id = c.id) AS last
                 FROM cases c WHERE c.id = $1 AND c.tenant_key = $2",
                args![case_id, tenant_key],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let seq = row.i64("last")? + 1;
        let field = format!("decision-{seq}");
        let sealed = self
            .seal(
                tenant_key,
                Place {
                    table: "case",
                    record: case_id,
                    field: &field,
                },
                reasons.as_bytes(),
            )
            .await?;
        let now = crate::now_ms(now);
        let (confirmed_by, confirmed_at) = if state == "final" {
            (Some(by), Some(now))
        } else {
            (None, None)
        };
        let n = tx
            .execute(
                "INSERT INTO case_decisions (case_id, seq, outcome, reasons, proposed_by, proposed_at, confirmed_by, confirmed_at, state)
                 SELECT c.id, $2, $3, $4, $5, $6, $7, $8, $9 FROM cases c WHERE c.id = $1 AND c.tenant_key = $10",
                args![case_id, seq, outcome, sealed, by, now, confirmed_by, confirmed_at, state, tenant_key],
            )
            .await?;
        found(n)?;
        Ok(seq)
    }

    /// Confirms a proposed decision (second clerk). Returns false when it was no longer proposed.
    pub async fn confirm_decision(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        seq: i64,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let n = tx
            .execute(
                "UPDATE case_decisions SET state = 'final', confirmed_by = $3, confirmed_at = $4
                 WHERE case_id = $1 AND seq = $2 AND state = 'proposed'
                   AND case_id IN (SELECT id FROM cases WHERE id = $1 AND tenant_key = $5)",
                args![case_id, seq, by, crate::now_ms(now), tenant_key],
            )
            .await?;
        Ok(n > 0)
    }

    /// Withdraws a proposed decision. Returns false when it was no longer proposed.
    pub async fn withdraw_decision(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        case_id: &str,
        seq: i64,
    ) -> Result<bool, StoreError> {
        let n = tx
            .execute(
                "UPDATE case_decisions SET state = 'withdrawn' WHERE case_id = $1 AND seq = $2 AND state = 'proposed'
                   AND case_id IN (SELECT id FROM cases WHERE id = $1 AND tenant_key = $3)",
                args![case_id, seq, tenant_key],
            )
            .await?;
        Ok(n > 0)
    }

    pub async fn decisions(
        &self,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Vec<Decision>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT d.seq, d.outcome, d.reasons, d.proposed_by, d.proposed_at, d.confirmed_by, d.confirmed_at, d.state
                 FROM case_decisions d JOIN cases c ON c.id = d.case_id WHERE d.case_id = $1 AND c.tenant_key = $2 ORDER BY d.seq",
                args![case_id, tenant_key],
            )
            .await?;
        let mut out = Vec::new();
        for r in rows {
            let seq = r.i64("seq")?;
            let field = format!("decision-{seq}");
            let reasons = self
                .open(
                    tenant_key,
                    Place {
                        table: "case",
                        record: case_id,
                        field: &field,
                    },
                    &r.bytes("reasons")?,
                )
                .await?;
            out.push(Decision {
                seq,
                outcome: r.text("outcome")?,
                reasons: String::from_utf8(reasons)
                    .map_err(|e| StoreError::Decode(e.to_string()))?,
                proposed_by: r.text("proposed_by")?,
                proposed_at_ms: r.i64("proposed_at")?,
                confirmed_by: r.opt_text("confirmed_by")?,
                confirmed_at_ms: r.opt_i64("confirmed_at")?,
                state: r.text("state")?,
            });
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------------------------------------
// Documents (notices) and attachments added after submission

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDocument {
    pub id: String,
    pub case_id: String,
    pub tenant_key: String,
    pub kind: String,
    pub title: String,
    pub blob_key: String,
    pub created_at_ms: i64,
}

fn doc_place(id: &str) -> Place<'_> {
    Place {
        table: "document",
        record: id,
        field: "content",
    }
}

pub struct NewCaseFile<'a> {
    pub id: &'a str,
    pub tenant_key: &'a str,
    pub case_id: &'a str,
    pub field: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub content: &'a [u8],
    pub now: OffsetDateTime,
}

impl Store {
    /// Records a document of a case of the tenant (`NotFound` otherwise) and stores its sealed
    /// content.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_case_document(
        &self,
        tx: &mut Tx,
        id: &str,
        tenant_key: &str,
        case_id: &str,
        kind: &str,
        title: &str,
        content: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let blob_key = format!("{tenant_key}/doc-{id}");
        let sealed = self.seal(tenant_key, doc_place(id), content).await?;
        // The row first: nothing is stored for a case of another tenant. Should storing the
        // content fail, the caller's transaction fails with it.
        let n = tx
            .execute(
                "INSERT INTO case_documents (id, case_id, tenant_key, kind, title, blob_key, created_at)
                 SELECT $1, c.id, c.tenant_key, $4, $5, $6, $7 FROM cases c WHERE c.id = $2 AND c.tenant_key = $3",
                args![id, case_id, tenant_key, kind, title, &blob_key, crate::now_ms(now)],
            )
            .await?;
        found(n)?;
        self.blobs()?.put(&blob_key, sealed).await
    }

    pub async fn case_documents(
        &self,
        tenant_key: &str,
        case_id: &str,
    ) -> Result<Vec<CaseDocument>, StoreError> {
        let rows = self
            .pool()
            .fetch_all(
                "SELECT id, case_id, tenant_key, kind, title, blob_key, created_at FROM case_documents
                 WHERE case_id = $1 AND tenant_key = $2 ORDER BY created_at, id",
                args![case_id, tenant_key],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseDocument {
                    id: r.text("id")?,
                    case_id: r.text("case_id")?,
                    tenant_key: r.text("tenant_key")?,
                    kind: r.text("kind")?,
                    title: r.text("title")?,
                    blob_key: r.text("blob_key")?,
                    created_at_ms: r.i64("created_at")?,
                })
            })
            .collect()
    }

    /// The decrypted content of one of the tenant's documents.
    pub async fn document_content(
        &self,
        tenant_key: &str,
        id: &str,
    ) -> Result<Vec<u8>, StoreError> {
        self.sealed_file(
            crate::blobs::FileTable::CaseDocuments,
            tenant_key,
            id,
            doc_place(id),
        )
        .await
    }

    /// A file that arrives after submission (e.g. with an answer to a question), for a case of the
    /// tenant (`NotFound` otherwise).
    pub async fn put_case_file(&self, tx: &mut Tx, f: &NewCaseFile<'_>) -> Result<(), StoreError> {
        let blob_key = format!("{}/{}", f.tenant_key, f.id);
        let sealed = self
            .seal(
                f.tenant_key,
                Place {
                    table: "attachment",
                    record: f.id,
                    field: "content",
                },
                f.content,
            )
            .await?;
        let name = self
            .seal(
                f.tenant_key,
                Place {
                    table: "attachment",
                    record: f.id,
                    field: "name",
                },
                f.name.as_bytes(),
            )
            .await?;
        let n = tx
            .execute(
                "INSERT INTO attachments (id, tenant_key, draft_id, case_id, field, kind, size, name, blob_key, created_at)
                 SELECT $1, c.tenant_key, NULL, c.id, $4, $5, $6, $7, $8, $9 FROM cases c WHERE c.id = $3 AND c.tenant_key = $2",
                args![f.id, f.tenant_key, f.case_id, f.field, f.kind, f.content.len() as i64, name, &blob_key, crate::now_ms(f.now)],
            )
            .await?;
        found(n)?;
        self.blobs()?.put(&blob_key, sealed).await
    }
}

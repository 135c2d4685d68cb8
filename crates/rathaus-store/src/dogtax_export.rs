//! The ledger of the dog-tax export: which claims the treasury's export for a due date has handed
//! over already, in which run, into which file. Only ids, dates and file names are kept here; the
//! amounts and bank details stay sealed in the notices and households.

use time::OffsetDateTime;

use crate::db::Tx;
use crate::{StoreError, args};

/// One run of the export for a due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRun {
    /// 1 for the first export of the due date, then 2, 3, …
    pub run: i64,
    pub exported_at_ms: i64,
    pub actor: String,
    /// An explicit re-export of claims exported before.
    pub again: bool,
    pub debit_file: Option<String>,
    /// The pain.008 MsgId.
    pub message_id: Option<String>,
    pub transfer_file: Option<String>,
    pub refused_file: Option<String>,
    pub refused: i64,
}

/// A claim exported in a run: the tax of a year (`claim` is the year) or the fees (`G`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedClaim {
    pub run: i64,
    pub household_id: String,
    pub claim: String,
    /// `debit` or `transfer`.
    pub kind: String,
}

pub struct NewExportRun<'a> {
    pub tenant_key: &'a str,
    pub due_on: &'a str,
    pub run: i64,
    pub now: OffsetDateTime,
    pub actor: &'a str,
    pub again: bool,
    pub debit_file: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub transfer_file: Option<&'a str>,
    pub refused_file: Option<&'a str>,
    pub refused: i64,
    /// (household id, claim, kind) of every claim the run exported.
    pub items: &'a [(&'a str, &'a str, &'a str)],
}

impl crate::Store {
    /// Serialises the exports of one municipality until the transaction ends, so that two runs
    /// for the same due date cannot both find a claim not yet exported. SQLite has a single
    /// writer already.
    pub async fn lock_dogtax_export(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
    ) -> Result<(), StoreError> {
        if tx.dialect() == crate::Dialect::Postgres {
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('dogtax-export:' || $1, 0))",
                args![tenant_key],
            )
            .await?;
        }
        Ok(())
    }

    /// The export runs for a due date, oldest first.
    pub async fn dogtax_export_runs(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        due_on: &str,
    ) -> Result<Vec<ExportRun>, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT run, exported_at, actor, again, debit_file, message_id, transfer_file, refused_file, refused
                 FROM dogtax_export_runs WHERE tenant_key = $1 AND due_on = $2 ORDER BY run",
                args![tenant_key, due_on],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ExportRun {
                    run: r.i64("run")?,
                    exported_at_ms: r.i64("exported_at")?,
                    actor: r.text("actor")?,
                    again: r.bool("again")?,
                    debit_file: r.opt_text("debit_file")?,
                    message_id: r.opt_text("message_id")?,
                    transfer_file: r.opt_text("transfer_file")?,
                    refused_file: r.opt_text("refused_file")?,
                    refused: r.i64("refused")?,
                })
            })
            .collect()
    }

    /// Every claim exported for a due date, by run.
    pub async fn dogtax_exported_claims(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        due_on: &str,
    ) -> Result<Vec<ExportedClaim>, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT run, household_id, claim, kind FROM dogtax_export_items
                 WHERE tenant_key = $1 AND due_on = $2 ORDER BY run, household_id, claim",
                args![tenant_key, due_on],
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

    /// Records a run and its claims in the caller's transaction (the one that also appends the
    /// export's audit entry). A run number taken already is a conflict.
    pub async fn insert_dogtax_export_run(
        &self,
        tx: &mut Tx,
        r: &NewExportRun<'_>,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO dogtax_export_runs (tenant_key, due_on, run, exported_at, actor, again, debit_file, message_id, transfer_file, refused_file, refused)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            args![
                r.tenant_key,
                r.due_on,
                r.run,
                crate::now_ms(r.now),
                r.actor,
                r.again,
                r.debit_file,
                r.message_id,
                r.transfer_file,
                r.refused_file,
                r.refused
            ],
        )
        .await?;
        // Many rows a statement: an annual due date has thousands of claims.
        for chunk in r.items.chunks(500) {
            let mut sql = String::from(
                "INSERT INTO dogtax_export_items (tenant_key, due_on, run, household_id, claim, kind) VALUES ",
            );
            let mut values = args![r.tenant_key, r.due_on, r.run];
            for (i, (household_id, claim, kind)) in chunk.iter().enumerate() {
                let n = 4 + 3 * i;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("($1, $2, $3, ${n}, ${}, ${})", n + 1, n + 2));
                values.extend(args![*household_id, *claim, *kind]);
            }
            tx.execute(sqlx::AssertSqlSafe(sql), values).await?;
        }
        Ok(())
    }
}

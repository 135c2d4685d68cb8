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
}

/// The files an export run wrote.
pub struct ExportFiles<'a> {
    pub debit_file: Option<&'a str>,
    pub message_id: Option<&'a str>,
    pub transfer_file: Option<&'a str>,
    pub refused_file: Option<&'a str>,
    pub refused: i64,
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

    /// How many claims of each kind (`debit`, `transfer`) each run for the due date exported:
    /// (run, kind, count).
    pub async fn dogtax_export_run_counts(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        due_on: &str,
    ) -> Result<Vec<(i64, String, usize)>, StoreError> {
        let rows = tx
            .fetch_all(
                "SELECT run, kind, COUNT(*) AS n FROM dogtax_export_items
                 WHERE tenant_key = $1 AND due_on = $2 GROUP BY run, kind ORDER BY run, kind",
                args![tenant_key, due_on],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.i64("run")?,
                    r.text("kind")?,
                    usize::try_from(r.i64("n")?).map_err(|e| StoreError::Decode(e.to_string()))?,
                ))
            })
            .collect()
    }

    /// Records a run in the caller's transaction (the one that also records its claims and
    /// appends the export's audit entry), before its files are known: see
    /// [`Store::finish_dogtax_export_run`]. A run number taken already is a conflict.
    pub async fn insert_dogtax_export_run(
        &self,
        tx: &mut Tx,
        r: &NewExportRun<'_>,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO dogtax_export_runs (tenant_key, due_on, run, exported_at, actor, again, debit_file, message_id, transfer_file, refused_file, refused)
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL, NULL, 0)",
            args![
                r.tenant_key,
                r.due_on,
                r.run,
                crate::now_ms(r.now),
                r.actor,
                r.again
            ],
        )
        .await?;
        Ok(())
    }

    /// Records claims exported by a run, (household id, claim, kind) each: only claims of the
    /// tenant's own households (`NotFound` otherwise, and nothing recorded).
    pub async fn insert_dogtax_export_items(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        due_on: &str,
        run: i64,
        items: &[(&str, &str, &str)],
    ) -> Result<(), StoreError> {
        let households: Vec<&str> = items.iter().map(|(h, _, _)| *h).collect();
        crate::dogtax_bulk::all_of_tenant(tx, "dogtax_households", tenant_key, &households).await?;
        let rows = items
            .iter()
            .map(|(household_id, claim, kind)| {
                args![tenant_key, due_on, run, *household_id, *claim, *kind]
            })
            .collect();
        crate::dogtax_bulk::insert_rows(
            tx,
            "dogtax_export_items",
            &[
                "tenant_key",
                "due_on",
                "run",
                "household_id",
                "claim",
                "kind",
            ],
            rows,
        )
        .await
    }

    /// Records the files a run wrote, once they are complete.
    pub async fn finish_dogtax_export_run(
        &self,
        tx: &mut Tx,
        tenant_key: &str,
        due_on: &str,
        run: i64,
        files: &ExportFiles<'_>,
    ) -> Result<(), StoreError> {
        let n = tx
            .execute(
                "UPDATE dogtax_export_runs SET debit_file = $4, message_id = $5, transfer_file = $6, refused_file = $7, refused = $8
                 WHERE tenant_key = $1 AND due_on = $2 AND run = $3",
                args![
                    tenant_key,
                    due_on,
                    run,
                    files.debit_file,
                    files.message_id,
                    files.transfer_file,
                    files.refused_file,
                    files.refused
                ],
            )
            .await?;
        crate::cases::found(n)
    }
}

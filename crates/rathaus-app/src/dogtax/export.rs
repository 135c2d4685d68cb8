//! The treasury's export for a due date: the direct debits as a SEPA pain.008.001.02 file (the
//! format German banks accept for SEPA core direct debits) and the expected transfers as CSV.
//!
//! For each household the notice in force on the due date counts: the latest tax or change notice
//! of that year issued on or before it. Fee notices count with their own due date. Every
//! collection uses sequence type RCUR: since November 2016 the SEPA rulebook lets a first
//! collection go as RCUR, which spares the treasury tracking first collections.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rathaus_domain::localtime::to_berlin;
use rathaus_domain::sepa::{CreditorId, Iban, IbanError, Mandate};
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::dogtax::{Household, Notice};
use rathaus_store::dogtax_export::{ExportFiles, ExportedClaim, NewExportRun};
use rathaus_store::dogtax_pages::HouseholdCursor;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};

use super::facts::{HolderFacts, PaymentFacts};
use super::notice::NoticeContent;
use crate::files::{create_private, part_name};
use crate::{Actor, App, AppError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportReport {
    pub due: Date,
    /// This export's number among those for the due date (1 for the first); `None` when there
    /// was nothing to write.
    pub run: Option<i64>,
    /// An explicit re-export: claims exported before are in this export's files once more.
    pub again: bool,
    pub debits: usize,
    pub debit_sum: Decimal,
    pub transfers: usize,
    pub transfer_sum: Decimal,
    /// The pain.008 file; none when there is nothing (new) to collect by direct debit.
    pub xml: Option<PathBuf>,
    /// The expected transfers; none when there are none (new).
    pub csv: Option<PathBuf>,
    /// The earlier exports for the same due date, oldest first.
    pub earlier: Vec<EarlierExport>,
    /// Claims due now that an earlier export handed over already: left out of this one, or
    /// exported once more when `again`.
    pub already_debits: usize,
    pub already_transfers: usize,
    /// How many direct debits were not exported (all are listed in `refused_file`).
    pub refused_count: usize,
    /// The first of them (at most [`REFUSED_SHOWN`]), and why.
    pub refused: Vec<RefusedDebit>,
    pub refused_file: Option<PathBuf>,
}

/// An earlier export for the same due date, from the export ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierExport {
    pub run: i64,
    pub at: OffsetDateTime,
    pub again: bool,
    pub debits: usize,
    pub transfers: usize,
    pub debit_file: Option<String>,
    pub message_id: Option<String>,
    pub transfer_file: Option<String>,
}

/// Refused direct debits a report names one by one; the file lists them all.
pub const REFUSED_SHOWN: usize = 100;

/// A direct debit the export refused to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedDebit {
    /// The household's register reference.
    pub kassenzeichen: String,
    /// The tax year, or `G` for fees.
    pub claim: String,
    pub amount: Decimal,
    /// Why, for the operator (English, no personal data) and for the treasury's list (German).
    pub reason: String,
    pub reason_de: String,
}

/// One amount expected from a household on the due date.
struct Claim {
    household_id: String,
    kassenzeichen: String,
    holder: HolderFacts,
    payment: PaymentFacts,
    amount: Decimal,
    purpose: String,
    /// Tells the claims of one household on one day apart: the tax year, or G for a fee.
    tag: String,
}

/// A claim collected by direct debit, with the mandate and account it is collected under.
struct Debit<'a> {
    claim: &'a Claim,
    mandate: Mandate,
    iban: Iban,
}

impl Claim {
    /// The claim as a direct debit on `due`, or why it cannot be one. A mandate without its date
    /// of signature is refused: the date is the debtor's proof, never to be made up.
    fn debit(&self, due: Date) -> Result<Debit<'_>, RefusedDebit> {
        let refuse = |reason: String, reason_de: String| RefusedDebit {
            kassenzeichen: self.kassenzeichen.clone(),
            claim: self.tag.clone(),
            amount: self.amount,
            reason,
            reason_de,
        };
        let mandate = Mandate::for_collection(
            self.payment.mandate_reference.as_deref(),
            self.payment.mandate_date.as_deref(),
            due,
        )
        .map_err(|e| refuse(e.to_string(), e.message_de()))?;
        let iban: Iban = self
            .payment
            .iban
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|e: IbanError| {
                refuse(
                    format!("the stored IBAN is unusable: {e}"),
                    format!("Die gespeicherte IBAN ist unbrauchbar: {}", e.message_de()),
                )
            })?;
        Ok(Debit {
            claim: self,
            mandate,
            iban,
        })
    }
}

/// The files of one export run. Each is written under a `.part` name beside its own and renamed
/// only once the ledger has recorded the run; dropped before [`PendingFiles::keep`], it removes
/// what it wrote, so that a failed export leaves no file that looks complete.
#[derive(Default)]
struct PendingFiles {
    /// (name while written, final name)
    files: Vec<(PathBuf, PathBuf)>,
    /// How many of `files` carry their final name.
    placed: usize,
    kept: bool,
}

impl PendingFiles {
    /// Opens `path` for writing under its `.part` name.
    fn create(&mut self, path: &Path) -> Result<PartFile, AppError> {
        let part = part_name(path);
        let file = create_private(&part)?;
        self.files.push((part.clone(), path.to_owned()));
        Ok(PartFile {
            out: std::io::BufWriter::new(file),
            path: part,
        })
    }

    /// Gives up a file that turned out to have nothing in it.
    fn discard(&mut self, path: &Path) {
        if let Some(i) = self.files.iter().position(|(_, p)| p == path) {
            let (part, _) = self.files.remove(i);
            let _ = std::fs::remove_file(part);
        }
    }

    fn place(&mut self) -> Result<(), AppError> {
        while let Some((part, path)) = self.files.get(self.placed) {
            std::fs::rename(part, path).map_err(|e| {
                AppError::Unavailable(format!("cannot rename to {}: {e}", path.display()))
            })?;
            self.placed += 1;
        }
        Ok(())
    }

    fn keep(mut self) {
        self.kept = true;
    }
}

/// A file being written under its `.part` name.
struct PartFile {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl PartFile {
    fn write(&mut self, bytes: &[u8]) -> Result<(), AppError> {
        use std::io::Write;
        self.out.write_all(bytes).map_err(|e| self.unavailable(e))
    }

    /// Flushes the file to disk.
    fn finish(self) -> Result<(), AppError> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| AppError::Unavailable(format!("cannot write: {e}")))?;
        file.sync_all().map_err(|e| {
            AppError::Unavailable(format!("cannot write {}: {e}", self.path.display()))
        })
    }

    fn unavailable(&self, e: std::io::Error) -> AppError {
        AppError::Unavailable(format!("cannot write {}: {e}", self.path.display()))
    }
}

impl Drop for PendingFiles {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        for (i, (part, path)) in self.files.iter().enumerate() {
            let _ = std::fs::remove_file(if i < self.placed { path } else { part });
        }
    }
}

/// Text as the SEPA character set allows it (EPC Latin set plus the German umlauts and ß that the
/// Deutsche Kreditwirtschaft accepts); anything else is transliterated or replaced.
pub(crate) fn sepa_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let mapped: &str = match c {
            'a'..='z'
            | 'A'..='Z'
            | '0'..='9'
            | ' '
            | '/'
            | '-'
            | '?'
            | ':'
            | '('
            | ')'
            | '.'
            | ','
            | '\''
            | '+'
            | 'Ä'
            | 'Ö'
            | 'Ü'
            | 'ä'
            | 'ö'
            | 'ü'
            | 'ß'
            | '&' => {
                out.push(c);
                continue;
            }
            'á' | 'à' | 'â' | 'ã' | 'å' => "a",
            'é' | 'è' | 'ê' | 'ë' => "e",
            'í' | 'ì' | 'î' | 'ï' => "i",
            'ó' | 'ò' | 'ô' | 'õ' | 'ø' => "o",
            'ú' | 'ù' | 'û' => "u",
            'ç' | 'ć' | 'č' => "c",
            'ñ' | 'ń' => "n",
            'š' | 'ś' => "s",
            'ž' | 'ź' | 'ż' => "z",
            'ł' => "l",
            'Á' | 'À' | 'Â' | 'Å' => "A",
            'É' | 'È' | 'Ê' => "E",
            'Ó' | 'Ø' => "O",
            'Č' | 'Ć' | 'Ç' => "C",
            'Š' | 'Ś' => "S",
            'Ž' => "Z",
            'Ł' => "L",
            '\n' | '\t' | '\r' => " ",
            _ => ".",
        };
        out.push_str(mapped);
    }
    let trimmed: String = out.trim().chars().take(max).collect();
    if trimmed.is_empty() {
        "NOTPROVIDED".into()
    } else {
        trimmed
    }
}

/// Escapes the five XML special characters.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn cents(amount: Decimal) -> String {
    let mut a = amount.round_dp(2);
    a.rescale(2);
    a.to_string()
}

/// A CSV field, quoted when needed; `;` separates fields as spreadsheet programs expect in Germany.
fn csv_field(text: &str) -> String {
    // A leading = + - @ would start a formula in a spreadsheet.
    let safe = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if safe.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

fn german_amount(amount: Decimal) -> String {
    cents(amount).replace('.', ",")
}

fn csv_line(fields: &[&str]) -> String {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    line.join(";") + "\r\n"
}

/// What a claim is (its tag: the tax year, or G), in the treasury's lists.
fn claim_label(tag: &str) -> String {
    match tag {
        "G" => "Gebuehr Ersatzmarke".to_owned(),
        year => format!("Hundesteuer {year}"),
    }
}

const TRANSFERS_HEADER: &str =
    "Kassenzeichen;Name;Strasse;PLZ;Ort;Faellig;Betrag;Verwendungszweck\r\n";

/// An expected transfer, a line of the treasury's list.
fn transfer_line(c: &Claim, due_text: &str) -> String {
    csv_line(&[
        &c.kassenzeichen,
        &c.holder.name,
        &c.holder.street,
        &c.holder.postcode,
        &c.holder.city,
        due_text,
        &german_amount(c.amount),
        &c.purpose,
    ])
}

const REFUSED_HEADER: &str = "Kassenzeichen;Forderung;Faellig;Betrag;Grund\r\n";

/// A refused direct debit, a line of the list for the treasury to complete the mandates: after
/// that the next export for the same due date collects them.
fn refused_line(r: &RefusedDebit, due_text: &str) -> String {
    csv_line(&[
        &r.kassenzeichen,
        &claim_label(&r.claim),
        due_text,
        &german_amount(r.amount),
        &r.reason_de,
    ])
}

/// The structural rules of the pain.008 files this module writes, checked without the XSD (the
/// tests check against the official schema as well).
pub fn validate_pain008_shape(xml_text: &str) -> Result<(), String> {
    for needle in [
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.008.001.02\"",
        "<CstmrDrctDbtInitn>",
        "<GrpHdr>",
        "<PmtInf>",
        "<DrctDbtTxInf>",
    ] {
        if !xml_text.contains(needle) {
            return Err(format!("missing {needle}"));
        }
    }
    Ok(())
}

/// A page of the register read for the export, with the page's notices and what earlier runs
/// exported of it for the due date.
struct PageToExport {
    page: Vec<Household>,
    next: Option<HouseholdCursor>,
    notices: Vec<Notice>,
    exported: Vec<ExportedClaim>,
}

impl App {
    /// Writes the export for `due` into `out` and records it in the export ledger.
    ///
    /// Claims that an earlier export for the same due date handed over already are left out and
    /// reported (`earlier`, `already_*`): a second file with them would have the bank collect
    /// them twice. With `again` they are exported once more — for a file the bank rejected or
    /// that was lost — and the audit entry says so.
    ///
    /// A direct debit whose mandate has no recorded date of signature (or an unusable reference
    /// or IBAN) is refused, never completed with an invented date. The other claims are exported
    /// all the same and the refused ones listed in `…-nicht-exportiert.csv` and the report: the
    /// due date is statutory and shared by thousands of households, so holding back every
    /// collection for one incomplete mandate would cost the treasury the date for all of them,
    /// while the refused claims stay out of the ledger and follow with the next export for the
    /// same due date once the mandate is complete.
    ///
    /// Files: `hundesteuer-<AGS>-<due>[-lauf<n>]-lastschriften.xml`, `…-ueberweisungen.csv`,
    /// `…-nicht-exportiert.csv` (`-lauf<n>` from the second export of a due date on). They are
    /// written under a `.part` name and renamed once the ledger and the audit entry are written
    /// in one transaction; an existing file is never replaced.
    pub async fn dogtax_export(
        &self,
        actor: &Actor,
        reference: &str,
        due: Date,
        out: &Path,
        again: bool,
    ) -> Result<ExportReport, AppError> {
        let tenant = self.dogtax_municipality(reference).await?;
        let s = self.dogtax_setting(tenant.key.as_str()).await?;
        let key = tenant.key.as_str();
        let due_text = due.to_string();

        let mut tx = self.store.begin_bulk().await?;
        self.store.lock_dogtax_export(&mut tx, key).await?;
        let runs = self
            .store
            .dogtax_export_runs(&mut tx, key, &due_text)
            .await?;
        let counts = self
            .store
            .dogtax_export_run_counts(&mut tx, key, &due_text)
            .await?;
        let earlier = runs
            .iter()
            .map(|r| {
                let count = |kind: &str| {
                    counts
                        .iter()
                        .find(|(run, k, _)| *run == r.run && k == kind)
                        .map_or(0, |(_, _, n)| *n)
                };
                EarlierExport {
                    run: r.run,
                    at: OffsetDateTime::from_unix_timestamp_nanos(
                        i128::from(r.exported_at_ms) * 1_000_000,
                    )
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    again: r.again,
                    debits: count("debit"),
                    transfers: count("transfer"),
                    debit_file: r.debit_file.clone(),
                    message_id: r.message_id.clone(),
                    transfer_file: r.transfer_file.clone(),
                }
            })
            .collect();
        let run = runs.last().map_or(1, |r| r.run + 1);
        let base = if run == 1 {
            format!("hundesteuer-{key}-{due_text}")
        } else {
            format!("hundesteuer-{key}-{due_text}-lauf{run}")
        };
        // The bank refuses a MsgId it has seen; tenant, due date and run are unique in the ledger.
        let message_id = format!(
            "HST-{key}-{:04}{:02}{:02}-{run}",
            due.year(),
            u8::from(due.month()),
            due.day()
        );
        std::fs::create_dir_all(out)
            .map_err(|e| AppError::BadInput(format!("cannot create {}: {e}", out.display())))?;
        let out = out
            .canonicalize()
            .map_err(|e| AppError::BadInput(format!("cannot use {}: {e}", out.display())))?;
        let xml_path = out.join(format!("{base}-lastschriften.xml"));
        let csv_path = out.join(format!("{base}-ueberweisungen.csv"));
        let refused_path = out.join(format!("{base}-nicht-exportiert.csv"));
        for p in [&xml_path, &csv_path, &refused_path] {
            if p.exists() {
                return Err(AppError::BadInput(format!(
                    "{} exists already; an export never replaces a file (move it away or choose another --out)",
                    p.display()
                )));
            }
        }

        let mut report = ExportReport {
            due,
            run: None,
            again,
            debits: 0,
            debit_sum: Decimal::ZERO,
            transfers: 0,
            transfer_sum: Decimal::ZERO,
            xml: None,
            csv: None,
            earlier,
            already_debits: 0,
            already_transfers: 0,
            refused_count: 0,
            refused: Vec::new(),
            refused_file: None,
        };
        let mut files = PendingFiles::default();
        // The direct debits go into a scratch file first: the pain.008 header counts and sums
        // them, and it comes first in the file.
        let mut scratch = Scratch::create(&out.join(format!(".{base}-lastschriften.tmp")))?;
        let mut pain = None;
        let mut csv = files.create(&csv_path)?;
        csv.write(TRANSFERS_HEADER.as_bytes())?;
        let mut refused_csv = files.create(&refused_path)?;
        refused_csv.write(REFUSED_HEADER.as_bytes())?;
        let actor_name = actor.audit_name();
        // Recorded with the first claims it exports (or at the end, when it only refuses some).
        let new_run = NewExportRun {
            tenant_key: key,
            due_on: &due_text,
            run,
            now: self.now(),
            actor: &actor_name,
            again,
        };
        let mut run_recorded = false;
        let mut exported_here = Vec::new();
        // The next page is read while the one at hand is written to the ledger.
        let mut fetched = self.read_export_page(key, due, None).await?;
        loop {
            let PageToExport {
                page,
                next,
                notices,
                exported,
            } = fetched;
            let exported_as: HashMap<(&str, &str), &str> = exported
                .iter()
                .map(|e| ((e.household_id.as_str(), e.claim.as_str()), e.kind.as_str()))
                .collect();
            exported_here.clear();
            for c in claims_of(page, notices, &due_text)? {
                if let Some(kind) = exported_as.get(&(c.household_id.as_str(), c.tag.as_str())) {
                    if *kind == "debit" {
                        report.already_debits += 1;
                    } else {
                        report.already_transfers += 1;
                    }
                    if !again {
                        continue;
                    }
                }
                if !c.payment.is_debit() {
                    csv.write(transfer_line(&c, &due_text).as_bytes())?;
                    report.transfers += 1;
                    report.transfer_sum += c.amount;
                    exported_here.push((c.household_id, c.tag, "transfer"));
                    continue;
                }
                match c.debit(due) {
                    Ok(d) => {
                        if pain.is_none() {
                            pain = Some(Pain008::new(&s, due, &message_id)?);
                        }
                        if let Some(p) = &pain {
                            scratch.write(p.transaction(&d).as_bytes())?;
                        }
                        report.debits += 1;
                        report.debit_sum += c.amount;
                        exported_here.push((c.household_id, c.tag, "debit"));
                    }
                    Err(r) => {
                        refused_csv.write(refused_line(&r, &due_text).as_bytes())?;
                        report.refused_count += 1;
                        if report.refused.len() < REFUSED_SHOWN {
                            report.refused.push(r);
                        }
                    }
                }
            }
            let record = async {
                if exported_here.is_empty() {
                    return Ok(());
                }
                if !run_recorded {
                    self.store
                        .insert_dogtax_export_run(&mut tx, &new_run)
                        .await?;
                    run_recorded = true;
                }
                let items: Vec<(&str, &str, &str)> = exported_here
                    .iter()
                    .map(|(h, c, k)| (h.as_str(), c.as_str(), *k))
                    .collect();
                self.store
                    .insert_dogtax_export_items(&mut tx, key, &due_text, run, &items)
                    .await
            };
            let read_next = async {
                match &next {
                    Some(cursor) => self
                        .read_export_page(key, due, Some(cursor))
                        .await
                        .map(Some),
                    None => Ok(None),
                }
            };
            let (recorded, read) = tokio::join!(record, read_next);
            recorded?;
            match read? {
                Some(page) => fetched = page,
                None => break,
            }
        }

        let object = format!("dogtax-export:{key}:{due_text}");
        let before = format!(
            "{} direct debits and {} transfers exported before{}",
            report.already_debits,
            report.already_transfers,
            if again { ", exported again" } else { "" }
        );
        let mut audit = NewAuditEntry {
            at: self.now(),
            actor: &actor_name,
            tenant: Some(key),
            action: if again {
                "dogtax.export.again"
            } else {
                "dogtax.export"
            },
            object: &object,
            outcome: "",
        };
        if report.debits == 0 && report.transfers == 0 && report.refused_count == 0 {
            // The ledger has nothing new: the transaction holds no run, only the audit entry.
            let outcome = format!("ok: nothing new to export; {before}");
            audit.outcome = &outcome;
            append(&mut tx, &audit).await?;
            tx.commit().await?;
            return Ok(report);
        }
        if !run_recorded {
            self.store
                .insert_dogtax_export_run(&mut tx, &new_run)
                .await?;
        }
        if let Some(p) = &pain {
            let mut xml = files.create(&xml_path)?;
            p.write_file(&mut xml, &mut scratch, report.debits, report.debit_sum)?;
            xml.finish()?;
            report.xml = Some(xml_path);
        }
        drop(scratch);
        if report.transfers > 0 {
            csv.finish()?;
            report.csv = Some(csv_path);
        } else {
            drop(csv);
            files.discard(&csv_path);
        }
        if report.refused_count > 0 {
            refused_csv.finish()?;
            report.refused_file = Some(refused_path);
        } else {
            drop(refused_csv);
            files.discard(&refused_path);
        }
        let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let (xml_shown, csv_shown, refused_shown) = (
            shown(&report.xml),
            shown(&report.csv),
            shown(&report.refused_file),
        );
        self.store
            .finish_dogtax_export_run(
                &mut tx,
                key,
                &due_text,
                run,
                &ExportFiles {
                    debit_file: xml_shown.as_deref(),
                    message_id: report.xml.as_ref().map(|_| message_id.as_str()),
                    transfer_file: csv_shown.as_deref(),
                    refused_file: refused_shown.as_deref(),
                    refused: i64::try_from(report.refused_count).unwrap_or(i64::MAX),
                },
            )
            .await?;
        // Counts and sums only: the refused households are named in the file, not in the log.
        let outcome = format!(
            "ok: run {run}: {} direct debits ({}), {} transfers ({}); {before}; {} direct debits refused",
            report.debits,
            cents(report.debit_sum),
            report.transfers,
            cents(report.transfer_sum),
            report.refused_count
        );
        audit.outcome = &outcome;
        append(&mut tx, &audit).await?;
        files.place()?;
        tx.commit().await?;
        files.keep();
        report.run = Some(run);
        Ok(report)
    }
}

/// A scratch file, removed when dropped.
struct Scratch {
    file: PartFile,
}

impl Scratch {
    fn create(path: &Path) -> Result<Scratch, AppError> {
        let mut options = std::fs::OpenOptions::new();
        // Read back when the file is put together.
        options.read(true).write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| AppError::BadInput(format!("cannot write {}: {e}", path.display())))?;
        Ok(Scratch {
            file: PartFile {
                out: std::io::BufWriter::new(file),
                path: path.to_owned(),
            },
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), AppError> {
        self.file.write(bytes)
    }

    /// Copies everything written so far into `to`.
    fn copy_into(&mut self, to: &mut PartFile) -> Result<(), AppError> {
        use std::io::{Seek, Write};
        self.file
            .out
            .flush()
            .map_err(|e| self.file.unavailable(e))?;
        let file = self.file.out.get_mut();
        file.rewind()
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        std::io::copy(file, &mut to.out).map_err(|e| to.unavailable(e))?;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file.path);
    }
}

impl App {
    async fn read_export_page(
        &self,
        key: &str,
        due: Date,
        cursor: Option<&HouseholdCursor>,
    ) -> Result<PageToExport, AppError> {
        let due_text = due.to_string();
        let (page, next) = self
            .store
            .dogtax_household_page(key, cursor, self.bulk_batch())
            .await?;
        let ids: Vec<String> = page.iter().map(|h| h.id.clone()).collect();
        // A year's installments fall due in it or early the next year; a later notice's
        // arrears a month after its issue (see `payment_plan`). A year of margin for both.
        let issued_since = due
            .replace_year(due.year() - 1)
            .unwrap_or_else(|_| due - time::Duration::days(366))
            .to_string();
        let notices = self
            .store
            .dogtax_notices_of(key, &ids, &due_text, due.year() - 1, &issued_since)
            .await?;
        // Committed by earlier runs: the lock keeps other exports of the tenant out, and this
        // run's own entries are for pages before this one. (Read in the transaction, a ledger
        // growing inside it would be planned as the empty table it was at its start.)
        let exported = self
            .store
            .dogtax_exported_claims_of(None, key, &due_text, &ids)
            .await?;
        Ok(PageToExport {
            page,
            next,
            notices,
            exported,
        })
    }
}

/// Every amount due on `due_text` from a page of households, in register order; `notices` are
/// theirs, issued on or before the due date, by household in the order of issue.
fn claims_of(
    households: Vec<Household>,
    notices: Vec<Notice>,
    due_text: &str,
) -> Result<Vec<Claim>, AppError> {
    let mut by_household: HashMap<String, Vec<NoticeContent>> = HashMap::new();
    for n in notices {
        let content: NoticeContent = serde_json::from_value(n.content)
            .map_err(|e| AppError::Internal(format!("notice {}: {e}", n.id)))?;
        by_household
            .entry(n.household_id)
            .or_default()
            .push(content);
    }
    let mut claims = Vec::new();
    for h in households {
        let mine = by_household.remove(&h.id).unwrap_or_default();
        if mine.is_empty() {
            continue;
        }
        let holder: HolderFacts =
            serde_json::from_value(h.holder).map_err(|e| AppError::Internal(e.to_string()))?;
        let payment: PaymentFacts =
            serde_json::from_value(h.payment).map_err(|e| AppError::Internal(e.to_string()))?;
        // The notices come in the order of issue; the last one of each year is in force. A
        // year's last installment may fall due early the next year, so every year counts.
        let mut years: Vec<i32> = mine
            .iter()
            .filter(|c| c.kind != super::NoticeKind::Fee)
            .map(|c| c.year)
            .collect();
        years.sort_unstable();
        years.dedup();
        for year in years {
            let Some(tax) = mine
                .iter()
                .rfind(|c| c.year == year && c.kind != super::NoticeKind::Fee)
            else {
                continue;
            };
            let amount = tax.due_on(due_text);
            if amount > Decimal::ZERO {
                claims.push(Claim {
                    household_id: h.id.clone(),
                    kassenzeichen: h.kassenzeichen.clone(),
                    holder: holder.clone(),
                    payment: payment.clone(),
                    amount,
                    purpose: format!(
                        "Hundesteuer {year} Kassenzeichen {} faellig {}",
                        h.kassenzeichen,
                        super::notice::german_date(due_text)
                    ),
                    tag: year.to_string(),
                });
            }
        }
        let fees: Decimal = mine
            .iter()
            .filter(|c| c.kind == super::NoticeKind::Fee)
            .map(|c| c.due_on(due_text))
            .sum();
        if fees > Decimal::ZERO {
            claims.push(Claim {
                household_id: h.id.clone(),
                kassenzeichen: h.kassenzeichen.clone(),
                holder,
                payment,
                amount: fees,
                purpose: format!("Gebuehr Ersatzmarke Kassenzeichen {}", h.kassenzeichen),
                tag: "G".to_owned(),
            });
        }
    }
    Ok(claims)
}

/// A pain.008.001.02 file for one due date, written as its direct debits come: each
/// transaction is made on its own, the header with their number and sum at the end.
struct Pain008 {
    message_id: String,
    created: String,
    due: Date,
    creditor_name: String,
    creditor_iban: String,
    creditor_agent: String,
    creditor_id: String,
}

/// A bank's identification: its BIC, or NOTPROVIDED (IBAN-only, as SEPA allows since 2016).
fn agent(bic: Option<&str>) -> String {
    match bic {
        Some(b) => format!("<FinInstnId><BIC>{}</BIC></FinInstnId>", xml(b)),
        None => "<FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId>".to_owned(),
    }
}

impl Pain008 {
    /// Checks the municipality's creditor data: without them no direct debit can go out.
    fn new(s: &super::register::Setting, due: Date, message_id: &str) -> Result<Pain008, AppError> {
        let a = &s.authority;
        let creditor_id: CreditorId = a
            .creditor_id
            .as_deref()
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "{} has no SEPA creditor identifier in its profile; direct debits cannot be exported",
                    a.title
                ))
            })?
            .parse()
            .map_err(|e: rathaus_domain::sepa::CreditorIdError| {
                AppError::BadInput(format!("the creditor identifier in the profile: {e}"))
            })?;
        let creditor_iban: Iban = a
            .iban
            .as_deref()
            .ok_or_else(|| {
                AppError::BadInput(format!(
                    "{} has no bank account in its profile; direct debits cannot be exported",
                    a.title
                ))
            })?
            .parse()
            .map_err(|e: rathaus_domain::sepa::IbanError| {
                AppError::BadInput(format!("the bank account in the profile: {e}"))
            })?;
        let now = to_berlin(s.now);
        Ok(Pain008 {
            message_id: message_id.to_owned(),
            created: format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                now.year(),
                u8::from(now.month()),
                now.day(),
                now.hour(),
                now.minute(),
                now.second()
            ),
            due,
            creditor_name: xml(&sepa_text(a.bank_holder.as_deref().unwrap_or(&a.title), 70)),
            creditor_iban: creditor_iban.electronic().to_owned(),
            creditor_agent: agent(a.bic.as_deref()),
            creditor_id: creditor_id.as_str().to_owned(),
        })
    }

    /// One direct debit (`DrctDbtTxInf`).
    fn transaction(&self, d: &Debit<'_>) -> String {
        let c = d.claim;
        let end_to_end = sepa_text(&format!("{}-{}-{}", c.kassenzeichen, c.tag, self.due), 35);
        let debtor = c
            .payment
            .account_holder
            .clone()
            .unwrap_or_else(|| c.holder.name.clone());
        let mut x = String::with_capacity(800);
        x.push_str("<DrctDbtTxInf>\n");
        x.push_str(&format!(
            "<PmtId><EndToEndId>{}</EndToEndId></PmtId>\n",
            xml(&end_to_end)
        ));
        x.push_str(&format!(
            "<InstdAmt Ccy=\"EUR\">{}</InstdAmt>\n",
            cents(c.amount)
        ));
        x.push_str(&format!(
            "<DrctDbtTx><MndtRltdInf><MndtId>{}</MndtId><DtOfSgntr>{}</DtOfSgntr></MndtRltdInf></DrctDbtTx>\n",
            xml(d.mandate.reference.as_str()),
            d.mandate.signed_on
        ));
        x.push_str(&format!("<DbtrAgt>{}</DbtrAgt>\n", agent(None)));
        x.push_str(&format!(
            "<Dbtr><Nm>{}</Nm></Dbtr>\n",
            xml(&sepa_text(&debtor, 70))
        ));
        x.push_str(&format!(
            "<DbtrAcct><Id><IBAN>{}</IBAN></Id></DbtrAcct>\n",
            d.iban.electronic()
        ));
        x.push_str(&format!(
            "<RmtInf><Ustrd>{}</Ustrd></RmtInf>\n",
            xml(&sepa_text(&c.purpose, 140))
        ));
        x.push_str("</DrctDbtTxInf>\n");
        x
    }

    /// The whole file: header, the transactions collected in `body`, and the closing tags.
    fn write_file(
        &self,
        to: &mut PartFile,
        body: &mut Scratch,
        count: usize,
        sum: Decimal,
    ) -> Result<(), AppError> {
        let msg_id = xml(&self.message_id);
        let (name, sum) = (&self.creditor_name, cents(sum));
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.008.001.02\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n");
        x.push_str("<CstmrDrctDbtInitn>\n<GrpHdr>\n");
        x.push_str(&format!("<MsgId>{msg_id}</MsgId>\n"));
        x.push_str(&format!("<CreDtTm>{}</CreDtTm>\n", self.created));
        x.push_str(&format!("<NbOfTxs>{count}</NbOfTxs>\n"));
        x.push_str(&format!("<CtrlSum>{sum}</CtrlSum>\n"));
        x.push_str(&format!("<InitgPty><Nm>{name}</Nm></InitgPty>\n"));
        x.push_str("</GrpHdr>\n<PmtInf>\n");
        x.push_str(&format!("<PmtInfId>{msg_id}-1</PmtInfId>\n"));
        x.push_str("<PmtMtd>DD</PmtMtd>\n<BtchBookg>true</BtchBookg>\n");
        x.push_str(&format!("<NbOfTxs>{count}</NbOfTxs>\n"));
        x.push_str(&format!("<CtrlSum>{sum}</CtrlSum>\n"));
        x.push_str("<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl><LclInstrm><Cd>CORE</Cd></LclInstrm><SeqTp>RCUR</SeqTp></PmtTpInf>\n");
        x.push_str(&format!("<ReqdColltnDt>{}</ReqdColltnDt>\n", self.due));
        x.push_str(&format!("<Cdtr><Nm>{name}</Nm></Cdtr>\n"));
        x.push_str(&format!(
            "<CdtrAcct><Id><IBAN>{}</IBAN></Id></CdtrAcct>\n",
            self.creditor_iban
        ));
        x.push_str(&format!("<CdtrAgt>{}</CdtrAgt>\n", self.creditor_agent));
        x.push_str("<ChrgBr>SLEV</ChrgBr>\n");
        x.push_str(&format!(
            "<CdtrSchmeId><Id><PrvtId><Othr><Id>{}</Id><SchmeNm><Prtry>SEPA</Prtry></SchmeNm></Othr></PrvtId></Id></CdtrSchmeId>\n",
            self.creditor_id
        ));
        to.write(x.as_bytes())?;
        body.copy_into(to)?;
        to.write(b"</PmtInf>\n</CstmrDrctDbtInitn>\n</Document>\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_fitted_to_the_sepa_character_set() {
        assert_eq!(sepa_text("Jürgen Weiß-Öztürk", 70), "Jürgen Weiß-Öztürk");
        assert_eq!(sepa_text("Zoë Čapek & Søn", 70), "Zoe Capek & Son");
        assert_eq!(sepa_text("a\u{1F415}b", 70), "a.b");
        assert_eq!(sepa_text("   ", 70), "NOTPROVIDED");
        assert_eq!(sepa_text(&"x".repeat(80), 70).len(), 70);
        assert_eq!(xml("A & B <c>"), "A &amp; B &lt;c&gt;");
        assert_eq!(csv_field("Müller; Lena"), "\"Müller; Lena\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(german_amount(Decimal::new(1150, 2)), "11,50");
    }

    fn write(files: &mut PendingFiles, path: &Path, bytes: &[u8]) -> Result<(), AppError> {
        let mut file = files.create(path)?;
        file.write(bytes)?;
        file.finish()
    }

    fn names(dir: &Path) -> Result<Vec<String>, std::io::Error> {
        let mut names = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        names.sort();
        Ok(names)
    }

    #[test]
    fn files_carry_their_name_only_when_the_export_completes()
    -> Result<(), Box<dyn std::error::Error>> {
        let dir = rathaus_store::testing::TempDir::new()?;
        let (xml, csv) = (dir.path().join("a.xml"), dir.path().join("b.csv"));
        let mut files = PendingFiles::default();
        write(&mut files, &xml, b"<Document/>")?;
        write(&mut files, &csv, b"x")?;
        assert_eq!(names(dir.path())?, ["a.xml.part", "b.csv.part"]);
        // The second rename fails (a directory took the name meanwhile): the first file loses
        // its name again and nothing that looks complete stays behind.
        std::fs::create_dir(&csv)?;
        assert!(files.place().is_err());
        drop(files);
        assert_eq!(names(dir.path())?, ["b.csv"]);
        assert!(csv.is_dir());

        let mut files = PendingFiles::default();
        write(&mut files, &xml, b"<Document/>")?;
        files.place()?;
        files.keep();
        assert_eq!(std::fs::read(&xml)?, b"<Document/>");
        Ok(())
    }
}

//! The annual assessment (Jahresveranlagung): every household of the register gets its tax notice
//! for the year in one run, stored in one transaction (all or nothing). Households that already
//! have a notice for the year (e.g. registered during it) are left alone, so a second run issues
//! nothing twice.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rathaus_crypto::token::new_record_id;
use rathaus_domain::dogtax::DogEntry;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::dogtax::NewNotice;
use rust_decimal::Decimal;
use time::Date;

use super::facts::{HolderFacts, PaymentFacts};
use super::notice::{Due, NoticeContent, NoticeKind, notice_dogs, render};
use super::register::RegisterDog;
use super::schedule::{first_of_year, payment_plan, year_tax};
use crate::{Actor, App, AppError};

/// Told how far the run has come; the CLI draws its progress bar from it.
pub trait Progress: Sync {
    fn begin(&self, phase: &str, total: usize);
    fn advance(&self, done: usize);
    fn finish(&self);
}

/// Progress that is not shown.
pub struct Quiet;

impl Progress for Quiet {
    fn begin(&self, _phase: &str, _total: usize) {}
    fn advance(&self, _done: usize) {}
    fn finish(&self) {}
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssessReport {
    pub year: i32,
    pub issued_on: Date,
    pub households: usize,
    /// Notices issued by this run.
    pub issued: usize,
    /// Households that already had a notice for the year.
    pub already_assessed: usize,
    /// Households without any dog kept in the year.
    pub without_dogs: usize,
    /// Sum of the year's tax over the notices issued.
    pub total: Decimal,
    /// PDFs written, when a directory was given.
    pub pdfs: Vec<PathBuf>,
}

impl App {
    /// Issues the year's notices for every household of a municipality. `issued_on` defaults to
    /// today; installments due before it are merged as in any first notice.
    pub async fn dogtax_assess(
        &self,
        actor: &Actor,
        reference: &str,
        year: i32,
        issued_on: Option<Date>,
        pdf_dir: Option<&Path>,
        progress: &dyn Progress,
    ) -> Result<AssessReport, AppError> {
        let tenant = self.dogtax_municipality(reference).await?;
        let mut s = self.dogtax_setting(tenant.key.as_str()).await?;
        if let Some(d) = issued_on {
            s.today = d;
        }
        let key = tenant.key.as_str();
        if s.history.valid_on(first_of_year(year)).is_none() {
            return Err(AppError::BadInput(format!(
                "{} has no dog-tax statute in force on {year}-01-01; set one with `rathaus dogtax statute set`",
                tenant.title()
            )));
        }
        let households = self.store.dogtax_households(None, key).await?;
        let mut dogs: HashMap<String, Vec<RegisterDog>> = HashMap::new();
        for d in self.store.dogtax_dogs(None, key, None).await? {
            let d = RegisterDog::read(d)?;
            dogs.entry(d.row.household_id.clone()).or_default().push(d);
        }
        let assessed: HashSet<String> = self
            .store
            .dogtax_assessed_households(key, year)
            .await?
            .into_iter()
            .collect();
        let last_numbers: HashMap<String, i64> = self
            .store
            .dogtax_last_notice_numbers(key)
            .await?
            .into_iter()
            .collect();
        let statute = s.history.valid_on(first_of_year(year));
        let mut report = AssessReport {
            year,
            issued_on: s.today,
            households: households.len(),
            issued: 0,
            already_assessed: 0,
            without_dogs: 0,
            total: Decimal::ZERO,
            pdfs: Vec::new(),
        };
        progress.begin("notices", households.len());
        let mut contents = Vec::new();
        let mut tx = self.store.begin().await?;
        for (i, h) in households.iter().enumerate() {
            progress.advance(i + 1);
            if assessed.contains(&h.id) {
                report.already_assessed += 1;
                continue;
            }
            let kept: Vec<&RegisterDog> = dogs
                .get(&h.id)
                .map(|list| list.iter().filter(|d| d.kept_in(year)).collect())
                .unwrap_or_default();
            if kept.is_empty() {
                report.without_dogs += 1;
                continue;
            }
            let entries: Vec<DogEntry> = kept
                .iter()
                .map(|d| d.facts.entry())
                .collect::<Result<_, _>>()?;
            let tax = year_tax(&s.history, &entries, year).map_err(|errors| {
                AppError::BadInput(format!(
                    "household {}: {}",
                    h.kassenzeichen,
                    errors
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            })?;
            let plan = payment_plan(Decimal::ZERO, &tax.schedule, s.today);
            let holder: HolderFacts = serde_json::from_value(h.holder.clone())
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let payment: PaymentFacts = serde_json::from_value(h.payment.clone())
                .map_err(|e| AppError::Internal(e.to_string()))?;
            let content = NoticeContent {
                kind: NoticeKind::Tax,
                year,
                issued_on: s.today.to_string(),
                issued_at_ms: super::unix_ms(s.now),
                case_reference: None,
                kassenzeichen: h.kassenzeichen.clone(),
                authority: s.authority.clone(),
                holder,
                statute_valid_from: statute.map(|st| st.valid_from().to_string()),
                dogs: notice_dogs(
                    tax.assessment.as_ref(),
                    statute,
                    &kept.iter().map(|d| d.row.tag.clone()).collect::<Vec<_>>(),
                    &kept
                        .iter()
                        .map(|d| d.facts.kept_until.clone())
                        .collect::<Vec<_>>(),
                    &kept
                        .iter()
                        .map(|d| d.facts.dangerous.is_some())
                        .collect::<Vec<_>>(),
                    &kept
                        .iter()
                        .map(|d| (d.facts.exemption.clone(), d.facts.reduction.clone()))
                        .collect::<Vec<_>>(),
                ),
                schedule: tax.schedule.iter().map(Due::from_installment).collect(),
                installments: plan
                    .installments
                    .iter()
                    .map(Due::from_installment)
                    .collect(),
                total: tax.total(),
                previous_total: None,
                refund: plan.refund,
                payment,
                ending: None,
                fee: None,
            };
            let id = new_record_id(self.rng.as_ref())?;
            let value =
                serde_json::to_value(&content).map_err(|e| AppError::Internal(e.to_string()))?;
            let issued_on = s.today.to_string();
            self.store
                .insert_dogtax_notice(
                    &mut tx,
                    &NewNotice {
                        seq: Some(last_numbers.get(&h.id).copied().unwrap_or(0) + 1),
                        id: &id,
                        tenant_key: key,
                        household_id: &h.id,
                        year,
                        kind: NoticeKind::Tax.code(),
                        case_id: None,
                        issued_on: &issued_on,
                        content: &value,
                        now: s.now,
                    },
                )
                .await?;
            report.issued += 1;
            report.total += content.total;
            if pdf_dir.is_some() {
                contents.push(content);
            }
        }
        progress.finish();
        let actor_name = actor.audit_name();
        let object = format!("dogtax-assessment:{key}:{year}");
        let outcome = format!(
            "ok: {} notices, {} already assessed",
            report.issued, report.already_assessed
        );
        append(
            &mut tx,
            &NewAuditEntry {
                at: s.now,
                actor: &actor_name,
                tenant: Some(key),
                action: "dogtax.assess",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        tx.commit().await?;
        self.store.dogtax_refresh_statistics().await?;
        if let Some(dir) = pdf_dir {
            report.pdfs = write_pdfs(dir, contents, progress).await?;
        }
        Ok(report)
    }
}

/// Renders the notices into `dir` on every core (rendering is the slow part of a run).
async fn write_pdfs(
    dir: &Path,
    contents: Vec<NoticeContent>,
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>, AppError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| AppError::BadInput(format!("cannot create {}: {e}", dir.display())))?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let total = contents.len();
    progress.begin("PDFs", total);
    let chunk = total.div_ceil(workers).max(1);
    let mut handles = Vec::new();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut rest = contents;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        let part = std::mem::replace(&mut rest, tail);
        let dir = dir.to_path_buf();
        let done = done.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            let mut written = Vec::new();
            for c in part {
                let pdf = render(std::slice::from_ref(&c))?;
                let path = dir.join(format!("{}-{}.pdf", c.kassenzeichen, c.year));
                write_private(&path, &pdf)?;
                written.push(path);
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<_, AppError>(written)
        }));
    }
    let mut paths = Vec::new();
    let mut pending: Vec<_> = handles.into_iter().collect();
    while !pending.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        progress.advance(done.load(std::sync::atomic::Ordering::Relaxed));
        let mut still = Vec::new();
        for h in pending {
            if h.is_finished() {
                let written = h
                    .await
                    .map_err(|e| AppError::Internal(format!("rendering: {e}")))??;
                paths.extend(written);
            } else {
                still.push(h);
            }
        }
        pending = still;
    }
    progress.advance(total);
    progress.finish();
    paths.sort();
    Ok(paths)
}

/// Files with personal data are readable by their owner only.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AppError> {
    use std::io::Write;
    create_private(path)?
        .write_all(bytes)
        .map_err(|e| AppError::Unavailable(format!("cannot write {}: {e}", path.display())))
}

/// Creates (or empties) a file readable by its owner only.
pub(crate) fn create_private(path: &Path) -> Result<std::fs::File, AppError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| AppError::BadInput(format!("cannot write {}: {e}", path.display())))
}

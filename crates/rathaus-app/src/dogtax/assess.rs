//! The annual assessment (Jahresveranlagung): every household of the register gets its tax notice
//! for the year. The register is read a page at a time (`bulk_batch` households) and each page's
//! notices are stored in one transaction with its audit entry, so memory stays bounded whatever
//! the size of the municipality, and the database writer is never held for long. A run that stops
//! half-way (interrupted, or the machine went down) keeps the pages it stored; running it again
//! issues the rest. Households that already have a notice for the year (e.g. registered during
//! it) are left alone, and the database holds at most one annual notice per household and year,
//! so no run, resumed or concurrent, issues anything twice.

use std::collections::HashMap;
use std::path::Path;

use rathaus_crypto::token::new_record_id;
use rathaus_domain::dogtax::DogEntry;
use rathaus_domain::localtime::to_unix_ms;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::dogtax::{Household, NewNotice};
use rathaus_store::dogtax_pages::{HouseholdCursor, NoticeMarks};
use rust_decimal::Decimal;
use time::Date;

use super::facts::{HolderFacts, PaymentFacts};
use super::notice::{Due, NoticeContent, NoticeKind, notice_dogs};
use super::register::{RegisterDog, Setting};
use super::schedule::{first_of_year, payment_plan, year_tax};
use crate::{Actor, App, AppError};

/// Told how far a run has come (the CLI draws its progress bar from it), and asked whether to
/// stop: a run that is told to stop finishes the page at hand and returns, and the next run
/// continues where it stopped.
pub trait Progress: Sync {
    fn begin(&self, phase: &str, total: usize);
    fn advance(&self, done: usize);
    fn finish(&self);
    /// Whether the run should stop after the work at hand (e.g. the operator pressed Ctrl-C).
    fn stopped(&self) -> bool {
        false
    }
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
    /// What printing the year's notices did, when a directory was given.
    pub printed: Option<super::printing::PrintReport>,
    /// The run stopped before it was through (see [`Progress::stopped`]); run it again to go on.
    pub interrupted: bool,
}

/// A page of the register read for assessing, with what its households already have.
struct PageToAssess {
    page: Vec<Household>,
    next: Option<HouseholdCursor>,
    marks: HashMap<String, NoticeMarks>,
    dogs: HashMap<String, Vec<RegisterDog>>,
}

/// A page of the register assessed, its notices not stored yet.
struct AssessedPage {
    households: usize,
    next: Option<HouseholdCursor>,
    issued: Vec<Issued>,
    already_assessed: usize,
    without_dogs: usize,
}

/// A notice computed for a household, before it is stored.
struct Issued {
    household_id: String,
    content: NoticeContent,
}

impl App {
    /// Issues the year's notices for every household of a municipality. `issued_on` defaults to
    /// today; installments due before it are merged as in any first notice. With `pdf_dir`, the
    /// year's annual notices are then printed there (see [`App::dogtax_print_notices`]).
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
        let batch = self.bulk_batch();
        let mut report = AssessReport {
            year,
            issued_on: s.today,
            households: usize::try_from(self.store.dogtax_register_counts(key).await?.0)
                .unwrap_or(usize::MAX),
            issued: 0,
            already_assessed: 0,
            without_dogs: 0,
            total: Decimal::ZERO,
            printed: None,
            interrupted: false,
        };
        let actor_name = actor.audit_name();
        let object = format!("dogtax-assessment:{key}:{year}");
        progress.begin("notices", report.households);
        // The next page is read and computed while the one at hand is stored: the reads go
        // through the pool and concern other households, so the database and the process work
        // at the same time.
        let first = self.read_assessment_page(key, year, None, batch).await?;
        let mut prepared = assess_page(&s, year, first)?;
        let mut seen = 0;
        loop {
            if progress.stopped() {
                report.interrupted = true;
                break;
            }
            let AssessedPage {
                households,
                next,
                issued,
                already_assessed,
                without_dogs,
            } = prepared;
            seen += households;
            report.already_assessed += already_assessed;
            report.without_dogs += without_dogs;
            let store = async {
                if issued.is_empty() {
                    return Ok(());
                }
                self.store_page(&s, year, issued, &actor_name, &object, &mut report)
                    .await
            };
            let prepare_next = async {
                let Some(cursor) = &next else {
                    return Ok(None);
                };
                let page = self
                    .read_assessment_page(key, year, Some(cursor), batch)
                    .await?;
                assess_page(&s, year, page).map(Some)
            };
            let (stored, ahead) = tokio::join!(store, prepare_next);
            stored?;
            progress.advance(seen);
            match ahead? {
                Some(page) => prepared = page,
                None => break,
            }
        }
        progress.finish();
        // The run's outcome, also when nothing was left to do or it was interrupted.
        let outcome = format!(
            "{}: {} notices, {} already assessed, {} without dogs",
            if report.interrupted {
                "interrupted"
            } else {
                "ok"
            },
            report.issued,
            report.already_assessed,
            report.without_dogs
        );
        let mut tx = self.store.begin().await?;
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
        if let Some(dir) = pdf_dir
            && !report.interrupted
        {
            let printed = self
                .dogtax_print_notices(reference, year, dir, progress)
                .await?;
            report.interrupted = printed.interrupted;
            report.printed = Some(printed);
        }
        Ok(report)
    }

    /// Households a bulk step holds at a time.
    pub(crate) fn bulk_batch(&self) -> usize {
        usize::try_from(self.config.bulk_batch).unwrap_or(1).max(1)
    }

    /// A page of the register with what assessing it needs: its households' notice marks for
    /// the year and the dogs of those not assessed yet.
    async fn read_assessment_page(
        &self,
        key: &str,
        year: i32,
        cursor: Option<&HouseholdCursor>,
        batch: usize,
    ) -> Result<PageToAssess, AppError> {
        let (page, next) = self.store.dogtax_household_page(key, cursor, batch).await?;
        let ids: Vec<String> = page.iter().map(|h| h.id.clone()).collect();
        let marks = self
            .store
            .dogtax_notice_marks(None, key, year, &ids)
            .await?;
        let unassessed: Vec<String> = ids
            .into_iter()
            .filter(|id| !marks.get(id).is_some_and(|m| m.assessed))
            .collect();
        let mut dogs: HashMap<String, Vec<RegisterDog>> = HashMap::new();
        for d in self.store.dogtax_dogs_of(key, &unassessed).await? {
            let d = RegisterDog::read(d)?;
            dogs.entry(d.row.household_id.clone()).or_default().push(d);
        }
        Ok(PageToAssess {
            page,
            next,
            marks,
            dogs,
        })
    }
}

/// Computes the notices of one page of households, leaving out those assessed already.
fn assess_page(s: &Setting, year: i32, read: PageToAssess) -> Result<AssessedPage, AppError> {
    let PageToAssess {
        page,
        next,
        marks,
        dogs,
    } = read;
    let mut done = AssessedPage {
        households: page.len(),
        next,
        issued: Vec::new(),
        already_assessed: 0,
        without_dogs: 0,
    };
    let statute = s.history.valid_on(first_of_year(year));
    for h in page {
        if marks.get(&h.id).is_some_and(|m| m.assessed) {
            done.already_assessed += 1;
            continue;
        }
        let kept: Vec<&RegisterDog> = dogs
            .get(&h.id)
            .map(|list| list.iter().filter(|d| d.kept_in(year)).collect())
            .unwrap_or_default();
        if kept.is_empty() {
            done.without_dogs += 1;
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
        let holder: HolderFacts =
            serde_json::from_value(h.holder).map_err(|e| AppError::Internal(e.to_string()))?;
        let payment: PaymentFacts =
            serde_json::from_value(h.payment).map_err(|e| AppError::Internal(e.to_string()))?;
        let content = NoticeContent {
            kind: NoticeKind::Tax,
            year,
            issued_on: s.today.to_string(),
            issued_at_ms: to_unix_ms(s.now),
            case_reference: None,
            kassenzeichen: h.kassenzeichen,
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
        done.issued.push(Issued {
            household_id: h.id,
            content,
        });
    }
    Ok(done)
}

impl App {
    /// Stores one page's notices and its audit entry in one transaction. The page is checked
    /// again inside it: a notice another run stored meanwhile is not issued twice.
    async fn store_page(
        &self,
        s: &Setting,
        year: i32,
        issued: Vec<Issued>,
        actor_name: &str,
        object: &str,
        report: &mut AssessReport,
    ) -> Result<(), AppError> {
        let key = s.tenant.key.as_str();
        let ids: Vec<String> = issued.iter().map(|i| i.household_id.clone()).collect();
        let issued_on = s.today.to_string();
        let mut tx = self.store.begin_bulk().await?;
        let marks = self
            .store
            .dogtax_notice_marks(Some(&mut tx), key, year, &ids)
            .await?;
        let (mut count, mut sum) = (0, Decimal::ZERO);
        let mut rows = Vec::with_capacity(issued.len());
        for i in issued {
            let mark = marks.get(&i.household_id).copied().unwrap_or_default();
            if mark.assessed {
                report.already_assessed += 1;
                continue;
            }
            let id = new_record_id(self.rng.as_ref())?;
            let value =
                serde_json::to_value(&i.content).map_err(|e| AppError::Internal(e.to_string()))?;
            count += 1;
            sum += i.content.total;
            rows.push((id, i.household_id, mark.last_seq + 1, value));
        }
        let notices: Vec<NewNotice<'_>> = rows
            .iter()
            .map(|(id, household_id, seq, content)| NewNotice {
                seq: Some(*seq),
                id,
                tenant_key: key,
                household_id,
                year,
                kind: NoticeKind::Tax.code(),
                case_id: None,
                issued_on: &issued_on,
                content,
                now: s.now,
            })
            .collect();
        self.store
            .insert_dogtax_notices(&mut tx, key, &notices)
            .await
            .map_err(|e| match e {
                rathaus_store::StoreError::Conflict(_) => AppError::Conflict(format!(
                    "another run is assessing {} for {year} at the same time; run it again once that one has ended",
                    s.tenant.title()
                )),
                other => other.into(),
            })?;
        let outcome = format!("ok: {count} notices stored");
        append(
            &mut tx,
            &NewAuditEntry {
                at: s.now,
                actor: actor_name,
                tenant: Some(key),
                action: "dogtax.assess.page",
                object,
                outcome: &outcome,
            },
        )
        .await?;
        tx.commit().await?;
        report.issued += count;
        report.total += sum;
        Ok(())
    }
}

//! Taking over an existing register (from the municipality's previous procedure, or generated for
//! a benchmark): one household per line of JSON, all lines or none.
//!
//! ```json
//! {"kassenzeichen": null,
//!  "holder": {"name": "…", "street": "…", "postcode": "16341", "city": "Panketal"},
//!  "payment": {"method": "debit", "iban": "DE…", "account_holder": "…", "mandate_reference": "…", "mandate_date": "2020-01-01"},
//!  "dogs": [{"name": "Bello", "breed": "…", "kept_from": "2020-05-01", "kept_until": null,
//!            "dangerous": null, "exemption": null, "reduction": null}]}
//! ```
//! `payment` may be `{"method": "transfer"}`; `kassenzeichen` null draws the next of the series;
//! every dog gets a new tag from the municipality's series.

use std::io::BufRead;
use std::path::Path;

use rathaus_crypto::token::new_record_id;
use rathaus_domain::sepa::{Iban, MandateReference};
use rathaus_domain::service::form::parse_date;
use rathaus_store::audit::{NewAuditEntry, append};
use rathaus_store::cases::reserve_reference_numbers;
use rathaus_store::dogtax::{NewDog, NewHousehold, NewRegisterEvent};
use serde::Deserialize;
use serde_json::json;

use super::assess::Progress;
use super::facts::{DogFacts, HolderFacts, PaymentFacts};
use super::register::{KASSENZEICHEN_SERIES, TAG_SERIES, kassenzeichen, tag_number};
use crate::{Actor, App, AppError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub households: usize,
    pub dogs: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    kassenzeichen: Option<String>,
    holder: HolderFacts,
    payment: PaymentFacts,
    dogs: Vec<DogFacts>,
}

fn check(line: &Line) -> Result<(), String> {
    for (field, value) in [
        ("holder.name", &line.holder.name),
        ("holder.street", &line.holder.street),
        ("holder.postcode", &line.holder.postcode),
        ("holder.city", &line.holder.city),
    ] {
        if value.trim().is_empty() {
            return Err(format!("{field} is missing"));
        }
    }
    match line.payment.method.as_str() {
        "transfer" => {}
        "debit" => {
            let iban = line.payment.iban.as_deref().unwrap_or_default();
            iban.parse::<Iban>()
                .map_err(|e| format!("payment.iban: {e}"))?;
            MandateReference::new(
                line.payment
                    .mandate_reference
                    .as_deref()
                    .unwrap_or_default(),
            )
            .map_err(|e| format!("payment.mandate_reference: {e}"))?;
            if line
                .payment
                .mandate_date
                .as_deref()
                .and_then(parse_date)
                .is_none()
            {
                return Err("payment.mandate_date must be a date like 2020-01-31".into());
            }
        }
        _ => return Err("payment.method must be \"debit\" or \"transfer\"".into()),
    }
    if line.dogs.is_empty() {
        return Err("dogs: at least one dog is needed".into());
    }
    for (i, d) in line.dogs.iter().enumerate() {
        if d.name.trim().is_empty() {
            return Err(format!("dogs[{i}].name is missing"));
        }
        let from = parse_date(&d.kept_from)
            .ok_or_else(|| format!("dogs[{i}].kept_from must be a date like 2020-01-31"))?;
        if let Some(until) = &d.kept_until {
            let until = parse_date(until)
                .ok_or_else(|| format!("dogs[{i}].kept_until must be a date like 2020-01-31"))?;
            if until < from {
                return Err(format!("dogs[{i}].kept_until lies before kept_from"));
            }
        }
    }
    Ok(())
}

/// Where a register to take over comes from; it is read twice (checked whole, then imported),
/// a line at a time.
#[derive(Debug, Clone, Copy)]
pub enum RegisterSource<'a> {
    File(&'a Path),
    Text(&'a str),
}

impl RegisterSource<'_> {
    fn open(&self) -> Result<Box<dyn BufRead + '_>, AppError> {
        match self {
            RegisterSource::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| {
                    AppError::BadInput(format!("cannot read {}: {e}", path.display()))
                })?;
                Ok(Box::new(std::io::BufReader::new(file)))
            }
            RegisterSource::Text(text) => Ok(Box::new(text.as_bytes())),
        }
    }

    /// The register's lines, numbered from 1, blank lines left out, each parsed and checked.
    fn lines(
        &self,
    ) -> Result<impl Iterator<Item = Result<(usize, Line), AppError>> + '_, AppError> {
        let reader = self.open()?;
        Ok(reader.lines().enumerate().filter_map(|(n, raw)| {
            let raw = match raw {
                Ok(raw) => raw,
                Err(e) => {
                    return Some(Err(AppError::BadInput(format!(
                        "line {}: cannot be read: {e}",
                        n + 1
                    ))));
                }
            };
            if raw.trim().is_empty() {
                return None;
            }
            Some(parse_line(n + 1, &raw).map(|line| (n + 1, line)))
        }))
    }
}

fn parse_line(n: usize, raw: &str) -> Result<Line, AppError> {
    let line: Line = serde_json::from_str(raw).map_err(|e| {
        AppError::BadInput(format!(
            "line {n}: not a register line (column {}: {:?})",
            e.column(),
            e.classify()
        ))
    })?;
    check(&line).map_err(|m| AppError::BadInput(format!("line {n}: {m}")))?;
    Ok(line)
}

impl App {
    /// Takes over a register (JSON, one household a line) for a municipality: every line is
    /// checked first, then all are imported in one transaction, a page of `bulk_batch` lines at
    /// a time in memory. Errors name the line and the field, never the data.
    pub async fn dogtax_import(
        &self,
        actor: &Actor,
        reference: &str,
        source: RegisterSource<'_>,
        progress: &dyn Progress,
    ) -> Result<ImportReport, AppError> {
        let tenant = self.dogtax_municipality(reference).await?;
        let key = tenant.key.as_str();
        let mut total = 0;
        for line in source.lines()? {
            line?;
            total += 1;
        }
        {
            let mut tx = self.store.begin().await?;
            self.store
                .ensure_tenant_key(&mut tx, key, self.now())
                .await?;
            tx.commit().await?;
        }
        let now = self.now();
        let actor_name = actor.audit_name();
        let mut report = ImportReport {
            households: 0,
            dogs: 0,
        };
        progress.begin("households", total);
        let index_key = self.holder_index_key(key).await?;
        let mut tx = self.store.begin_bulk().await?;
        let mut lines = source.lines()?;
        loop {
            let page: Vec<(usize, Line)> = lines
                .by_ref()
                .take(self.bulk_batch())
                .collect::<Result<_, _>>()?;
            if page.is_empty() {
                break;
            }
            // The page's Kassenzeichen and tag numbers, drawn from their series at once.
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            let without_kz = page
                .iter()
                .filter(|(_, l)| l.kassenzeichen.is_none())
                .count();
            let tags_needed = page
                .iter()
                .flat_map(|(_, l)| &l.dogs)
                .filter(|d| d.kept_until.is_none())
                .count();
            let mut next_kz = if without_kz > 0 {
                reserve_reference_numbers(&mut tx, key, KASSENZEICHEN_SERIES, 0, count(without_kz))
                    .await?
            } else {
                0
            };
            let mut next_tag = if tags_needed > 0 {
                reserve_reference_numbers(&mut tx, key, TAG_SERIES, 0, count(tags_needed)).await?
            } else {
                0
            };
            // The page's rows, written with a handful of statements.
            let mut households = Vec::with_capacity(page.len());
            let mut dogs = Vec::new();
            let mut tags = Vec::new();
            let mut events = Vec::with_capacity(page.len());
            let mut given_here = std::collections::HashSet::new();
            for (n, line) in &page {
                let id = new_record_id(self.rng.as_ref())?;
                let kz = match &line.kassenzeichen {
                    Some(k) => {
                        let taken = !given_here.insert(k.clone())
                            || self
                                .store
                                .dogtax_household_by_kassenzeichen(Some(&mut tx), key, k)
                                .await?
                                .is_some();
                        if taken {
                            return Err(AppError::BadInput(format!(
                                "line {n}: Kassenzeichen {k} is already in use"
                            )));
                        }
                        k.clone()
                    }
                    None => {
                        next_kz += 1;
                        kassenzeichen(next_kz - 1)
                    }
                };
                let holder = serde_json::to_value(&line.holder)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let payment = serde_json::to_value(&line.payment)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let mut entries = Vec::new();
                for (i, facts) in line.dogs.iter().enumerate() {
                    let dog_id = new_record_id(self.rng.as_ref())?;
                    let facts_v = serde_json::to_value(facts)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    // A dog the earlier register knows as gone is taken over as ended, without a tag.
                    let ended = facts.kept_until.is_some();
                    let tag = (!ended).then(|| {
                        next_tag += 1;
                        tag_number(next_tag - 1)
                    });
                    if let Some(t) = &tag {
                        tags.push((t.clone(), dog_id.clone()));
                    }
                    entries.push(json!({"id": dog_id, "tag": tag, "facts": facts_v}));
                    let entry_no = i64::try_from(i).unwrap_or(i64::MAX - 1) + 1;
                    dogs.push((dog_id, id.clone(), entry_no, ended, facts_v));
                    report.dogs += 1;
                }
                let index = line.holder.index(index_key.secret(), key)?;
                let snapshot = json!({"holder": holder, "payment": payment, "kassenzeichen": kz, "dogs": entries});
                events.push((id.clone(), snapshot));
                households.push((id, kz, holder, index, payment, line.payment.method.as_str()));
                report.households += 1;
            }
            let rows: Vec<NewHousehold<'_>> = households
                .iter()
                .map(|(id, kz, holder, index, payment, method)| NewHousehold {
                    id,
                    tenant_key: key,
                    kassenzeichen: kz,
                    payment_method: method,
                    holder,
                    holder_index: index,
                    payment,
                    now,
                })
                .collect();
            self.store.insert_dogtax_households(&mut tx, &rows).await?;
            let rows: Vec<NewDog<'_>> = dogs
                .iter()
                .map(|(id, household_id, entry_no, ended, facts)| NewDog {
                    entry_no: Some(*entry_no),
                    id,
                    tenant_key: key,
                    household_id,
                    status: if *ended { "ended" } else { "active" },
                    facts,
                    now,
                })
                .collect();
            self.store.insert_dogtax_dogs(&mut tx, key, &rows).await?;
            let rows: Vec<(&str, &str)> = tags
                .iter()
                .map(|(tag, dog)| (tag.as_str(), dog.as_str()))
                .collect();
            self.store
                .insert_dogtax_tags(&mut tx, key, &rows, now)
                .await?;
            let rows: Vec<NewRegisterEvent<'_>> = events
                .iter()
                .map(|(household_id, snapshot)| NewRegisterEvent {
                    seq: Some(1),
                    tenant_key: key,
                    household_id,
                    dog_id: None,
                    actor: &actor_name,
                    kind: "imported",
                    case_id: None,
                    snapshot,
                    now,
                })
                .collect();
            self.store.append_dogtax_events(&mut tx, key, &rows).await?;
            progress.advance(report.households);
            if report.households > total {
                // The file grew between the check and the import: what was not checked is not taken.
                return Err(AppError::BadInput(
                    "the register changed while it was imported; nothing was imported".into(),
                ));
            }
        }
        progress.finish();
        let object = format!("dogtax-register:{key}");
        let outcome = format!(
            "ok: {} households, {} dogs imported",
            report.households, report.dogs
        );
        append(
            &mut tx,
            &NewAuditEntry {
                at: now,
                actor: &actor_name,
                tenant: Some(key),
                action: "dogtax.import",
                object: &object,
                outcome: &outcome,
            },
        )
        .await?;
        tx.commit().await?;
        self.store.dogtax_refresh_statistics().await?;
        Ok(report)
    }
}

//! The calculation: which dog is liable in which month, at which rate, and when the money is due.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Month};

use super::request::{
    FieldError, MONTHS, QuoteRequest, first_of_month, parse_and_validate, validate,
};
use super::statute::{InstallmentSchedule, LiabilityStart, RateModel, Statute, StatuteHistory};
use super::{dates, money};

pub const CURRENCY: &str = "EUR";

/// What the citizen sees before submitting: the year's tax per dog and the installments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub tenant: String,
    pub year: i32,
    pub currency: String,
    pub dogs: Vec<DogLine>,
    pub installments: Vec<Installment>,
    #[serde(with = "money")]
    pub total: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DogLine {
    pub name: String,
    /// Months in which the dog is liable and not exempt.
    pub months: u32,
    /// For information: the installments, not these amounts, are what is owed.
    #[serde(with = "money")]
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installment {
    #[serde(with = "dates")]
    pub due: Date,
    #[serde(with = "money")]
    pub amount: Decimal,
}

/// The full working behind a quote, month by month, for staff and for explaining a Bescheid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    pub year: i32,
    pub assessment_date: Date,
    pub dogs: Vec<DogAssessment>,
    pub installments: Vec<Installment>,
    pub total: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DogAssessment {
    pub name: String,
    /// January to December.
    pub months: [MonthStatus; 12],
    /// The dog's monthly amounts over the year, rounded to cents once at the end.
    pub amount: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonthStatus {
    NotLiable,
    Exempt { code: String },
    Charged(Charge),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// The Satzung's annual rate that applies to the dog in this month.
    pub annual_rate: Decimal,
    pub reduction_percent: u8,
    /// 1-based place among the month's charged dogs of its kind (dangerous or not).
    pub position: usize,
    pub dangerous: bool,
}

impl Charge {
    /// The annual rate less the reduction; exact, as rates have cents and percents are whole.
    pub fn annual_after_reduction(&self) -> Decimal {
        self.annual_rate * Decimal::from(100 - u32::from(self.reduction_percent.min(100)))
            / Decimal::ONE_HUNDRED
    }

    /// One twelfth of [`Charge::annual_after_reduction`], unrounded.
    pub fn monthly_amount(&self) -> Decimal {
        self.annual_after_reduction() / Decimal::from(12)
    }
}

impl DogAssessment {
    pub fn charged_months(&self) -> u32 {
        let charged = self
            .months
            .iter()
            .filter(|m| matches!(m, MonthStatus::Charged(_)))
            .count();
        u32::try_from(charged).unwrap_or(u32::MAX)
    }
}

/// The year's tax for the request. `today` stands in for a missing `assessment_date`.
pub fn quote(
    history: &StatuteHistory,
    tenant: &str,
    request: &QuoteRequest,
    today: Date,
) -> Result<Quote, Vec<FieldError>> {
    let assessment = assess(history, request, today)?;
    Ok(Quote {
        tenant: tenant.to_owned(),
        year: assessment.year,
        currency: CURRENCY.to_owned(),
        dogs: assessment
            .dogs
            .iter()
            .map(|dog| DogLine {
                name: dog.name.clone(),
                months: dog.charged_months(),
                amount: dog.amount,
            })
            .collect(),
        installments: assessment.installments,
        total: assessment.total,
    })
}

/// [`quote`] straight from request JSON: every malformed field and every broken rule comes back at
/// once, each naming its field.
pub fn quote_json(
    history: &StatuteHistory,
    tenant: &str,
    request: &Value,
    today: Date,
) -> Result<Quote, Vec<FieldError>> {
    let request = parse_and_validate(history, request)?;
    quote(history, tenant, &request, today)
}

/// What giving up one dog on `kept_until` changes in the year's total: before minus after, so a
/// positive amount is a credit to the citizen. Other dogs may move up a place and pay a lower rate;
/// that is part of the difference.
pub fn deregistration_delta(
    history: &StatuteHistory,
    request: &QuoteRequest,
    dog: usize,
    kept_until: Date,
    today: Date,
) -> Result<Decimal, Vec<FieldError>> {
    let mut after = request.clone();
    let Some(entry) = after.dogs.get_mut(dog) else {
        return Err(vec![FieldError::new(
            format!("dogs[{dog}]"),
            "there is no such dog in the registration",
            "Dieser Hund ist nicht angemeldet.",
        )]);
    };
    entry.kept_until = Some(kept_until);
    let before = assess(history, request, today)?.total;
    let after = assess(history, &after, today)?.total;
    Ok(before - after)
}

pub fn assess(
    history: &StatuteHistory,
    request: &QuoteRequest,
    today: Date,
) -> Result<Assessment, Vec<FieldError>> {
    let errors = validate(history, request);
    if !errors.is_empty() {
        return Err(errors);
    }
    let year = request.year;
    let assessment_date = request.assessment_date.unwrap_or(today);

    let mut statuses: Vec<[MonthStatus; 12]> = request
        .dogs
        .iter()
        .map(|_| std::array::from_fn(|_| MonthStatus::NotLiable))
        .collect();
    for (m, month) in MONTHS.into_iter().enumerate() {
        let first = first_of_month(year, month);
        let Some(statute) = history.valid_on(first) else {
            continue;
        };
        for (dog, status) in charge_month(statute, request, dates::month_index(first)) {
            if let Some(slot) = statuses.get_mut(dog).and_then(|months| months.get_mut(m)) {
                *slot = status;
            }
        }
    }

    let Some(schedule) = schedule_statute(history, year).map(Statute::installments) else {
        return Err(vec![no_statute(year)]);
    };
    let mut installments: Vec<Installment> = Vec::new();
    for (due, months) in installment_plan(schedule, year) {
        let annual_sum: Decimal = statuses
            .iter()
            .flat_map(|dog| dog.iter().enumerate())
            .filter(|(m, _)| months.contains(m))
            .filter_map(|(_, status)| charged(status))
            .map(Charge::annual_after_reduction)
            .sum();
        let amount = money::round_cents(annual_sum / Decimal::from(12));
        if !amount.is_zero() {
            installments.push(Installment { due, amount });
        }
    }
    let installments = merge_overdue(installments, assessment_date)?;
    let total = money::round_cents(installments.iter().map(|i| i.amount).sum());

    let dogs = request
        .dogs
        .iter()
        .zip(statuses)
        .map(|(dog, months)| {
            let annual_sum: Decimal = months
                .iter()
                .filter_map(charged)
                .map(Charge::annual_after_reduction)
                .sum();
            DogAssessment {
                name: dog.name.clone(),
                months,
                amount: money::round_cents(annual_sum / Decimal::from(12)),
            }
        })
        .collect();

    Ok(Assessment {
        year,
        assessment_date,
        dogs,
        installments,
        total,
    })
}

fn charged(status: &MonthStatus) -> Option<&Charge> {
    match status {
        MonthStatus::Charged(charge) => Some(charge),
        _ => None,
    }
}

/// Month indexes (as in [`dates::month_index`]) from the first liable month on.
pub(crate) fn first_liable_month(start: LiabilityStart, kept_from: Date) -> i64 {
    match start {
        LiabilityStart::FollowingMonth => dates::month_index(kept_from) + 1,
        LiabilityStart::SameMonth => dates::month_index(kept_from),
    }
}

/// Liability runs in whole months, to the end of the month in which the dog leaves.
pub(crate) fn is_liable(
    start: LiabilityStart,
    kept_from: Date,
    kept_until: Option<Date>,
    month: i64,
) -> bool {
    first_liable_month(start, kept_from) <= month
        && kept_until.is_none_or(|until| month <= dates::month_index(until))
}

/// Who pays what in one month under one statute version.
fn charge_month(
    statute: &Statute,
    request: &QuoteRequest,
    month: i64,
) -> Vec<(usize, MonthStatus)> {
    let start = statute.liability_start();
    let mut result = Vec::new();
    let mut paying = Vec::new();
    for (i, dog) in request.dogs.iter().enumerate() {
        if !is_liable(start, dog.kept_from, dog.kept_until, month) {
            continue;
        }
        let exempt = dog
            .exemption
            .as_deref()
            .and_then(|code| statute.exemption(code))
            .is_some_and(|exemption| {
                // The first N liable months overall, counted from the start even if it lies in an earlier year.
                exemption
                    .months()
                    .is_none_or(|n| month - first_liable_month(start, dog.kept_from) < i64::from(n))
            });
        if exempt {
            result.push((
                i,
                MonthStatus::Exempt {
                    code: dog.exemption.clone().unwrap_or_default(),
                },
            ));
        } else {
            paying.push(i);
        }
    }
    // Stable sort: dogs taken in on the same day keep the order in which they were listed.
    paying.sort_by_key(|&i| request.dogs.get(i).map(|d| d.kept_from));

    let ordinary_count = paying
        .iter()
        .filter(|&&i| request.dogs.get(i).is_some_and(|d| !d.dangerous))
        .count();
    let (mut ordinary_position, mut dangerous_position) = (0, 0);
    for i in paying {
        let Some(dog) = request.dogs.get(i) else {
            continue;
        };
        let (annual_rate, position) = if dog.dangerous {
            dangerous_position += 1;
            (
                nth_or_last(statute.dangerous_rates(), dangerous_position),
                dangerous_position,
            )
        } else {
            ordinary_position += 1;
            let rate = match statute.rate_model() {
                RateModel::ByPosition => nth_or_last(statute.rates(), ordinary_position),
                RateModel::ByCount => nth_or_last(statute.rates(), ordinary_count),
            };
            (rate, ordinary_position)
        };
        let reduction_percent = dog
            .reduction
            .as_deref()
            .and_then(|code| statute.reduction(code))
            .map_or(0, |r| r.percent());
        result.push((
            i,
            MonthStatus::Charged(Charge {
                annual_rate,
                reduction_percent,
                position,
                dangerous: dog.dangerous,
            }),
        ));
    }
    result
}

/// The 1-based `n`th rate, the last one for every place beyond the list.
fn nth_or_last(rates: &[Decimal], n: usize) -> Decimal {
    rates
        .get(n.saturating_sub(1))
        .or(rates.last())
        .copied()
        .unwrap_or(Decimal::ZERO)
}

/// The version whose installment setting governs the year: the one in force on 1 January, or else
/// the first that takes effect during the year.
fn schedule_statute(history: &StatuteHistory, year: i32) -> Option<&Statute> {
    history
        .valid_on(first_of_month(year, Month::January))
        .or_else(|| {
            history
                .versions()
                .iter()
                .find(|s| s.valid_from().year() == year)
        })
}

fn no_statute(year: i32) -> FieldError {
    FieldError::new(
        "year",
        format!("no statute for {year}-01: no Hundesteuersatzung is in force on {year}-01-01"),
        format!(
            "Für 01/{year} ist keine Hundesteuersatzung hinterlegt (keine gilt am 01.01.{year})."
        ),
    )
}

/// Due dates with the months (0-based) each installment covers.
pub(crate) fn installment_plan(
    schedule: InstallmentSchedule,
    year: i32,
) -> Vec<(Date, std::ops::Range<usize>)> {
    let on = |month, day| Date::from_calendar_date(year, month, day).unwrap_or(Date::MIN);
    match schedule {
        InstallmentSchedule::Quarterly => vec![
            (on(Month::February, 15), 0..3),
            (on(Month::May, 15), 3..6),
            (on(Month::August, 15), 6..9),
            (on(Month::November, 15), 9..12),
        ],
        InstallmentSchedule::Annual => vec![(on(Month::July, 1), 0..12)],
    }
}

/// A Bescheid cannot demand money for a date already past: what fell due before it is collected
/// together one month after it.
fn merge_overdue(
    installments: Vec<Installment>,
    assessment_date: Date,
) -> Result<Vec<Installment>, Vec<FieldError>> {
    let (overdue, mut upcoming): (Vec<_>, Vec<_>) = installments
        .into_iter()
        .partition(|i| i.due < assessment_date);
    if overdue.is_empty() {
        return Ok(upcoming);
    }
    let Some(due) = dates::one_month_later(assessment_date) else {
        return Err(vec![FieldError::new(
            "assessment_date",
            "the assessment date lies too far in the future",
            "Das Datum des Bescheids liegt zu weit in der Zukunft.",
        )]);
    };
    let amount = overdue.iter().map(|i| i.amount).sum();
    upcoming.insert(0, Installment { due, amount });
    upcoming.sort_by_key(|i| i.due);
    Ok(upcoming)
}

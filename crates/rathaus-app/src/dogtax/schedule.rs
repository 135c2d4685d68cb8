//! From the register to what a household owes in a year, and from a change to what it pays when.
//!
//! A notice records two lists: the *schedule*, the tax of each period at its regular due date
//! (15 Feb, 15 May, … or 1 July), and the *installments*, what is actually collected when. A first
//! notice collects what fell due before its date one month after it, exactly as the engine's quote
//! does. A later notice for the same year compares its schedule with the previous one: a shortfall
//! in periods already due is collected one month after the notice, an excess is set off against
//! the next installments and the rest refunded; later periods are simply collected at the new
//! amounts.

use rathaus_domain::dogtax::{
    Assessment, DogEntry, FieldError, Installment, QuoteRequest, StatuteHistory, assess,
};
use rust_decimal::Decimal;
use time::{Date, Month};

/// A household's tax in one year as the statute engine computes it.
#[derive(Debug, Clone)]
pub(crate) struct YearTax {
    /// `None` when the household keeps no dog at all.
    pub assessment: Option<Assessment>,
    /// Regular due dates with the tax of their periods; periods without tax are left out.
    pub schedule: Vec<Installment>,
}

impl YearTax {
    pub fn total(&self) -> Decimal {
        self.schedule.iter().map(|i| i.amount).sum()
    }
}

pub(crate) fn first_of_year(year: i32) -> Date {
    Date::from_calendar_date(year, Month::January, 1).unwrap_or(Date::MIN)
}

/// The year's tax of these dogs, unaffected by any date of issue.
pub(crate) fn year_tax(
    history: &StatuteHistory,
    dogs: &[DogEntry],
    year: i32,
) -> Result<YearTax, Vec<FieldError>> {
    if dogs.is_empty() {
        return Ok(YearTax {
            assessment: None,
            schedule: Vec::new(),
        });
    }
    let jan1 = first_of_year(year);
    // Assessed as of 1 January, before the first due date, so nothing is merged.
    let request = QuoteRequest {
        year,
        assessment_date: Some(jan1),
        dogs: dogs.to_vec(),
    };
    let assessment = assess(history, &request, jan1)?;
    Ok(YearTax {
        schedule: assessment.installments.clone(),
        assessment: Some(assessment),
    })
}

/// What is collected when, and what is refunded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub installments: Vec<Installment>,
    pub refund: Decimal,
}

fn amount_on(list: &[Installment], due: Date) -> Decimal {
    list.iter()
        .filter(|i| i.due == due)
        .map(|i| i.amount)
        .sum()
}

/// The payment plan of a notice issued on `issued_on` that replaces `old` by `new` (`old` empty
/// for a first notice). For a first notice the result equals the engine's quote with that
/// assessment date.
pub(crate) fn payment_plan(old: &[Installment], new: &[Installment], issued_on: Date) -> Plan {
    let mut dues: Vec<Date> = old.iter().chain(new).map(|i| i.due).collect();
    dues.sort();
    dues.dedup();
    let past_delta: Decimal = dues
        .iter()
        .filter(|d| **d < issued_on)
        .map(|d| amount_on(new, *d) - amount_on(old, *d))
        .sum();
    let mut installments: Vec<Installment> = new
        .iter()
        .filter(|i| i.due >= issued_on && !i.amount.is_zero())
        .cloned()
        .collect();
    let mut refund = Decimal::ZERO;
    if past_delta > Decimal::ZERO {
        let due = one_month_later(issued_on);
        installments.insert(
            0,
            Installment {
                due,
                amount: past_delta,
            },
        );
        installments.sort_by_key(|i| i.due);
    } else if past_delta < Decimal::ZERO {
        let mut credit = -past_delta;
        for i in &mut installments {
            let used = credit.min(i.amount);
            i.amount -= used;
            credit -= used;
        }
        installments.retain(|i| !i.amount.is_zero());
        refund = credit;
    }
    Plan {
        installments,
        refund,
    }
}

/// The same day of the next month, or that month's last day (as the engine merges overdue
/// installments).
pub(crate) fn one_month_later(date: Date) -> Date {
    let (year, month) = match date.month() {
        Month::December => (date.year() + 1, Month::January),
        m => (date.year(), m.next()),
    };
    Date::from_calendar_date(year, month, date.day().min(month.length(year))).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use rathaus_domain::dogtax::{demo, quote};
    use time::macros::date;

    use super::*;

    fn dog(name: &str, from: Date) -> DogEntry {
        DogEntry {
            name: name.into(),
            kept_from: from,
            kept_until: None,
            dangerous: false,
            exemption: None,
            reduction: None,
        }
    }

    #[test]
    fn a_first_notice_pays_exactly_what_the_quote_says() {
        let history = demo::history(demo::panketal());
        let dogs = vec![
            dog("Bello", date!(2025 - 03 - 10)),
            dog("Luna", date!(2026 - 04 - 02)),
        ];
        for issued in [
            date!(2026 - 01 - 10),
            date!(2026 - 02 - 15),
            date!(2026 - 06 - 30),
            date!(2026 - 11 - 26),
            date!(2026 - 12 - 31),
        ] {
            let tax = year_tax(&history, &dogs, 2026).unwrap();
            let plan = payment_plan(&[], &tax.schedule, issued);
            let request = QuoteRequest {
                year: 2026,
                assessment_date: Some(issued),
                dogs: dogs.clone(),
            };
            let q = quote(&history, "12060181", &request, issued).unwrap();
            assert_eq!(plan.installments, q.installments, "{issued}");
            assert_eq!(plan.refund, Decimal::ZERO);
            assert_eq!(tax.total(), q.total);
        }
    }

    #[test]
    fn a_change_sets_off_what_was_overpaid_and_refunds_the_rest() {
        let history = demo::history(demo::panketal());
        let mut dogs = vec![
            dog("Bello", date!(2025 - 03 - 10)),
            dog("Luna", date!(2025 - 04 - 02)),
        ];
        let before = year_tax(&history, &dogs, 2026).unwrap();
        // Luna died in January; the change is decided in June.
        dogs[1].kept_until = Some(date!(2026 - 01 - 20));
        let after = year_tax(&history, &dogs, 2026).unwrap();
        let plan = payment_plan(&before.schedule, &after.schedule, date!(2026 - 06 - 01));
        // Before: 46 + 76 = 122 a year, 30.50 a quarter. After: Bello 46 a year (11.50 a
        // quarter) and Luna one month at 76/12 = 6.33 in Q1. Q1 and Q2 were due at 30.50 each:
        // owed 17.83 and 11.50, so 31.67 overpaid, set off against Aug (11.50) and Nov (11.50);
        // 8.67 refunded.
        assert_eq!(plan.installments, vec![]);
        assert_eq!(plan.refund.to_string(), "8.67");
        assert_eq!(
            before.total() - after.total(),
            rathaus_domain::dogtax::deregistration_delta(
                &history,
                &QuoteRequest {
                    year: 2026,
                    assessment_date: None,
                    dogs: vec![
                        dog("Bello", date!(2025 - 03 - 10)),
                        dog("Luna", date!(2025 - 04 - 02))
                    ],
                },
                1,
                date!(2026 - 01 - 20),
                date!(2026 - 06 - 01)
            )
            .unwrap()
        );
    }

    #[test]
    fn an_added_dog_is_collected_for_past_periods_one_month_later() {
        let history = demo::history(demo::panketal());
        let mut dogs = vec![dog("Bello", date!(2025 - 03 - 10))];
        let before = year_tax(&history, &dogs, 2026).unwrap();
        dogs.push(dog("Luna", date!(2026 - 01 - 05)));
        let after = year_tax(&history, &dogs, 2026).unwrap();
        let plan = payment_plan(&before.schedule, &after.schedule, date!(2026 - 05 - 20));
        // Luna pays 76 a year from February: Q1 2 × 6.33 = 12.67, Q2 19.00, both past.
        let shown: Vec<(String, String)> = plan
            .installments
            .iter()
            .map(|i| (i.due.to_string(), i.amount.to_string()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("2026-06-20".into(), "31.67".into()),
                ("2026-08-15".into(), "30.50".into()),
                ("2026-11-15".into(), "30.50".into()),
            ]
        );
    }
}

//! From the register to what a household owes in a year, and from a change to what it pays when.
//!
//! A notice records two lists: the *schedule*, the tax of each period at its regular due date
//! (15 Feb, 15 May, … or 1 July), and the *installments*, what is actually collected when. A notice
//! asks for the periods already due at its date, less what earlier notices of the year had already
//! made due, one month after its date (for a first notice exactly as the engine's quote merges
//! overdue installments); an excess is set off against the next installments and the rest
//! refunded. Later periods are collected at their regular dates.

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

/// A notice issued earlier in the year: its date, its installments and its refund.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub issued_on: Date,
    pub installments: Vec<Installment>,
    pub refund: Decimal,
}

/// What the earlier notices of a year (in the order of issue) had made due before `day`: each
/// notice's installments until the next notice replaced them, less their refunds.
pub(crate) fn settled(chain: &[Issued], day: Date) -> Decimal {
    let mut total = Decimal::ZERO;
    for (k, notice) in chain.iter().enumerate() {
        let replaced = chain.get(k + 1).map_or(day, |next| next.issued_on.min(day));
        total += notice
            .installments
            .iter()
            .filter(|i| i.due < replaced)
            .map(|i| i.amount)
            .sum::<Decimal>();
        if notice.issued_on < day {
            total -= notice.refund;
        }
    }
    total
}

/// The payment plan of a notice issued on `issued_on` with the schedule `new`, when `settled`
/// was already due from earlier notices of the year (zero for a first notice). For a first notice
/// the result equals the engine's quote with that assessment date.
pub(crate) fn payment_plan(settled: Decimal, new: &[Installment], issued_on: Date) -> Plan {
    let past: Decimal = new
        .iter()
        .filter(|i| i.due < issued_on)
        .map(|i| i.amount)
        .sum();
    let past_delta = past - settled;
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
            let plan = payment_plan(Decimal::ZERO, &tax.schedule, issued);
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
        let first = Issued {
            issued_on: date!(2026 - 01 - 01),
            installments: before.schedule.clone(),
            refund: Decimal::ZERO,
        };
        let paid = settled(std::slice::from_ref(&first), date!(2026 - 06 - 01));
        assert_eq!(paid.to_string(), "61.00");
        let plan = payment_plan(paid, &after.schedule, date!(2026 - 06 - 01));
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
        let first = Issued {
            issued_on: date!(2026 - 01 - 01),
            installments: before.schedule.clone(),
            refund: Decimal::ZERO,
        };
        let paid = settled(&[first], date!(2026 - 05 - 20));
        let plan = payment_plan(paid, &after.schedule, date!(2026 - 05 - 20));
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

    #[test]
    fn a_change_before_the_merged_installment_falls_due_replaces_it() {
        // Registered late in November: everything of the year is due on 25 December. A change
        // decided before that day replaces the installment instead of refunding money not paid.
        let history = demo::history(demo::panketal());
        let mut dogs = vec![dog("Bello", date!(2025 - 05 - 10))];
        let before = year_tax(&history, &dogs, 2026).unwrap();
        let first = payment_plan(Decimal::ZERO, &before.schedule, date!(2026 - 11 - 25));
        assert_eq!(first.installments.len(), 1);
        assert_eq!(first.installments[0].amount.to_string(), "46.00");
        dogs[0].kept_until = Some(date!(2026 - 06 - 15));
        let after = year_tax(&history, &dogs, 2026).unwrap();
        let chain = [Issued {
            issued_on: date!(2026 - 11 - 25),
            installments: first.installments.clone(),
            refund: first.refund,
        }];
        let day = date!(2026 - 11 - 30);
        let plan = payment_plan(settled(&chain, day), &after.schedule, day);
        assert_eq!(plan.refund, Decimal::ZERO);
        assert_eq!(plan.installments.len(), 1);
        assert_eq!(plan.installments[0].due, date!(2026 - 12 - 30));
        assert_eq!(plan.installments[0].amount.to_string(), "23.00");
        // Had the first installment been due (and paid) already, the excess would be refunded.
        let later = date!(2027 - 01 - 10);
        let plan = payment_plan(settled(&chain, later), &after.schedule, later);
        assert_eq!(plan.installments, vec![]);
        assert_eq!(plan.refund.to_string(), "23.00");
        // A third notice counts the second one's refund as paid back.
        let chain2 = [
            chain[0].clone(),
            Issued {
                issued_on: later,
                installments: plan.installments.clone(),
                refund: plan.refund,
            },
        ];
        assert_eq!(settled(&chain2, date!(2027 - 02 - 01)).to_string(), "23.00");
    }
}

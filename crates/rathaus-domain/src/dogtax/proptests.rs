//! Properties that must hold for every statute and household, not just the worked examples.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use time::macros::date;
use time::{Date, Duration};

use super::assess::installment_plan;
use super::*;

/// The knobs of a generated statute. Rates are in units of `unit` cents and never decrease with
/// position or count, as in every real Satzung.
#[derive(Clone, Debug)]
struct Params {
    by_count: bool,
    same_month: bool,
    annual: bool,
    rates: Vec<i64>,
    dangerous_rates: Vec<i64>,
    shelter_months: u32,
    percents: [u8; 2],
}

fn rising(first: i64, steps: Vec<i64>) -> Vec<i64> {
    let mut rate = first;
    let mut rates = vec![rate];
    for step in steps {
        rate += step;
        rates.push(rate);
    }
    rates
}

/// `unit` cents per rate step and `percent_step` per reduction step let the exactness properties
/// choose amounts that quarter without remainder.
fn params(unit: i64, max_units: i64, percent_step: u8) -> impl Strategy<Value = Params> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        (0..=max_units, vec(0..=max_units / 2, 0..4)),
        (0..=max_units * 5, vec(0..=max_units * 2, 0..3)),
        1u32..=24,
        [0..=100 / percent_step, 0..=100 / percent_step],
    )
        .prop_map(
            move |(by_count, same_month, annual, (r0, rs), (d0, ds), shelter_months, [p0, p1])| {
                Params {
                    by_count,
                    same_month,
                    annual,
                    rates: rising(r0, rs).into_iter().map(|r| r * unit).collect(),
                    dangerous_rates: rising(d0, ds).into_iter().map(|r| r * unit).collect(),
                    shelter_months,
                    percents: [p0 * percent_step, p1 * percent_step],
                }
            },
        )
}

fn cents(amount: i64) -> String {
    Decimal::new(amount, 2).to_string()
}

fn build(p: &Params, valid_from: Date) -> Statute {
    Statute::from_value(&json!({
        "valid_from": valid_from.to_string(),
        "rate_model": if p.by_count { "by_count" } else { "by_position" },
        "rates": p.rates.iter().map(|r| cents(*r)).collect::<Vec<_>>(),
        "dangerous_rates": p.dangerous_rates.iter().map(|r| cents(*r)).collect::<Vec<_>>(),
        "liability_start": if p.same_month { "same_month" } else { "following_month" },
        "installments": if p.annual { "annual" } else { "quarterly" },
        "exemptions": [
            {"code": "assistance", "label": "Assistenzhund", "months": null},
            {"code": "shelter", "label": "Tierheim", "months": p.shelter_months},
        ],
        "reductions": [
            {"code": "r0", "label": "Ermäßigung 0", "percent": p.percents[0]},
            {"code": "r1", "label": "Ermäßigung 1", "percent": p.percents[1]},
        ],
        "replacement_tag_fee": "5.00",
    }))
    .unwrap()
}

const BASE: Date = date!(2020 - 01 - 01);

fn day(offset: i64) -> Date {
    BASE + Duration::days(offset)
}

/// A dog taken in within `from_days` days after 2020-01-01, perhaps given up later.
fn dog(
    from_days: std::ops::Range<i64>,
    may_end: bool,
    codes: bool,
) -> impl Strategy<Value = DogEntry> {
    (
        from_days,
        option::weighted(0.4, 0i64..900),
        prop::bool::weighted(0.25),
        option::weighted(0.3, prop_oneof![Just("assistance"), Just("shelter")]),
        option::weighted(0.3, prop_oneof![Just("r0"), Just("r1")]),
    )
        .prop_map(
            move |(from, stay, dangerous, exemption, reduction)| DogEntry {
                name: String::new(),
                kept_from: day(from),
                kept_until: stay.filter(|_| may_end).map(|s| day(from + s)),
                dangerous,
                exemption: exemption.filter(|_| codes).map(str::to_owned),
                reduction: reduction.filter(|_| codes).map(str::to_owned),
            },
        )
}

fn named(mut dogs: Vec<DogEntry>) -> Vec<DogEntry> {
    for (i, dog) in dogs.iter_mut().enumerate() {
        dog.name = format!("dog{i}");
    }
    dogs
}

fn households(max: usize) -> impl Strategy<Value = Vec<DogEntry>> {
    vec(dog(0..2500, true, true), 1..=max).prop_map(named)
}

fn request(year: i32, assessment_date: Date, dogs: Vec<DogEntry>) -> QuoteRequest {
    QuoteRequest {
        year,
        assessment_date: Some(assessment_date),
        dogs,
    }
}

fn total(history: &StatuteHistory, request: &QuoteRequest) -> Decimal {
    assess(history, request, request.assessment_date.unwrap_or(BASE))
        .unwrap()
        .total
}

fn jan_1(year: i32) -> Date {
    Date::from_calendar_date(year, time::Month::January, 1).unwrap()
}

/// What a full year costs: each dog's annual rate by its place (or the household size), less
/// its reduction, exact.
fn expected_full_year(p: &Params, dogs: &[DogEntry]) -> Decimal {
    let mut order: Vec<usize> = (0..dogs.len()).collect();
    order.sort_by_key(|&i| dogs[i].kept_from);
    let ordinary = dogs.iter().filter(|d| !d.dangerous).count();
    let nth = |rates: &[i64], n: usize| rates[(n - 1).min(rates.len() - 1)];
    let (mut ordinary_place, mut dangerous_place) = (0, 0);
    let mut sum = Decimal::ZERO;
    for i in order {
        let rate = if dogs[i].dangerous {
            dangerous_place += 1;
            nth(&p.dangerous_rates, dangerous_place)
        } else {
            ordinary_place += 1;
            nth(&p.rates, if p.by_count { ordinary } else { ordinary_place })
        };
        let percent = match dogs[i].reduction.as_deref() {
            Some("r0") => p.percents[0],
            Some("r1") => p.percents[1],
            _ => 0,
        };
        sum +=
            Decimal::new(rate, 2) * Decimal::from(100 - u32::from(percent)) / Decimal::ONE_HUNDRED;
    }
    sum
}

fn full_year_dogs() -> impl Strategy<Value = Vec<DogEntry>> {
    // Taken in before 2026, never given up, no exemptions: liable all of 2026.
    vec(dog(0..2191, false, true), 1..=8).prop_map(|dogs| {
        named(
            dogs.into_iter()
                .map(|d| DogEntry {
                    exemption: None,
                    ..d
                })
                .collect(),
        )
    })
}

proptest! {
    #[test]
    fn order_of_listing_does_not_matter_when_dogs_were_taken_in_on_different_days(
        (p, year, dogs, shuffled) in (params(1, 20000, 1), 2021..=2027i32, households(8))
            .prop_flat_map(|(p, year, dogs)| (Just(p), Just(year), Just(dogs.clone()), Just(dogs).prop_shuffle()))
    ) {
        let mut days: Vec<Date> = dogs.iter().map(|d| d.kept_from).collect();
        days.sort_unstable();
        days.dedup();
        prop_assume!(days.len() == dogs.len());
        let history = demo::history(build(&p, BASE));
        let a = assess(&history, &request(year, jan_1(year), dogs), BASE).unwrap();
        let b = assess(&history, &request(year, jan_1(year), shuffled), BASE).unwrap();
        prop_assert_eq!(a.total, b.total);
        prop_assert_eq!(&a.installments, &b.installments);
        for dog in &a.dogs {
            let same = b.dogs.iter().find(|d| d.name == dog.name).unwrap();
            prop_assert_eq!(dog, same);
        }
    }

    #[test]
    fn a_full_year_costs_the_annual_rates_exactly_when_paid_at_once(
        mut p in params(1, 20000, 1), dogs in full_year_dogs()
    ) {
        p.annual = true;
        let history = demo::history(build(&p, BASE));
        let expected = expected_full_year(&p, &dogs);
        let got = total(&history, &request(2026, jan_1(2026), dogs));
        prop_assert_eq!(got, super::money::round_cents(expected));
    }

    #[test]
    fn a_full_year_costs_the_annual_rates_exactly_when_quarters_divide_evenly(
        mut p in params(400, 50, 25), dogs in full_year_dogs()
    ) {
        // Rates in whole multiples of 4 € and reductions in steps of 25 % leave every quarter whole cents.
        p.annual = false;
        let history = demo::history(build(&p, BASE));
        let expected = expected_full_year(&p, &dogs);
        prop_assert_eq!(total(&history, &request(2026, jan_1(2026), dogs)), expected);
    }

    #[test]
    fn a_full_year_in_quarters_differs_from_the_annual_rates_by_rounding_only(
        mut p in params(1, 20000, 1), dogs in full_year_dogs()
    ) {
        p.annual = false;
        let history = demo::history(build(&p, BASE));
        let expected = expected_full_year(&p, &dogs);
        let got = total(&history, &request(2026, jan_1(2026), dogs));
        // Four installments, each rounded by at most half a cent.
        prop_assert!((got - expected).abs() <= Decimal::new(2, 2), "{got} vs {expected}");
    }

    #[test]
    fn giving_a_dog_up_and_taking_it_in_again_never_costs_more_than_keeping_it(
        p in params(1, 20000, 1),
        year in 2021..=2027i32,
        others in vec(dog(0..2500, true, false), 0..5),
        subject in dog(0..2000, false, true),
        kept in 0i64..500,
        gap in 0i64..400,
        stay in option::of(0i64..600),
    ) {
        // The second stretch starts in a later month than the first ends, so no month is paid twice.
        // The other dogs carry no reduction: otherwise the returning dog, now counted after them,
        // could push a reduced dog into a cheaper place and leave a full-rate one in a dearer one.
        let given_up = subject.kept_from + Duration::days(kept);
        let next_month = super::dates::one_month_later(given_up.replace_day(1).unwrap()).unwrap();
        let back = next_month + Duration::days(gap);
        let until = stay.map(|s| back + Duration::days(s));

        let continuous = DogEntry { kept_until: until, ..subject.clone() };
        let first = DogEntry { kept_until: Some(given_up), ..subject.clone() };
        let second = DogEntry { kept_from: back, kept_until: until, ..subject };

        let history = demo::history(build(&p, BASE));
        let at = jan_1(year);
        let mut kept_dogs = others.clone();
        kept_dogs.push(continuous);
        let mut split_dogs = others;
        split_dogs.push(first);
        split_dogs.push(second);
        let kept_total = total(&history, &request(year, at, named(kept_dogs)));
        let split_total = total(&history, &request(year, at, named(split_dogs)));
        prop_assert!(split_total <= kept_total, "split {split_total} > continuous {kept_total}");
    }

    #[test]
    fn installments_add_up_are_positive_and_each_is_its_months_rounded(
        p in params(1, 20000, 1),
        change in option::of((params(1, 20000, 1), 1400i64..2600)),
        year in 2021..=2027i32,
        dogs in households(10),
        assessed in 0i64..730,
    ) {
        let mut history = demo::history(build(&p, BASE));
        if let Some((q, from)) = change {
            history.insert(build(&q, day(from)));
        }
        let schedule = history.valid_on(jan_1(year)).unwrap().installments();

        // Assessed on 1 January nothing is overdue, so installments map one to one to the plan.
        let early = assess(&history, &request(year, jan_1(year), dogs.clone()), BASE).unwrap();
        let mut expected = Vec::new();
        for (due, months) in installment_plan(schedule, year) {
            let exact: Decimal = early
                .dogs
                .iter()
                .flat_map(|d| d.months[months.clone()].iter())
                .filter_map(|m| match m { MonthStatus::Charged(c) => Some(c.annual_after_reduction()), _ => None })
                .sum::<Decimal>() / Decimal::from(12);
            let by_monthly_amounts: Decimal = early
                .dogs
                .iter()
                .flat_map(|d| d.months[months.clone()].iter())
                .filter_map(|m| match m { MonthStatus::Charged(c) => Some(c.monthly_amount()), _ => None })
                .sum();
            let rounded = super::money::round_cents(exact);
            prop_assert!((rounded - by_monthly_amounts).abs() <= Decimal::new(5, 3) + Decimal::new(1, 20));
            if !rounded.is_zero() {
                expected.push(Installment { due, amount: rounded });
            }
        }
        prop_assert_eq!(&early.installments, &expected);

        // Assessed later, what fell due is merged; the total stays the same.
        let assessment_date = jan_1(year) - Duration::days(180) + Duration::days(assessed);
        let late = assess(&history, &request(year, assessment_date, dogs), BASE).unwrap();
        prop_assert_eq!(late.total, early.total);
        prop_assert_eq!(late.total, late.installments.iter().map(|i| i.amount).sum::<Decimal>());
        prop_assert!(late.installments.iter().all(|i| i.amount > Decimal::ZERO && i.amount.scale() == 2));
        prop_assert!(late.installments.windows(2).all(|w| w[0].due <= w[1].due));
        let overdue: Decimal = early.installments.iter().filter(|i| i.due < assessment_date).map(|i| i.amount).sum();
        if !overdue.is_zero() {
            let merged = late.installments.iter().find(|i| i.due == super::dates::one_month_later(assessment_date).unwrap());
            prop_assert_eq!(merged.map(|i| i.amount), Some(overdue));
        }
        prop_assert!(late.installments.iter().filter(|i| i.due < assessment_date).count() == 0);
    }

    #[test]
    fn raw_json_and_typed_requests_give_the_same_quote(
        p in params(1, 20000, 1), year in 2021..=2027i32, dogs in households(6)
    ) {
        let history = demo::history(build(&p, BASE));
        let req = request(year, jan_1(year), dogs);
        let body = serde_json::to_value(&req).unwrap();
        prop_assert_eq!(QuoteRequest::from_json_value(&body).unwrap(), req.clone());
        prop_assert_eq!(
            quote_json(&history, "12060181", &body, BASE).unwrap(),
            quote(&history, "12060181", &req, BASE).unwrap()
        );
    }
}

//! Worked examples, each computed by hand in its comment.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::Date;
use time::macros::date;

use super::*;

fn eur(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn dog(name: &str, kept_from: Date) -> DogEntry {
    DogEntry {
        name: name.into(),
        kept_from,
        kept_until: None,
        dangerous: false,
        exemption: None,
        reduction: None,
    }
}

fn request(year: i32, dogs: Vec<DogEntry>) -> QuoteRequest {
    // Before the first due date (15 Feb), so no installment is merged unless a test wants it.
    QuoteRequest {
        year,
        assessment_date: Some(date!(2026 - 01 - 10)),
        dogs,
    }
}

fn panketal() -> StatuteHistory {
    demo::history(demo::panketal())
}

/// Panketal's statute with some keys changed, read through the file parser like a real one.
fn panketal_with(change: impl FnOnce(&mut Value)) -> Statute {
    let mut value = demo::panketal().to_value();
    change(&mut value);
    Statute::from_value(&value).unwrap()
}

const TODAY: Date = date!(2026 - 01 - 05);

fn run(history: &StatuteHistory, request: &QuoteRequest) -> Quote {
    quote(history, "12060181", request, TODAY).unwrap()
}

/// (due, amount) pairs as text, which reads like the Bescheid.
fn plan(quote: &Quote) -> Vec<(String, String)> {
    quote
        .installments
        .iter()
        .map(|i| (i.due.to_string(), i.amount.to_string()))
        .collect()
}

fn lines(quote: &Quote) -> Vec<(String, u32, String)> {
    quote
        .dogs
        .iter()
        .map(|d| (d.name.clone(), d.months, d.amount.to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn quarters(amounts: [&str; 4]) -> Vec<(String, String)> {
    let dues = ["2026-02-15", "2026-05-15", "2026-08-15", "2026-11-15"];
    dues.iter()
        .zip(amounts)
        .filter(|(_, a)| *a != "0.00")
        .map(|(d, a)| ((*d).to_owned(), a.to_owned()))
        .collect()
}

#[test]
fn one_dog_kept_since_last_year_pays_the_first_rate_in_four_quarters() {
    // Bello, taken in 2025-05-10, is liable from June 2025, so all of 2026: 46 / 12 per month,
    // 3 × 3.8333… = 11.50 per quarter, 46.00 in all.
    let quote = run(
        &panketal(),
        &request(2026, vec![dog("Bello", date!(2025 - 05 - 10))]),
    );
    assert_eq!(lines(&quote), vec![("Bello".into(), 12, "46.00".into())]);
    assert_eq!(plan(&quote), quarters(["11.50", "11.50", "11.50", "11.50"]));
    assert_eq!(quote.total.to_string(), "46.00");
}

#[test]
fn quote_serialises_to_the_documented_json() {
    let quote = run(
        &panketal(),
        &request(2026, vec![dog("Bello", date!(2025 - 05 - 10))]),
    );
    assert_eq!(
        serde_json::to_value(&quote).unwrap(),
        json!({
            "tenant": "12060181", "year": 2026, "currency": "EUR",
            "dogs": [{"name": "Bello", "months": 12, "amount": "46.00"}],
            "installments": [
                {"due": "2026-02-15", "amount": "11.50"}, {"due": "2026-05-15", "amount": "11.50"},
                {"due": "2026-08-15", "amount": "11.50"}, {"due": "2026-11-15", "amount": "11.50"}
            ],
            "total": "46.00"
        })
    );
    let back: Quote = serde_json::from_value(serde_json::to_value(&quote).unwrap()).unwrap();
    assert_eq!(back, quote);
}

#[test]
fn a_second_dog_taken_in_during_march_pays_the_second_rate_from_april() {
    // Rex, taken in 2026-03-10, is liable from April: 9 × 76 / 12 = 57.00.
    // Q1: Bello 11.50; Q2–Q4: 11.50 + 3 × 6.3333… = 30.50 each; total 103.00.
    let quote = run(
        &panketal(),
        &request(
            2026,
            vec![
                dog("Bello", date!(2025 - 05 - 10)),
                dog("Rex", date!(2026 - 03 - 10)),
            ],
        ),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Bello".into(), 12, "46.00".into()),
            ("Rex".into(), 9, "57.00".into())
        ]
    );
    assert_eq!(plan(&quote), quarters(["11.50", "30.50", "30.50", "30.50"]));
    assert_eq!(quote.total, eur("103.00"));
}

#[test]
fn position_follows_kept_from_not_the_order_of_listing() {
    // Listed first but taken in later, Rex is the second dog: 76; Bello 46.
    let quote = run(
        &panketal(),
        &request(
            2026,
            vec![
                dog("Rex", date!(2022 - 01 - 01)),
                dog("Bello", date!(2021 - 01 - 01)),
            ],
        ),
    );
    assert_eq!(quote.dogs[0].amount, eur("76.00"));
    assert_eq!(quote.dogs[1].amount, eur("46.00"));
}

#[test]
fn dogs_taken_in_on_the_same_day_keep_their_listed_order() {
    let same = date!(2021 - 04 - 01);
    let quote = run(
        &panketal(),
        &request(2026, vec![dog("A", same), dog("B", same)]),
    );
    assert_eq!(quote.dogs[0].amount, eur("46.00"));
    assert_eq!(quote.dogs[1].amount, eur("76.00"));
}

#[test]
fn each_further_dog_pays_the_last_rate() {
    // 46 + 76 + 122 + 122 = 366.
    let dogs = (0..4)
        .map(|i| {
            dog(
                &format!("D{i}"),
                date!(2020 - 01 - 01).replace_day(i + 1).unwrap(),
            )
        })
        .collect();
    let quote = run(&panketal(), &request(2026, dogs));
    assert_eq!(quote.total, eur("366.00"));
    assert_eq!(quote.dogs[3].amount, eur("122.00"));
}

#[test]
fn by_count_charges_every_dog_the_rate_for_the_household_size() {
    // Brandenburg an der Havel, two dogs: 72 each, 144 in all, 36.00 per quarter.
    let history = demo::history(demo::brandenburg_an_der_havel());
    let quote = run(
        &history,
        &request(
            2026,
            vec![
                dog("Bello", date!(2024 - 02 - 01)),
                dog("Luna", date!(2025 - 07 - 01)),
            ],
        ),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Bello".into(), 12, "72.00".into()),
            ("Luna".into(), 12, "72.00".into())
        ]
    );
    assert_eq!(plan(&quote), quarters(["36.00", "36.00", "36.00", "36.00"]));
    assert_eq!(quote.total, eur("144.00"));
}

#[test]
fn by_count_rate_changes_for_everyone_when_a_third_dog_arrives() {
    // A and B all year; C taken in 2026-06-15, liable from July.
    // Jan–Jun: two dogs at 72 → 6.00 each per month; Jul–Dec: three at 96 → 8.00 each.
    // A = B = 6 × 6 + 6 × 8 = 84.00; C = 6 × 8 = 48.00.
    // Quarters: 3 × 12 = 36, 36, 3 × 24 = 72, 72 → 216.00.
    let history = demo::history(demo::brandenburg_an_der_havel());
    let quote = run(
        &history,
        &request(
            2026,
            vec![
                dog("A", date!(2024 - 01 - 01)),
                dog("B", date!(2024 - 01 - 01)),
                dog("C", date!(2026 - 06 - 15)),
            ],
        ),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("A".into(), 12, "84.00".into()),
            ("B".into(), 12, "84.00".into()),
            ("C".into(), 6, "48.00".into())
        ]
    );
    assert_eq!(plan(&quote), quarters(["36.00", "36.00", "72.00", "72.00"]));
}

#[test]
fn dangerous_dogs_are_counted_in_their_own_sequence() {
    // Bello is the first ordinary dog (46) although two dangerous dogs came first;
    // Rocky is the first dangerous dog (409), Kira each further (512). 967 / 4 = 241.75.
    let mut rocky = dog("Rocky", date!(2019 - 01 - 01));
    rocky.dangerous = true;
    let mut kira = dog("Kira", date!(2019 - 06 - 01));
    kira.dangerous = true;
    let quote = run(
        &panketal(),
        &request(2026, vec![rocky, kira, dog("Bello", date!(2020 - 01 - 01))]),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Rocky".into(), 12, "409.00".into()),
            ("Kira".into(), 12, "512.00".into()),
            ("Bello".into(), 12, "46.00".into())
        ]
    );
    assert_eq!(
        plan(&quote),
        quarters(["241.75", "241.75", "241.75", "241.75"])
    );
}

#[test]
fn shelter_exemption_counts_its_months_from_the_start_of_liability_in_an_earlier_year() {
    // Findus, from the shelter on 2025-08-20, is liable from September 2025 and exempt for 12
    // months: Sep 2025 – Aug 2026. From September 2026 he is the second dog: 4 × 76 / 12 = 25.33.
    // Q3 = 11.50 + 6.3333… = 17.83; Q4 = 11.50 + 19.00 = 30.50; total 71.33.
    let mut findus = dog("Findus", date!(2025 - 08 - 20));
    findus.exemption = Some("shelter".into());
    let quote = run(
        &panketal(),
        &request(2026, vec![dog("Bello", date!(2020 - 01 - 01)), findus]),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Bello".into(), 12, "46.00".into()),
            ("Findus".into(), 4, "25.33".into())
        ]
    );
    assert_eq!(plan(&quote), quarters(["11.50", "11.50", "17.83", "30.50"]));
    assert_eq!(quote.total, eur("71.33"));
}

#[test]
fn a_permanently_exempt_dog_pays_nothing_and_does_not_take_a_place() {
    // The assistance dog is not counted, so Rex is the first dog: 46.
    let mut bello = dog("Bello", date!(2020 - 01 - 01));
    bello.exemption = Some("assistance".into());
    let quote = run(
        &panketal(),
        &request(2026, vec![bello, dog("Rex", date!(2021 - 01 - 01))]),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Bello".into(), 0, "0.00".into()),
            ("Rex".into(), 12, "46.00".into())
        ]
    );
    assert_eq!(quote.total, eur("46.00"));
}

#[test]
fn a_reduction_lowers_the_rate_by_its_percent() {
    // Sachkunde halves 46 to 23: 5.75 per quarter.
    let mut bello = dog("Bello", date!(2020 - 01 - 01));
    bello.reduction = Some("sachkunde".into());
    let quote = run(&panketal(), &request(2026, vec![bello]));
    assert_eq!(plan(&quote), quarters(["5.75", "5.75", "5.75", "5.75"]));
    assert_eq!(quote.total, eur("23.00"));
}

#[test]
fn installments_round_half_a_cent_up() {
    // 25 % off 46 leaves 34.50 a year; a quarter is 8.625, which rounds up to 8.63, so the four
    // installments add up to 34.52 while the dog's own amount, rounded once, is 34.50.
    let statute = panketal_with(|v| {
        v["reductions"] = json!([{"code": "quarter", "label": "Viertel", "percent": 25}]);
    });
    let mut bello = dog("Bello", date!(2020 - 01 - 01));
    bello.reduction = Some("quarter".into());
    let quote = run(&demo::history(statute), &request(2026, vec![bello]));
    assert_eq!(plan(&quote), quarters(["8.63", "8.63", "8.63", "8.63"]));
    assert_eq!(quote.total, eur("34.52"));
    assert_eq!(quote.dogs[0].amount, eur("34.50"));
}

#[test]
fn same_month_liability_counts_the_month_of_taking_in() {
    // Taken in 2026-03-10: March to December, 10 × 46 / 12 = 38.33. Q1 = 3.8333… → 3.83.
    let statute = panketal_with(|v| v["liability_start"] = json!("same_month"));
    let quote = run(
        &demo::history(statute),
        &request(2026, vec![dog("Bello", date!(2026 - 03 - 10))]),
    );
    assert_eq!(lines(&quote), vec![("Bello".into(), 10, "38.33".into())]);
    assert_eq!(plan(&quote), quarters(["3.83", "11.50", "11.50", "11.50"]));
}

#[test]
fn a_dog_taken_in_and_given_up_in_the_same_month_is_never_liable_under_following_month() {
    let mut guest = dog("Guest", date!(2026 - 03 - 05));
    guest.kept_until = Some(date!(2026 - 03 - 25));
    let quote = run(&panketal(), &request(2026, vec![guest]));
    assert_eq!(lines(&quote), vec![("Guest".into(), 0, "0.00".into())]);
    assert!(quote.installments.is_empty());
    assert_eq!(
        serde_json::to_value(&quote).unwrap()["total"],
        json!("0.00")
    );
}

#[test]
fn liability_ends_with_the_month_the_dog_leaves() {
    // Given up 2026-05-10: January to May, 5 × 46 / 12 = 19.17; Q2 = 2 × 3.8333… = 7.67.
    let mut bello = dog("Bello", date!(2020 - 01 - 01));
    bello.kept_until = Some(date!(2026 - 05 - 10));
    let quote = run(&panketal(), &request(2026, vec![bello]));
    assert_eq!(lines(&quote), vec![("Bello".into(), 5, "19.17".into())]);
    assert_eq!(plan(&quote), quarters(["11.50", "7.67", "0.00", "0.00"]));
    assert_eq!(quote.total, eur("19.17"));
}

#[test]
fn dogs_outside_the_year_are_not_liable() {
    let mut gone = dog("Gone", date!(2020 - 01 - 01));
    gone.kept_until = Some(date!(2025 - 12 - 31));
    let quote = run(
        &panketal(),
        &request(2026, vec![gone, dog("Future", date!(2026 - 12 - 01))]),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Gone".into(), 0, "0.00".into()),
            ("Future".into(), 0, "0.00".into())
        ]
    );
    assert_eq!(quote.total, Decimal::ZERO);
}

#[test]
fn the_next_dog_moves_up_when_the_first_leaves() {
    // Bello leaves 2026-06-30. Jan–Jun Bello 46 and Rex 76; Jul–Dec Rex alone at 46.
    // Bello 6 × 46 / 12 = 23.00; Rex 6 × 76 / 12 + 6 × 46 / 12 = 38 + 23 = 61.00; total 84.00.
    let mut bello = dog("Bello", date!(2020 - 01 - 01));
    bello.kept_until = Some(date!(2026 - 06 - 30));
    let quote = run(
        &panketal(),
        &request(2026, vec![bello, dog("Rex", date!(2022 - 01 - 01))]),
    );
    assert_eq!(
        lines(&quote),
        vec![
            ("Bello".into(), 6, "23.00".into()),
            ("Rex".into(), 12, "61.00".into())
        ]
    );
    assert_eq!(plan(&quote), quarters(["30.50", "30.50", "11.50", "11.50"]));
}

#[test]
fn deregistration_delta_is_the_credit_including_the_move_up_of_other_dogs() {
    // Before: 46 + 76 = 122. After Bello leaves on 2026-06-30: 84 (see above). Credit 38.00.
    let registered = request(
        2026,
        vec![
            dog("Bello", date!(2020 - 01 - 01)),
            dog("Rex", date!(2022 - 01 - 01)),
        ],
    );
    let credit =
        deregistration_delta(&panketal(), &registered, 0, date!(2026 - 06 - 30), TODAY).unwrap();
    assert_eq!(credit, eur("38.00"));

    let errors = deregistration_delta(&panketal(), &registered, 2, date!(2026 - 06 - 30), TODAY)
        .unwrap_err();
    assert_eq!(errors[0].field, "dogs[2]");
    let errors = deregistration_delta(&panketal(), &registered, 1, date!(2021 - 06 - 30), TODAY)
        .unwrap_err();
    assert_eq!(errors[0].field, "dogs[1].kept_until");
}

#[test]
fn each_month_uses_the_version_in_force_on_its_first_day() {
    let raised = |from: &str| {
        panketal_with(|v| {
            v["valid_from"] = json!(from);
            v["rates"] = json!(["60.00", "90.00", "140.00"]);
        })
    };
    // From 1 July: Jan–Jun 46 / 12, Jul–Dec 60 / 12 → 23 + 30 = 53.00.
    let history: StatuteHistory = vec![demo::panketal(), raised("2026-07-01")].into();
    let quote = run(
        &history,
        &request(2026, vec![dog("Bello", date!(2020 - 01 - 01))]),
    );
    assert_eq!(plan(&quote), quarters(["11.50", "11.50", "15.00", "15.00"]));
    assert_eq!(quote.total, eur("53.00"));

    // From 15 July the new rate starts in August: Q3 = 3.8333… + 5 + 5 = 13.83; total 51.83.
    let history: StatuteHistory = vec![raised("2026-07-15"), demo::panketal()].into();
    let quote = run(
        &history,
        &request(2026, vec![dog("Bello", date!(2020 - 01 - 01))]),
    );
    assert_eq!(plan(&quote), quarters(["11.50", "11.50", "13.83", "15.00"]));
    assert_eq!(quote.dogs[0].amount, eur("51.83"));
}

#[test]
fn installments_already_due_are_merged_one_month_after_the_assessment() {
    let mut req = request(2026, vec![dog("Bello", date!(2025 - 05 - 10))]);
    req.assessment_date = Some(date!(2026 - 03 - 20));
    let quote = run(&panketal(), &req);
    assert_eq!(
        plan(&quote),
        pairs(&[
            ("2026-04-20", "11.50"),
            ("2026-05-15", "11.50"),
            ("2026-08-15", "11.50"),
            ("2026-11-15", "11.50")
        ])
    );

    req.assessment_date = Some(date!(2026 - 09 - 30));
    let quote = run(&panketal(), &req);
    assert_eq!(
        plan(&quote),
        pairs(&[("2026-10-30", "34.50"), ("2026-11-15", "11.50")])
    );
    assert_eq!(quote.total, eur("46.00"));

    // An installment due on the assessment day itself is not yet overdue.
    req.assessment_date = Some(date!(2026 - 02 - 15));
    assert_eq!(
        plan(&run(&panketal(), &req)),
        quarters(["11.50", "11.50", "11.50", "11.50"])
    );
}

#[test]
fn annual_installment_is_due_on_1_july_and_a_merged_one_clamps_to_the_month_end() {
    let statute = panketal_with(|v| v["installments"] = json!("annual"));
    let history = demo::history(statute);
    let mut req = request(2026, vec![dog("Bello", date!(2025 - 05 - 10))]);
    assert_eq!(
        plan(&run(&history, &req)),
        pairs(&[("2026-07-01", "46.00")])
    );

    // 31 August + one month: September has 30 days.
    req.assessment_date = Some(date!(2026 - 08 - 31));
    assert_eq!(
        plan(&run(&history, &req)),
        pairs(&[("2026-09-30", "46.00")])
    );
}

#[test]
fn a_missing_assessment_date_means_today() {
    let mut req = request(2026, vec![dog("Bello", date!(2025 - 05 - 10))]);
    req.assessment_date = None;
    let quote = quote(&panketal(), "12060181", &req, date!(2026 - 03 - 20)).unwrap();
    assert_eq!(quote.installments[0].due, date!(2026 - 04 - 20));
}

#[test]
fn raw_json_reports_every_problem_with_its_field() {
    let body = json!({
        "year": 2026, "assessment_date": "2026-02-30", "colour": "brown",
        "dogs": [
            {"name": "Bello", "kept_from": "2025-13-01"},
            {"name": " ", "kept_from": "2025-05-10", "kept_until": "2025-01-01", "exemption": "unicorn", "reduction": "sachkunde"},
            "Rex",
            {"name": "Kira", "kept_from": "2024-01-01", "dangerous": "yes", "weight": 30}
        ]
    });
    let errors = quote_json(&panketal(), "12060181", &body, TODAY).unwrap_err();
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec![
            "assessment_date",
            "colour",
            "dogs[0].kept_from",
            "dogs[1].exemption",
            "dogs[1].kept_until",
            "dogs[1].name",
            "dogs[2]",
            "dogs[3].dangerous",
            "dogs[3].weight",
        ]
    );
    assert!(
        errors
            .iter()
            .all(|e| !e.message.is_empty() && !e.message_de.is_empty())
    );
    let unicorn = errors
        .iter()
        .find(|e| e.field == "dogs[1].exemption")
        .unwrap();
    assert!(
        unicorn.message.contains("assistance, shelter"),
        "{}",
        unicorn.message
    );
    assert!(
        unicorn
            .message_de
            .starts_with("Unbekannter Befreiungsgrund"),
        "{}",
        unicorn.message_de
    );
}

#[test]
fn raw_json_with_defaults_gives_the_same_quote_as_the_typed_request() {
    let body = json!({"year": 2026, "dogs": [{"name": "Bello", "kept_from": "2025-05-10", "dangerous": null}]});
    let from_json = quote_json(&panketal(), "12060181", &body, TODAY).unwrap();
    let typed: QuoteRequest = serde_json::from_value(body).unwrap();
    assert_eq!(typed.dogs[0], dog("Bello", date!(2025 - 05 - 10)));
    assert_eq!(
        from_json,
        quote(&panketal(), "12060181", &typed, TODAY).unwrap()
    );

    let unknown = json!({"year": 2026, "dogs": [], "extra": 1});
    assert!(serde_json::from_value::<QuoteRequest>(unknown).is_err());
}

#[test]
fn missing_fields_and_wrong_types_are_named() {
    let errors =
        QuoteRequest::from_json_value(&json!({"year": "2026", "dogs": [{"kept_from": null}]}))
            .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, vec!["year", "dogs[0].name", "dogs[0].kept_from"]);
    let errors = QuoteRequest::from_json_value(&json!([1, 2])).unwrap_err();
    assert_eq!(errors[0].field, "");
    let errors = QuoteRequest::from_json_value(&json!({"year": 2026})).unwrap_err();
    assert_eq!(errors[0].field, "dogs");
}

#[test]
fn rules_on_year_and_dog_count() {
    let check = |req: &QuoteRequest| {
        validate(&panketal(), req)
            .into_iter()
            .map(|e| e.field)
            .collect::<Vec<_>>()
    };
    assert_eq!(check(&request(2026, vec![])), vec!["dogs"]);
    let many = (0..=MAX_DOGS)
        .map(|i| dog(&format!("D{i}"), date!(2020 - 01 - 01)))
        .collect();
    assert_eq!(check(&request(2026, many)), vec!["dogs"]);
    assert_eq!(
        check(&request(1999, vec![dog("Bello", date!(2020 - 01 - 01))])),
        vec!["year"]
    );
    assert_eq!(
        check(&request(2101, vec![dog("Bello", date!(2020 - 01 - 01))])),
        vec!["year"]
    );
    // Panketal's statute starts in 2020.
    let errors = validate(
        &panketal(),
        &request(2019, vec![dog("Bello", date!(2018 - 01 - 01))]),
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "year");
    assert!(
        errors[0].message.starts_with("no statute for 2019-01"),
        "{}",
        errors[0].message
    );
    assert!(
        quote(
            &StatuteHistory::new(),
            "x",
            &request(2026, vec![dog("B", date!(2020 - 01 - 01))]),
            TODAY
        )
        .is_err()
    );
}

#[test]
fn codes_must_exist_in_every_version_governing_the_dogs_liable_months() {
    // From July 2026 the Satzung no longer knows "shelter".
    let without_shelter = panketal_with(|v| {
        v["valid_from"] = json!("2026-07-01");
        v["exemptions"] = json!([{"code": "assistance", "label": "Assistenzhund", "months": null}]);
    });
    let history: StatuteHistory = vec![demo::panketal(), without_shelter].into();
    let mut findus = dog("Findus", date!(2025 - 12 - 01));
    findus.exemption = Some("shelter".into());
    let errors = validate(&history, &request(2026, vec![findus.clone()]));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "dogs[0].exemption");
    assert!(
        errors[0].message.contains("2026-07-01"),
        "{}",
        errors[0].message
    );

    // Given up in March, Findus is liable only under the old version.
    findus.kept_until = Some(date!(2026 - 03 - 31));
    assert!(validate(&history, &request(2026, vec![findus])).is_empty());
}

#[test]
fn statute_file_round_trips_and_matches_the_demo() {
    let parsed = Statute::from_json(demo::PANKETAL_JSON).unwrap();
    assert_eq!(parsed, demo::panketal());
    assert_eq!(Statute::from_value(&parsed.to_value()).unwrap(), parsed);
    let via_serde: Statute = serde_json::from_str(demo::PANKETAL_JSON).unwrap();
    assert_eq!(
        serde_json::to_value(&via_serde).unwrap()["rates"],
        json!(["46.00", "76.00", "122.00"])
    );
    for statute in [
        demo::bad_belzig(),
        demo::niemegk(),
        demo::brandenburg_an_der_havel(),
    ] {
        assert_eq!(Statute::from_value(&statute.to_value()).unwrap(), statute);
    }
}

#[test]
fn statute_errors_name_the_offending_key() {
    let key_of = |change: &dyn Fn(&mut Value)| {
        let mut value = demo::panketal().to_value();
        change(&mut value);
        Statute::from_value(&value).unwrap_err().key
    };
    assert_eq!(
        key_of(&|v| v["rates"] = json!(["46.00", "76.001"])),
        "rates[1]"
    );
    assert_eq!(
        key_of(&|v| v["rates"] = json!(["46.00", "-1.00"])),
        "rates[1]"
    );
    assert_eq!(key_of(&|v| v["rates"] = json!(["46.00", 76])), "rates[1]");
    assert_eq!(key_of(&|v| v["rates"] = json!(["46."])), "rates[0]");
    assert_eq!(key_of(&|v| v["rates"] = json!([])), "rates");
    assert_eq!(
        key_of(&|v| v["dangerous_rates"] = json!([])),
        "dangerous_rates"
    );
    assert_eq!(
        key_of(&|v| v["replacement_tag_fee"] = json!("5,00")),
        "replacement_tag_fee"
    );
    assert_eq!(
        key_of(&|v| v["rate_model"] = json!("by_size")),
        "rate_model"
    );
    assert_eq!(
        key_of(&|v| v["valid_from"] = json!("01.01.2020")),
        "valid_from"
    );
    assert_eq!(
        key_of(&|v| v["reductions"][0]["percent"] = json!(101)),
        "reductions[0].percent"
    );
    assert_eq!(
        key_of(&|v| v["exemptions"][1]["months"] = json!(0)),
        "exemptions[1].months"
    );
    assert_eq!(
        key_of(&|v| v["exemptions"][1]["code"] = json!("assistance")),
        "exemptions[1].code"
    );
    assert_eq!(
        key_of(&|v| v["exemptions"][0]["code"] = json!("Assistance")),
        "exemptions[0].code"
    );
    assert_eq!(
        key_of(&|v| v["exemptions"][0]["extra"] = json!(1)),
        "exemptions[0].extra"
    );
    assert_eq!(
        key_of(&|v| {
            v.as_object_mut().unwrap().remove("replacement_tag_fee");
        }),
        "replacement_tag_fee"
    );
    assert_eq!(key_of(&|v| v["fee"] = json!("5.00")), "fee");

    let error = Statute::from_json(r#"{"valid_from": "2020-01-01"}"#).unwrap_err();
    assert_eq!(error.key, "rate_model");
    assert_eq!(error.to_string(), "statute key `rate_model`: missing key");
}

#[test]
fn history_replaces_a_version_with_the_same_valid_from_and_finds_the_one_in_force() {
    let mut history = StatuteHistory::new();
    assert!(history.insert(demo::panketal()).is_none());
    let newer = panketal_with(|v| v["valid_from"] = json!("2024-04-01"));
    assert!(history.insert(newer.clone()).is_none());
    let corrected = panketal_with(|v| v["replacement_tag_fee"] = json!("6.00"));
    assert_eq!(history.insert(corrected.clone()), Some(demo::panketal()));
    assert_eq!(history.versions().len(), 2);
    assert_eq!(history.valid_on(date!(2019 - 12 - 31)), None);
    assert_eq!(history.valid_on(date!(2020 - 01 - 01)), Some(&corrected));
    assert_eq!(history.valid_on(date!(2024 - 03 - 31)), Some(&corrected));
    assert_eq!(history.valid_on(date!(2024 - 04 - 01)), Some(&newer));
    let json = serde_json::to_string(&history).unwrap();
    assert_eq!(
        serde_json::from_str::<StatuteHistory>(&json).unwrap(),
        history
    );
}

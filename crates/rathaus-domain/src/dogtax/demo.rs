//! Demo statutes from published rates. Each municipality confirms its own Satzung before going live;
//! values marked as examples below are not taken from any Satzung.

use rust_decimal::Decimal;
use time::macros::date;

use super::statute::{InstallmentSchedule, LiabilityStart, RateModel, Statute, StatuteHistory};

const ASSISTANCE: (&str, &str, Option<u32>) = (
    "assistance",
    "Assistenzhund (Blindenführhund, Hund einer gehörlosen oder hilflosen Person)",
    None,
);
const SHELTER: (&str, &str, Option<u32>) = ("shelter", "Hund aus dem Tierheim", Some(12));
const SACHKUNDE: (&str, &str, u8) = ("sachkunde", "Sachkundenachweis", 50);

fn euros(list: &[i64]) -> Vec<Decimal> {
    list.iter().map(|e| Decimal::new(e * 100, 2)).collect()
}

/// Panketal: 46 / 76 / 122 €, dangerous dogs 409 / 512 €.
pub fn panketal() -> Statute {
    Statute::from_parts(
        date!(2020 - 01 - 01),
        RateModel::ByPosition,
        euros(&[46, 76, 122]),
        euros(&[409, 512]),
        LiabilityStart::FollowingMonth,
        InstallmentSchedule::Quarterly,
        &[ASSISTANCE, SHELTER],
        &[SACHKUNDE],
        Decimal::new(500, 2),
    )
}

/// Bad Belzig: 35 / 50 / 70 € (proposal for 2020). The dangerous-dog rates 350 / 500 € are an example.
pub fn bad_belzig() -> Statute {
    Statute::from_parts(
        date!(2020 - 01 - 01),
        RateModel::ByPosition,
        euros(&[35, 50, 70]),
        euros(&[350, 500]),
        LiabilityStart::FollowingMonth,
        InstallmentSchedule::Quarterly,
        &[ASSISTANCE, SHELTER],
        &[],
        Decimal::new(500, 2),
    )
}

/// Niemegk: 50 / 70 / 100 € (2019). The dangerous-dog rates 400 / 500 € are an example.
pub fn niemegk() -> Statute {
    Statute::from_parts(
        date!(2019 - 01 - 01),
        RateModel::ByPosition,
        euros(&[50, 70, 100]),
        euros(&[400, 500]),
        LiabilityStart::FollowingMonth,
        InstallmentSchedule::Quarterly,
        &[ASSISTANCE, SHELTER],
        &[],
        Decimal::new(500, 2),
    )
}

/// Brandenburg an der Havel rates by count: every dog pays 66 € when one is kept, 72 € each for
/// two, 96 € each for three or more. The dangerous-dog rates 600 / 800 € and the dates are examples.
pub fn brandenburg_an_der_havel() -> Statute {
    Statute::from_parts(
        date!(2020 - 01 - 01),
        RateModel::ByCount,
        euros(&[66, 72, 96]),
        euros(&[600, 800]),
        LiabilityStart::FollowingMonth,
        InstallmentSchedule::Quarterly,
        &[ASSISTANCE, SHELTER],
        &[],
        Decimal::new(500, 2),
    )
}

/// A history holding just one demo statute.
pub fn history(statute: Statute) -> StatuteHistory {
    StatuteHistory::from(vec![statute])
}

/// [`panketal`] as a statute file, the format municipalities maintain.
pub const PANKETAL_JSON: &str = r#"{
  "valid_from": "2020-01-01",
  "rate_model": "by_position",
  "rates": ["46.00", "76.00", "122.00"],
  "dangerous_rates": ["409.00", "512.00"],
  "liability_start": "following_month",
  "installments": "quarterly",
  "exemptions": [
    {"code": "assistance", "label": "Assistenzhund (Blindenführhund, Hund einer gehörlosen oder hilflosen Person)", "months": null},
    {"code": "shelter", "label": "Hund aus dem Tierheim", "months": 12}
  ],
  "reductions": [{"code": "sachkunde", "label": "Sachkundenachweis", "percent": 50}],
  "replacement_tag_fee": "5.00"
}"#;

//! Hundesteuer: the statute engine that turns a Hundesteuersatzung and a household's dogs into the
//! year's tax, split into installments.
//!
//! The rules follow the common Brandenburg Satzungen: liability by whole months, the rate by the
//! dog's position in the household (or by how many dogs it keeps), separate rates for dangerous dogs,
//! exemptions for a number of months or for good, and percentage reductions. Monthly amounts stay
//! exact; only installments and per-dog amounts are rounded to cents, because that is what a Bescheid
//! shows and what a citizen pays.
//!
//! Entry points: [`StatuteHistory`] holds a municipality's Satzung versions, [`quote`] computes a
//! [`Quote`] for a [`QuoteRequest`], [`quote_json`] does the same straight from request JSON so that
//! every problem comes back as a [`FieldError`] naming its field.

mod assess;
pub mod demo;
mod request;
mod statute;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use assess::{
    Assessment, CURRENCY, Charge, DogAssessment, DogLine, Installment, MonthStatus, Quote, assess,
    deregistration_delta, quote, quote_json,
};
pub use request::{DogEntry, FieldError, MAX_DOGS, QuoteRequest, YEARS, validate};
pub use statute::{
    Exemption, InstallmentSchedule, LiabilityStart, RateModel, Reduction, Statute, StatuteError,
    StatuteHistory,
};

/// Calendar dates in JSON are strictly `YYYY-MM-DD`; anything looser invites day/month mix-ups.
pub(crate) mod dates {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::{Date, Month};

    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        let shape_ok = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shape_ok {
            return None;
        }
        let year: i32 = text.get(0..4)?.parse().ok()?;
        let month: u8 = text.get(5..7)?.parse().ok()?;
        let day: u8 = text.get(8..10)?.parse().ok()?;
        Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
    }

    pub fn iso(date: Date) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }

    pub fn german(date: Date) -> String {
        format!(
            "{:02}.{:02}.{:04}",
            date.day(),
            u8::from(date.month()),
            date.year()
        )
    }

    /// Months counted from year 0, so that month arithmetic across years is plain subtraction.
    pub fn month_index(date: Date) -> i64 {
        i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1
    }

    /// The same day of the next month, or the month's last day where that day does not exist.
    pub fn one_month_later(date: Date) -> Option<Date> {
        let (year, month) = match date.month() {
            Month::December => (date.year().checked_add(1)?, Month::January),
            other => (date.year(), other.next()),
        };
        Date::from_calendar_date(year, month, date.day().min(month.length(year))).ok()
    }

    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&iso(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom("expected a date like 2026-03-20"))
    }

    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};
        use time::Date;

        pub fn serialize<S: Serializer>(
            date: &Option<Date>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => super::serialize(date, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(deserializer)? {
                Some(text) => super::parse(&text)
                    .map(Some)
                    .ok_or_else(|| serde::de::Error::custom("expected a date like 2026-03-20")),
                None => Ok(None),
            }
        }
    }
}

/// Money leaves this module as a string with exactly two decimals: JSON numbers would lose cents to
/// binary floating point in most clients.
pub(crate) mod money {
    use std::str::FromStr;

    use rust_decimal::{Decimal, RoundingStrategy};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Kaufmännisches Runden: half a cent goes up (away from zero), as on every Bescheid.
    pub fn round_cents(amount: Decimal) -> Decimal {
        let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(2);
        rounded
    }

    pub fn format(amount: Decimal) -> String {
        round_cents(amount).to_string()
    }

    pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*amount))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = String::deserialize(deserializer)?;
        Decimal::from_str(&text)
            .map_err(|_| serde::de::Error::custom("expected an amount like \"46.00\""))
    }
}

//! German civil time. Dates on receipts and deadlines are Berlin dates, so the UTC instants the
//! platform stores are converted with the EU summer-time rule (since 1996: last Sunday of March
//! 01:00 UTC to last Sunday of October 01:00 UTC), without a time-zone database.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

fn last_sunday(year: i32, month: Month) -> Option<Date> {
    let mut d =
        Date::from_calendar_date(year, month, time::util::days_in_month(month, year)).ok()?;
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day()?;
    }
    Some(d)
}

/// The offset of German time at a given instant: +01:00 (MEZ) or +02:00 (MESZ).
pub fn berlin_offset(at: OffsetDateTime) -> UtcOffset {
    let utc = at.to_offset(UtcOffset::UTC);
    let year = utc.year();
    let one = Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT);
    let start =
        last_sunday(year, Month::March).map(|d| PrimitiveDateTime::new(d, one).assume_utc());
    let end =
        last_sunday(year, Month::October).map(|d| PrimitiveDateTime::new(d, one).assume_utc());
    let summer = matches!((start, end), (Some(s), Some(e)) if utc >= s && utc < e);
    let hours = if summer { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

pub fn to_berlin(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(berlin_offset(at))
}

/// Today's date in Germany.
pub fn berlin_date(at: OffsetDateTime) -> Date {
    to_berlin(at).date()
}

/// "27.11.2026, 22:04 Uhr".
pub fn format_berlin(at: OffsetDateTime) -> String {
    let t = to_berlin(at);
    format!(
        "{:02}.{:02}.{}, {:02}:{:02} Uhr",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// Milliseconds since the Unix epoch, as times are stored.
pub fn to_unix_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn switches_on_the_eu_dates() {
        assert_eq!(
            berlin_offset(datetime!(2026-03-29 00:59 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            berlin_offset(datetime!(2026-03-29 01:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            berlin_offset(datetime!(2026-10-25 00:59 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            berlin_offset(datetime!(2026-10-25 01:00 UTC)).whole_hours(),
            1
        );
        assert_eq!(
            format_berlin(datetime!(2026-11-25 21:00 UTC)),
            "25.11.2026, 22:00 Uhr"
        );
        assert_eq!(
            berlin_date(datetime!(2026-06-30 22:30 UTC)).to_string(),
            "2026-07-01"
        );
    }
}

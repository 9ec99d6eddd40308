//! Calendar dates and time in Japan.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};

use crate::CoreError;

/// The earliest birth date accepted: 1868-01-01, the start of the Meiji year 1
/// as this crate counts it (see [`crate::Era::Meiji`]).
pub const EARLIEST_BIRTH_DATE: Date = jiff::civil::date(1868, 1, 1);

/// Japan Standard Time as a fixed offset, UTC+09:00.
pub const JST_OFFSET: Offset = Offset::constant(9);

/// Japan Standard Time as a fixed-offset time zone, UTC+09:00.
///
/// Japan has observed no daylight saving time since 1951, so a fixed offset is
/// exact for every date this system handles and needs no time zone database.
pub const JST: TimeZone = TimeZone::fixed(JST_OFFSET);

/// [`JST`] as a function, for call sites that prefer one.
pub fn jst() -> TimeZone {
    JST
}

/// The calendar date in Japan at the instant `now`.
pub fn today_jst(now: Timestamp) -> Date {
    JST_OFFSET.to_datetime(now).date()
}

/// 23:59:59 JST on `d` (= 14:59:59Z the same day): the moment JPKI certificates
/// and cards expire on their last day. Error field `"date"` only at the edges of
/// the supported range (year 9999 / −9999).
pub fn end_of_day_jst(d: Date) -> Result<Timestamp, CoreError> {
    JST_OFFSET
        .to_timestamp(d.at(23, 59, 59, 0))
        .map_err(|e| CoreError::invalid("date", format!("end of day is out of range: {e}")))
}

/// Parses a date written strictly as `YYYY-MM-DD` (ASCII digits, four-digit
/// year, zero-padded month and day, nothing before or after). Dates that do not
/// exist in the (proleptic Gregorian) calendar, such as `2023-02-29`, are
/// rejected with a reason. Errors name `field`.
pub fn parse_date(s: &str, field: &'static str) -> Result<Date, CoreError> {
    let bad_format = || CoreError::invalid(field, "expected a date written as YYYY-MM-DD");
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad_format());
    }
    let num = |range: std::ops::Range<usize>| -> Result<i16, CoreError> {
        let part = b.get(range).ok_or_else(bad_format)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return Err(bad_format());
        }
        Ok(part
            .iter()
            .fold(0i16, |acc, d| acc * 10 + i16::from(d - b'0')))
    };
    let year = num(0..4)?;
    let month = num(5..7)?;
    let day = num(8..10)?;
    if !(1..=12).contains(&month) {
        return Err(CoreError::invalid(
            field,
            format!("month {month} does not exist (expected 01-12)"),
        ));
    }
    // Month is 1..=12 and day ≤ 99, so both fit in i8.
    let (month, day) = (month as i8, day as i8);
    let first = Date::new(year, month, 1)
        .map_err(|e| CoreError::invalid(field, format!("out of range: {e}")))?;
    let last = first.days_in_month();
    if day < 1 || day > last {
        return Err(CoreError::invalid(
            field,
            format!("day {day} does not exist in {year:04}-{month:02}, which has {last} days"),
        ));
    }
    Date::new(year, month, day).map_err(|e| CoreError::invalid(field, format!("out of range: {e}")))
}

/// Deserialises a `birth_date` through [`parse_date`], so that an impossible date is
/// rejected with an error naming the field (serde loses field paths in flattened
/// structs such as the API's registration body).
pub(crate) fn deserialize_birth_date<'de, D>(d: D) -> Result<Date, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let s = <String as serde::Deserialize>::deserialize(d)?;
    parse_date(&s, "birth_date").map_err(serde::de::Error::custom)
}

/// As [`deserialize_birth_date`], for an optional `birth_date` (`null` or absent: `None`;
/// use with `#[serde(default)]`).
pub fn deserialize_optional_birth_date<'de, D>(d: D) -> Result<Option<Date>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match <Option<String> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_date(&s, "birth_date")
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Checks that a birth date is neither after `today` nor before 1868-01-01
/// ([`EARLIEST_BIRTH_DATE`]). Error field `"birth_date"`.
pub fn validate_birth_date(d: Date, today: Date) -> Result<(), CoreError> {
    if d > today {
        return Err(CoreError::invalid("birth_date", "is in the future"));
    }
    if d < EARLIEST_BIRTH_DATE {
        return Err(CoreError::invalid(
            "birth_date",
            "is before 1868-01-01 (the start of the Meiji era)",
        ));
    }
    Ok(())
}

//! Japan Standard Time helpers.
#![allow(clippy::unwrap_used)]

use honnin_core::{JST, end_of_day_jst, jst, today_jst};
use jiff::Timestamp;
use jiff::civil::date;
use jiff::tz::Offset;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn today_in_japan() {
    assert_eq!(today_jst(ts("2024-03-31T14:59:59Z")), date(2024, 3, 31));
    assert_eq!(today_jst(ts("2024-03-31T15:00:00Z")), date(2024, 4, 1));
    // Summer: still +09:00 (no DST).
    assert_eq!(today_jst(ts("2024-07-31T15:00:00Z")), date(2024, 8, 1));
}

#[test]
fn end_of_day() {
    assert_eq!(
        end_of_day_jst(date(2034, 3, 31)).unwrap(),
        ts("2034-03-31T14:59:59Z")
    );
    assert_eq!(
        end_of_day_jst(date(2024, 2, 29)).unwrap(),
        ts("2024-02-29T14:59:59Z")
    );
    let eod = end_of_day_jst(date(2024, 4, 1)).unwrap();
    assert_eq!(today_jst(eod), date(2024, 4, 1));
    assert_eq!(
        today_jst(eod + jiff::SignedDuration::from_secs(1)),
        date(2024, 4, 2)
    );
}

#[test]
fn jst_is_fixed_plus_nine() {
    for t in [
        "1970-01-01T00:00:00Z",
        "2024-01-15T00:00:00Z",
        "2024-07-15T00:00:00Z",
    ] {
        assert_eq!(jst().to_offset(ts(t)), Offset::constant(9));
        assert_eq!(JST.to_offset(ts(t)), Offset::constant(9));
    }
    let z = ts("2024-04-01T00:00:00Z").to_zoned(jst());
    assert_eq!(z.hour(), 9);
}

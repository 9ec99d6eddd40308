//! Validity ends and the age rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use honnin_core::end_of_day_jst;
use honnin_pki::*;
use jiff::Timestamp;
use jiff::civil::{Date, date};

/// Noon JST on `d`.
fn at(d: Date) -> Timestamp {
    honnin_core::JST_OFFSET
        .to_timestamp(d.at(12, 0, 0, 0))
        .unwrap()
}

fn end(d: Date) -> Timestamp {
    end_of_day_jst(d).unwrap()
}

const BIRTH: Date = date(1990, 5, 14);

#[test]
fn fifth_birthday_after_issuance() {
    // The day before the birthday: that birthday is the first.
    assert_eq!(
        validity_end(at(date(2025, 5, 13)), BIRTH, None).unwrap(),
        end(date(2029, 5, 14))
    );
    // On the birthday: it does not count (発行の日後).
    assert_eq!(
        validity_end(at(date(2025, 5, 14)), BIRTH, None).unwrap(),
        end(date(2030, 5, 14))
    );
    // The day after.
    assert_eq!(
        validity_end(at(date(2025, 5, 15)), BIRTH, None).unwrap(),
        end(date(2030, 5, 14))
    );
    // The end is 23:59:59 JST = 14:59:59Z.
    assert_eq!(
        validity_end(at(date(2025, 5, 15)), BIRTH, None).unwrap(),
        "2030-05-14T14:59:59Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn issuance_date_is_taken_in_jst() {
    // 2025-05-13T15:30Z is already 05-14 00:30 in Japan: issued on the birthday.
    let t: Timestamp = "2025-05-13T15:30:00Z".parse().unwrap();
    assert_eq!(
        validity_end(t, BIRTH, None).unwrap(),
        end(date(2030, 5, 14))
    );
    let t: Timestamp = "2025-05-13T14:59:59Z".parse().unwrap();
    assert_eq!(
        validity_end(t, BIRTH, None).unwrap(),
        end(date(2029, 5, 14))
    );
}

#[test]
fn capped_at_card_expiry() {
    let issued = at(date(2025, 5, 15));
    assert_eq!(
        validity_end(issued, BIRTH, Some(date(2027, 1, 31))).unwrap(),
        end(date(2027, 1, 31))
    );
    // A later card expiry does not extend it.
    assert_eq!(
        validity_end(issued, BIRTH, Some(date(2035, 5, 14))).unwrap(),
        end(date(2030, 5, 14))
    );
    // A card that expired before issuance.
    assert!(matches!(
        validity_end(issued, BIRTH, Some(date(2025, 5, 14))),
        Err(PkiError::Validity { .. })
    ));
    // Born after issuance.
    assert!(validity_end(issued, date(2026, 1, 1), None).is_err());
}

#[test]
fn leap_day_birthdays_expire_on_feb_28_in_common_years() {
    let b = date(2008, 2, 29);
    // 5th birthday after 2025-03-01: 2026, 2027, 2028 (29th), 2029, 2030 → 2030-02-28.
    assert_eq!(
        validity_end(at(date(2025, 3, 1)), b, None).unwrap(),
        end(date(2030, 2, 28))
    );
    // Issued on 2027-02-28 (= the birthday in a common year): the next one counts.
    // 2028-02-29, 2029-02-28, 2030, 2031, 2032-02-29.
    assert_eq!(
        validity_end(at(date(2027, 2, 28)), b, None).unwrap(),
        end(date(2032, 2, 29))
    );
    // Issued 2027-02-27: 2027-02-28 is the first.
    assert_eq!(
        validity_end(at(date(2027, 2, 27)), b, None).unwrap(),
        end(date(2031, 2, 28))
    );
}

#[test]
fn under_fifteen_gets_no_signature_certificate() {
    let b = date(2011, 6, 10);
    assert!(!may_hold_signature_certificate(b, at(date(2026, 6, 9))));
    assert!(may_hold_signature_certificate(b, at(date(2026, 6, 10))));
    assert!(may_hold_signature_certificate(b, at(date(2040, 1, 1))));
    assert!(!may_hold_signature_certificate(b, at(date(2011, 6, 10))));
    // JST: 2026-06-09T15:00Z is 06-10 in Japan.
    assert!(may_hold_signature_certificate(
        b,
        "2026-06-09T15:00:00Z".parse().unwrap()
    ));
    assert!(!may_hold_signature_certificate(
        b,
        "2026-06-09T14:59:59Z".parse().unwrap()
    ));
}

#[test]
fn leap_day_births_turn_fifteen_on_march_1_in_common_years() {
    let b = date(2008, 2, 29);
    // 2023 is a common year.
    assert!(!may_hold_signature_certificate(b, at(date(2023, 2, 28))));
    assert!(may_hold_signature_certificate(b, at(date(2023, 3, 1))));
    // An ordinary birthday that falls in a leap year's February.
    let b = date(2013, 2, 28);
    assert!(!may_hold_signature_certificate(b, at(date(2028, 2, 27))));
    assert!(may_hold_signature_certificate(b, at(date(2028, 2, 28))));
}

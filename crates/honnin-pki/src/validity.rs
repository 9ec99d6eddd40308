//! Validity periods of JPKI end-entity certificates.
//!
//! Two different legal notions meet here for people born on 29 February:
//!
//! - **Expiry "on the birthday"** (validity end): in a common year the birthday
//!   is taken to be **28 February**, as the Road Traffic Act (道路交通法 §92-2)
//!   deems for licences expiring on a birthday. It is the conservative choice:
//!   the certificate never outlives the date a reader would look for.
//! - **Age** (the 15-year minimum for a signature certificate): under the Act on
//!   Age Calculation (年齢計算ニ関スル法律) and Civil Code §143, a person born on
//!   29 February completes a year at the end of 28 February in a common year, so
//!   they **are** 15 from **1 March** (any other person is N from their
//!   birthday).

use honnin_core::{end_of_day_jst, today_jst};
use jiff::Timestamp;
use jiff::civil::Date;

use crate::PkiError;

fn bad(reason: impl Into<String>) -> PkiError {
    PkiError::Validity {
        reason: reason.into(),
    }
}

/// The birthday in `year` as a day on which something expires (29 Feb → 28 Feb
/// in common years).
fn birthday_for_expiry(birth: Date, year: i16) -> Result<Date, PkiError> {
    Date::new(year, birth.month(), birth.day())
        .or_else(|_| Date::new(year, 2, 28))
        .map_err(|e| bad(format!("birthday in year {year}: {e}")))
}

/// The first day, in `year`, of the new year of age (29 Feb → 1 Mar in common
/// years).
fn age_anniversary(birth: Date, year: i16) -> Result<Date, PkiError> {
    Date::new(year, birth.month(), birth.day())
        .or_else(|_| Date::new(year, 3, 1))
        .map_err(|e| bad(format!("anniversary in year {year}: {e}")))
}

/// End of validity of a JPKI end-entity certificate issued at `issued_at` to a
/// holder born on `birth_date`: 23:59:59 JST on the holder's 5th birthday after
/// the issuance date (JST; a birthday on the issuance date itself does not
/// count), capped at 23:59:59 JST on `card_expiry` if given. Errors if the
/// birth date lies after the issuance date or the cap lies before issuance.
pub fn validity_end(
    issued_at: Timestamp,
    birth_date: Date,
    card_expiry: Option<Date>,
) -> Result<Timestamp, PkiError> {
    let issued_on = today_jst(issued_at);
    if birth_date > issued_on {
        return Err(bad("the birth date lies after the issuance date"));
    }
    let mut first_year = issued_on.year();
    if birthday_for_expiry(birth_date, first_year)? <= issued_on {
        first_year = first_year
            .checked_add(1)
            .ok_or_else(|| bad("year out of range"))?;
    }
    let fifth_year = first_year
        .checked_add(4)
        .ok_or_else(|| bad("year out of range"))?;
    let fifth = birthday_for_expiry(birth_date, fifth_year)?;
    let mut end = end_of_day_jst(fifth).map_err(|e| bad(e.to_string()))?;
    if let Some(expiry) = card_expiry {
        let cap = end_of_day_jst(expiry).map_err(|e| bad(e.to_string()))?;
        if cap < end {
            end = cap;
        }
    }
    if end <= issued_at {
        return Err(bad("the card expires before the issuance time"));
    }
    Ok(end)
}

/// Whether a holder born on `birth_date` may hold a signature certificate at
/// `issued_at`: 15 or older on the JST date of issuance (the 15th birthday itself
/// counts; 29 February births in a common year count from 1 March).
pub fn may_hold_signature_certificate(birth_date: Date, issued_at: Timestamp) -> bool {
    let today = today_jst(issued_at);
    let Some(year) = birth_date.year().checked_add(15) else {
        return false;
    };
    match age_anniversary(birth_date, year) {
        Ok(d) => today >= d,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use jiff::civil::date;

    #[test]
    fn leap_day_rules() {
        let b = date(2008, 2, 29);
        assert_eq!(birthday_for_expiry(b, 2025).unwrap(), date(2025, 2, 28));
        assert_eq!(birthday_for_expiry(b, 2028).unwrap(), date(2028, 2, 29));
        assert_eq!(age_anniversary(b, 2023).unwrap(), date(2023, 3, 1));
    }
}

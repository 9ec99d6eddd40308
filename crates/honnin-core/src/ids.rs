//! Numeric identifiers: 個人番号, 法人番号, 住民票コード, 地方公共団体コード.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::macros::string_newtype;

/// Checks that `s` is exactly `N` ASCII digits and returns their values.
///
/// Nothing is trimmed. Reasons never quote the input.
fn ascii_digits<const N: usize>(s: &str, field: &'static str) -> Result<[u8; N], CoreError> {
    if s.is_empty() {
        return Err(CoreError::invalid(
            field,
            format!("is empty; expected {N} digits"),
        ));
    }
    if s.chars().any(|c| ('０'..='９').contains(&c)) {
        return Err(CoreError::invalid(
            field,
            "contains full-width digits (０-９); enter half-width ASCII digits 0-9",
        ));
    }
    let mut out = [0u8; N];
    let mut count = 0usize;
    for (i, c) in s.chars().enumerate() {
        let pos = i + 1;
        if c.is_whitespace() {
            return Err(CoreError::invalid(
                field,
                format!("contains whitespace at position {pos}; enter the {N} digits only"),
            ));
        }
        if c == '-' {
            return Err(CoreError::invalid(
                field,
                format!(
                    "contains a hyphen at position {pos}; enter the {N} digits without separators"
                ),
            ));
        }
        // `to_digit(10)` accepts ASCII 0-9 only.
        let Some(d) = c.to_digit(10) else {
            return Err(CoreError::invalid(
                field,
                format!("contains a non-digit character at position {pos}"),
            ));
        };
        if let Some(slot) = out.get_mut(i) {
            // `d` is 0..=9, so the cast is lossless.
            *slot = d as u8;
        }
        count += 1;
    }
    if count != N {
        return Err(CoreError::invalid(
            field,
            format!("must be exactly {N} digits, got {count}"),
        ));
    }
    Ok(out)
}

fn digits_to_string(ds: &[u8]) -> String {
    ds.iter().map(|d| char::from(b'0' + d % 10)).collect()
}

fn random_digits<R: rand::Rng + ?Sized, const N: usize>(rng: &mut R) -> [u8; N] {
    let mut out = [0u8; N];
    for d in &mut out {
        *d = rng.random_range(0..=9u8);
    }
    out
}

// ---------------------------------------------------------------------------
// 個人番号
// ---------------------------------------------------------------------------

/// 個人番号 (My Number): 12 ASCII digits, the last one a check digit.
///
/// `Display` and serialisation show the number in full; `Debug` masks all but the
/// last four digits (`MyNumber(****-****-0257)`) so that the number does not leak
/// into logs through `{:?}`. Deserialisation validates.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MyNumber(String);

string_newtype!(MyNumber);

impl MyNumber {
    const FIELD: &'static str = "my_number";

    /// Parses a My Number: exactly 12 half-width digits with a correct check digit.
    ///
    /// Nothing is trimmed; spaces, hyphens and full-width digits are rejected with a
    /// reason saying so. The error is on field `"my_number"`.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ds: [u8; 12] = ascii_digits(s, Self::FIELD)?;
        let mut base = [0u8; 11];
        base.copy_from_slice(&ds[..11]);
        if Self::check_digit(&base) != ds[11] {
            return Err(CoreError::CheckDigit { field: Self::FIELD });
        }
        Ok(MyNumber(s.to_owned()))
    }

    /// The check digit for the 11 base digits (values 0..=9, left to right).
    ///
    /// Left-to-right weights 6,5,4,3,2,7,6,5,4,3,2; r = Σ digit·weight mod 11;
    /// check = 0 if r ≤ 1, else 11 − r.
    pub fn check_digit(base: &[u8; 11]) -> u8 {
        const WEIGHTS: [u32; 11] = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2];
        let sum: u32 = base
            .iter()
            .zip(WEIGHTS)
            .map(|(&d, w)| u32::from(d) * w)
            .sum();
        let r = sum % 11;
        // r is 0..=10, so 11 − r fits in a u8.
        if r <= 1 { 0 } else { (11 - r) as u8 }
    }

    /// A random valid My Number: 11 uniformly random digits (the first may be 0)
    /// followed by the check digit. For test data and simulations only.
    pub fn generate<R: rand::Rng + ?Sized>(rng: &mut R) -> Self {
        let base: [u8; 11] = random_digits(rng);
        let mut s = digits_to_string(&base);
        s.push(char::from(b'0' + Self::check_digit(&base)));
        MyNumber(s)
    }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MyNumber(****-****-{})",
            self.0.get(8..).unwrap_or("****")
        )
    }
}

// ---------------------------------------------------------------------------
// 法人番号
// ---------------------------------------------------------------------------

/// 法人番号 (corporate number): 13 ASCII digits, the *leading* digit a check digit.
///
/// Not personal information, so `Debug` shows it in full.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CorporateNumber(String);

string_newtype!(CorporateNumber);

impl CorporateNumber {
    const FIELD: &'static str = "corporate_number";

    /// Parses a corporate number: exactly 13 half-width digits, leading check digit
    /// correct. Error field `"corporate_number"`.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ds: [u8; 13] = ascii_digits(s, Self::FIELD)?;
        let mut base = [0u8; 12];
        base.copy_from_slice(&ds[1..]);
        if Self::check_digit(&base) != ds[0] {
            return Err(CoreError::CheckDigit { field: Self::FIELD });
        }
        Ok(CorporateNumber(s.to_owned()))
    }

    /// The check digit for the 12 base digits (values 0..=9, left to right, i.e.
    /// the number without its leading check digit).
    ///
    /// 9 − (Σ Pn·Qn mod 9), Qn = 1 for odd n and 2 for even n, n counted from the
    /// right (n = 1 is the rightmost digit). Always 1..=9.
    pub fn check_digit(base: &[u8; 12]) -> u8 {
        let sum: u32 = base
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 1 } else { 2 })
            .sum();
        // sum % 9 is 0..=8.
        9 - (sum % 9) as u8
    }
}

// ---------------------------------------------------------------------------
// 住民票コード
// ---------------------------------------------------------------------------

/// 住民票コード (resident-record code): 11 random ASCII digits, no check digit.
///
/// `Debug` masks all but the last four digits; `Display` and serialisation show
/// it in full.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResidentCode(String);

string_newtype!(ResidentCode);

impl ResidentCode {
    const FIELD: &'static str = "resident_code";

    /// Parses exactly 11 half-width digits. Error field `"resident_code"`.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let _: [u8; 11] = ascii_digits(s, Self::FIELD)?;
        Ok(ResidentCode(s.to_owned()))
    }

    /// A random code: 11 uniformly random digits.
    pub fn generate<R: rand::Rng + ?Sized>(rng: &mut R) -> Self {
        let ds: [u8; 11] = random_digits(rng);
        ResidentCode(digits_to_string(&ds))
    }
}

impl fmt::Debug for ResidentCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResidentCode(*******{})",
            self.0.get(7..).unwrap_or("****")
        )
    }
}

// ---------------------------------------------------------------------------
// 地方公共団体コード
// ---------------------------------------------------------------------------

/// 地方公共団体コード (local government code): the five-digit JIS X 0402 code
/// followed by a check digit, e.g. `131016` for 千代田区.
///
/// The first two digits are the prefecture (01 北海道 … 13 東京都 … 47 沖縄県);
/// `parse` rejects prefecture codes outside 01..=47.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalGovCode(String);

string_newtype!(LocalGovCode);

impl LocalGovCode {
    const FIELD: &'static str = "municipality";

    /// Parses a six-digit code with a correct check digit and a prefecture code in
    /// 01..=47. Error field `"municipality"`.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        let ds: [u8; 6] = ascii_digits(s, Self::FIELD)?;
        Self::check_prefecture(&ds[..2])?;
        let mut base = [0u8; 5];
        base.copy_from_slice(&ds[..5]);
        if Self::check_digit(&base) != ds[5] {
            return Err(CoreError::CheckDigit { field: Self::FIELD });
        }
        Ok(LocalGovCode(s.to_owned()))
    }

    /// Builds the code from the five-digit JIS X 0402 code by appending the check
    /// digit (`"13101"` → `131016`). Error field `"municipality"`.
    pub fn from_jis5(jis5: &str) -> Result<Self, CoreError> {
        let ds: [u8; 5] = ascii_digits(jis5, Self::FIELD)?;
        Self::check_prefecture(&ds[..2])?;
        let mut s = jis5.to_owned();
        s.push(char::from(b'0' + Self::check_digit(&ds)));
        Ok(LocalGovCode(s))
    }

    /// The check digit for a JIS X 0402 code (digit values, left to right):
    /// s = d1·6 + d2·5 + d3·4 + d4·3 + d5·2; check = (11 − s mod 11) mod 10.
    pub fn check_digit(jis5: &[u8; 5]) -> u8 {
        const WEIGHTS: [u32; 5] = [6, 5, 4, 3, 2];
        let sum: u32 = jis5
            .iter()
            .zip(WEIGHTS)
            .map(|(&d, w)| u32::from(d) * w)
            .sum();
        // (11 − r) is 1..=11; mod 10 gives 0..=9.
        ((11 - sum % 11) % 10) as u8
    }

    /// The five-digit JIS X 0402 part (without the check digit).
    pub fn jis5(&self) -> &str {
        self.0.get(..5).unwrap_or(&self.0)
    }

    /// The prefecture code, 1..=47 (the first two digits).
    pub fn prefecture_code(&self) -> u8 {
        self.0
            .bytes()
            .take(2)
            .fold(0u8, |acc, b| acc * 10 + (b - b'0'))
    }

    fn check_prefecture(two: &[u8]) -> Result<(), CoreError> {
        let pref = two.iter().fold(0u8, |acc, d| acc * 10 + d);
        if (1..=47).contains(&pref) {
            Ok(())
        } else {
            Err(CoreError::invalid(
                Self::FIELD,
                format!("prefecture code {pref:02} does not exist (expected 01-47)"),
            ))
        }
    }
}

//! 和暦: Japanese era dates, as printed on certificates and encoded in JPKI.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::CoreError;

/// A Japanese era (元号) since the Meiji restoration.
///
/// All dates are proleptic Gregorian. Japan used a lunisolar calendar until the
/// end of Meiji 5 (1872); this crate does not convert such dates and treats every
/// Gregorian date from 1868-01-01 to 1868-10-22 (before the Meiji era was
/// proclaimed on 1868-10-23) as Meiji 1 as well, so that every date from
/// 1868-01-01 on has a wareki form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Era {
    /// 明治, from 1868-10-23 (dates from 1868-01-01 on are counted as Meiji 1).
    Meiji,
    /// 大正, from 1912-07-30.
    Taisho,
    /// 昭和, from 1926-12-25.
    Showa,
    /// 平成, from 1989-01-08.
    Heisei,
    /// 令和, from 2019-05-01.
    Reiwa,
}

impl Era {
    /// All eras, oldest first.
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The era digit in the JPKI birth-date encoding: 1 Meiji, 2 Taishō, 3 Shōwa,
    /// 4 Heisei, 5 Reiwa. (0, "unknown", is `None` in an `Option<Era>`.)
    pub fn jpki_code(self) -> u8 {
        match self {
            Era::Meiji => 1,
            Era::Taisho => 2,
            Era::Showa => 3,
            Era::Heisei => 4,
            Era::Reiwa => 5,
        }
    }

    /// The inverse of [`Era::jpki_code`]: 0 → `None` (unknown), 1..=5 → the era.
    /// Error field `"era"` for other codes.
    pub fn from_jpki_code(code: u8) -> Result<Option<Era>, CoreError> {
        match code {
            0 => Ok(None),
            1 => Ok(Some(Era::Meiji)),
            2 => Ok(Some(Era::Taisho)),
            3 => Ok(Some(Era::Showa)),
            4 => Ok(Some(Era::Heisei)),
            5 => Ok(Some(Era::Reiwa)),
            other => Err(CoreError::invalid(
                "era",
                format!("JPKI era code {other} is not 0-5"),
            )),
        }
    }

    /// The era name in kanji: 明治, 大正, 昭和, 平成, 令和.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The first day of the era. For Meiji this is the proclamation date,
    /// 1868-10-23, although earlier 1868 dates are counted as Meiji 1.
    pub fn start(self) -> Date {
        match self {
            Era::Meiji => jiff::civil::date(1868, 10, 23),
            Era::Taisho => jiff::civil::date(1912, 7, 30),
            Era::Showa => jiff::civil::date(1926, 12, 25),
            Era::Heisei => jiff::civil::date(1989, 1, 8),
            Era::Reiwa => jiff::civil::date(2019, 5, 1),
        }
    }

    /// The era that follows, if any.
    pub fn next(self) -> Option<Era> {
        match self {
            Era::Meiji => Some(Era::Taisho),
            Era::Taisho => Some(Era::Showa),
            Era::Showa => Some(Era::Heisei),
            Era::Heisei => Some(Era::Reiwa),
            Era::Reiwa => None,
        }
    }

    /// The first date this crate counts as belonging to the era: [`Era::start`],
    /// except 1868-01-01 for Meiji.
    fn first_counted_day(self) -> Date {
        match self {
            Era::Meiji => crate::date::EARLIEST_BIRTH_DATE,
            other => other.start(),
        }
    }

    /// The era `d` belongs to, or `None` before 1868-01-01.
    pub fn of_date(d: Date) -> Option<Era> {
        Era::ALL
            .iter()
            .rev()
            .find(|e| d >= e.first_counted_day())
            .copied()
    }
}

impl fmt::Display for Era {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kanji())
    }
}

/// A date in the Japanese calendar: era, year of the era (1 = 元年), month, day.
///
/// Construct it with [`Wareki::from_date`]; a hand-built value is checked by
/// [`Wareki::to_date`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wareki {
    /// The era.
    pub era: Era,
    /// Year of the era, 1-based (1 is written 元年).
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of the month, 1..=31.
    pub day: u8,
}

impl Wareki {
    /// The wareki form of a Gregorian date. 1868-01-01..1868-10-22 give Meiji 1
    /// (see [`Era`]). Error field `"date"` for dates before 1868-01-01.
    pub fn from_date(d: Date) -> Result<Self, CoreError> {
        let era = Era::of_date(d).ok_or_else(|| {
            CoreError::invalid("date", "is before 1868-01-01 and has no wareki form")
        })?;
        // d ≥ era start, so the difference is ≥ 0 and < 10000.
        let year = (d.year() - era.start().year() + 1) as u16;
        Ok(Wareki {
            era,
            year,
            month: d.month() as u8,
            day: d.day() as u8,
        })
    }

    /// The Gregorian date. Error field `"wareki"` if the year is 0, the date does
    /// not exist, or it lies outside the era (e.g. 平成31年5月1日, which is 令和元年).
    pub fn to_date(&self) -> Result<Date, CoreError> {
        const FIELD: &str = "wareki";
        if self.year == 0 {
            return Err(CoreError::invalid(
                FIELD,
                "year of the era must be at least 1 (元年)",
            ));
        }
        let greg = i32::from(self.era.start().year()) + i32::from(self.year) - 1;
        let greg =
            i16::try_from(greg).map_err(|_| CoreError::invalid(FIELD, "year is out of range"))?;
        let month = i8::try_from(self.month)
            .map_err(|_| CoreError::invalid(FIELD, "month is out of range"))?;
        let day =
            i8::try_from(self.day).map_err(|_| CoreError::invalid(FIELD, "day is out of range"))?;
        let d = Date::new(greg, month, day).map_err(|_| {
            CoreError::invalid(FIELD, format!("{self} does not exist in the calendar"))
        })?;
        if Era::of_date(d) != Some(self.era) {
            return Err(CoreError::invalid(
                FIELD,
                format!("{self} lies outside the {} era", self.era.kanji()),
            ));
        }
        Ok(d)
    }

    /// The usual written form: `令和5年4月1日`, with the first year as `元年`
    /// (`令和元年5月1日`). Numbers are half-width.
    pub fn to_kanji_string(&self) -> String {
        let era = self.era.kanji();
        let (month, day) = (self.month, self.day);
        if self.year == 1 {
            format!("{era}元年{month}月{day}日")
        } else {
            format!("{era}{}年{month}月{day}日", self.year)
        }
    }

    /// The JPKI certificate birth-date encoding `EYYYYMMDD`.
    ///
    /// Interpretation used by this project: `E` is the era digit
    /// ([`Era::jpki_code`]) and `YYYYMMDD` is the **Gregorian** date, zero-padded —
    /// not the year of the era. So 1990-05-14 (平成2年) is `419900514` and
    /// 2019-05-01 (令和元年) is `520190501`. The era digit is thus redundant with
    /// the date except when it is 0 (unknown), which a `Wareki` never produces.
    /// The Gregorian year is computed from the era's start year even if the value
    /// would fail [`Wareki::to_date`].
    pub fn jpki_string(&self) -> String {
        let greg = i32::from(self.era.start().year()) + i32::from(self.year) - 1;
        format!(
            "{}{greg:04}{:02}{:02}",
            self.era.jpki_code(),
            self.month,
            self.day
        )
    }
}

impl fmt::Display for Wareki {
    /// Same as [`Wareki::to_kanji_string`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_kanji_string())
    }
}

/// Parses a JPKI birth date `EYYYYMMDD` (see [`Wareki::jpki_string`]) into the era
/// (`None` for 0, unknown) and the Gregorian date. If an era is given it must be
/// the era of the date. Error field `"birth_date"`.
pub fn parse_jpki_date(s: &str) -> Result<(Option<Era>, Date), CoreError> {
    const FIELD: &str = "birth_date";
    let bad = || CoreError::invalid(FIELD, "expected EYYYYMMDD (era digit 0-5 and 8 digits)");
    if s.len() != 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (e, rest) = s.split_at(1);
    let code = e.bytes().next().map(|b| b - b'0').ok_or_else(bad)?;
    let era = Era::from_jpki_code(code).map_err(|_| bad())?;
    let iso = format!(
        "{}-{}-{}",
        rest.get(0..4).ok_or_else(bad)?,
        rest.get(4..6).ok_or_else(bad)?,
        rest.get(6..8).ok_or_else(bad)?
    );
    let d = crate::date::parse_date(&iso, FIELD)?;
    if let Some(era) = era
        && Era::of_date(d) != Some(era)
    {
        return Err(CoreError::invalid(
            FIELD,
            format!("era digit {code} does not match the date"),
        ));
    }
    Ok((era, d))
}

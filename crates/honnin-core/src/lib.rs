//! Domain values of honnin, an open implementation of Japan's My Number identity
//! system: identifiers, the 4 facts (基本4情報), Japanese-calendar dates and time in
//! Japan.
//!
//! Everything here is a pure, validated value with no I/O. Each type checks its
//! invariants on construction (`parse`, `FromStr`, and serde deserialisation, which
//! goes through the same checks), and every failure is a [`CoreError`] naming the
//! field it concerns.
//!
//! - Identifiers: [`MyNumber`] (個人番号), [`CorporateNumber`] (法人番号),
//!   [`ResidentCode`] (住民票コード), [`LocalGovCode`] (地方公共団体コード).
//! - Facts: [`PersonName`], [`KanaName`], [`Address`], [`SubstituteFlags`],
//!   [`Sex`], gathered in [`BasicFacts`].
//! - Dates: [`parse_date`], [`validate_birth_date`], 和暦 ([`Era`], [`Wareki`]),
//!   Japan Standard Time ([`JST`], [`jst`], [`today_jst`], [`end_of_day_jst`]).
//! - Matching: [`normalize_for_match`].
//!
//! Values that identify a person ([`MyNumber`], [`ResidentCode`]) mask themselves
//! in `Debug` output; error messages never repeat the rejected input.

mod macros;

mod actor;
mod date;
mod error;
mod ids;
mod normalize;
mod person;
mod wareki;

pub use actor::{Actor, Role};
pub use date::{
    EARLIEST_BIRTH_DATE, JST, JST_OFFSET, deserialize_optional_birth_date, end_of_day_jst, jst,
    parse_date, today_jst, validate_birth_date,
};
pub use error::CoreError;
pub use ids::{CorporateNumber, LocalGovCode, MyNumber, ResidentCode};
pub use normalize::normalize_for_match;
pub use person::{
    Address, BasicFacts, FULLWIDTH_SPACE, KanaName, MAX_ADDRESS_CHARS, MAX_KANA_CHARS,
    MAX_NAME_CHARS, PersonName, Sex, SubstituteFlags,
};
pub use wareki::{Era, Wareki, parse_jpki_date};

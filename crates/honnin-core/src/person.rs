//! The 4 facts (基本4情報) and the values around them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::CoreError;
use crate::date::validate_birth_date;
use crate::macros::string_newtype;

/// U+3000 IDEOGRAPHIC SPACE, the separator between surname and given name.
pub const FULLWIDTH_SPACE: char = '\u{3000}';

/// Longest [`PersonName`], in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest [`KanaName`], in characters.
pub const MAX_KANA_CHARS: usize = 100;
/// Longest [`Address`], in characters (the JPKI certificate limit).
pub const MAX_ADDRESS_CHARS: usize = 200;

/// Invisible characters that are not `char::is_control` but have no place in a
/// name or address (zero-width spaces and joiners, directional marks, BOM).
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

fn check_common(s: &str, field: &'static str, max: usize) -> Result<usize, CoreError> {
    if s.is_empty() {
        return Err(CoreError::invalid(field, "is empty"));
    }
    if let Some(pos) = s.chars().position(|c| c.is_control() || is_invisible(c)) {
        return Err(CoreError::invalid(
            field,
            format!(
                "contains a control or invisible character at position {}",
                pos + 1
            ),
        ));
    }
    let n = s.chars().count();
    if n > max {
        return Err(CoreError::invalid(
            field,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    Ok(n)
}

/// Checks the whitespace rules shared by names and kana readings: no leading or
/// trailing whitespace, U+3000 the only space, never two in a row.
fn check_name_spacing(s: &str, field: &'static str) -> Result<(), CoreError> {
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(CoreError::invalid(
            field,
            "has leading or trailing whitespace",
        ));
    }
    if let Some(pos) = s
        .chars()
        .position(|c| c.is_whitespace() && c != FULLWIDTH_SPACE)
    {
        return Err(CoreError::invalid(
            field,
            format!(
                "contains a half-width or other non-U+3000 space at position {}; \
                 separate surname and given name with one full-width space (U+3000 '　')",
                pos + 1
            ),
        ));
    }
    if s.contains("\u{3000}\u{3000}") {
        return Err(CoreError::invalid(
            field,
            "contains consecutive full-width spaces; use exactly one U+3000 between parts",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Sex
// ---------------------------------------------------------------------------

/// 性別. Codes as in the JPKI signature certificate: 1 male, 2 female, 3 unknown.
///
/// Serialised as `"male"`, `"female"`, `"unknown"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Sex {
    /// 男 (code 1).
    Male,
    /// 女 (code 2).
    Female,
    /// 不明 (code 3).
    Unknown,
}

impl Sex {
    /// The numeric code: 1 male, 2 female, 3 unknown.
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::Unknown => 3,
        }
    }

    /// From the numeric code 1, 2 or 3. Error field `"sex"`.
    pub fn from_code(code: u8) -> Result<Self, CoreError> {
        match code {
            1 => Ok(Sex::Male),
            2 => Ok(Sex::Female),
            3 => Ok(Sex::Unknown),
            other => Err(CoreError::invalid(
                "sex",
                format!("code {other} is not 1 (male), 2 (female) or 3 (unknown)"),
            )),
        }
    }

    /// The lower-case English name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
            Sex::Unknown => "unknown",
        }
    }

    /// As printed on a 住民票: 男, 女, or 不明.
    pub fn kanji(self) -> &'static str {
        match self {
            Sex::Male => "男",
            Sex::Female => "女",
            Sex::Unknown => "不明",
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Deserialisation: exactly `male`, `female` or `unknown`, with an error naming the
/// field `"sex"` (so that it is named even inside a flattened struct).
impl TryFrom<String> for Sex {
    type Error = CoreError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        match s.as_str() {
            "male" => Ok(Sex::Male),
            "female" => Ok(Sex::Female),
            "unknown" => Ok(Sex::Unknown),
            _ => Err(CoreError::invalid(
                "sex",
                "expected one of male, female, unknown",
            )),
        }
    }
}

impl FromStr for Sex {
    type Err = CoreError;

    /// Accepts `male`, `female`, `unknown` (exact, lower case) and `1`, `2`, `3`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "male" | "1" => Ok(Sex::Male),
            "female" | "2" => Ok(Sex::Female),
            "unknown" | "3" => Ok(Sex::Unknown),
            _ => Err(CoreError::invalid(
                "sex",
                "expected one of male, female, unknown, 1, 2, 3",
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// PersonName
// ---------------------------------------------------------------------------

/// 氏名: surname and given name separated by one full-width space U+3000
/// (`山田　太郎`).
///
/// A single token (no space) is allowed, as some foreign residents have one name.
/// Further parts (e.g. a middle name) are also separated by single U+3000s; two
/// spaces in a row are rejected. Nothing is normalised: half-width or other spaces,
/// leading/trailing whitespace, control and invisible characters are rejected, as
/// are names longer than 100 characters. Error field `"name"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PersonName(String);

string_newtype!(PersonName);

impl PersonName {
    const FIELD: &'static str = "name";

    /// Validates a name (see the type's documentation). Error field `"name"`.
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        check_common(s, Self::FIELD, MAX_NAME_CHARS)?;
        check_name_spacing(s, Self::FIELD)?;
        Ok(PersonName(s.to_owned()))
    }

    /// Length in characters (the length its [`SubstituteFlags`] must have).
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }

    /// The surname: the part before the first U+3000 (the whole name if none).
    pub fn surname(&self) -> &str {
        self.0.split(FULLWIDTH_SPACE).next().unwrap_or(&self.0)
    }

    /// The given name(s): everything after the first U+3000, if there is one.
    pub fn given_name(&self) -> Option<&str> {
        self.0.split_once(FULLWIDTH_SPACE).map(|(_, g)| g)
    }
}

// ---------------------------------------------------------------------------
// KanaName
// ---------------------------------------------------------------------------

/// フリガナ: the reading of a name in full-width katakana (U+30A0..U+30FF, which
/// includes the long vowel mark ー and the middle dot ・), parts separated by one
/// full-width space U+3000 as in [`PersonName`]. At most 100 characters.
/// Error field `"name_kana"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KanaName(String);

string_newtype!(KanaName);

impl KanaName {
    const FIELD: &'static str = "name_kana";

    /// Validates a kana reading (see the type's documentation).
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        check_common(s, Self::FIELD, MAX_KANA_CHARS)?;
        check_name_spacing(s, Self::FIELD)?;
        for (i, c) in s.chars().enumerate() {
            let pos = i + 1;
            match c {
                '\u{30A0}'..='\u{30FF}' | FULLWIDTH_SPACE => {}
                '\u{3041}'..='\u{309F}' => {
                    return Err(CoreError::invalid(
                        Self::FIELD,
                        format!(
                            "contains hiragana at position {pos}; write the reading in katakana"
                        ),
                    ));
                }
                '\u{FF65}'..='\u{FF9F}' => {
                    return Err(CoreError::invalid(
                        Self::FIELD,
                        format!(
                            "contains half-width katakana at position {pos}; use full-width katakana"
                        ),
                    ));
                }
                _ => {
                    return Err(CoreError::invalid(
                        Self::FIELD,
                        format!(
                            "contains a character at position {pos} that is not full-width katakana, \
                             ー, ・ or a full-width space"
                        ),
                    ));
                }
            }
        }
        Ok(KanaName(s.to_owned()))
    }

    /// Length in characters.
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

// ---------------------------------------------------------------------------
// Address
// ---------------------------------------------------------------------------

/// 住所: as held by the registry, without postcode. Non-empty, not only
/// whitespace, no control or invisible characters, at most 200 characters (the
/// JPKI certificate limit). Spaces inside are kept as given. Error field
/// `"address"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Address(String);

string_newtype!(Address);

impl Address {
    const FIELD: &'static str = "address";

    /// Validates an address (see the type's documentation).
    pub fn parse(s: &str) -> Result<Self, CoreError> {
        check_common(s, Self::FIELD, MAX_ADDRESS_CHARS)?;
        if s.chars().all(char::is_whitespace) {
            return Err(CoreError::invalid(Self::FIELD, "contains only whitespace"));
        }
        Ok(Address(s.to_owned()))
    }

    /// Length in characters (the length its [`SubstituteFlags`] must have).
    pub fn char_count(&self) -> usize {
        self.0.chars().count()
    }
}

// ---------------------------------------------------------------------------
// SubstituteFlags
// ---------------------------------------------------------------------------

/// 代替文字 flags: one `'0'` or `'1'` per character of the value they belong to;
/// `'1'` marks a character that stands in for one outside JIS X 0208 + 補助漢字.
///
/// On its own (`parse`, deserialisation) only the alphabet is checked, since the
/// value is not known; [`SubstituteFlags::parse_for`] and
/// [`BasicFacts::validate`] check the length against the value. Empty flags are
/// accepted by `parse` (they belong to an empty value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SubstituteFlags(String);

string_newtype!(SubstituteFlags);

impl SubstituteFlags {
    const FIELD: &'static str = "substitute_flags";

    /// All `'0'`: no substitute characters, one flag per character of `value`.
    pub fn none_for(value: &str) -> Self {
        SubstituteFlags("0".repeat(value.chars().count()))
    }

    /// Validates flags consisting only of `'0'` and `'1'`, length unchecked.
    /// Error field `"substitute_flags"`.
    pub fn parse(flags: &str) -> Result<Self, CoreError> {
        Self::check_alphabet(flags, Self::FIELD)?;
        Ok(SubstituteFlags(flags.to_owned()))
    }

    /// Validates flags for `value`: only `'0'`/`'1'`, exactly one per character of
    /// `value`. Errors name `field` (e.g. `"name_flags"`).
    pub fn parse_for(flags: &str, value: &str, field: &'static str) -> Result<Self, CoreError> {
        Self::check_alphabet(flags, field)?;
        let f = SubstituteFlags(flags.to_owned());
        f.check_len(value, field)?;
        Ok(f)
    }

    /// Whether any character is flagged as a substitute.
    pub fn any(&self) -> bool {
        self.0.contains('1')
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no flags at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the character at `index` (0-based, in characters) is flagged.
    /// `false` beyond the end.
    pub fn is_flagged(&self, index: usize) -> bool {
        self.0.as_bytes().get(index) == Some(&b'1')
    }

    /// Checks that there is exactly one flag per character of `value`.
    pub fn check_len(&self, value: &str, field: &'static str) -> Result<(), CoreError> {
        let want = value.chars().count();
        if self.len() != want {
            return Err(CoreError::invalid(
                field,
                format!(
                    "has {} flags but the value has {want} characters; one 0/1 per character is required",
                    self.len()
                ),
            ));
        }
        Ok(())
    }

    fn check_alphabet(flags: &str, field: &'static str) -> Result<(), CoreError> {
        if let Some(pos) = flags.chars().position(|c| c != '0' && c != '1') {
            return Err(CoreError::invalid(
                field,
                format!("position {} is not '0' or '1'", pos + 1),
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// BasicFacts
// ---------------------------------------------------------------------------

/// 基本4情報 (name, date of birth, sex, address) with the kana reading, the 通称
/// (alias, for foreign residents) and the substitute-character flags of name and
/// address.
///
/// Each field validates itself on construction and deserialisation; the
/// cross-field rules are checked by [`BasicFacts::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicFacts {
    /// 氏名.
    pub name: PersonName,
    /// フリガナ.
    pub name_kana: KanaName,
    /// 通称, if registered.
    pub alias: Option<PersonName>,
    /// 生年月日 (proleptic Gregorian), `YYYY-MM-DD`.
    #[serde(deserialize_with = "crate::date::deserialize_birth_date")]
    pub birth_date: jiff::civil::Date,
    /// 性別.
    pub sex: Sex,
    /// 住所.
    pub address: Address,
    /// 代替文字 flags of `name`.
    pub name_flags: SubstituteFlags,
    /// 代替文字 flags of `address`.
    pub address_flags: SubstituteFlags,
}

impl BasicFacts {
    /// Checks the rules that span fields: the birth date is plausible relative to
    /// `today` (see [`validate_birth_date`], field `"birth_date"`), and the flags
    /// have one entry per character of the name (field `"name_flags"`) and of the
    /// address (field `"address_flags"`).
    pub fn validate(&self, today: jiff::civil::Date) -> Result<(), CoreError> {
        validate_birth_date(self.birth_date, today)?;
        self.name_flags
            .check_len(self.name.as_str(), "name_flags")?;
        self.address_flags
            .check_len(self.address.as_str(), "address_flags")?;
        Ok(())
    }
}

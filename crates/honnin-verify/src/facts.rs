//! Comparing the 4 facts (基本4情報) of a signature certificate with the
//! application form's fields.
//!
//! Both sides are normalised (full-width/half-width, spaces, hyphens: see
//! [`honnin_core::normalize_for_match`]). A certificate character flagged as a
//! substitute (代替文字: the registry's glyph is not in the certificate's
//! character set and was replaced) matches any one character of the form, and
//! such a field is reported `substituted`, for a clerk to look at, never as a
//! plain match.

use honnin_core::{Sex, normalize_for_match};
use honnin_pki::SignatureFacts;
use serde::{Deserialize, Serialize};

/// The form's fields to compare; absent ones are not compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedFacts {
    /// 氏名 as written on the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 住所 as written on the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// 生年月日: `YYYY-MM-DD` or the JPKI form `EYYYYMMDD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// 性別: male / female / unknown or 1 / 2 / 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
}

impl ExpectedFacts {
    /// True when no field is given.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.address.is_none()
            && self.birth_date.is_none()
            && self.sex.is_none()
    }
}

/// The outcome for one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldResult {
    /// Equal after normalisation.
    Match,
    /// Different.
    Mismatch,
    /// Equal except where the certificate holds substitute characters: a
    /// person must compare those characters.
    Substituted,
}

impl FieldResult {
    /// `match`, `mismatch`, `substituted`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldResult::Match => "match",
            FieldResult::Mismatch => "mismatch",
            FieldResult::Substituted => "substituted",
        }
    }
}

/// One compared field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldComparison {
    /// `name`, `address`, `birth_date`, `sex`.
    pub field: String,
    /// What the form says.
    pub form: String,
    /// What the certificate says.
    pub certificate: String,
    /// The verdict.
    pub result: FieldResult,
    /// Why, when not a plain match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Compares every given field.
pub fn compare_facts(cert: &SignatureFacts, form: &ExpectedFacts) -> Vec<FieldComparison> {
    let mut out = Vec::new();
    if let Some(n) = &form.name {
        out.push(text_field("name", n, &cert.name, &cert.name_flags));
    }
    if let Some(a) = &form.address {
        out.push(text_field("address", a, &cert.address, &cert.address_flags));
    }
    if let Some(b) = &form.birth_date {
        let certificate = cert
            .birth_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "unknown".to_owned());
        let (result, note) = match parse_birth(b) {
            Ok(d) if Some(d) == cert.birth_date => (FieldResult::Match, None),
            Ok(_) => (FieldResult::Mismatch, None),
            Err(e) => (FieldResult::Mismatch, Some(e)),
        };
        out.push(FieldComparison {
            field: "birth_date".into(),
            form: b.clone(),
            certificate,
            result,
            note,
        });
    }
    if let Some(s) = &form.sex {
        let (result, note) = match s.trim().parse::<Sex>() {
            Ok(v) if v == cert.sex => (FieldResult::Match, None),
            Ok(_) => (FieldResult::Mismatch, None),
            Err(e) => (FieldResult::Mismatch, Some(e.to_string())),
        };
        out.push(FieldComparison {
            field: "sex".into(),
            form: s.clone(),
            certificate: cert.sex.as_str().to_owned(),
            result,
            note,
        });
    }
    out
}

fn parse_birth(s: &str) -> Result<jiff::civil::Date, String> {
    let s = normalize_for_match(s);
    if s.len() == 10 {
        honnin_core::parse_date(&s, "birth_date").map_err(|e| e.to_string())
    } else {
        honnin_pki_date(&s)
    }
}

fn honnin_pki_date(s: &str) -> Result<jiff::civil::Date, String> {
    honnin_core::parse_jpki_date(s)
        .map(|(_, d)| d)
        .map_err(|_| "expected YYYY-MM-DD or the JPKI form EYYYYMMDD".to_owned())
}

fn text_field(field: &str, form: &str, cert: &str, flags: &str) -> FieldComparison {
    let (result, note) = compare_text(form, cert, flags);
    FieldComparison {
        field: field.to_owned(),
        form: form.to_owned(),
        certificate: cert.to_owned(),
        result,
        note,
    }
}

/// Normalised comparison with substitute characters as one-character wildcards.
fn compare_text(form: &str, cert: &str, flags: &str) -> (FieldResult, Option<String>) {
    let form_n: Vec<char> = normalize_for_match(form).chars().collect();
    // The certificate side, character by character, keeping each flag with
    // what its character normalises to (spaces vanish with their flags).
    let flag_of: Vec<bool> = flags.chars().map(|c| c == '1').collect();
    let mut cert_n: Vec<(char, bool)> = Vec::new();
    for (i, c) in cert.chars().enumerate() {
        let flagged = flag_of.get(i).copied().unwrap_or(false);
        for n in normalize_for_match(&c.to_string()).chars() {
            cert_n.push((n, flagged));
        }
    }
    let any_flag = cert_n.iter().any(|(_, f)| *f);
    if cert_n.iter().map(|(c, _)| *c).eq(form_n.iter().copied()) {
        return (FieldResult::Match, None);
    }
    if any_flag
        && cert_n.len() == form_n.len()
        && cert_n
            .iter()
            .zip(&form_n)
            .all(|((c, flagged), f)| *flagged || c == f)
    {
        let n = cert_n.iter().filter(|(_, f)| *f).count();
        return (
            FieldResult::Substituted,
            Some(format!(
                "equal except {n} substitute character(s) (代替文字) in the certificate: compare them by eye"
            )),
        );
    }
    (FieldResult::Mismatch, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_and_spaces_do_not_matter() {
        assert_eq!(
            compare_text("ﾃｽﾄ 太郎", "テスト　太郎", "000000").0,
            FieldResult::Match
        );
        assert_eq!(
            compare_text(
                "東京都千代田区霞が関1-2-3",
                "東京都千代田区霞が関１－２－３",
                ""
            )
            .0,
            FieldResult::Match
        );
        assert_eq!(
            compare_text("山田 花子", "山田　太郎", "00000").0,
            FieldResult::Mismatch
        );
    }

    #[test]
    fn substitute_characters_are_reported_not_matched() {
        // 髙 replaced by 高 in the certificate, flagged.
        let (r, note) = compare_text("髙橋 一郎", "高橋　一郎", "10000");
        assert_eq!(r, FieldResult::Substituted);
        assert!(note.is_some());
        // An unflagged difference is still a mismatch.
        assert_eq!(
            compare_text("髙橋 二郎", "高橋　一郎", "10000").0,
            FieldResult::Mismatch
        );
        // Flags but identical text: a plain match.
        assert_eq!(
            compare_text("高橋 一郎", "高橋　一郎", "10000").0,
            FieldResult::Match
        );
    }

    #[test]
    fn birth_dates_in_both_forms() {
        assert_eq!(
            parse_birth("1975-01-02").ok(),
            Some(jiff::civil::date(1975, 1, 2))
        );
        assert_eq!(
            parse_birth("319750102").ok(),
            Some(jiff::civil::date(1975, 1, 2))
        );
        assert!(parse_birth("02/01/1975").is_err());
    }
}

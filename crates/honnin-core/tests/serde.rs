//! Serde: plain strings out, validation on the way in.
#![allow(clippy::unwrap_used)]

use honnin_core::{
    Address, BasicFacts, CorporateNumber, KanaName, LocalGovCode, MyNumber, PersonName,
    ResidentCode, Sex, SubstituteFlags,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T>(value: &str)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + AsRef<str>,
{
    let json = serde_json::to_string(value).unwrap();
    let parsed: T = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed.as_ref(), value);
    assert_eq!(serde_json::to_string(&parsed).unwrap(), json);
}

fn rejects<T: DeserializeOwned + std::fmt::Debug>(value: &str, field: &str) {
    let json = serde_json::to_string(value).unwrap();
    let err = serde_json::from_str::<T>(&json).unwrap_err().to_string();
    assert!(err.contains(field), "{value:?}: {err}");
}

#[test]
fn strings_round_trip() {
    round_trip::<MyNumber>("621498320257");
    round_trip::<CorporateNumber>("5835678256246");
    round_trip::<ResidentCode>("01234567890");
    round_trip::<LocalGovCode>("131016");
    round_trip::<PersonName>("山田　太郎");
    round_trip::<KanaName>("ヤマダ　タロウ");
    round_trip::<Address>("東京都千代田区千代田１－１");
    round_trip::<SubstituteFlags>("00100");
}

#[test]
fn invalid_values_are_rejected() {
    rejects::<MyNumber>("621498320258", "my_number");
    rejects::<MyNumber>("６２１４９８３２０２５７", "my_number");
    rejects::<CorporateNumber>("5835678256247", "corporate_number");
    rejects::<ResidentCode>("123", "resident_code");
    rejects::<LocalGovCode>("131017", "municipality");
    rejects::<PersonName>("山田 太郎", "name");
    rejects::<KanaName>("やまだ", "name_kana");
    rejects::<Address>("", "address");
    rejects::<SubstituteFlags>("012", "substitute_flags");
    // Not a string at all.
    assert!(serde_json::from_str::<MyNumber>("621498320257").is_err());
}

#[test]
fn sex_serde() {
    assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"female\"");
    assert_eq!(
        serde_json::from_str::<Sex>("\"unknown\"").unwrap(),
        Sex::Unknown
    );
    assert!(serde_json::from_str::<Sex>("\"Female\"").is_err());
}

fn facts_json(kana: &str) -> String {
    format!(
        r#"{{"name":"山田　太郎","name_kana":"{kana}","alias":null,"birth_date":"1990-05-14",
            "sex":"male","address":"東京都千代田区千代田１－１",
            "name_flags":"00000","address_flags":"0000000000000"}}"#
    )
}

#[test]
fn basic_facts_json() {
    let f: BasicFacts = serde_json::from_str(&facts_json("ヤマダ　タロウ")).unwrap();
    assert_eq!(f.name.as_str(), "山田　太郎");
    assert_eq!(f.sex, Sex::Male);
    assert_eq!(f.birth_date, jiff::civil::date(1990, 5, 14));
    assert!(f.validate(jiff::civil::date(2024, 1, 1)).is_ok());
    let back: BasicFacts = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert_eq!(back, f);

    let err = serde_json::from_str::<BasicFacts>(&facts_json("やまだ"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("name_kana"), "{err}");
}

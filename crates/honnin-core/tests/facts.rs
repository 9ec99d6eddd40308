//! Names, kana, addresses, flags, sex, dates and BasicFacts.
#![allow(clippy::unwrap_used)]

use honnin_core::{
    Address, BasicFacts, CoreError, KanaName, PersonName, Sex, SubstituteFlags, parse_date,
    validate_birth_date,
};
use jiff::civil::date;

fn err_msg(r: Result<impl std::fmt::Debug, CoreError>, field: &str) -> String {
    let e = r.unwrap_err();
    assert_eq!(e.field(), field, "{e}");
    e.to_string()
}

#[test]
fn sex_codes_and_parsing() {
    for (sex, code, word) in [
        (Sex::Male, 1, "male"),
        (Sex::Female, 2, "female"),
        (Sex::Unknown, 3, "unknown"),
    ] {
        assert_eq!(sex.code(), code);
        assert_eq!(Sex::from_code(code).unwrap(), sex);
        assert_eq!(word.parse::<Sex>().unwrap(), sex);
        assert_eq!(code.to_string().parse::<Sex>().unwrap(), sex);
        assert_eq!(sex.to_string(), word);
    }
    assert_eq!(Sex::Female.kanji(), "女");
    for bad in [0u8, 4, 9] {
        err_msg(Sex::from_code(bad), "sex");
    }
    for bad in ["Male", "m", "0", "", " male"] {
        err_msg(bad.parse::<Sex>(), "sex");
    }
}

#[test]
fn person_name_accepts() {
    let n = PersonName::parse("山田　太郎").unwrap();
    assert_eq!(n.as_str(), "山田　太郎");
    assert_eq!(n.to_string(), "山田　太郎");
    assert_eq!(n.char_count(), 5);
    assert_eq!(n.surname(), "山田");
    assert_eq!(n.given_name(), Some("太郎"));
    // Single-token names (some foreign residents).
    let single = PersonName::parse("ＪＯＨＮ").unwrap();
    assert_eq!(single.surname(), "ＪＯＨＮ");
    assert_eq!(single.given_name(), None);
    // Exactly 100 characters is fine.
    assert!(PersonName::parse(&"あ".repeat(100)).is_ok());
    assert_eq!("𠮷野　家".parse::<PersonName>().unwrap().char_count(), 4);
}

#[test]
fn person_name_rejects() {
    let msg = err_msg(PersonName::parse("山田 太郎"), "name");
    assert!(msg.contains("U+3000"), "{msg}");
    let msg = err_msg(PersonName::parse("山田\u{00A0}太郎"), "name");
    assert!(msg.contains("U+3000"), "{msg}");
    let msg = err_msg(PersonName::parse("山田　　太郎"), "name");
    assert!(msg.contains("consecutive"), "{msg}");
    let msg = err_msg(PersonName::parse("　山田"), "name");
    assert!(msg.contains("leading or trailing"), "{msg}");
    err_msg(PersonName::parse("山田 "), "name");
    let msg = err_msg(PersonName::parse(""), "name");
    assert!(msg.contains("empty"), "{msg}");
    let msg = err_msg(PersonName::parse("山田\t太郎"), "name");
    assert!(msg.contains("control"), "{msg}");
    err_msg(PersonName::parse("山田\n"), "name");
    err_msg(PersonName::parse("山\u{200B}田"), "name");
    let msg = err_msg(PersonName::parse(&"あ".repeat(101)), "name");
    assert!(msg.contains("101"), "{msg}");
}

#[test]
fn kana_name() {
    for ok in [
        "ヤマダ　タロウ",
        "ヤマダ・タロウ",
        "ヤマダ　ターロー",
        "スミス",
    ] {
        let k = KanaName::parse(ok).unwrap();
        assert_eq!(k.as_str(), ok);
        assert_eq!(k.char_count(), ok.chars().count());
    }
    let msg = err_msg(KanaName::parse("やまだ　たろう"), "name_kana");
    assert!(msg.contains("hiragana"), "{msg}");
    let msg = err_msg(KanaName::parse("ﾔﾏﾀﾞ"), "name_kana");
    assert!(msg.contains("half-width katakana"), "{msg}");
    err_msg(KanaName::parse("YAMADA"), "name_kana");
    err_msg(KanaName::parse("山田"), "name_kana");
    err_msg(KanaName::parse("ヤマダ タロウ"), "name_kana");
    err_msg(KanaName::parse(""), "name_kana");
    err_msg(KanaName::parse("ヤマダ　"), "name_kana");
    err_msg(KanaName::parse(&"ア".repeat(101)), "name_kana");
}

#[test]
fn address() {
    let a = Address::parse("東京都千代田区千代田１－１　ハイツ１０１").unwrap();
    assert_eq!(a.char_count(), 20);
    assert_eq!(a.to_string(), "東京都千代田区千代田１－１　ハイツ１０１");
    assert!(Address::parse(&"あ".repeat(200)).is_ok());
    let msg = err_msg(Address::parse(&"あ".repeat(201)), "address");
    assert!(msg.contains("200"), "{msg}");
    err_msg(Address::parse(""), "address");
    err_msg(Address::parse("　 "), "address");
    err_msg(Address::parse("東京都\r\n千代田区"), "address");
}

#[test]
fn substitute_flags() {
    let none = SubstituteFlags::none_for("山田　太郎");
    assert_eq!(none.as_str(), "00000");
    assert!(!none.any());
    assert_eq!(none.len(), 5);

    let f = SubstituteFlags::parse_for("10000", "髙田　太郎", "name_flags").unwrap();
    assert!(f.any());
    assert!(f.is_flagged(0));
    assert!(!f.is_flagged(1));
    assert!(!f.is_flagged(99));

    let msg = err_msg(
        SubstituteFlags::parse_for("0000", "山田　太郎", "name_flags"),
        "name_flags",
    );
    assert!(
        msg.contains("4 flags") && msg.contains("5 characters"),
        "{msg}"
    );
    err_msg(
        SubstituteFlags::parse_for("00200", "山田　太郎", "address_flags"),
        "address_flags",
    );
    err_msg(SubstituteFlags::parse("01x"), "substitute_flags");
    assert!(SubstituteFlags::parse("").unwrap().is_empty());
    assert_eq!(
        SubstituteFlags::none_for(""),
        SubstituteFlags::parse("").unwrap()
    );
}

#[test]
fn parse_date_strict() {
    assert_eq!(parse_date("2024-02-29", "d").unwrap(), date(2024, 2, 29));
    assert_eq!(parse_date("1868-01-01", "d").unwrap(), date(1868, 1, 1));
    let msg = err_msg(parse_date("2023-02-29", "birth_date"), "birth_date");
    assert!(
        msg.contains("does not exist") && msg.contains("28 days"),
        "{msg}"
    );
    let msg = err_msg(parse_date("2024-13-01", "birth_date"), "birth_date");
    assert!(msg.contains("month 13"), "{msg}");
    err_msg(parse_date("2024-04-31", "x"), "x");
    err_msg(parse_date("2024-00-10", "x"), "x");
    err_msg(parse_date("2024-01-00", "x"), "x");
    for bad in [
        "2024-1-01",
        "2024/01/01",
        "20240101",
        " 2024-01-01",
        "2024-01-01 ",
        "2024-01-01T00:00",
        "２０２４-01-01",
        "+2024-01-1",
        "",
    ] {
        let msg = err_msg(parse_date(bad, "issued_on"), "issued_on");
        assert!(msg.contains("YYYY-MM-DD"), "{bad:?}: {msg}");
    }
}

#[test]
fn birth_date_bounds() {
    let today = date(2024, 4, 1);
    assert!(validate_birth_date(today, today).is_ok());
    assert!(validate_birth_date(date(1868, 1, 1), today).is_ok());
    let msg = err_msg(validate_birth_date(date(2024, 4, 2), today), "birth_date");
    assert!(msg.contains("future"), "{msg}");
    let msg = err_msg(validate_birth_date(date(1867, 12, 31), today), "birth_date");
    assert!(msg.contains("1868"), "{msg}");
}

fn facts() -> BasicFacts {
    BasicFacts {
        name: PersonName::parse("山田　太郎").unwrap(),
        name_kana: KanaName::parse("ヤマダ　タロウ").unwrap(),
        alias: None,
        birth_date: date(1990, 5, 14),
        sex: Sex::Male,
        address: Address::parse("東京都千代田区千代田１－１").unwrap(),
        name_flags: SubstituteFlags::none_for("山田　太郎"),
        address_flags: SubstituteFlags::none_for("東京都千代田区千代田１－１"),
    }
}

#[test]
fn basic_facts_validate() {
    let today = date(2024, 4, 1);
    assert!(facts().validate(today).is_ok());

    let mut f = facts();
    f.name_flags = SubstituteFlags::parse("0000").unwrap();
    err_msg(f.validate(today), "name_flags");

    let mut f = facts();
    f.address_flags = SubstituteFlags::parse("0").unwrap();
    err_msg(f.validate(today), "address_flags");

    let mut f = facts();
    f.birth_date = date(2030, 1, 1);
    err_msg(f.validate(today), "birth_date");
}

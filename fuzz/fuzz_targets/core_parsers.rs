//! Every parser of an identifier or fact: no panic, and what parses re-parses to itself.
#![no_main]
use honnin_core::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = MyNumber::parse(s) {
        assert_eq!(MyNumber::parse(v.as_str()).ok(), Some(v));
    }
    if let Ok(v) = CorporateNumber::parse(s) {
        assert_eq!(CorporateNumber::parse(v.as_str()).ok(), Some(v));
    }
    if let Ok(v) = ResidentCode::parse(s) {
        assert_eq!(ResidentCode::parse(v.as_str()).ok(), Some(v));
    }
    if let Ok(v) = LocalGovCode::parse(s) {
        assert_eq!(LocalGovCode::parse(v.as_str()).ok(), Some(v));
    }
    if let Ok(v) = PersonName::parse(s) {
        assert_eq!(PersonName::parse(v.as_str()).ok(), Some(v));
    }
    let _ = KanaName::parse(s);
    let _ = Address::parse(s);
    let _ = s.parse::<Sex>();
    if let Ok(d) = parse_date(s, "date") {
        let _ = Wareki::from_date(d).map(|w| w.to_date());
    }
    let _ = parse_jpki_date(s);
    let _ = normalize_for_match(s);
});

//! 和暦 conversion and the JPKI date encoding.
#![allow(clippy::unwrap_used)]

use honnin_core::{Era, Wareki, parse_jpki_date};
use jiff::civil::{Date, date};
use proptest::prelude::*;

fn w(era: Era, year: u16, month: u8, day: u8) -> Wareki {
    Wareki {
        era,
        year,
        month,
        day,
    }
}

#[test]
fn era_boundaries() {
    let cases = [
        (date(1868, 1, 1), w(Era::Meiji, 1, 1, 1), "明治元年1月1日"),
        (
            date(1868, 10, 23),
            w(Era::Meiji, 1, 10, 23),
            "明治元年10月23日",
        ),
        (
            date(1912, 7, 29),
            w(Era::Meiji, 45, 7, 29),
            "明治45年7月29日",
        ),
        (
            date(1912, 7, 30),
            w(Era::Taisho, 1, 7, 30),
            "大正元年7月30日",
        ),
        (
            date(1926, 12, 24),
            w(Era::Taisho, 15, 12, 24),
            "大正15年12月24日",
        ),
        (
            date(1926, 12, 25),
            w(Era::Showa, 1, 12, 25),
            "昭和元年12月25日",
        ),
        (date(1989, 1, 7), w(Era::Showa, 64, 1, 7), "昭和64年1月7日"),
        (date(1989, 1, 8), w(Era::Heisei, 1, 1, 8), "平成元年1月8日"),
        (
            date(2019, 4, 30),
            w(Era::Heisei, 31, 4, 30),
            "平成31年4月30日",
        ),
        (date(2019, 5, 1), w(Era::Reiwa, 1, 5, 1), "令和元年5月1日"),
        (date(2023, 4, 1), w(Era::Reiwa, 5, 4, 1), "令和5年4月1日"),
    ];
    for (d, want, kanji) in cases {
        let got = Wareki::from_date(d).unwrap();
        assert_eq!(got, want, "{d}");
        assert_eq!(got.to_kanji_string(), kanji);
        assert_eq!(got.to_string(), kanji);
        assert_eq!(got.to_date().unwrap(), d);
    }
    let e = Wareki::from_date(date(1867, 12, 31)).unwrap_err();
    assert_eq!(e.field(), "date");
}

#[test]
fn to_date_rejects_dates_outside_the_era() {
    for bad in [
        w(Era::Heisei, 31, 5, 1),
        w(Era::Showa, 64, 1, 8),
        w(Era::Heisei, 1, 1, 7),
        w(Era::Reiwa, 1, 4, 30),
        w(Era::Taisho, 1, 7, 29),
        w(Era::Meiji, 46, 1, 1),
        w(Era::Reiwa, 0, 5, 1),
        w(Era::Reiwa, 5, 2, 30),
        w(Era::Reiwa, 5, 13, 1),
        w(Era::Reiwa, 5, 200, 1),
        w(Era::Reiwa, u16::MAX, 1, 1),
    ] {
        let e = bad.to_date().unwrap_err();
        assert_eq!(e.field(), "wareki", "{bad:?}");
    }
    let msg = w(Era::Heisei, 31, 5, 1).to_date().unwrap_err().to_string();
    assert!(msg.contains("平成"), "{msg}");
}

#[test]
fn era_codes_and_names() {
    let expected = [
        (Era::Meiji, 1, "明治", date(1868, 10, 23)),
        (Era::Taisho, 2, "大正", date(1912, 7, 30)),
        (Era::Showa, 3, "昭和", date(1926, 12, 25)),
        (Era::Heisei, 4, "平成", date(1989, 1, 8)),
        (Era::Reiwa, 5, "令和", date(2019, 5, 1)),
    ];
    assert_eq!(Era::ALL.len(), expected.len());
    for (era, code, kanji, start) in expected {
        assert_eq!(era.jpki_code(), code);
        assert_eq!(Era::from_jpki_code(code).unwrap(), Some(era));
        assert_eq!(era.kanji(), kanji);
        assert_eq!(era.to_string(), kanji);
        assert_eq!(era.start(), start);
        assert_eq!(Era::of_date(start), Some(era));
    }
    assert_eq!(Era::from_jpki_code(0).unwrap(), None);
    assert_eq!(Era::from_jpki_code(6).unwrap_err().field(), "era");
    assert_eq!(Era::Showa.next(), Some(Era::Heisei));
    assert_eq!(Era::Reiwa.next(), None);
    assert_eq!(Era::of_date(date(1867, 12, 31)), None);
}

#[test]
fn jpki_string() {
    let cases = [
        (date(1990, 5, 14), "419900514"),
        (date(2019, 5, 1), "520190501"),
        (date(2019, 4, 30), "420190430"),
        (date(1989, 1, 7), "319890107"),
        (date(1868, 1, 1), "118680101"),
        (date(1926, 12, 24), "219261224"),
    ];
    for (d, s) in cases {
        let wk = Wareki::from_date(d).unwrap();
        assert_eq!(wk.jpki_string(), s);
        assert_eq!(parse_jpki_date(s).unwrap(), (Some(wk.era), d));
    }
    // 0 = unknown era: the date still parses.
    assert_eq!(
        parse_jpki_date("019900514").unwrap(),
        (None, date(1990, 5, 14))
    );
    for bad in [
        "319900514",
        "619900514",
        "41990051",
        "4199005140",
        "419900230",
        "41990O514",
    ] {
        assert_eq!(
            parse_jpki_date(bad).unwrap_err().field(),
            "birth_date",
            "{bad}"
        );
    }
}

#[test]
fn era_serde() {
    assert_eq!(serde_json::to_string(&Era::Reiwa).unwrap(), "\"Reiwa\"");
    let e: Era = serde_json::from_str("\"Showa\"").unwrap();
    assert_eq!(e, Era::Showa);
    assert!(serde_json::from_str::<Era>("\"Edo\"").is_err());
}

fn any_date() -> impl Strategy<Value = Date> {
    let start = date(1868, 1, 1);
    (0i32..100_000).prop_map(move |n| start.checked_add(jiff::Span::new().days(n)).unwrap())
}

proptest! {
    #[test]
    fn round_trips(d in any_date()) {
        let wk = Wareki::from_date(d).unwrap();
        prop_assert!(wk.year >= 1);
        prop_assert_eq!(wk.to_date().unwrap(), d);
        prop_assert_eq!(Era::of_date(d), Some(wk.era));
        let s = wk.jpki_string();
        prop_assert_eq!(s.len(), 9);
        prop_assert_eq!(parse_jpki_date(&s).unwrap(), (Some(wk.era), d));
        let k = wk.to_kanji_string();
        prop_assert!(k.starts_with(wk.era.kanji()));
        prop_assert_eq!(k.contains("元年"), wk.year == 1);
    }
}

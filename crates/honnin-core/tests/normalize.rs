//! normalize_for_match.
#![allow(clippy::unwrap_used)]

use honnin_core::normalize_for_match as n;
use proptest::prelude::*;

#[test]
fn domain_examples() {
    assert_eq!(n("ﾔﾏﾀﾞ ﾀﾛｳ"), n("ヤマダ　タロウ"));
    assert_eq!(n("ﾔﾏﾀﾞ ﾀﾛｳ"), "ヤマダタロウ");
    assert_eq!(n("１－２－３"), n("1-2-3"));
    assert_eq!(n("１－２－３"), "1-2-3");
}

#[test]
fn width_folding() {
    assert_eq!(n("ＡＢＣｘｙｚ０１２３４５６７８９"), "ABCxyz0123456789");
    assert_eq!(n("（株）＃"), "(株)#");
    assert_eq!(n("ｶﾞｷﾞｸﾞｹﾞｺﾞ"), "ガギグゲゴ");
    assert_eq!(n("ｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞ"), "ザジズゼゾダヂヅデド");
    assert_eq!(n("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞﾊﾟﾋﾟﾌﾟﾍﾟﾎﾟ"), "バビブベボパピプペポ");
    assert_eq!(n("ｳﾞｨｰﾅｽ"), "ヴィーナス");
    assert_eq!(n("ｧｨｩｪｫｬｭｮｯｦﾝ"), "ァィゥェォャュョッヲン");
    assert_eq!(n("｢ｱ､ｲ｡｣･"), "「ア、イ。」・");
    // A mark that cannot compose stays, as the spacing form.
    assert_eq!(n("ｱﾞ"), "ア゛");
    assert_eq!(n("ﾟ"), "゜");
    // Combining marks compose too, for katakana and hiragana.
    assert_eq!(n("カ\u{3099}"), "ガ");
    assert_eq!(n("は\u{309A}"), "ぱ");
    assert_eq!(n("う\u{3099}"), "ゔ");
}

#[test]
fn hyphens_and_long_vowel() {
    assert_eq!(n("1‐2‑3‒4–5—6―7−8－9"), "1-2-3-4-5-6-7-8-9");
    // The long vowel mark is not a hyphen.
    assert_eq!(n("ラーメン"), "ラーメン");
    assert_eq!(n("ﾗｰﾒﾝ"), "ラーメン");
    assert_ne!(n("ラーメン"), n("ラ-メン"));
}

#[test]
fn spaces_removed() {
    assert_eq!(n(" a\tb\u{3000}c\u{00A0}d\n e\u{200B}f "), "abcdef");
    assert_eq!(n("東京都　千代田区 千代田"), n("東京都千代田区千代田"));
}

#[test]
fn not_folded() {
    assert_ne!(n("やまだ"), n("ヤマダ"));
    assert_ne!(n("ABC"), n("abc"));
    assert_eq!(n("やまだ"), "やまだ");
}

proptest! {
    #[test]
    fn idempotent(s in "[ -~\u{3000}-\u{30FF}\u{FF01}-\u{FF9F}\u{2010}-\u{2015}\u{2212}\t]{0,20}") {
        let once = n(&s);
        prop_assert_eq!(n(&once), once.clone());
        prop_assert!(!once.chars().any(char::is_whitespace));
    }
}

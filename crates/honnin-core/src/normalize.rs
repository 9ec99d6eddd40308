//! Folding strings for comparison (form input against registry values).

/// Folds `s` so that two spellings a person would consider the same compare
/// equal: used to match a form's field (or a certificate's) against the registry.
/// The result is for comparison only; never store it in place of the original.
///
/// A hand-written subset of NFKC, with no dependencies:
///
/// - full-width ASCII (U+FF01..U+FF5E: letters, digits, punctuation) → ASCII;
/// - half-width katakana and punctuation (U+FF61..U+FF9F) → full-width, with a
///   following half-width (ﾞ/ﾟ) or combining (U+3099/U+309A) voiced or
///   semi-voiced sound mark composed into the preceding kana where such a
///   character exists (ｶﾞ → ガ, ﾊﾟ → パ, ｳﾞ → ヴ, か+U+3099 → が); a mark that
///   cannot be composed becomes the spacing ゛/゜;
/// - hyphen-like characters (U+2010..U+2015, U+2212 MINUS SIGN, U+FF0D) → `-`;
///   the long vowel mark ー (U+30FC) is kept;
/// - all whitespace (ASCII space, tabs, U+3000, NBSP, …) and zero-width
///   characters are removed.
///
/// Not folded: hiragana vs katakana, upper vs lower case, old vs new kanji forms.
pub fn normalize_for_match(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_whitespace() || matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}') {
            continue;
        }
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{FF61}'..='\u{FF9D}' => halfwidth_kana(c),
            // Half-width (ﾞﾟ) and combining voiced / semi-voiced sound marks.
            '\u{FF9E}' | '\u{3099}' | '\u{FF9F}' | '\u{309A}' => {
                let semi = matches!(c, '\u{FF9F}' | '\u{309A}');
                if let Some(prev) = out.chars().next_back()
                    && let Some(composed) = compose_mark(prev, semi)
                {
                    out.pop();
                    out.push(composed);
                    continue;
                }
                if semi { '゜' } else { '゛' }
            }
            other => other,
        };
        out.push(c);
    }
    out
}

/// Full-width form of a half-width katakana or punctuation character
/// U+FF61..U+FF9D.
fn halfwidth_kana(c: char) -> char {
    const TABLE: [char; 61] = [
        '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ',
        'ー', 'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ',
        'ソ', 'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ',
        'ホ', 'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ',
        'ン',
    ];
    let i = (c as u32).wrapping_sub(0xFF61) as usize;
    TABLE.get(i).copied().unwrap_or(c)
}

/// The kana `base` with a voiced (dakuten) or, if `semi`, semi-voiced
/// (handakuten) sound mark, if that character exists. Works for full-width
/// katakana and hiragana.
fn compose_mark(base: char, semi: bool) -> Option<char> {
    // Work in katakana; hiragana U+3041..U+3096 sit 0x60 below.
    let (kata, hira) = match base {
        '\u{3041}'..='\u{3096}' | '\u{309D}' => (char::from_u32(base as u32 + 0x60)?, true),
        _ => (base, false),
    };
    let composed = if semi {
        match kata {
            'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(kata as u32 + 2)?,
            _ => return None,
        }
    } else {
        match kata {
            'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ'
            | 'ツ' | 'テ' | 'ト' | 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => {
                char::from_u32(kata as u32 + 1)?
            }
            'ウ' => 'ヴ',
            'ワ' if !hira => 'ヷ',
            'ヰ' if !hira => 'ヸ',
            'ヱ' if !hira => 'ヹ',
            'ヲ' if !hira => 'ヺ',
            'ヽ' => 'ヾ',
            _ => return None,
        }
    };
    if hira {
        // ゔ (U+3094) exists; the others are 0x60 below their katakana.
        char::from_u32(composed as u32 - 0x60)
    } else {
        Some(composed)
    }
}

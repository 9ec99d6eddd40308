//! Synthetic residents for demos, seeds and benchmarks (no real person's data).
//!
//! Everything here is generated from a seeded PRNG: the same seed and the same
//! `today` always produce the same sequence of residents. Surnames and given
//! names are common Japanese names with their usual katakana readings; the
//! municipalities, wards and town names are real, but the block / building
//! numbers (番・号) are random, so the addresses do not designate real people.
//!
//! The module deliberately uses plain `String`s and [`jiff::civil::Date`] so it
//! does not depend on the domain types of `honnin-core`.

use jiff::{Span, civil::Date};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// A real municipality (市区町村) used as the home of synthetic residents.
#[derive(Debug)]
pub struct Municipality {
    /// 5-digit JIS X 0401/0402 code, e.g. `"13101"`.
    pub jis5: &'static str,
    /// 6-digit 全国地方公共団体コード (JIS code + check digit), e.g. `"131016"`.
    pub code6: &'static str,
    /// Prefecture name, e.g. `"東京都"`.
    pub prefecture: &'static str,
    /// Municipality name, e.g. `"千代田区"`.
    pub name: &'static str,
    /// Romanised name, e.g. `"Chiyoda"`.
    pub romaji: &'static str,
    /// Town (町・字) names, prefixed with the ward for designated cities. Every
    /// town listed has at least 一丁目..三丁目.
    pub towns: &'static [&'static str],
}

/// Municipalities synthetic residents are spread over.
pub const MUNICIPALITIES: &[Municipality] = &[
    Municipality {
        jis5: "13101",
        code6: "131016",
        prefecture: "東京都",
        name: "千代田区",
        romaji: "Chiyoda",
        towns: &[
            "丸の内",
            "霞が関",
            "麹町",
            "九段南",
            "九段北",
            "飯田橋",
            "神田神保町",
            "神田駿河台",
            "内神田",
            "外神田",
        ],
    },
    Municipality {
        jis5: "13104",
        code6: "131041",
        prefecture: "東京都",
        name: "新宿区",
        romaji: "Shinjuku",
        towns: &[
            "西新宿",
            "新宿",
            "北新宿",
            "高田馬場",
            "百人町",
            "大久保",
            "四谷",
            "神楽坂",
            "下落合",
            "西早稲田",
        ],
    },
    Municipality {
        jis5: "01100",
        code6: "011002",
        prefecture: "北海道",
        name: "札幌市",
        romaji: "Sapporo",
        towns: &[
            "中央区北一条西",
            "中央区南三条西",
            "中央区大通西",
            "中央区宮の森一条",
            "北区北七条西",
            "東区北十条東",
            "白石区東札幌二条",
            "豊平区平岸一条",
            "西区琴似一条",
            "厚別区厚別中央一条",
        ],
    },
    Municipality {
        jis5: "04100",
        code6: "041009",
        prefecture: "宮城県",
        name: "仙台市",
        romaji: "Sendai",
        towns: &[
            "青葉区一番町",
            "青葉区国分町",
            "青葉区本町",
            "青葉区中央",
            "青葉区上杉",
            "宮城野区榴岡",
            "若林区新寺",
            "太白区長町",
            "泉区泉中央",
        ],
    },
    Municipality {
        jis5: "14100",
        code6: "141003",
        prefecture: "神奈川県",
        name: "横浜市",
        romaji: "Yokohama",
        towns: &[
            "西区みなとみらい",
            "中区本町",
            "中区元町",
            "中区伊勢佐木町",
            "港北区新横浜",
            "神奈川区鶴屋町",
            "鶴見区鶴見中央",
            "青葉区美しが丘",
            "港南区上大岡西",
            "磯子区森",
        ],
    },
    Municipality {
        jis5: "23100",
        code6: "231002",
        prefecture: "愛知県",
        name: "名古屋市",
        romaji: "Nagoya",
        towns: &[
            "中区栄",
            "中区錦",
            "中区丸の内",
            "中区大須",
            "中村区名駅",
            "東区泉",
            "千種区今池",
            "熱田区神宮",
            "名東区社が丘",
        ],
    },
    Municipality {
        jis5: "27100",
        code6: "271004",
        prefecture: "大阪府",
        name: "大阪市",
        romaji: "Osaka",
        towns: &[
            "北区梅田",
            "北区中之島",
            "中央区難波",
            "中央区本町",
            "天王寺区上本町",
            "浪速区日本橋",
            "西区江戸堀",
            "阿倍野区阿倍野筋",
            "淀川区西中島",
            "都島区東野田町",
        ],
    },
    Municipality {
        jis5: "28100",
        code6: "281000",
        prefecture: "兵庫県",
        name: "神戸市",
        romaji: "Kobe",
        towns: &[
            "中央区三宮町",
            "中央区元町通",
            "中央区北野町",
            "中央区港島中町",
            "灘区岩屋中町",
            "東灘区住吉本町",
            "兵庫区湊町",
            "須磨区須磨浦通",
            "垂水区平磯",
            "北区鈴蘭台北町",
        ],
    },
    Municipality {
        jis5: "40130",
        code6: "401307",
        prefecture: "福岡県",
        name: "福岡市",
        romaji: "Fukuoka",
        towns: &[
            "中央区天神",
            "中央区薬院",
            "博多区博多駅前",
            "博多区中洲",
            "東区香椎駅前",
            "南区大橋",
            "城南区七隈",
            "早良区西新",
            "西区姪浜駅南",
        ],
    },
    Municipality {
        jis5: "47201",
        code6: "472018",
        prefecture: "沖縄県",
        name: "那覇市",
        romaji: "Naha",
        towns: &[
            "久茂地",
            "牧志",
            "前島",
            "若狭",
            "西",
            "おもろまち",
            "小禄",
            "首里金城町",
            "首里石嶺町",
        ],
    },
];

/// Look up a municipality by its 6-digit code.
pub fn municipality(code6: &str) -> Option<&'static Municipality> {
    MUNICIPALITIES.iter().find(|m| m.code6 == code6)
}

/// (kanji, katakana) pairs of common surnames, most common first.
const SURNAMES: &[(&str, &str)] = &[
    ("佐藤", "サトウ"),
    ("鈴木", "スズキ"),
    ("高橋", "タカハシ"),
    ("田中", "タナカ"),
    ("伊藤", "イトウ"),
    ("渡辺", "ワタナベ"),
    ("山本", "ヤマモト"),
    ("中村", "ナカムラ"),
    ("小林", "コバヤシ"),
    ("加藤", "カトウ"),
    ("吉田", "ヨシダ"),
    ("山田", "ヤマダ"),
    ("佐々木", "ササキ"),
    ("山口", "ヤマグチ"),
    ("松本", "マツモト"),
    ("井上", "イノウエ"),
    ("木村", "キムラ"),
    ("林", "ハヤシ"),
    ("斎藤", "サイトウ"),
    ("清水", "シミズ"),
    ("山崎", "ヤマザキ"),
    ("森", "モリ"),
    ("池田", "イケダ"),
    ("橋本", "ハシモト"),
    ("阿部", "アベ"),
    ("石川", "イシカワ"),
    ("山下", "ヤマシタ"),
    ("中島", "ナカジマ"),
    ("石井", "イシイ"),
    ("小川", "オガワ"),
    ("前田", "マエダ"),
    ("岡田", "オカダ"),
    ("長谷川", "ハセガワ"),
    ("藤田", "フジタ"),
    ("後藤", "ゴトウ"),
    ("近藤", "コンドウ"),
    ("村上", "ムラカミ"),
    ("遠藤", "エンドウ"),
    ("青木", "アオキ"),
    ("坂本", "サカモト"),
    ("斉藤", "サイトウ"),
    ("福田", "フクダ"),
    ("太田", "オオタ"),
    ("西村", "ニシムラ"),
    ("藤井", "フジイ"),
    ("金子", "カネコ"),
    ("岡本", "オカモト"),
    ("藤原", "フジワラ"),
    ("中野", "ナカノ"),
    ("三浦", "ミウラ"),
    ("原田", "ハラダ"),
    ("中川", "ナカガワ"),
    ("松田", "マツダ"),
    ("竹内", "タケウチ"),
    ("小野", "オノ"),
    ("田村", "タムラ"),
    ("中山", "ナカヤマ"),
    ("和田", "ワダ"),
    ("石田", "イシダ"),
    ("森田", "モリタ"),
    ("上田", "ウエダ"),
    ("原", "ハラ"),
    ("内田", "ウチダ"),
    ("柴田", "シバタ"),
    ("酒井", "サカイ"),
    ("宮崎", "ミヤザキ"),
    ("横山", "ヨコヤマ"),
    ("高木", "タカギ"),
    ("安藤", "アンドウ"),
    ("宮本", "ミヤモト"),
    ("大野", "オオノ"),
    ("小島", "コジマ"),
    ("谷口", "タニグチ"),
    ("今井", "イマイ"),
    ("工藤", "クドウ"),
    ("高田", "タカダ"),
    ("増田", "マスダ"),
    ("丸山", "マルヤマ"),
    ("杉山", "スギヤマ"),
    ("村田", "ムラタ"),
    ("大塚", "オオツカ"),
    ("新井", "アライ"),
    ("小山", "コヤマ"),
    ("平野", "ヒラノ"),
    ("藤本", "フジモト"),
    ("上野", "ウエノ"),
    ("野口", "ノグチ"),
    ("武田", "タケダ"),
    ("松井", "マツイ"),
    ("千葉", "チバ"),
    ("岩崎", "イワサキ"),
    ("菅原", "スガワラ"),
    ("木下", "キノシタ"),
    ("久保", "クボ"),
    ("佐野", "サノ"),
    ("野村", "ノムラ"),
    ("松尾", "マツオ"),
    ("市川", "イチカワ"),
    ("菊地", "キクチ"),
    ("杉本", "スギモト"),
    ("古川", "フルカワ"),
    ("大西", "オオニシ"),
    ("島田", "シマダ"),
    ("水野", "ミズノ"),
    ("桜井", "サクライ"),
    ("高野", "タカノ"),
    ("渡部", "ワタナベ"),
    ("吉川", "ヨシカワ"),
    ("山内", "ヤマウチ"),
    ("西田", "ニシダ"),
    ("飯田", "イイダ"),
    ("菊池", "キクチ"),
    ("西川", "ニシカワ"),
    ("小松", "コマツ"),
    ("北村", "キタムラ"),
    ("安田", "ヤスダ"),
    ("五十嵐", "イガラシ"),
    ("川口", "カワグチ"),
    ("平田", "ヒラタ"),
    ("関", "セキ"),
    ("久保田", "クボタ"),
    ("服部", "ハットリ"),
    ("岩田", "イワタ"),
    ("土屋", "ツチヤ"),
    ("川崎", "カワサキ"),
    ("本田", "ホンダ"),
    ("辻", "ツジ"),
    ("樋口", "ヒグチ"),
    ("秋山", "アキヤマ"),
    ("永井", "ナガイ"),
    ("石原", "イシハラ"),
    ("大橋", "オオハシ"),
    ("松岡", "マツオカ"),
    ("荒木", "アラキ"),
    ("大久保", "オオクボ"),
    ("野田", "ノダ"),
    ("小池", "コイケ"),
    ("熊谷", "クマガイ"),
];

/// Surnames typical of Okinawa, mixed in for residents of 沖縄県.
const OKINAWA_SURNAMES: &[(&str, &str)] = &[
    ("比嘉", "ヒガ"),
    ("金城", "キンジョウ"),
    ("大城", "オオシロ"),
    ("宮城", "ミヤギ"),
    ("新垣", "アラカキ"),
    ("玉城", "タマキ"),
    ("上原", "ウエハラ"),
    ("島袋", "シマブクロ"),
    ("平良", "タイラ"),
    ("山城", "ヤマシロ"),
    ("知念", "チネン"),
    ("照屋", "テルヤ"),
];

/// Share of surnames drawn from [`OKINAWA_SURNAMES`] for 沖縄県 residents.
const OKINAWA_SURNAME_SHARE: f64 = 0.6;

/// Male given names typical of people born before 1960.
const MALE_OLDER: &[(&str, &str)] = &[
    ("清", "キヨシ"),
    ("茂", "シゲル"),
    ("博", "ヒロシ"),
    ("実", "ミノル"),
    ("勇", "イサム"),
    ("進", "ススム"),
    ("勝", "マサル"),
    ("正", "タダシ"),
    ("豊", "ユタカ"),
    ("修", "オサム"),
    ("正雄", "マサオ"),
    ("和夫", "カズオ"),
    ("三郎", "サブロウ"),
    ("健一", "ケンイチ"),
    ("隆", "タカシ"),
    ("明", "アキラ"),
];

/// Male given names typical of people born 1960–1989.
const MALE_MIDDLE: &[(&str, &str)] = &[
    ("誠", "マコト"),
    ("浩", "ヒロシ"),
    ("聡", "サトシ"),
    ("学", "マナブ"),
    ("剛", "ツヨシ"),
    ("亮", "リョウ"),
    ("健一", "ケンイチ"),
    ("浩二", "コウジ"),
    ("和彦", "カズヒコ"),
    ("秀樹", "ヒデキ"),
    ("哲也", "テツヤ"),
    ("直樹", "ナオキ"),
    ("達也", "タツヤ"),
    ("和也", "カズヤ"),
    ("大輔", "ダイスケ"),
    ("拓也", "タクヤ"),
    ("健太", "ケンタ"),
    ("雄一", "ユウイチ"),
    ("洋平", "ヨウヘイ"),
];

/// Male given names typical of people born in 1990 or later.
const MALE_YOUNGER: &[(&str, &str)] = &[
    ("翔太", "ショウタ"),
    ("大輝", "ダイキ"),
    ("拓海", "タクミ"),
    ("翔", "ショウ"),
    ("蓮", "レン"),
    ("湊", "ミナト"),
    ("樹", "イツキ"),
    ("陸", "リク"),
    ("律", "リツ"),
    ("陽翔", "ハルト"),
    ("大翔", "ヒロト"),
    ("悠真", "ユウマ"),
    ("颯太", "ソウタ"),
    ("陽太", "ヨウタ"),
    ("悠斗", "ユウト"),
    ("優斗", "ユウト"),
    ("海斗", "カイト"),
    ("朝陽", "アサヒ"),
    ("結翔", "ユイト"),
    ("奏太", "カナタ"),
];

/// Female given names typical of people born before 1960.
const FEMALE_OLDER: &[(&str, &str)] = &[
    ("和子", "カズコ"),
    ("幸子", "サチコ"),
    ("節子", "セツコ"),
    ("洋子", "ヨウコ"),
    ("恵子", "ケイコ"),
    ("京子", "キョウコ"),
    ("美智子", "ミチコ"),
    ("久美子", "クミコ"),
    ("悦子", "エツコ"),
    ("花子", "ハナコ"),
    ("文子", "フミコ"),
    ("弘子", "ヒロコ"),
    ("清子", "キヨコ"),
    ("春子", "ハルコ"),
    ("千代子", "チヨコ"),
    ("静江", "シズエ"),
];

/// Female given names typical of people born 1960–1989.
const FEMALE_MIDDLE: &[(&str, &str)] = &[
    ("智子", "トモコ"),
    ("裕子", "ユウコ"),
    ("陽子", "ヨウコ"),
    ("純子", "ジュンコ"),
    ("典子", "ノリコ"),
    ("直美", "ナオミ"),
    ("由美子", "ユミコ"),
    ("真由美", "マユミ"),
    ("明美", "アケミ"),
    ("恵", "メグミ"),
    ("愛", "アイ"),
    ("香織", "カオリ"),
    ("沙織", "サオリ"),
    ("美穂", "ミホ"),
    ("麻衣", "マイ"),
    ("彩", "アヤ"),
    ("瞳", "ヒトミ"),
    ("千尋", "チヒロ"),
];

/// Female given names typical of people born in 1990 or later.
const FEMALE_YOUNGER: &[(&str, &str)] = &[
    ("陽菜", "ヒナ"),
    ("美咲", "ミサキ"),
    ("結衣", "ユイ"),
    ("葵", "アオイ"),
    ("凛", "リン"),
    ("結菜", "ユイナ"),
    ("芽依", "メイ"),
    ("紬", "ツムギ"),
    ("陽葵", "ヒマリ"),
    ("澪", "ミオ"),
    ("咲良", "サクラ"),
    ("さくら", "サクラ"),
    ("莉子", "リコ"),
    ("花音", "カノン"),
    ("杏", "アン"),
    ("七海", "ナナミ"),
    ("彩花", "アヤカ"),
    ("愛莉", "アイリ"),
    ("心春", "コハル"),
    ("琴音", "コトネ"),
];

/// Age bands (first age, last age inclusive, relative weight) roughly
/// following Japan's population pyramid: few children, many people aged 40–79.
const AGE_BANDS: &[(i16, i16, u32)] = &[
    (0, 9, 75),
    (10, 19, 88),
    (20, 29, 100),
    (30, 39, 105),
    (40, 49, 140),
    (50, 59, 135),
    (60, 69, 125),
    (70, 79, 130),
    (80, 89, 85),
    (90, 100, 17),
];

/// Oldest age generated.
const MAX_AGE: i16 = 100;

/// Highest 丁目 generated (every town in [`MUNICIPALITIES`] has at least this many).
const MAX_CHOME: u8 = 3;

/// Kanji numerals used for 丁目 (1..=9).
const KANJI_DIGITS: [&str; 9] = ["一", "二", "三", "四", "五", "六", "七", "八", "九"];

/// Ideographic (full-width) space separating surname and given name.
const IDEOGRAPHIC_SPACE: char = '\u{3000}';

/// One synthetic resident. All fields are plain data; nothing refers to a real person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticResident {
    /// Surname in kanji.
    pub surname: String,
    /// Given name in kanji (occasionally hiragana).
    pub given_name: String,
    /// Surname reading in full-width katakana.
    pub surname_kana: String,
    /// Given-name reading in full-width katakana.
    pub given_name_kana: String,
    /// `surname` + U+3000 + `given_name`.
    pub name: String,
    /// `surname_kana` + U+3000 + `given_name_kana`.
    pub name_kana: String,
    /// 1 = male, 2 = female.
    pub sex: u8,
    /// Date of birth, between 100 years before `today` and `today`.
    pub birth_date: Date,
    /// 6-digit code of the municipality of residence.
    pub municipality_code6: &'static str,
    /// Full address starting with the prefecture, e.g. `東京都千代田区丸の内一丁目2番3号`.
    pub address: String,
}

/// Deterministic generator of [`SyntheticResident`]s.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: StdRng,
    today: Date,
}

impl Generator {
    /// A generator seeded with `seed`; ages are computed relative to `today`.
    pub fn new(seed: u64, today: Date) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            today,
        }
    }

    /// The next resident, living in a uniformly chosen municipality.
    pub fn next_resident(&mut self) -> SyntheticResident {
        let m = pick(&mut self.rng, MUNICIPALITIES);
        self.generate(m)
    }

    /// The next resident living in the municipality with `municipality_code6`,
    /// or `None` if that code is not in [`MUNICIPALITIES`].
    pub fn next_in(&mut self, municipality_code6: &str) -> Option<SyntheticResident> {
        municipality(municipality_code6).map(|m| self.generate(m))
    }

    fn generate(&mut self, m: &'static Municipality) -> SyntheticResident {
        let sex: u8 = if self.rng.random_bool(0.5) { 1 } else { 2 };
        let birth_date = self.birth_date();

        let surnames = if m.prefecture == "沖縄県" && self.rng.random_bool(OKINAWA_SURNAME_SHARE)
        {
            OKINAWA_SURNAMES
        } else {
            SURNAMES
        };
        let (surname, surname_kana) = *pick(&mut self.rng, surnames);
        let given_names = given_names_for(sex, birth_date.year());
        let (given_name, given_name_kana) = *pick(&mut self.rng, given_names);

        let town = *pick(&mut self.rng, m.towns);
        let chome = self.rng.random_range(1..=MAX_CHOME);
        let ban: u8 = self.rng.random_range(1..=30);
        let go: u8 = self.rng.random_range(1..=25);
        let address = format!(
            "{}{}{}{}丁目{}番{}号",
            m.prefecture,
            m.name,
            town,
            kanji_numeral(chome),
            ban,
            go
        );

        SyntheticResident {
            surname: surname.to_owned(),
            given_name: given_name.to_owned(),
            surname_kana: surname_kana.to_owned(),
            given_name_kana: given_name_kana.to_owned(),
            name: format!("{surname}{IDEOGRAPHIC_SPACE}{given_name}"),
            name_kana: format!("{surname_kana}{IDEOGRAPHIC_SPACE}{given_name_kana}"),
            sex,
            birth_date,
            municipality_code6: m.code6,
            address,
        }
    }

    /// A birth date for an age drawn from [`AGE_BANDS`], uniformly distributed
    /// within that age (so never after `today`, never more than
    /// [`MAX_AGE`] years before it).
    fn birth_date(&mut self) -> Date {
        let total: u32 = AGE_BANDS.iter().map(|&(_, _, w)| w).sum();
        let mut roll = self.rng.random_range(0..total.max(1));
        let mut age = 0;
        for &(lo, hi, w) in AGE_BANDS {
            if roll < w {
                age = self.rng.random_range(lo..=hi);
                break;
            }
            roll -= w;
        }
        let age = age.clamp(0, MAX_AGE);

        let today = self.today;
        let oldest = today.saturating_sub(Span::new().years(MAX_AGE));
        // Born on or before the `age`-th birthday-anniversary of today …
        let latest = today.saturating_sub(Span::new().years(age));
        // … and after the (`age` + 1)-th one.
        let earliest = today
            .saturating_sub(Span::new().years(age + 1))
            .saturating_add(Span::new().days(1))
            .max(oldest);
        let days = latest.duration_since(earliest).as_secs() / 86_400;
        let offset = self.rng.random_range(0..=days.max(0));
        earliest
            .saturating_add(Span::new().days(offset))
            .min(latest)
    }
}

/// Given-name table for a sex and birth year.
fn given_names_for(sex: u8, birth_year: i16) -> &'static [(&'static str, &'static str)] {
    match (sex, birth_year) {
        (1, ..1960) => MALE_OLDER,
        (1, 1960..1990) => MALE_MIDDLE,
        (1, _) => MALE_YOUNGER,
        (_, ..1960) => FEMALE_OLDER,
        (_, 1960..1990) => FEMALE_MIDDLE,
        (_, _) => FEMALE_YOUNGER,
    }
}

/// Uniformly pick one element of a static table. Every table passed here is a
/// non-empty constant (checked by the tests), so the index is always in range.
fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// Kanji numeral for 1..=9 (丁目 numbers); out-of-range values are clamped.
fn kanji_numeral(n: u8) -> &'static str {
    let i = usize::from(n.clamp(1, 9)) - 1;
    KANJI_DIGITS.get(i).copied().unwrap_or("一")
}

/// Check digit of a 5-digit local government code (JIS X 0402 → 全国地方公共団体コード).
#[cfg(test)]
fn check_digit(jis5: &str) -> Option<u32> {
    let digits: Vec<u32> = jis5
        .chars()
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()?;
    if digits.len() != 5 {
        return None;
    }
    let s: u32 = digits.iter().zip([6, 5, 4, 3, 2]).map(|(d, w)| d * w).sum();
    Some((11 - s % 11) % 10)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const TODAY: Date = date(2025, 6, 15);

    fn all_name_tables() -> Vec<&'static [(&'static str, &'static str)]> {
        vec![
            SURNAMES,
            OKINAWA_SURNAMES,
            MALE_OLDER,
            MALE_MIDDLE,
            MALE_YOUNGER,
            FEMALE_OLDER,
            FEMALE_MIDDLE,
            FEMALE_YOUNGER,
        ]
    }

    fn is_katakana(s: &str) -> bool {
        !s.is_empty()
            && s.chars()
                .all(|c| ('\u{30A1}'..='\u{30FA}').contains(&c) || c == '\u{30FC}')
    }

    #[test]
    fn code6_check_digits() {
        for m in MUNICIPALITIES {
            let cd = check_digit(m.jis5).unwrap();
            assert_eq!(m.code6, format!("{}{}", m.jis5, cd), "{}", m.name);
        }
        // Well-known published codes.
        assert_eq!(check_digit("13101"), Some(6));
        assert_eq!(check_digit("01100"), Some(2));
        assert_eq!(check_digit("27100"), Some(4));
        assert_eq!(check_digit("40130"), Some(7));
    }

    #[test]
    fn municipality_table_is_sane() {
        assert!(MUNICIPALITIES.len() >= 8);
        let mut codes: Vec<_> = MUNICIPALITIES.iter().map(|m| m.code6).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), MUNICIPALITIES.len(), "duplicate code6");
        let mut prefs: Vec<_> = MUNICIPALITIES.iter().map(|m| m.prefecture).collect();
        prefs.sort_unstable();
        prefs.dedup();
        assert!(prefs.len() >= 5);
        for m in MUNICIPALITIES {
            assert!(
                (5..=10).contains(&m.towns.len()),
                "{}: {} towns",
                m.name,
                m.towns.len()
            );
            assert!(m.romaji.is_ascii() && !m.romaji.is_empty());
            for s in [m.prefecture, m.name].iter().chain(m.towns) {
                assert!(!s.is_empty());
                assert!(!s.contains(' '), "ASCII space in {s:?}");
                assert!(!s.contains(IDEOGRAPHIC_SPACE), "U+3000 in {s:?}");
                assert!(!s.is_ascii(), "{s:?}");
            }
            let mut towns = m.towns.to_vec();
            towns.sort_unstable();
            towns.dedup();
            assert_eq!(towns.len(), m.towns.len(), "duplicate town in {}", m.name);
        }
    }

    #[test]
    fn name_tables_are_sane() {
        assert!(SURNAMES.len() >= 60);
        assert!(MALE_OLDER.len() + MALE_MIDDLE.len() + MALE_YOUNGER.len() >= 40);
        assert!(FEMALE_OLDER.len() + FEMALE_MIDDLE.len() + FEMALE_YOUNGER.len() >= 40);
        for table in all_name_tables() {
            assert!(!table.is_empty());
            for &(kanji, kana) in table {
                assert!(
                    is_katakana(kana),
                    "non-katakana reading {kana:?} of {kanji:?}"
                );
                assert!(!kanji.is_empty() && !kanji.is_ascii());
                assert!(!kanji.contains(' ') && !kana.contains(' '));
                assert!(!kanji.contains(IDEOGRAPHIC_SPACE));
                assert!(!kana.contains(IDEOGRAPHIC_SPACE));
            }
        }
        let mut surnames: Vec<_> = SURNAMES.iter().map(|&(k, _)| k).collect();
        surnames.sort_unstable();
        surnames.dedup();
        assert_eq!(surnames.len(), SURNAMES.len(), "duplicate surname");
    }

    #[test]
    fn deterministic() {
        let a: Vec<_> = {
            let mut g = Generator::new(42, TODAY);
            (0..200).map(|_| g.next_resident()).collect()
        };
        let b: Vec<_> = {
            let mut g = Generator::new(42, TODAY);
            (0..200).map(|_| g.next_resident()).collect()
        };
        assert_eq!(a, b);
        let c: Vec<_> = {
            let mut g = Generator::new(43, TODAY);
            (0..200).map(|_| g.next_resident()).collect()
        };
        assert_ne!(a, c);
    }

    #[test]
    fn residents_are_well_formed() {
        let mut g = Generator::new(7, TODAY);
        let oldest = TODAY.saturating_sub(Span::new().years(100));
        for _ in 0..5_000 {
            let r = g.next_resident();
            assert_eq!(r.name.matches(IDEOGRAPHIC_SPACE).count(), 1, "{}", r.name);
            assert_eq!(r.name_kana.matches(IDEOGRAPHIC_SPACE).count(), 1);
            assert_eq!(r.name, format!("{}\u{3000}{}", r.surname, r.given_name));
            assert_eq!(
                r.name_kana,
                format!("{}\u{3000}{}", r.surname_kana, r.given_name_kana)
            );
            assert!(!r.name.contains(' ') && !r.name_kana.contains(' '));
            assert!(is_katakana(&r.surname_kana) && is_katakana(&r.given_name_kana));
            assert!(r.sex == 1 || r.sex == 2);
            assert!(r.birth_date <= TODAY, "{}", r.birth_date);
            assert!(r.birth_date >= oldest, "{}", r.birth_date);
            let m = municipality(r.municipality_code6).unwrap();
            assert!(r.address.chars().count() <= 200);
            assert!(r.address.starts_with(m.prefecture), "{}", r.address);
            assert!(
                r.address
                    .starts_with(&format!("{}{}", m.prefecture, m.name)),
                "{}",
                r.address
            );
            assert!(r.address.contains("丁目") && r.address.ends_with('号'));
            assert!(!r.address.contains(' '));
        }
    }

    #[test]
    fn sex_roughly_balanced() {
        let mut g = Generator::new(1, TODAY);
        let males = (0..10_000).filter(|_| g.next_resident().sex == 1).count();
        assert!((4_700..=5_300).contains(&males), "males = {males}");
    }

    #[test]
    fn ages_skew_adult() {
        let mut g = Generator::new(3, TODAY);
        let n = 10_000;
        let adults = (0..n)
            .filter(|_| {
                let r = g.next_resident();
                r.birth_date <= TODAY.saturating_sub(Span::new().years(18))
            })
            .count();
        assert!(adults > n * 3 / 4, "adults = {adults}");
    }

    #[test]
    fn extreme_ages_and_leap_day() {
        let today = date(2024, 2, 29);
        let oldest = today.saturating_sub(Span::new().years(100));
        let mut g = Generator::new(11, today);
        for _ in 0..20_000 {
            let r = g.next_resident();
            assert!(r.birth_date <= today && r.birth_date >= oldest);
        }
    }

    #[test]
    fn next_in_returns_requested_municipality() {
        let mut g = Generator::new(5, TODAY);
        for m in MUNICIPALITIES {
            for _ in 0..50 {
                let r = g.next_in(m.code6).unwrap();
                assert_eq!(r.municipality_code6, m.code6);
                let expected = format!("{}{}", m.prefecture, m.name);
                assert!(r.address.starts_with(&expected), "{}", r.address);
                let rest = &r.address[expected.len()..];
                assert!(m.towns.iter().any(|t| rest.starts_with(t)), "{}", r.address);
            }
        }
        assert!(g.next_in("999999").is_none());
        assert!(g.next_in("13101").is_none(), "jis5 is not a code6");
    }

    #[test]
    fn kanji_numerals() {
        assert_eq!(kanji_numeral(1), "一");
        assert_eq!(kanji_numeral(3), "三");
        assert_eq!(kanji_numeral(9), "九");
        let r = Generator::new(9, TODAY).next_in("131016").unwrap();
        assert!(r.address.starts_with("東京都千代田区"));
    }
}

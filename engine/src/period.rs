//! Reporting periods: the week or month a file reports on, read from file names, cells, sheet
//! names and headers in the many ways resellers write them (`30-04-2025`, `APR2025`,
//! `ReportPeriod02-2025`, `2025 04`, `march'25`, `2025 April`, `березня-25`, `stycznia 2025`).

use chrono::{Datelike, Duration, Months, NaiveDate};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// How long a period is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    Day,
    Week,
    Month,
    Year,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The inverse of [`Grain::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Day, Self::Week, Self::Month, Self::Year]
            .into_iter()
            .find(|g| g.as_str() == text)
    }
}

/// A closed date range and its grain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub grain: Grain,
}

impl Period {
    pub fn month(year: i32, month: u32) -> Option<Self> {
        let start = NaiveDate::from_ymd_opt(year, month, 1)?;
        let end = start.checked_add_months(Months::new(1))? - Duration::days(1);
        Some(Self {
            start,
            end,
            grain: Grain::Month,
        })
    }

    /// The seven days ending on `end`, as weekly reports are dated by their last day.
    pub fn week_ending(end: NaiveDate) -> Self {
        Self {
            start: end - Duration::days(6),
            end,
            grain: Grain::Week,
        }
    }

    /// A period as a user writes it: `2025-06` (a month) or `2025` (a year).
    pub fn parse_user(text: &str) -> Option<Self> {
        let t = text.trim();
        match t.split_once('-') {
            Some((y, m)) => Self::month(y.parse().ok()?, m.parse().ok()?),
            None if t.len() == 4 => Self::year(t.parse().ok()?),
            None => None,
        }
    }

    pub fn year(year: i32) -> Option<Self> {
        Some(Self {
            start: NaiveDate::from_ymd_opt(year, 1, 1)?,
            end: NaiveDate::from_ymd_opt(year, 12, 31)?,
            grain: Grain::Year,
        })
    }

    pub fn day(d: NaiveDate) -> Self {
        Self {
            start: d,
            end: d,
            grain: Grain::Day,
        }
    }

    /// Shifts by whole periods of its grain (`-1` = the previous week or month).
    pub fn shift(self, n: i32) -> Self {
        match self.grain {
            Grain::Day => Self::day(self.start + Duration::days(n as i64)),
            Grain::Week => Self::week_ending(self.end + Duration::days(7 * n as i64)),
            Grain::Year => Self::year(self.start.year() + n).unwrap_or(self),
            Grain::Month => {
                let d = if n >= 0 {
                    self.start.checked_add_months(Months::new(n as u32))
                } else {
                    self.start.checked_sub_months(Months::new(n.unsigned_abs()))
                };
                let d = d.unwrap_or(self.start);
                Self::month(d.year(), d.month()).unwrap_or(self)
            }
        }
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start <= d && d <= self.end
    }

    /// A label for summaries: `2025-04` for months, `2025-04-21..2025-04-27` otherwise.
    pub fn label(&self) -> String {
        match self.grain {
            Grain::Month => self.start.format("%Y-%m").to_string(),
            Grain::Year => self.start.format("%Y").to_string(),
            Grain::Day => self.start.to_string(),
            Grain::Week => format!("{}..{}", self.start, self.end),
        }
    }
}

/// What a piece of text says about time: a full date, a month of a year, a year, or a month alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Date(NaiveDate),
    YearMonth(i32, u32),
    Year(i32),
    Month(u32),
}

/// Month names and abbreviations: English, Polish (nominative and genitive), Ukrainian
/// (nominative and genitive), each mapped to its month number.
const MONTH_NAMES: [(&str, u32); 60] = [
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("styczeń", 1),
    ("luty", 2),
    ("marzec", 3),
    ("kwiecień", 4),
    ("maj", 5),
    ("czerwiec", 6),
    ("lipiec", 7),
    ("sierpień", 8),
    ("wrzesień", 9),
    ("październik", 10),
    ("listopad", 11),
    ("grudzień", 12),
    ("stycznia", 1),
    ("lutego", 2),
    ("marca", 3),
    ("kwietnia", 4),
    ("maja", 5),
    ("czerwca", 6),
    ("lipca", 7),
    ("sierpnia", 8),
    ("września", 9),
    ("października", 10),
    ("listopada", 11),
    ("grudnia", 12),
    ("січень", 1),
    ("лютий", 2),
    ("березень", 3),
    ("квітень", 4),
    ("травень", 5),
    ("червень", 6),
    ("липень", 7),
    ("серпень", 8),
    ("вересень", 9),
    ("жовтень", 10),
    ("листопад", 11),
    ("грудень", 12),
    ("січня", 1),
    ("лютого", 2),
    ("березня", 3),
    ("квітня", 4),
    ("травня", 5),
    ("червня", 6),
    ("липня", 7),
    ("серпня", 8),
    ("вересня", 9),
    ("жовтня", 10),
    ("листопада", 11),
    ("грудня", 12),
];

/// Reads a month name or its 3-letter English abbreviation (`Apr`, `APR`, `sept`).
pub fn month_from_name(word: &str) -> Option<u32> {
    let w = word.trim().trim_end_matches('.').to_lowercase();
    if w.chars().count() < 3 {
        return None;
    }
    if let Some((_, m)) = MONTH_NAMES.iter().find(|(name, _)| *name == w) {
        return Some(*m);
    }
    // English abbreviations: a prefix of at least three letters (`apr`, `sept`).
    MONTH_NAMES[..12]
        .iter()
        .find(|(name, _)| name.starts_with(&w))
        .map(|(_, m)| *m)
}

fn year4(y: &str) -> Option<i32> {
    let v: i32 = y.parse().ok()?;
    match y.len() {
        2 => Some(2000 + v),
        4 if (1990..2100).contains(&v) => Some(v),
        _ => None,
    }
}

static DMY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)(\d{1,2})[-_./](\d{1,2})[-_./](\d{4})(?:\D|$)").unwrap());
static YMD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)(\d{4})[-_./](\d{1,2})[-_./](\d{1,2})(?:\D|$)").unwrap());
static MY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)(\d{1,2})[-_./](\d{4})(?:\D|$)").unwrap());
static YM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)(\d{4})[-_ ./](\d{1,2})(?:\D|$)").unwrap());
static WORD_YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(\p{L}{3,})[\s'’_.\-]*(\d{4}|\d{2})(?:\D|$)").unwrap());
static YEAR_WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)(?:^|\D)(\d{4})[\s_\-]+(\p{L}{3,})").unwrap());
static YEAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\D)((?:19|20)\d{2})(?:\D|$)").unwrap());

/// Finds the most specific time token in `text`: a full date beats a month of a year, which beats
/// a year or a month alone. Month names must be real names, never guessed from other words.
pub fn find_token(text: &str) -> Option<Token> {
    let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d).map(Token::Date);
    if let Some(c) = YMD.captures(text) {
        if let Some(t) = ymd(c[1].parse().ok()?, c[2].parse().ok()?, c[3].parse().ok()?) {
            return Some(t);
        }
    }
    if let Some(c) = DMY.captures(text) {
        if let Some(t) = ymd(c[3].parse().ok()?, c[2].parse().ok()?, c[1].parse().ok()?) {
            return Some(t);
        }
    }
    for c in WORD_YEAR.captures_iter(text) {
        if let (Some(m), Some(y)) = (month_from_name(&c[1]), year4(&c[2])) {
            return Some(Token::YearMonth(y, m));
        }
    }
    for c in YEAR_WORD.captures_iter(text) {
        if let (Some(y), Some(m)) = (year4(&c[1]), month_from_name(&c[2])) {
            return Some(Token::YearMonth(y, m));
        }
    }
    for re in [&*MY, &*YM] {
        if let Some(c) = re.captures(text) {
            let (a, b) = (&c[1], &c[2]);
            let (y, m) = if a.len() == 4 { (a, b) } else { (b, a) };
            let m: u32 = m.parse().ok()?;
            if (1..=12).contains(&m) {
                return Some(Token::YearMonth(year4(y)?, m));
            }
        }
    }
    if let Some(m) = text
        .split(|c: char| !c.is_alphabetic())
        .find_map(month_from_name_strict)
    {
        return Some(Token::Month(m));
    }
    YEAR.captures(text)
        .and_then(|c| year4(&c[1]))
        .map(Token::Year)
}

/// Like [`month_from_name`] but only for whole words, so `Report` never reads as a month.
fn month_from_name_strict(word: &str) -> Option<u32> {
    let w = word.to_lowercase();
    if w.chars().count() == 3 || MONTH_NAMES.iter().any(|(n, _)| *n == w) || w == "sept" {
        month_from_name(&w)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ym(y: i32, m: u32) -> Option<Token> {
        Some(Token::YearMonth(y, m))
    }
    fn date(y: i32, m: u32, d: u32) -> Option<Token> {
        Some(Token::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap()))
    }

    #[test]
    fn file_name_tokens_from_real_reseller_files() {
        assert_eq!(
            find_token("Continuity Supplier Size Report 27-04-2025.xlsx"),
            date(2025, 4, 27)
        );
        assert_eq!(
            find_token("Continuity Supplier Size Report 27_04_2025.xlsm"),
            date(2025, 4, 27)
        );
        assert_eq!(
            find_token("BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"),
            ym(2025, 4)
        );
        assert_eq!(find_token("CDLC BIBBI_Sell_Out_2025 01.xlsx"), ym(2025, 1));
        assert_eq!(find_token("BIBBI_Sell_Out_2025_05.xlsx"), ym(2025, 5));
        assert_eq!(
            find_token("BIBBIPARFU_ReportPeriod02-2025.xlsx"),
            ym(2025, 2)
        );
        assert_eq!(find_token("bibbi sales march'25.xlsx"), ym(2025, 3));
        assert_eq!(
            find_token("Skins SA BIBBI CY 2025 February.xlsx"),
            ym(2025, 2)
        );
        assert_eq!(find_token("2025 April"), ym(2025, 4));
        assert_eq!(find_token("березня-25"), ym(2025, 3));
        assert_eq!(find_token("stycznia 2025"), ym(2025, 1));
        assert_eq!(
            find_token("BIbbi_sellout_Galilu_2025.xlsx"),
            Some(Token::Year(2025))
        );
        assert_eq!(find_token("Jun"), Some(Token::Month(6)));
        assert_eq!(find_token("Report.xlsx"), None);
    }

    #[test]
    fn periods_shift_and_label() {
        let d = NaiveDate::from_ymd_opt(2025, 4, 27).unwrap();
        let w = Period::week_ending(d);
        assert_eq!(w.label(), "2025-04-21..2025-04-27");
        assert_eq!(
            w.shift(-1).end,
            NaiveDate::from_ymd_opt(2025, 4, 20).unwrap()
        );
        let m = Period::month(2025, 1).unwrap().shift(-1);
        assert_eq!(m.label(), "2024-12");
        assert_eq!(m.end, NaiveDate::from_ymd_opt(2024, 12, 31).unwrap());
    }
}

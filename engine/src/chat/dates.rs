//! Periods named in a question ("last month", "Q1", "March 2025", "since January", "week 17",
//! "this year vs last year"), resolved against an anchor day: today, or the day after the
//! tenant's data ends when it ends earlier (so "last month" is the last month there is data for).

use super::words::Words;
use crate::analytics::Window;
use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// A period the question names, with the words a person would use for it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Period {
    pub window: Window,
    pub label: String,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month a word names: full names and the usual abbreviations. "may" is a month only where
/// the words around it say so (see `period_at`), being a common verb.
fn month_of(word: &str) -> Option<u32> {
    const SHORT: [&str; 12] = [
        "jan", "feb", "mar", "apr", "", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let i = MONTHS
        .iter()
        .position(|m| *m == word && word != "may")
        .or_else(|| SHORT.iter().position(|m| !m.is_empty() && *m == word))
        .or_else(|| (word == "sept").then_some(8))?;
    Some(i as u32 + 1)
}

fn year_of(word: &str) -> Option<i32> {
    let y: i32 = word.parse().ok()?;
    (word.len() == 4 && (2000..=2099).contains(&y)).then_some(y)
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid calendar date")
}

fn month_window(y: i32, m: u32) -> Window {
    let next = if m == 12 {
        ymd(y + 1, 1, 1)
    } else {
        ymd(y, m + 1, 1)
    };
    Window {
        from: ymd(y, m, 1),
        to: next - Duration::days(1),
    }
}

fn months_window(y: i32, first: u32, count: u32) -> Window {
    let last = month_window(y, first + count - 1);
    Window {
        from: ymd(y, first, 1),
        to: last.to,
    }
}

fn label_month(y: i32, m: u32) -> String {
    let name = MONTHS[m as usize - 1];
    format!("{}{} {y}", name[..1].to_uppercase(), &name[1..])
}

/// The most recent year in which a period starting in month `m` has begun by `anchor`.
fn recent_year(m: u32, anchor: NaiveDate) -> i32 {
    if ymd(anchor.year(), m, 1) < anchor {
        anchor.year()
    } else {
        anchor.year() - 1
    }
}

/// Finds every period the words name, in the order they appear.
pub fn periods(words: &mut Words, anchor: NaiveDate) -> Vec<Period> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match period_at(words.all(), i, anchor) {
            Some((p, used)) => {
                words.consume(i, used);
                out.push(p);
                i += used;
            }
            None => i += 1,
        }
    }
    out
}

/// The period the words at `i` start, and how many words it took.
fn period_at(w: &[String], i: usize, anchor: NaiveDate) -> Option<(Period, usize)> {
    let at = |k: usize| w.get(i + k).map(String::as_str).unwrap_or("");
    let before = if i == 0 { "" } else { w[i - 1].as_str() };
    // "may" is the month when a year follows or a preposition comes before it.
    let may_is_month = at(0) == "may"
        && (year_of(at(1)).is_some() || matches!(before, "in" | "for" | "during" | "since" | "of"));
    let yesterday = anchor - Duration::days(1);
    let p = |window: Window, label: String| Period { window, label };
    let this_year = anchor.year();
    match (at(0), at(1), at(2)) {
        ("last" | "previous" | "past", "month", _) => {
            let end = ymd(anchor.year(), anchor.month(), 1) - Duration::days(1);
            Some((
                p(
                    month_window(end.year(), end.month()),
                    label_month(end.year(), end.month()),
                ),
                2,
            ))
        }
        ("this" | "current", "month", _) => Some((
            p(
                Window {
                    from: ymd(anchor.year(), anchor.month(), 1),
                    to: yesterday.max(ymd(anchor.year(), anchor.month(), 1)),
                },
                label_month(anchor.year(), anchor.month()),
            ),
            2,
        )),
        ("last" | "previous" | "past", "quarter", _) => {
            let q = (anchor.month0() / 3) as i32; // current quarter index 0..3
            let (y, q) = if q == 0 {
                (this_year - 1, 3)
            } else {
                (this_year, q - 1)
            };
            Some((
                p(
                    months_window(y, q as u32 * 3 + 1, 3),
                    format!("Q{} {y}", q + 1),
                ),
                2,
            ))
        }
        ("this" | "current", "quarter", _) => {
            let q = anchor.month0() / 3;
            Some((
                p(
                    Window {
                        from: ymd(this_year, q * 3 + 1, 1),
                        to: yesterday,
                    },
                    format!("Q{} {this_year} so far", q + 1),
                ),
                2,
            ))
        }
        ("last" | "previous" | "past", "year", _) => {
            let y = this_year - 1;
            Some((p(months_window(y, 1, 12), y.to_string()), 2))
        }
        ("this" | "current", "year", _) | ("year", "to", "date") | ("ytd", _, _) => {
            let used = if at(0) == "ytd" {
                1
            } else if at(0) == "year" {
                3
            } else {
                2
            };
            Some((
                p(
                    Window {
                        from: ymd(this_year, 1, 1),
                        to: yesterday,
                    },
                    format!("{this_year} so far"),
                ),
                used,
            ))
        }
        ("last" | "past", n, unit)
            if n.parse::<i64>().is_ok() && matches!(unit, "days" | "weeks" | "months") =>
        {
            let n: i64 = n.parse().ok()?;
            if !(1..=1000).contains(&n) {
                return None;
            }
            let from = match unit {
                "days" => anchor - Duration::days(n),
                "weeks" => anchor - Duration::weeks(n),
                _ => anchor.checked_sub_months(chrono::Months::new(n as u32))?,
            };
            Some((
                p(
                    Window {
                        from,
                        to: yesterday,
                    },
                    format!("the last {n} {unit}"),
                ),
                3,
            ))
        }
        ("since", m, y) if month_of(m).is_some() || m == "may" => {
            let m = month_of(m).unwrap_or(5);
            let (year, used) = match year_of(y) {
                Some(y) => (y, 3),
                None => (recent_year(m, anchor), 2),
            };
            Some((
                p(
                    Window {
                        from: ymd(year, m, 1),
                        to: yesterday,
                    },
                    format!("since {}", label_month(year, m)),
                ),
                used,
            ))
        }
        ("since", y, _) if year_of(y).is_some() => {
            let y = year_of(y)?;
            Some((
                p(
                    Window {
                        from: ymd(y, 1, 1),
                        to: yesterday,
                    },
                    format!("since {y}"),
                ),
                2,
            ))
        }
        ("week", n, y) if n.parse::<u32>().is_ok() => {
            let n: u32 = n.parse().ok()?;
            let (year, used) = match year_of(y) {
                Some(y) => (y, 3),
                None => (this_year, 2),
            };
            let monday = NaiveDate::from_isoywd_opt(year, n, Weekday::Mon)?;
            Some((
                p(
                    Window {
                        from: monday,
                        to: monday + Duration::days(6),
                    },
                    format!("week {n} of {year}"),
                ),
                used,
            ))
        }
        (q, y, _)
            if q.len() == 2 && q.starts_with('q') && matches!(&q[1..], "1" | "2" | "3" | "4") =>
        {
            let q: u32 = q[1..].parse().ok()?;
            let first = (q - 1) * 3 + 1;
            let (year, used) = match year_of(y) {
                Some(y) => (y, 2),
                None => (recent_year(first, anchor), 1),
            };
            Some((
                p(months_window(year, first, 3), format!("Q{q} {year}")),
                used,
            ))
        }
        (h, y, _) if h == "h1" || h == "h2" => {
            let first = if h == "h1" { 1 } else { 7 };
            let (year, used) = match year_of(y) {
                Some(y) => (y, 2),
                None => (recent_year(first, anchor), 1),
            };
            Some((
                p(
                    months_window(year, first, 6),
                    format!("{} {year}", h.to_uppercase()),
                ),
                used,
            ))
        }
        ("in" | "during" | "for", y, _) if year_of(y).is_some() => {
            let y = year_of(y)?;
            Some((p(months_window(y, 1, 12), y.to_string()), 2))
        }
        (y, _, _) if year_of(y).is_some() => {
            let y = year_of(y)?;
            Some((p(months_window(y, 1, 12), y.to_string()), 1))
        }
        (m, y, _) if month_of(m).is_some() || may_is_month => {
            let m = month_of(m).unwrap_or(5);
            let (year, used) = match year_of(y) {
                Some(y) => (y, 2),
                None => (recent_year(m, anchor), 1),
            };
            Some((p(month_window(year, m), label_month(year, m)), used))
        }
        _ => None,
    }
}

//! The planner's own wording of a result, and the chart that suits it. Every number it writes
//! comes from the rows (or a sum, difference or ratio of them), which the number check (check.rs) verifies
//! for a language model's wording too.

use super::entities::Dimension;
use super::{Channel, Intent, Interpretation, Measure};
use crate::analytics::Window;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How the result is best shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Chart {
    /// One number, or a few: words are enough.
    None,
    Bar,
    Line,
    Table,
}

pub fn chart(i: &Interpretation) -> Chart {
    match i.intent {
        Intent::Total | Intent::Count { .. } => Chart::None,
        Intent::Top { n: 1, .. } => Chart::None,
        Intent::Top { .. }
        | Intent::Breakdown { .. }
        | Intent::Compare { .. }
        | Intent::Channels => Chart::Bar,
        Intent::Trend { .. } => Chart::Line,
        Intent::Lines => Chart::Table,
    }
}

/// A cell as a number: arrow's JSON gives decimals as numbers or strings.
pub fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "(none)".into(),
        Some(v) => v.to_string(),
    }
}

/// Said after a weekly trend: what it leaves out.
const WEEKLY_NOTE: &str = " Only sales dated within a week are counted: monthly and longer reports cannot be split into weeks.";

/// `1234567.891` as `1,234,567.89`.
pub fn grouped(x: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = s
        .split_once('.')
        .map_or((s.as_str(), None), |(a, b)| (a, Some(b)));
    let mut out = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out = format!("{out}.{f}");
    }
    if x < 0.0 && s.chars().any(|c| c != '0' && c != '.') {
        format!("-{out}")
    } else {
        out
    }
}

fn amount(m: Measure, x: f64) -> String {
    match m {
        Measure::Revenue => format!("\u{20ac}{}", grouped(x, 2)),
        Measure::Units => format!("{} units", grouped(x, 0)),
    }
}

/// "of Ghost of Tom at Liberty online in June 2025".
pub fn scope(i: &Interpretation) -> String {
    let mut parts = names(i);
    if !matches!(i.intent, Intent::Compare { .. }) {
        parts.push(match &i.period {
            Some(p) => format!("in {}", p.label),
            None => "in all your data".into(),
        });
    }
    parts.join(" ")
}

/// The names and channel a question narrows to, as words ("at Liberty", "online").
fn names(i: &Interpretation) -> Vec<String> {
    let mut parts = Vec::new();
    for e in &i.entities {
        let v = e.values.join(" or ");
        parts.push(match e.dimension {
            Dimension::Product => format!("of {v}"),
            Dimension::Reseller => format!("at {v}"),
            Dimension::Store => format!("in store {v}"),
            Dimension::Country => format!("in {v}"),
        });
    }
    match i.channel {
        Some(Channel::Online) => parts.push("online".into()),
        Some(Channel::Offline) => parts.push("offline".into()),
        None => {}
    }
    parts
}

fn month_label(v: Option<&Value>, weekly: bool) -> String {
    let s = text(v);
    match NaiveDate::parse_from_str(&s, "%Y-%m-%d") {
        Ok(d) if weekly => format!("the week of {}", d.format("%-d %B %Y")),
        Ok(d) => d.format("%B %Y").to_string(),
        Err(_) => s,
    }
}

/// Why nothing came back, and what there is.
fn nothing(i: &Interpretation, data: Option<Window>) -> String {
    let covers = match data {
        Some(d) => format!(
            " Your data covers {} to {}.",
            d.from.format("%-d %B %Y"),
            d.to.format("%-d %B %Y")
        ),
        None => " There is no sales data loaded yet.".into(),
    };
    format!("{NOTHING} {}.{covers}", scope(i))
}

/// How an answer that found nothing begins.
const NOTHING: &str = "There are no sales";

/// Whether `answer` says nothing was found.
pub fn found_nothing(answer: &str) -> bool {
    answer.starts_with(NOTHING)
}

/// Where the names asked about do have sales, as runs of consecutive months ("January 2024 to
/// September 2024 and December 2024 to June 2025"), added to an answer that found nothing.
pub fn months_with_sales(i: &Interpretation, months: &[NaiveDate]) -> String {
    let who = names(i).join(" ");
    let mut runs: Vec<(NaiveDate, NaiveDate)> = vec![];
    for &m in months {
        match runs.last_mut() {
            Some((_, end)) if end.checked_add_months(chrono::Months::new(1)) == Some(m) => *end = m,
            _ => runs.push((m, m)),
        }
    }
    let label = |d: NaiveDate| d.format("%B %Y").to_string();
    let parts: Vec<String> = runs
        .iter()
        .map(|(a, b)| match a == b {
            true => label(*a),
            false => format!("{} to {}", label(*a), label(*b)),
        })
        .collect();
    match parts.as_slice() {
        [] => format!("There are no sales {who} in any period."),
        [one] => format!("There are sales {who} in {one}."),
        [rest @ .., last] => format!("There are sales {who} in {} and {last}.", rest.join(", ")),
    }
}

/// The answer in words.
pub fn words(i: &Interpretation, rows: &[Value], data: Option<Window>) -> String {
    let m = i.measure;
    let key = match m {
        Measure::Revenue => "revenue_eur",
        Measure::Units => "units",
    };
    let get = |r: &Value, k: &str| number(r.get(k));
    match &i.intent {
        Intent::Total => {
            let r = rows.first();
            let lines = r.and_then(|r| get(r, "lines")).unwrap_or(0.0);
            if lines == 0.0 {
                return nothing(i, data);
            }
            let r = r.expect("a row with lines");
            let revenue = get(r, "revenue_eur").unwrap_or(0.0);
            let units = get(r, "units").unwrap_or(0.0);
            let (first, second) = match m {
                Measure::Revenue => (
                    amount(Measure::Revenue, revenue),
                    amount(Measure::Units, units),
                ),
                Measure::Units => (
                    amount(Measure::Units, units),
                    amount(Measure::Revenue, revenue),
                ),
            };
            format!(
                "Sales {}: {first} ({second}, from {} sales lines).",
                scope(i),
                grouped(lines, 0)
            )
        }
        Intent::Count { of } => {
            let n = rows
                .first()
                .and_then(|r| get(r, &format!("{}s", of.column())))
                .unwrap_or(0.0);
            if n == 0.0 {
                return nothing(i, data);
            }
            format!(
                "{} {}{} had sales {}.",
                grouped(n, 0),
                of.noun(),
                if n == 1.0 { "" } else { "s" },
                scope(i)
            )
        }
        Intent::Top { by, n, lowest } => {
            if rows.is_empty() {
                return nothing(i, data);
            }
            let col = by.column();
            if *n == 1 || rows.len() == 1 {
                let r = &rows[0];
                let how = if *lowest { "the least" } else { "the most" };
                return format!(
                    "{} sold {how} {}: {}.",
                    text(r.get(col)),
                    scope(i),
                    amount(m, get(r, key).unwrap_or(0.0))
                );
            }
            let list: Vec<String> = rows
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    format!(
                        "{}. {} {}",
                        k + 1,
                        text(r.get(col)),
                        amount(m, get(r, key).unwrap_or(0.0))
                    )
                })
                .collect();
            format!(
                "{} {} {}s {}: {}.",
                if *lowest { "Bottom" } else { "Top" },
                rows.len(),
                by.noun(),
                scope(i),
                list.join("; ")
            )
        }
        Intent::Breakdown { by } => {
            if rows.is_empty() {
                return nothing(i, data);
            }
            let col = by.column();
            let total: f64 = rows.iter().filter_map(|r| get(r, key)).sum();
            let parts: Vec<String> = rows
                .iter()
                .take(5)
                .map(|r| {
                    format!(
                        "{} {} ({}%)",
                        text(r.get(col)),
                        amount(m, get(r, key).unwrap_or(0.0)),
                        grouped(get(r, "share_pct").unwrap_or(0.0), 1)
                    )
                })
                .collect();
            let more = if rows.len() > 5 {
                format!(" and {} more", rows.len() - 5)
            } else {
                String::new()
            };
            format!(
                "{} {} by {}: {}{more}; {} in all.",
                cap_first(&amount_word(m)),
                scope(i),
                by.noun(),
                parts.join(", "),
                amount(m, total)
            )
        }
        Intent::Trend { weekly } => {
            let note = if *weekly { WEEKLY_NOTE } else { "" };
            let grain = if *weekly { "week" } else { "month" };
            let points: Vec<(String, f64)> = rows
                .iter()
                .map(|r| {
                    (
                        month_label(r.get(grain), *weekly),
                        get(r, key).unwrap_or(0.0),
                    )
                })
                .collect();
            if points.is_empty() && *weekly {
                return format!(
                    "No sales {} are dated within a week: monthly and longer reports cannot be split into weeks. Ask by month instead.",
                    scope(i)
                )
                .replace("  ", " ");
            }
            if points.is_empty() {
                return nothing(i, data);
            }
            let max = points
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .expect("points");
            let min = points
                .iter()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("points");
            let total: f64 = points.iter().map(|p| p.1).sum();
            if points.len() == 1 {
                return format!(
                    "{} {}: {} in {}, the only {grain} with sales.{note}",
                    cap_first(&amount_word(m)),
                    scope(i),
                    amount(m, max.1),
                    max.0
                );
            }
            format!(
                "{} by {grain} {}: highest in {} ({}), lowest in {} ({}); {} over {} {grain}s.{note}",
                cap_first(&amount_word(m)),
                scope(i),
                max.0,
                amount(m, max.1),
                min.0,
                amount(m, min.1),
                amount(m, total),
                points.len()
            )
        }
        Intent::Compare { other } => {
            let p = i.period.as_ref().expect("a comparison has a first period");
            let r = rows.first();
            let a = r.and_then(|r| get(r, &p.label.replace('"', "")));
            let b = r.and_then(|r| get(r, &other.label.replace('"', "")));
            let s = scope(i);
            let s = if s.is_empty() {
                String::new()
            } else {
                format!(" {s}")
            };
            match (a, b) {
                (None, None) => format!(
                    "There are no sales{s} in {} or {}.{}",
                    p.label,
                    other.label,
                    nothing_tail(data)
                ),
                (Some(a), None) => format!(
                    "{}{s}: {} in {}; no sales in {}.",
                    cap_first(&amount_word(m)),
                    amount(m, a),
                    p.label,
                    other.label
                ),
                (None, Some(b)) => format!(
                    "{}{s}: no sales in {}; {} in {}.",
                    cap_first(&amount_word(m)),
                    p.label,
                    amount(m, b),
                    other.label
                ),
                (Some(a), Some(b)) => {
                    let diff = a - b;
                    let change = if b != 0.0 {
                        format!(
                            ", {} {}% ({})",
                            if diff >= 0.0 { "up" } else { "down" },
                            grouped((diff / b * 100.0).abs(), 1),
                            amount(m, diff.abs())
                        )
                    } else {
                        String::new()
                    };
                    format!(
                        "{}{s}: {} in {} against {} in {}{change}.",
                        cap_first(&amount_word(m)),
                        amount(m, a),
                        p.label,
                        amount(m, b),
                        other.label
                    )
                }
            }
        }
        Intent::Channels => {
            let total: f64 = rows.iter().filter_map(|r| get(r, key)).sum();
            if rows.is_empty() {
                return nothing(i, data);
            }
            let parts: Vec<String> = rows
                .iter()
                .map(|r| {
                    let v = get(r, key).unwrap_or(0.0);
                    let share = if total != 0.0 { v / total * 100.0 } else { 0.0 };
                    format!(
                        "{} {} ({}%)",
                        cap_first(&text(r.get("channel"))),
                        amount(m, v),
                        grouped(share, 1)
                    )
                })
                .collect();
            format!(
                "{} {}: {}.",
                cap_first(&amount_word(m)),
                scope(i),
                parts.join(", ")
            )
        }
        Intent::Lines => {
            if rows.is_empty() {
                return nothing(i, data);
            }
            let cut = if rows.len() >= super::plan::LINES_LIMIT {
                format!(" (the first {})", super::plan::LINES_LIMIT)
            } else {
                String::new()
            };
            format!(
                "{} sales lines {}{cut}, in the table below.",
                rows.len(),
                scope(i)
            )
        }
    }
}

fn nothing_tail(data: Option<Window>) -> String {
    match data {
        Some(d) => format!(
            " Your data covers {} to {}.",
            d.from.format("%-d %B %Y"),
            d.to.format("%-d %B %Y")
        ),
        None => " There is no sales data loaded yet.".into(),
    }
}

fn amount_word(m: Measure) -> String {
    match m {
        Measure::Revenue => "revenue".into(),
        Measure::Units => "units sold".into(),
    }
}

fn cap_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

//! Whether the numbers in an answer's words come from the result: each must be a cell, a column
//! total, or a difference, ratio or percentage change of two of those, as shown (rounded), or a
//! number the question or the interpretation already holds (a year, "top 5"). A number that is
//! none of these was made up.

use serde_json::Value;

/// The numbers written in `text`: `€12,345.67`, `-3.5%`, `1 234`, `2025`.
pub fn numbers(text: &str) -> Vec<(f64, usize)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let mut s = String::new();
            let mut decimals = 0;
            let mut in_frac = false;
            while i < chars.len() {
                let c = chars[i];
                if c.is_ascii_digit() {
                    s.push(c);
                    if in_frac {
                        decimals += 1;
                    }
                } else if c == ','
                    && !in_frac
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                    && chars.get(i + 3).is_some_and(char::is_ascii_digit)
                    && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
                {
                    // thousands separator
                } else if c == '.' && !in_frac && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                {
                    s.push('.');
                    in_frac = true;
                } else {
                    break;
                }
                i += 1;
            }
            // A digit run glued to letters (Q1, BBGOT100, 100ml) is a name, not a number.
            if i < chars.len() && chars[i].is_alphabetic() {
                while i < chars.len() && chars[i].is_alphanumeric() {
                    i += 1;
                }
                continue;
            }
            if let Ok(x) = s.parse::<f64>() {
                out.push((x, decimals));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Every number of the rows, and the column totals.
fn facts(rows: &[Value]) -> Vec<f64> {
    let mut cells: Vec<f64> = Vec::new();
    let mut totals: std::collections::BTreeMap<String, f64> = Default::default();
    for r in rows {
        if let Value::Object(m) = r {
            for (k, v) in m {
                if let Some(x) = super::answer::number(Some(v)) {
                    cells.push(x);
                    *totals.entry(k.clone()).or_default() += x;
                }
            }
        }
    }
    cells.extend(totals.values());
    cells.push(rows.len() as f64);
    cells
}

fn shown(x: f64, decimals: usize, fact: f64) -> bool {
    let tolerance = 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9 * fact.abs();
    (x - fact.abs()).abs() <= tolerance
}

/// The first number in `text` that neither the rows nor `context` support, if any.
pub fn unsupported(text: &str, rows: &[Value], context: &str) -> Option<f64> {
    let facts = facts(rows);
    let given: Vec<f64> = numbers(context).into_iter().map(|n| n.0).collect();
    // Pairs only over a bounded number of facts: a long result is checked cell by cell.
    let pairs = facts.len() <= 400;
    numbers(text).into_iter().find_map(|(x, d)| {
        let ok = given.iter().any(|g| (g - x).abs() < 1e-9)
            || facts.iter().any(|&f| shown(x, d, f))
            || (pairs
                && facts.iter().any(|&a| {
                    facts.iter().any(|&b| {
                        shown(x, d, a - b)
                            || (b != 0.0
                                && (shown(x, d, a / b * 100.0)
                                    || shown(x, d, (a - b) / b * 100.0)
                                    || shown(x, d, a / b)))
                    })
                }));
        (!ok).then_some(x)
    })
}

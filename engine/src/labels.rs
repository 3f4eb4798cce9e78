//! Header labels as people write them: case, stray spaces and line breaks do not matter, and a
//! spec may match labels by regex (`re:` prefix).

use regex::Regex;

/// Lower-cases and collapses whitespace: `"Sales Inc VAT £ "` becomes `"sales inc vat £"`.
pub fn norm_label(s: &str) -> String {
    crate::values::clean_text(s).to_lowercase()
}

/// A label, matched on its normalized form, a regex over the normalized form, or a column
/// position by its spreadsheet letter.
#[derive(Debug, Clone)]
pub enum LabelMatcher {
    Exact(String),
    Pattern(Regex),
    /// `col:B`: the second column, whatever its header says (0-based here).
    Position(usize),
}

impl LabelMatcher {
    /// `re:^sales qty` is a regex (case-insensitive), `col:C` a column letter; anything else an
    /// exact label.
    pub fn parse(spec: &str) -> Result<Self, regex::Error> {
        if let Some(letters) = spec
            .strip_prefix("col:")
            .filter(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            let n = letters
                .to_ascii_uppercase()
                .bytes()
                .fold(0usize, |acc, b| acc * 26 + (b - b'A' + 1) as usize);
            return Ok(Self::Position(n - 1));
        }
        match spec.strip_prefix("re:") {
            Some(p) => Ok(Self::Pattern(Regex::new(&format!("(?i){p}"))?)),
            None => Ok(Self::Exact(norm_label(spec))),
        }
    }

    /// Whether the label at position `index` (normalized) matches.
    pub fn matches_at(&self, index: usize, normalized: &str) -> bool {
        match self {
            Self::Exact(s) => s == normalized,
            Self::Pattern(r) => r.is_match(normalized),
            Self::Position(i) => *i == index,
        }
    }

    /// First index in `labels` (already normalized) that matches.
    pub fn find(&self, labels: &[String]) -> Option<usize> {
        labels
            .iter()
            .enumerate()
            .position(|(i, l)| self.matches_at(i, l))
    }
}

/// The label closest to `wanted` by edit distance, for "did you mean" messages.
pub fn nearest<'a>(wanted: &str, labels: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = norm_label(wanted);
    labels
        .into_iter()
        .filter(|l| !l.is_empty())
        .map(|l| (edit_distance(&w, &norm_label(l)), l))
        .filter(|(d, _)| *d <= w.chars().count().max(3) / 2 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, l)| l)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Joins a multi-row header into one label per column. Upper rows carry their text to the right
/// across empty (merged) cells until the next label, or until a row above starts a new group.
pub fn join_header_rows(rows: &[Vec<Option<String>>], width: usize) -> Vec<String> {
    let last = rows.len().saturating_sub(1);
    let mut carried: Vec<Option<String>> = vec![None; rows.len()];
    (0..width)
        .map(|col| {
            let mut parts = Vec::new();
            let mut new_group = false;
            for (r, row) in rows.iter().enumerate() {
                let cell = row
                    .get(col)
                    .cloned()
                    .flatten()
                    .map(|c| crate::values::clean_text(&c).into_owned())
                    .filter(|c| !c.is_empty());
                if r < last {
                    if cell.is_some() || new_group {
                        carried[r] = cell.clone();
                        new_group = true;
                    }
                    if let Some(c) = &carried[r] {
                        parts.push(c.clone());
                    }
                } else if let Some(c) = cell {
                    parts.push(c);
                }
            }
            parts.join(" / ")
        })
        .collect()
}

/// Makes labels unique by suffixing repeats: `Qty`, `Qty #2`.
pub fn dedupe(labels: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let l = if l.is_empty() {
                format!("column {}", i + 1)
            } else {
                l
            };
            let n = seen.entry(norm_label(&l)).or_insert(0);
            *n += 1;
            if *n == 1 {
                l
            } else {
                format!("{l} #{n}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<Option<String>> {
        cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    None
                } else {
                    Some(c.to_string())
                }
            })
            .collect()
    }

    #[test]
    fn merged_group_headers_carry_across() {
        let rows = vec![
            row(&["", "", "Flagship", "", "", "", "Internet", ""]),
            row(&["", "", "Actual", "", "YTD", "", "Actual", ""]),
            row(&[
                "Brand",
                "Item",
                "Sales Qty Un",
                "Sales Inc VAT £ ",
                "Sales Qty Un",
                "Sales Inc VAT £ ",
                "Sales Qty Un",
                "Sales Inc VAT £ ",
            ]),
        ];
        let labels = join_header_rows(&rows, 8);
        assert_eq!(labels[0], "Brand");
        assert_eq!(labels[2], "Flagship / Actual / Sales Qty Un");
        assert_eq!(labels[3], "Flagship / Actual / Sales Inc VAT £");
        assert_eq!(labels[5], "Flagship / YTD / Sales Inc VAT £");
        assert_eq!(labels[7], "Internet / Actual / Sales Inc VAT £");
    }

    #[test]
    fn a_new_upper_group_resets_lower_carries() {
        let rows = vec![
            row(&["A", "", "B", ""]),
            row(&["x", "", "", ""]),
            row(&["q", "s", "q", "s"]),
        ];
        assert_eq!(
            join_header_rows(&rows, 4),
            ["A / x / q", "A / x / s", "B / q", "B / s"]
        );
    }

    #[test]
    fn labels_match_loosely_and_suggest_the_nearest() {
        let m = LabelMatcher::parse("Sales Inc VAT £").unwrap();
        assert!(m.matches_at(0, &norm_label("  SALES inc  VAT £ ")));
        assert!(LabelMatcher::parse("re:^qty")
            .unwrap()
            .matches_at(0, "qty sold"));
        assert_eq!(
            LabelMatcher::parse("col:C")
                .unwrap()
                .find(&["a".into(), "b".into(), "c".into()]),
            Some(2)
        );
        assert_eq!(nearest("EAN Code", ["EANCode", "Brand"]), Some("EANCode"));
        assert_eq!(nearest("Quantity", ["Brand", "Store"]), None);
        assert_eq!(
            dedupe(vec!["Qty".into(), "qty".into(), "".into()]),
            ["Qty", "qty #2", "column 3"]
        );
    }
}

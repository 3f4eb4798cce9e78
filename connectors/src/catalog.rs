//! A tenant's catalog files: products, vendor product mappings, price lists and FX rates, as
//! CSV or XLSX with a header row (columns in any order, extra columns refused). Every row is
//! checked before anything is imported, and every problem is reported with its row, column,
//! value and what was expected; `postgres::catalog` writes the rows when there is none.

use regex::Regex;
use std::collections::HashMap;
use std::path::Path;
use taskifai_engine::labels::norm_label;
use taskifai_engine::values::{format_scaled, parse_decimal, parse_ean, DecimalSep};

/// One kind of catalog file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Products,
    VendorProducts,
    Prices,
    FxRates,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Products,
        Kind::VendorProducts,
        Kind::Prices,
        Kind::FxRates,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s.replace('-', "_"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Products => "products",
            Self::VendorProducts => "vendor_products",
            Self::Prices => "prices",
            Self::FxRates => "fx_rates",
        }
    }

    /// The file's columns, in export order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Products => &["ean", "functional_name", "name", "category", "launch_date"],
            Self::VendorProducts => &["vendor", "match", "key", "ean"],
            Self::Prices => &["price_list", "ean", "price", "currency"],
            Self::FxRates => &["currency", "year", "month", "rate"],
        }
    }

    /// The columns that identify a row; an import may not repeat them.
    pub fn key(self) -> &'static [&'static str] {
        match self {
            Self::Products => &["ean"],
            Self::VendorProducts => &["vendor", "match", "key"],
            Self::Prices => &["price_list", "ean"],
            Self::FxRates => &["currency", "year", "month"],
        }
    }

    fn optional(self, column: &str) -> bool {
        matches!(
            (self, column),
            (Self::Products, "name" | "category" | "launch_date")
        )
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem with one cell (or a whole row, for a repeated key).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The row in the file, counting the header as row 1.
    pub row: usize,
    pub column: String,
    pub value: Option<String>,
    pub expected: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let found = self
            .value
            .as_deref()
            .map_or("an empty cell".to_owned(), |v| format!("{v:?}"));
        write!(
            f,
            "row {}, column {}: expected {}, found {found}",
            self.row, self.column, self.expected
        )
    }
}

/// Why nothing was imported.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{file}: nothing imported: {}{}", list(.errors), more(.errors))]
    Rows { file: String, errors: Vec<RowError> },
    #[error("{file}: nothing imported: {message}")]
    Header { file: String, message: String },
    #[error(transparent)]
    Read(#[from] taskifai_engine::raw::ReadError),
    #[error("tenant database")]
    Db(#[from] sqlx::Error),
}

fn list(errors: &[RowError]) -> String {
    let shown: Vec<String> = errors.iter().take(10).map(ToString::to_string).collect();
    shown.join("; ")
}

fn more(errors: &[RowError]) -> String {
    match errors.len() {
        n if n > 10 => format!(" (and {} more)", n - 10),
        _ => String::new(),
    }
}

/// A checked file: its rows as text in [`Kind::columns`] order, values normalized (EANs as
/// GTIN-13, amounts with their scale, currencies upper-case).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub kind: Kind,
    pub file: String,
    pub rows: Vec<Vec<Option<String>>>,
    /// Each row's number in the file.
    pub lines: Vec<usize>,
    /// What is wrong in the file itself; the import adds what the catalog refuses, so one
    /// answer lists every problem.
    pub errors: Vec<RowError>,
}

impl Parsed {
    /// The value of `column` in row `i`.
    pub fn get(&self, i: usize, column: &str) -> Option<&str> {
        let c = self.kind.columns().iter().position(|x| *x == column)?;
        self.rows[i][c].as_deref()
    }

    /// Row `i`'s key, its columns joined by a separator no cell holds.
    pub fn key(&self, i: usize) -> String {
        let parts: Vec<&str> = self
            .kind
            .key()
            .iter()
            .map(|c| self.get(i, c).unwrap_or(""))
            .collect();
        parts.join("\u{1f}")
    }

    /// A problem with row `i`'s `column`.
    pub fn error(&self, i: usize, column: &str, expected: impl Into<String>) -> RowError {
        RowError {
            row: self.lines[i],
            column: column.to_owned(),
            value: self.get(i, column).map(str::to_owned),
            expected: expected.into(),
        }
    }
}

/// Reads a catalog file (CSV or XLSX; the first sheet) and checks every row.
pub fn read(kind: Kind, path: &Path, name: &str) -> Result<Parsed, CatalogError> {
    let mut wb = crate::readers::open(path, name)?;
    let mut rows = wb.head(0, usize::MAX)?;
    if rows.is_empty() {
        return Err(CatalogError::Header {
            file: name.to_owned(),
            message: format!(
                "the file is empty; expected a header row with {}",
                kind.columns().join(", ")
            ),
        });
    }
    let header: Vec<String> = rows
        .remove(0)
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    check(kind, name, &header, &rows)
}

/// Checks rows of cells under `header` (row 1 of the file).
pub fn check(
    kind: Kind,
    file: &str,
    header: &[String],
    rows: &[Vec<Option<String>>],
) -> Result<Parsed, CatalogError> {
    let labels: Vec<String> = header
        .iter()
        .map(|h| norm_label(h).replace(' ', "_"))
        .collect();
    let columns = kind.columns();
    let header_error = |message: String| CatalogError::Header {
        file: file.to_owned(),
        message,
    };
    if let Some(extra) = labels
        .iter()
        .find(|l| !l.is_empty() && !columns.contains(&l.as_str()))
    {
        return Err(header_error(format!(
            "column {extra:?} is not a {kind} column; expected {}",
            columns.join(", ")
        )));
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| !kind.optional(c) && !labels.iter().any(|l| l == *c))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(header_error(format!(
            "the header has no {}; expected {}",
            missing.join(", "),
            columns.join(", ")
        )));
    }
    let at: Vec<Option<usize>> = columns
        .iter()
        .map(|c| labels.iter().position(|l| l == c))
        .collect();
    let mut parsed = Parsed {
        kind,
        file: file.to_owned(),
        rows: Vec::new(),
        lines: Vec::new(),
        errors: Vec::new(),
    };
    let mut errors = Vec::new();
    for (i, cells) in rows.iter().enumerate() {
        let line = i + 2;
        let raw: Vec<Option<String>> = at
            .iter()
            .map(|c| {
                c.and_then(|c| cells.get(c).cloned().flatten())
                    .map(|v| v.trim().to_owned())
                    .filter(|v| !v.is_empty())
            })
            .collect();
        if raw.iter().all(Option::is_none) {
            continue; // a blank line
        }
        let mut row = Vec::with_capacity(columns.len());
        for (c, value) in columns.iter().zip(raw) {
            match cell(kind, c, value.as_deref()) {
                Ok(v) => row.push(v),
                Err(expected) => {
                    errors.push(RowError {
                        row: line,
                        column: (*c).to_owned(),
                        value,
                        expected,
                    });
                    row.push(None);
                }
            }
        }
        parsed.rows.push(row);
        parsed.lines.push(line);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for i in 0..parsed.rows.len() {
        if let Some(first) = seen.insert(parsed.key(i), parsed.lines[i]) {
            errors.push(parsed.error(
                i,
                kind.key()[kind.key().len() - 1],
                format!(
                    "no other row with this {}; row {first} has the same",
                    kind.key().join(" and ")
                ),
            ));
        }
    }
    if kind == Kind::Products {
        let mut names: HashMap<String, usize> = HashMap::new();
        for i in 0..parsed.rows.len() {
            let Some(n) = parsed.get(i, "functional_name").map(str::to_uppercase) else {
                continue;
            };
            if let Some(first) = names.insert(n, parsed.lines[i]) {
                errors.push(parsed.error(
                    i,
                    "functional_name",
                    format!("a functional name of one product only; row {first} has the same"),
                ));
            }
        }
    }
    errors.extend(check_patterns(&parsed));
    errors.sort_by_key(|e| e.row);
    parsed.errors = errors;
    Ok(parsed)
}

impl Parsed {
    /// The file's own errors as a refusal, when it has any.
    pub fn refusal(&self) -> Option<CatalogError> {
        (!self.errors.is_empty()).then(|| CatalogError::Rows {
            file: self.file.clone(),
            errors: self.errors.clone(),
        })
    }
}

/// One cell, normalized; the error says what was expected.
fn cell(kind: Kind, column: &str, value: Option<&str>) -> Result<Option<String>, String> {
    let Some(v) = value else {
        return match kind.optional(column) {
            true => Ok(None),
            false => Err(format!("a {}", column.replace('_', " "))),
        };
    };
    let ok = |s: String| Ok(Some(s));
    match column {
        "ean" => parse_ean(v)
            .map(|e| Some(e.into_owned()))
            .map_err(|e| format!("an EAN: {e}")),
        "launch_date" => match chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) => ok(d.to_string()),
            Err(_) => Err("a date as YYYY-MM-DD".into()),
        },
        "vendor" => match v
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            true => ok(v.to_owned()),
            false => {
                Err("a vendor id: lower-case letters, digits and _ (the spec's file name)".into())
            }
        },
        "match" => match v.to_lowercase().as_str() {
            m @ ("exact" | "normalized" | "pattern") => ok(m.to_owned()),
            _ => Err("exact, normalized or pattern".into()),
        },
        "price" => match parse_decimal(v, 4, DecimalSep::Auto) {
            Ok(p) if p >= 0 => ok(format_scaled(p, 4)),
            Ok(_) => Err("a price of 0 or more".into()),
            Err(e) => Err(format!("a price: {e}")),
        },
        "currency" => {
            let code = v.to_uppercase();
            match iso_currency::Currency::from_code(&code) {
                Some(_) => ok(code),
                None => Err("an ISO 4217 currency code such as EUR, GBP or PLN".into()),
            }
        }
        "year" => match v.trim_end_matches(".0").parse::<i32>() {
            Ok(y) if (1990..=2100).contains(&y) => ok(y.to_string()),
            _ => Err("a year between 1990 and 2100".into()),
        },
        "month" => match v.trim_end_matches(".0").parse::<u32>() {
            Ok(m) if (1..=12).contains(&m) => ok(m.to_string()),
            _ => Err("a month from 1 to 12".into()),
        },
        "rate" => match parse_decimal(v, 6, DecimalSep::Point) {
            Ok(r) if r > 0 => ok(format_scaled(r, 6)),
            Ok(_) => Err("a rate above 0 (EUR per unit of the currency)".into()),
            Err(e) => Err(format!("a rate: {e}")),
        },
        _ => ok(v.to_owned()),
    }
}

/// Checks that every `pattern` mapping is a regex the engine can use.
fn check_patterns(parsed: &Parsed) -> Vec<RowError> {
    if parsed.kind != Kind::VendorProducts {
        return vec![];
    }
    (0..parsed.rows.len())
        .filter(|&i| parsed.get(i, "match") == Some("pattern"))
        .filter_map(|i| {
            let key = parsed.get(i, "key")?;
            Regex::new(&format!("(?i){key}"))
                .err()
                .map(|e| parsed.error(i, "key", format!("a regular expression ({e})")))
        })
        .collect()
}

/// A product the catalog has, as a suggestion for a value it could not match.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Suggestion {
    pub ean: String,
    pub functional_name: String,
    pub name: Option<String>,
    /// 0 to 1; 1 is certain.
    pub score: f64,
    /// How it was found: `check digit`, `functional name`, `similar name`.
    pub why: String,
}

/// Up to three products the unmatched `value` may be: an EAN whose check digit is wrong, a
/// functional name inside the text (`BBGOT100(NO COLOUR`), or a similar name.
pub fn suggest(products: &[(String, String, Option<String>)], value: &str) -> Vec<Suggestion> {
    let loose = taskifai_engine::reference::loose_key;
    let v = loose(value);
    let digits = value.trim();
    let mut out: Vec<Suggestion> = Vec::new();
    for (ean, functional, name) in products {
        let (score, why) = if digits.len() >= 12
            && digits.bytes().all(|b| b.is_ascii_digit())
            && ean.len() == 13
            && digits[digits.len() - 12..] != ean[1..]
            && (digits.len() == 13 && digits[..12] == ean[..12]
                || digits.len() == 12 && format!("0{}", &digits[..11]) == ean[..12])
        {
            (0.95, "check digit")
        } else if v.split(' ').any(|w| w.eq_ignore_ascii_case(functional))
            || loose(functional).len() >= 4 && v.contains(&loose(functional))
        {
            (0.9, "functional name")
        } else {
            let by_name = name
                .as_deref()
                .map_or(0.0, |n| strsim::jaro_winkler(&v, &loose(n)));
            (
                by_name.max(strsim::jaro_winkler(&v, &loose(functional))),
                "similar name",
            )
        };
        if score >= 0.75 {
            out.push(Suggestion {
                ean: ean.clone(),
                functional_name: functional.clone(),
                name: name.clone(),
                score: (score * 100.0).round() / 100.0,
                why: why.to_owned(),
            });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.ean.cmp(&b.ean)));
    out.truncate(3);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|c| (!c.is_empty()).then(|| c.to_string()))
                    .collect()
            })
            .collect()
    }

    fn header(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_bad_cell_is_located() {
        let rows = cells(&[
            &["7350154320008", "BBGOT100", "Ghost of Tom"],
            &["7350154320009", "BBX", ""],
            &["7350154320008", "BBGOT100B", ""],
            &["", "", ""],
            &["7350154320015", "bbgot100", ""],
        ]);
        let errors = check(
            Kind::Products,
            "p.csv",
            &header(&["EAN", "Functional Name", "name"]),
            &rows,
        )
        .unwrap()
        .errors;
        let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.column.as_str())).collect();
        assert_eq!(
            got,
            vec![(3, "ean"), (4, "ean"), (6, "functional_name")],
            "{errors:?}"
        );
        assert!(errors[0].expected.contains("check digit"), "{}", errors[0]);
        assert!(
            errors[1].expected.contains("row 2 has the same"),
            "{}",
            errors[1]
        );
    }

    #[test]
    fn rates_prices_and_currencies_are_checked() {
        let rows = cells(&[
            &["GBP", "2025", "13", "1.17"],
            &["XYZ", "2025", "1", "1.1"],
            &["PLN", "2025", "1", "abc"],
        ]);
        let errors = check(
            Kind::FxRates,
            "fx.csv",
            &header(&["currency", "year", "month", "rate"]),
            &rows,
        )
        .unwrap()
        .errors;
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].starts_with("row 2, column month: expected a month from 1 to 12, found \"13\""),
            "{got:?}"
        );
        assert!(got[1].contains("ISO 4217"), "{got:?}");
        assert!(got[2].starts_with("row 4, column rate"), "{got:?}");

        let ok = check(
            Kind::Prices,
            "p.csv",
            &header(&["price_list", "ean", "price", "currency"]),
            &cells(&[&["galilu_pln", "7350154320008", "899,00", "pln"]]),
        )
        .unwrap();
        assert_eq!(
            ok.rows[0],
            vec![
                Some("galilu_pln".into()),
                Some("7350154320008".into()),
                Some("899.0000".into()),
                Some("PLN".into())
            ]
        );
    }

    #[test]
    fn a_header_that_does_not_fit_is_refused() {
        let err = check(
            Kind::Prices,
            "p.csv",
            &header(&["price_list", "ean", "amount"]),
            &[],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("column \"amount\" is not a prices column"),
            "{err}"
        );
        let err = check(Kind::Prices, "p.csv", &header(&["price_list", "ean"]), &[]).unwrap_err();
        assert!(
            err.to_string()
                .contains("the header has no price, currency"),
            "{err}"
        );
    }

    #[test]
    fn suggestions_find_typos_codes_and_names() {
        let products = vec![
            (
                "7350154320008".to_string(),
                "BBGOT100".to_string(),
                Some("Ghost of Tom Eau de Parfum 100 ml".to_string()),
            ),
            (
                "7350154320060".to_string(),
                "BBWM3".to_string(),
                Some("Wild Moss Candle 300 g".to_string()),
            ),
        ];
        let s = suggest(&products, "7350154320001");
        assert_eq!(
            (s[0].ean.as_str(), s[0].why.as_str()),
            ("7350154320008", "check digit")
        );
        let s = suggest(&products, "BBGOT100(NO COLOUR");
        assert_eq!(
            (s[0].ean.as_str(), s[0].why.as_str()),
            ("7350154320008", "functional name")
        );
        let s = suggest(&products, "Ghost of Tom EDP 100 ml");
        assert_eq!(s[0].ean, "7350154320008", "{s:?}");
        assert!(suggest(&products, "Something else entirely").is_empty());
    }
}

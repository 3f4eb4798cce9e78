//! The ECB's euro reference rates as published (`eurofxref-hist.csv` or `eurofxref.csv`
//! from <https://www.ecb.europa.eu/stats/eurofxref/>: a `Date` column, then one column per
//! currency in units per euro, `N/A` where there is none) turned into the monthly rates a
//! tenant's catalog holds: the month's average, as EUR per unit of the currency.

use std::collections::BTreeMap;

/// One month's rate: EUR per unit, six decimals as the catalog stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyRate {
    pub currency: String,
    pub year: i32,
    pub month: u32,
    pub rate: String,
    /// Days the month's average is over.
    pub days: usize,
}

/// Monthly averages of an ECB reference-rate file, for `currencies` (all when empty) from
/// `from` (year, month) on. Errors name the line and what was wrong.
pub fn monthly(
    text: &str,
    currencies: &[&str],
    from: (i32, u32),
) -> Result<Vec<MonthlyRate>, String> {
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or("the file is empty; expected the ECB's Date,USD,JPY,... header")?;
    let columns: Vec<&str> = header.split(',').map(str::trim).collect();
    if columns.first() != Some(&"Date") {
        return Err(format!(
            "line 1: expected the ECB's header starting with Date (eurofxref-hist.csv), found {:?}",
            header.chars().take(40).collect::<String>()
        ));
    }
    let wanted: Vec<(usize, &str)> = columns
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, c)| !c.is_empty() && (currencies.is_empty() || currencies.contains(c)))
        .map(|(i, c)| (i, *c))
        .collect();
    let mut sums: BTreeMap<(&str, i32, u32), (f64, usize)> = BTreeMap::new();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let date = chrono::NaiveDate::parse_from_str(cells[0], "%Y-%m-%d").map_err(|_| {
            format!(
                "line {}: expected a date as YYYY-MM-DD, found {:?}",
                n + 1,
                cells[0]
            )
        })?;
        let (y, m) = (
            chrono::Datelike::year(&date),
            chrono::Datelike::month(&date),
        );
        if (y, m) < from {
            continue;
        }
        for &(i, currency) in &wanted {
            let cell = cells.get(i).copied().unwrap_or("");
            if cell.is_empty() || cell == "N/A" {
                continue;
            }
            let per_euro: f64 = cell
                .parse()
                .ok()
                .filter(|v: &f64| *v > 0.0)
                .ok_or_else(|| {
                    format!(
                        "line {}, {currency}: expected a rate above 0, found {cell:?}",
                        n + 1
                    )
                })?;
            let e = sums.entry((currency, y, m)).or_insert((0.0, 0));
            e.0 += per_euro;
            e.1 += 1;
        }
    }
    Ok(sums
        .into_iter()
        .map(|((currency, year, month), (sum, days))| MonthlyRate {
            currency: currency.to_owned(),
            year,
            month,
            rate: format!("{:.6}", days as f64 / sum),
            days,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_rates_become_monthly_euros_per_unit() {
        let text = "Date,USD,GBP,CYP,\n2025-02-03,1.02,0.83,N/A,\n2025-01-31,1.04,0.84,N/A,\n2025-01-30,1.04,0.82,N/A,\n2024-12-31,1.03,0.82,N/A,\n";
        let got = monthly(text, &["GBP", "CYP"], (2025, 1)).unwrap();
        assert_eq!(
            got,
            vec![
                MonthlyRate {
                    currency: "GBP".into(),
                    year: 2025,
                    month: 1,
                    rate: "1.204819".into(),
                    days: 2
                },
                MonthlyRate {
                    currency: "GBP".into(),
                    year: 2025,
                    month: 2,
                    rate: "1.204819".into(),
                    days: 1
                },
            ]
        );
        let err = monthly("Date,USD,\n2025-13-01,1.1,\n", &[], (2025, 1)).unwrap_err();
        assert!(err.starts_with("line 2: expected a date"), "{err}");
        assert!(monthly("Currency,Rate\n", &[], (2025, 1))
            .unwrap_err()
            .contains("Date"));
    }
}

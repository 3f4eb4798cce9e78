//! A tenant's reference data: products (EAN, functional name), vendor product mappings, price
//! lists and FX rates. Readers load the tables; this module indexes them and answers lookups.
//!
//! Tables and their columns (header labels, any order):
//! - `products`: `ean, functional_name, name`
//! - `vendor_products`: `vendor, match, key, ean` where `match` is `exact`, `normalized` or `pattern`
//! - `prices`: `price_list, ean, price, currency`
//! - `fx_rates`: `currency, year, month, rate` (EUR per unit of currency)
//! - `unmatched`: `rule, action`: the tenant's default for rows the tables above cannot
//!   complete (`unknown_product`, `missing_price`, `missing_fx_rate`; `reject` or `keep`)

use crate::labels::norm_label;
use crate::schema::{LOCAL_SCALE, RATE_SCALE};
use crate::spec::{OnMiss, Unmatched};
use crate::values::{parse_decimal, parse_ean, DecimalSep};
use regex::Regex;
use std::collections::HashMap;

/// The names of the reference tables, in load order.
pub const TABLES: [&str; 5] = [
    "products",
    "vendor_products",
    "prices",
    "fx_rates",
    "unmatched",
];

/// One product of the brand.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub ean: String,
    pub functional_name: String,
    pub name: Option<String>,
}

/// Indexed reference data.
#[derive(Debug, Default, Clone)]
pub struct Reference {
    products: Vec<Product>,
    by_ean: HashMap<String, usize>,
    by_functional: HashMap<String, usize>,
    exact: HashMap<(String, String), String>,
    normalized: HashMap<(String, String), String>,
    patterns: Vec<(String, Regex, String)>,
    prices: HashMap<(String, String), (i128, String)>,
    /// Rates by currency, then (year, month): a lookup by `&str` needs no allocation.
    fx: HashMap<String, HashMap<(i32, u32), i128>>,
    /// The tenant's default for rows these tables cannot complete; a spec's own choice wins.
    pub unmatched: Unmatched,
    /// [`Reference::version`], computed once.
    version: std::sync::OnceLock<String>,
}

/// Lower-cases, drops punctuation and collapses spaces: `BIBBI. Swimming  Pool` -> `bibbi swimming pool`.
pub fn loose_key(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    norm_label(&t)
}

impl Reference {
    /// Adds rows of one table; `header` names the columns. Errors name the row (1-based, after
    /// the header) and what was wrong.
    pub fn add_table(
        &mut self,
        table: &str,
        header: &[String],
        rows: &[Vec<Option<String>>],
    ) -> Result<(), String> {
        self.version = std::sync::OnceLock::new();
        let idx = |name: &str| {
            header
                .iter()
                .position(|h| norm_label(h) == name)
                .ok_or(format!("table {table} has no column {name:?}"))
        };
        let get = |row: &Vec<Option<String>>, i: usize| {
            row.get(i)
                .cloned()
                .flatten()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        for (n, row) in rows.iter().enumerate() {
            let at = |m: String| format!("{table} row {}: {m}", n + 2);
            let req = |name: &str| -> Result<String, String> {
                get(row, idx(name)?).ok_or_else(|| at(format!("{name} is empty")))
            };
            let ean = |s: String| {
                parse_ean(&s)
                    .map(std::borrow::Cow::into_owned)
                    .map_err(|e| at(format!("ean {s:?}: expected {e}")))
            };
            match table {
                "products" => {
                    let p = Product {
                        ean: ean(req("ean")?)?,
                        functional_name: req("functional_name")?,
                        name: idx("name").ok().and_then(|i| get(row, i)),
                    };
                    self.by_ean.insert(p.ean.clone(), self.products.len());
                    self.by_functional
                        .insert(p.functional_name.to_uppercase(), self.products.len());
                    self.products.push(p);
                }
                "vendor_products" => {
                    let (vendor, key, target) = (req("vendor")?, req("key")?, ean(req("ean")?)?);
                    match req("match")?.as_str() {
                        "exact" => self
                            .exact
                            .insert((vendor, key), target)
                            .map(|_| ())
                            .unwrap_or(()),
                        "normalized" => self
                            .normalized
                            .insert((vendor, loose_key(&key)), target)
                            .map(|_| ())
                            .unwrap_or(()),
                        "pattern" => self.patterns.push((
                            vendor,
                            Regex::new(&format!("(?i){key}")).map_err(|e| at(e.to_string()))?,
                            target,
                        )),
                        other => {
                            return Err(at(format!(
                                "match {other:?}: expected exact, normalized or pattern"
                            )))
                        }
                    }
                }
                "prices" => {
                    let price = parse_decimal(&req("price")?, LOCAL_SCALE as u32, DecimalSep::Auto)
                        .map_err(|e| at(format!("price: expected {e}")))?;
                    self.prices.insert(
                        (req("price_list")?, ean(req("ean")?)?),
                        (price, req("currency")?.to_uppercase()),
                    );
                }
                "fx_rates" => {
                    let year: i32 = req("year")?
                        .parse()
                        .map_err(|_| at("year: expected a year".into()))?;
                    let month: u32 = req("month")?
                        .parse()
                        .ok()
                        .filter(|m| (1..=12).contains(m))
                        .ok_or_else(|| at("month: expected 1-12".into()))?;
                    let rate = parse_decimal(&req("rate")?, RATE_SCALE as u32, DecimalSep::Point)
                        .map_err(|e| at(format!("rate: expected {e}")))?;
                    self.fx
                        .entry(req("currency")?.to_uppercase())
                        .or_default()
                        .insert((year, month), rate);
                }
                "unmatched" => {
                    let rule = req("rule")?;
                    let action = match req("action")?.to_lowercase().as_str() {
                        "reject" => OnMiss::Reject,
                        "keep" => OnMiss::Keep,
                        other => {
                            return Err(at(format!("action {other:?}: expected reject or keep")))
                        }
                    };
                    if !self.unmatched.set(&rule, action) {
                        return Err(at(format!(
                            "rule {rule:?}: expected one of {:?}",
                            Unmatched::RULES
                        )));
                    }
                }
                other => {
                    return Err(format!(
                        "unknown reference table {other:?}; expected one of {TABLES:?}"
                    ))
                }
            }
        }
        Ok(())
    }

    /// A digest of every table's content, whatever order rows were read in: a load records
    /// it, so a file loaded again after its reference data changed is processed again rather
    /// than skipped as a duplicate.
    pub fn version(&self) -> &str {
        self.version.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            let mut line = |parts: &[&str]| {
                for p in parts {
                    h.update(p.as_bytes());
                    h.update([0x1f]);
                }
                h.update([0x1e]);
            };
            let mut products: Vec<&Product> = self.products.iter().collect();
            products.sort_by(|a, b| a.ean.cmp(&b.ean));
            for p in products {
                line(&[
                    "p",
                    &p.ean,
                    &p.functional_name,
                    p.name.as_deref().unwrap_or(""),
                ]);
            }
            for (kind, map) in [("exact", &self.exact), ("normalized", &self.normalized)] {
                let mut rows: Vec<_> = map.iter().collect();
                rows.sort();
                for ((vendor, key), ean) in rows {
                    line(&[kind, vendor, key, ean]);
                }
            }
            // Patterns are tried in order, so their order is part of the data.
            for (vendor, re, ean) in &self.patterns {
                line(&["pattern", vendor, re.as_str(), ean]);
            }
            let mut prices: Vec<_> = self.prices.iter().collect();
            prices.sort();
            for ((list, ean), (price, currency)) in prices {
                line(&["price", list, ean, &price.to_string(), currency]);
            }
            let mut fx: Vec<_> = self
                .fx
                .iter()
                .flat_map(|(c, m)| m.iter().map(move |(k, r)| (c, *k, *r)))
                .collect();
            fx.sort();
            for (currency, (y, m), rate) in fx {
                line(&[
                    "fx",
                    currency,
                    &y.to_string(),
                    &m.to_string(),
                    &rate.to_string(),
                ]);
            }
            for rule in Unmatched::RULES {
                let action = match self.unmatched.get(rule) {
                    Some(OnMiss::Keep) => "keep",
                    Some(OnMiss::Reject) => "reject",
                    None => "",
                };
                line(&["unmatched", rule, action]);
            }
            let digest = h.finalize();
            digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
        })
    }

    pub fn product_by_ean(&self, ean: &str) -> Option<&Product> {
        self.by_ean.get(ean).map(|&i| &self.products[i])
    }

    pub fn product_by_functional(&self, name: &str) -> Option<&Product> {
        self.by_functional
            .get(&name.trim().to_uppercase())
            .map(|&i| &self.products[i])
    }

    /// A vendor's product name or code to an EAN: exact, then normalized, then patterns.
    pub fn vendor_product(&self, vendor: &str, key: &str) -> Option<&str> {
        let k = key.trim();
        self.exact
            .get(&(vendor.to_owned(), k.to_owned()))
            .or_else(|| self.normalized.get(&(vendor.to_owned(), loose_key(k))))
            .or_else(|| {
                self.patterns
                    .iter()
                    .find(|(v, re, _)| v == vendor && re.is_match(k))
                    .map(|(_, _, e)| e)
            })
            .map(String::as_str)
    }

    /// Price (scaled by 10^LOCAL_SCALE) and currency of a product in a price list.
    pub fn price(&self, list: &str, ean: &str) -> Option<&(i128, String)> {
        self.prices.get(&(list.to_owned(), ean.to_owned()))
    }

    /// EUR per unit of `currency` in a month (scaled by 10^RATE_SCALE); EUR is always 1.
    pub fn fx_rate(&self, currency: &str, year: i32, month: u32) -> Option<i128> {
        if currency == "EUR" {
            return Some(10i128.pow(RATE_SCALE as u32));
        }
        self.fx.get(currency)?.get(&(year, month)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<Option<String>> {
        v.iter().map(|x| Some(x.to_string())).collect()
    }

    #[test]
    fn lookups_try_exact_then_normalized_then_pattern() {
        let mut r = Reference::default();
        let h: Vec<String> = ["vendor", "match", "key", "ean"].map(String::from).to_vec();
        r.add_table(
            "vendor_products",
            &h,
            &[
                s(&[
                    "galilu",
                    "normalized",
                    "BIBBI świeca zapachowa  Wild Moss",
                    "7350154320008",
                ]),
                s(&["selfridges", "pattern", r"^86033481\b", "7350154320008"]),
            ],
        )
        .unwrap();
        assert_eq!(
            r.vendor_product("galilu", "  bibbi ŚWIECA zapachowa wild moss "),
            Some("7350154320008")
        );
        assert_eq!(
            r.vendor_product("selfridges", "86033481 - rainbow rose edp"),
            Some("7350154320008")
        );
        assert_eq!(r.vendor_product("galilu", "something else"), None);
    }

    #[test]
    fn bad_reference_rows_are_named() {
        let mut r = Reference::default();
        let h: Vec<String> = ["currency", "year", "month", "rate"]
            .map(String::from)
            .to_vec();
        let err = r
            .add_table("fx_rates", &h, &[s(&["GBP", "2025", "13", "1.17"])])
            .unwrap_err();
        assert_eq!(err, "fx_rates row 2: month: expected 1-12");
    }
}

//! The sales model behind the demo history: how many units each store of each reseller sells of
//! each product in a month or a week. Every figure is a pure function of its key and the month,
//! so a living document's earlier months, a file's "same period last year" column and the
//! month's own file always agree.

use chrono::{Datelike, Duration, NaiveDate};

/// The months a history covers and the events in it, placed relative to its end so that every
/// window has them.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// First day of the last month.
    pub until: NaiveDate,
    pub months: u32,
}

impl Window {
    pub fn new(until: NaiveDate, months: u32) -> Self {
        Window {
            until: month_start(until),
            months: months.max(1),
        }
    }

    /// First days of the window's months, oldest first.
    pub fn months(&self) -> Vec<NaiveDate> {
        (0..self.months as i32)
            .rev()
            .map(|back| add_months(self.until, -back))
            .collect()
    }

    /// Super Cedar 50 ml goes on sale six months before the end.
    pub fn launch(&self) -> NaiveDate {
        add_months(self.until, -5)
    }

    /// Prices rise a year before the end.
    pub fn price_change(&self) -> NaiveDate {
        add_months(self.until, -11)
    }

    /// CDLC sends nothing for these two months.
    pub fn cdlc_gap(&self) -> [NaiveDate; 2] {
        [add_months(self.until, -8), add_months(self.until, -7)]
    }
}

pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

pub fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    let m = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(m.div_euclid(12), m.rem_euclid(12) as u32 + 1, 1).expect("valid month")
}

pub fn month_end(d: NaiveDate) -> NaiveDate {
    add_months(d, 1) - Duration::days(1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Edp100,
    Edp50,
    Candle,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Product {
    pub ean: &'static str,
    pub code: &'static str,
    /// English name without the size.
    pub name: &'static str,
    pub kind: Kind,
    /// Relative demand.
    pub pull: f64,
    pub launched: bool,
}

const fn p(
    ean: &'static str,
    code: &'static str,
    name: &'static str,
    kind: Kind,
    pull: f64,
) -> Product {
    Product {
        ean,
        code,
        name,
        kind,
        pull,
        launched: false,
    }
}

pub const GOT100: Product = p(
    "7350154320008",
    "BBGOT100",
    "Ghost of Tom",
    Kind::Edp100,
    1.0,
);
pub const GOT50: Product = p(
    "7350154320015",
    "BBGOT50",
    "Ghost of Tom",
    Kind::Edp50,
    0.45,
);
pub const SC100: Product = p("7350154320022", "BBSC100", "Super Cedar", Kind::Edp100, 0.7);
pub const BOJ100: Product = p(
    "7350154320039",
    "BBBOJ100",
    "Boy of June",
    Kind::Edp100,
    0.6,
);
pub const SP100: Product = p(
    "7350154320046",
    "BBSP100",
    "Swimming Pool",
    Kind::Edp100,
    0.8,
);
pub const RR100: Product = p(
    "7350154320053",
    "BBRR100",
    "Rainbow Rose",
    Kind::Edp100,
    0.5,
);
pub const WM3: Product = p("7350154320060", "BBWM3", "Wild Moss", Kind::Candle, 0.9);
pub const SC50: Product = Product {
    launched: true,
    ..p("7350154320077", "BBSC50", "Super Cedar", Kind::Edp50, 0.9)
};

/// A retail price in a currency, before and after the price change.
pub fn price(window: &Window, product: Product, currency: &str, month: NaiveDate) -> f64 {
    let after = month >= window.price_change();
    let (before, later) = match (currency, product.kind) {
        ("EUR", Kind::Edp100) => (195.0, 210.0),
        ("EUR", Kind::Edp50) => (120.0, 130.0),
        ("EUR", Kind::Candle) => (65.0, 72.0),
        ("GBP", Kind::Edp100) => (165.0, 175.0),
        ("GBP", Kind::Edp50) => (99.0, 105.0),
        ("GBP", Kind::Candle) => (55.0, 60.0),
        // Skins SA's figures exclude VAT.
        ("ZAR", Kind::Edp100) => (3450.0, 3650.0),
        ("ZAR", Kind::Edp50) => (2100.0, 2250.0),
        ("ZAR", Kind::Candle) => (1247.83, 1304.35),
        _ => unreachable!("no {currency} prices"),
    };
    if after {
        later
    } else {
        before
    }
}

/// A number in [0, 1) from a key: FNV-1a then a SplitMix64 finish.
pub fn noise(key: &str) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// December sells twice an ordinary month; summer is quiet.
const SEASON: [f64; 12] = [
    0.8, 0.85, 0.95, 1.0, 1.05, 0.95, 0.8, 0.75, 1.0, 1.1, 1.45, 2.1,
];

fn demand(window: &Window, product: Product, weight: f64, month: NaiveDate) -> f64 {
    if product.launched && month < window.launch() {
        return 0.0;
    }
    // About 1.2 % growth a month, anchored to a fixed month so every window agrees.
    let age = (month.year() - 2023) * 12 + month.month0() as i32;
    let trend = 1.0 + 0.012 * age as f64;
    let buzz = if product.launched && month == window.launch() {
        1.6
    } else {
        1.0
    };
    weight * product.pull * SEASON[month.month0() as usize] * trend * buzz
}

/// Units one store sold of a product in a month (never negative).
pub fn units(window: &Window, key: &str, product: Product, weight: f64, month: NaiveDate) -> i64 {
    let d = demand(window, product, weight, month);
    let k = format!("{key}|{}|{month}", product.code);
    (d * (0.5 + noise(&k))).round() as i64
}

/// Units one store sold in the week ending `sunday`.
pub fn week_units(
    window: &Window,
    key: &str,
    product: Product,
    weight: f64,
    sunday: NaiveDate,
) -> i64 {
    // A week is booked on its Monday: a launch product sells from the first whole week after.
    if product.launched && sunday - Duration::days(6) < window.launch() {
        return 0;
    }
    let d = demand(window, product, weight, month_start(sunday)) / 4.35;
    let k = format!("{key}|{}|{sunday}", product.code);
    (d * (0.3 + 1.4 * noise(&k))).round() as i64
}

/// The Sundays in a month.
pub fn sundays(month: NaiveDate) -> Vec<NaiveDate> {
    let mut d = month;
    while d.weekday() != chrono::Weekday::Sun {
        d += Duration::days(1);
    }
    let mut out = vec![];
    while d <= month_end(month) {
        out.push(d);
        d += Duration::days(7);
    }
    out
}

/// Splits `units` into order lines of one or two units on days of the month.
pub fn orders(key: &str, units: i64, month: NaiveDate) -> Vec<(NaiveDate, i64)> {
    let days = month_end(month).day();
    let mut out = vec![];
    let mut left = units;
    let mut i = 0;
    while left > 0 {
        let k = format!("{key}|{month}|{i}");
        let q = if left > 1 && noise(&k) < 0.3 { 2 } else { 1 };
        let day = 1 + (noise(&format!("{k}|day")) * days as f64) as u32;
        out.push((month.with_day(day.min(days)).expect("day in month"), q));
        left -= q;
        i += 1;
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_window_ends_on_its_month_and_places_its_events_inside() {
        let w = Window::new(d("2025-12-17"), 24);
        let m = w.months();
        assert_eq!(
            (m[0], m[23], m.len()),
            (d("2024-01-01"), d("2025-12-01"), 24)
        );
        assert_eq!(w.launch(), d("2025-07-01"));
        assert_eq!(w.price_change(), d("2025-01-01"));
        assert_eq!(w.cdlc_gap(), [d("2025-04-01"), d("2025-05-01")]);
    }

    #[test]
    fn figures_depend_on_their_key_only() {
        let a = Window::new(d("2025-12-01"), 24);
        let b = Window::new(d("2025-12-01"), 18);
        let m = d("2025-03-01");
        assert_eq!(
            units(&a, "x", GOT100, 2.0, m),
            units(&b, "x", GOT100, 2.0, m)
        );
        assert_eq!(
            units(&a, "x", SC50, 2.0, d("2025-06-01")),
            0,
            "not launched yet"
        );
        let dec: i64 = (0..20)
            .map(|i| units(&a, &i.to_string(), GOT100, 3.0, d("2024-12-01")))
            .sum();
        let aug: i64 = (0..20)
            .map(|i| units(&a, &i.to_string(), GOT100, 3.0, d("2024-08-01")))
            .sum();
        assert!(dec > 2 * aug, "December {dec}, August {aug}");
    }

    #[test]
    fn orders_add_up_to_the_units_within_the_month() {
        let m = d("2025-02-01");
        let o = orders("k", 7, m);
        assert_eq!(o.iter().map(|(_, q)| q).sum::<i64>(), 7);
        assert!(o.iter().all(|(day, _)| month_start(*day) == m));
        assert_eq!(
            sundays(m),
            [
                d("2025-02-02"),
                d("2025-02-09"),
                d("2025-02-16"),
                d("2025-02-23")
            ]
        );
    }
}

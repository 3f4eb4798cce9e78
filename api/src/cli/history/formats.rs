//! One month of files in each reseller's own layout, the same layouts `gen-samples` writes.

use super::model::{
    add_months, noise, orders, price, sundays, units, week_units, Product, Window, BOJ100, GOT100,
    GOT50, RR100, SC100, SC50, SP100, WM3,
};
use crate::cli::samples::{Sheet, C};
use chrono::{Datelike, NaiveDate};
use taskifai_engine::chat::answer::grouped;
use C::{D, E, N, S, T};

type File = (&'static str, String, Vec<Sheet>);

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// Ukrainian month names in the genitive, as 1C writes them in column headers.
const UK_MONTHS: [&str; 12] = [
    "січня",
    "лютого",
    "березня",
    "квітня",
    "травня",
    "червня",
    "липня",
    "серпня",
    "вересня",
    "жовтня",
    "листопада",
    "грудня",
];

/// Every file the resellers send about `month`.
pub fn month(w: &Window, m: NaiveDate) -> Vec<File> {
    let mut files = vec![];
    for sunday in sundays(m) {
        files.push(liberty(w, sunday));
        files.push(selfridges(w, sunday));
    }
    files.push(boxnox(w, m));
    if !w.cdlc_gap().contains(&m) {
        files.push(cdlc(w, m));
    }
    files.push(galilu(w, m));
    files.push(aromateque(w, m));
    files.push(skins_sa(w, m));
    files.push(skins_nl(w, m));
    files.push(online(w, m));
    files
}

fn sheet(name: impl Into<String>, rows: Vec<Vec<C>>) -> Sheet {
    Sheet {
        name: name.into(),
        rows,
        merges: vec![],
    }
}

fn num_or_blank(v: f64) -> C {
    if v == 0.0 {
        E
    } else {
        N(v)
    }
}

/// `3 967,50`: a space between thousands and a decimal comma.
fn space_comma(v: f64) -> String {
    grouped(v, 2).replace(',', " ").replace('.', ",")
}

/// `€ 1.170`: whole euros with a dot between thousands.
fn euro_dots(v: f64) -> String {
    format!("€ {}", grouped(v.round(), 0).replace(',', "."))
}

const LIBERTY: [(Product, &str, &str, &str); 4] = [
    (WM3, "CANDLES", "000834429 | 98-NO COLOUR", "300G"),
    (GOT100, "FRAGRANCE", "000834430 | 98-NO COLOUR", "100ML"),
    (SC100, "FRAGRANCE", "000834431 | 98-NO COLOUR", "100ML"),
    (SC50, "FRAGRANCE", "000834432 | 98-NO COLOUR", "50ML"),
];

/// Liberty's weekly size report: two header rows of merged channel and measure names, a
/// description row, a size row with the figures and a total row per product, group totals and
/// a grand total; Actual and YTD per channel.
fn liberty(w: &Window, sunday: NaiveDate) -> File {
    let week = |p: Product, channel: &str, day: NaiveDate| {
        let weight = if channel == "flagship" { 9.0 } else { 4.0 };
        week_units(w, &format!("liberty|{channel}"), p, weight, day)
    };
    let ytd = |p: Product, channel: &str| {
        let mut d = NaiveDate::from_ymd_opt(sunday.year(), 1, 1).expect("1 January");
        while d.weekday() != chrono::Weekday::Sun {
            d += chrono::Duration::days(1);
        }
        let (mut q, mut amount) = (0.0, 0.0);
        while d <= sunday {
            let u = week(p, channel, d) as f64;
            q += u;
            amount += u * price(w, p, "GBP", d);
            d += chrono::Duration::days(7);
        }
        (q, amount)
    };
    let mut labels: Vec<C> = [
        "Retail Group",
        "Brand",
        "Colour Phase",
        "Product Group",
        "Item ID | Colour",
        "Item",
        "Supplier Reference",
        "Size",
        "Style",
        "Cost Price ",
        "Original Price",
        "Retail Price ",
    ]
    .map(S)
    .to_vec();
    for _ in 0..6 {
        labels.extend([S("Sales Qty Un"), S("Sales Inc VAT £ ")]);
    }
    labels.extend([S("Stock Qty"), S("Stock Value £")]);
    let mut rows = vec![vec![], vec![], labels];
    let mut group_sums: Vec<(&str, [f64; 4])> = vec![];
    let mut grand = [0.0; 12];
    for (p, group, id, size) in LIBERTY {
        let (fy, iy) = (ytd(p, "flagship"), ytd(p, "internet"));
        if fy.0 + iy.0 == 0.0 {
            continue;
        }
        let unit = price(w, p, "GBP", sunday);
        let fq = week(p, "flagship", sunday) as f64;
        let iq = week(p, "internet", sunday) as f64;
        let stock = (noise(&format!("liberty stock|{}|{sunday}", p.code)) * 20.0).round() + 2.0;
        let figs = [
            fq,
            fq * unit,
            fy.0,
            fy.1,
            iq,
            iq * unit,
            iy.0,
            iy.1,
            fq + iq,
            (fq + iq) * unit,
            fy.0 + iy.0,
            fy.1 + iy.1,
            stock,
            stock * unit,
        ];
        for (g, f) in grand.iter_mut().zip(figs) {
            *g += f;
        }
        match group_sums.last_mut() {
            Some((g, sums)) if *g == group => {
                for (s, f) in sums.iter_mut().zip([fq, fq * unit, iq, iq * unit]) {
                    *s += f;
                }
            }
            _ => group_sums.push((group, [fq, fq * unit, iq, iq * unit])),
        }
        // Actual figures of a quiet week are blank, as Liberty writes them.
        let cells = |f: &[f64]| {
            f.iter()
                .enumerate()
                .map(|(i, v)| {
                    if *v == 0.0 && matches!(i, 0 | 1 | 4 | 5 | 8 | 9) {
                        E
                    } else {
                        N(*v)
                    }
                })
                .collect::<Vec<_>>()
        };
        let item = format!(
            "{} {}",
            p.name,
            if size == "300G" { "Candle" } else { "EDP" }
        );
        let item = if size == "300G" {
            item
        } else {
            format!("{item} {}", size.to_lowercase())
        };
        rows.push(vec![
            S("BIBBI"),
            S("BIBBI"),
            E,
            S(group),
            S(id),
            T(item.clone()),
            T(format!("{}(NO COLOUR", p.code)),
        ]);
        let mut size_row = vec![
            E,
            E,
            E,
            E,
            E,
            E,
            E,
            S(size),
            S("EDP"),
            N((unit * 0.3).round()),
            N(unit),
            N(unit),
        ];
        size_row.extend(cells(&figs));
        rows.push(size_row);
        let mut total = vec![E, E, E, E, E, T(format!("{item} Total")), E, E, E, E, E, E];
        total.extend(cells(&figs));
        rows.push(total);
        let last_of_group = LIBERTY
            .iter()
            .skip_while(|(q, ..)| *q != p)
            .nth(1)
            .is_none_or(|(_, g, ..)| *g != group);
        if last_of_group {
            let (_, s) = group_sums.last().expect("this group");
            let mut r = vec![T(format!("{group} Total"))];
            r.extend(vec![E; 11]);
            r.extend(s.iter().map(|v| N(*v)));
            rows.push(r);
        }
    }
    let mut g = vec![S("Grand Total")];
    g.extend(vec![E; 11]);
    g.extend(grand.iter().map(|v| N(*v)));
    rows.push(g);
    let merges = vec![
        (1, 12, 15, "Flagship"),
        (1, 16, 19, "Internet"),
        (1, 20, 23, "All Sales Channels"),
        (1, 24, 25, "All Warehouse"),
        (2, 12, 13, "Actual"),
        (2, 14, 15, "YTD"),
        (2, 16, 17, "Actual"),
        (2, 18, 19, "YTD"),
        (2, 20, 21, "Actual"),
        (2, 22, 23, "YTD"),
    ];
    (
        "liberty",
        format!(
            "Continuity Supplier Size Report {}.xlsx",
            sunday.format("%d-%m-%Y")
        ),
        vec![
            Sheet {
                name: "Sales By Size".into(),
                rows,
                merges,
            },
            sheet("Size Analysis", vec![vec![S("Size"), S("Sales Qty Un")]]),
        ],
    )
}

const SELFRIDGES: [(&str, f64); 5] = [
    ("London Oxford Street", 5.0),
    ("Manchester Trafford", 2.5),
    ("Manchester Exchange", 1.8),
    ("Birmingham", 2.0),
    ("selfridges.com", 3.0),
];

/// Selfridges' weekly report. The launch product has no Selfridges code mapping yet, so its
/// lines are rejected as unknown products.
fn selfridges(w: &Window, sunday: NaiveDate) -> File {
    let products = [
        (RR100, "86033481 - rainbow rose edp no colour 100ml"),
        (GOT100, "86033482 - ghost of tom edp no colour 100ml"),
        (SP100, "86033483 - swimming pool edp no colour 100ml"),
        (WM3, "86033484 - wild moss candle no colour 300g"),
        (SC50, "86039999 - super cedar edp no colour 50ml"),
    ];
    let mut rows = vec![
        vec![S("Selfridges & Co - Supplier Sales Report")],
        vec![T(format!("Week ending {}", sunday.format("%d/%m/%Y")))],
        ["Store", "Product", "Units", "Sales Inc VAT £"]
            .map(S)
            .to_vec(),
    ];
    let (mut units_total, mut sales_total) = (0.0, 0.0);
    for (store, weight) in SELFRIDGES {
        for (p, label) in products {
            let q = week_units(w, &format!("selfridges|{store}"), p, weight, sunday);
            if q == 0 {
                continue;
            }
            let sales = q as f64 * price(w, p, "GBP", sunday);
            units_total += q as f64;
            sales_total += sales;
            rows.push(vec![S(store), S(label), N(q as f64), N(sales)]);
        }
    }
    rows.push(vec![S("Total"), E, N(units_total), N(sales_total)]);
    (
        "selfridges",
        format!(
            "Selfridges Weekly Sales WE {}.xlsx",
            sunday.format("%d-%m-%Y")
        ),
        vec![sheet("Sales", rows)],
    )
}

const BOXNOX: [(&str, &str, f64); 4] = [
    ("Retail", "Paris Marais", 4.0),
    ("Retail", "Lyon Part-Dieu", 2.5),
    ("Retail", "Nice Etoile", 1.5),
    ("Online", "boxnox.com", 3.0),
];

/// BOXNOX's monthly report is a living document: every month of the year so far, one line per
/// store and product; amounts sometimes as text with a decimal comma, an EAN sometimes damaged
/// into scientific notation, returns as negative lines.
fn boxnox(w: &Window, m: NaiveDate) -> File {
    let products = [
        (GOT100, "Ghost of Tom 100ml"),
        (SC100, "Super Cedar 100ml"),
        (SP100, "Swimming Pool 100ml"),
        (BOJ100, "Boy of June 100ml"),
        (SC50, "Super Cedar 50ml"),
    ];
    let mut rows = vec![[
        "YEAR",
        "MONTH",
        "CHANNEL",
        "POS",
        "EAN",
        "QTY",
        "AMOUNT",
        "DESCRIPTION",
        "SKU",
    ]
    .map(S)
    .to_vec()];
    for month in (1..=m.month()).map(|k| NaiveDate::from_ymd_opt(m.year(), k, 1).expect("month")) {
        for (channel, pos, weight) in BOXNOX {
            for (p, desc) in products {
                let q = units(w, &format!("boxnox|{pos}"), p, weight, month);
                if q == 0 {
                    continue;
                }
                let key = format!("boxnox|{pos}|{}|{month}", p.code);
                let unit = price(w, p, "EUR", month);
                let amount = |q: i64| {
                    let v = q as f64 * unit;
                    if noise(&format!("{key}|text")) < 0.4 {
                        T(space_comma(v).replace(' ', ""))
                    } else {
                        N(v)
                    }
                };
                let ean = if pos == "Nice Etoile" && noise(&format!("{key}|damaged")) < 0.15 {
                    S("7.35015E+12")
                } else if noise(&format!("{key}|as text")) < 0.3 {
                    S(p.ean)
                } else {
                    N(p.ean.parse().expect("EAN digits"))
                };
                let line = |q: i64, ean: C, desc: String| {
                    vec![
                        N(month.year() as f64),
                        N(month.month() as f64),
                        S(channel),
                        S(pos),
                        ean,
                        N(q as f64),
                        amount(q),
                        T(desc),
                        S(p.code),
                    ]
                };
                rows.push(line(q, ean, desc.to_string()));
                if channel == "Retail" && noise(&format!("{key}|return")) < 0.08 {
                    rows.push(line(
                        -1,
                        N(p.ean.parse().expect("EAN digits")),
                        format!("{desc} (return)"),
                    ));
                }
            }
        }
    }
    (
        "boxnox",
        format!(
            "BOXNOX - BIBBI Monthly Sales Report {}{}.xlsx",
            MONTHS[m.month0() as usize][..3].to_uppercase(),
            m.year()
        ),
        vec![sheet("Sell Out by EAN", rows)],
    )
}

/// CDLC: a matrix of products by market and store, quantity and euro pairs under a three-row
/// header, a total column and a total row.
fn cdlc(w: &Window, m: NaiveDate) -> File {
    let stores = [
        ("E-shop", 2.0),
        ("Vilnius Akropolis", 2.5),
        ("Kaunas Mega", 1.5),
        ("Riga Galleria", 1.8),
    ];
    let products = [
        (SP100, "BIBBI. Swimming Pool EDP 100 ml"),
        (GOT100, "BIBBI. Ghost of Tom EDP 100 ml"),
        (BOJ100, "BIBBI. Boy of June EDP 100 ml"),
        (SC50, "BIBBI. Super Cedar EDP 50 ml"),
    ];
    let mut row4 = vec![E, E, E];
    for _ in 0..5 {
        row4.extend([S("Qty"), S("Sum Eur")]);
    }
    let mut rows = vec![
        vec![S("BIBBI sell out report")],
        vec![
            E,
            T(format!("{} {}", m.year(), MONTHS[m.month0() as usize])),
            E,
            S("E-shop"),
            E,
            S("Lithuania"),
            E,
            E,
            E,
            S("Latvia"),
            E,
            S("Total"),
        ],
        vec![
            E,
            E,
            E,
            S("E-shop"),
            E,
            S("Vilnius Akropolis"),
            E,
            S("Kaunas Mega"),
            E,
            S("Riga Galleria"),
        ],
        row4,
    ];
    let mut total = [0.0; 10];
    for (p, name) in products {
        let unit = price(w, p, "EUR", m);
        let q: Vec<f64> = stores
            .iter()
            .map(|(s, weight)| units(w, &format!("cdlc|{s}"), p, *weight, m) as f64)
            .collect();
        let sum: f64 = q.iter().sum();
        if sum == 0.0 {
            continue;
        }
        let mut r = vec![E, S(p.ean), S(name)];
        for (i, v) in q.iter().chain([sum].iter()).enumerate() {
            if *v == 0.0 {
                r.extend([E, E]);
            } else {
                r.extend([N(*v), N(v * unit)]);
            }
            total[2 * i] += v;
            total[2 * i + 1] += v * unit;
        }
        rows.push(r);
    }
    let mut t = vec![E, S("Total"), E];
    t.extend(total.iter().map(|v| num_or_blank(*v)));
    rows.push(t);
    let tab = format!("{} {:02}", m.year(), m.month());
    (
        "cdlc",
        format!("CDLC BIBBI_Sell_Out_{tab}.xlsx"),
        vec![sheet(tab, rows)],
    )
}

/// Galilu: one workbook per year, a column per month so far, Polish product names matched by
/// name. The launch product is not in Galilu's name mapping, so its lines are rejected.
fn galilu(w: &Window, m: NaiveDate) -> File {
    let products = [
        (GOT100, "BIBBI  Ghost of Tom woda perfumowana  100 ml "),
        (SC100, "BIBBI Super Cedar woda perfumowana 100ml"),
        (WM3, " BIBBI świeca zapachowa Wild  Moss 300 g"),
        (BOJ100, "BIBBI Boy of June woda perfumowana 100 ml"),
        (SC50, "BIBBI Super Cedar woda perfumowana 50 ml"),
    ];
    let months: Vec<NaiveDate> = (1..=m.month())
        .map(|k| NaiveDate::from_ymd_opt(m.year(), k, 1).expect("month"))
        .collect();
    let mut header = vec![N(m.year() as f64)];
    header.extend(months.iter().map(|d| S(&MONTHS[d.month0() as usize][..3])));
    header.push(S("Total"));
    let mut rows = vec![header];
    let mut total = vec![0.0; months.len()];
    for (p, name) in products {
        let q: Vec<f64> = months
            .iter()
            .map(|d| units(w, "galilu", p, 7.0, *d) as f64)
            .collect();
        if q.iter().all(|v| *v == 0.0) {
            continue;
        }
        let mut r = vec![S(name)];
        r.extend(q.iter().map(|v| num_or_blank(*v)));
        r.push(N(q.iter().sum()));
        for (t, v) in total.iter_mut().zip(&q) {
            *t += v;
        }
        rows.push(r);
    }
    let mut t = vec![S("Total")];
    t.extend(total.iter().map(|v| N(*v)));
    t.push(N(total.iter().sum()));
    rows.push(t);
    let other = |name: String| sheet(name, vec![vec![S("Month"), S("Qty")]]);
    (
        "galilu",
        format!("BIbbi_sellout_Galilu_{}.xlsx", m.year()),
        vec![
            other("YoY".into()),
            other("monthly sellout".into()),
            sheet(format!("product ranking_{}", m.year()), rows),
            other(format!("Split_by_store_{}", m.year())),
        ],
    )
}

/// Aromateque's 1C export: quantities by store, then by product with the article code, for the
/// month and the two before it; earlier months as dates, the report's own month as a Ukrainian
/// month name; quantities only (priced from the tenant's price list).
fn aromateque(w: &Window, m: NaiveDate) -> File {
    let products = [
        (
            BOJ100,
            "  BIBBI PARFUM Boy of June EAU DE PARFUM 100 ML   ",
            195.0,
        ),
        (
            GOT100,
            "BIBBI PARFUM Ghost of Tom EAU DE PARFUM 100 ML",
            195.0,
        ),
        (WM3, "BIBBI Wild Moss CANDLE 300 G", 72.0),
        (
            SP100,
            "BIBBI PARFUM Swimming Pool EAU DE PARFUM 100 ML",
            195.0,
        ),
    ];
    let months = [add_months(m, -2), add_months(m, -1), m];
    let heads = || {
        let mut h: Vec<C> = months[..2]
            .iter()
            .map(|d| D(d.year() as u16, d.month() as u8, 1))
            .collect();
        h.push(T(format!(
            "{}-{:02}",
            UK_MONTHS[m.month0() as usize],
            m.year() % 100
        )));
        h
    };
    let q: Vec<[f64; 3]> = products
        .iter()
        .map(|(p, ..)| months.map(|d| units(w, "aromateque", *p, 5.0, d) as f64))
        .collect();
    let per_month: Vec<f64> = (0..3).map(|i| q.iter().map(|r| r[i]).sum()).collect();
    let mut rows = vec![[vec![S("Магазин")], heads(), vec![S("total")]].concat()];
    let stores = [
        ("Kyiv Gulliver", 0.5),
        ("Kyiv Ocean Plaza", 0.3),
        ("Odesa", 0.2),
    ];
    for (i, (store, share)) in stores.iter().enumerate() {
        let split: Vec<f64> = per_month
            .iter()
            .map(|t| {
                if i == 2 {
                    t - (t * 0.5).floor() - (t * 0.3).floor()
                } else {
                    (t * share).floor()
                }
            })
            .collect();
        let mut r = vec![S(store)];
        r.extend(split.iter().map(|v| N(*v)));
        r.push(N(split.iter().sum()));
        rows.push(r);
    }
    while rows.len() < 10 {
        rows.push(vec![]);
    }
    rows.push(
        [
            vec![S("Номенклатура"), S("Код")],
            heads(),
            vec![S("total"), S("Total in euro")],
        ]
        .concat(),
    );
    let (mut euros, mut all) = (0.0, 0.0);
    for ((p, name, unit), q) in products.iter().zip(&q) {
        let sum: f64 = q.iter().sum();
        if sum == 0.0 {
            continue;
        }
        let mut r = vec![S(name), S(p.code)];
        r.extend(q.iter().map(|v| num_or_blank(*v)));
        r.extend([N(sum), N(sum * unit)]);
        euros += sum * unit;
        all += sum;
        rows.push(r);
    }
    let mut t = vec![S("Total"), E];
    t.extend(per_month.iter().map(|v| N(*v)));
    t.extend([N(all), N(euros)]);
    rows.push(t);
    (
        "aromateque",
        format!(
            "bibbi sales {}'{:02}.xlsx",
            MONTHS[m.month0() as usize].to_lowercase(),
            m.year() % 100
        ),
        vec![sheet("TDSheet", rows)],
    )
}

/// Skins South Africa: order lines for the calendar year so far, dates as US text, rand amounts
/// with a space between thousands and a decimal comma, incl. and excl. VAT; "ON" is the web shop.
fn skins_sa(w: &Window, m: NaiveDate) -> File {
    let products = [
        (GOT100, "BIBBI GHOST OF TOM 100ML"),
        (SP100, "BIBBI SWIMMING POOL 100ML"),
        (WM3, "BIBBI WILD MOSS CANDLE"),
        (SC50, "BIBBI SUPER CEDAR 50ML"),
    ];
    let mut rows = vec![[
        "Branch",
        "OrderDate",
        "StockCode",
        "OrderQty",
        "StockDescription",
        "NetSalesValue",
        " ExVatNetsales",
        "MONTH",
        "YEAR",
    ]
    .map(S)
    .to_vec()];
    for month in (1..=m.month()).map(|k| NaiveDate::from_ymd_opt(m.year(), k, 1).expect("month")) {
        for (branch, weight) in [("Rosebank", 2.0), ("Sandton", 2.0), ("ON", 1.5)] {
            for (p, desc) in products {
                let key = format!("skins_sa|{branch}|{}", p.code);
                let q = units(w, &key, p, weight, month);
                let ex = price(w, p, "ZAR", month);
                for (day, q) in orders(&key, q, month) {
                    let q = q as f64;
                    rows.push(vec![
                        S(branch),
                        T(day.format("%-m/%-d/%Y").to_string()),
                        N(p.ean.parse().expect("EAN digits")),
                        N(q),
                        S(desc),
                        T(space_comma(q * ex * 1.15)),
                        T(space_comma(q * ex)),
                        N(month.month() as f64),
                        N(month.year() as f64),
                    ]);
                }
            }
        }
    }
    (
        "skins_sa",
        format!(
            "Skins SA BIBBI CY {} {}.xlsx",
            m.year(),
            MONTHS[m.month0() as usize]
        ),
        vec![sheet("BIBBI", rows)],
    )
}

/// Skins Netherlands: one line per article with the same period last year beside it; articles
/// sold only last year have blank quantities.
fn skins_nl(w: &Window, m: NaiveDate) -> File {
    let products = [
        (GOT100, "Ghost of Tom EDP 100ml"),
        (SP100, "Swimming Pool EDP 100ml"),
        (RR100, "Rainbow Rose EDP 100ml"),
        (SC100, "Super Cedar EDP 100ml"),
        (BOJ100, "Boy of June EDP 100ml"),
    ];
    let last_year = add_months(m, -12);
    let period = format!("{:02}-{}", m.month(), m.year());
    let info = vec![
        ["Brand", "BrandName", "Month", "Information"]
            .map(S)
            .to_vec(),
        vec![
            S("BIBBIPARFU"),
            S("BIBBI Parfum"),
            T(period.clone()),
            S("Sales per SKU, incl. VAT excluded"),
        ],
    ];
    let mut rows = vec![[
        "Brand",
        "Article",
        "EANCode",
        "SalesAmount",
        "SalesAmountSPLY",
        "SalesAmountVariance",
        "SalesQuantity",
        "SalesQuantitySPLY",
        "SalesQuantityVariance",
    ]
    .map(S)
    .to_vec()];
    let variance = |now: f64, then: f64| {
        if then == 0.0 {
            E
        } else {
            T(format!("{:.1}%", (now - then) / then * 100.0).replace('.', ","))
        }
    };
    for (p, article) in products {
        // Rainbow Rose left the Dutch range when prices rose.
        let sells = |d: NaiveDate| {
            if p == RR100 && d >= w.price_change() {
                0
            } else {
                units(w, "skins_nl", p, 6.0, d)
            }
        };
        let (q, q_ly) = (sells(m) as f64, sells(last_year) as f64);
        if q == 0.0 && q_ly == 0.0 {
            continue;
        }
        let (a, a_ly) = (
            q * price(w, p, "EUR", m),
            q_ly * price(w, p, "EUR", last_year),
        );
        let blank_or = |v: f64, c: C| if v == 0.0 { E } else { c };
        rows.push(vec![
            S("BIBBIPARFU"),
            S(article),
            N(p.ean.parse().expect("EAN digits")),
            blank_or(q, T(euro_dots(a))),
            blank_or(q_ly, T(euro_dots(a_ly))),
            variance(a, a_ly),
            blank_or(q, N(q)),
            blank_or(q_ly, N(q_ly)),
            variance(q, q_ly),
        ]);
    }
    (
        "skins_nl",
        format!("BIBBIPARFU_ReportPeriod{period}.xlsx"),
        vec![sheet("Info", info), sheet("SalesPerSKU", rows)],
    )
}

/// The brand's own web shop: one line per order line, amounts in euros (sometimes as text with a
/// decimal comma), country codes in either case.
fn online(w: &Window, m: NaiveDate) -> File {
    let products = [GOT100, GOT50, SC100, BOJ100, SP100, RR100, WM3, SC50];
    let markets = [
        ("SE", "Stockholm", 3.0),
        ("DE", "Berlin", 2.5),
        ("DK", "Copenhagen", 1.5),
        ("NO", "Oslo", 1.2),
        ("FI", "Helsinki", 1.0),
    ];
    let mut lines = vec![];
    for (country, city, weight) in markets {
        for p in products {
            let key = format!("online|{country}|{}", p.code);
            for (day, q) in orders(&key, units(w, &key, p, weight, m), m) {
                lines.push((day, country, city, p, q));
            }
        }
    }
    lines.sort_by(|a, b| (a.0, a.1, a.3.code).cmp(&(b.0, b.1, b.3.code)));
    let mut rows = vec![[
        "Order ID",
        "Product EAN",
        "Functional Name",
        "Product Name",
        "Quantity",
        "Sales EUR",
        "Cost of Goods",
        "Stripe Fee",
        "Order Date",
        "Country",
        "City",
        "Reseller",
    ]
    .map(S)
    .to_vec()];
    for (i, (day, country, city, p, q)) in lines.into_iter().enumerate() {
        let sales = q as f64 * price(w, p, "EUR", m);
        let key = format!("online|{day}|{i}");
        let size = match p.kind {
            super::model::Kind::Edp100 => " 100 ml",
            super::model::Kind::Edp50 => " 50 ml",
            super::model::Kind::Candle => " Candle",
        };
        rows.push(vec![
            T(format!("#{}{:02}{:04}", m.year() % 100, m.month(), i + 1)),
            N(p.ean.parse().expect("EAN digits")),
            S(p.code),
            T(format!("{}{size}", p.name)),
            N(q as f64),
            if noise(&format!("{key}|text")) < 0.2 {
                T(space_comma(sales))
            } else {
                N(sales)
            },
            N((sales * 0.25).round()),
            N(((sales * 0.014 + 0.25) * 100.0).round() / 100.0),
            D(day.year() as u16, day.month() as u8, day.day() as u8),
            T(if noise(&format!("{key}|case")) < 0.1 {
                country.to_lowercase()
            } else {
                country.to_string()
            }),
            S(city),
            if i == 0 { S("Online") } else { E },
        ]);
    }
    (
        "online",
        format!("BIBBI Online Orders {}-{:02}.xlsx", m.year(), m.month()),
        vec![sheet("Orders", rows)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_the_way_the_resellers_write_them() {
        assert_eq!(space_comma(3967.5), "3 967,50");
        assert_eq!(space_comma(-1247.83), "-1 247,83");
        assert_eq!(space_comma(65.0), "65,00");
        assert_eq!(euro_dots(1170.0), "€ 1.170");
        assert_eq!(euro_dots(-195.0), "€ -195");
    }

    #[test]
    fn a_month_has_every_format_except_during_cdlcs_gap() {
        let w = Window::new(NaiveDate::from_ymd_opt(2025, 12, 1).unwrap(), 24);
        let vendors = |m| {
            month(&w, m)
                .into_iter()
                .map(|f| f.0)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(vendors(w.until).len(), 9);
        let gap = vendors(w.cdlc_gap()[0]);
        assert_eq!(gap.len(), 8);
        assert!(!gap.contains("cdlc"));
    }
}

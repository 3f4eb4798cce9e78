//! `taskifai gen-samples`: rebuilds the sample files in `sample-data/vendors/`, one per reseller
//! format, each reproducing the quirks of the real files (merged multi-row headers, totals rows,
//! decimal commas, damaged EANs, living documents, localized month headers).

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, XlsxError};
use std::path::Path;

/// A cell of a sample sheet.
#[derive(Clone)]
pub(super) enum C {
    S(&'static str),
    T(String),
    N(f64),
    D(u16, u8, u8),
    E,
}

use C::{D, E, N, S};

pub(super) struct Sheet {
    pub name: String,
    /// Rows from row 1.
    pub rows: Vec<Vec<C>>,
    /// (row, first col, last col, text), 1-based rows, 0-based columns; merged header cells.
    pub merges: Vec<(u32, u16, u16, &'static str)>,
}

pub(super) fn write(path: &Path, sheets: &[Sheet]) -> Result<(), XlsxError> {
    let mut wb = Workbook::new();
    // A fixed creation time keeps rebuilt samples byte-identical, so their hashes stay stable.
    wb.set_properties(
        &DocProperties::new().set_creation_datetime(&ExcelDateTime::from_ymd(2025, 1, 1)?),
    );
    let date = Format::new().set_num_format("dd.mm.yyyy");
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&s.name)?;
        for (r, row) in s.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                match cell {
                    S(t) => ws.write_string(r, c, *t).map(|_| ())?,
                    C::T(t) => ws.write_string(r, c, t).map(|_| ())?,
                    N(n) => ws.write_number(r, c, *n).map(|_| ())?,
                    D(y, m, d) => ws
                        .write_datetime_with_format(
                            r,
                            c,
                            ExcelDateTime::from_ymd(*y, *m, *d)?,
                            &date,
                        )
                        .map(|_| ())?,
                    E => {}
                }
            }
        }
        for (r, first, last, text) in &s.merges {
            ws.merge_range(r - 1, *first, r - 1, *last, text, &Format::new())?;
        }
    }
    wb.save(path)
}

fn out(dir: &Path, vendor: &str, file: &str) -> std::path::PathBuf {
    let d = dir.join(vendor);
    std::fs::create_dir_all(&d).expect("sample folder can be created");
    d.join(file)
}

/// Writes every sample into `dir/<vendor>/`.
pub fn generate(dir: &Path) -> Result<Vec<std::path::PathBuf>, XlsxError> {
    let mut written = Vec::new();
    for (vendor, file, sheets) in [
        (
            "liberty",
            "Continuity Supplier Size Report 27-04-2025.xlsx",
            liberty(),
        ),
        (
            "boxnox",
            "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
            boxnox(),
        ),
        ("cdlc", "CDLC BIBBI_Sell_Out_2025 04.xlsx", cdlc()),
        ("galilu", "BIbbi_sellout_Galilu_2025.xlsx", galilu()),
        ("aromateque", "bibbi sales march'25.xlsx", aromateque()),
        (
            "skins_sa",
            "Skins SA BIBBI CY 2025 February.xlsx",
            skins_sa(),
        ),
        (
            "skins_nl",
            "BIBBIPARFU_ReportPeriod02-2025.xlsx",
            skins_nl(),
        ),
        (
            "selfridges",
            "Selfridges Weekly Sales WE 27-04-2025.xlsx",
            selfridges(),
        ),
        ("online", "BIBBI Online Orders 2025-04.xlsx", online()),
    ] {
        let path = out(dir, vendor, file);
        write(&path, &sheets)?;
        written.push(path);
    }
    Ok(written)
}

fn liberty() -> Vec<Sheet> {
    let labels = [
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
    ];
    let mut row3: Vec<C> = labels.iter().map(|l| S(l)).collect();
    for _ in 0..6 {
        row3.push(S("Sales Qty Un"));
        row3.push(S("Sales Inc VAT £ "));
    }
    row3.push(S("Stock Qty"));
    row3.push(S("Stock Value £"));
    // Figures: Flagship actual, Flagship YTD, Internet actual, Internet YTD, All actual, All YTD, stock.
    let product = |group: &'static str,
                   id: &'static str,
                   item: &'static str,
                   reference: &'static str,
                   size: &'static str,
                   figs: [Option<f64>; 14]| {
        let desc = vec![
            S("BIBBI"),
            S("BIBBI"),
            E,
            S(group),
            S(id),
            S(item),
            S(reference),
        ];
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
            N(48.0),
            N(195.0),
            N(195.0),
        ];
        size_row.extend(figs.iter().map(|f| f.map_or(E, N)));
        let mut total = vec![
            E,
            E,
            E,
            E,
            E,
            C::T(format!("{item} Total")),
            E,
            E,
            E,
            E,
            E,
            E,
        ];
        total.extend(figs.iter().map(|f| f.map_or(E, N)));
        vec![desc, size_row, total]
    };
    let mut rows = vec![vec![], vec![], row3];
    rows.extend(product(
        "CANDLES",
        "000834429 | 98-NO COLOUR",
        "Wild Moss Candle",
        "BBWM3(NO COLOUR",
        "300G",
        [
            Some(2.0),
            Some(130.0),
            Some(10.0),
            Some(650.0),
            Some(1.0),
            Some(65.0),
            Some(4.0),
            Some(260.0),
            Some(3.0),
            Some(195.0),
            Some(14.0),
            Some(910.0),
            Some(12.0),
            Some(780.0),
        ],
    ));
    rows.push(vec![
        S("CANDLES Total"),
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        N(2.0),
        N(130.0),
        N(10.0),
        N(650.0),
        N(1.0),
        N(65.0),
    ]);
    rows.extend(product(
        "FRAGRANCE",
        "000834430 | 98-NO COLOUR",
        "Ghost of Tom EDP 100ml",
        "BBGOT100(NO COLOUR",
        "100ML",
        [
            None,
            None,
            Some(3.0),
            Some(585.0),
            Some(-1.0),
            Some(-195.0),
            Some(2.0),
            Some(390.0),
            Some(-1.0),
            Some(-195.0),
            Some(5.0),
            Some(975.0),
            Some(6.0),
            Some(1170.0),
        ],
    ));
    rows.extend(product(
        "FRAGRANCE",
        "000834431 | 98-NO COLOUR",
        "Super Cedar EDP 100ml",
        "BBSC100(NO COLOUR",
        "100ML",
        [
            Some(1.0),
            Some(195.0),
            Some(1.0),
            Some(195.0),
            Some(2.0),
            Some(390.0),
            Some(2.0),
            Some(390.0),
            Some(3.0),
            Some(585.0),
            Some(3.0),
            Some(585.0),
            Some(4.0),
            Some(780.0),
        ],
    ));
    rows.push(vec![
        S("FRAGRANCE Total"),
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        N(1.0),
        N(195.0),
    ]);
    rows.push(vec![
        S("Grand Total"),
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        E,
        N(3.0),
        N(325.0),
    ]);
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
    vec![
        Sheet {
            name: "Sales By Size".into(),
            rows,
            merges,
        },
        Sheet {
            name: "Size Analysis".into(),
            rows: vec![vec![S("Size"), S("Sales Qty Un")], vec![S("100ML"), N(4.0)]],
            merges: vec![],
        },
        Sheet {
            name: "Product Group Analysis".into(),
            rows: vec![
                vec![S("Product Group"), S("Sales Qty Un")],
                vec![S("CANDLES Total"), N(3.0)],
            ],
            merges: vec![],
        },
    ]
}

#[rustfmt::skip]
fn boxnox() -> Vec<Sheet> {
    let header = [
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
    .to_vec();
    let row = |m: f64,
               ch: &'static str,
               pos: &'static str,
               ean: C,
               q: f64,
               amount: C,
               desc: &'static str,
               sku: &'static str| {
        vec![
            N(2025.0),
            N(m),
            S(ch),
            S(pos),
            ean,
            N(q),
            amount,
            S(desc),
            S(sku),
        ]
    };
    let rows = vec![
        header,
        row(1.0, "Retail", "Paris Marais", N(7350154320008.0), 1.0, N(195.0), "Ghost of Tom 100ml", "BBGOT100"),
        row(2.0, "Retail", "Lyon Part-Dieu", N(7350154320022.0), 2.0, N(390.0), "Super Cedar 100ml", "BBSC100"),
        row(3.0, "Online", "boxnox.com", N(7350154320046.0), 1.0, S("195,00"), "Swimming Pool 100ml", "BBSP100"),
        row(4.0, "Retail", "Paris Marais", N(7350154320008.0), 2.0, S("390,00"), "Ghost of Tom 100ml", "BBGOT100"),
        row(4.0, "Retail", "Lyon Part-Dieu", S("7350154320022"), 1.0, N(195.0), "Super Cedar 100ml", "BBSC100"),
        row(4.0, "Online", "boxnox.com", N(7350154320046.0), 3.0, S("585,00"), "Swimming Pool 100ml", "BBSP100"),
        row(4.0, "Retail", "Paris Marais", N(7350154320008.0), -1.0, S("-195,00"), "Ghost of Tom 100ml (return)", "BBGOT100"),
        row(4.0, "Retail", "Nice Etoile", S("7.35015E+12"), 1.0, N(195.0), "Boy of June 100ml", "BBBOJ100"),
    ];
    vec![Sheet {
        name: "Sell Out by EAN".into(),
        rows,
        merges: vec![],
    }]
}

fn cdlc() -> Vec<Sheet> {
    let pairs = |v: [Option<(f64, f64)>; 5]| {
        v.into_iter()
            .flat_map(|p| match p {
                Some((q, s)) => [N(q), N(s)],
                None => [E, E],
            })
            .collect::<Vec<_>>()
    };
    let data =
        |ean: &'static str, name: &'static str, v| [vec![E, S(ean), S(name)], pairs(v)].concat();
    let mut row4 = vec![E, E, E];
    for _ in 0..5 {
        row4.extend([S("Qty"), S("Sum Eur")]);
    }
    let rows = vec![
        vec![S("BIBBI sell out report")],
        vec![
            E,
            S("2025 April"),
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
        data(
            "7350154320046",
            "BIBBI. Swimming Pool EDP 100 ml",
            [
                Some((1.0, 195.0)),
                Some((2.0, 390.0)),
                None,
                Some((1.0, 195.0)),
                Some((4.0, 780.0)),
            ],
        ),
        data(
            "7350154320008",
            "BIBBI. Ghost of Tom EDP 100 ml",
            [
                None,
                Some((1.0, 195.0)),
                Some((1.0, 195.0)),
                None,
                Some((2.0, 390.0)),
            ],
        ),
        data(
            "7350154320039",
            "BIBBI. Boy of June EDP 100 ml",
            [Some((1.0, 195.0)), None, None, None, Some((1.0, 195.0))],
        ),
        [
            vec![E, S("Total"), E],
            pairs([
                Some((2.0, 390.0)),
                Some((3.0, 585.0)),
                Some((1.0, 195.0)),
                Some((1.0, 195.0)),
                Some((7.0, 1365.0)),
            ]),
        ]
        .concat(),
    ];
    vec![Sheet {
        name: "2025 04".into(),
        rows,
        merges: vec![],
    }]
}

#[rustfmt::skip]
fn galilu() -> Vec<Sheet> {
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"];
    let mut header = vec![N(2025.0)];
    header.extend(months.map(S));
    header.push(S("Total"));
    let row = |name: &'static str, q: [f64; 6]| {
        let mut r = vec![S(name)];
        r.extend(q.iter().map(|v| if *v == 0.0 { E } else { N(*v) }));
        r.push(N(q.iter().sum()));
        r
    };
    let rows = vec![
        header,
        row("BIBBI  Ghost of Tom woda perfumowana  100 ml ", [2.0, 1.0, 0.0, 2.0, 1.0, 3.0]),
        row("BIBBI Super Cedar woda perfumowana 100ml", [0.0, 1.0, 1.0, 0.0, 0.0, 1.0]),
        row(" BIBBI świeca zapachowa Wild  Moss 300 g", [1.0, 0.0, 0.0, 1.0, 0.0, 2.0]),
        row("BIBBI Nowy zapach woda perfumowana 50 ml", [0.0, 0.0, 0.0, 0.0, 0.0, 1.0]),
        row("Total", [3.0, 2.0, 1.0, 3.0, 1.0, 7.0]),
    ];
    let other = |name: &str| Sheet {
        name: name.into(),
        rows: vec![vec![S("Month"), S("Qty")], vec![S("Jan"), N(3.0)]],
        merges: vec![],
    };
    vec![
        other("YoY"),
        other("monthly sellout"),
        Sheet {
            name: "product ranking_2025".into(),
            rows,
            merges: vec![],
        },
        other("Split_by_store_2025"),
    ]
}

fn aromateque() -> Vec<Sheet> {
    let mut rows: Vec<Vec<C>> = vec![vec![
        S("Магазин"),
        D(2025, 1, 1),
        D(2025, 2, 1),
        S("березня-25"),
        S("total"),
    ]];
    for (store, q) in [
        ("Kyiv Gulliver", [2.0, 3.0, 4.0]),
        ("Kyiv Ocean Plaza", [1.0, 0.0, 2.0]),
        ("Odesa", [0.0, 1.0, 0.0]),
    ] {
        rows.push(vec![S(store), N(q[0]), N(q[1]), N(q[2]), N(q.iter().sum())]);
    }
    while rows.len() < 10 {
        rows.push(vec![]);
    }
    rows.push(vec![
        S("Номенклатура"),
        S("Код"),
        D(2025, 1, 1),
        D(2025, 2, 1),
        S("березня-25"),
        S("total"),
        S("Total in euro"),
    ]);
    let product = |name: &'static str, code: &'static str, q: [f64; 3]| {
        let mut r = vec![S(name), S(code)];
        r.extend(q.iter().map(|v| if *v == 0.0 { E } else { N(*v) }));
        r.push(N(q.iter().sum()));
        r.push(N(q.iter().sum::<f64>() * 195.0));
        r
    };
    rows.push(product(
        "  BIBBI PARFUM Boy of June EAU DE PARFUM 100 ML   ",
        "BBBOJ100",
        [1.0, 2.0, 3.0],
    ));
    rows.push(product(
        "BIBBI PARFUM Ghost of Tom EAU DE PARFUM 100 ML",
        "BBGOT100",
        [1.0, 0.0, 1.0],
    ));
    rows.push(product(
        "BIBBI Wild Moss CANDLE 300 G",
        "BBWM3",
        [0.0, 1.0, 2.0],
    ));
    rows.push(vec![
        S("Total"),
        E,
        N(2.0),
        N(3.0),
        N(6.0),
        N(11.0),
        N(2145.0),
    ]);
    vec![Sheet {
        name: "TDSheet".into(),
        rows,
        merges: vec![],
    }]
}

#[rustfmt::skip]
fn skins_sa() -> Vec<Sheet> {
    let header = [
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
    .to_vec();
    let row = |b: &'static str,
               d: &'static str,
               ean: f64,
               q: f64,
               desc: &'static str,
               net: &'static str,
               ex: &'static str,
               m: f64| {
        vec![
            S(b),
            S(d),
            N(ean),
            N(q),
            S(desc),
            S(net),
            S(ex),
            N(m),
            N(2025.0),
        ]
    };
    let rows = vec![
        header,
        row("Rosebank", "1/28/2025", 7350154320008.0, 1.0, "BIBBI GHOST OF TOM 100ML", "3 967,50", "3 450,00", 1.0),
        row("Sandton", "2/3/2025", 7350154320008.0, 1.0, "BIBBI GHOST OF TOM 100ML", "3 967,50", "3 450,00", 2.0),
        row("ON", "2/14/2025", 7350154320046.0, 2.0, "BIBBI SWIMMING POOL 100ML", "7 935,00", "6 900,00", 2.0),
        row("ON", "2/14/2025", 7350154320046.0, 2.0, "BIBBI SWIMMING POOL 100ML", "7 935,00", "6 900,00", 2.0),
        row("Rosebank", "2/20/2025", 7350154320060.0, 1.0, "BIBBI WILD MOSS CANDLE", "1 435,00", "1 247,83", 2.0),
    ];
    vec![Sheet {
        name: "BIBBI".into(),
        rows,
        merges: vec![],
    }]
}

pub(super) fn skins_nl() -> Vec<Sheet> {
    let info = vec![
        vec![S("Brand"), S("BrandName"), S("Month"), S("Information")],
        vec![
            S("BIBBIPARFU"),
            S("BIBBI Parfum"),
            S("02-2025"),
            S("Sales per SKU, incl. VAT excluded"),
        ],
    ];
    let header = [
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
    .to_vec();
    let rows = vec![
        header,
        vec![
            S("BIBBIPARFU"),
            S("Ghost of Tom EDP 100ml"),
            N(7350154320008.0),
            S("€ 1.170"),
            S("€ 975"),
            S("20,0%"),
            N(6.0),
            N(5.0),
            S("20,0%"),
        ],
        vec![
            S("BIBBIPARFU"),
            S("Swimming Pool EDP 100ml"),
            N(7350154320046.0),
            S("€ 195"),
            S("€ 238"),
            S("-18,1%"),
            N(1.0),
            N(1.0),
            S("0,0%"),
        ],
        vec![
            S("BIBBIPARFU"),
            S("Rainbow Rose EDP 100ml"),
            N(7350154320053.0),
            E,
            S("€ 195"),
            S("-100,0%"),
            E,
            N(1.0),
            S("-100,0%"),
        ],
        vec![
            S("BIBBIPARFU"),
            S("Super Cedar EDP 100ml"),
            N(7350154320022.0),
            S("€ -195"),
            E,
            E,
            N(-1.0),
            E,
            E,
        ],
    ];
    vec![
        Sheet {
            name: "Info".into(),
            rows: info,
            merges: vec![],
        },
        Sheet {
            name: "SalesPerSKU".into(),
            rows,
            merges: vec![],
        },
    ]
}

pub(super) fn selfridges() -> Vec<Sheet> {
    let rows = vec![
        vec![S("Selfridges & Co - Supplier Sales Report")],
        vec![S("Week ending 27/04/2025")],
        ["Store", "Product", "Units", "Sales Inc VAT £"]
            .map(S)
            .to_vec(),
        vec![
            S("London Oxford Street"),
            S("86033481 - rainbow rose edp no colour 100ml"),
            N(2.0),
            N(390.0),
        ],
        vec![
            S("Manchester Trafford"),
            S("86033482 - ghost of tom edp no colour 100ml"),
            N(1.0),
            N(195.0),
        ],
        vec![
            S("selfridges.com"),
            S("86033483 - swimming pool edp no colour 100ml"),
            N(1.0),
            N(195.0),
        ],
        vec![
            S("Birmingham"),
            S("86033484 - wild moss candle no colour 300g"),
            N(1.0),
            N(65.0),
        ],
        vec![
            S("Manchester Exchange"),
            S("86039999 - new scent edp no colour 50ml"),
            N(1.0),
            N(120.0),
        ],
        vec![S("Total"), E, N(6.0), N(965.0)],
    ];
    vec![Sheet {
        name: "Sales".into(),
        rows,
        merges: vec![],
    }]
}

fn online() -> Vec<Sheet> {
    let header = [
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
    .to_vec();
    let rows = vec![
        header,
        vec![
            S("#1001"),
            N(7350154320008.0),
            S("BBGOT100"),
            S("Ghost of Tom 100 ml"),
            N(1.0),
            N(195.0),
            N(48.0),
            N(3.16),
            D(2025, 4, 2),
            S("SE"),
            S("Stockholm"),
            S("Online"),
        ],
        vec![
            S("#1002"),
            N(7350154320046.0),
            S("BBSP100"),
            S("Swimming Pool 100 ml"),
            N(2.0),
            N(390.0),
            N(96.0),
            N(5.9),
            D(2025, 4, 9),
            S("DE"),
            S("Berlin"),
            E,
        ],
        vec![
            S("#1003"),
            N(7350154320060.0),
            S("BBWM3"),
            S("Wild Moss Candle"),
            N(1.0),
            S("65,00"),
            N(18.0),
            N(1.19),
            D(2025, 4, 21),
            S("se"),
            S("Göteborg"),
            E,
        ],
    ];
    vec![Sheet {
        name: "Orders".into(),
        rows,
        merges: vec![],
    }]
}

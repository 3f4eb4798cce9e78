//! `taskifai gen-bench`: a deterministic benchmark sell-out file in the generic layout of
//! `vendor-specs/bench.yaml`, with about 0.5% dirty rows, and the truth it must give: accepted
//! rows, rejects by reason, every reject's row, and the exact EUR total.

use rust_xlsxwriter::Workbook;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use taskifai_engine::xorshift::XorShift;

/// EUR per unit, scaled by 10^4, as in `benches/reference/fx_rates.csv`.
const RATES: [(&str, i128); 6] = [
    ("EUR", 10_000),
    ("GBP", 11_700),
    ("CHF", 10_500),
    ("PLN", 2_300),
    ("SEK", 870),
    ("USD", 9_200),
];
const REASONS: [&str; 6] = [
    "missing_ean",
    "bad_ean",
    "bad_qty",
    "bad_price",
    "bad_date",
    "bad_currency",
];
const PRODUCTS: [(&str, &str, &str); 4] = [
    (
        "7350154320008",
        "Ghost of Tom, \"Eau de Parfum\" 100 ml",
        "BBGOT100",
    ),
    (
        "7350154320022",
        "Super Cedar, Eau de Parfum 100 ml",
        "BBSC100",
    ),
    ("7350154320060", "Wild Moss \"Candle\", 300 g", "BBWM3"),
    ("07350154320046", "Swimming Pool EDP, 50 ml", "BBSP50"),
];

/// What a correct run must produce.
#[derive(Debug, Default, serde::Serialize)]
pub struct Truth {
    pub rows: usize,
    pub accepted: usize,
    pub rejects: BTreeMap<&'static str, usize>,
    /// Exact, 6 decimals.
    pub sales_eur: String,
}

fn row(rng: &mut XorShift, i: usize) -> ([String; 10], Option<&'static str>, i128) {
    let (ean, name, fname) = PRODUCTS[rng.below(4) as usize];
    let (cur, rate) = RATES[rng.below(6) as usize];
    let qty = rng.below(5) as i64 + 1;
    let qty = if rng.below(50) == 0 { -qty } else { qty };
    let cents = 500 + rng.below(25_000) as i128;
    let price = if cents % 10 == 0 && rng.below(2) == 0 {
        format!("{}.{}", cents / 100, (cents % 100) / 10)
    } else {
        format!("{}.{:02}", cents / 100, cents % 100)
    };
    let (d, m) = (1 + rng.below(28), 1 + rng.below(12));
    let mut cells = [
        format!("Reseller {}", rng.below(5)),
        format!("Store {}", rng.below(200)),
        ["se", "DE", " gb ", "FR", "pl"][rng.below(5) as usize].to_owned(),
        ean.to_owned(),
        name.to_owned(),
        fname.to_owned(),
        if rng.below(20) == 0 {
            format!("{qty}.0")
        } else {
            qty.to_string()
        },
        price,
        cur.to_owned(),
        format!("{d:02}/{m:02}/2025"),
    ];
    let reason = (rng.below(200) == 0).then(|| REASONS[rng.below(6) as usize]);
    match reason {
        Some("missing_ean") => cells[3] = ["", "  "][rng.below(2) as usize].to_owned(),
        Some("bad_ean") => {
            cells[3] = ["12345", "7350154320AB8", "7.35015E+12"][rng.below(3) as usize].to_owned()
        }
        Some("bad_qty") => cells[6] = ["2.5", "two", ""][rng.below(3) as usize].to_owned(),
        Some("bad_price") => {
            cells[7] = ["19.999", "1,50", "€12", "abc"][rng.below(4) as usize].to_owned()
        }
        Some("bad_date") => {
            cells[9] = ["31/02/2025", "2025-03-01", "1/3/2025"][rng.below(3) as usize].to_owned()
        }
        Some(_) => cells[8] = ["XYZ", "", "EURO"][rng.below(3) as usize].to_owned(),
        None => {}
    }
    let _ = i;
    (cells, reason, qty as i128 * cents * rate)
}

/// Writes `bench_<rows>_2025.<format>` and its truth (`.truth.json`, `.rejects.csv`) into `out`.
pub fn generate(
    out: &Path,
    rows: usize,
    seed: u64,
    format: &str,
) -> anyhow::Result<(PathBuf, Truth)> {
    std::fs::create_dir_all(out)?;
    let path = out.join(format!("bench_{rows}_2025.{format}"));
    let mut rng = XorShift::new(seed);
    let mut truth = Truth {
        rows,
        ..Truth::default()
    };
    let mut total: i128 = 0;
    let mut rejects =
        std::io::BufWriter::new(std::fs::File::create(path.with_extension("rejects.csv"))?);
    writeln!(rejects, "source_row,reason")?;
    let header = [
        "Reseller",
        "Store",
        "Country",
        "Product EAN",
        "Product Name",
        "Functional Name",
        "Qty",
        "Unit Price",
        "Currency",
        "Sales Date",
    ];
    let mut on_row = |i: usize, reason: Option<&'static str>, micro: i128| -> std::io::Result<()> {
        match reason {
            Some(r) => {
                *truth.rejects.entry(r).or_default() += 1;
                writeln!(rejects, "{},{r}", i + 2)
            }
            None => {
                truth.accepted += 1;
                total += micro;
                Ok(())
            }
        }
    };
    if format == "xlsx" {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h)?;
        }
        for i in 0..rows {
            let (cells, reason, micro) = row(&mut rng, i);
            for (c, v) in cells.iter().enumerate() {
                if !v.is_empty() {
                    ws.write_string(i as u32 + 1, c as u16, v)?;
                }
            }
            on_row(i, reason, micro)?;
        }
        wb.save(&path)?;
    } else {
        let mut w = csv::Writer::from_path(&path)?;
        w.write_record(header)?;
        for i in 0..rows {
            let (cells, reason, micro) = row(&mut rng, i);
            w.write_record(&cells)?;
            on_row(i, reason, micro)?;
        }
        w.flush()?;
    }
    truth.sales_eur = taskifai_engine::values::format_scaled(total, 6);
    std::fs::write(
        path.with_extension("truth.json"),
        serde_json::to_string_pretty(&truth)?,
    )?;
    Ok((path, truth))
}

//! The benchmark's rules with the `polars` crate: the same six checks in the same order as
//! `polars_peer.py`, money exact in integers, Parquet (zstd) and a reject list out, and one JSON
//! line (accepted, rejects by reason, EUR total) for `compare.py`'s truth check.
//! Usage: taskifai-polars-peer FILE OUT_DIR
use std::collections::BTreeMap;
use std::fs::File;

use polars::prelude::*;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// EUR per unit of each currency, in 1/10,000 (as the bench reference data and the other peers).
const RATES: [(&str, i64); 6] = [
    ("EUR", 10000),
    ("GBP", 11700),
    ("CHF", 10500),
    ("PLN", 2300),
    ("SEK", 870),
    ("USD", 9200),
];
const TEXT: [&str; 10] = [
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, src, out] = args.as_slice() else {
        return Err("usage: taskifai-polars-peer FILE OUT_DIR".into());
    };
    let raw = if src.ends_with(".xlsx") {
        read_xlsx(src)?.lazy()
    } else {
        // Every column as text, as TaskifAI and the Python peers read it.
        LazyCsvReader::new(PlRefPath::new(src.as_str()))
            .with_infer_schema_length(Some(0))
            .finish()?
    };
    let checked = check(raw.with_row_index("source_row", Some(2))).collect()?;
    let reason = col("reason");
    let mut rejects = checked
        .clone()
        .lazy()
        .filter(reason.clone().is_not_null())
        .select([col("source_row"), reason.clone()])
        .collect()?;
    let ok = checked.lazy().filter(reason.is_null()).collect()?;
    let (mut result, micro_total) = normalize(&ok)?;
    ParquetWriter::new(File::create(format!("{out}/polars-rs.parquet"))?)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(&mut result)?;
    CsvWriter::new(File::create(format!("{out}/polars-rs.rejects.csv"))?).finish(&mut rejects)?;
    let mut by_reason = BTreeMap::new();
    for r in rejects
        .column("reason")?
        .str()?
        .iter()
        .map(|v| v.unwrap_or(""))
    {
        *by_reason.entry(r.to_string()).or_insert(0u64) += 1;
    }
    let summary = serde_json::json!({
        "accepted": ok.height(),
        "rejects": by_reason,
        "sales_eur": eur(micro_total),
    });
    println!("{summary}");
    Ok(())
}

/// Trims every text column and adds `reason` (null when the row passes) and `sale_date`.
fn check(raw: LazyFrame) -> LazyFrame {
    let t = |c: &str| col(c).str().strip_chars(lit(NULL)).fill_null(lit(""));
    let dates = StrptimeOptions {
        format: Some("%d/%m/%Y".into()),
        strict: false,
        ..Default::default()
    };
    let date = t("Sales Date").str().to_date(dates);
    let matches = |c: &str, pat: &str| t(c).str().contains(lit(pat), true);
    let currencies = Series::new("rates".into(), RATES.map(|(c, _)| c));
    let reason = when(t("Product EAN").eq(lit("")))
        .then(lit("missing_ean"))
        .when(matches("Product EAN", r"^\d{8,14}$").not())
        .then(lit("bad_ean"))
        .when(matches("Qty", r"^-?\d+(\.0+)?$").not())
        .then(lit("bad_qty"))
        .when(matches("Unit Price", r"^-?\d+(\.\d{1,2})?$").not())
        .then(lit("bad_price"))
        .when(
            matches("Sales Date", r"^\d{2}/\d{2}/\d{4}$")
                .not()
                .or(date.clone().is_null()),
        )
        .then(lit("bad_date"))
        .when(
            t("Currency")
                .str()
                .to_uppercase()
                .is_in(lit(currencies).implode(false), false)
                .not(),
        )
        .then(lit("bad_currency"))
        .otherwise(lit(NULL).cast(DataType::String));
    let mut cols = vec![reason.alias("reason"), date.alias("sale_date")];
    cols.extend(TEXT.iter().map(|c| t(c).alias(*c)));
    raw.with_columns(cols)
}

/// The accepted rows in the benchmark's output columns; quantity, price and EUR computed in
/// integers (cents x rate = millionths of a euro). Returns the frame and the EUR total in millionths.
fn normalize(ok: &DataFrame) -> PolarsResult<(DataFrame, i128)> {
    let qty = ok.column("Qty")?.str()?;
    let price = ok.column("Unit Price")?.str()?;
    let currency = ok.column("Currency")?.str()?;
    let n = ok.height();
    let (mut quantity, mut cents, mut micro) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut total: i128 = 0;
    for ((q, p), c) in qty
        .iter()
        .map(|v| v.unwrap_or(""))
        .zip(price.iter().map(|v| v.unwrap_or("")))
        .zip(currency.iter().map(|v| v.unwrap_or("")))
    {
        // The checks above guarantee the shapes parsed here.
        let q: i64 = q.split('.').next().unwrap_or("0").parse().unwrap_or(0);
        let p = parse_cents(p);
        let rate = RATES
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(c))
            .map_or(0, |(_, r)| *r);
        let m = q as i128 * p as i128 * rate as i128;
        total += m;
        quantity.push(q);
        cents.push(p as i128);
        micro.push(m);
    }
    let unit_price = Int128Chunked::from_vec("unit_price".into(), cents)
        .into_decimal(12, 2)?
        .into_series();
    let sales_eur = Int128Chunked::from_vec("sales_eur".into(), micro)
        .into_decimal(18, 6)?
        .into_series();
    let result = ok
        .clone()
        .lazy()
        .select([
            col("source_row"),
            col("Product EAN").alias("product_ean"),
            col("Functional Name").alias("functional_name"),
            col("Reseller").alias("reseller"),
            col("Country").str().to_uppercase().alias("country"),
            col("Currency").str().to_uppercase().alias("currency"),
            lit(Series::new("quantity".into(), quantity)).alias("quantity"),
            lit(unit_price).alias("unit_price"),
            lit(sales_eur).alias("sales_eur"),
            col("sale_date"),
            col("sale_date").dt().year().alias("year"),
            col("sale_date").dt().month().alias("month"),
        ])
        .collect()?;
    Ok((result, total))
}

/// `-?digits[.d[d]]` in cents.
fn parse_cents(p: &str) -> i64 {
    let (neg, p) = p.strip_prefix('-').map_or((false, p), |r| (true, r));
    let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
    let frac = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().unwrap_or(0) * 10,
        _ => frac.parse::<i64>().unwrap_or(0),
    };
    let v = whole.parse::<i64>().unwrap_or(0) * 100 + frac;
    if neg {
        -v
    } else {
        v
    }
}

fn eur(micro: i128) -> String {
    let sign = if micro < 0 { "-" } else { "" };
    let m = micro.unsigned_abs();
    format!("{sign}{}.{:06}", m / 1_000_000, m % 1_000_000)
}

/// The first sheet, every cell as text: Polars' Rust API has no Excel reader, so calamine
/// (what Polars' Python `read_excel` uses) reads it into a DataFrame of String columns.
fn read_xlsx(path: &str) -> Result<DataFrame, Box<dyn std::error::Error>> {
    use calamine::{open_workbook_auto, Data, Reader};
    let mut book = open_workbook_auto(path)?;
    let sheet = book.sheet_names().first().cloned().ok_or("no sheet")?;
    let range = book.worksheet_range(&sheet)?;
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .ok_or("empty sheet")?
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::new(); header.len()];
    for row in rows {
        for (i, column) in columns.iter_mut().enumerate() {
            column.push(match row.get(i) {
                None | Some(Data::Empty) => None,
                Some(cell) => Some(cell.to_string()),
            });
        }
    }
    let columns = header
        .iter()
        .zip(columns)
        .map(|(h, v)| Column::new(h.as_str().into(), v))
        .collect();
    Ok(DataFrame::new_infer_height(columns)?)
}

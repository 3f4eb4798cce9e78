//! Error reports as downloads: CSV for scripts, XLSX for the people who fix the files.

use serde::Serialize;
use taskifai_connectors::error_report::{csv_safe, COLUMNS as HEADER};

/// One line of a batch's error report, as the tenant database holds it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ErrorRow {
    pub file: String,
    pub sheet: Option<String>,
    pub source_row: Option<i64>,
    pub column: Option<String>,
    pub raw_value: Option<String>,
    pub rule: String,
    pub severity: String,
    pub message: String,
}

fn cells(r: &ErrorRow) -> [String; 8] {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    [
        r.file.clone(),
        o(&r.sheet),
        r.source_row.map(|n| n.to_string()).unwrap_or_default(),
        o(&r.column),
        o(&r.raw_value),
        r.rule.clone(),
        r.severity.clone(),
        r.message.clone(),
    ]
}

pub fn errors_csv(rows: &[ErrorRow]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER)?;
    for r in rows {
        // Rejected values come from the file: a `=HYPERLINK(...)` must stay text.
        w.write_record(cells(r).iter().map(|c| csv_safe(c).into_owned()))?;
    }
    Ok(w.into_inner()?)
}

pub fn errors_xlsx(rows: &[ErrorRow]) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("errors")?;
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 1;
        for (c, v) in cells(r).iter().enumerate() {
            match (c, r.source_row) {
                (2, Some(n)) => sheet.write_number(row, 2, n as f64)?,
                _ => sheet.write_string(row, c as u16, v)?,
            };
        }
    }
    sheet.autofit();
    Ok(book.save_to_buffer()?)
}

//! The file formats TaskifAI reads, each yielding raw text cells as Arrow batches
//! ([`taskifai_engine::raw::Workbook`]). [`open`] is the one place that lists them.

pub mod columnar;
pub mod csv;
pub mod spreadsheet;

use std::path::Path;
use taskifai_engine::raw::{ReadError, Workbook};

/// Largest spreadsheet read into memory (calamine reads whole workbooks).
pub const MAX_SPREADSHEET_BYTES: u64 = 512 << 20;

/// Opens a file by its extension, checking its first bytes: `.xlsx`, `.xlsm`, `.xls`, `.xlsb`,
/// `.ods` as spreadsheets, `.parquet`, `.jsonl`/`.ndjson`, and anything else as delimited text.
/// `name` is how the file is called in messages (the uploaded name, not a temp path).
pub fn open(path: &Path, name: &str) -> Result<Box<dyn Workbook>, ReadError> {
    let ext = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let meta =
        std::fs::metadata(path).map_err(|e| ReadError::new(name, format!("cannot read: {e}")))?;
    if meta.len() == 0 {
        return Err(ReadError::new(name, "the file is empty"));
    }
    match ext.as_str() {
        "xlsx" | "xlsm" | "xls" | "xlsb" | "ods" => {
            if meta.len() > MAX_SPREADSHEET_BYTES {
                return Err(ReadError::new(
                    name,
                    format!(
                        "spreadsheet of {} MB is larger than the {} MB limit; export it as CSV",
                        meta.len() >> 20,
                        MAX_SPREADSHEET_BYTES >> 20
                    ),
                ));
            }
            let bytes = std::fs::read(path)
                .map_err(|e| ReadError::new(name, format!("cannot read: {e}")))?;
            Ok(Box::new(spreadsheet::SpreadsheetWorkbook::from_bytes(
                name, bytes,
            )?))
        }
        "parquet" => Ok(Box::new(columnar::ParquetWorkbook::open(path, name)?)),
        "jsonl" | "ndjson" => Ok(Box::new(columnar::JsonLinesWorkbook::open(path, name)?)),
        _ => {
            let mut head = [0u8; 8];
            let n = std::io::Read::read(
                &mut std::fs::File::open(path).map_err(|e| ReadError::new(name, e.to_string()))?,
                &mut head,
            )
            .unwrap_or(0);
            let kind = spreadsheet::describe_magic(&head[..n]);
            if matches!(
                kind,
                "a ZIP archive" | "an OLE2 (legacy Excel) file" | "a PDF document"
            ) {
                return Err(ReadError::new(name, format!("expected delimited text, but the file is {kind}; give it its real extension")));
            }
            Ok(Box::new(csv::CsvWorkbook::open(path, name)?))
        }
    }
}

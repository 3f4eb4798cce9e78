//! Spreadsheets (XLSX, XLSM, XLS, XLSB, ODS) through calamine. The format is chosen by the file's
//! first bytes, not its extension, so a PDF renamed `.xlsx` gets a sentence that says so. Cells
//! become text: cached formula values, numbers in shortest exact form, dates as ISO 8601 in
//! either the 1900 or 1904 date system.

use calamine::{Data, Range, Reader, Sheets};
use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Arc;
use taskifai_engine::raw::{RawBatchBuilder, RawStream, ReadError, Workbook, BATCH_ROWS};

/// A sheet as calamine read it; cells become text batch by batch, borrowing where they can.
type Sheet = Arc<Range<Data>>;

/// An opened spreadsheet; sheets are read on first use and kept.
pub struct SpreadsheetWorkbook {
    name: String,
    book: Sheets<Cursor<Vec<u8>>>,
    names: Vec<String>,
    loaded: Vec<Option<Sheet>>,
}

/// What the first bytes say a file is.
pub fn describe_magic(bytes: &[u8]) -> &'static str {
    match bytes {
        [b'P', b'K', 3, 4, ..] => "a ZIP archive",
        [0xD0, 0xCF, 0x11, 0xE0, ..] => "an OLE2 (legacy Excel) file",
        [b'%', b'P', b'D', b'F', ..] => "a PDF document",
        [] => "an empty file",
        b if b.starts_with(b"<") || b.starts_with(b"\xEF\xBB\xBF<") => "an HTML or XML document",
        b if std::str::from_utf8(&b[..b.len().min(512)]).is_ok() => "a text file",
        _ => "an unknown binary file",
    }
}

impl SpreadsheetWorkbook {
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self, ReadError> {
        let kind = describe_magic(&bytes);
        let err = |detail: String| ReadError::new(name, format!("not a readable spreadsheet: the file is {kind}{detail}"));
        let book = match kind {
            "a ZIP archive" | "an OLE2 (legacy Excel) file" => guard(name, || calamine::open_workbook_auto_from_rs(Cursor::new(bytes)))?.map_err(|e| err(format!(" ({e})")))?,
            _ => return Err(err(String::new())),
        };
        let names = book.sheet_names();
        let loaded = vec![None; names.len()];
        Ok(Self { name: name.to_owned(), book, names, loaded })
    }

    fn sheet(&mut self, i: usize) -> Result<Sheet, ReadError> {
        if let Some(range) = &self.loaded[i] {
            return Ok(range.clone());
        }
        let sheet = self.names[i].clone();
        let book = &mut self.book;
        let range = guard(&self.name, || book.worksheet_range(&sheet))?.map_err(|e| ReadError::new(&self.name, format!("sheet {sheet:?} cannot be read: {e}")))?;
        let range = Arc::new(range);
        self.loaded[i] = Some(range.clone());
        Ok(range)
    }
}

/// Runs a calamine call, turning a panic on a malformed file into a read error: a bad upload
/// must fail its job, never the worker.
fn guard<T>(name: &str, f: impl FnOnce() -> T) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| ReadError::new(name, "not a readable spreadsheet: the file is damaged"))
}

/// Sheet rows as cells of text, placed at their true row and column (a range may not start at
/// A1): rows above the range are empty, cells left of it are absent.
fn row_cells(range: &Range<Data>, row: usize) -> Vec<Option<Cow<'_, str>>> {
    let Some((top, left)) = range.start() else { return Vec::new() };
    if row < top as usize {
        return Vec::new();
    }
    let r = row - top as usize;
    if r >= range.height() {
        return Vec::new();
    }
    let mut out: Vec<Option<Cow<'_, str>>> = (0..left).map(|_| None).collect();
    // `get` is O(1); `rows().nth()` walks from the first row, which made big sheets quadratic.
    out.extend((0..range.width()).map(|c| range.get((r, c)).and_then(cell_text)));
    while out.last().is_some_and(Option::is_none) {
        out.pop();
    }
    out
}

/// Rows from A1 to the range's last row.
fn row_count(range: &Range<Data>) -> usize {
    range.start().map_or(0, |(top, _)| top as usize + range.height())
}

/// The widest row, counted from column A, ignoring trailing empty cells.
fn width(range: &Range<Data>) -> usize {
    let Some((_, left)) = range.start() else { return 0 };
    range.rows().map(|r| r.iter().rposition(|c| cell_text(c).is_some()).map_or(0, |i| i + 1)).max().unwrap_or(0) + left as usize
}

/// Raw batches straight from the range: no copy of the whole sheet as owned strings.
fn range_batches(range: Sheet) -> impl Iterator<Item = Result<datafusion::arrow::record_batch::RecordBatch, ReadError>> + Send {
    let (total, width) = (row_count(&range), width(&range));
    let mut next = 0;
    std::iter::from_fn(move || {
        if next >= total {
            return None;
        }
        let mut b = RawBatchBuilder::new(width);
        for row in next..(next + BATCH_ROWS).min(total) {
            let cells = row_cells(&range, row);
            b.push(row as u32 + 1, cells.iter().map(|c| c.as_deref()));
        }
        next += BATCH_ROWS;
        Some(Ok(b.finish()))
    })
}

/// One cell as text, borrowed when the cell holds text.
fn cell_text(cell: &Data) -> Option<Cow<'_, str>> {
    match cell {
        Data::String(s) => Some(Cow::Borrowed(s.as_str())).filter(|s| !s.trim().is_empty()),
        Data::Empty => None,
        other => render(other).map(Cow::Owned),
    }
}

/// One cell as text.
pub fn render(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::String(s) => Some(s.clone()).filter(|s| !s.trim().is_empty()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(render_float(*f)),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => match d.as_datetime() {
            Some(dt) if dt.time() == chrono::NaiveTime::MIN => Some(dt.date().to_string()),
            Some(dt) => Some(dt.format("%Y-%m-%dT%H:%M:%S").to_string()),
            None => Some(render_float(d.as_f64())),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(format!("#{e:?}")),
    }
}

/// Whole floats without `.0` (EANs stored as numbers), others in shortest round-trip form.
pub fn render_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e17 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

impl Workbook for SpreadsheetWorkbook {
    fn file_name(&self) -> &str {
        &self.name
    }

    fn sheet_names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn head(&mut self, sheet: usize, n: usize) -> Result<Vec<Vec<Option<String>>>, ReadError> {
        let range = self.sheet(sheet)?;
        Ok((0..row_count(&range).min(n)).map(|r| row_cells(&range, r).into_iter().map(|c| c.map(Cow::into_owned)).collect()).collect())
    }

    fn stream(&mut self, sheet: usize) -> Result<RawStream, ReadError> {
        Ok(Box::new(range_batches(self.sheet(sheet)?)))
    }

    fn row_count_hint(&self, sheet: usize) -> Option<usize> {
        self.loaded.get(sheet)?.as_ref().map(|r| row_count(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_render_like_people_typed_them() {
        assert_eq!(render_float(7350154320008.0), "7350154320008");
        assert_eq!(render_float(12.5), "12.5");
        assert_eq!(render_float(-3.0), "-3");
    }

    #[test]
    fn a_pdf_renamed_xlsx_is_named_for_what_it_is() {
        let err = SpreadsheetWorkbook::from_bytes("report.xlsx", b"%PDF-1.7 ...".to_vec()).err().unwrap();
        assert_eq!(err.to_string(), "report.xlsx: not a readable spreadsheet: the file is a PDF document");
    }

    #[test]
    fn a_truncated_zip_is_refused() {
        let err = SpreadsheetWorkbook::from_bytes("r.xlsx", b"PK\x03\x04\x14\x00garbage".to_vec()).err().unwrap();
        assert!(err.to_string().contains("the file is a ZIP archive"), "{err}");
    }
}

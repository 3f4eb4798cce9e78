//! Spreadsheets (XLSX, XLSM, XLS, XLSB, ODS) through calamine. The format is chosen by the file's
//! first bytes, not its extension, so a PDF renamed `.xlsx` gets a sentence that says so. Cells
//! become text: cached formula values, numbers in shortest exact form, dates as ISO 8601 in
//! either the 1900 or 1904 date system.

use calamine::{Data, DataRef, Range, Reader, Sheets, Xlsx};
use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Arc;
use taskifai_engine::raw::{
    max_columns, DocProperties, RawBatchBuilder, RawStream, ReadError, Workbook, BATCH_ROWS,
};

/// A sheet as calamine read it; cells become text batch by batch, borrowing where they can.
type Sheet = Arc<Range<Data>>;

/// The file's bytes, shared so a sheet can be streamed on its own thread.
#[derive(Clone)]
struct Bytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

type Book = Sheets<Cursor<Bytes>>;

/// An opened spreadsheet. XLSX sheets stream cell by cell; other formats are read whole on
/// first use and kept.
pub struct SpreadsheetWorkbook {
    name: String,
    bytes: Bytes,
    /// Lent to a streaming thread and reopened if asked for again.
    book: Option<Book>,
    names: Vec<String>,
    loaded: Vec<Option<Sheet>>,
    rows: Vec<Option<usize>>,
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
        let bytes = Bytes(Arc::new(bytes));
        let book = open_book(name, &bytes)?;
        let names = book.sheet_names();
        let loaded = vec![None; names.len()];
        let rows = vec![None; names.len()];
        Ok(Self {
            name: name.to_owned(),
            bytes,
            book: Some(book),
            names,
            loaded,
            rows,
        })
    }

    fn book(&mut self) -> Result<&mut Book, ReadError> {
        if self.book.is_none() {
            self.book = Some(open_book(&self.name, &self.bytes)?);
        }
        Ok(self.book.as_mut().expect("just opened"))
    }

    fn sheet(&mut self, i: usize) -> Result<Sheet, ReadError> {
        if let Some(range) = &self.loaded[i] {
            return Ok(range.clone());
        }
        let sheet = self.names[i].clone();
        let name = self.name.clone();
        let book = self.book()?;
        let range = guard(&name, || book.worksheet_range(&sheet))?
            .map_err(|e| ReadError::new(&name, format!("sheet {sheet:?} cannot be read: {e}")))?;
        let range = Arc::new(range);
        self.loaded[i] = Some(range.clone());
        Ok(range)
    }
}

fn open_book(name: &str, bytes: &Bytes) -> Result<Book, ReadError> {
    let kind = describe_magic(&bytes.0);
    let err = |detail: String| {
        ReadError::new(
            name,
            format!("not a readable spreadsheet: the file is {kind}{detail}"),
        )
    };
    match kind {
        "a ZIP archive" | "an OLE2 (legacy Excel) file" => guard(name, || {
            calamine::open_workbook_auto_from_rs(Cursor::new(bytes.clone()))
        })?
        .map_err(|e| err(format!(" ({e})"))),
        _ => Err(err(String::new())),
    }
}

/// Runs a calamine call, turning a panic on a malformed file into a read error: a bad upload
/// must fail its job, never the worker.
fn guard<T>(name: &str, f: impl FnOnce() -> T) -> Result<T, ReadError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|_| ReadError::new(name, "not a readable spreadsheet: the file is damaged"))
}

/// Sheet rows as cells of text, placed at their true row and column (a range may not start at
/// A1): rows above the range are empty, cells left of it are absent.
fn row_cells(range: &Range<Data>, row: usize) -> Vec<Option<Cow<'_, str>>> {
    let Some((top, left)) = range.start() else {
        return Vec::new();
    };
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
    trim_row(&mut out);
    out
}

/// Drops a row's trailing empty cells.
fn trim_row<T>(row: &mut Vec<Option<T>>) {
    while row.last().is_some_and(Option::is_none) {
        row.pop();
    }
}

/// Rows from A1 to the range's last row.
fn row_count(range: &Range<Data>) -> usize {
    range
        .start()
        .map_or(0, |(top, _)| top as usize + range.height())
}

/// The widest row, counted from column A, ignoring trailing empty cells.
fn width(range: &Range<Data>) -> usize {
    let Some((_, left)) = range.start() else {
        return 0;
    };
    range
        .rows()
        .map(|r| {
            r.iter()
                .rposition(|c| cell_text(c).is_some())
                .map_or(0, |i| i + 1)
        })
        .max()
        .unwrap_or(0)
        + left as usize
}

/// Raw batches straight from the range: no copy of the whole sheet as owned strings.
fn range_batches(
    range: Sheet,
) -> impl Iterator<Item = Result<datafusion::arrow::record_batch::RecordBatch, ReadError>> + Send {
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

/// Calls `each` with the sheet's rows from A1, at most `limit` of them (gaps between stored rows
/// become empty rows, as in a range), reading the XML cell by cell instead of building the whole
/// sheet first. Returns the sheet's declared height, if any.
fn xlsx_rows<'a>(
    x: &'a mut Xlsx<Cursor<Bytes>>,
    sheet: &str,
    limit: usize,
    each: &mut dyn FnMut(Vec<Option<Cow<'a, str>>>) -> Result<(), String>,
) -> Result<(Option<usize>, usize), String> {
    let mut cells = x
        .worksheet_cells_reader(sheet)
        .map_err(|e| format!("sheet {sheet:?} cannot be read: {e}"))?;
    let height =
        Some(cells.dimensions().end.0 as usize + 1).filter(|_| cells.dimensions().len() > 0);
    let (mut emitted, mut row): (usize, Vec<Option<Cow<'a, str>>>) = (0, Vec::new());
    let mut at = 0usize;
    loop {
        let next = cells
            .next_cell()
            .map_err(|e| format!("sheet {sheet:?}, row {}: not readable: {e}", at + 1))?;
        let Some(cell) = next else { break };
        let (r, c) = cell.get_position();
        let (r, c) = (r as usize, c as usize);
        // Excel's own limits; a damaged reference beyond them must not size a row or a gap.
        if r >= 1 << 20 || c >= 1 << 14 {
            return Err(format!("sheet {sheet:?}: a cell at row {}, column {} is beyond Excel's last row (1048576) or column (XFD)", r + 1, c + 1));
        }
        if c >= max_columns() {
            return Err(format!(
                "sheet {sheet:?}, row {} has a cell in column {}; a file may have at most {} columns (set TASKIFAI_MAX_COLUMNS to allow more)",
                r + 1,
                c + 1,
                max_columns()
            ));
        }
        while at < r && emitted < limit {
            trim_row(&mut row);
            each(std::mem::take(&mut row))?;
            emitted += 1;
            at += 1;
        }
        if emitted >= limit {
            return Ok((height, emitted));
        }
        at = r;
        if row.len() <= c {
            row.resize(c + 1, None);
        }
        row[c] = ref_text(cell.get_value());
    }
    if (!row.is_empty() || at > 0 || emitted > 0) && emitted < limit {
        trim_row(&mut row);
        each(row)?;
        emitted += 1;
    }
    Ok((height, emitted))
}

/// A sheet's raw batches, parsed on a thread of their own so reading the XML overlaps with
/// normalizing and writing what was read before.
fn xlsx_stream(mut x: Xlsx<Cursor<Bytes>>, file: String, sheet: String) -> RawStream {
    let (tx, rx) = std::sync::mpsc::sync_channel::<
        Result<datafusion::arrow::record_batch::RecordBatch, ReadError>,
    >(2);
    std::thread::Builder::new()
        .name("taskifai-xlsx".into())
        .spawn(move || {
            let mut pending: Vec<Vec<Option<Cow<'_, str>>>> = Vec::with_capacity(BATCH_ROWS);
            let mut first_row = 0u32;
            let flush = |pending: &mut Vec<Vec<Option<Cow<'_, str>>>>, first_row: &mut u32| {
                let width = pending.iter().map(Vec::len).max().unwrap_or(0);
                let mut b = RawBatchBuilder::new(width);
                for (i, row) in pending.drain(..).enumerate() {
                    b.push(*first_row + i as u32 + 1, row);
                }
                *first_row += b.len() as u32;
                b.finish()
            };
            let tx2 = tx.clone();
            let result = guard(&file, || {
                xlsx_rows(&mut x, &sheet, usize::MAX, &mut |row| {
                    pending.push(row);
                    if pending.len() == BATCH_ROWS {
                        tx2.send(Ok(flush(&mut pending, &mut first_row)))
                            .map_err(|_| "the reader stopped".to_owned())?;
                    }
                    Ok(())
                })
            });
            let last = match result {
                Ok(Ok(_)) if pending.is_empty() => return,
                Ok(Ok(_)) => Ok(flush(&mut pending, &mut first_row)),
                Ok(Err(m)) => Err(ReadError::new(&file, m)),
                Err(e) => Err(e),
            };
            let _ = tx.send(last);
        })
        .expect("the system can start a thread");
    Box::new(rx.into_iter())
}

/// A streamed cell as text, borrowed when it is a shared string.
fn ref_text<'a>(cell: &DataRef<'a>) -> Option<Cow<'a, str>> {
    match cell {
        DataRef::SharedString(s) => Some(Cow::Borrowed(*s)).filter(|s| !s.trim().is_empty()),
        DataRef::Empty => None,
        other => render(&Data::from(other.clone())).map(Cow::Owned),
    }
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
        let (name, sheet_name) = (self.name.clone(), self.names[sheet].clone());
        if let Book::Xlsx(x) = self.book()? {
            let mut out = Vec::new();
            let (height, _) = guard(&name, || {
                xlsx_rows(x, &sheet_name, n, &mut |row| {
                    out.push(row.into_iter().map(|c| c.map(Cow::into_owned)).collect());
                    Ok(())
                })
            })?
            .map_err(|m| ReadError::new(&name, m))?;
            self.rows[sheet] = height;
            return Ok(out);
        }
        let range = self.sheet(sheet)?;
        Ok((0..row_count(&range).min(n))
            .map(|r| {
                row_cells(&range, r)
                    .into_iter()
                    .map(|c| c.map(Cow::into_owned))
                    .collect()
            })
            .collect())
    }

    fn properties(&mut self) -> DocProperties {
        let name = self.name.clone();
        let Ok(Book::Xlsx(x)) = self.book() else {
            return DocProperties::default();
        };
        // Properties only help find a period: a damaged docProps part means there are none.
        match guard(&name, || x.workbook_properties()) {
            Ok(Ok(p)) => DocProperties {
                created: p.created,
                modified: p.modified,
                title: p.title,
                subject: p.subject,
            },
            _ => DocProperties::default(),
        }
    }

    fn stream(&mut self, sheet: usize) -> Result<RawStream, ReadError> {
        if let Some(Book::Xlsx(_)) = &self.book {
            let Some(Book::Xlsx(x)) = self.book.take() else {
                unreachable!("checked above")
            };
            return Ok(xlsx_stream(x, self.name.clone(), self.names[sheet].clone()));
        }
        let range = self.sheet(sheet)?;
        if width(&range) > max_columns() {
            return Err(ReadError::new(
                &self.name,
                format!(
                    "sheet {:?} has cells in column {}; a file may have at most {} columns (set TASKIFAI_MAX_COLUMNS to allow more)",
                    self.names[sheet],
                    width(&range),
                    max_columns()
                ),
            ));
        }
        Ok(Box::new(range_batches(range)))
    }

    fn row_count_hint(&self, sheet: usize) -> Option<usize> {
        self.rows
            .get(sheet)
            .copied()
            .flatten()
            .or_else(|| self.loaded.get(sheet)?.as_ref().map(|r| row_count(r)))
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
        let err = SpreadsheetWorkbook::from_bytes("report.xlsx", b"%PDF-1.7 ...".to_vec())
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "report.xlsx: not a readable spreadsheet: the file is a PDF document"
        );
    }

    /// A sheet that starts at C3, skips rows, mixes shared strings, numbers, dates and blanks.
    fn sparse_workbook() -> Vec<u8> {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet().set_name("Data").expect("valid name");
        ws.write_string(2, 2, "Header A").unwrap();
        ws.write_string(2, 4, "Header B").unwrap();
        ws.write_number(3, 2, 7350154320008.0).unwrap();
        ws.write_string(3, 3, "   ").unwrap();
        ws.write_number(6, 4, 12.5).unwrap();
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2025, 4, 30).unwrap();
        ws.write_datetime_with_format(
            7,
            2,
            &date,
            &rust_xlsxwriter::Format::new().set_num_format("dd/mm/yyyy"),
        )
        .unwrap();
        for r in 8..(8 + 2 * BATCH_ROWS as u32) {
            ws.write_string(r, 3, format!("row {r}")).unwrap();
        }
        wb.save_to_buffer().unwrap()
    }

    #[test]
    fn streamed_xlsx_rows_equal_the_whole_sheet_read() {
        let bytes = sparse_workbook();
        let mut streamed = SpreadsheetWorkbook::from_bytes("s.xlsx", bytes.clone()).unwrap();
        let head = streamed.head(0, 9).unwrap();
        let got: Vec<_> = streamed
            .stream(0)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let mut whole = SpreadsheetWorkbook::from_bytes("s.xlsx", bytes).unwrap();
        let range = whole.sheet(0).unwrap();
        let want_head: Vec<Vec<Option<String>>> = (0..9)
            .map(|r| {
                row_cells(&range, r)
                    .into_iter()
                    .map(|c| c.map(Cow::into_owned))
                    .collect()
            })
            .collect();
        assert_eq!(head, want_head);
        assert_eq!(head[3], vec![None, None, Some("7350154320008".into())]);
        assert_eq!(head[7], vec![None, None, Some("2025-04-30".into())]);
        let want: Vec<_> = range_batches(range).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            // Widths may differ by trailing empty columns; the cells must not.
            assert_eq!(g.num_rows(), w.num_rows());
            for c in 0..g.num_columns().max(w.num_columns()) {
                match (g.columns().get(c), w.columns().get(c)) {
                    (Some(a), Some(b)) => assert_eq!(a, b, "column {c}"),
                    (Some(x), None) | (None, Some(x)) => {
                        assert_eq!(x.null_count(), x.len(), "column {c}")
                    }
                    (None, None) => unreachable!(),
                }
            }
        }
        // The workbook can still be read after its sheet was streamed.
        assert_eq!(streamed.head(0, 3).unwrap().len(), 3);
    }

    #[test]
    fn a_truncated_zip_is_refused() {
        let err = SpreadsheetWorkbook::from_bytes("r.xlsx", b"PK\x03\x04\x14\x00garbage".to_vec())
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("the file is a ZIP archive"),
            "{err}"
        );
    }
}

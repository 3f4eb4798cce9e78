//! Raw cells as read from a file, before any spec touches them, and the contract readers fulfil.
//!
//! A sheet is a stream of Arrow [`RecordBatch`]es: column [`ROW`] holds the 1-based source row
//! number, then one nullable UTF-8 column per sheet column (`c1`, `c2`, ...). Typing is the
//! spec's job, so readers render every cell as text: numbers in their shortest exact form
//! (`7350154320008`, `12.5`), dates and times as ISO 8601. Empty cells are null.

use datafusion::arrow::array::{ArrayRef, StringBuilder, UInt32Builder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Column holding the 1-based source row number.
pub const ROW: &str = "__row";

/// Rows per raw batch; spreadsheets and CSV alike. Each batch costs a hand-off between
/// threads at every stage (reader, normalizers, partition writers): 4096 rows load the 1M-row
/// benchmark about 9% faster than 2048. 8192 was no faster and peaks 40 MB higher; it was
/// also once slower when normalization kept per-field `Vec`s (200 KB allocations per batch).
pub const BATCH_ROWS: usize = 4096;

/// A reader failure: the file could not be read as the format it claims to be.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ReadError {
    pub file: String,
    pub message: String,
}

impl ReadError {
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            message: message.into(),
        }
    }
}

/// Most columns a sheet or CSV may have, unless `TASKIFAI_MAX_COLUMNS` says otherwise (Excel's
/// own limit is 16,384). A sell-out file has a few dozen; a row with thousands of cells is a
/// damaged or hostile file, and each column of a batch costs memory whether used or not.
pub const DEFAULT_MAX_COLUMNS: usize = 1_024;

/// The column limit in force, read once.
pub fn max_columns() -> usize {
    static MAX: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("TASKIFAI_MAX_COLUMNS")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(DEFAULT_MAX_COLUMNS)
    })
}

/// The error for a row wider than [`max_columns`].
pub fn too_wide(file: &str, sheet: Option<&str>, row: usize, columns: usize) -> ReadError {
    let sheet = sheet.map(|s| format!("sheet {s:?}, ")).unwrap_or_default();
    ReadError::new(
        file,
        format!(
            "{sheet}row {row} has {columns} columns; a file may have at most {} (set TASKIFAI_MAX_COLUMNS to allow more)",
            max_columns()
        ),
    )
}

/// Raw batches of one sheet, in row order.
pub type RawStream = Box<dyn Iterator<Item = Result<RecordBatch, ReadError>> + Send>;

/// A spreadsheet's document properties that can say which period it reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocProperties {
    /// When the document was created and last saved (ISO 8601, `2025-05-02T09:14:00Z`).
    pub created: Option<String>,
    pub modified: Option<String>,
    pub title: Option<String>,
    pub subject: Option<String>,
}

/// An opened file: its sheets, their first rows, and a stream over each.
pub trait Workbook: Send {
    /// The file's name as given by the user, used in every message.
    fn file_name(&self) -> &str;
    /// Sheet names in file order; a CSV has one sheet named after its format. By default one
    /// unnamed sheet (Parquet, JSON lines).
    fn sheet_names(&self) -> Vec<String> {
        vec![String::new()]
    }
    /// Up to `n` first rows of a sheet as text cells, for detection, headers and periods. By
    /// default the first rows of [`Workbook::stream`]; readers that can stop early override it.
    fn head(&mut self, sheet: usize, n: usize) -> Result<Vec<Vec<Option<String>>>, ReadError> {
        head_of(self.stream(sheet)?, n)
    }
    /// All rows of a sheet, from row 1.
    fn stream(&mut self, sheet: usize) -> Result<RawStream, ReadError>;
    /// The document's properties (XLSX `docProps/core.xml`); none for other formats. Read
    /// before streaming.
    fn properties(&mut self) -> DocProperties {
        DocProperties::default()
    }
    /// Total rows if known without reading (for progress bars).
    fn row_count_hint(&self, _sheet: usize) -> Option<usize> {
        None
    }
}

/// The first `n` rows of a stream as text cells.
pub fn head_of(stream: RawStream, n: usize) -> Result<Vec<Vec<Option<String>>>, ReadError> {
    use datafusion::arrow::array::{Array, AsArray};
    let mut rows = Vec::new();
    for batch in stream {
        let batch = batch?;
        for r in 0..batch.num_rows() {
            if rows.len() >= n {
                return Ok(rows);
            }
            rows.push(
                (1..batch.num_columns())
                    .map(|c| {
                        let a = batch.column(c).as_string::<i32>();
                        a.is_valid(r).then(|| a.value(r).to_owned())
                    })
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// The schema of a raw batch with `width` cell columns.
pub fn raw_schema(width: usize) -> SchemaRef {
    let mut fields = vec![Field::new(ROW, DataType::UInt32, false)];
    fields.extend((1..=width).map(|i| Field::new(format!("c{i}"), DataType::Utf8, true)));
    Arc::new(Schema::new(fields))
}

/// Builds raw batches from rows of cells; rows shorter than `width` are padded with nulls and
/// cells beyond `width` are dropped (callers choose `width` as the widest row they know).
pub struct RawBatchBuilder {
    width: usize,
    rows: UInt32Builder,
    cols: Vec<StringBuilder>,
    len: usize,
}

impl RawBatchBuilder {
    pub fn new(width: usize) -> Self {
        Self {
            width,
            rows: UInt32Builder::with_capacity(BATCH_ROWS),
            cols: (0..width)
                .map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16))
                .collect(),
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one row; `cells` yields the row's cells left to right.
    pub fn push<S: AsRef<str>>(&mut self, row: u32, cells: impl IntoIterator<Item = Option<S>>) {
        self.rows.append_value(row);
        let mut n = 0;
        for (col, cell) in self.cols.iter_mut().zip(cells) {
            match cell.as_ref().map(AsRef::as_ref) {
                Some(c) if !crate::values::trim(c).is_empty() => col.append_value(c),
                _ => col.append_null(),
            }
            n += 1;
        }
        for col in &mut self.cols[n..] {
            col.append_null();
        }
        self.len += 1;
    }

    pub fn finish(&mut self) -> RecordBatch {
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(self.rows.finish())];
        arrays.extend(
            self.cols
                .iter_mut()
                .map(|c| Arc::new(c.finish()) as ArrayRef),
        );
        self.len = 0;
        RecordBatch::try_new(raw_schema(self.width), arrays).expect("raw batch matches its schema")
    }
}

/// A sheet held in memory: spec examples, tests and spreadsheet readers use it.
#[derive(Debug, Clone, Default)]
pub struct MemorySheet {
    pub name: String,
    pub rows: Arc<Vec<Vec<Option<String>>>>,
}

impl MemorySheet {
    pub fn new(name: impl Into<String>, rows: Vec<Vec<Option<String>>>) -> Self {
        Self {
            name: name.into(),
            rows: Arc::new(rows),
        }
    }
}

/// A workbook held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryWorkbook {
    pub file_name: String,
    pub sheets: Vec<MemorySheet>,
}

impl Workbook for MemoryWorkbook {
    fn file_name(&self) -> &str {
        &self.file_name
    }

    fn sheet_names(&self) -> Vec<String> {
        self.sheets.iter().map(|s| s.name.clone()).collect()
    }

    fn head(&mut self, sheet: usize, n: usize) -> Result<Vec<Vec<Option<String>>>, ReadError> {
        Ok(self.sheets[sheet].rows.iter().take(n).cloned().collect())
    }

    fn stream(&mut self, sheet: usize) -> Result<RawStream, ReadError> {
        Ok(Box::new(memory_batches(self.sheets[sheet].rows.clone())))
    }

    fn row_count_hint(&self, sheet: usize) -> Option<usize> {
        Some(self.sheets[sheet].rows.len())
    }
}

/// Splits in-memory rows into raw batches of [`BATCH_ROWS`].
pub fn memory_batches(
    rows: Arc<Vec<Vec<Option<String>>>>,
) -> impl Iterator<Item = Result<RecordBatch, ReadError>> + Send {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut next = 0;
    std::iter::from_fn(move || {
        if next >= rows.len() {
            return None;
        }
        let mut b = RawBatchBuilder::new(width);
        for (i, row) in rows.iter().enumerate().skip(next).take(BATCH_ROWS) {
            b.push(i as u32 + 1, row.iter().map(Option::as_deref));
        }
        next += BATCH_ROWS;
        Some(Ok(b.finish()))
    })
}

//! Delimited text: encoding (BOM, UTF-16 by its zero bytes, Windows-1252 when not UTF-8) and
//! delimiter (`,` `;` tab `|`) are sniffed from the first bytes, then the file streams in
//! bounded memory as raw batches.

use datafusion::arrow::array::{
    ArrayRef, BooleanBufferBuilder, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::buffer::{Buffer, NullBuffer, OffsetBuffer};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};
use encoding_rs_io::DecodeReaderBytesBuilder;
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskifai_engine::raw::{
    max_columns, raw_schema, too_wide, RawStream, ReadError, Workbook, BATCH_ROWS,
};

/// Bytes read to sniff the encoding and delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// A CSV (or TSV, or `;`/`|`-separated) file.
pub struct CsvWorkbook {
    path: PathBuf,
    name: String,
    encoding: &'static Encoding,
    delimiter: u8,
}

/// Guesses the text encoding from a BOM, zero bytes (UTF-16 without BOM), or UTF-8 validity.
/// `truncated` says whether `head` is only the start of the file.
pub fn sniff_encoding(head: &[u8], truncated: bool) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(head) {
        return enc;
    }
    let sample = &head[..head.len().min(4096)];
    let zeros_even = sample.iter().step_by(2).filter(|b| **b == 0).count();
    let zeros_odd = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|b| **b == 0)
        .count();
    if sample.len() >= 4 && zeros_odd > sample.len() / 4 {
        return UTF_16LE;
    }
    if sample.len() >= 4 && zeros_even > sample.len() / 4 {
        return UTF_16BE;
    }
    // A cut in the middle of a multi-byte character at the end of the sample is still UTF-8.
    match std::str::from_utf8(head) {
        Ok(_) => UTF_8,
        Err(e) if e.error_len().is_none() && truncated => UTF_8,
        Err(_) => WINDOWS_1252,
    }
}

/// Picks the delimiter that splits the first lines into the most consistent number of fields.
pub fn sniff_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(30)
        .collect();
    let mut best = (b',', 0usize, 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines
            .iter()
            .map(|l| count_outside_quotes(l, d as char))
            .collect();
        let Some(&first) = counts.first() else {
            continue;
        };
        let consistent = counts.iter().filter(|c| **c == first && **c > 0).count();
        if (consistent, first) > (best.1, best.2) {
            best = (d, consistent, first);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, d: char) -> usize {
    let mut quoted = false;
    line.chars()
        .filter(|c| {
            if *c == '"' {
                quoted = !quoted;
            }
            !quoted && *c == d
        })
        .count()
}

impl CsvWorkbook {
    pub fn open(path: &Path, name: &str) -> Result<Self, ReadError> {
        let err = |m: String| ReadError::new(name, m);
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        File::open(path)
            .and_then(|f| f.take(SNIFF_BYTES as u64).read_to_end(&mut head))
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if head.is_empty() {
            return Err(err("the file is empty".into()));
        }
        let encoding = sniff_encoding(&head, head.len() == SNIFF_BYTES);
        let (text, _, _) = encoding.decode(&head);
        let delimiter = sniff_delimiter(&text);
        Ok(Self {
            path: path.to_owned(),
            name: name.to_owned(),
            encoding,
            delimiter,
        })
    }

    /// The sniffed encoding and delimiter, for messages and tests.
    pub fn dialect(&self) -> (&'static str, char) {
        (self.encoding.name(), self.delimiter as char)
    }

    fn reader(&self) -> Result<csv::Reader<Box<dyn Read + Send>>, ReadError> {
        let mut file = BufReader::with_capacity(
            1 << 16,
            File::open(&self.path)
                .map_err(|e| ReadError::new(&self.name, format!("cannot read: {e}")))?,
        );
        let boxed: Box<dyn Read + Send> = if self.encoding == UTF_8 {
            // UTF-8 needs no transcoding: cells are checked one by one as they are read.
            let mut bom = Vec::with_capacity(3);
            (&mut file)
                .take(3)
                .read_to_end(&mut bom)
                .map_err(|e| ReadError::new(&self.name, format!("cannot read: {e}")))?;
            if bom == b"\xEF\xBB\xBF" {
                Box::new(file)
            } else {
                Box::new(std::io::Cursor::new(bom).chain(file))
            }
        } else {
            Box::new(
                DecodeReaderBytesBuilder::new()
                    .encoding(Some(self.encoding))
                    .bom_sniffing(true)
                    .strip_bom(true)
                    .build(file),
            )
        };
        Ok(csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .buffer_capacity(1 << 16)
            .from_reader(boxed))
    }
}

/// A cell as text; bytes that are not UTF-8 become U+FFFD, as a transcoding reader would make them.
fn cell(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl Workbook for CsvWorkbook {
    fn file_name(&self) -> &str {
        &self.name
    }

    fn sheet_names(&self) -> Vec<String> {
        vec![String::new()]
    }

    fn head(&mut self, _sheet: usize, n: usize) -> Result<Vec<Vec<Option<String>>>, ReadError> {
        let mut out = Vec::new();
        let mut rec = csv::ByteRecord::new();
        let mut r = self.reader()?;
        while out.len() < n {
            match r.read_byte_record(&mut rec) {
                Ok(true) if rec.len() > max_columns() => {
                    return Err(too_wide(&self.name, None, out.len() + 1, rec.len()))
                }
                Ok(true) => out.push(
                    rec.iter()
                        .map(|c| Some(cell(c).into_owned()).filter(|c| !c.trim().is_empty()))
                        .collect(),
                ),
                Ok(false) => break,
                Err(e) => return Err(csv_error(&self.name, out.len() + 1, e)),
            }
        }
        Ok(out)
    }

    fn stream(&mut self, _sheet: usize) -> Result<RawStream, ReadError> {
        let mut r = self.reader()?;
        let name = self.name.clone();
        let mut row = 0u32;
        let mut done = false;
        // Records are read in place and reused from batch to batch: no allocation per row.
        let mut records: Vec<csv::ByteRecord> =
            (0..BATCH_ROWS).map(|_| csv::ByteRecord::new()).collect();
        Ok(Box::new(std::iter::from_fn(move || {
            if done {
                return None;
            }
            let mut len = 0;
            while len < BATCH_ROWS {
                match r.read_byte_record(&mut records[len]) {
                    Ok(true) if records[len].len() > max_columns() => {
                        done = true;
                        let at = row as usize + len + 1;
                        return Some(Err(too_wide(&name, None, at, records[len].len())));
                    }
                    Ok(true) => len += 1,
                    Ok(false) => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        done = true;
                        return Some(Err(csv_error(&name, row as usize + len + 1, e)));
                    }
                }
            }
            if len == 0 {
                return None;
            }
            let first = row + 1;
            row += len as u32;
            Some(Ok(raw_batch(&records[..len], first)))
        })))
    }
}

/// Records as a raw batch, column by column: each column's bytes are checked as UTF-8 in one
/// pass when the array is built, instead of cell by cell. A column with bytes that are not
/// UTF-8 is rebuilt cell by cell with U+FFFD in their place.
fn raw_batch(records: &[csv::ByteRecord], first_row: u32) -> RecordBatch {
    let width = records.iter().map(csv::ByteRecord::len).max().unwrap_or(0);
    let mut columns: Vec<ArrayRef> = vec![Arc::new(UInt32Array::from_iter_values(
        first_row..first_row + records.len() as u32,
    ))];
    for c in 0..width {
        let mut offsets = Vec::with_capacity(records.len() + 1);
        let mut values = Vec::with_capacity(records.len() * 16);
        let mut valid = BooleanBufferBuilder::new(records.len());
        offsets.push(0i32);
        for rec in records {
            let bytes = rec.get(c).unwrap_or_default();
            let filled = !blank(bytes);
            if filled {
                values.extend_from_slice(bytes);
            }
            valid.append(filled);
            offsets.push(i32::try_from(values.len()).expect("a batch's column is under 2 GB"));
        }
        let nulls = NullBuffer::new(valid.finish());
        let array = StringArray::try_new(
            OffsetBuffer::new(offsets.into()),
            Buffer::from_vec(values),
            Some(nulls),
        )
        .unwrap_or_else(|_| {
            records
                .iter()
                .map(|r| r.get(c).map(cell).filter(|s| !s.trim().is_empty()))
                .collect()
        });
        columns.push(Arc::new(array));
    }
    RecordBatch::try_new(raw_schema(width), columns).expect("raw batch matches its schema")
}

/// An empty or whitespace-only cell, which readers turn into null.
fn blank(bytes: &[u8]) -> bool {
    match bytes.first() {
        None => true,
        Some(&b) if b > b' ' && b < 0x80 => false,
        Some(_) => cell(bytes).trim().is_empty(),
    }
}

fn csv_error(name: &str, row: usize, e: csv::Error) -> ReadError {
    ReadError::new(
        name,
        format!("row {row}: not readable as delimited text: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_sniffed() {
        assert_eq!(sniff_encoding(b"\xEF\xBB\xBFa,b", false), UTF_8);
        assert_eq!(sniff_encoding(b"\xFF\xFEa\0,\0b\0", false), UTF_16LE);
        assert_eq!(sniff_encoding(b"a\0,\0b\0c\0", false), UTF_16LE);
        assert_eq!(sniff_encoding("Prix,Café".as_bytes(), false), UTF_8);
        assert_eq!(sniff_encoding(b"Prix,Caf\xE9", false), WINDOWS_1252);
        // A sample cut inside a UTF-8 character is still UTF-8.
        assert_eq!(sniff_encoding(&"Prix,Café".as_bytes()[..9], true), UTF_8);
    }

    #[test]
    fn cells_become_text_or_null_and_bad_bytes_become_replacement_characters() {
        let mut rows = Vec::new();
        for r in [
            &[&b"a"[..], b"  ", b"\xC3\xA9t\xC3\xA9"][..],
            &[b"\xE9t\xE9", b"\xC2\xA0", b"x"],
            &[b"z"],
        ] {
            rows.push(csv::ByteRecord::from(r.to_vec()));
        }
        let b = raw_batch(&rows, 7);
        let rows_col: Vec<u32> = b
            .column(0)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap()
            .values()
            .to_vec();
        assert_eq!(rows_col, vec![7, 8, 9]);
        let col = |i: usize| {
            b.column(i)
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            col(1),
            vec![
                Some("a".into()),
                Some("\u{FFFD}t\u{FFFD}".into()),
                Some("z".into())
            ]
        );
        assert_eq!(col(2), vec![None, None, None]);
        assert_eq!(col(3), vec![Some("été".into()), Some("x".into()), None]);
    }

    #[test]
    fn delimiters_are_sniffed() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n"), b';');
        assert_eq!(sniff_delimiter("a,b,c\n\"x;y\",2,3\n"), b',');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b\n1|2\n"), b'|');
    }
}

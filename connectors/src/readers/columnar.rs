//! Parquet and JSON lines: already tabular, so row 1 of the raw sheet is made from the column
//! names and data rows follow from row 2, streamed batch by batch.

use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskifai_engine::raw::{
    raw_schema, RawBatchBuilder, RawStream, ReadError, Workbook, BATCH_ROWS,
};

/// A Parquet file.
pub struct ParquetWorkbook {
    path: PathBuf,
    name: String,
    columns: Vec<String>,
}

impl ParquetWorkbook {
    pub fn open(path: &Path, name: &str) -> Result<Self, ReadError> {
        let b = builder(path, name)?;
        let columns = b
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        Ok(Self {
            path: path.to_owned(),
            name: name.to_owned(),
            columns,
        })
    }
}

fn builder(path: &Path, name: &str) -> Result<ParquetRecordBatchReaderBuilder<File>, ReadError> {
    let f = File::open(path).map_err(|e| ReadError::new(name, format!("cannot read: {e}")))?;
    ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| ReadError::new(name, format!("not a readable Parquet file: {e}")))
}

/// The first `n` rows of a raw stream (header row included) as text cells.
fn header_batch(columns: &[String]) -> RecordBatch {
    let mut b = RawBatchBuilder::new(columns.len());
    b.push(1, columns.iter().map(|c| Some(c.as_str())));
    b.finish()
}

impl Workbook for ParquetWorkbook {
    fn file_name(&self) -> &str {
        &self.name
    }

    fn stream(&mut self, _sheet: usize) -> Result<RawStream, ReadError> {
        let name = self.name.clone();
        let reader = builder(&self.path, &name)?
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| ReadError::new(&name, e.to_string()))?;
        let width = self.columns.len();
        let mut next_row = 2u32;
        let data = reader.map(move |b| {
            let b =
                b.map_err(|e| ReadError::new(&name, format!("Parquet data cannot be read: {e}")))?;
            let rows = UInt32Array::from_iter_values(next_row..next_row + b.num_rows() as u32);
            next_row += b.num_rows() as u32;
            let mut cols: Vec<ArrayRef> = vec![Arc::new(rows)];
            for c in b.columns() {
                cols.push(cast(c, &DataType::Utf8).map_err(|e| {
                    ReadError::new(&name, format!("column cannot be read as text: {e}"))
                })?);
            }
            RecordBatch::try_new(raw_schema(width), cols)
                .map_err(|e| ReadError::new(&name, e.to_string()))
        });
        Ok(Box::new(
            std::iter::once(Ok(header_batch(&self.columns))).chain(data),
        ))
    }
}

/// A JSON lines file: one object per line; the first object's keys are the columns.
pub struct JsonLinesWorkbook {
    path: PathBuf,
    name: String,
    columns: Vec<String>,
}

impl JsonLinesWorkbook {
    pub fn open(path: &Path, name: &str) -> Result<Self, ReadError> {
        let f = File::open(path).map_err(|e| ReadError::new(name, format!("cannot read: {e}")))?;
        let first = BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| ReadError::new(name, "the file is empty"))?;
        let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&first)
            .map_err(|e| {
                ReadError::new(name, format!("row 2: expected a JSON object per line: {e}"))
            })?;
        Ok(Self {
            path: path.to_owned(),
            name: name.to_owned(),
            columns: obj.keys().cloned().collect(),
        })
    }
}

fn json_cell(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

impl Workbook for JsonLinesWorkbook {
    fn file_name(&self) -> &str {
        &self.name
    }

    fn stream(&mut self, _sheet: usize) -> Result<RawStream, ReadError> {
        let name = self.name.clone();
        let f = File::open(&self.path)
            .map_err(|e| ReadError::new(&name, format!("cannot read: {e}")))?;
        let mut lines = BufReader::new(f)
            .lines()
            .enumerate()
            .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()));
        let columns = self.columns.clone();
        let mut failed = false;
        let data = std::iter::from_fn(move || {
            if failed {
                return None;
            }
            let mut b = RawBatchBuilder::new(columns.len());
            for (i, line) in lines.by_ref() {
                let row = i as u32 + 2;
                let parsed = line.map_err(|e| e.to_string()).and_then(|l| {
                    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&l)
                        .map_err(|e| e.to_string())
                });
                match parsed {
                    Ok(obj) => {
                        let cells: Vec<Option<String>> =
                            columns.iter().map(|c| json_cell(obj.get(c))).collect();
                        b.push(row, cells.iter().map(Option::as_deref));
                    }
                    Err(e) => {
                        failed = true;
                        return Some(Err(ReadError::new(
                            &name,
                            format!("row {row}: expected a JSON object: {e}"),
                        )));
                    }
                }
                if b.len() >= BATCH_ROWS {
                    break;
                }
            }
            (!b.is_empty()).then(|| Ok(b.finish()))
        });
        Ok(Box::new(
            std::iter::once(Ok(header_batch(&self.columns))).chain(data),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};

    #[test]
    fn json_lines_and_parquet_read_as_a_header_row_then_data() {
        let dir = tempfile::tempdir().unwrap();
        let jsonl = dir.path().join("s.jsonl");
        std::fs::write(
            &jsonl,
            "{\"EAN\":\"7350154320008\",\"QTY\":2}\n\n{\"EAN\":null,\"QTY\":-1}\n",
        )
        .unwrap();
        let mut wb = crate::readers::open(&jsonl, "s.jsonl").unwrap();
        let head = wb.head(0, 10).unwrap();
        assert_eq!(
            head,
            vec![
                vec![Some("EAN".into()), Some("QTY".into())],
                vec![Some("7350154320008".into()), Some("2".into())],
                vec![None, Some("-1".into())]
            ]
        );

        let schema = Arc::new(Schema::new(vec![
            Field::new("EAN", DataType::Utf8, true),
            Field::new("QTY", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![Some("7350154320008"), None])),
                Arc::new(Int64Array::from(vec![2, -1])),
            ],
        )
        .unwrap();
        let pq = dir.path().join("s.parquet");
        let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
            File::create(&pq).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let mut wb = crate::readers::open(&pq, "s.parquet").unwrap();
        assert_eq!(wb.head(0, 10).unwrap(), head);
        let rows: Vec<u32> = wb
            .stream(0)
            .unwrap()
            .flat_map(|b| {
                b.unwrap()
                    .column(0)
                    .as_primitive::<datafusion::arrow::datatypes::UInt32Type>()
                    .values()
                    .to_vec()
            })
            .collect();
        assert_eq!(rows, vec![1, 2, 3]);
    }
}

//! The error report of a load: one row per rejected row or warning, with the same columns
//! wherever it is written (the lake's CSV and Parquet, the tenant database, the API's
//! downloads).

use crate::lake::{Lake, LakeError};
use crate::tenant_id::TenantId;
use datafusion::arrow::array::{ArrayRef, StringArray, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::borrow::Cow;
use std::sync::Arc;
use taskifai_engine::issues::Issue;

/// The report's columns, in order.
pub const COLUMNS: [&str; 8] = [
    "file",
    "sheet",
    "source_row",
    "column",
    "raw_value",
    "rule",
    "severity",
    "message",
];

/// The report's Arrow schema.
pub fn schema() -> SchemaRef {
    let fields = COLUMNS.iter().map(|&name| match name {
        "source_row" => Field::new(name, DataType::UInt32, true),
        "file" | "rule" | "severity" | "message" => Field::new(name, DataType::Utf8, false),
        _ => Field::new(name, DataType::Utf8, true),
    });
    Arc::new(Schema::new(fields.collect::<Vec<_>>()))
}

/// The issues as one Arrow batch.
pub fn batch(issues: &[Issue]) -> RecordBatch {
    let s = |f: &dyn Fn(&Issue) -> Option<String>| {
        Arc::new(issues.iter().map(f).collect::<StringArray>()) as ArrayRef
    };
    let cols = vec![
        s(&|i| Some(i.at.file.clone())),
        s(&|i| i.at.sheet.clone()),
        Arc::new(issues.iter().map(|i| i.at.row).collect::<UInt32Array>()) as ArrayRef,
        s(&|i| i.at.column.clone()),
        s(&|i| i.value.clone()),
        s(&|i| Some(i.rule.clone())),
        s(&|i| Some(i.severity.as_str().to_owned())),
        s(&|i| Some(i.message.clone())),
    ];
    RecordBatch::try_new(schema(), cols).expect("report matches its schema")
}

/// Where a batch's report lives in the lake.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReportPaths {
    pub csv: String,
    pub parquet: String,
}

impl ReportPaths {
    pub fn of(tenant: &TenantId, batch_id: &str) -> Self {
        let base = format!("{}/_errors/{batch_id}", tenant.lake_prefix());
        Self {
            csv: format!("{base}.csv"),
            parquet: format!("{base}.errors.parquet"),
        }
    }

    /// Deletes both files; a missing one is not an error.
    pub async fn delete(&self, store: &dyn ObjectStore) {
        for p in [&self.csv, &self.parquet] {
            let _ = store.delete(&StorePath::from(p.as_str())).await;
        }
    }
}

/// A cell made safe for spreadsheets: a value that starts like a formula (`=`, `+`, `-`, `@`,
/// tab, carriage return) gets a leading `'`, as OWASP recommends for CSV injection, so that
/// opening the report never runs a rejected row's `=HYPERLINK(...)`. Plain negative numbers
/// stay as they are.
pub fn csv_safe(value: &str) -> Cow<'_, str> {
    let risky = match value.as_bytes().first() {
        Some(b'=' | b'+' | b'@' | b'\t' | b'\r') => true,
        Some(b'-') => value[1..].parse::<f64>().is_err(),
        _ => false,
    };
    if risky {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// The report as CSV, formula-like values neutralised.
pub fn to_csv(issues: &[Issue]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS)?;
    for i in issues {
        let row = i.at.row.map(|r| r.to_string()).unwrap_or_default();
        fn opt(v: &Option<String>) -> Cow<'_, str> {
            v.as_deref().map(csv_safe).unwrap_or_default()
        }
        let cells = [
            csv_safe(&i.at.file),
            opt(&i.at.sheet),
            Cow::Owned(row),
            opt(&i.at.column),
            opt(&i.value),
            csv_safe(&i.rule),
            Cow::Borrowed(i.severity.as_str()),
            csv_safe(&i.message),
        ];
        w.write_record(cells.iter().map(|c| c.as_bytes()))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Writes the report as CSV and Parquet; `None` when there is nothing to report.
pub async fn write(
    lake: &Lake,
    tenant: &TenantId,
    batch_id: &str,
    issues: &[Issue],
) -> Result<Option<ReportPaths>, LakeError> {
    if issues.is_empty() {
        return Ok(None);
    }
    let csv = to_csv(issues).map_err(|e| LakeError::Writer(format!("error report CSV: {e}")))?;
    let batch = batch(issues);
    let mut pq = Vec::new();
    {
        let mut w =
            datafusion::parquet::arrow::ArrowWriter::try_new(&mut pq, batch.schema(), None)?;
        w.write(&batch)?;
        w.close()?;
    }
    let paths = ReportPaths::of(tenant, batch_id);
    let store = lake.store();
    store
        .put(&StorePath::from(paths.csv.as_str()), PutPayload::from(csv))
        .await?;
    store
        .put(
            &StorePath::from(paths.parquet.as_str()),
            PutPayload::from(pq),
        )
        .await?;
    Ok(Some(paths))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        for bad in [
            "=HYPERLINK(\"x\")",
            "=cmd|' /C calc'!A0",
            "@SUM(A1)",
            "+1+1",
            "-1+2",
            "\t=1",
        ] {
            assert!(csv_safe(bad).starts_with('\''), "{bad}");
        }
        for ok in ["-12.5", "-3", "BBGOT100", "7.35015E+12", ""] {
            assert_eq!(csv_safe(ok), ok);
        }
    }
}

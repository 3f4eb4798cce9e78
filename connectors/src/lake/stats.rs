//! Delta file statistics (`numRecords`, `minValues`, `maxValues`, `nullCount`) from the
//! statistics the Parquet writer already keeps per row group, so other engines can skip files
//! without the load reading its rows twice.

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::common::ScalarValue;
use datafusion::parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use datafusion::parquet::file::metadata::ParquetMetaData;
use serde_json::{json, Map, Value};

/// Text statistics at least this long may have been truncated by the writer, so they are left
/// out rather than risk a maximum below the real one.
const TRUNCATED_AT: usize = 64;

/// The Delta `stats` JSON of a file the lake wrote.
pub fn delta_stats(meta: &ParquetMetaData, schema: &Schema, rows: u64) -> String {
    let (mut mins, mut maxes, mut nulls) = (Map::new(), Map::new(), Map::new());
    let groups = meta.row_groups();
    for field in schema.fields() {
        let Ok(conv) =
            StatisticsConverter::try_new(field.name(), schema, meta.file_metadata().schema_descr())
        else {
            continue;
        };
        if let Ok(counts) = conv.row_group_null_counts(groups) {
            if counts.null_count() == 0 && !counts.is_empty() {
                nulls.insert(
                    field.name().clone(),
                    json!(counts.values().iter().sum::<u64>()),
                );
            }
        }
        let bounds = (conv.row_group_mins(groups), conv.row_group_maxes(groups));
        let (Ok(lo), Ok(hi)) = bounds else { continue };
        let (Some(lo), Some(hi)) = (extreme(&lo, true), extreme(&hi, false)) else {
            continue;
        };
        if let (Some(lo), Some(hi)) = (
            to_json(&lo, field.data_type()),
            to_json(&hi, field.data_type()),
        ) {
            mins.insert(field.name().clone(), lo);
            maxes.insert(field.name().clone(), hi);
        }
    }
    json!({"numRecords": rows, "minValues": mins, "maxValues": maxes, "nullCount": nulls})
        .to_string()
}

/// The smallest (or largest) of the row groups' values; `None` when a row group has none, since
/// then the file's bound is unknown.
fn extreme(values: &dyn Array, min: bool) -> Option<ScalarValue> {
    if values.is_empty() || values.null_count() > 0 {
        return None;
    }
    let mut best: Option<ScalarValue> = None;
    for i in 0..values.len() {
        let v = ScalarValue::try_from_array(values, i).ok()?;
        best = match best {
            Some(b) if (min && v < b) || (!min && v > b) => Some(v),
            Some(b) => Some(b),
            None => Some(v),
        };
    }
    best
}

/// A statistic as Delta writes it. Decimals are left out: a JSON number is read as a double,
/// which could round a bound inward and make a reader skip a file it needs.
fn to_json(v: &ScalarValue, ty: &DataType) -> Option<Value> {
    Some(match (v, ty) {
        (ScalarValue::Int32(Some(x)), _) => json!(x),
        (ScalarValue::Int64(Some(x)), _) => json!(x),
        (ScalarValue::UInt32(Some(x)), _) => json!(x),
        (ScalarValue::Date32(Some(_)), _) => json!(v.to_string()),
        (ScalarValue::Utf8(Some(s)), _) if s.chars().count() < TRUNCATED_AT => json!(s),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Decimal128Array, Int32Array, StringArray};
    use datafusion::arrow::datatypes::Field;
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::file::properties::WriterProperties;
    use std::sync::Arc;

    #[test]
    fn bounds_span_every_row_group_and_leave_out_what_is_unsafe() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("month", DataType::Int32, false),
            Field::new("day", DataType::Date32, false),
            Field::new("reseller", DataType::Utf8, true),
            Field::new("sales", DataType::Decimal128(18, 2), false),
        ]));
        let batch = |months: Vec<i32>, days: Vec<i32>, names: Vec<Option<&str>>| {
            let n = months.len();
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int32Array::from(months)),
                    Arc::new(Date32Array::from(days)),
                    Arc::new(StringArray::from(names)),
                    Arc::new(
                        Decimal128Array::from(vec![150; n])
                            .with_precision_and_scale(18, 2)
                            .unwrap(),
                    ),
                ],
            )
            .unwrap()
        };
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(2))
            .build();
        let mut w = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props)).unwrap();
        w.write(&batch(
            vec![5, 3],
            vec![20000, 20100],
            vec![Some("Kadewe"), None],
        ))
        .unwrap();
        w.write(&batch(vec![9], vec![19999], vec![Some("Ahlens")]))
            .unwrap();
        let meta = w.close().unwrap();
        let stats: Value = serde_json::from_str(&delta_stats(&meta, &schema, 3)).unwrap();
        assert_eq!(stats["numRecords"], 3);
        assert_eq!(stats["minValues"]["month"], 3);
        assert_eq!(stats["maxValues"]["month"], 9);
        assert_eq!(stats["minValues"]["day"], "2024-10-03");
        assert_eq!(stats["maxValues"]["day"], "2025-01-12");
        assert_eq!(stats["minValues"]["reseller"], "Ahlens");
        assert_eq!(stats["maxValues"]["reseller"], "Kadewe");
        assert_eq!(stats["nullCount"]["reseller"], 1);
        assert_eq!(stats["nullCount"]["sales"], 0);
        assert!(stats["minValues"].get("sales").is_none());
    }
}

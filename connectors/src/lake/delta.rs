//! The lake's commit log in the Delta Lake protocol, so that DuckDB, Polars, Spark and any other
//! Delta reader see exactly the rows TaskifAI sees.
//!
//! Each canonical table of a tenant is a Delta table at `tenant=<t>/table=<table>/`, its log in
//! `_delta_log/<version>.json`. The per-file columns ([`schema::PER_FILE`]: lineage, period,
//! year and month) are the table's partition columns: files do not store them, every Add action
//! carries them. A batch's own record ([`BatchMeta`]) rides in each of its Add actions' tags, so
//! the log alone rebuilds TaskifAI's view, checkpoint or not. The actions are delta-rs's types
//! (`deltalake::kernel`); the data files are written by the lake's own tuned Parquet writer.

use super::{BatchMeta, Commit, DataFile, LakeError, Snapshot};
use crate::tenant_id::TenantId;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::{new_metadata, Action, Add, CommitInfo, Remove, StructType};
use object_store::path::Path as StorePath;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use taskifai_engine::schema;
use taskifai_engine::spec::Target;

/// The tag of an Add action holding its batch's [`BatchMeta`] as JSON.
const BATCH_TAG: &str = "taskifai.batch";

/// The tables a tenant's lake holds, by name.
pub fn tables() -> [(&'static str, Target); 2] {
    [Target::Sellout, Target::Orders].map(|t| (schema::table_name(t), t))
}

/// The target a table name stands for.
pub fn target(table: &str) -> Option<Target> {
    tables()
        .into_iter()
        .find_map(|(name, t)| (name == table).then_some(t))
}

/// The Delta table's root, relative to the lake root.
pub fn table_root(tenant: &TenantId, table: &str) -> String {
    format!("{}/table={table}", tenant.lake_prefix())
}

/// The log entry of `version`.
pub fn log_path(root: &str, version: u64) -> StorePath {
    StorePath::from(format!("{root}/_delta_log/{version:020}.json"))
}

/// The Delta schema of a canonical table. Delta has no unsigned integers: `UInt32` columns
/// (row numbers, spec versions) are declared `long`, which every reader widens them to.
fn delta_schema(schema: &SchemaRef) -> Result<StructType, LakeError> {
    let widened = Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::UInt32 => {
                    Arc::new(Field::new(f.name(), DataType::Int64, f.is_nullable()))
                }
                _ => f.clone(),
            })
            .collect::<Vec<_>>(),
    );
    (&widened)
        .try_into_kernel()
        .map_err(|e| LakeError::Delta(e.to_string()))
}

/// The actions that create a table: reader version 1 and writer version 2 (no table features,
/// so every Delta reader can read it).
fn create_actions(schema: &SchemaRef) -> Result<Vec<Action>, LakeError> {
    let protocol = serde_json::from_value(json!({"minReaderVersion": 1, "minWriterVersion": 2}))
        .map_err(|e| LakeError::Delta(e.to_string()))?;
    // The log is TaskifAI's record of every batch: other writers must not delete its entries.
    let config = [("delta.enableExpiredLogCleanup", "false")];
    let partitions = schema::PER_FILE
        .into_iter()
        .filter(|c| schema.field_with_name(c).is_ok());
    let metadata = new_metadata(&delta_schema(schema)?, partitions, config)
        .map_err(|e| LakeError::Delta(e.to_string()))?;
    Ok(vec![Action::Protocol(protocol), Action::Metadata(metadata)])
}

/// `path` relative to the table root.
fn relative<'a>(root: &str, path: &'a str) -> &'a str {
    path.strip_prefix(root)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
}

/// The log entry for `commit` on `table`, whose files before it are `before`'s.
pub fn encode(
    commit: &Commit,
    tenant: &TenantId,
    table: &str,
    first: bool,
    before: &Snapshot,
) -> Result<Vec<u8>, LakeError> {
    let root = table_root(tenant, table);
    let now = chrono::Utc::now().timestamp_millis();
    let mut actions = Vec::new();
    if first {
        let target = target(table).ok_or_else(|| LakeError::Delta(format!("no table {table}")))?;
        actions.extend(create_actions(&schema::schema(target))?);
    }
    let (operation, mode) = match (&commit.add, commit.remove.is_empty()) {
        (Some(_), true) => ("WRITE", "Append"),
        (Some(_), false) => ("WRITE", "Overwrite"),
        (None, _) => ("DELETE", ""),
    };
    let mut info = HashMap::new();
    info.insert(
        "taskifai".to_owned(),
        json!({"batch": commit.add.as_ref().map(|(m, _)| m), "removed": commit.remove}),
    );
    actions.push(Action::CommitInfo(CommitInfo {
        timestamp: Some(now),
        operation: Some(operation.into()),
        operation_parameters: (!mode.is_empty())
            .then(|| HashMap::from([("mode".to_owned(), json!(mode))])),
        engine_info: Some(format!("taskifai/{}", env!("CARGO_PKG_VERSION"))),
        info,
        ..Default::default()
    }));
    if let Some((meta, files)) = &commit.add {
        let tag = serde_json::to_string(meta).expect("batch metadata serializes");
        for f in files {
            actions.push(Action::Add(Add {
                path: relative(&root, &f.path).to_owned(),
                partition_values: f.constants.clone().into_iter().collect(),
                size: f.bytes.unwrap_or(0) as i64,
                modification_time: now,
                data_change: true,
                stats: f.stats.clone(),
                tags: Some(HashMap::from([(BATCH_TAG.to_owned(), Some(tag.clone()))])),
                deletion_vector: None,
                base_row_id: None,
                default_row_commit_version: None,
                clustering_provider: None,
            }));
        }
    }
    for id in &commit.remove {
        for f in before
            .batches
            .get(id)
            .map(|(_, f)| f.as_slice())
            .unwrap_or_default()
        {
            actions.push(Action::Remove(Remove {
                path: relative(&root, &f.path).to_owned(),
                data_change: true,
                deletion_timestamp: Some(now),
                extended_file_metadata: Some(true),
                partition_values: Some(f.constants.clone().into_iter().collect()),
                size: f.bytes.map(|b| b as i64),
                tags: None,
                deletion_vector: None,
                base_row_id: None,
                default_row_commit_version: None,
            }));
        }
    }
    let mut out = Vec::new();
    for a in &actions {
        serde_json::to_writer(&mut out, a).expect("actions serialize");
        out.push(b'\n');
    }
    Ok(out)
}

/// Applies one log entry of `table` to `snap`; returns the commit's timestamp (ms) if it has one.
pub fn apply(
    snap: &mut Snapshot,
    tenant: &TenantId,
    table: &str,
    entry: &[u8],
    path: &str,
) -> Result<Option<i64>, LakeError> {
    let root = table_root(tenant, table);
    let bad = |message: String| LakeError::Log {
        path: path.to_owned(),
        message,
    };
    let mut timestamp = None;
    for line in entry.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: Value = serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?;
        let Some((kind, _)) = value.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        // Other kinds (protocol, metaData, txn, ...) do not change which rows are visible.
        match kind.as_str() {
            "add" | "remove" | "commitInfo" => {}
            _ => continue,
        }
        match serde_json::from_value::<Action>(value).map_err(|e| bad(e.to_string()))? {
            Action::Add(add) => {
                let file = data_file(&root, table, &add);
                let meta = match add
                    .tags
                    .as_ref()
                    .and_then(|t| t.get(BATCH_TAG))
                    .cloned()
                    .flatten()
                {
                    Some(tag) => serde_json::from_str(&tag).map_err(|e| bad(e.to_string()))?,
                    None => foreign_batch(table, &file),
                };
                snap.removed.remove(&file.path);
                snap.owners.insert(file.path.clone(), meta.batch_id.clone());
                snap.batches
                    .entry(meta.batch_id.clone())
                    .or_insert_with(|| (meta, Vec::new()))
                    .1
                    .push(file);
            }
            Action::Remove(remove) => {
                let full = format!("{root}/{}", remove.path);
                let at = remove.deletion_timestamp.unwrap_or_default();
                snap.removed.insert(full.clone(), at);
                if let Some(id) = snap.owners.remove(&full) {
                    if let Some((_, files)) = snap.batches.get_mut(&id) {
                        files.retain(|f| f.path != full);
                        if files.is_empty() {
                            snap.batches.remove(&id);
                        }
                    }
                }
            }
            Action::CommitInfo(info) => timestamp = info.timestamp,
            _ => {}
        }
    }
    Ok(timestamp)
}

/// When a log entry was committed (its commitInfo's timestamp, ms since the epoch).
pub fn commit_time(entry: &[u8]) -> Option<i64> {
    entry
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .find_map(|v| v.get("commitInfo")?.get("timestamp")?.as_i64())
}

fn data_file(root: &str, table: &str, add: &Add) -> DataFile {
    let rows = add
        .stats
        .as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v.get("numRecords").and_then(Value::as_u64))
        .unwrap_or(0);
    DataFile {
        path: format!("{root}/{}", add.path),
        rows,
        bytes: Some(add.size as u64),
        constants: constants(table, add),
        stats: add.stats.clone(),
    }
}

/// The file's per-file values. A checkpoint read back as JSON lines leaves null values out of
/// the map; every per-file column of a partitioned file has a value, null when absent.
fn constants(table: &str, add: &Add) -> std::collections::BTreeMap<String, Option<String>> {
    let mut out: std::collections::BTreeMap<_, _> =
        add.partition_values.clone().into_iter().collect();
    if !out.is_empty() {
        for c in per_file_columns(table) {
            out.entry((*c).to_owned()).or_insert(None);
        }
    }
    out
}

/// The per-file columns ([`schema::PER_FILE`]) of the canonical table `table`; none for
/// another.
fn per_file_columns(table: &str) -> &'static [&'static str] {
    static COLUMNS: std::sync::LazyLock<Vec<(&'static str, Vec<&'static str>)>> =
        std::sync::LazyLock::new(|| {
            [Target::Sellout, Target::Orders]
                .into_iter()
                .map(|t| {
                    let columns = schema::schema(t);
                    let own = schema::PER_FILE
                        .iter()
                        .copied()
                        .filter(|c| columns.field_with_name(c).is_ok())
                        .collect();
                    (schema::table_name(t), own)
                })
                .collect()
        });
    COLUMNS
        .iter()
        .find(|(name, _)| *name == table)
        .map_or(&[], |(_, columns)| columns.as_slice())
}

/// A file another Delta writer added (no TaskifAI tag): a batch of its own, named by its
/// `batch_id` partition value, so it is counted and can be deleted like any other.
fn foreign_batch(table: &str, file: &DataFile) -> BatchMeta {
    let value = |k: &str| file.constants.get(k).cloned().flatten().unwrap_or_default();
    BatchMeta {
        batch_id: value("batch_id"),
        table: table.to_owned(),
        vendor: value("spec_name"),
        spec_version: value("spec_version").parse().unwrap_or(0),
        file_name: value("source_file"),
        sha256: String::new(),
        period_start: value("period_start"),
        period_end: value("period_end"),
        rows: file.rows,
        reference_version: String::new(),
    }
}

//! The lake's commit log in the Delta Lake protocol, so that DuckDB, Polars, Spark and any other
//! Delta reader see exactly the rows TaskifAI sees.
//!
//! Each canonical table of a tenant is a Delta table at `tenant=<t>/table=<table>/`, its log in
//! `_delta_log/<version>.json`. The per-file columns ([`schema::PER_FILE`]: lineage, period,
//! year and month) are a new table's partition columns: files do not store them, every Add
//! action carries them. [`super::Lake::optimize`] makes them `year` and `month` only (a
//! metaData action), and files store the rest from then on. A batch's own record
//! ([`BatchMeta`]) rides in each of its Add actions' tags (a merged file's lists its batches
//! with their rows), so the log alone rebuilds TaskifAI's view, checkpoint or not. The actions are delta-rs's types
//! (`deltalake::kernel`); the data files are written by the lake's own tuned Parquet writer.

use super::{BatchMeta, Commit, DataFile, LakeError, Merged, Snapshot};
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

/// The tag of an Add action of a merged file: its batches' [`BatchMeta`] and rows in the file,
/// as a JSON list of `{"batch": ..., "rows": n}`.
const BATCHES_TAG: &str = "taskifai.batches";

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
fn create_actions(schema: &SchemaRef, table: &str) -> Result<Vec<Action>, LakeError> {
    let protocol = serde_json::from_value(json!({"minReaderVersion": 1, "minWriterVersion": 2}))
        .map_err(|e| LakeError::Delta(e.to_string()))?;
    let partitions = per_file_columns(table);
    Ok(vec![
        Action::Protocol(protocol),
        metadata(schema, partitions, None)?,
    ])
}

/// The table's metadata with `partitions`; `id` keeps an existing table's id.
fn metadata(
    schema: &SchemaRef,
    partitions: &[impl AsRef<str>],
    id: Option<&str>,
) -> Result<Action, LakeError> {
    let err = |e: String| LakeError::Delta(e);
    // The log is TaskifAI's record of every batch: other writers must not delete its entries.
    let config = [("delta.enableExpiredLogCleanup", "false")];
    let metadata = new_metadata(
        &delta_schema(schema)?,
        partitions.iter().map(AsRef::as_ref),
        config,
    )
    .map_err(|e| err(e.to_string()))?;
    let mut value = serde_json::to_value(&metadata).map_err(|e| err(e.to_string()))?;
    if let Some(id) = id {
        value["id"] = json!(id);
    }
    Ok(Action::Metadata(
        serde_json::from_value(value).map_err(|e| err(e.to_string()))?,
    ))
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
    let target = target(table).ok_or_else(|| LakeError::Delta(format!("no table {table}")))?;
    if first {
        actions.extend(create_actions(&schema::schema(target), table)?);
    }
    if let Some(partitions) = &commit.rewrite.partitions {
        let id = before.layouts.get(table).map(|(_, id)| id.as_str());
        actions.push(metadata(&schema::schema(target), partitions, id)?);
    }
    // Rewriting files without adding or removing a batch changes no rows.
    let data_change = commit.add.is_some() || !commit.remove.is_empty();
    let (operation, mode) = match (&commit.add, commit.remove.is_empty()) {
        (Some(_), true) => ("WRITE", "Append"),
        (Some(_), false) => ("WRITE", "Overwrite"),
        (None, false) => ("DELETE", ""),
        (None, true) => ("OPTIMIZE", ""),
    };
    let mut info = HashMap::new();
    info.insert(
        "taskifai".to_owned(),
        json!({
            "batch": commit.add.as_ref().map(|(m, _)| m),
            "removed": commit.remove,
            "rewritten": commit.rewrite.added.len(),
        }),
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
    let add = |f: &DataFile, tag: (&str, String)| {
        Action::Add(Add {
            path: relative(&root, &f.path).to_owned(),
            partition_values: f.constants.clone().into_iter().collect(),
            size: f.bytes.unwrap_or(0) as i64,
            modification_time: now,
            data_change,
            stats: f.stats.clone(),
            tags: Some(HashMap::from([(tag.0.to_owned(), Some(tag.1))])),
            deletion_vector: None,
            base_row_id: None,
            default_row_commit_version: None,
            clustering_provider: None,
        })
    };
    if let Some((meta, files)) = &commit.add {
        let tag = serde_json::to_string(meta).expect("batch metadata serializes");
        for f in files {
            actions.push(add(f, (BATCH_TAG, tag.clone())));
        }
    }
    for m in &commit.rewrite.added {
        actions.push(add(&m.file, merged_tag(m)));
    }
    let removed = commit
        .remove
        .iter()
        .flat_map(|id| {
            before
                .batches
                .get(id)
                .map(|(_, f)| f.as_slice())
                .unwrap_or_default()
        })
        .chain(&commit.rewrite.removed);
    let mut seen = std::collections::HashSet::new();
    for f in removed.filter(|f| seen.insert(f.path.as_str())) {
        actions.push(Action::Remove(Remove {
            path: relative(&root, &f.path).to_owned(),
            data_change,
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
    let mut out = Vec::new();
    for a in &actions {
        serde_json::to_writer(&mut out, a).expect("actions serialize");
        out.push(b'\n');
    }
    Ok(out)
}

/// The tag of a rewritten file: a file of one batch's rows is that batch's like any other.
fn merged_tag(m: &Merged) -> (&'static str, String) {
    match m.batches.as_slice() {
        [(meta, rows)] if *rows == m.file.rows => (
            BATCH_TAG,
            serde_json::to_string(meta).expect("batch metadata serializes"),
        ),
        batches => {
            let list: Vec<Value> = batches
                .iter()
                .map(|(meta, rows)| json!({"batch": meta, "rows": rows}))
                .collect();
            (BATCHES_TAG, Value::Array(list).to_string())
        }
    }
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
    let mut actions = Vec::new();
    for line in entry.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: Value = serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?;
        let Some((kind, _)) = value.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        // Other kinds (protocol, txn, ...) do not change which rows are visible.
        match kind.as_str() {
            "add" | "remove" | "commitInfo" => actions.push(value),
            // First, whatever its place: the partition columns say which values files lack.
            "metaData" => set_layout(snap, table, &value["metaData"]),
            _ => {}
        }
    }
    for value in actions {
        match serde_json::from_value::<Action>(value).map_err(|e| bad(e.to_string()))? {
            Action::Add(add) => {
                let file = data_file(&root, &snap.partitions(table), &add);
                let tag = |name: &str| {
                    add.tags
                        .as_ref()
                        .and_then(|t| t.get(name))
                        .cloned()
                        .flatten()
                };
                let owners: Vec<(BatchMeta, Option<u64>)> = match (tag(BATCH_TAG), tag(BATCHES_TAG))
                {
                    (Some(tag), _) => {
                        vec![(
                            serde_json::from_str(&tag).map_err(|e| bad(e.to_string()))?,
                            None,
                        )]
                    }
                    (None, Some(list)) => {
                        let list: Vec<Value> =
                            serde_json::from_str(&list).map_err(|e| bad(e.to_string()))?;
                        list.into_iter()
                            .map(|v| {
                                let rows = v.get("rows").and_then(Value::as_u64).unwrap_or(0);
                                serde_json::from_value(v["batch"].clone())
                                    .map(|m| (m, Some(rows)))
                                    .map_err(|e| bad(e.to_string()))
                            })
                            .collect::<Result<_, _>>()?
                    }
                    (None, None) => vec![(foreign_batch(table, &file), None)],
                };
                snap.removed.remove(&file.path);
                let ids = owners.iter().map(|(m, _)| m.batch_id.clone()).collect();
                snap.owners.insert(file.path.clone(), ids);
                for (meta, rows) in owners {
                    let file = DataFile {
                        shared: rows.map(|r| (meta.batch_id.clone(), r)),
                        ..file.clone()
                    };
                    snap.batches
                        .entry(meta.batch_id.clone())
                        .or_insert_with(|| (meta, Vec::new()))
                        .1
                        .push(file);
                }
            }
            Action::Remove(remove) => {
                let full = format!("{root}/{}", remove.path);
                let at = remove.deletion_timestamp.unwrap_or_default();
                snap.removed.insert(full.clone(), at);
                for id in snap.owners.remove(&full).unwrap_or_default() {
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

/// Records a metaData action's partition columns and table id.
fn set_layout(snap: &mut Snapshot, table: &str, metadata: &Value) {
    let Some(columns) = metadata.get("partitionColumns").and_then(Value::as_array) else {
        return;
    };
    let columns = columns
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    let id = metadata
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    snap.layouts.insert(table.to_owned(), (columns, id));
}

/// When a log entry was committed (its commitInfo's timestamp, ms since the epoch).
pub fn commit_time(entry: &[u8]) -> Option<i64> {
    entry
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .find_map(|v| v.get("commitInfo")?.get("timestamp")?.as_i64())
}

fn data_file(root: &str, partitions: &[String], add: &Add) -> DataFile {
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
        constants: constants(partitions, add),
        stats: add.stats.clone(),
        shared: None,
    }
}

/// The file's partition values. A checkpoint read back as JSON lines leaves null values out of
/// the map; every partition column of a partitioned file has a value, null when absent.
fn constants(
    partitions: &[String],
    add: &Add,
) -> std::collections::BTreeMap<String, Option<String>> {
    let mut out: std::collections::BTreeMap<_, _> =
        add.partition_values.clone().into_iter().collect();
    if !out.is_empty() {
        for c in partitions {
            out.entry(c.clone()).or_insert(None);
        }
    }
    out
}

/// The per-file columns ([`schema::PER_FILE`]) of the canonical table `table`, its partition
/// columns until [`super::Lake::optimize`]; none for another.
pub(crate) fn per_file_columns(table: &str) -> &'static [&'static str] {
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
/// `batch_id` partition value (by its path once `batch_id` is no partition column), so it is
/// counted and can be deleted like any other.
fn foreign_batch(table: &str, file: &DataFile) -> BatchMeta {
    let value = |k: &str| file.constants.get(k).cloned().flatten().unwrap_or_default();
    let id = file
        .constants
        .get("batch_id")
        .cloned()
        .flatten()
        .unwrap_or_else(|| format!("foreign:{}", file.path));
    BatchMeta {
        batch_id: id,
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

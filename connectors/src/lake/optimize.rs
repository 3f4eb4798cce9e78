//! Compaction: [`Lake::optimize`] merges a month's small files (one per batch and month, as
//! loads write them) into one file per month, and the copy-on-write that keeps the other
//! batches' rows of a merged file when one of its batches is removed ([`remainders`]).
//!
//! A table starts partitioned by every per-file column, lineage included, so no two batches
//! share a partition. Its first optimize makes `year` and `month` its only partition columns
//! ([`MERGED_PARTITIONS`]), in the same commit that replaces every file by its month's merged
//! file, which stores the lineage columns in its rows (Delta readers read them as any column).
//! Each merged file's Add action lists its batches and their rows, so TaskifAI still knows
//! every batch; loads after that store the lineage columns too.

use super::{BatchMeta, Commit, DataFile, Lake, LakeError, Merged, Rewrite, Snapshot};
use crate::ingest::Crashpoint;
use crate::tenant_id::TenantId;
use object_store::path::Path as StorePath;
use object_store::ObjectStoreExt;
use std::collections::{BTreeMap, HashSet};
use taskifai_engine::schema;

/// The partition columns of an optimized table.
pub const MERGED_PARTITIONS: [&str; 2] = ["year", "month"];

/// What [`Lake::optimize`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Optimized {
    /// Tables whose partition columns became [`MERGED_PARTITIONS`].
    pub converted: usize,
    /// Months merged into one file.
    pub months: usize,
    /// Live files before, and after.
    pub files_before: usize,
    pub files_after: usize,
}

/// Attempts at one table before giving up to concurrent commits.
const ATTEMPTS: usize = 16;

impl Lake {
    /// Merges each month of the tenant's tables held in `min_files` files or more into one
    /// file (every month, the first time: see the module's notes). One commit per table; a
    /// commit of another writer meanwhile makes it start that table again. Readers of earlier
    /// versions keep the old files until [`Lake::vacuum`].
    pub async fn optimize(
        &self,
        tenant: &TenantId,
        min_files: usize,
    ) -> Result<Optimized, LakeError> {
        let mut done = Optimized::default();
        for (table, target) in super::delta::tables() {
            let schema = schema::schema(target);
            let mut merged_table = false;
            for _ in 0..ATTEMPTS {
                let snap = self.snapshot(tenant).await?;
                let files = snap.files(table);
                let partitions = merged_partitions();
                let converting = !files.is_empty() && snap.partitions(table) != partitions;
                let mut months: BTreeMap<(i32, i32), Vec<&DataFile>> = BTreeMap::new();
                for f in &files {
                    months
                        .entry(f.month().unwrap_or_default())
                        .or_default()
                        .push(f);
                }
                months.retain(|_, f| converting || f.len() >= min_files.max(2));
                if months.is_empty() {
                    merged_table = true;
                    break;
                }
                let mut added = Vec::new();
                let mut removed = Vec::new();
                for month in months.values() {
                    match merge(self, tenant, &snap, &schema, month).await {
                        Ok(m) => added.extend(m),
                        Err(e) => {
                            delete_files(self, paths(&added)).await;
                            return Err(e);
                        }
                    }
                    removed.extend(month.iter().map(|f| DataFile {
                        shared: None,
                        ..(*f).clone()
                    }));
                }
                let pause = Crashpoint::from_env();
                Crashpoint::reached(pause, Crashpoint::BeforeOptimizeCommit).await;
                let seen = snap.tables.get(table).copied();
                let result = self
                    .commit_with(tenant, table, false, |s| {
                        if s.tables.get(table).copied() != seen {
                            return Err(LakeError::Stale);
                        }
                        Ok(Commit {
                            rewrite: Rewrite {
                                partitions: converting.then(|| partitions.clone()),
                                removed: removed.clone(),
                                added: added.clone(),
                            },
                            ..Default::default()
                        })
                    })
                    .await;
                match result {
                    Ok(_) => {
                        Crashpoint::reached(pause, Crashpoint::AfterOptimizeCommit).await;
                        done.converted += usize::from(converting);
                        done.months += months.len();
                        done.files_before += files.len();
                        done.files_after += files.len() - removed.len() + added.len();
                        merged_table = true;
                        break;
                    }
                    Err(e) => {
                        delete_files(self, paths(&added)).await;
                        if !matches!(e, LakeError::Stale) {
                            return Err(e);
                        }
                    }
                }
            }
            if !merged_table {
                return Err(LakeError::Contention(ATTEMPTS));
            }
        }
        Ok(done)
    }

    /// Whether a month of one of the tenant's tables is held in `min_files` files or more (or
    /// more than one, for a table not optimized yet), which [`Lake::optimize`] would merge.
    pub async fn needs_optimize(
        &self,
        tenant: &TenantId,
        min_files: usize,
    ) -> Result<bool, LakeError> {
        let snap = self.snapshot(tenant).await?;
        Ok(super::delta::tables().into_iter().any(|(table, _)| {
            let mut per_month: BTreeMap<(i32, i32), usize> = BTreeMap::new();
            for f in snap.files(table) {
                *per_month.entry(f.month().unwrap_or_default()).or_default() += 1;
            }
            per_month.values().any(|&n| n >= min_files.max(2))
        }))
    }
}

fn merged_partitions() -> Vec<String> {
    MERGED_PARTITIONS.map(str::to_owned).to_vec()
}

/// A name no file of the lake has: merged files are named like a batch's.
fn fresh_id(kind: &str) -> String {
    format!("{kind}{}", uuid::Uuid::new_v4().simple())
}

/// Writes the rows of `files` (one month's) into one file laid out for [`MERGED_PARTITIONS`],
/// those of batches in `except` left out; `None` when no rows are left.
async fn write_merged(
    lake: &Lake,
    tenant: &TenantId,
    table_schema: &datafusion::arrow::datatypes::SchemaRef,
    table: &str,
    partitions: Vec<String>,
    files: &[&DataFile],
    except: &HashSet<&str>,
) -> Result<Option<DataFile>, LakeError> {
    let meta = BatchMeta {
        batch_id: fresh_id(""),
        table: table.to_owned(),
        vendor: String::new(),
        spec_version: 0,
        file_name: String::new(),
        sha256: String::new(),
        period_start: String::new(),
        period_end: String::new(),
        rows: 0,
        reference_version: String::new(),
    };
    let mut staged = lake.begin_with(tenant, meta, table_schema.clone(), partitions);
    staged.name = "merged";
    let written: Result<(), LakeError> = async {
        for f in files {
            let whole = DataFile {
                shared: None,
                ..(*f).clone()
            };
            for batch in lake.read_file(&whole, table_schema).await? {
                let batch = if except.is_empty() {
                    batch
                } else {
                    without_batches(&batch, except)?
                };
                if batch.num_rows() > 0 {
                    staged.write(&batch).await?;
                }
            }
        }
        staged.close().await
    }
    .await;
    if let Err(e) = written {
        staged.abort().await;
        return Err(e);
    }
    let mut files = std::mem::take(&mut staged.files);
    if files.len() > 1 {
        delete_files(lake, files.iter().map(|f| f.path.clone()).collect()).await;
        return Err(LakeError::Delta(format!(
            "files of one month ({}) hold rows of several months",
            files[0].path
        )));
    }
    Ok(files.pop())
}

/// The rows of `batch` whose `batch_id` is not in `except`.
fn without_batches(
    batch: &datafusion::arrow::record_batch::RecordBatch,
    except: &HashSet<&str>,
) -> Result<datafusion::arrow::record_batch::RecordBatch, LakeError> {
    use datafusion::arrow::array::{AsArray, BooleanArray};
    let ids = batch
        .column_by_name("batch_id")
        .ok_or_else(|| LakeError::Delta("rows without batch_id".into()))?;
    let ids = datafusion::arrow::compute::cast(ids, &datafusion::arrow::datatypes::DataType::Utf8)?;
    let keep: BooleanArray = ids
        .as_string::<i32>()
        .iter()
        .map(|id| Some(!id.is_some_and(|id| except.contains(id))))
        .collect();
    Ok(datafusion::arrow::compute::filter_record_batch(
        batch, &keep,
    )?)
}

/// One month's files merged into one, with the batches whose rows it holds.
async fn merge(
    lake: &Lake,
    tenant: &TenantId,
    snap: &Snapshot,
    table_schema: &datafusion::arrow::datatypes::SchemaRef,
    files: &[&DataFile],
) -> Result<Option<Merged>, LakeError> {
    let table = match snap.sharers(&files[0].path).first() {
        Some((meta, _)) => meta.table.clone(),
        None => {
            return Err(LakeError::Delta(format!(
                "no batch lists {}",
                files[0].path
            )))
        }
    };
    let mut batches: Vec<(BatchMeta, u64)> = Vec::new();
    for f in files {
        for (meta, rows) in snap.sharers(&f.path) {
            match batches
                .iter_mut()
                .find(|(m, _)| m.batch_id == meta.batch_id)
            {
                Some((_, n)) => *n += rows,
                None => batches.push((meta, rows)),
            }
        }
    }
    let file = write_merged(
        lake,
        tenant,
        table_schema,
        &table,
        merged_partitions(),
        files,
        &HashSet::new(),
    )
    .await?;
    Ok(file.map(|file| Merged { file, batches }))
}

/// For each merged file holding rows of the batches `ids` removes, a file with the other
/// batches' rows (none where no other batch has rows in it), written but not committed.
pub(super) async fn remainders(
    lake: &Lake,
    tenant: &TenantId,
    snap: &Snapshot,
    table: &str,
    ids: &[String],
) -> Result<Vec<Merged>, LakeError> {
    let except: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let mut seen = HashSet::new();
    let shared: Vec<&DataFile> = ids
        .iter()
        .filter_map(|id| snap.batches.get(id))
        .flat_map(|(_, files)| files)
        .filter(|f| f.shared.is_some() && seen.insert(f.path.as_str()))
        .collect();
    let Some(target) = super::delta::target(table) else {
        return Ok(vec![]);
    };
    let schema = schema::schema(target);
    let mut out = Vec::new();
    for f in shared {
        let kept: Vec<(BatchMeta, u64)> = snap
            .sharers(&f.path)
            .into_iter()
            .filter(|(m, _)| !except.contains(m.batch_id.as_str()))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let written = write_merged(
            lake,
            tenant,
            &schema,
            table,
            snap.partitions(table),
            &[f],
            &except,
        )
        .await;
        match written {
            Ok(Some(file)) => out.push(Merged {
                file,
                batches: kept,
            }),
            Ok(None) => {}
            Err(e) => {
                delete_files(lake, paths(&out)).await;
                return Err(e);
            }
        }
    }
    Ok(out)
}

/// Deletes files written but not committed (best effort: [`Lake::vacuum`] removes any left).
pub(super) async fn delete_files(lake: &Lake, paths: Vec<String>) {
    for p in paths {
        let _ = lake.store.delete(&StorePath::from(p)).await;
    }
}

/// The paths of written files.
pub(super) fn paths(merged: &[Merged]) -> Vec<String> {
    merged.iter().map(|m| m.file.path.clone()).collect()
}

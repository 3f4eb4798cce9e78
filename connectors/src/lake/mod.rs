//! The Parquet lake: one folder (or bucket prefix) per tenant, each canonical table a Delta Lake
//! table that any Delta reader (DuckDB, Polars, Spark, delta-rs) reads with exactly the rows
//! TaskifAI sees.
//!
//! Layout: `tenant=<t>/table=<table>/year=<y>/month=<m>/part-<batch>-<n>.parquet` for data and
//! `tenant=<t>/table=<table>/_delta_log/<version>.json` for commits ([`delta`]). A load writes
//! its data files first (under names no one reads yet), then creates the table's next log entry
//! with a put-if-absent, which is atomic on every object store. Readers list files from the log,
//! never from folders, so a crash before the commit leaves only unreferenced files, which
//! [`Lake::vacuum`] removes, and a crash after it leaves a complete batch. Replacing a vendor's
//! period is one commit that adds the new batch's files and removes the old, so the rows are
//! never doubled nor missing. [`Lake::optimize`] merges a month's files into one
//! ([`optimize`]).

use crate::tenant_id::TenantId;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Scalar, UInt32Array};
use datafusion::arrow::compute::kernels::cmp::not_distinct;
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{Int32Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::ScalarValue;
use datafusion::parquet::arrow::async_writer::AsyncArrowWriter;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use futures::TryStreamExt;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

mod checkpoint;
pub mod delta;
mod history;
pub mod legacy;
mod optimize;
pub use history::AsOf;
pub use optimize::{Optimized, MERGED_PARTITIONS};
mod stats;

/// Rows per Parquet row group: bounds the writer's memory per open partition.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// What went wrong with the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("lake location {location:?}: {message}")]
    Location { location: String, message: String },
    #[error("lake storage")]
    Store(#[from] object_store::Error),
    #[error("writing Parquet")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error("preparing rows for the lake")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("setting up the tenant's query session")]
    Query(#[source] datafusion::error::DataFusionError),
    #[error("commit log entry {path} is unreadable: {message}")]
    Log { path: String, message: String },
    #[error("Delta log: {0}")]
    Delta(String),
    /// The tenant's lake is in the format before Delta Lake.
    #[error("the lake of tenant {tenant} is in the old format (before Delta Lake); convert it with `taskifai lake migrate --tenant {tenant}`")]
    NeedsMigration { tenant: String },
    #[error("the lake has no version {asked}: its latest is {latest}")]
    NoSuchVersion { asked: u64, latest: u64 },
    #[error("gave up committing after {0} concurrent commits")]
    Contention(usize),
    /// [`Lake::optimize`] changed the table's partition columns while a load wrote its files;
    /// the load lays them out again and retries.
    #[error("the table's partition columns changed while the files were written")]
    LayoutChanged,
    /// The files a commit rewrites changed while they were written; the commit is planned again.
    #[error("the table changed while its files were rewritten")]
    Stale,
    #[error("a Parquet writer task stopped: {0}")]
    Writer(String),
    #[error("column {column} differs between rows of one lake file ({path}); it must be the same for the whole file")]
    NotConstant { column: String, path: String },
    /// A replace would remove only some months of a live batch, which the lake cannot split.
    #[error("nothing loaded, nothing changed: this file holds {overlap}, which batch {batch} ({file}) also holds beside {others}; replacing those months would leave it half counted. Delete batch {batch} first, or load a file that covers all of its months")]
    PartialOverlap {
        batch: String,
        file: String,
        overlap: String,
        others: String,
    },
}

type Result<T, E = LakeError> = std::result::Result<T, E>;

/// What a load does to earlier batches of the same vendor, table and period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadMode {
    /// The new batch takes their place in the same commit: resending a month corrects it.
    #[default]
    Replace,
    /// The new batch is added beside them (files that each carry part of a period).
    Append,
}

impl LoadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Replace => "replace",
            Self::Append => "append",
        }
    }
}

impl std::str::FromStr for LoadMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "replace" => Ok(Self::Replace),
            "append" => Ok(Self::Append),
            other => Err(format!("mode must be append or replace, not {other:?}")),
        }
    }
}

/// What a batch is, recorded in the commit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BatchMeta {
    pub batch_id: String,
    pub table: String,
    pub vendor: String,
    pub spec_version: u32,
    pub file_name: String,
    pub sha256: String,
    pub period_start: String,
    pub period_end: String,
    pub rows: u64,
    /// [`Reference::version`](taskifai_engine::reference::Reference::version) of the reference
    /// data the batch was normalized with (absent in older logs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference_version: String,
}

/// One Parquet file of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataFile {
    pub path: String,
    pub rows: u64,
    /// Size in bytes, so readers need not ask the store (absent in older logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// The columns the file does not store because every row has the same value
    /// ([`taskifai_engine::schema::PER_FILE`]), as text in Arrow's display form; empty for a file that stores
    /// every column (older logs).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constants: BTreeMap<String, Option<String>>,
    /// Delta statistics (`numRecords`, `minValues`, `maxValues`, `nullCount`) as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<String>,
    /// For a file holding the rows of several batches (written by [`Lake::optimize`]): the
    /// batch this entry stands for and its rows in the file. Readers of one batch keep only its
    /// rows; readers of the table read the file once ([`Snapshot::files`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<(String, u64)>,
}

/// A file written in place of others (by [`Lake::optimize`], or without a removed batch's rows),
/// with the batches whose rows it holds and how many of each.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Merged {
    pub file: DataFile,
    pub batches: Vec<(BatchMeta, u64)>,
}

/// Files a commit writes again without changing which rows are visible.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Rewrite {
    /// The table's new Delta partition columns, when the commit changes them.
    pub partitions: Option<Vec<String>>,
    /// Files removed besides those of the removed batches.
    pub removed: Vec<DataFile>,
    pub added: Vec<Merged>,
}

impl Rewrite {
    pub fn is_empty(&self) -> bool {
        self.partitions.is_none() && self.removed.is_empty() && self.added.is_empty()
    }
}

/// One entry of the commit log.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Commit {
    pub version: u64,
    pub committed_at: String,
    /// The batch added, with its files (absent for a delete).
    pub add: Option<(BatchMeta, Vec<DataFile>)>,
    /// Batch ids no longer visible.
    pub remove: Vec<String>,
    /// Files written again: the remainder of a shared file without a removed batch's rows, or
    /// [`Lake::optimize`]'s merged files.
    #[serde(default, skip_serializing_if = "Rewrite::is_empty")]
    pub rewrite: Rewrite,
}

impl DataFile {
    /// The year and month of the partition the file is in.
    pub fn month(&self) -> Option<(i32, i32)> {
        let part = |key: &str| {
            self.path
                .split('/')
                .find_map(|seg| seg.strip_prefix(key))
                .and_then(|v| v.parse().ok())
        };
        Some((part("year=")?, part("month=")?))
    }
}

/// `2025-03, 2025-04`.
fn month_list<'a>(months: impl IntoIterator<Item = &'a (i32, i32)>) -> String {
    months
        .into_iter()
        .map(|(y, m)| format!("{y}-{m:02}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The visible state of a tenant's lake: live batches and their files.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The number of commits of all the tenant's tables: grows by one with every commit.
    pub version: u64,
    /// When the last commit was made (RFC 3339); empty for a lake without commits.
    pub committed_at: String,
    pub batches: BTreeMap<String, (BatchMeta, Vec<DataFile>)>,
    /// Per table, the number of log entries read (the next Delta version).
    pub tables: BTreeMap<String, u64>,
    /// The batches each live file holds rows of (several for a merged file).
    owners: HashMap<String, Vec<String>>,
    /// Per table, its Delta partition columns and table id, as its log last set them.
    layouts: BTreeMap<String, (Vec<String>, String)>,
    /// Files removed from the table, with when (ms since the epoch): kept on storage for
    /// readers of earlier versions until [`Lake::vacuum`]'s retention has passed.
    pub removed: HashMap<String, i64>,
    /// [`Snapshot::committed_at`] in milliseconds since the epoch.
    committed_ms: i64,
    /// Whether the tenant was checked for an old-format log not yet converted.
    checked: bool,
}

/// The calendar months lying wholly inside `start..=end` (ISO dates); `None` when the period is
/// not known.
fn whole_months(start: &str, end: &str) -> Option<BTreeSet<(i32, i32)>> {
    use chrono::{Datelike, NaiveDate};
    let (start, end) = (
        NaiveDate::parse_from_str(start, "%Y-%m-%d").ok()?,
        NaiveDate::parse_from_str(end, "%Y-%m-%d").ok()?,
    );
    let mut out = BTreeSet::new();
    let mut first = start.with_day(1)?;
    while first <= end {
        let next = first.checked_add_months(chrono::Months::new(1))?;
        if first >= start && next.pred_opt()? <= end {
            out.insert((first.year(), first.month() as i32));
        }
        first = next;
    }
    Some(out)
}

impl Snapshot {
    /// Records a commit's time (ms since the epoch) if it is the latest seen.
    fn committed(&mut self, at: Option<i64>) {
        if let Some(at) = at.filter(|&at| at > self.committed_ms) {
            self.committed_ms = at;
            self.committed_at = chrono::DateTime::from_timestamp_millis(at)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default();
        }
    }

    /// Files of live batches of a table, each once (a merged file is listed by every batch
    /// whose rows it holds).
    pub fn files(&self, table: &str) -> Vec<&DataFile> {
        let mut seen = std::collections::HashSet::new();
        self.batches
            .values()
            .filter(|(m, _)| m.table == table)
            .flat_map(|(_, f)| f)
            .filter(|f| f.shared.is_none() || seen.insert(f.path.as_str()))
            .collect()
    }

    /// The Delta partition columns of `table`: the per-file columns of the table's columns
    /// ([`taskifai_engine::schema::PER_FILE`]) until [`Lake::optimize`] makes them [`MERGED_PARTITIONS`].
    pub fn partitions(&self, table: &str) -> Vec<String> {
        match self.layouts.get(table) {
            Some((columns, _)) => columns.clone(),
            None => delta::per_file_columns(table)
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
        }
    }

    /// The paths of the files of the batches `ids`.
    fn paths_of(&self, ids: &[String]) -> BTreeSet<&str> {
        ids.iter()
            .filter_map(|id| self.batches.get(id))
            .flat_map(|(_, files)| files.iter().map(|f| f.path.as_str()))
            .collect()
    }

    /// The batches whose rows the live file at `path` holds, with their rows in it.
    pub fn sharers(&self, path: &str) -> Vec<(BatchMeta, u64)> {
        let ids = self.owners.get(path).map(Vec::as_slice).unwrap_or_default();
        ids.iter()
            .filter_map(|id| {
                let (meta, files) = self.batches.get(id)?;
                let f = files.iter().find(|f| f.path == path)?;
                Some((meta.clone(), f.shared.as_ref().map_or(f.rows, |s| s.1)))
            })
            .collect()
    }

    /// A live batch loaded from byte-identical content.
    pub fn by_sha(&self, sha256: &str) -> Option<&BatchMeta> {
        self.batches
            .values()
            .map(|(m, _)| m)
            .find(|m| m.sha256 == sha256)
    }

    /// What a new batch holding rows of `months` takes the place of. In replace mode: the live
    /// batches of its vendor and table with the same period, and those whose months all lie
    /// among `months` (a multi-month or year file replaces the monthly batches it covers); a
    /// live batch holding some of `months` and others besides is an error, since replacing it
    /// whole would lose its other months and keeping it would count the shared ones twice. In
    /// any mode: an earlier load of the same bytes into the same table (the file re-processed
    /// under a newer spec), so the same content is never counted twice.
    pub fn superseded(
        &self,
        meta: &BatchMeta,
        months: &BTreeSet<(i32, i32)>,
        replace: bool,
    ) -> Result<Vec<String>> {
        let mut ids = if replace {
            self.same_period(meta)
        } else {
            vec![]
        };
        // A file whose period is shorter than a month (a week's report) replaces its own period
        // only, never the other weeks of its month.
        let shorter = whole_months(&meta.period_start, &meta.period_end)
            .is_some_and(|whole| whole.is_empty());
        if replace && !months.is_empty() && !shorter {
            for (m, files) in self.batches.values() {
                if m.vendor != meta.vendor || m.table != meta.table || ids.contains(&m.batch_id) {
                    continue;
                }
                let theirs: BTreeSet<(i32, i32)> =
                    files.iter().filter_map(DataFile::month).collect();
                let shared: Vec<_> = theirs.intersection(months).collect();
                if shared.is_empty() {
                    continue;
                }
                if theirs.is_subset(months) {
                    ids.push(m.batch_id.clone());
                } else {
                    return Err(LakeError::PartialOverlap {
                        batch: m.batch_id.clone(),
                        file: m.file_name.clone(),
                        overlap: month_list(shared),
                        others: month_list(theirs.difference(months)),
                    });
                }
            }
        }
        for (m, _) in self.batches.values() {
            if !meta.sha256.is_empty()
                && m.sha256 == meta.sha256
                && m.table == meta.table
                && m.batch_id != meta.batch_id
                && !ids.contains(&m.batch_id)
            {
                ids.push(m.batch_id.clone());
            }
        }
        Ok(ids)
    }

    /// Live batches of the same vendor, table and period, which a new load replaces.
    pub fn same_period(&self, meta: &BatchMeta) -> Vec<String> {
        self.batches
            .values()
            .map(|(m, _)| m)
            .filter(|m| {
                m.vendor == meta.vendor
                    && m.table == meta.table
                    && m.period_start == meta.period_start
                    && m.period_end == meta.period_end
            })
            .map(|m| m.batch_id.clone())
            .collect()
    }
}

/// A lake root on an object store.
#[derive(Debug, Clone)]
pub struct Lake {
    /// Paths are relative to the lake root (a folder, or a prefix inside a bucket).
    store: Arc<dyn ObjectStore>,
    /// The bucket itself, for DataFusion, which addresses files by full URL; `None` when local.
    root: Option<Arc<dyn ObjectStore>>,
    location: String,
    url: url::Url,
    /// The last snapshot read per tenant. Commits are immutable and numbered without gaps, so a
    /// later read only replays the entries after it: one failed GET when nothing changed,
    /// instead of listing and reading the whole log on every query.
    snapshots: Arc<std::sync::Mutex<HashMap<String, Arc<Snapshot>>>>,
}

impl Lake {
    /// Opens a lake at a local folder (created if needed), a `file://` URL, or a cloud URL
    /// (`s3://bucket/prefix`, `gs://...`, `az://...` and the other forms object_store reads),
    /// configured by the standard environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`; e.g.
    /// `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for MinIO or another S3-compatible server).
    pub fn open(location: &str) -> Result<Self> {
        let err = |m: String| LakeError::Location {
            location: location.to_owned(),
            message: m,
        };
        if location
            .split_once("://")
            .is_some_and(|(scheme, _)| scheme != "file")
        {
            let env = std::env::vars().filter(|(k, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            });
            return Self::open_cloud(
                location,
                env.map(|(k, v)| (k.to_ascii_lowercase(), v)).collect(),
            );
        }
        let path = std::path::PathBuf::from(location.strip_prefix("file://").unwrap_or(location));
        std::fs::create_dir_all(&path).map_err(|e| err(format!("cannot create: {e}")))?;
        let path = path.canonicalize().map_err(|e| err(e.to_string()))?;
        // Deleting a file removes the folders it leaves empty: an aborted load leaves no empty
        // partition folders behind.
        let store = LocalFileSystem::new_with_prefix(&path)
            .map_err(|e| err(e.to_string()))?
            .with_automatic_cleanup(true);
        let url =
            url::Url::from_directory_path(&path).map_err(|_| err("not an absolute path".into()))?;
        Ok(Self {
            store: Arc::new(store),
            root: None,
            location: location.to_owned(),
            url,
            snapshots: Default::default(),
        })
    }

    /// Opens a cloud lake with explicit object_store options (`aws_endpoint`, `aws_region`, ...)
    /// instead of the environment.
    pub fn open_cloud(location: &str, options: Vec<(String, String)>) -> Result<Self> {
        let err = |m: String| LakeError::Location {
            location: location.to_owned(),
            message: m,
        };
        let mut url = url::Url::parse(location).map_err(|e| err(e.to_string()))?;
        let (root, prefix) =
            object_store::parse_url_opts(&url, options).map_err(|e| err(e.to_string()))?;
        let root: Arc<dyn ObjectStore> = Arc::from(root);
        let store: Arc<dyn ObjectStore> =
            Arc::new(object_store::prefix::PrefixStore::new(root.clone(), prefix));
        if !url.path().ends_with('/') {
            let dir = format!("{}/", url.path());
            url.set_path(&dir);
        }
        Ok(Self {
            store,
            root: Some(root),
            location: location.to_owned(),
            url,
            snapshots: Default::default(),
        })
    }

    /// The store DataFusion should use for [`Lake::url`]: the whole bucket, since it reads
    /// files by their full URL; `None` for a local lake, which DataFusion reads itself.
    pub fn root_store(&self) -> Option<Arc<dyn ObjectStore>> {
        self.root.clone()
    }

    /// Bytes a data file buffers before going to the store: small locally, and at least S3's
    /// smallest multipart part (5 MB) in the cloud.
    fn write_buffer(&self) -> usize {
        if self.root.is_some() {
            10 << 20
        } else {
            WRITE_BUFFER
        }
    }

    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// URL of the lake root, for registering the store with DataFusion.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    /// Replays the tenant's Delta logs from the last snapshot this process read.
    pub async fn snapshot(&self, tenant: &TenantId) -> Result<Arc<Snapshot>> {
        self.read(tenant, false).await
    }

    /// [`Lake::snapshot`]; with `migrating`, also of a lake whose old log is not converted yet.
    async fn read(&self, tenant: &TenantId, migrating: bool) -> Result<Arc<Snapshot>> {
        let cached = self
            .snapshots
            .lock()
            .expect("snapshot cache lock")
            .get(tenant.as_str())
            .cloned();
        // Most reads find nothing new: they share the cached snapshot instead of copying it.
        if let Some(c) = cached.as_ref().filter(|c| c.checked) {
            if !self.has_new_entries(tenant, c).await? {
                return Ok(c.clone());
            }
        }
        let mut snap = cached.map(|c| (*c).clone()).unwrap_or_default();
        let start = snap.version;
        for (table, _) in delta::tables() {
            let root = delta::table_root(tenant, table);
            // A process's first read of a table starts from its checkpoint, if it has one.
            if !snap.checked && !snap.tables.contains_key(table) {
                if let Some((v, lines)) = checkpoint::latest(self.store.as_ref(), &root).await? {
                    let path = format!("{root}/_delta_log/{v:020}.checkpoint.parquet");
                    delta::apply(&mut snap, tenant, table, &lines, &path)?;
                    snap.tables.insert(table.to_owned(), v + 1);
                    snap.version += v + 1;
                    // The checkpoint has no commit time; the entry it sums up does.
                    if let Ok(r) = self.store.get(&delta::log_path(&root, v)).await {
                        let at = delta::commit_time(&r.bytes().await?);
                        snap.committed(at);
                    }
                }
            }
            loop {
                let next = snap.tables.get(table).copied().unwrap_or(0);
                let path = delta::log_path(&root, next);
                let bytes = match self.store.get(&path).await {
                    Ok(r) => r.bytes().await?,
                    Err(object_store::Error::NotFound { .. }) => break,
                    Err(e) => return Err(e.into()),
                };
                let at = delta::apply(&mut snap, tenant, table, &bytes, path.as_ref())?;
                snap.tables.insert(table.to_owned(), next + 1);
                snap.version += 1;
                snap.committed(at);
            }
        }
        let mut newly_checked = false;
        if !snap.checked && !migrating {
            if legacy::pending(&self.store, tenant).await? {
                return Err(LakeError::NeedsMigration {
                    tenant: tenant.to_string(),
                });
            }
            snap.checked = true;
            newly_checked = true;
        }
        let snap = Arc::new(snap);
        // Only a changed snapshot goes back into the cache.
        if snap.version != start || newly_checked {
            let mut cache = self.snapshots.lock().expect("snapshot cache lock");
            if cache
                .get(tenant.as_str())
                .is_none_or(|c| c.version < snap.version || !c.checked)
            {
                cache.insert(tenant.to_string(), snap.clone());
            }
        }
        Ok(snap)
    }

    /// Whether any of the tenant's tables has a log entry after those `snap` has read.
    async fn has_new_entries(&self, tenant: &TenantId, snap: &Snapshot) -> Result<bool> {
        for (table, _) in delta::tables() {
            let next = snap.tables.get(table).copied().unwrap_or(0);
            let path = delta::log_path(&delta::table_root(tenant, table), next);
            match self.store.head(&path).await {
                Ok(_) => return Ok(true),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(false)
    }

    /// Starts a load; nothing is visible until [`Staged::commit`]. Its files are laid out for
    /// the table's current partition columns (checked again at the commit).
    pub async fn begin(
        &self,
        tenant: &TenantId,
        meta: BatchMeta,
        schema: SchemaRef,
    ) -> Result<Staged> {
        let partitions = self.snapshot(tenant).await?.partitions(&meta.table);
        Ok(self.begin_with(tenant, meta, schema, partitions))
    }

    /// [`Lake::begin`] for files whose partition columns are `partitions`.
    fn begin_with(
        &self,
        tenant: &TenantId,
        meta: BatchMeta,
        schema: SchemaRef,
        partitions: Vec<String>,
    ) -> Staged {
        let (constant, stored): (Vec<usize>, Vec<usize>) =
            (0..schema.fields().len()).partition(|&i| partitions.contains(schema.field(i).name()));
        let file_schema = Arc::new(schema.project(&stored).expect("indices from the schema"));
        Staged {
            lake: self.clone(),
            tenant: tenant.clone(),
            meta,
            schema,
            file_schema,
            stored,
            constant,
            partitions,
            writers: HashMap::new(),
            files: Vec::new(),
            replace: true,
            name: "part",
        }
    }

    /// Appends a commit to `table`'s log, retrying on a concurrent writer's commit. `plan` sees
    /// the latest snapshot and returns what to add and remove (its version and time are set
    /// here).
    async fn commit_with(
        &self,
        tenant: &TenantId,
        table: &str,
        migrating: bool,
        mut plan: impl FnMut(&Snapshot) -> Result<Commit>,
    ) -> Result<Commit> {
        let root = delta::table_root(tenant, table);
        for _ in 0..64 {
            let snap = self.read(tenant, migrating).await?;
            let commit = Commit {
                version: snap.version + 1,
                committed_at: chrono::Utc::now().to_rfc3339(),
                ..plan(&snap)?
            };
            let next = snap.tables.get(table).copied().unwrap_or(0);
            let body = delta::encode(&commit, tenant, table, next == 0, &snap)?;
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match self
                .store
                .put_opts(&delta::log_path(&root, next), PutPayload::from(body), opts)
                .await
            {
                Ok(_) => {
                    if (next + 1) % checkpoint::EVERY == 0 {
                        // Best effort: a missing checkpoint only makes other readers replay more.
                        if let Err(e) = checkpoint::write(self, tenant, table).await {
                            tracing::warn!(%tenant, table, error = %e, "Writing a Delta checkpoint failed.");
                        }
                    }
                    return Ok(commit);
                }
                Err(object_store::Error::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(LakeError::Contention(64))
    }

    /// Commits `add` (a batch and its files, laid out for partition columns `layout`) and the
    /// removal of the batches `removing` picks from the latest snapshot. The rows other batches
    /// keep in a merged file with a removed batch are written to a new file first, which the
    /// same commit adds (copy-on-write); if the table changes meanwhile, that is done again.
    async fn commit_batch(
        &self,
        tenant: &TenantId,
        table: &str,
        add: Option<(BatchMeta, Vec<DataFile>, &[String])>,
        removing: impl Fn(&Snapshot) -> Result<Vec<String>>,
    ) -> Result<Commit> {
        for _ in 0..16 {
            let snap = self.snapshot(tenant).await?;
            let ids = removing(&snap)?;
            let remainders = optimize::remainders(self, tenant, &snap, table, &ids).await?;
            let result = self
                .commit_with(tenant, table, false, |s| {
                    if let Some((_, _, layout)) = &add {
                        if s.partitions(table) != *layout {
                            return Err(LakeError::LayoutChanged);
                        }
                    }
                    // The remainders were written from `snap`'s files of the removed batches.
                    let same = removing(s)? == ids
                        && s.partitions(table) == snap.partitions(table)
                        && s.paths_of(&ids) == snap.paths_of(&ids);
                    if !same {
                        return Err(LakeError::Stale);
                    }
                    Ok(Commit {
                        add: add.as_ref().map(|(m, f, _)| (m.clone(), f.clone())),
                        remove: ids.clone(),
                        rewrite: Rewrite {
                            added: remainders.clone(),
                            ..Default::default()
                        },
                        ..Default::default()
                    })
                })
                .await;
            if result.is_err() {
                optimize::delete_files(self, optimize::paths(&remainders)).await;
            }
            match result {
                Err(LakeError::Stale) => continue,
                other => return other,
            }
        }
        Err(LakeError::Contention(16))
    }

    /// Removes a batch; returns whether it was live.
    pub async fn delete_batch(&self, tenant: &TenantId, batch_id: &str) -> Result<bool> {
        let snap = self.snapshot(tenant).await?;
        let Some((meta, _)) = snap.batches.get(batch_id) else {
            return Ok(false);
        };
        let commit = self
            .commit_batch(tenant, &meta.table, None, |s| {
                Ok(if s.batches.contains_key(batch_id) {
                    vec![batch_id.to_owned()]
                } else {
                    vec![]
                })
            })
            .await?;
        Ok(!commit.remove.is_empty())
    }

    /// Converts the tenant's lake from the log before Delta Lake; see [`legacy::migrate`].
    pub async fn migrate(&self, tenant: &TenantId) -> Result<legacy::Migrated> {
        legacy::migrate(self, tenant).await
    }

    /// Reads one data file of the lake back as rows of `table_schema`, its per-file constants
    /// restored as columns; of a merged file, only the rows of the batch the entry stands for.
    pub async fn read_file(
        &self,
        file: &DataFile,
        table_schema: &SchemaRef,
    ) -> Result<Vec<RecordBatch>> {
        let bytes = self
            .store
            .get(&StorePath::from(file.path.as_str()))
            .await?
            .bytes()
            .await?;
        let reader =
            datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
                bytes,
            )?
            .build()?;
        let only = file.shared.as_ref().map(|(id, _)| {
            Scalar::new(datafusion::arrow::array::StringArray::from(vec![
                id.as_str()
            ]))
        });
        let mut out = Vec::new();
        for batch in reader {
            let mut batch = batch?;
            if let (Some(id), Some(ids)) = (&only, batch.column_by_name("batch_id")) {
                let ids = datafusion::arrow::compute::cast(
                    ids,
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )?;
                let keep = datafusion::arrow::compute::kernels::cmp::eq(&ids, id)?;
                batch = datafusion::arrow::compute::filter_record_batch(&batch, &keep)?;
            }
            let columns = table_schema
                .fields()
                .iter()
                .map(|f| match batch.column_by_name(f.name()) {
                    Some(c) => Ok(c.clone()),
                    None => constant_array(file, f, batch.num_rows()),
                })
                .collect::<Result<Vec<_>>>()?;
            out.push(RecordBatch::try_new(table_schema.clone(), columns)?);
        }
        Ok(out)
    }

    /// Deletes data files the table no longer lists: those removed by a replace or delete more
    /// than `retention` ago (until then, readers of earlier versions, time travel included,
    /// still read them), and those no commit ever listed (left by loads that crashed or
    /// failed), once older than `retention`, since younger ones may belong to a load still in
    /// flight. On a local lake also the half-written `…#n` staging files of multipart writes,
    /// which listings do not show. Returns how many were removed.
    pub async fn vacuum(&self, tenant: &TenantId, retention: std::time::Duration) -> Result<usize> {
        let snap = self.snapshot(tenant).await?;
        let live: std::collections::HashSet<&str> = snap
            .batches
            .values()
            .flat_map(|(_, f)| f.iter().map(|f| f.path.as_str()))
            .collect();
        let cutoff = chrono::Duration::from_std(retention)
            .ok()
            .and_then(|r| chrono::Utc::now().checked_sub_signed(r))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        let all: Vec<object_store::ObjectMeta> = self
            .store
            .list(Some(&StorePath::from(tenant.lake_prefix())))
            .try_collect()
            .await?;
        let mut n = 0;
        for m in all {
            let s = m.location.to_string();
            // Uploaded source files and error reports are not data files.
            let data =
                s.contains("/table=") && s.ends_with(".parquet") && !s.contains("/_delta_log/");
            let expired = match snap.removed.get(&s) {
                Some(&at) => at <= cutoff.timestamp_millis(),
                None => m.last_modified <= cutoff,
            };
            if data && !live.contains(s.as_str()) && expired {
                match self.store.delete(&m.location).await {
                    // Another vacuum got there first.
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => n += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if self.url.scheme() == "file" {
            n += remove_staging_files(
                &self
                    .url
                    .to_file_path()
                    .unwrap_or_default()
                    .join(tenant.lake_prefix()),
                retention,
            );
        }
        Ok(n)
    }
}

/// The value of a column `file` does not store, from the commit log.
pub fn constant_value(
    file: &DataFile,
    field: &datafusion::arrow::datatypes::Field,
) -> Result<ScalarValue> {
    let bad = |message: String| LakeError::Log {
        path: file.path.clone(),
        message,
    };
    match file.constants.get(field.name()) {
        Some(Some(text)) => ScalarValue::try_from_string(text.clone(), field.data_type())
            .map_err(|e| bad(format!("{}: {e}", field.name()))),
        Some(None) => ScalarValue::try_from(field.data_type()).map_err(|e| bad(e.to_string())),
        None => Err(bad(format!(
            "the file has no column {} and the log no value for it",
            field.name()
        ))),
    }
}

fn constant_array(
    file: &DataFile,
    field: &datafusion::arrow::datatypes::Field,
    n: usize,
) -> Result<ArrayRef> {
    constant_value(file, field)?
        .to_array_of_size(n)
        .map_err(|e| LakeError::Log {
            path: file.path.clone(),
            message: e.to_string(),
        })
}

/// Removes `name#n` files (object_store's local multipart staging) older than `min_age`.
fn remove_staging_files(dir: &std::path::Path, min_age: std::time::Duration) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += remove_staging_files(&path, min_age);
            continue;
        }
        let staging = path
            .file_name()
            .and_then(|f| f.to_str())
            .is_some_and(|f| f.contains('#'));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if staging && old && std::fs::remove_file(&path).is_ok() {
            n += 1;
        }
    }
    n
}

/// What a finished data file is: rows, bytes, Delta statistics.
type Written = (u64, u64, Option<String>);

/// A load in progress: Parquet files written, not yet committed.
pub struct Staged {
    lake: Lake,
    tenant: TenantId,
    meta: BatchMeta,
    /// The table's columns; those a file stores; the indices in the table of those it stores
    /// and of those recorded once per file.
    schema: SchemaRef,
    file_schema: SchemaRef,
    stored: Vec<usize>,
    constant: Vec<usize>,
    /// The table's partition columns the files are laid out for.
    partitions: Vec<String>,
    writers: HashMap<(i32, i32), PartWriter>,
    files: Vec<DataFile>,
    replace: bool,
    /// The data files' name prefix.
    name: &'static str,
}

/// Integer columns (row numbers, counts, dates, and money, which Parquet stores as integers):
/// delta encoding packs them into a few bits per value, smaller than a dictionary or plain
/// values and cheaper to write than either, since a dictionary hashes every value. On the
/// 1M-row benchmark: 16.6 MB to 14.1 MB of Parquet, and about 10% less time.
const DELTA: [&str; 9] = [
    "source_row",
    "quantity",
    "unit_price",
    "sales_local",
    "sales_eur",
    "sale_date",
    "order_date",
    "cost_of_goods",
    "payment_fee",
];

/// Text whose values are all distinct: a dictionary only costs time there, since the writer
/// interns every value before it gives up on it.
const NO_DICTIONARY: [&str; 1] = ["order_id"];

/// Bytes a local partition file buffers before they go to the store. A file opens one writer
/// per month it holds, all at once; object_store's 10 MB default made twelve months cost 120 MB.
const WRITE_BUFFER: usize = 2 << 20;

/// Columns whose min/max never skip a page: descriptive text, and codes in file order (a page of
/// EANs spans nearly the whole range). Statistics there cost a string comparison per value
/// (3-4% of a 1M-row load in a profile).
const NO_STATISTICS: [&str; 6] = [
    "source_row",
    "store",
    "vendor_product_name",
    "vendor_product_code",
    "product_ean",
    "functional_name",
];

/// How the lake writes Parquet: zstd, bounded row groups, delta-packed integers, no dictionary
/// where values are distinct, no statistics where they cannot prune.
pub fn writer_props() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("valid level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for c in NO_DICTIONARY {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    for c in DELTA {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
    }
    for c in NO_STATISTICS {
        b = b.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
    }
    b.build()
}

impl Staged {
    /// Writes canonical rows, split into year/month partitions.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        for (key, part) in by_month(batch)? {
            let stored = part.project(&self.stored)?;
            self.open(key, &part)?;
            let w = &self.writers[&key];
            w.check_constants(&part, &self.constant)?;
            if w.tx.send(stored).await.is_err() {
                // The task stopped on an error; it is the one to report.
                let w = self.writers.remove(&key).expect("just used");
                return Err(w
                    .finish()
                    .await
                    .err()
                    .unwrap_or(LakeError::Writer("stopped early".into())));
            }
        }
        Ok(())
    }

    /// Keeps the live batches of the same vendor and period instead of replacing them.
    pub fn append(&mut self) {
        self.replace = false;
    }

    /// The months the batch has rows for so far.
    pub fn months(&self) -> BTreeSet<(i32, i32)> {
        self.writers
            .keys()
            .copied()
            .chain(self.files.iter().filter_map(DataFile::month))
            .collect()
    }

    /// Records the hash of the file's bytes, which a lake-only load learns while writing.
    pub fn set_sha256(&mut self, sha256: &str) {
        self.meta.sha256 = sha256.to_owned();
    }

    /// Records the batch's period once the file has been read.
    pub fn set_period(&mut self, start: &str, end: &str) {
        self.meta.period_start = start.to_owned();
        self.meta.period_end = end.to_owned();
    }

    /// Opens the partition's file unless it is open; the first rows it gets fix its constants.
    fn open(&mut self, (y, m): (i32, i32), first: &RecordBatch) -> Result<()> {
        if !self.writers.contains_key(&(y, m)) {
            let path = format!(
                "{}/table={}/year={y}/month={m}/{}-{}-{}.parquet",
                self.tenant.lake_prefix(),
                self.meta.table,
                self.name,
                self.meta.batch_id,
                self.writers.len()
            );
            let sink = BufWriter::with_capacity(
                self.lake.store.clone(),
                StorePath::from(path.as_str()),
                self.lake.write_buffer(),
            );
            let w =
                AsyncArrowWriter::try_new(sink, self.file_schema.clone(), Some(writer_props()))?;
            let constants = self
                .constant
                .iter()
                .map(|&i| first.column(i).slice(0, 1))
                .collect();
            self.writers.insert(
                (y, m),
                PartWriter::start(path, w, self.file_schema.clone(), constants),
            );
        }
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        // Every sender is dropped before any task is awaited, so the partitions flush their last
        // row groups at the same time. A failed file stays listed so an abort deletes it.
        let closing: Vec<_> = self
            .writers
            .drain()
            .map(|(_, w)| (w.path, w.constants, w.task))
            .collect();
        let mut failure = None;
        for (path, values, task) in closing {
            let (rows, bytes, stats) = match task
                .await
                .map_err(|e| LakeError::Writer(e.to_string()))
                .and_then(|r| r)
            {
                Ok(done) => done,
                Err(e) => {
                    failure.get_or_insert(e);
                    (0, 0, None)
                }
            };
            let mut constants = BTreeMap::new();
            for (&i, v) in self.constant.iter().zip(&values) {
                let text = if v.is_valid(0) {
                    Some(array_value_to_string(v, 0)?)
                } else {
                    None
                };
                constants.insert(self.schema.field(i).name().clone(), text);
            }
            self.files.push(DataFile {
                path,
                rows,
                bytes: Some(bytes),
                constants,
                stats,
                shared: None,
            });
        }
        self.files.sort_by(|a, b| a.path.cmp(&b.path));
        failure.map_or(Ok(()), Err)
    }

    /// Makes the batch visible, replacing live batches of the same vendor, table and period
    /// unless [`Staged::append`] was called.
    /// Returns the commit and the ids it replaced.
    pub async fn commit(mut self) -> Result<Commit> {
        let result = self.try_commit().await;
        if result.is_err() {
            self.abort().await;
        }
        result
    }

    async fn try_commit(&mut self) -> Result<Commit> {
        self.close().await?;
        self.meta.rows = self.files.iter().map(|f| f.rows).sum();
        let months = self.months();
        let table = self.meta.table.clone();
        for _ in 0..4 {
            let meta = self.meta.clone();
            let add = Some((meta.clone(), self.files.clone(), self.partitions.as_slice()));
            let result = self
                .lake
                .commit_batch(&self.tenant, &table, add, |snap| {
                    snap.superseded(&meta, &months, self.replace)
                })
                .await;
            match result {
                Err(LakeError::LayoutChanged) => self.lay_out_again().await?,
                other => return other,
            }
        }
        Err(LakeError::LayoutChanged)
    }

    /// Writes the files again for the table's current partition columns (a
    /// [`Lake::optimize`] changed them while the load wrote its files).
    async fn lay_out_again(&mut self) -> Result<()> {
        let partitions = self
            .lake
            .snapshot(&self.tenant)
            .await?
            .partitions(&self.meta.table);
        let mut again = self.lake.begin_with(
            &self.tenant,
            self.meta.clone(),
            self.schema.clone(),
            partitions,
        );
        again.name = if self.name == "relaid" {
            "part"
        } else {
            "relaid"
        };
        for f in &self.files {
            for batch in self.lake.read_file(f, &self.schema).await? {
                if let Err(e) = again.write(&batch).await {
                    again.abort().await;
                    return Err(e);
                }
            }
        }
        if let Err(e) = again.close().await {
            again.abort().await;
            return Err(e);
        }
        optimize::delete_files(
            &self.lake,
            self.files.iter().map(|f| f.path.clone()).collect(),
        )
        .await;
        self.files = std::mem::take(&mut again.files);
        self.partitions = again.partitions.clone();
        self.file_schema = again.file_schema.clone();
        self.stored = again.stored.clone();
        self.constant = again.constant.clone();
        Ok(())
    }

    /// Leaves no trace: deletes every file written.
    pub async fn abort(mut self) {
        let mut written = Vec::new();
        for (_, w) in self.writers.drain() {
            written.push(w.path.clone());
            w.cancel().await;
        }
        for p in written
            .into_iter()
            .chain(self.files.drain(..).map(|f| f.path))
        {
            let _ = self.lake.store.delete(&StorePath::from(p.as_str())).await;
        }
    }
}

/// One partition's Parquet file, encoded by its own task so the partitions of a file are
/// encoded on all the runtime's threads at once.
struct PartWriter {
    path: String,
    /// The per-file columns' values, one-element arrays.
    constants: Vec<ArrayRef>,
    tx: tokio::sync::mpsc::Sender<RecordBatch>,
    task: tokio::task::JoinHandle<Result<Written>>,
}

impl PartWriter {
    fn start(
        path: String,
        mut w: AsyncArrowWriter<BufWriter>,
        schema: SchemaRef,
        constants: Vec<ArrayRef>,
    ) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(2);
        let task = tokio::spawn(async move {
            let mut rows = 0u64;
            while let Some(b) = rx.recv().await {
                w.write(&b).await?;
                rows += b.num_rows() as u64;
            }
            let meta = w.finish().await?;
            let stats = stats::delta_stats(&meta, &schema, rows);
            Ok((rows, w.bytes_written() as u64, Some(stats)))
        });
        Self {
            path,
            constants,
            tx,
            task,
        }
    }

    /// Checks that the rows carry the file's value in every per-file column: the file will not
    /// store them. A comparison per value, far cheaper than encoding them.
    fn check_constants(&self, part: &RecordBatch, columns: &[usize]) -> Result<()> {
        for (&i, value) in columns.iter().zip(&self.constants) {
            let same = not_distinct(part.column(i), &Scalar::new(value.clone()))?;
            if same.true_count() != part.num_rows() {
                return Err(LakeError::NotConstant {
                    column: part.schema().field(i).name().clone(),
                    path: self.path.clone(),
                });
            }
        }
        Ok(())
    }

    /// Closes the file; returns its row count and size.
    async fn finish(self) -> Result<Written> {
        drop(self.tx);
        self.task
            .await
            .map_err(|e| LakeError::Writer(e.to_string()))?
    }

    /// Stops the task without closing the file.
    async fn cancel(self) {
        drop(self.tx);
        self.task.abort();
        let _ = self.task.await;
    }
}

/// A batch's rows grouped by (year, month), in key order. The normalizer hands rows already
/// grouped, which become slices; other batches are gathered once, not filtered per month.
fn by_month(batch: &RecordBatch) -> Result<Vec<((i32, i32), RecordBatch)>> {
    let col = |name| {
        batch
            .column_by_name(name)
            .expect("canonical rows have year and month")
            .as_primitive::<Int32Type>()
            .values()
            .clone()
    };
    let (years, months) = (col("year"), col("month"));
    let keys: Vec<(i32, i32)> = years
        .iter()
        .zip(months.iter())
        .map(|(y, m)| (*y, *m))
        .collect();
    let (sorted, keys) = if keys.is_sorted() {
        (batch.clone(), keys)
    } else {
        let mut order: Vec<u32> = (0..keys.len() as u32).collect();
        order.sort_by_key(|&i| keys[i as usize]);
        let sorted_keys: Vec<(i32, i32)> = order.iter().map(|&i| keys[i as usize]).collect();
        (
            take_record_batch(batch, &UInt32Array::from(order))?,
            sorted_keys,
        )
    };
    Ok(keys
        .chunk_by(|a, b| a == b)
        .scan(0, |start, run| {
            let part = (run[0], sorted.slice(*start, run.len()));
            *start += run.len();
            Some(part)
        })
        .collect())
}

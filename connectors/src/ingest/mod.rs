//! One file into one tenant's lake, all or nothing: detect the vendor, run the pipeline on a
//! blocking thread, stream accepted batches through a bounded channel into a staged lake load,
//! write the error report, then commit, or abort and leave no trace.

use crate::lake::{BatchMeta, Commit, Lake, LakeError};
use datafusion::arrow::array::{ArrayRef, StringArray, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskifai_engine::detect::{detect, Candidate};
use taskifai_engine::issues::Issue;
use taskifai_engine::pipeline::{self, Outcome};
use taskifai_engine::reference::Reference;
use taskifai_engine::spec::{CompiledSpec, SpecRegistry};
use taskifai_engine::{schema, Error};

/// Why a file was not loaded.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Engine(#[from] Error),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("{file}: unknown vendor {vendor:?}; known: {known}")]
    UnknownVendor {
        file: String,
        vendor: String,
        known: String,
    },
    #[error("{0}: cannot read: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("tenant database: {0}")]
    Db(#[from] crate::postgres::PgError),
}

/// What to load.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub path: PathBuf,
    /// The file's name as the user knows it (uploads land under temporary paths).
    pub name: String,
    pub tenant: String,
    pub vendor: Option<String>,
    pub dry_run: bool,
    pub mode: LoadMode,
    /// The batch id when the caller recorded the batch already (an upload waiting for its job).
    pub batch_id: Option<String>,
    /// Test hook: stop forever at this point so a test can kill the process there.
    pub pause_at: Option<Crashpoint>,
}

/// What a load does to earlier batches of the same vendor, table and period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// Points in a load where a crash test can freeze the process before killing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crashpoint {
    /// After the first accepted batch was handed to the lake writer.
    AfterFirstWrite,
    /// After all data files and the error report are written, before the commit.
    BeforeCommit,
    /// After the lake commit, before the database commit.
    BetweenCommits,
}

impl Crashpoint {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "after_first_write" => Some(Self::AfterFirstWrite),
            "before_commit" => Some(Self::BeforeCommit),
            "between_commits" => Some(Self::BetweenCommits),
            _ => None,
        }
    }

    async fn reached(point: Option<Self>, here: Self) {
        if point == Some(here) {
            eprintln!("crashpoint {here:?} reached");
            std::future::pending::<()>().await;
        }
    }
}

/// What happened to the batch.
#[derive(Debug, Clone)]
pub enum Status {
    /// Committed; `replaced` are the earlier batches of the same vendor and period.
    Loaded {
        commit: Box<Commit>,
        replaced: Vec<String>,
    },
    /// The same bytes are already loaded as this batch; nothing was done.
    Duplicate { batch_id: String },
    /// Processed and discarded, as asked.
    DryRun,
}

/// A processed file.
#[derive(Debug, Clone)]
pub struct Report {
    pub batch_id: String,
    pub sha256: String,
    pub status: Status,
    pub candidates: Vec<Candidate>,
    /// Absent for duplicates, which are not processed again.
    pub outcome: Option<Outcome>,
    /// Lake paths of the error report (CSV, Parquet) when rows were rejected or warned.
    pub error_report: Option<(String, String)>,
}

/// The SHA-256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Loads a file into a tenant's lake and, when `db` is given, its database, both or neither.
///
/// The database transaction stays open while the lake commits; the lake commit is the decision.
/// A crash after it and before the database commit is repaired by
/// [`crate::postgres::load::sync_from_lake`], which runs before every load.
pub async fn ingest(
    lake: &Lake,
    specs: &SpecRegistry,
    reference: Arc<Reference>,
    req: IngestRequest,
    progress: Arc<dyn Fn(usize) + Send + Sync>,
) -> Result<Report, IngestError> {
    ingest_with_db(lake, None, specs, reference, req, progress).await
}

/// [`ingest`] with the tenant's database.
pub async fn ingest_with_db(
    lake: &Lake,
    db: Option<&sqlx::PgPool>,
    specs: &SpecRegistry,
    reference: Arc<Reference>,
    req: IngestRequest,
    progress: Arc<dyn Fn(usize) + Send + Sync>,
) -> Result<Report, IngestError> {
    // The hash runs beside detection and the first batches; it is needed only to refuse a
    // duplicate and to record the batch.
    let hashing = {
        let path = req.path.clone();
        tokio::task::spawn_blocking(move || sha256_file(&path))
    };
    let file_size = std::fs::metadata(&req.path).map(|m| m.len()).unwrap_or(0);
    if let (Some(pool), false) = (db, req.dry_run) {
        crate::postgres::load::sync_from_lake(pool, lake, &req.tenant).await?;
    }
    let batch_id = req
        .batch_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let (tx, mut rx) = tokio::sync::mpsc::channel::<RecordBatch>(8);
    let (spec_tx, spec_rx) = tokio::sync::oneshot::channel::<(Arc<CompiledSpec>, Vec<Candidate>)>();
    let specs = specs.clone();
    let id = batch_id.clone();
    let r = req.clone();
    let worker = tokio::task::spawn_blocking(move || -> Result<Outcome, IngestError> {
        let mut wb = crate::readers::open(&r.path, &r.name).map_err(Error::from)?;
        let (spec, candidates) = match &r.vendor {
            Some(v) => (
                specs
                    .get(v)
                    .cloned()
                    .ok_or_else(|| IngestError::UnknownVendor {
                        file: r.name.clone(),
                        vendor: v.clone(),
                        known: specs.vendors().join(", "),
                    })?,
                vec![],
            ),
            None => detect(&specs, wb.as_mut())?,
        };
        let _ = spec_tx.send((spec.clone(), candidates));
        let mut sink = |b: &RecordBatch| {
            tx.blocking_send(b.clone())
                .map_err(|_| Error::Internal("the lake writer stopped".into()))
        };
        let mut tick = |n: usize| progress(n);
        Ok(pipeline::run(
            wb.as_mut(),
            &spec,
            &reference,
            &id,
            &mut sink,
            &mut tick,
        )?)
    });
    let detected = spec_rx.await;
    let mut hash = Hashing::Running(hashing);
    let Ok((spec, candidates)) = detected else {
        return Err(worker
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .err()
            .unwrap_or(Error::Internal("pipeline ended early".into()).into()));
    };
    // A duplicate is refused as soon as the hash is known. The database's batch row needs the
    // hash up front; a lake-only load starts writing at once and checks when it is ready (a
    // 100 MB file takes about 0.1 s to hash, a tenth of its load).
    let mut checked = req.dry_run;
    if db.is_some() && !checked {
        checked = true;
        if let Some(existing) = duplicate_of(lake, &req.tenant, &mut hash, &req.name).await? {
            drop(rx);
            let _ = worker.await;
            return Ok(Report::duplicate(&existing, &hash));
        }
    }
    let target = spec.spec.target;
    let meta = BatchMeta {
        batch_id: batch_id.clone(),
        table: schema::table_name(target).to_owned(),
        vendor: spec.spec.vendor.clone(),
        spec_version: spec.spec.version,
        file_name: req.name.clone(),
        sha256: hash.known().unwrap_or_default().to_owned(),
        period_start: String::new(),
        period_end: String::new(),
        rows: 0,
    };
    let mut dbload = match (db, req.dry_run) {
        (Some(pool), false) => {
            Some(crate::postgres::load::DbLoad::begin(pool, &meta, file_size, req.mode).await?)
        }
        _ => None,
    };
    let mut staged = lake.begin(&req.tenant, meta.clone(), schema::schema(target));
    if req.mode == LoadMode::Append {
        staged.append();
    }
    let mut write_error: Option<IngestError> = None;
    let mut duplicate = None;
    let mut first = true;
    while let Some(batch) = rx.recv().await {
        if let Err(e) = staged.write(&batch).await {
            write_error = Some(e.into());
            break;
        }
        if let Some(d) = dbload.as_mut() {
            if let Err(e) = d.write(&batch).await {
                write_error = Some(e.into());
                break;
            }
        }
        if std::mem::take(&mut first) {
            Crashpoint::reached(req.pause_at, Crashpoint::AfterFirstWrite).await;
        }
        if !checked && hash.ready() {
            checked = true;
            match duplicate_of(lake, &req.tenant, &mut hash, &req.name).await {
                Ok(None) => {}
                Ok(found) => {
                    duplicate = found;
                    break;
                }
                Err(e) => {
                    write_error = Some(e);
                    break;
                }
            }
        }
    }
    if !checked && write_error.is_none() {
        // The whole file was read before its hash was ready.
        match duplicate_of(lake, &req.tenant, &mut hash, &req.name).await {
            Ok(found) => duplicate = found,
            Err(e) => write_error = Some(e),
        }
    }
    if let Some(existing) = duplicate {
        drop(rx);
        let _ = worker.await;
        staged.abort().await;
        return Ok(Report::duplicate(&existing, &hash));
    }
    drop(rx);
    let result = worker.await.map_err(|e| Error::Internal(e.to_string()))?;
    let outcome = match (result, write_error) {
        (Ok(o), None) => o,
        (Err(e), _) | (Ok(_), Some(e)) => {
            staged.abort().await;
            if let Some(d) = dbload {
                d.rollback().await;
            }
            return Err(e);
        }
    };
    if req.dry_run {
        staged.abort().await;
        return Ok(Report {
            batch_id,
            sha256: hash.wait(&req.name).await?.to_owned(),
            status: Status::DryRun,
            candidates,
            outcome: Some(outcome),
            error_report: None,
        });
    }
    let sha256 = hash.wait(&req.name).await?.to_owned();
    staged.set_sha256(&sha256);
    staged.set_period(
        &outcome.summary.period.start.to_string(),
        &outcome.summary.period.end.to_string(),
    );
    let prepared = async {
        let report = write_error_report(lake, &req.tenant, &batch_id, &outcome.issues).await?;
        if let Some(d) = dbload.as_mut() {
            let mut m = meta.clone();
            m.period_start = outcome.summary.period.start.to_string();
            m.period_end = outcome.summary.period.end.to_string();
            let replaced = match req.mode {
                LoadMode::Replace => lake.snapshot(&req.tenant).await?.same_period(&m),
                LoadMode::Append => vec![],
            };
            d.finish(&outcome.summary, &outcome.issues, &replaced)
                .await?;
        }
        Ok::<_, IngestError>(report)
    }
    .await;
    let error_report = match prepared {
        Ok(r) => r,
        Err(e) => {
            staged.abort().await;
            if let Some(d) = dbload {
                d.rollback().await;
            }
            return Err(e);
        }
    };
    Crashpoint::reached(req.pause_at, Crashpoint::BeforeCommit).await;
    let commit = match staged.commit().await {
        Ok(c) => c,
        Err(e) => {
            if let Some(d) = dbload {
                d.rollback().await;
            }
            return Err(e.into());
        }
    };
    Crashpoint::reached(req.pause_at, Crashpoint::BetweenCommits).await;
    if let (Some(d), Some(pool)) = (dbload, db) {
        // The lake has the batch: the database must follow, now or at the next repair.
        if d.commit().await.is_err() {
            crate::postgres::load::sync_from_lake(pool, lake, &req.tenant).await?;
        }
    }
    let replaced = commit.remove.clone();
    Ok(Report {
        batch_id,
        sha256,
        status: Status::Loaded {
            commit: Box::new(commit),
            replaced,
        },
        candidates,
        outcome: Some(outcome),
        error_report,
    })
}

/// The file's hash, computed beside the load.
enum Hashing {
    Running(tokio::task::JoinHandle<std::io::Result<String>>),
    Done(String),
}

impl Hashing {
    async fn wait(&mut self, file: &str) -> Result<&str, IngestError> {
        if let Self::Running(task) = self {
            let sha = task
                .await
                .map_err(|e| Error::Internal(e.to_string()))?
                .map_err(|e| IngestError::Io(file.to_owned(), e))?;
            *self = Self::Done(sha);
        }
        Ok(self.known().expect("done"))
    }

    fn ready(&self) -> bool {
        match self {
            Self::Running(task) => task.is_finished(),
            Self::Done(_) => true,
        }
    }

    fn known(&self) -> Option<&str> {
        match self {
            Self::Running(_) => None,
            Self::Done(sha) => Some(sha),
        }
    }
}

/// The live batch loaded from the same bytes, if any, once the hash is known.
async fn duplicate_of(
    lake: &Lake,
    tenant: &str,
    hash: &mut Hashing,
    file: &str,
) -> Result<Option<BatchMeta>, IngestError> {
    let sha256 = hash.wait(file).await?;
    Ok(lake.snapshot(tenant).await?.by_sha(sha256).cloned())
}

impl Report {
    fn duplicate(existing: &BatchMeta, hash: &Hashing) -> Self {
        Self {
            batch_id: existing.batch_id.clone(),
            sha256: hash.known().unwrap_or_default().to_owned(),
            status: Status::Duplicate {
                batch_id: existing.batch_id.clone(),
            },
            candidates: vec![],
            outcome: None,
            error_report: None,
        }
    }
}

/// Columns of the error report.
pub fn error_report_schema() -> Arc<Schema> {
    let t = |n: &str, null| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        t("file", false),
        t("sheet", true),
        Field::new("source_row", DataType::UInt32, true),
        t("column", true),
        t("value", true),
        t("rule", false),
        t("severity", false),
        t("message", false),
    ]))
}

/// The issues as an Arrow batch in error-report form.
pub fn error_report_batch(issues: &[Issue]) -> RecordBatch {
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
        s(&|i| Some(format!("{:?}", i.severity).to_lowercase())),
        s(&|i| Some(i.message.clone())),
    ];
    RecordBatch::try_new(error_report_schema(), cols).expect("report matches its schema")
}

async fn write_error_report(
    lake: &Lake,
    tenant: &str,
    batch_id: &str,
    issues: &[Issue],
) -> Result<Option<(String, String)>, IngestError> {
    if issues.is_empty() {
        return Ok(None);
    }
    let batch = error_report_batch(issues);
    let mut csv = Vec::new();
    {
        let mut w = datafusion::arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut csv);
        w.write(&batch).map_err(LakeError::from)?;
    }
    let mut pq = Vec::new();
    {
        let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(&mut pq, batch.schema(), None)
            .map_err(LakeError::from)?;
        w.write(&batch).map_err(LakeError::from)?;
        w.close().map_err(LakeError::from)?;
    }
    let base = format!("tenant={tenant}/_errors/{batch_id}");
    let (csv_path, pq_path) = (format!("{base}.csv"), format!("{base}.errors.parquet"));
    lake.store()
        .put(&StorePath::from(csv_path.as_str()), PutPayload::from(csv))
        .await
        .map_err(LakeError::from)?;
    lake.store()
        .put(&StorePath::from(pq_path.as_str()), PutPayload::from(pq))
        .await
        .map_err(LakeError::from)?;
    Ok(Some((csv_path, pq_path)))
}

//! One file into one tenant's lake (and database), all or nothing: detect the vendor, run the
//! pipeline on a blocking thread, stream accepted batches through a bounded channel into the
//! load's [`targets`], write the error report, then commit, or abort and leave no trace.

mod crashpoint;
mod hash;
mod targets;

pub use crate::lake::LoadMode;
pub use crashpoint::Crashpoint;
pub use hash::sha256_file;

use crate::error_report::ReportPaths;
use crate::lake::{BatchMeta, Commit, Lake, LakeError};
use crate::tenant_id::TenantId;
use datafusion::arrow::record_batch::RecordBatch;
use hash::Hashing;
use std::path::PathBuf;
use std::sync::Arc;
use targets::Targets;
use taskifai_engine::detect::{detect, Candidate};
use taskifai_engine::pipeline::{self, Outcome, Summary};
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
    #[error("{0}: cannot read")]
    Io(String, #[source] std::io::Error),
    #[error("tenant database: {0}")]
    Db(#[from] crate::postgres::PgError),
    /// The file gave no row to load; loading it would have replaced good data with nothing.
    #[error("{file}: nothing loaded, nothing changed: {contents}. An empty load would {consequence}; load it anyway with --allow-empty-replace (allow_empty_replace in the API)")]
    Empty {
        file: String,
        contents: String,
        consequence: &'static str,
    },
    /// The same bytes are loaded already, under another period than this load reads.
    #[error("{file}: nothing loaded, nothing changed: the same content is loaded as batch {batch} ({loaded_as}, for {loaded}); this time it reads as {now}. If the earlier period was wrong, delete batch {batch} and load the file again; otherwise fix this file's name or --period")]
    PeriodConflict {
        file: String,
        batch: String,
        loaded_as: String,
        loaded: String,
        now: String,
    },
}

impl IngestError {
    /// Whether trying again later can succeed (storage or database trouble), as opposed to a
    /// problem with the file or the request, which fails the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Lake(LakeError::PartialOverlap { .. }) => false,
            Self::Lake(_) | Self::Db(_) => true,
            _ => false,
        }
    }
}

/// What to load.
#[derive(Debug, Clone)]
pub struct IngestRequest {
    pub path: PathBuf,
    /// The file's name as the user knows it (uploads land under temporary paths).
    pub name: String,
    pub tenant: TenantId,
    pub vendor: Option<String>,
    pub dry_run: bool,
    pub mode: LoadMode,
    /// The reporting period, when the file carries none (`ingest --period 2025-06`).
    pub period: Option<taskifai_engine::period::Period>,
    /// Load a file that gives no accepted row (replacing the period's data with nothing in
    /// replace mode) instead of refusing it.
    pub allow_empty: bool,
    /// The batch id when the caller recorded the batch already (an upload waiting for its job).
    pub batch_id: Option<String>,
    /// Test hook: stop forever at this point so a test can kill the process there.
    pub pause_at: Option<Crashpoint>,
}

impl IngestRequest {
    /// A replace-mode load of `path` for `tenant`, with the file's own name.
    pub fn new(path: impl Into<PathBuf>, tenant: &TenantId) -> Self {
        let path = path.into();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            path,
            name,
            tenant: tenant.clone(),
            vendor: None,
            dry_run: false,
            mode: LoadMode::Replace,
            period: None,
            allow_empty: false,
            batch_id: None,
            pause_at: None,
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
    /// Lake paths of the error report when rows were rejected or warned.
    pub error_report: Option<ReportPaths>,
}

/// Loads a file into a tenant's lake and, when `db` is given, its database, both or neither.
///
/// The database transaction stays open while the lake commits; the lake commit is the decision.
/// A crash after it and before the database commit is repaired by
/// [`crate::postgres::load::sync_from_lake`], which runs before every load.
pub async fn ingest(
    lake: &Lake,
    db: Option<&sqlx::PgPool>,
    specs: &SpecRegistry,
    reference: Arc<Reference>,
    req: IngestRequest,
    progress: Arc<dyn Fn(usize) + Send + Sync>,
) -> Result<Report, IngestError> {
    // The hash runs beside detection and the first batches; it is needed only to refuse a
    // duplicate and to record the batch.
    let mut hash = Hashing::start(req.path.clone());
    let file_size = std::fs::metadata(&req.path).map(|m| m.len()).unwrap_or(0);
    let db = db.filter(|_| !req.dry_run);
    if let Some(pool) = db {
        crate::postgres::load::sync_from_lake(pool, lake, &req.tenant).await?;
    }
    let batch_id = req
        .batch_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let reference_version = reference.version().to_owned();
    let (mut run, spec, candidates) =
        Run::start(specs, reference, &req, &batch_id, progress).await?;
    let meta = BatchMeta {
        batch_id: batch_id.clone(),
        table: schema::table_name(spec.spec.target).to_owned(),
        vendor: spec.spec.vendor.clone(),
        spec_version: spec.spec.version,
        file_name: req.name.clone(),
        sha256: String::new(),
        period_start: String::new(),
        period_end: String::new(),
        rows: 0,
        reference_version,
    };
    // The database's batch row needs the hash up front; a lake-only load starts writing at once
    // and checks when it is ready (a 100 MB file takes about 0.1 s to hash, a tenth of its load).
    if db.is_some() {
        if let Some(existing) = duplicate_of(lake, &req.tenant, &mut hash, &req.name).await? {
            if plainly_same(&existing, &meta, &req) {
                run.cancel().await;
                return Ok(Report::duplicate(&existing, &hash));
            }
        }
    }
    let meta = BatchMeta {
        sha256: hash.known().unwrap_or_default().to_owned(),
        ..meta
    };
    let begun = Targets::begin(
        lake,
        db,
        &req.tenant,
        meta,
        spec.spec.target,
        file_size,
        req.mode,
    );
    let mut targets = match begun.await {
        Ok(t) => t,
        Err(e) => {
            run.cancel().await;
            return Err(e);
        }
    };
    let checked = req.dry_run || db.is_some();
    let staged = stage(&mut targets, &mut run, &mut hash, lake, &req, checked).await;
    let report = |status, sha256: String, outcome, error_report| Report {
        batch_id: batch_id.clone(),
        sha256,
        status,
        candidates: candidates.clone(),
        outcome,
        error_report,
    };
    match staged {
        Err(e) => {
            targets.abort().await;
            run.cancel().await;
            Err(e)
        }
        Ok(Staging::Duplicate(existing)) => {
            targets.abort().await;
            run.cancel().await;
            Ok(Report::duplicate(&existing, &hash))
        }
        Ok(Staging::Ready(outcome)) if req.dry_run => {
            targets.abort().await;
            let sha256 = hash.wait(&req.name).await?.to_owned();
            Ok(report(Status::DryRun, sha256, Some(outcome), None))
        }
        Ok(Staging::Ready(outcome)) => {
            let sha256 = hash.wait(&req.name).await?.to_owned();
            let error_report = match targets.prepare(&sha256, &outcome).await {
                Ok(r) => r,
                Err(e) => {
                    targets.abort().await;
                    return Err(e);
                }
            };
            Crashpoint::reached(req.pause_at, Crashpoint::BeforeCommit).await;
            let commit = targets.commit(req.pause_at).await?;
            let replaced = commit.remove.clone();
            let status = Status::Loaded {
                commit: Box::new(commit),
                replaced,
            };
            Ok(report(status, sha256, Some(outcome), error_report))
        }
    }
}

/// How writing the file's rows ended.
enum Staging {
    /// Every row was written; the load may be committed.
    Ready(Outcome),
    /// The hash, known while writing, belongs to this live batch.
    Duplicate(BatchMeta),
}

/// Writes the pipeline's accepted rows to the targets and decides whether the load can go on.
/// A lake-only load checks for a duplicate as soon as the hash is ready (`checked` is false).
async fn stage(
    targets: &mut Targets<'_>,
    run: &mut Run,
    hash: &mut Hashing,
    lake: &Lake,
    req: &IngestRequest,
    mut checked: bool,
) -> Result<Staging, IngestError> {
    let mut first = true;
    while let Some(batch) = run.batches.recv().await {
        targets.write(&batch).await?;
        if std::mem::take(&mut first) {
            Crashpoint::reached(req.pause_at, Crashpoint::AfterFirstWrite).await;
        }
        if !checked && hash.ready() {
            checked = true;
            if let Some(found) = duplicate_of(lake, &req.tenant, hash, &req.name).await? {
                if plainly_same(&found, targets.meta(), req) {
                    return Ok(Staging::Duplicate(found));
                }
            }
        }
    }
    if !checked {
        // The whole file was read before its hash was ready.
        if let Some(found) = duplicate_of(lake, &req.tenant, hash, &req.name).await? {
            if plainly_same(&found, targets.meta(), req) {
                return Ok(Staging::Duplicate(found));
            }
        }
    }
    let outcome = run.finish().await?;
    // Same bytes loaded before under the same spec: the same load again, unless the period it
    // reads as differs (a renamed file, or --period), which is refused rather than guessed.
    // A dry run reports what the file holds, loaded before or not.
    let found = match req.dry_run {
        true => None,
        false => duplicate_of(lake, &req.tenant, hash, &req.name).await?,
    };
    if let Some(found) = found {
        if same_load(&found, targets.meta()) {
            let period = &outcome.summary.period;
            if found.period_start == period.start.to_string()
                && found.period_end == period.end.to_string()
            {
                return Ok(Staging::Duplicate(found));
            }
            return Err(IngestError::PeriodConflict {
                file: req.name.clone(),
                batch: found.batch_id.clone(),
                loaded_as: found.file_name.clone(),
                loaded: format!("{} to {}", found.period_start, found.period_end),
                now: format!("{} to {}", period.start, period.end),
            });
        }
        // Loaded under another spec (version): re-processed, and the commit replaces it.
    }
    if outcome.summary.rows_accepted == 0 && !req.allow_empty && !req.dry_run {
        return Err(IngestError::Empty {
            file: req.name.clone(),
            contents: describe_empty(&outcome.summary),
            consequence: match req.mode {
                LoadMode::Replace => {
                    "replace the loaded data of this vendor and period with nothing"
                }
                LoadMode::Append => "record a batch without rows",
            },
        });
    }
    Ok(Staging::Ready(outcome))
}

/// What a file without accepted rows held, in a user's words.
fn describe_empty(s: &Summary) -> String {
    if s.rows_read == 0 {
        return "the file has no data rows".into();
    }
    let mut parts = Vec::new();
    if s.rows_skipped > 0 {
        parts.push(format!("{} skipped by the spec's rules", s.rows_skipped));
    }
    if s.rows_rejected > 0 {
        parts.push(format!("{} rejected (see the issues)", s.rows_rejected));
    }
    if s.rows_other_period > 0 {
        let other = if s.other_periods.is_empty() {
            String::new()
        } else {
            format!(" ({})", s.other_periods.join(", "))
        };
        parts.push(format!(
            "{} for other periods{other} than the file's {} to {}",
            s.rows_other_period, s.period.start, s.period.end
        ));
    }
    format!("{} rows read: {}", s.rows_read, parts.join(", "))
}

/// The pipeline on its blocking thread, handing accepted batches over a bounded channel.
struct Run {
    batches: tokio::sync::mpsc::Receiver<RecordBatch>,
    /// Taken by [`Run::finish`]: a finished task cannot be awaited twice.
    worker: Option<tokio::task::JoinHandle<Result<Outcome, IngestError>>>,
}

impl Run {
    /// Starts reading and waits until the vendor is known (detected or forced).
    async fn start(
        specs: &SpecRegistry,
        reference: Arc<Reference>,
        req: &IngestRequest,
        batch_id: &str,
        progress: Arc<dyn Fn(usize) + Send + Sync>,
    ) -> Result<(Self, Arc<CompiledSpec>, Vec<Candidate>), IngestError> {
        let (tx, batches) = tokio::sync::mpsc::channel::<RecordBatch>(8);
        let (spec_tx, spec_rx) = tokio::sync::oneshot::channel();
        let specs = specs.clone();
        let (r, id) = (req.clone(), batch_id.to_owned());
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
            let period = r.period;
            let out = pipeline::run_for_period(
                wb.as_mut(),
                &spec,
                &reference,
                &id,
                period,
                &mut sink,
                &mut tick,
            )?;
            Ok(out)
        });
        let mut run = Self {
            batches,
            worker: Some(worker),
        };
        match spec_rx.await {
            Ok((spec, candidates)) => Ok((run, spec, candidates)),
            Err(_) => Err(run
                .finish()
                .await
                .err()
                .unwrap_or(Error::Internal("pipeline ended early".into()).into())),
        }
    }

    /// The pipeline's outcome once every batch has been taken.
    async fn finish(&mut self) -> Result<Outcome, IngestError> {
        let worker = self.worker.take().ok_or_else(|| {
            IngestError::from(Error::Internal("the pipeline was already awaited".into()))
        })?;
        worker.await.map_err(|e| Error::Internal(e.to_string()))?
    }

    /// Stops the pipeline: its next hand-over fails and it ends.
    async fn cancel(mut self) {
        self.batches.close();
        if let Some(w) = self.worker.take() {
            let _ = w.await;
        }
    }
}

/// The live batch loaded from the same bytes, if any, once the hash is known.
/// A live batch of the same bytes that this load would repeat exactly: same vendor and spec
/// version, same file name, no period given. Such a load is a no-op without reading the file
/// to its end; any other repeat of the bytes is decided once the period is known.
/// Whether a live batch of the same bytes was made by the same vendor spec version from the
/// same reference data (batches from before reference versions were recorded count as same).
fn same_load(found: &BatchMeta, this: &BatchMeta) -> bool {
    found.vendor == this.vendor
        && found.spec_version == this.spec_version
        && (found.reference_version.is_empty() || found.reference_version == this.reference_version)
}

/// The same load under the same name, before any row is read.
fn plainly_same(found: &BatchMeta, this: &BatchMeta, req: &IngestRequest) -> bool {
    same_load(found, this) && found.file_name == req.name && req.period.is_none()
}

async fn duplicate_of(
    lake: &Lake,
    tenant: &TenantId,
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

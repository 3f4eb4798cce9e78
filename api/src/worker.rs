//! Workers: claim a job, renew its lease while it runs, load the uploaded file with the same
//! ingest as the CLI, and record the outcome. Bad files fail at once with the engine's message;
//! infrastructure errors (database, object store) are retried with backoff.
//!
//! On shutdown a worker stops claiming, lets its running job finish within a grace period, and
//! otherwise gives the job back so another worker takes it at once.

use crate::jobs::{self, Job};
use crate::metrics::JobOutcome;
use crate::state::AppState;
use futures::{FutureExt, StreamExt};
use object_store::ObjectStoreExt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskifai_connectors::ingest::{ingest, Crashpoint, IngestRequest, LoadMode, Status};
use taskifai_connectors::postgres::batches;
use taskifai_connectors::TenantId;
use taskifai_engine::error::chain;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

const IDLE_POLL: Duration = Duration::from_millis(250);

/// How often a worker rebuilds the index of due schedules from every tenant's database.
const REINDEX_EVERY: Duration = Duration::from_secs(3600);

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
struct Failure {
    message: String,
    retry: bool,
}

/// How much less CPU priority load work gets than requests: a nice value, 10 unless
/// `TASKIFAI_LOAD_NICENESS` says otherwise (0: the same as requests).
fn load_niceness() -> i32 {
    std::env::var("TASKIFAI_LOAD_NICENESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// Lowers the calling thread's CPU priority by [`load_niceness`]; threads it starts inherit
/// it. Loads then take the CPU that requests leave: uploads slow the dashboards less, and loads
/// still use every core when nobody is asking anything.
pub fn lower_priority() {
    let nice = load_niceness();
    if nice <= 0 {
        return;
    }
    // Linux keeps a nice value per thread (`None`: the calling one). A refusal leaves the
    // priority as it was, which is only slower, never wrong.
    let _ = rustix::process::setpriority_process(None, nice);
}

/// Runs `count` worker loops (as [`run`]) on a runtime of their own whose threads have a lower
/// CPU priority than the server's ([`lower_priority`]); the thread ends when they have.
pub fn spawn_background(
    state: AppState,
    count: usize,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("taskifai-workers".into())
        .spawn(move || {
            lower_priority();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .thread_name("taskifai-load")
                .on_thread_start(lower_priority)
                .enable_all()
                .build()
                .expect("the load runtime starts");
            runtime.block_on(run(state, count, shutdown));
        })
}

/// Runs `count` worker loops until `shutdown` turns true.
pub async fn run(state: AppState, count: usize, shutdown: watch::Receiver<bool>) {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
    let loops: Vec<_> = (0..count)
        .map(|i| {
            let id = format!(
                "{host}:{}:{i}:{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            );
            tokio::spawn(worker_loop(state.clone(), id, shutdown.clone()))
        })
        .chain(std::iter::once(tokio::spawn(scheduler_loop(
            state.clone(),
            shutdown.clone(),
        ))))
        .collect();
    for l in loops {
        let _ = l.await;
    }
}

/// Turns due schedule slots into report jobs, every `schedule_tick`. Every worker process runs
/// one; the queue's unique key makes a slot one job however many run. Hourly, it also vacuums
/// and compacts the tenants' lakes ([`maintain`]; two workers vacuuming at once delete the same
/// files, harmlessly, and two compacting at once commit one merge and retry the other).
async fn scheduler_loop(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut indexed: Option<Instant> = None;
    while !*shutdown.borrow() {
        if indexed.is_none_or(|at| at.elapsed() >= REINDEX_EVERY) {
            match crate::schedule::run::reindex(&state).await {
                Ok(()) => indexed = Some(Instant::now()),
                Err(e) => tracing::warn!(error = %e, "Indexing report schedules failed."),
            }
            maintain(&state).await;
        }
        if let Err(e) = crate::schedule::run::tick(&state, chrono::Utc::now()).await {
            tracing::warn!(error = %e, "Looking for due report schedules failed.");
        }
        let _ = tokio::time::timeout(state.config.schedule_tick, shutdown.changed()).await;
    }
}

/// Lake upkeep for every tenant: deletes what its lake no longer lists, after the retention
/// period, and merges small files ([`compact`]).
async fn maintain(state: &AppState) {
    let mut tenants = match state.registry.list().await {
        Ok(t) => t.into_iter().map(|t| t.id).collect::<Vec<_>>(),
        Err(e) => return tracing::warn!(error = %e, "Listing tenants to vacuum failed."),
    };
    if !tenants.contains(&TenantId::demo()) {
        tenants.push(TenantId::demo());
    }
    for t in tenants {
        match state.lake.vacuum(&t, state.config.lake_retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tenant = %t, files = n, "Lake vacuumed."),
            Err(e) => tracing::warn!(tenant = %t, error = %e, "Vacuuming the lake failed."),
        }
        compact(state, &t).await;
    }
}

/// [`taskifai_connectors::lake::Lake::optimize`] for a tenant with a month held in
/// [`crate::config::ServerConfig::optimize_files`] files or more. A failure is logged: the
/// files stay as they are, readable, until the next try.
async fn compact(state: &AppState, tenant: &TenantId) {
    let min = state.config.optimize_files;
    if min == 0
        || !state
            .lake
            .needs_optimize(tenant, min)
            .await
            .unwrap_or(false)
    {
        return;
    }
    match state.lake.optimize(tenant, min).await {
        Ok(done) => tracing::info!(
            %tenant,
            months = done.months,
            before = done.files_before,
            after = done.files_after,
            "Lake optimized."
        ),
        Err(e) => tracing::warn!(%tenant, error = %e, "Optimizing the lake failed."),
    }
}

async fn worker_loop(state: AppState, id: String, mut shutdown: watch::Receiver<bool>) {
    tracing::info!(worker = %id, "Worker started.");
    while !*shutdown.borrow() {
        let job = match jobs::claim(
            &state.registry.pool,
            &id,
            state.config.job_lease,
            state.config.jobs_per_tenant,
        )
        .await
        {
            Ok(Some(job)) => job,
            Ok(None) => {
                let _ = tokio::time::timeout(IDLE_POLL, shutdown.changed()).await;
                continue;
            }
            Err(e) => {
                tracing::error!(worker = %id, error = %e, "Claiming a job failed.");
                let _ = tokio::time::timeout(Duration::from_secs(2), shutdown.changed()).await;
                continue;
            }
        };
        run_job(&state, &id, job, shutdown.clone()).await;
    }
    tracing::info!(worker = %id, "Worker stopped.");
}

async fn run_job(state: &AppState, worker: &str, job: Job, mut shutdown: watch::Receiver<bool>) {
    let started = Instant::now();
    tracing::info!(worker, job = job.id, tenant = %job.tenant_id, batch = %job.batch_id, attempt = job.attempts, "Job claimed.");
    let progress = Arc::new(AtomicU64::new(0));
    let work = async {
        if job.lost_leases >= jobs::MAX_LOST_LEASES {
            return Err(permanent(format!(
                "the worker processing this file stopped {} times; the file has been set aside. Delete the upload, or retry it once the cause is fixed",
                job.lost_leases
            )));
        }
        let run = async {
            if job.kind == "email" {
                email_job(state, &job).await.map(|()| 0)
            } else if job.kind == "report" {
                report_job(state, &job).await.map(|()| 0)
            } else if job.kind == "webhook" {
                webhook_job(state, &job).await.map(|()| 0)
            } else {
                ingest_job(state, &job, progress.clone()).await
            }
        };
        // A panic in the load fails the job instead of ending this worker loop.
        AssertUnwindSafe(run)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                Err(permanent(format!(
                    "the load stopped on an internal error: {}",
                    crate::server::panic_message(panic.as_ref())
                )))
            })
    };
    tokio::pin!(work);
    let mut beat = tokio::time::interval(state.config.job_lease / 3);
    beat.tick().await;
    let mut deadline: Option<tokio::time::Instant> = None;
    let result = loop {
        let grace = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = &mut work => break Some(r),
            _ = beat.tick() => {
                match jobs::renew(&state.registry.pool, &job, worker, state.config.job_lease, progress.load(Ordering::Relaxed) as i64).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(worker, job = job.id, "The job's lease was lost; stopping it.");
                        return;
                    }
                    Err(e) => tracing::warn!(worker, job = job.id, error = %e, "Renewing the lease failed."),
                }
            }
            _ = shutdown.changed(), if deadline.is_none() => deadline = Some(tokio::time::Instant::now() + state.config.shutdown_grace),
            _ = grace => break None,
        }
    };
    let micros = started.elapsed().as_micros() as u64;
    let pool = &state.registry.pool;
    match result {
        None => {
            tracing::warn!(
                worker,
                job = job.id,
                "Shutting down: the job is given back."
            );
            let _ = jobs::release(pool, &job, worker).await;
        }
        Some(Ok(rows)) => {
            if job.kind == "ingest" {
                notify(state, &job, None).await;
            }
            let _ = jobs::complete(pool, &job, worker, rows as i64).await;
            // The job metrics are about loads; an email's outcome is in the tenant's email_logs.
            if job.kind == "ingest" {
                state.metrics.job(JobOutcome::Done, micros, rows);
            }
            tracing::info!(worker, job = job.id, rows, ms = micros / 1000, "Job done.");
            if job.kind == "ingest" {
                compact(state, &job.tenant_id).await;
            }
        }
        Some(Err(f)) => {
            let again = jobs::fail(pool, &job, worker, &f.message, f.retry)
                .await
                .unwrap_or(false);
            if job.kind == "ingest" {
                state.metrics.job(
                    if again {
                        JobOutcome::Retried
                    } else {
                        JobOutcome::Failed
                    },
                    micros,
                    0,
                );
            }
            if job.kind == "ingest" {
                if let Ok(tenant) = state.pools.pool(&job.tenant_id).await {
                    let _ = batches::mark_attempt_failed(&tenant, &job.batch_id, &f.message, again)
                        .await;
                }
                if !again {
                    notify(state, &job, Some(&f.message)).await;
                }
            }
            tracing::warn!(worker, job = job.id, retry = again, error = %f.message, "Job attempt failed.");
        }
    }
}

fn transient(message: String) -> Failure {
    Failure {
        message,
        retry: true,
    }
}

fn permanent(message: String) -> Failure {
    Failure {
        message,
        retry: false,
    }
}

/// Queues the uploader's email about an upload that ended. A notice that cannot be queued is
/// logged; it never changes the upload's outcome.
async fn notify(state: &AppState, job: &Job, failure: Option<&str>) {
    let queued = async {
        let tenant = state
            .pools
            .pool(&job.tenant_id)
            .await
            .map_err(|e| e.to_string())?;
        crate::email::upload::notify(
            &state.config.email,
            &state.registry,
            &tenant,
            &job.tenant_id,
            &job.batch_id,
            failure,
        )
        .await
        .map_err(|e| e.to_string())
    };
    if let Err(e) = queued.await {
        tracing::warn!(job = job.id, error = %e, "The upload's email could not be queued.");
    }
}

/// The job's tenant database; not reachable now is worth a retry.
async fn tenant_pool(state: &AppState, job: &Job) -> Result<sqlx::PgPool, Failure> {
    state
        .pools
        .pool(&job.tenant_id)
        .await
        .map_err(|e| transient(format!("tenant database: {e}")))
}

/// One attempt at delivering an outbox email.
async fn email_job(state: &AppState, job: &Job) -> Result<(), Failure> {
    let pool = tenant_pool(state, job).await?;
    let last_try = job.attempts >= job.max_attempts;
    let sent = crate::email::deliver(&state.config.email, &pool, &job.batch_id, last_try)
        .await
        .map_err(|e| Failure {
            retry: e.is_transient(),
            message: e.to_string(),
        })?;
    if let Some(sent) = sent.filter(|s| s.kind == "report") {
        crate::webhooks::emit(
            &pool,
            &state.registry.pool,
            &job.tenant_id,
            "report.sent",
            &sent.event_key,
            serde_json::json!({
                "subject": sent.subject,
                "recipients": sent.recipients,
                "attachment": sent.attachment_name,
            }),
        )
        .await
        .map_err(|e| transient(format!("webhooks: {e}")))?;
    }
    Ok(())
}

/// One attempt at a webhook delivery.
async fn webhook_job(state: &AppState, job: &Job) -> Result<(), Failure> {
    let pool = tenant_pool(state, job).await?;
    let last_try = job.attempts >= job.max_attempts;
    crate::webhooks::send::deliver(
        &pool,
        &job.batch_id,
        state.config.allow_private_webhooks,
        last_try,
    )
    .await
    .map_err(|e| Failure {
        retry: e.is_transient(),
        message: e.to_string(),
    })
}

/// One attempt at a scheduled report: render it and queue its email.
async fn report_job(state: &AppState, job: &Job) -> Result<(), Failure> {
    let pool = tenant_pool(state, job).await?;
    crate::schedule::run::report_job(state, &job.tenant_id, &pool, &job.batch_id)
        .await
        .map_err(|e| Failure {
            retry: e.is_transient(),
            message: e.to_string(),
        })
}

/// One attempt at loading an upload; returns the rows accepted.
async fn ingest_job(state: &AppState, job: &Job, progress: Arc<AtomicU64>) -> Result<u64, Failure> {
    let pool = state
        .pools
        .pool(&job.tenant_id)
        .await
        .map_err(|e| match e {
            taskifai_connectors::postgres::PgError::Suspended(_)
            | taskifai_connectors::postgres::PgError::UnknownTenant(_) => permanent(e.to_string()),
            e => transient(format!("tenant database: {e}")),
        })?;
    let row = batches::queued(&pool, &job.batch_id)
        .await
        .map_err(|e| transient(chain(&e)))?;
    let Some(batches::Queued {
        file_name,
        storage_path,
        mode,
        vendor_override: vendor,
        status,
        period_override,
        allow_empty,
    }) = row
    else {
        return Err(permanent(
            "the upload was deleted before it was processed".into(),
        ));
    };
    let status = batches::parse_status(&status).map_err(|e| permanent(e.to_string()))?;
    if status.is_loaded() {
        return Ok(0);
    }
    let storage_path =
        storage_path.ok_or_else(|| permanent("the upload has no stored file".into()))?;
    batches::mark_processing(&pool, &job.batch_id)
        .await
        .map_err(|e| transient(chain(&e)))?;
    let local = download(state, &storage_path, &file_name).await?;
    let reference = Arc::new(
        taskifai_connectors::postgres::catalog::load_reference(&pool)
            .await
            .map_err(|e| transient(e.to_string()))?,
    );
    let req = IngestRequest {
        path: local.path().to_owned(),
        name: file_name,
        tenant: job.tenant_id.clone(),
        vendor,
        dry_run: false,
        mode: mode.parse::<LoadMode>().map_err(permanent)?,
        allow_empty,
        period: period_override
            .as_deref()
            .map(|p| {
                taskifai_engine::period::Period::parse_user(p).ok_or_else(|| {
                    permanent(format!(
                        "the upload's period {p:?} is not a month or a year"
                    ))
                })
            })
            .transpose()?,
        batch_id: Some(job.batch_id.clone()),
        pause_at: Crashpoint::from_env(),
    };
    let tick = progress.clone();
    let specs = state
        .specs_for(&job.tenant_id, &pool)
        .await
        .map_err(|e| transient(e.to_string()))?;
    let loaded = ingest(
        &state.lake,
        Some(&pool),
        &specs,
        reference,
        req,
        Arc::new(move |n| {
            tick.fetch_add(n as u64, Ordering::Relaxed);
        }),
    )
    .await;
    // A file refused for too many rejects keeps its error report: its rows stay findable in
    // the unmapped queue, and mapping them loads the file.
    if let Err(taskifai_connectors::ingest::IngestError::Engine(
        taskifai_engine::Error::TooManyRejects { vendor, issues, .. },
    )) = &loaded
    {
        if let Err(e) = taskifai_connectors::postgres::load::record_refused_report(
            &pool,
            &job.batch_id,
            vendor,
            issues,
        )
        .await
        {
            tracing::warn!(error = %e, batch = %job.batch_id, "The refused file's error report was not kept.");
        }
    }
    let report = loaded.map_err(|e| {
        if e.is_transient() {
            transient(chain(&e))
        } else {
            permanent(chain(&e))
        }
    })?;
    match report.status {
        Status::Loaded { .. } => Ok(report.outcome.map_or(0, |o| o.summary.rows_accepted as u64)),
        // A previous attempt loaded it and died before recording so; the repair made it visible.
        Status::Duplicate { batch_id } if batch_id == job.batch_id => Ok(0),
        Status::Duplicate { batch_id } => Err(permanent(format!(
            "identical content is already loaded as upload {batch_id}"
        ))),
        Status::DryRun => Err(permanent("a dry run reached the worker".into())),
    }
}

/// Copies the uploaded object to a local temporary file (the readers need a seekable file).
async fn download(
    state: &AppState,
    path: &str,
    name: &str,
) -> Result<tempfile::NamedTempFile, Failure> {
    let ext = std::path::Path::new(name)
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix("taskifai-upload-")
        .suffix(&ext)
        .tempfile()
        .map_err(|e| transient(format!("temporary file: {e}")))?;
    let get = state
        .lake
        .store()
        .get(&object_store::path::Path::from(path))
        .await
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                permanent(format!("the uploaded file is gone from the store ({path})"))
            }
            e => transient(e.to_string()),
        })?;
    let mut stream = get.into_stream();
    let mut out = tokio::fs::File::create(tmp.path())
        .await
        .map_err(|e| transient(e.to_string()))?;
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(|e| transient(e.to_string()))?)
            .await
            .map_err(|e| transient(e.to_string()))?;
    }
    out.flush().await.map_err(|e| transient(e.to_string()))?;
    Ok(tmp)
}

#[cfg(test)]
mod tests {
    #[test]
    fn load_threads_and_the_threads_they_start_run_at_a_lower_priority() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let (own, child) = std::thread::spawn(|| {
            super::lower_priority();
            let own = rustix::process::getpriority_process(None).unwrap();
            let child = std::thread::spawn(|| rustix::process::getpriority_process(None).unwrap())
                .join()
                .unwrap();
            (own, child)
        })
        .join()
        .unwrap();
        // Lowering is allowed to anyone; the test's own thread is untouched.
        assert!(own >= 10, "{own}");
        assert_eq!(child, own);
        assert_eq!(rustix::process::getpriority_process(None).unwrap(), before);
    }
}

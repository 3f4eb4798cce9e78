//! The durable job queue, a table in the registry database (`job_queue`).
//!
//! Hand-written on `FOR UPDATE SKIP LOCKED` rather than a queue crate: the crates we looked at
//! (apalis, sqlxmq, graphile_worker ports) bring their own schema and runtime, while we need
//! three things they do not give together: a per-tenant concurrency cap, a lease that a live
//! worker renews, and completion that only the lease holder can record. That is five queries.
//!
//! Guarantees: a claimed job belongs to one worker until its lease runs out; a worker that dies
//! loses the lease and the job is claimed again; [`complete`] and [`fail`] only succeed for the
//! current holder, so a job is never finished twice. The ingest itself is idempotent (content
//! hash and batch id), which covers a worker that dies after loading but before completing.

use serde::Serialize;
use sqlx::PgPool;
use std::time::Duration;
use taskifai_connectors::TenantId;

/// A job a worker holds.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Job {
    pub id: i64,
    pub tenant_id: TenantId,
    pub kind: String,
    pub batch_id: String,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Times the job was taken over from a worker that stopped renewing its lease.
    pub lost_leases: i32,
}

/// A job whose worker stopped this many times is not run again: the file is likely what
/// stopped it (a crash or an abort), and running it again would stop the next worker too.
pub const MAX_LOST_LEASES: i32 = 2;

/// A job as clients see it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct JobView {
    pub id: i64,
    pub status: String,
    pub attempts: i32,
    pub progress_rows: i64,
    pub last_error: Option<String>,
}

/// Queues an ingest of a recorded batch.
pub async fn enqueue(registry: &PgPool, tenant: &TenantId, batch_id: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO job_queue (tenant_id, kind, batch_id) VALUES ($1, 'ingest', $2) RETURNING id",
    )
    .bind(tenant)
    .bind(batch_id)
    .fetch_one(registry)
    .await
}

/// Tries an email gets before it is failed for good (backoff 2, 4, 8 s between them).
pub const EMAIL_ATTEMPTS: i32 = 4;

/// Queues the delivery of a tenant's outbox email; nothing when it is queued already.
pub async fn enqueue_email(registry: &PgPool, tenant: &TenantId, key: &str) -> sqlx::Result<()> {
    enqueue_once(registry, tenant, "email", key, EMAIL_ATTEMPTS).await
}

/// Queues a job under a key unique per tenant; a second call with the key does nothing.
async fn enqueue_once(
    registry: &PgPool,
    tenant: &TenantId,
    kind: &str,
    key: &str,
    attempts: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO job_queue (tenant_id, kind, batch_id, max_attempts) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, batch_id) DO NOTHING",
    )
    .bind(tenant)
    .bind(kind)
    .bind(key)
    .bind(attempts)
    .execute(registry)
    .await?;
    Ok(())
}

/// Tries a scheduled report gets (its queries or its email could not be written).
pub const REPORT_ATTEMPTS: i32 = 3;

/// Queues a schedule slot's report; nothing when that slot is queued already.
pub async fn enqueue_report(registry: &PgPool, tenant: &TenantId, key: &str) -> sqlx::Result<()> {
    enqueue_once(registry, tenant, "report", key, REPORT_ATTEMPTS).await
}

/// Tries a webhook delivery gets (2 s to 32 s apart).
pub const WEBHOOK_ATTEMPTS: i32 = 6;

/// Queues a webhook delivery; nothing when it is queued already.
pub async fn enqueue_webhook(registry: &PgPool, tenant: &TenantId, key: &str) -> sqlx::Result<()> {
    enqueue_once(registry, tenant, "webhook", key, WEBHOOK_ATTEMPTS).await
}

/// Whether a live worker holds the batch's job now (running under a lease not yet expired).
pub async fn is_held(registry: &PgPool, tenant: &TenantId, batch_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM job_queue WHERE tenant_id = $1 AND batch_id = $2 AND status = 'running' AND locked_until >= now())")
        .bind(tenant)
        .bind(batch_id)
        .fetch_one(registry)
        .await
}

/// Removes the jobs of a deleted upload.
pub async fn forget(registry: &PgPool, tenant: &TenantId, batch_id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM job_queue WHERE tenant_id = $1 AND batch_id = $2")
        .bind(tenant)
        .bind(batch_id)
        .execute(registry)
        .await?;
    Ok(())
}

/// Queues a batch again (a retry asked by a user); resets its attempts.
pub async fn requeue(registry: &PgPool, tenant: &TenantId, batch_id: &str) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "UPDATE job_queue SET status = 'queued', attempts = 0, run_after = now(), locked_by = NULL, locked_until = NULL, last_error = NULL, progress_rows = 0, finished_at = NULL
         WHERE tenant_id = $1 AND batch_id = $2 AND status IN ('failed', 'done')",
    )
    .bind(tenant)
    .bind(batch_id)
    .execute(registry)
    .await?
    .rows_affected();
    Ok(n > 0)
}

/// Claims the next runnable job: queued and due, or running with an expired lease, from a
/// tenant below its concurrency cap. Tenants take turns: the job of the tenant with the fewest
/// running jobs goes first, then the longest waiting, so one tenant's queue of large files
/// does not hold up another tenant's small one. Taking over an expired lease counts a lost
/// lease.
pub async fn claim(
    registry: &PgPool,
    worker: &str,
    lease: Duration,
    per_tenant: i64,
) -> sqlx::Result<Option<Job>> {
    let mut tx = registry.begin().await?;
    // Claims are serialized (they take a millisecond) so the per-tenant count is exact: two
    // workers claiming at once would otherwise both see the tenant below its cap.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('taskifai.job_queue.claim'))")
        .execute(&mut *tx)
        .await?;
    let job = sqlx::query_as(
        "UPDATE job_queue SET status = 'running', attempts = attempts + 1, locked_by = $1, locked_until = now() + make_interval(secs => $2),
             lost_leases = lost_leases + CASE WHEN status = 'running' THEN 1 ELSE 0 END
         WHERE id = (
             SELECT j.id FROM job_queue j,
                 LATERAL (SELECT count(*) AS n FROM job_queue r WHERE r.tenant_id = j.tenant_id AND r.status = 'running' AND r.locked_until >= now()) running
             WHERE ((j.status = 'queued' AND j.run_after <= now()) OR (j.status = 'running' AND j.locked_until < now()))
               AND running.n < $3
             ORDER BY running.n, j.run_after, j.id
             FOR UPDATE OF j SKIP LOCKED
             LIMIT 1)
         RETURNING id, tenant_id, kind, batch_id, attempts, max_attempts, lost_leases",
    )
    .bind(worker)
    .bind(lease.as_secs_f64())
    .bind(per_tenant)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(job)
}

/// Extends the lease; false when another worker took the job over.
pub async fn renew(
    registry: &PgPool,
    job: &Job,
    worker: &str,
    lease: Duration,
    progress_rows: i64,
) -> sqlx::Result<bool> {
    let n = sqlx::query("UPDATE job_queue SET locked_until = now() + make_interval(secs => $3), progress_rows = $4 WHERE id = $1 AND locked_by = $2 AND status = 'running'")
        .bind(job.id)
        .bind(worker)
        .bind(lease.as_secs_f64())
        .bind(progress_rows)
        .execute(registry)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Records success; false when the lease was lost (the new holder will finish it).
pub async fn complete(registry: &PgPool, job: &Job, worker: &str, rows: i64) -> sqlx::Result<bool> {
    let n = sqlx::query("UPDATE job_queue SET status = 'done', finished_at = now(), locked_until = NULL, progress_rows = $3, last_error = NULL WHERE id = $1 AND locked_by = $2 AND status = 'running'")
        .bind(job.id)
        .bind(worker)
        .bind(rows)
        .execute(registry)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Records a failed attempt: retried after a backoff while attempts remain and `retry` is set,
/// failed for good otherwise. Returns whether it will be retried.
pub async fn fail(
    registry: &PgPool,
    job: &Job,
    worker: &str,
    error: &str,
    retry: bool,
) -> sqlx::Result<bool> {
    let again = retry && job.attempts < job.max_attempts;
    // 2, 4, 8, 16 ... seconds, capped at ten minutes.
    let backoff = 2f64.powi(job.attempts.clamp(1, 9)).min(600.0);
    sqlx::query(
        "UPDATE job_queue SET status = CASE WHEN $4 THEN 'queued' ELSE 'failed' END, last_error = $3, locked_by = NULL, locked_until = NULL,
             run_after = now() + make_interval(secs => $5), finished_at = CASE WHEN $4 THEN NULL ELSE now() END
         WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(worker)
    .bind(error)
    .bind(again)
    .bind(backoff)
    .execute(registry)
    .await?;
    Ok(again)
}

/// Gives a job back at once (graceful shutdown): another worker may take it now.
pub async fn release(registry: &PgPool, job: &Job, worker: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE job_queue SET status = 'queued', attempts = greatest(attempts - 1, 0), locked_by = NULL, locked_until = NULL, run_after = now() WHERE id = $1 AND locked_by = $2 AND status = 'running'")
        .bind(job.id)
        .bind(worker)
        .execute(registry)
        .await?;
    Ok(())
}

/// The job of a batch.
pub async fn of_batch(
    registry: &PgPool,
    tenant: &TenantId,
    batch_id: &str,
) -> sqlx::Result<Option<JobView>> {
    sqlx::query_as("SELECT id, status, attempts, progress_rows, last_error FROM job_queue WHERE tenant_id = $1 AND batch_id = $2").bind(tenant).bind(batch_id).fetch_optional(registry).await
}

/// Jobs waiting or running, for the metrics.
pub async fn depth(registry: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM job_queue WHERE status IN ('queued', 'running')")
        .fetch_one(registry)
        .await
}

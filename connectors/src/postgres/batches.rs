//! The upload-batch rows of a tenant database and their lifecycle, in one place:
//!
//! ```text
//! pending ──▶ processing ──▶ completed | completed_with_errors
//!    ▲             │
//!    └── retry ── failed
//! ```
//!
//! An upload records its batch as pending; a worker marks it processing; the load's own
//! transaction (`DbLoad`, in the load module) records the outcome; a failure that will not be retried
//! marks it failed, and an admin's retry makes it pending again. Every SQL statement that writes
//! `upload_batches` lives here.

use super::PgError;
use crate::lake::{BatchMeta, LoadMode};
use sqlx::{PgExecutor, Postgres, Transaction};
use taskifai_engine::pipeline::Summary;
use taskifai_engine::schema::{EUR_SCALE, LOCAL_SCALE};

/// Where an upload is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Stored and queued for a worker.
    Pending,
    /// A worker is loading it.
    Processing,
    /// Loaded, every row accepted.
    Completed,
    /// Loaded; some rows were rejected and are in its error report.
    CompletedWithErrors,
    /// Not loaded; `error_summary` says why.
    Failed,
}

impl BatchStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Completed,
        Self::CompletedWithErrors,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::CompletedWithErrors => "completed_with_errors",
            Self::Failed => "failed",
        }
    }

    /// Its data is in the lake and the database.
    pub fn is_loaded(self) -> bool {
        matches!(self, Self::Completed | Self::CompletedWithErrors)
    }

    /// Nothing will change it without a user's action.
    pub fn is_final(self) -> bool {
        self.is_loaded() || self == Self::Failed
    }
}

impl std::str::FromStr for BatchStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!("unknown status {s:?}; one of {}", known.join(", "))
            })
    }
}

impl std::fmt::Display for BatchStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Statuses as stored text, for reading rows written by this module.
pub fn parse_status(text: &str) -> Result<BatchStatus, PgError> {
    text.parse().map_err(PgError::Reference)
}

/// A stored upload waiting for its job.
pub struct NewUpload<'a> {
    pub id: &'a str,
    pub file_name: &'a str,
    pub file_size: u64,
    pub sha256: &'a str,
    pub mode: LoadMode,
    pub storage_path: &'a str,
    pub vendor_override: Option<&'a str>,
    pub uploaded_by: Option<i64>,
    /// The period of a file that carries none, as the user wrote it (`2025-06`).
    pub period: Option<&'a str>,
    /// Replace the period's data even when the load has no rows.
    pub allow_empty: bool,
}

/// Records an upload as pending.
pub async fn record_pending(db: impl PgExecutor<'_>, u: &NewUpload<'_>) -> Result<(), PgError> {
    sqlx::query("INSERT INTO upload_batches (id, file_name, file_size, sha256, mode, status, storage_path, vendor_override, uploaded_by, period_override, allow_empty) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10)")
        .bind(u.id)
        .bind(u.file_name)
        .bind(u.file_size as i64)
        .bind(u.sha256)
        .bind(u.mode.as_str())
        .bind(u.storage_path)
        .bind(u.vendor_override)
        .bind(u.uploaded_by)
        .bind(u.period)
        .bind(u.allow_empty)
        .execute(db)
        .await?;
    Ok(())
}

/// The live batch (queued, loading or loaded, not replaced) with the same content, if any.
pub async fn live_with_sha(
    db: impl PgExecutor<'_>,
    sha256: &str,
) -> Result<Option<SameBytes>, PgError> {
    Ok(sqlx::query_as(
        "SELECT id, file_name, vendor, spec_version, status FROM upload_batches WHERE sha256 = $1 AND replaced_by IS NULL AND status IN ('pending', 'processing', 'completed', 'completed_with_errors') ORDER BY created_at LIMIT 1",
    )
    .bind(sha256)
    .fetch_optional(db)
    .await?)
}

/// A live or queued batch of the same bytes as a new upload.
#[derive(Debug, sqlx::FromRow)]
pub struct SameBytes {
    pub id: String,
    pub file_name: String,
    pub vendor: Option<String>,
    pub spec_version: Option<i32>,
    pub status: String,
}

/// What a worker needs to load an upload.
#[derive(Debug, sqlx::FromRow)]
pub struct Queued {
    pub file_name: String,
    pub storage_path: Option<String>,
    pub mode: String,
    pub vendor_override: Option<String>,
    pub status: String,
    pub period_override: Option<String>,
    pub allow_empty: bool,
}

pub async fn queued(db: impl PgExecutor<'_>, id: &str) -> Result<Option<Queued>, PgError> {
    Ok(sqlx::query_as("SELECT file_name, storage_path, mode, vendor_override, status, period_override, allow_empty FROM upload_batches WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?)
}

/// A worker has taken the upload.
pub async fn mark_processing(db: impl PgExecutor<'_>, id: &str) -> Result<(), PgError> {
    sqlx::query("UPDATE upload_batches SET status = 'processing', started_at = coalesce(started_at, now()) WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// An attempt failed: `failed` for good (with its finishing time), or back to `pending` when
/// the job will be tried again. A loaded batch is never touched.
pub async fn mark_attempt_failed(
    db: impl PgExecutor<'_>,
    id: &str,
    message: &str,
    again: bool,
) -> Result<(), PgError> {
    let status = if again {
        BatchStatus::Pending
    } else {
        BatchStatus::Failed
    };
    sqlx::query("UPDATE upload_batches SET status = $2, error_summary = $3, finished_at = CASE WHEN $2 = 'failed' THEN now() END WHERE id = $1 AND status IN ('pending', 'processing')")
        .bind(id)
        .bind(status.as_str())
        .bind(message)
        .execute(db)
        .await?;
    Ok(())
}

/// A failed upload is queued again.
pub async fn mark_retried(db: impl PgExecutor<'_>, id: &str) -> Result<(), PgError> {
    sqlx::query("UPDATE upload_batches SET status = 'pending', error_summary = NULL, finished_at = NULL WHERE id = $1 AND status = 'failed'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The stored source file of an upload, if it has one.
pub async fn storage_path(db: impl PgExecutor<'_>, id: &str) -> Result<Option<String>, PgError> {
    Ok(
        sqlx::query_scalar("SELECT storage_path FROM upload_batches WHERE id = $1")
            .bind(id)
            .fetch_optional(db)
            .await?
            .flatten(),
    )
}

pub async fn delete(db: impl PgExecutor<'_>, id: &str) -> Result<(), PgError> {
    sqlx::query("DELETE FROM upload_batches WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// A load has started: the batch is processing (an upload's pending row is taken over; a CLI
/// load gets a new row).
pub async fn begin_load(
    tx: &mut Transaction<'static, Postgres>,
    meta: &BatchMeta,
    file_size: u64,
    mode: LoadMode,
) -> Result<(), PgError> {
    sqlx::query(
        "INSERT INTO upload_batches (id, file_name, file_size, sha256, vendor, spec_version, status, target_table, started_at, mode) VALUES ($1, $2, $3, $4, $5, $6, 'processing', $7, now(), $8)
         ON CONFLICT (id) DO UPDATE SET vendor = EXCLUDED.vendor, spec_version = EXCLUDED.spec_version, status = 'processing', target_table = EXCLUDED.target_table,
         started_at = coalesce(upload_batches.started_at, now()), mode = EXCLUDED.mode, error_summary = NULL",
    )
    .bind(&meta.batch_id)
    .bind(&meta.file_name)
    .bind(file_size as i64)
    .bind(&meta.sha256)
    .bind(&meta.vendor)
    .bind(meta.spec_version as i32)
    .bind(&meta.table)
    .bind(mode.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The load's outcome: counts, totals and period; completed, or completed with errors.
pub async fn finish_load(
    tx: &mut Transaction<'static, Postgres>,
    id: &str,
    summary: &Summary,
) -> Result<(), PgError> {
    let status = if summary.rows_rejected > 0 {
        BatchStatus::CompletedWithErrors
    } else {
        BatchStatus::Completed
    };
    let dec = |v: i128, s: i8| taskifai_engine::values::format_scaled(v, s as u32);
    sqlx::query(
        "UPDATE upload_batches SET status = $2, rows_read = $3, rows_accepted = $4, rows_rejected = $5, rows_skipped = $6, warnings = $7,
         quantity_total = $8, sales_local = $9::numeric, sales_eur = $10::numeric, currency = $11, period_start = $12, period_end = $13,
         period_grain = $14, finished_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(summary.rows_read as i64)
    .bind(summary.rows_accepted as i64)
    .bind(summary.rows_rejected as i64)
    .bind((summary.rows_skipped + summary.rows_other_period) as i64)
    .bind(summary.warnings as i64)
    .bind(summary.quantity)
    .bind(dec(summary.sales_local, LOCAL_SCALE))
    .bind(dec(summary.sales_eur, EUR_SCALE))
    .bind(&summary.currency)
    .bind(summary.period.start)
    .bind(summary.period.end)
    .bind(summary.period.grain.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Queues a new upload that loads `of`'s stored file again in replace mode, with the vendor it
/// was detected as and the period it was given; `false` when `of` is not a live loaded upload
/// with a stored file.
pub async fn record_reprocess(
    db: impl PgExecutor<'_>,
    of: &str,
    id: &str,
    reason: &str,
) -> Result<bool, PgError> {
    let done = sqlx::query(
        "INSERT INTO upload_batches (id, file_name, file_size, sha256, mode, status, storage_path, vendor_override, uploaded_by, period_override, allow_empty, reprocess_of, reprocess_reason)
         SELECT $2, file_name, file_size, sha256, 'replace', 'pending', storage_path, vendor, uploaded_by, period_override, allow_empty, id, $3
         FROM upload_batches WHERE id = $1 AND replaced_by IS NULL AND storage_path IS NOT NULL AND status IN ('completed', 'completed_with_errors')",
    )
    .bind(of)
    .bind(id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the error report of a refused attempt, before the upload is tried again: the next
/// attempt writes its own.
pub async fn forget_refused_report(db: impl PgExecutor<'_>, id: &str) -> Result<(), PgError> {
    sqlx::query("DELETE FROM error_reports WHERE batch_id = $1 AND EXISTS (SELECT 1 FROM upload_batches WHERE id = $1 AND status IN ('pending', 'failed'))")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Queues a failed upload again (its catalog changed since it was refused); `false` when it is
/// not a failed upload with a stored file.
pub async fn retry_refused(
    db: impl PgExecutor<'_>,
    id: &str,
    reason: &str,
) -> Result<bool, PgError> {
    let done = sqlx::query(
        "UPDATE upload_batches SET status = 'pending', error_summary = NULL, started_at = NULL, finished_at = NULL, reprocess_reason = $2
         WHERE id = $1 AND status = 'failed' AND storage_path IS NOT NULL",
    )
    .bind(id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether another upload than `id` keeps its file at `path` (a re-processed upload shares
/// its original's), so deleting `id` must leave the file.
pub async fn file_shared(db: impl PgExecutor<'_>, id: &str, path: &str) -> Result<bool, PgError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM upload_batches WHERE storage_path = $2 AND id <> $1)",
    )
    .bind(id)
    .bind(path)
    .fetch_one(db)
    .await?)
}

/// Every live loaded upload's vendor, period and arrival, for the completeness ledger.
pub async fn received(
    db: impl PgExecutor<'_>,
) -> Result<Vec<taskifai_engine::completeness::Received>, PgError> {
    let rows: Vec<(String, String, chrono::NaiveDate, chrono::NaiveDate, chrono::NaiveDate)> =
        sqlx::query_as(
            "SELECT vendor, period_grain, period_start, period_end, created_at::date FROM upload_batches
             WHERE replaced_by IS NULL AND status IN ('completed', 'completed_with_errors')
               AND vendor IS NOT NULL AND period_grain IS NOT NULL ORDER BY vendor, period_start",
        )
        .fetch_all(db)
        .await?;
    rows.into_iter()
        .map(|(vendor, grain, start, end, arrived)| {
            let grain = taskifai_engine::period::Grain::parse(&grain).ok_or_else(|| {
                PgError::Reference(format!(
                    "upload period grain {grain:?} is not day, week, month or year"
                ))
            })?;
            Ok(taskifai_engine::completeness::Received {
                vendor,
                grain,
                start,
                end,
                arrived,
            })
        })
        .collect()
}

/// Records that `replaced` were replaced by `by`.
pub async fn mark_replaced(
    tx: &mut Transaction<'static, Postgres>,
    replaced: &[String],
    by: &str,
) -> Result<(), PgError> {
    sqlx::query("UPDATE upload_batches SET replaced_by = $2 WHERE id = ANY($1)")
        .bind(replaced)
        .bind(by)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Ids of the loaded batches that nothing replaced.
pub async fn live_loaded(db: impl PgExecutor<'_>) -> Result<Vec<String>, PgError> {
    Ok(sqlx::query_scalar("SELECT id FROM upload_batches WHERE status IN ('completed', 'completed_with_errors') AND replaced_by IS NULL").fetch_all(db).await?)
}

/// Removes a loaded batch's row unless it was replaced meanwhile; whether it did.
pub async fn remove_loaded(db: impl PgExecutor<'_>, id: &str) -> Result<bool, PgError> {
    let n = sqlx::query("DELETE FROM upload_batches WHERE id = $1 AND replaced_by IS NULL AND status IN ('completed', 'completed_with_errors')")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected();
    Ok(n > 0)
}

/// The batch's status, its row locked until the transaction ends.
pub async fn lock_status(
    tx: &mut Transaction<'static, Postgres>,
    id: &str,
) -> Result<Option<BatchStatus>, PgError> {
    let text: Option<String> =
        sqlx::query_scalar("SELECT status FROM upload_batches WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    text.as_deref().map(parse_status).transpose()
}

/// Records a batch the lake committed and the database missed, as completed; false when its
/// own load recorded it meanwhile.
pub async fn insert_repaired(
    tx: &mut Transaction<'static, Postgres>,
    meta: &BatchMeta,
) -> Result<bool, PgError> {
    sqlx::query("DELETE FROM upload_batches WHERE id = $1")
        .bind(&meta.batch_id)
        .execute(&mut **tx)
        .await?;
    let inserted = sqlx::query("INSERT INTO upload_batches (id, file_name, sha256, vendor, spec_version, status, target_table, rows_accepted, period_start, period_end, finished_at) VALUES ($1, $2, $3, $4, $5, 'completed', $6, $7, $8::date, $9::date, now()) ON CONFLICT (id) DO NOTHING")
        .bind(&meta.batch_id)
        .bind(&meta.file_name)
        .bind(&meta.sha256)
        .bind(&meta.vendor)
        .bind(meta.spec_version as i32)
        .bind(&meta.table)
        .bind(meta.rows as i64)
        .bind(&meta.period_start)
        .bind(&meta.period_end)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    Ok(inserted > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_named() {
        for s in BatchStatus::ALL {
            assert_eq!(s.as_str().parse::<BatchStatus>(), Ok(s));
        }
        assert!("done"
            .parse::<BatchStatus>()
            .unwrap_err()
            .contains("pending"));
        assert!(BatchStatus::CompletedWithErrors.is_loaded());
        assert!(BatchStatus::Failed.is_final() && !BatchStatus::Processing.is_final());
    }
}

/// One batch as the API shows it.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Upload)]
pub struct UploadBatch {
    pub id: String,
    pub file_name: String,
    pub file_size: i64,
    pub sha256: String,
    pub vendor: Option<String>,
    pub spec_version: Option<i32>,
    pub mode: String,
    pub status: String,
    pub rows_read: i64,
    pub rows_accepted: i64,
    pub rows_rejected: i64,
    pub rows_skipped: i64,
    pub warnings: i64,
    pub quantity_total: i64,
    /// Decimal text, exact.
    pub sales_local: Option<String>,
    pub sales_eur: Option<String>,
    pub currency: Option<String>,
    pub period_start: Option<chrono::NaiveDate>,
    pub period_end: Option<chrono::NaiveDate>,
    pub period_grain: Option<String>,
    pub error_summary: Option<String>,
    pub replaced_by: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The upload this one re-processed after the catalog changed, and why.
    pub reprocess_of: Option<String>,
    pub reprocess_reason: Option<String>,
}

const COLUMNS: &str = "id, file_name, file_size, sha256, vendor, spec_version, mode, status, rows_read, rows_accepted, rows_rejected, rows_skipped, warnings, quantity_total,
    sales_local::text AS sales_local, sales_eur::text AS sales_eur, currency, period_start, period_end, period_grain, error_summary, replaced_by, created_at, started_at, finished_at, reprocess_of, reprocess_reason";

/// Which batches a listing shows.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub status: Option<BatchStatus>,
    pub vendor: Option<&'a str>,
    /// Part of the file name, any case.
    pub name_contains: Option<&'a str>,
}

const FILTER: &str = "($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR vendor = $2) AND ($3::text IS NULL OR file_name ILIKE '%' || $3 || '%')";

/// A page of batches, newest first, and how many match in all.
pub async fn list(
    db: &sqlx::PgPool,
    f: &ListFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UploadBatch>, i64), PgError> {
    let status = f.status.map(BatchStatus::as_str);
    let items = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upload_batches WHERE {FILTER} ORDER BY created_at DESC, id LIMIT $4 OFFSET $5"
    ))
    .bind(status)
    .bind(f.vendor)
    .bind(f.name_contains)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM upload_batches WHERE {FILTER}"
    ))
    .bind(status)
    .bind(f.vendor)
    .bind(f.name_contains)
    .fetch_one(db)
    .await?;
    Ok((items, total))
}

/// One batch by id.
pub async fn get(db: impl PgExecutor<'_>, id: &str) -> Result<Option<UploadBatch>, PgError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM upload_batches WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

//! Uploads: files streamed to the object store, recorded as pending batches and queued for a
//! worker; their history, status, live progress, error reports, deletion and retry.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::form;
use super::paging::Paging;
use super::ratelimit::Bucket;
use super::reports::ErrorRow;
use super::tenancy::TenantCtx;
use crate::jobs;
use crate::state::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use object_store::buffered::BufWriter;
use object_store::path::Path as StorePath;
use object_store::ObjectStoreExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use taskifai_connectors::error_report::ReportPaths;
use taskifai_connectors::lake::LoadMode;
pub use taskifai_connectors::postgres::batches::UploadBatch as Upload;
use taskifai_connectors::postgres::batches::{self, BatchStatus, NewUpload};
use tokio::io::AsyncWriteExt;

const MAX_FILES: usize = 20;

/// What happened to one file of a multipart upload.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub id: String,
    pub file_name: String,
    /// `pending` (queued) or `duplicate` (identical content is already loaded or queued).
    pub status: &'static str,
    pub duplicate_of: Option<String>,
    pub job_id: Option<i64>,
}

/// Checks a client's file name: a plain name, no path, no control characters.
pub fn check_file_name(name: &str) -> ApiResult<String> {
    let bad = |why: &str| ApiError::bad("invalid_file_name", format!("file name {name:?} {why}"));
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(bad("is empty"));
    }
    if trimmed.contains(['/', '\\']) || trimmed == "." || trimmed.starts_with("..") {
        return Err(bad("contains a path; send the bare file name"));
    }
    if trimmed.chars().any(char::is_control) || trimmed.len() > 255 {
        return Err(bad("has control characters or is longer than 255 bytes"));
    }
    Ok(trimmed.to_owned())
}

struct Stored {
    id: String,
    name: String,
    path: String,
    size: u64,
    sha256: String,
}

/// Upload one or more files (`file` parts), optionally with `mode` (append|replace) and
/// `vendor` (skip detection) parts.
#[utoipa::path(post, path = "/api/uploads", request_body(content_type = "multipart/form-data", description = "`file` parts; optional `mode` (replace or append), `vendor`, `period` (2025-06 or 2025, for files that carry none) and `allow_empty_replace` (true to let an empty load replace a period)"),
    responses((status = 202, body = [Accepted]), (status = 400), (status = 403), (status = 413)), tag = "uploads")]
pub async fn create(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    mut form: Multipart,
) -> ApiResult<(StatusCode, Json<Vec<Accepted>>)> {
    auth.require(Role::Member)?;
    state
        .limiter
        .check(Bucket::Upload, &format!("{}:{}", tenant.id(), auth.who))?;
    let (mut mode, mut vendor, mut stored) = (None::<String>, None::<String>, Vec::<Stored>::new());
    let (mut period, mut allow_empty) = (None::<String>, false);
    let result = async {
        while let Some(field) = form::next(&mut form).await? {
            match field.name().unwrap_or_default() {
                "mode" => mode = form::text(field).await?.map(|m| m.to_lowercase()),
                "vendor" => vendor = form::text(field).await?,
                "period" => {
                    let p = form::text(field).await?;
                    if let Some(p) = &p {
                        taskifai_engine::period::Period::parse_user(p).ok_or_else(|| {
                            ApiError::bad(
                                "invalid_period",
                                format!("period {p:?}: expected a month (2025-06) or a year (2025)"),
                            )
                        })?;
                    }
                    period = p;
                }
                "allow_empty_replace" => {
                    allow_empty = match form::text(field).await?.as_deref() {
                        None | Some("false" | "0" | "no") => false,
                        Some("true" | "1" | "yes") => true,
                        Some(other) => {
                            return Err(ApiError::bad(
                                "invalid_allow_empty_replace",
                                format!("allow_empty_replace {other:?}: expected true or false"),
                            ))
                        }
                    }
                }
                "file" | "files" | "files[]" => {
                    if stored.len() == MAX_FILES {
                        return Err(ApiError::bad(
                            "too_many_files",
                            format!("at most {MAX_FILES} files per upload"),
                        ));
                    }
                    let name = check_file_name(field.file_name().unwrap_or_default())?;
                    stored.push(store_field(&state, tenant.id(), name, field).await?);
                }
                other => {
                    return Err(ApiError::bad(
                        "unknown_field",
                        format!("unknown form field {other:?}; send `file`, `mode`, `vendor`, `period` or `allow_empty_replace`"),
                    ))
                }
            }
        }
        if stored.is_empty() {
            return Err(ApiError::bad("no_file", "the upload has no `file` part"));
        }
        let mode = match &mode {
            Some(m) => m
                .parse::<LoadMode>()
                .map_err(|e| ApiError::bad("invalid_mode", e))?,
            None => LoadMode::Replace,
        };
        if let Some(v) = &vendor {
            let specs = state.specs_for(tenant.id(), &tenant.pool).await?;
            if specs.get(v).is_none() {
                return Err(ApiError::bad(
                    "unknown_vendor",
                    format!(
                        "unknown vendor {v:?}; known: {}",
                        specs.vendors().join(", ")
                    ),
                ));
            }
        }
        Ok(mode)
    }
    .await;
    let mode = match result {
        Ok(mode) => mode,
        Err(e) => {
            for s in &stored {
                let _ = state
                    .lake
                    .store()
                    .delete(&StorePath::from(s.path.as_str()))
                    .await;
            }
            return Err(e);
        }
    };
    let mut out = Vec::new();
    for s in stored {
        let options = Options {
            mode,
            vendor: vendor.as_deref(),
            period: period.as_deref(),
            allow_empty,
        };
        out.push(record(&state, &tenant, &auth, s, &options).await?);
    }
    Ok((StatusCode::ACCEPTED, Json(out)))
}

async fn store_field(
    state: &AppState,
    tenant: &str,
    name: String,
    mut field: axum::extract::multipart::Field<'_>,
) -> ApiResult<Stored> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let path = format!("tenant={tenant}/_uploads/{id}/{name}");
    let mut writer = BufWriter::new(state.lake.store(), StorePath::from(path.as_str()));
    let (mut size, mut sha) = (0u64, Sha256::new());
    let limit = state.config.max_upload_bytes;
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(ApiError::bad("bad_multipart", e.body_text()));
            }
        };
        size += chunk.len() as u64;
        if size > limit {
            let _ = writer.abort().await;
            return Err(ApiError::TooLarge(limit));
        }
        sha.update(&chunk);
        if let Err(e) = writer.write_all(&chunk).await {
            let _ = writer.abort().await;
            return Err(ApiError::internal(e));
        }
    }
    writer.shutdown().await.map_err(ApiError::internal)?;
    Ok(Stored {
        id,
        name,
        path,
        size,
        sha256: hex::encode(sha.finalize()),
    })
}

/// Whether an upload of the same bytes is a plain repeat, answered at once: the same file still
/// queued or loading, or loaded under the same name with the tenant's current spec. Anything
/// else goes to a worker, which re-processes it under a newer spec or refuses a changed period.
async fn repeats(
    state: &AppState,
    tenant: &TenantCtx,
    same: &batches::SameBytes,
    name: &str,
) -> ApiResult<bool> {
    let status = batches::parse_status(&same.status)?;
    if !status.is_loaded() {
        return Ok(true);
    }
    if same.file_name != name {
        return Ok(false);
    }
    let specs = state.specs_for(tenant.id(), &tenant.pool).await?;
    let current = same
        .vendor
        .as_deref()
        .and_then(|v| specs.get(v))
        .map(|s| s.spec.version as i32);
    Ok(current.is_some() && current == same.spec_version)
}

/// What the upload form asked of every file's load.
struct Options<'a> {
    mode: LoadMode,
    vendor: Option<&'a str>,
    period: Option<&'a str>,
    allow_empty: bool,
}

async fn record(
    state: &AppState,
    tenant: &TenantCtx,
    auth: &Auth,
    s: Stored,
    o: &Options<'_>,
) -> ApiResult<Accepted> {
    let existing = match batches::live_with_sha(&tenant.pool, &s.sha256).await? {
        Some(same) if o.period.is_none() && repeats(state, tenant, &same, &s.name).await? => {
            Some(same.id)
        }
        _ => None,
    };
    if let Some(dup) = existing {
        let _ = state
            .lake
            .store()
            .delete(&StorePath::from(s.path.as_str()))
            .await;
        return Ok(Accepted {
            id: dup.clone(),
            file_name: s.name,
            status: "duplicate",
            duplicate_of: Some(dup),
            job_id: None,
        });
    }
    let upload = NewUpload {
        id: &s.id,
        file_name: &s.name,
        file_size: s.size,
        sha256: &s.sha256,
        mode: o.mode,
        storage_path: &s.path,
        vendor_override: o.vendor,
        uploaded_by: auth.user_id,
        period: o.period,
        allow_empty: o.allow_empty,
    };
    batches::record_pending(&tenant.pool, &upload).await?;
    let job = match jobs::enqueue(&state.registry.pool, tenant.id(), &s.id).await {
        Ok(j) => j,
        Err(e) => {
            let why = "could not be queued; retry it";
            let _ = batches::mark_attempt_failed(&tenant.pool, &s.id, why, false).await;
            return Err(ApiError::internal(e));
        }
    };
    tracing::info!(tenant = %tenant.id(), batch = %s.id, file = %s.name, bytes = s.size, "Upload queued.");
    Ok(Accepted {
        id: s.id,
        file_name: s.name,
        status: "pending",
        duplicate_of: None,
        job_id: Some(job),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    pub status: Option<String>,
    pub vendor: Option<String>,
    /// Part of the file name.
    pub q: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: i64,
}

fn paging(page: Option<u64>, per_page: Option<u64>) -> ApiResult<Paging> {
    Paging::new(page, per_page, 50, 500)
}

#[utoipa::path(get, path = "/api/uploads", params(ListParams), responses((status = 200, body = Page<Upload>)), tag = "uploads")]
pub async fn list(
    tenant: TenantCtx,
    _auth: Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Page<Upload>>> {
    let paged = paging(p.page, p.per_page)?;
    let (page, per_page) = (paged.page, paged.per_page);
    let status = p
        .status
        .as_deref()
        .map(str::parse::<BatchStatus>)
        .transpose()
        .map_err(|e| ApiError::bad("invalid_status", e))?;
    let filter = batches::ListFilter {
        status,
        vendor: p.vendor.as_deref(),
        name_contains: p.q.as_deref(),
    };
    let (items, total) = batches::list(
        &tenant.pool,
        &filter,
        per_page as i64,
        paged.offset() as i64,
    )
    .await?;
    Ok(Json(Page {
        items,
        page,
        per_page,
        total,
    }))
}

async fn fetch(tenant: &TenantCtx, id: &str) -> ApiResult<Upload> {
    batches::get(&tenant.pool, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("upload {id:?}")))
}

#[utoipa::path(get, path = "/api/uploads/{id}", responses((status = 200, body = Upload), (status = 404)), tag = "uploads")]
pub async fn get(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let upload = fetch(&tenant, &id).await?;
    let job = jobs::of_batch(&state.registry.pool, tenant.id(), &id).await?;
    let mut v = serde_json::to_value(upload).map_err(ApiError::internal)?;
    v["job"] = serde_json::to_value(job).map_err(ApiError::internal)?;
    Ok(Json(v))
}

fn terminal(status: &str) -> bool {
    status
        .parse::<BatchStatus>()
        .is_ok_and(BatchStatus::is_final)
}

/// Server-sent events: `progress` while the job runs, then one `done` with the final state.
#[utoipa::path(get, path = "/api/uploads/{id}/events", responses((status = 200, content_type = "text/event-stream")), tag = "uploads")]
pub async fn events(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    fetch(&tenant, &id).await?;
    let stream = futures::stream::unfold((false, String::new()), move |(finished, last)| {
        let (state, tenant, id) = (state.clone(), tenant.clone(), id.clone());
        async move {
            if finished {
                return None;
            }
            loop {
                let upload = fetch(&tenant, &id).await.ok()?;
                let job = jobs::of_batch(&state.registry.pool, tenant.id(), &id)
                    .await
                    .ok()
                    .flatten();
                let body = serde_json::json!({ "status": upload.status, "rows_processed": job.as_ref().map_or(upload.rows_read, |j| j.progress_rows.max(upload.rows_read)),
                    "rows_accepted": upload.rows_accepted, "rows_rejected": upload.rows_rejected, "error": upload.error_summary, "attempts": job.as_ref().map(|j| j.attempts) })
                .to_string();
                let done = terminal(&upload.status);
                if body != last || done {
                    let event = Event::default()
                        .event(if done { "done" } else { "progress" })
                        .data(body.clone());
                    return Some((Ok::<_, std::convert::Infallible>(event), (done, body)));
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ErrorParams {
    /// json (default, paged), csv or xlsx.
    pub format: Option<String>,
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// The batch's rejected rows and warnings: a JSON page, or the whole report as CSV or XLSX.
#[utoipa::path(get, path = "/api/uploads/{id}/errors", params(ErrorParams), responses((status = 200, body = Page<ErrorRow>)), tag = "uploads")]
pub async fn errors(
    tenant: TenantCtx,
    _auth: Auth,
    Path(id): Path<String>,
    Query(p): Query<ErrorParams>,
) -> ApiResult<Response> {
    let upload = fetch(&tenant, &id).await?;
    let select = "SELECT file, sheet, source_row, \"column\", raw_value, rule, severity, message FROM error_reports WHERE batch_id = $1 ORDER BY source_row NULLS FIRST, id";
    let format = p.format.as_deref().unwrap_or("json");
    if format == "json" {
        let paged = paging(p.page, p.per_page)?;
        let (page, per_page) = (paged.page, paged.per_page);
        let items: Vec<ErrorRow> = sqlx::query_as(&format!("{select} LIMIT $2 OFFSET $3"))
            .bind(&id)
            .bind(per_page as i64)
            .bind(paged.offset() as i64)
            .fetch_all(&tenant.pool)
            .await?;
        let total = sqlx::query_scalar("SELECT count(*) FROM error_reports WHERE batch_id = $1")
            .bind(&id)
            .fetch_one(&tenant.pool)
            .await?;
        return Ok(Json(Page {
            items,
            page,
            per_page,
            total,
        })
        .into_response());
    }
    let rows: Vec<ErrorRow> = sqlx::query_as(select)
        .bind(&id)
        .fetch_all(&tenant.pool)
        .await?;
    let stem = upload
        .file_name
        .rsplit_once('.')
        .map_or(upload.file_name.as_str(), |(s, _)| s)
        .replace(['"', ';'], "_");
    let (bytes, mime, ext) = match format {
        "csv" => (
            super::reports::errors_csv(&rows).map_err(ApiError::internal)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        "xlsx" => (
            super::reports::errors_xlsx(&rows).map_err(ApiError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        other => {
            return Err(ApiError::bad(
                "invalid_format",
                format!("format {other:?}: expected json, csv or xlsx"),
            ))
        }
    };
    let disposition = format!("attachment; filename=\"{stem}.errors.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Removes a batch from the lake and the database (its rows, error report and source file).
#[utoipa::path(delete, path = "/api/uploads/{id}", responses((status = 204), (status = 404), (status = 409)), tag = "uploads")]
pub async fn delete(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Member)?;
    let upload = fetch(&tenant, &id).await?;
    // A processing upload whose worker died (its lease ran out) can go; a live load cannot.
    if upload.status == BatchStatus::Processing.as_str()
        && jobs::is_held(&state.registry.pool, tenant.id(), &id).await?
    {
        return Err(ApiError::Conflict(
            "the upload is being processed; delete it when it has finished".into(),
        ));
    }
    let source = batches::storage_path(&tenant.pool, &id).await?;
    // The lake decides: once the batch is gone there, the database follows (or is repaired).
    state.lake.delete_batch(tenant.id(), &id).await?;
    batches::delete(&tenant.pool, &id).await?;
    jobs::forget(&state.registry.pool, tenant.id(), &id).await?;
    let store = state.lake.store();
    ReportPaths::of(tenant.id(), &id)
        .delete(store.as_ref())
        .await;
    if let Some(path) = source {
        if !batches::file_shared(&tenant.pool, &id, &path).await? {
            let _ = store.delete(&StorePath::from(path.as_str())).await;
        }
    }
    auth.audit(
        &tenant.pool,
        "upload.deleted",
        &id,
        serde_json::json!({ "file": upload.file_name, "status": upload.status }),
    )
    .await?;
    tracing::info!(tenant = %tenant.id(), batch = %id, by = %auth.who, "Upload deleted.");
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a failed upload again.
#[utoipa::path(post, path = "/api/uploads/{id}/retry", responses((status = 202), (status = 409)), tag = "uploads")]
pub async fn retry(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Member)?;
    let upload = fetch(&tenant, &id).await?;
    if upload.status != BatchStatus::Failed.as_str() {
        return Err(ApiError::Conflict(format!(
            "only failed uploads can be retried; this one is {}",
            upload.status
        )));
    }
    batches::mark_retried(&tenant.pool, &id).await?;
    batches::forget_refused_report(&tenant.pool, &id).await?;
    if !jobs::requeue(&state.registry.pool, tenant.id(), &id).await? {
        jobs::enqueue(&state.registry.pool, tenant.id(), &id).await?;
    }
    Ok(StatusCode::ACCEPTED)
}

//! A tenant's vendor specs: the platform's specs plus the tenant's own versions. A new version
//! is parsed, compiled and its embedded examples run before it is stored; it is used for
//! uploads once activated. A file can be tried against the specs without loading anything.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::form;
use super::ratelimit::Bucket;
use super::tenancy::TenantCtx;
use crate::state::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestRequest};

#[utoipa::path(get, path = "/api/specs", responses((status = 200)), tag = "specs")]
pub async fn list(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
) -> ApiResult<Json<Value>> {
    let specs = state.specs_for(tenant.id(), &tenant.pool).await?;
    let own: Vec<(String, i32, bool)> =
        sqlx::query_as("SELECT vendor, version, active FROM vendor_specs ORDER BY vendor, version")
            .fetch_all(&tenant.pool)
            .await?;
    let items: Vec<Value> = specs
        .iter()
        .map(|s| {
            let v = &s.spec.vendor;
            let versions: Vec<Value> = own.iter().filter(|o| &o.0 == v).map(|o| json!({ "version": o.1, "active": o.2 })).collect();
            let source = if own.iter().any(|o| &o.0 == v && o.2) { "tenant" } else { "platform" };
            json!({ "vendor": v, "version": s.spec.version, "target": format!("{:?}", s.spec.target).to_lowercase(), "source": source, "tenant_versions": versions })
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

/// Examples one submitted spec may run: each can spend a hook's whole operation budget.
const MAX_EXAMPLES: usize = 20;

/// Vendor names in URLs are spec ids: lower-case letters, digits and `_` (never a path).
fn check_vendor_name(vendor: &str) -> ApiResult<()> {
    let ok = (2..=40).contains(&vendor.len())
        && vendor.starts_with(|c: char| c.is_ascii_lowercase())
        && vendor
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad(
            "invalid_vendor",
            format!("vendor {vendor:?}: lower-case letters, digits and `_`, starting with a letter, 2-40 characters"),
        ))
    }
}

/// The spec in use for a vendor, as YAML text when it is the tenant's own.
#[utoipa::path(get, path = "/api/specs/{vendor}", responses((status = 200), (status = 404)), tag = "specs")]
pub async fn get(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Path(vendor): Path<String>,
) -> ApiResult<Json<Value>> {
    check_vendor_name(&vendor)?;
    let specs = state.specs_for(tenant.id(), &tenant.pool).await?;
    let spec = specs
        .get(&vendor)
        .ok_or_else(|| ApiError::NotFound(format!("vendor spec {vendor:?}")))?;
    let versions: Vec<(i32, bool, String)> = sqlx::query_as(
        "SELECT version, active, body FROM vendor_specs WHERE vendor = $1 ORDER BY version",
    )
    .bind(&vendor)
    .fetch_all(&tenant.pool)
    .await?;
    let active_body = versions.iter().find(|v| v.1).map(|v| v.2.clone());
    Ok(Json(json!({
        "vendor": vendor, "version": spec.spec.version, "source": if active_body.is_some() { "tenant" } else { "platform" },
        "body": active_body.unwrap_or_else(|| spec.source.clone()), "tenant_versions": versions.iter().map(|v| json!({ "version": v.0, "active": v.1 })).collect::<Vec<_>>(),
    })))
}

/// Stores a new version of a vendor's spec (the YAML is the request body) after it compiles
/// and its examples pass; 422 with the errors (line:column) otherwise.
#[utoipa::path(post, path = "/api/specs/{vendor}", request_body(content = String, content_type = "application/yaml"), responses((status = 201), (status = 409), (status = 422)), tag = "specs")]
pub async fn create(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(vendor): Path<String>,
    body: String,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require(Role::Admin)?;
    check_vendor_name(&vendor)?;
    // Running a spec's examples costs CPU: submissions share the upload quota.
    state
        .limiter
        .check(Bucket::Upload, &format!("{}:{}", tenant.id(), auth.who))?;
    let spec = taskifai_engine::spec::parse(&format!("{vendor}.yaml"), &body).map_err(|e| {
        ApiError::Unprocessable {
            code: "invalid_spec",
            message: e.to_string(),
        }
    })?;
    if spec.spec.examples.len() > MAX_EXAMPLES {
        return Err(ApiError::Unprocessable {
            code: "too_many_examples",
            message: format!(
                "{vendor}.yaml has {} examples; a submitted spec may have at most {MAX_EXAMPLES}, since each runs its hooks",
                spec.spec.examples.len()
            ),
        });
    }
    if spec.spec.examples.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "spec_without_examples",
            message: format!(
                "{vendor}.yaml has no examples; add at least one so its behaviour is checked"
            ),
        });
    }
    let version = spec.spec.version as i32;
    let reference = taskifai_connectors::postgres::catalog::load_reference(&tenant.pool).await?;
    let failures = tokio::task::spawn_blocking(move || {
        taskifai_engine::examples::run_examples(&spec, &reference)
            .into_iter()
            .map(|f| format!("example {:?}: {}", f.example, f.message))
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    if !failures.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "spec_examples_failed",
            message: failures.join("; "),
        });
    }
    sqlx::query("INSERT INTO vendor_specs (vendor, version, body) VALUES ($1, $2, $3)")
        .bind(&vendor)
        .bind(version)
        .bind(&body)
        .execute(&tenant.pool)
        .await
        .map_err(
            |e| match e.as_database_error().and_then(|d| d.constraint()) {
                Some("vendor_specs_pkey") => ApiError::Conflict(format!(
                    "{vendor} version {version} exists; raise `version` in the spec"
                )),
                _ => ApiError::internal(e),
            },
        )?;
    auth.audit(
        &tenant.pool,
        "spec.created",
        &format!("{vendor} version {version}"),
        json!({ "vendor": vendor, "version": version }),
    )
    .await?;
    tracing::info!(tenant = %tenant.id(), vendor, version, by = %auth.who, "Spec version stored.");
    Ok((
        StatusCode::CREATED,
        Json(json!({ "vendor": vendor, "version": version, "active": false })),
    ))
}

/// Makes a stored version the one uploads use.
#[utoipa::path(post, path = "/api/specs/{vendor}/versions/{version}/activate", responses((status = 200), (status = 404)), tag = "specs")]
pub async fn activate(
    tenant: TenantCtx,
    auth: Auth,
    Path((vendor, version)): Path<(String, i32)>,
) -> ApiResult<Json<Value>> {
    auth.require(Role::Admin)?;
    check_vendor_name(&vendor)?;
    let mut tx = tenant.pool.begin().await?;
    sqlx::query("UPDATE vendor_specs SET active = false WHERE vendor = $1 AND active")
        .bind(&vendor)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query("UPDATE vendor_specs SET active = true WHERE vendor = $1 AND version = $2")
        .bind(&vendor)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(ApiError::NotFound(format!("{vendor} version {version}")));
    }
    auth.audit(
        &mut *tx,
        "spec.activated",
        &format!("{vendor} version {version}"),
        json!({ "vendor": vendor, "version": version }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(
        json!({ "vendor": vendor, "version": version, "active": true }),
    ))
}

/// Runs one file (`file` part, optional `vendor`) through detection and normalization with the
/// tenant's specs and reference data, and reports what a load would do. Nothing is stored.
#[utoipa::path(post, path = "/api/specs/dry-run", request_body(content_type = "multipart/form-data"), responses((status = 200), (status = 422)), tag = "specs")]
pub async fn dry_run(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    mut form: Multipart,
) -> ApiResult<Json<Value>> {
    auth.require(Role::Member)?;
    let (mut vendor, mut file) = (None::<String>, None::<(String, tempfile::NamedTempFile)>);
    let mut period = None;
    while let Some(field) = form::next(&mut form).await? {
        match field.name().unwrap_or_default() {
            "vendor" => vendor = form::text(field).await?,
            "period" => {
                if let Some(text) = form::text(field).await? {
                    period = Some(
                        taskifai_engine::period::Period::parse_user(&text).ok_or_else(|| {
                            ApiError::bad(
                                "invalid_period",
                                format!("period {text:?}: expected a month (2025-06) or a year (2025)"),
                            )
                        })?,
                    );
                }
            }
            "file" => {
                file = Some(form::temp_file(field, state.config.max_upload_bytes).await?);
            }
            other => {
                return Err(ApiError::bad(
                    "unknown_field",
                    format!("unknown form field {other:?}; send `file` and optionally `vendor` and `period`"),
                ))
            }
        }
    }
    let (name, tmp) =
        file.ok_or_else(|| ApiError::bad("no_file", "send the file as a `file` part"))?;
    let specs = state.specs_for(tenant.id(), &tenant.pool).await?;
    let reference =
        Arc::new(taskifai_connectors::postgres::catalog::load_reference(&tenant.pool).await?);
    let req = IngestRequest {
        name,
        vendor,
        dry_run: true,
        period,
        ..IngestRequest::new(tmp.path(), tenant.id())
    };
    let report = ingest(&state.lake, None, &specs, reference, req, Arc::new(|_| {}))
        .await
        .map_err(|e| {
            if e.is_transient() {
                ApiError::Unavailable(format!("the lake could not be used, try again: {e}"))
            } else {
                ApiError::Unprocessable {
                    code: "file_refused",
                    message: taskifai_engine::error::chain(&e),
                }
            }
        })?;
    let outcome = report
        .outcome
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a dry run without an outcome")))?;
    let s = &outcome.summary;
    let dec = |v: i128, scale: i8| taskifai_engine::values::format_scaled(v, scale as u32);
    Ok(Json(json!({
        "vendor": s.vendor, "spec_version": s.spec_version, "sheet": s.sheet, "table": s.table,
        "period": { "start": s.period.start, "end": s.period.end, "grain": s.period.grain.as_str() },
        "rows_read": s.rows_read, "rows_accepted": s.rows_accepted, "rows_rejected": s.rows_rejected, "rows_skipped": s.rows_skipped + s.rows_other_period, "warnings": s.warnings,
        "quantity": s.quantity, "sales_local": dec(s.sales_local, taskifai_engine::schema::LOCAL_SCALE), "currency": s.currency,
        "sales_eur": dec(s.sales_eur, taskifai_engine::schema::EUR_SCALE),
        "candidates": report.candidates, "issues": outcome.issues.iter().take(200).collect::<Vec<_>>(), "issues_total": outcome.issues.len(),
    })))
}

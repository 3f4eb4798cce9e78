//! The unmapped queue and re-processing. Rows the catalog could not complete stay findable
//! (`GET /api/catalog/unmapped`); once the catalog has what they lacked, their uploads are
//! loaded again from the stored files, each as a new upload that replaces the old one in lake
//! and database together, so the rows reach analytics without a new upload and never count
//! twice.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::jobs;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use taskifai_connectors::postgres::unmapped::{self, Unmapped};
use taskifai_connectors::postgres::{batches, catalog};

/// The values the catalog lacks, the most rows first, with suggested products.
#[utoipa::path(get, path = "/api/catalog/unmapped", responses((status = 200, body = [Unmapped])), tag = "catalog")]
pub async fn queue(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Vec<Unmapped>>> {
    auth.require(Role::Viewer)?;
    Ok(Json(unmapped::queue(&tenant.pool).await?))
}

/// A vendor's product name or code that the catalog did not know, and the product it is.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    pub vendor: String,
    pub value: String,
    pub ean: String,
}

/// What happened to each upload asked to be re-processed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reprocessed {
    pub upload: String,
    /// `queued` (as `new_upload`), or `unchanged`: its spec and catalog are the ones it was
    /// loaded with, so loading it again would give the same rows.
    pub status: &'static str,
    pub new_upload: Option<String>,
}

/// Maps an unknown product to a catalog product (a `normalized` vendor mapping) and
/// re-processes every live upload with rows of it.
#[utoipa::path(post, path = "/api/catalog/unmapped/resolve", request_body = Resolve, responses((status = 200, body = [Reprocessed]), (status = 422)), tag = "catalog")]
pub async fn resolve(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<Resolve>,
) -> ApiResult<Json<Vec<Reprocessed>>> {
    auth.require(Role::Member)?;
    let ean = taskifai_engine::values::parse_ean(&body.ean)
        .map_err(|e| ApiError::bad("invalid_ean", format!("ean {:?}: expected {e}", body.ean)))?
        .into_owned();
    let known: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM products WHERE ean = $1)")
        .bind(&ean)
        .fetch_one(&tenant.pool)
        .await?;
    if !known {
        return Err(ApiError::Unprocessable {
            code: "unknown_ean",
            message: format!("EAN {ean} is not in the catalog; import the product first"),
        });
    }
    let uploads =
        unmapped::affected(&tenant.pool, &body.vendor, "unknown_product", &body.value).await?;
    catalog::map_vendor_product(&tenant.pool, &body.vendor, &body.value, &ean).await?;
    tracing::info!(tenant = %tenant.id(), vendor = %body.vendor, value = %body.value, %ean, by = %auth.who, "Unmapped product resolved.");
    let reason = format!("{} {:?} mapped to {ean}", body.vendor, body.value);
    Ok(Json(reprocess(&state, &tenant, &uploads, &reason).await?))
}

/// A range to load again after a price or rate was corrected.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    #[serde(default)]
    pub vendor: Option<String>,
}

/// Re-processes the live uploads whose period overlaps `from..=to` (of one vendor or all)
/// whose spec or catalog changed since they were loaded.
#[utoipa::path(post, path = "/api/catalog/reprocess", request_body = Range, responses((status = 200, body = [Reprocessed])), tag = "catalog")]
pub async fn reprocess_range(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Json(range): Json<Range>,
) -> ApiResult<Json<Vec<Reprocessed>>> {
    auth.require(Role::Member)?;
    if range.to < range.from {
        return Err(ApiError::bad("invalid_range", "`to` is before `from`"));
    }
    let uploads =
        unmapped::in_period(&tenant.pool, range.from, range.to, range.vendor.as_deref()).await?;
    let reason = format!("re-processed for {} to {}", range.from, range.to);
    Ok(Json(reprocess(&state, &tenant, &uploads, &reason).await?))
}

/// Queues a new upload for each of `uploads` whose spec or catalog changed since its load.
async fn reprocess(
    state: &AppState,
    tenant: &TenantCtx,
    uploads: &[String],
    reason: &str,
) -> ApiResult<Vec<Reprocessed>> {
    let reference = catalog::load_reference(&tenant.pool).await?;
    let specs = state.specs_for(tenant.id(), &tenant.pool).await?;
    let snapshot = state.lake.snapshot(tenant.id()).await?;
    let mut out = Vec::new();
    for upload in uploads {
        let unchanged = snapshot.batches.get(upload).is_some_and(|(meta, _)| {
            meta.reference_version == reference.version()
                && specs
                    .get(&meta.vendor)
                    .is_some_and(|s| s.spec.version == meta.spec_version)
        });
        if unchanged {
            out.push(Reprocessed {
                upload: upload.clone(),
                status: "unchanged",
                new_upload: None,
            });
            continue;
        }
        // A file refused whole is tried again as it is; a loaded one becomes a new upload
        // that replaces it.
        if batches::retry_refused(&tenant.pool, upload, reason).await? {
            batches::forget_refused_report(&tenant.pool, upload).await?;
            if !jobs::requeue(&state.registry.pool, tenant.id(), upload).await? {
                jobs::enqueue(&state.registry.pool, tenant.id(), upload).await?;
            }
            out.push(Reprocessed {
                upload: upload.clone(),
                status: "queued",
                new_upload: Some(upload.clone()),
            });
            continue;
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        if !batches::record_reprocess(&tenant.pool, upload, &id, reason).await? {
            continue; // deleted or replaced meanwhile
        }
        jobs::enqueue(&state.registry.pool, tenant.id(), &id).await?;
        out.push(Reprocessed {
            upload: upload.clone(),
            status: "queued",
            new_upload: Some(id),
        });
    }
    Ok(out)
}

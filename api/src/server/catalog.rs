//! The tenant's catalog over HTTP: `GET /api/catalog/{kind}` exports one kind as CSV and
//! `POST /api/catalog/{kind}` imports a CSV or XLSX file, every row or none, answering with
//! every located error.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::form;
use super::tenancy::TenantCtx;
use crate::state::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use taskifai_connectors::catalog::{self, CatalogError, Kind};
use taskifai_connectors::postgres::catalog as db;

fn kind(text: &str) -> ApiResult<Kind> {
    Kind::parse(text).ok_or_else(|| {
        ApiError::NotFound(format!(
            "catalog {text:?} (products, vendor_products, prices, fx_rates)"
        ))
    })
}

/// One kind of the catalog as CSV, in the format an import reads.
#[utoipa::path(get, path = "/api/catalog/{kind}", params(("kind" = String, Path, description = "products, vendor_products, prices or fx_rates")), responses((status = 200, content_type = "text/csv", body = String)), tag = "catalog")]
pub async fn export(tenant: TenantCtx, auth: Auth, Path(k): Path<String>) -> ApiResult<Response> {
    auth.require(Role::Viewer)?;
    let kind = kind(&k)?;
    let csv = db::export(&tenant.pool, kind)
        .await
        .map_err(ApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{kind}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ImportParams {
    /// Change rows whose key is in the catalog already; without it they are errors.
    #[serde(default)]
    pub upsert: bool,
}

/// Imports a CSV or XLSX file (`file` part) into one kind of the catalog: every row, or none
/// and a 422 listing each error with its row, column, value and what was expected.
#[utoipa::path(post, path = "/api/catalog/{kind}", params(("kind" = String, Path, description = "products, vendor_products, prices or fx_rates"), ImportParams), responses((status = 200, body = taskifai_connectors::postgres::catalog::Imported), (status = 422)), tag = "catalog")]
pub async fn import(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(k): Path<String>,
    Query(params): Query<ImportParams>,
    mut form: Multipart,
) -> ApiResult<Response> {
    auth.require(Role::Member)?;
    let kind = kind(&k)?;
    let mut file = None;
    while let Some(field) = form::next(&mut form).await? {
        if field.name() != Some("file") {
            return Err(ApiError::bad(
                "unknown_field",
                "send the catalog file as a `file` part",
            ));
        }
        file = Some(form::temp_file(field, state.config.max_upload_bytes).await?);
    }
    let (name, tmp) =
        file.ok_or_else(|| ApiError::bad("no_file", "send the file as a `file` part"))?;
    let path = tmp.path().to_owned();
    let parsed = tokio::task::spawn_blocking(move || catalog::read(kind, &path, &name))
        .await
        .map_err(ApiError::internal)?;
    let result = match parsed {
        Ok(p) => db::import(&tenant.pool, &p, params.upsert).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => {
            auth.audit(
                &tenant.pool,
                "catalog.imported",
                &k,
                serde_json::to_value(&done).map_err(ApiError::internal)?,
            )
            .await?;
            Ok(Json(done).into_response())
        }
        Err(CatalogError::Db(e)) => Err(ApiError::internal(e)),
        Err(e) => {
            let errors = match &e {
                CatalogError::Rows { errors, .. } => errors.clone(),
                _ => vec![],
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({ "code": "catalog_refused", "message": e.to_string(), "errors": errors })),
            )
                .into_response())
        }
    }
}

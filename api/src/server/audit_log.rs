//! `GET /api/audit`: the tenant's audit log, for admins.

use super::auth::{Auth, Role};
use super::error::ApiResult;
use super::paging::Paging;
use super::tenancy::TenantCtx;
use crate::audit::{self, AuditEntry};
use axum::extract::Query;
use axum::Json;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct AuditParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
    /// One action (`spec.activated`) or a family ending in a dot (`user.`).
    pub action: Option<String>,
}

/// Who did what, newest first.
#[utoipa::path(get, path = "/api/audit", params(("action" = Option<String>, Query, description = "an action, or a family such as user.")), responses((status = 200, body = [AuditEntry]), (status = 403)), tag = "users")]
pub async fn list(
    tenant: TenantCtx,
    auth: Auth,
    Query(p): Query<AuditParams>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Role::Admin)?;
    let paging = Paging::new(p.page, p.per_page, 50, 500)?;
    let limit = paging.per_page as i64;
    let items = audit::list(
        &tenant.pool,
        p.action.as_deref(),
        limit,
        (paging.page as i64 - 1) * limit,
    )
    .await?;
    Ok(Json(
        serde_json::json!({ "items": items, "page": paging.page, "per_page": paging.per_page }),
    ))
}

//! Email as an admin and a person see it: the tenant's outbox log, and one's own choice of
//! upload emails.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::paging::Paging;
use super::tenancy::TenantCtx;
use crate::email::{self, EmailLog};
use axum::extract::Query;
use axum::Json;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// Every email of the tenant, newest first: recipients, subject, status (queued, sent, failed,
/// not_sent), attempts, the last error and the SMTP server's reply. Admins only.
#[utoipa::path(get, path = "/api/email-logs", responses((status = 200, body = [EmailLog]), (status = 403)), tag = "email")]
pub async fn logs(
    tenant: TenantCtx,
    auth: Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Role::Admin)?;
    let paging = Paging::new(p.page, p.per_page, 50, 200)?;
    let limit = paging.per_page as i64;
    let items = email::logs(&tenant.pool, limit, (paging.page as i64 - 1) * limit).await?;
    Ok(Json(
        serde_json::json!({ "items": items, "page": paging.page, "per_page": paging.per_page }),
    ))
}

/// Which emails a person gets.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// An email when one of your uploads is loaded or fails.
    pub uploads: bool,
}

fn me(auth: &Auth) -> ApiResult<i64> {
    auth.user_id.ok_or_else(|| {
        ApiError::bad(
            "no_user",
            "email settings belong to a person; an API key has none",
        )
    })
}

#[utoipa::path(get, path = "/api/me/notifications", responses((status = 200, body = Notifications)), tag = "email")]
pub async fn get(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Notifications>> {
    let uploads = sqlx::query_scalar("SELECT notify_uploads FROM users WHERE id = $1")
        .bind(me(&auth)?)
        .fetch_one(&tenant.pool)
        .await?;
    Ok(Json(Notifications { uploads }))
}

#[utoipa::path(put, path = "/api/me/notifications", request_body = Notifications, responses((status = 200, body = Notifications)), tag = "email")]
pub async fn set(
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<Notifications>,
) -> ApiResult<Json<Notifications>> {
    sqlx::query("UPDATE users SET notify_uploads = $2 WHERE id = $1")
        .bind(me(&auth)?)
        .bind(body.uploads)
        .execute(&tenant.pool)
        .await?;
    Ok(Json(body))
}

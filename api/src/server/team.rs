//! Admins manage the tenant's people: list them with their state, change a role, deactivate or
//! reactivate an account. A change ends the person's sessions (their refresh tokens), so the
//! new role or the deactivation holds within an access token's lifetime (5 minutes by default).
//! A tenant always keeps one active admin.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use axum::extract::Path;
use axum::Json;
use serde::{Deserialize, Serialize};

/// A person as admins see them.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Member {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub active: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

const MEMBER: &str =
    "SELECT id, email, full_name, role, deactivated_at IS NULL AS active, created_at FROM users";

#[utoipa::path(get, path = "/api/users", responses((status = 200, body = [Member])), tag = "users")]
pub async fn list(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Vec<Member>>> {
    auth.require(Role::Admin)?;
    Ok(Json(
        sqlx::query_as(&format!("{MEMBER} ORDER BY id"))
            .fetch_all(&tenant.pool)
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    pub role: Option<Role>,
    /// false deactivates the account, true reactivates it.
    pub active: Option<bool>,
}

/// Changes a person's role or whether their account is active.
#[utoipa::path(patch, path = "/api/users/{id}", request_body = MemberChange, responses((status = 200, body = Member), (status = 404), (status = 409)), tag = "users")]
pub async fn change(
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
    Json(body): Json<MemberChange>,
) -> ApiResult<Json<Member>> {
    auth.require(Role::Admin)?;
    let mut tx = tenant.pool.begin().await?;
    // One change at a time per tenant, so two admins cannot demote each other at once.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('taskifai.users.admins'))")
        .execute(&mut *tx)
        .await?;
    let current: Member = sqlx::query_as(&format!("{MEMBER} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id}")))?;
    let role = body
        .role
        .map_or(current.role.clone(), |r| r.as_str().to_owned());
    let active = body.active.unwrap_or(current.active);
    let loses_admin = current.role == "admin" && current.active && (role != "admin" || !active);
    if loses_admin {
        let others: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM users WHERE role = 'admin' AND deactivated_at IS NULL AND id <> $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if others == 0 {
            return Err(ApiError::Conflict(
                "this is the tenant's only active admin; make someone else admin first".into(),
            ));
        }
    }
    sqlx::query("UPDATE users SET role = $2, deactivated_at = CASE WHEN $3 THEN NULL ELSE coalesce(deactivated_at, now()) END WHERE id = $1")
        .bind(id)
        .bind(&role)
        .bind(active)
        .execute(&mut *tx)
        .await?;
    if role != current.role || active != current.active {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    let changed: Member = sqlx::query_as(&format!("{MEMBER} WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    auth.audit(
        &mut *tx,
        "user.changed",
        &current.email,
        serde_json::json!({
            "before": { "role": current.role, "active": current.active },
            "after": { "role": changed.role, "active": changed.active },
        }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant.id(), user = id, role = %changed.role, active = changed.active, by = %auth.who, "A user was changed.");
    Ok(Json(changed))
}

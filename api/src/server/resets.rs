//! Password resets. An admin makes a one-time link for a person (`POST
//! /api/users/{id}/password-reset`); the person sets a new password with it (`POST
//! /api/auth/reset`), which ends their sessions. Only the token's hash is stored, and unknown,
//! used and expired tokens get one answer.

use super::auth::{hash_password, random_token, token_hash, Auth, Role};
use super::credentials::check_password;
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Prefix of reset tokens, recognisable in logs and leaked-secret scans.
pub const RESET_PREFIX: &str = "rst_";

/// How long a reset link works.
pub const RESET_HOURS: i64 = 24;

/// A new reset link's token, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reset {
    pub email: String,
    pub reset_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Makes a one-time password reset for a person (admins). Earlier unused ones stop working.
#[utoipa::path(post, path = "/api/users/{id}/password-reset", responses((status = 201, body = Reset), (status = 404)), tag = "users")]
pub async fn create(
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Reset>)> {
    auth.require(Role::Admin)?;
    let email: String = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&tenant.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id}")))?;
    let token = random_token(RESET_PREFIX);
    let expires_at = Utc::now() + chrono::Duration::hours(RESET_HOURS);
    let mut tx = tenant.pool.begin().await?;
    sqlx::query(
        "UPDATE password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO password_resets (token_hash, user_id, created_by, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(id)
        .bind(&auth.who)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
    auth.audit(
        &mut *tx,
        "user.password_reset",
        &email,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant.id(), user = id, by = %auth.who, "Password reset made.");
    Ok((
        StatusCode::CREATED,
        Json(Reset {
            email,
            reset_token: token,
            expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    pub token: String,
    pub password: String,
}

/// Sets a new password with a reset token, once; the person's sessions end.
#[utoipa::path(post, path = "/api/auth/reset", request_body = NewPassword, responses((status = 204), (status = 400)), tag = "auth")]
pub async fn reset(
    State(state): State<AppState>,
    tenant: TenantCtx,
    Json(body): Json<NewPassword>,
) -> ApiResult<StatusCode> {
    state
        .limiter
        .check(super::ratelimit::Bucket::Login, tenant.id().as_str())?;
    check_password(&body.password)?;
    let hash = hash_password(body.password).await?;
    let mut tx = tenant.pool.begin().await?;
    let user: Option<(i64, String)> = sqlx::query_as(
        "UPDATE password_resets r SET used_at = now() FROM users u
         WHERE r.token_hash = $1 AND r.used_at IS NULL AND r.expires_at > now() AND u.id = r.user_id
         RETURNING u.id, u.email",
    )
    .bind(token_hash(&body.token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, email)) = user else {
        return Err(ApiError::bad(
            "invalid_reset",
            "this reset link is unknown, used or expired; ask an admin for a new one",
        ));
    };
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    // A forgotten password is often why the person was backing off.
    state.lockout.succeeded(&format!("{}:{email}", tenant.id()));
    Ok(StatusCode::NO_CONTENT)
}

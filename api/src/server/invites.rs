//! Sign-up by invitation. A platform admin invites a tenant's first admin (when creating the
//! tenant, or later); a tenant admin invites anyone else. The invite is a one-time token bound
//! to an email address and a role; only its hash is stored. Without one, nobody can register,
//! so an unclaimed tenant cannot be taken by whoever asks first.

use super::auth::{random_token, token_hash, Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, Postgres, Transaction};

/// Prefix of invite tokens, so they are recognisable in logs and leaked-secret scans.
pub const INVITE_PREFIX: &str = "inv_";

/// How long an invite can be used.
pub const INVITE_DAYS: i64 = 7;

/// A new invite; the token is shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invite {
    pub email: String,
    pub role: Role,
    pub invite_token: String,
    pub expires_at: DateTime<Utc>,
}

/// Records an invite for `email` with `role`, made by `by` (an admin's email, for the audit).
pub async fn create(
    db: impl PgExecutor<'_>,
    email: &str,
    role: Role,
    by: &str,
) -> ApiResult<Invite> {
    let email = super::credentials::check_email(email)?;
    let token = random_token(INVITE_PREFIX);
    let expires_at = Utc::now() + chrono::Duration::days(INVITE_DAYS);
    sqlx::query("INSERT INTO invites (token_hash, email, role, created_by, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(&email)
        .bind(role.as_str())
        .bind(by)
        .bind(expires_at)
        .execute(db)
        .await?;
    Ok(Invite {
        email,
        role,
        invite_token: token,
        expires_at,
    })
}

/// Uses an invite for `email`: its role, once. Unknown, used, expired and other people's
/// invites get the same answer, so the endpoint tells nothing about which tokens exist.
pub async fn redeem(
    tx: &mut Transaction<'static, Postgres>,
    token: &str,
    email: &str,
) -> ApiResult<Role> {
    let role: Option<String> = sqlx::query_scalar(
        "UPDATE invites SET used_at = now() WHERE token_hash = $1 AND email = $2 AND used_at IS NULL AND expires_at > now() RETURNING role",
    )
    .bind(token_hash(token.trim()))
    .bind(email)
    .fetch_optional(&mut **tx)
    .await?;
    role.as_deref().and_then(Role::parse).ok_or_else(|| {
        ApiError::Forbidden(
            "this invite is not valid for this email address (unknown, used or expired); ask an admin for a new one".into(),
        )
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub email: String,
    /// member (default), viewer or admin.
    pub role: Option<Role>,
}

/// A tenant admin invites someone to this tenant.
#[utoipa::path(post, path = "/api/invites", request_body = NewInvite, responses((status = 201, body = Invite)), tag = "users")]
pub async fn invite(
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<NewInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    auth.require(Role::Admin)?;
    let role = body.role.unwrap_or(Role::Member);
    let invite = create(&tenant.pool, &body.email, role, &auth.who).await?;
    auth.audit(
        &tenant.pool,
        "user.invited",
        &body.email,
        serde_json::json!({ "role": role }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

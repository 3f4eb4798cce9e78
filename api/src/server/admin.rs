//! Platform administration: `/api/admin/*`, for the people who run TaskifAI, not for tenants.
//! Platform admins live in the registry; their tokens carry the tenant `*`, which no tenant
//! host accepts, and tenant tokens are refused here.

use super::accounts::Credentials;
use super::auth::{access_token, verify_password, Role};
use super::error::{ApiError, ApiResult};
use super::invites::{self, Invite};
use super::ratelimit::Bucket;
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::SocketAddr;
use taskifai_connectors::postgres::tenants::Tenant;
use taskifai_connectors::TenantId;

/// The tenant claim of platform tokens.
pub const PLATFORM: &str = "*";

/// A signed-in platform admin.
pub struct PlatformAdmin {
    pub email: String,
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let token = super::auth::bearer(&parts.headers)
            .ok_or_else(|| ApiError::Unauthorized("sign in as a platform admin".into()))?;
        let claims = super::auth::verify_token(state, token)?;
        if claims.tenant != PLATFORM {
            return Err(ApiError::Forbidden(
                "platform administration needs a platform admin's token".into(),
            ));
        }
        Ok(Self {
            email: claims.email,
        })
    }
}

#[utoipa::path(post, path = "/api/admin/login", request_body = Credentials, responses((status = 200), (status = 401)), tag = "admin")]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<Credentials>,
) -> ApiResult<Json<Value>> {
    state
        .limiter
        .check(Bucket::Login, &format!("platform:{}", peer.ip()))?;
    let email = body.email.trim().to_lowercase();
    let row: Option<(i64, String)> =
        sqlx::query_as("SELECT id, password_hash FROM platform_admins WHERE email = $1")
            .bind(&email)
            .fetch_optional(&state.registry.pool)
            .await?;
    let hash = row
        .as_ref()
        .map_or_else(|| super::accounts::DUMMY_HASH.to_owned(), |r| r.1.clone());
    match row {
        Some((id, _)) if verify_password(body.password, hash).await => {
            let token = access_token(&state, PLATFORM, id, &email, Role::Admin)?;
            Ok(Json(
                json!({ "access_token": token, "token_type": "Bearer", "expires_in": state.config.access_ttl.as_secs() }),
            ))
        }
        _ => Err(ApiError::Unauthorized("wrong email or password".into())),
    }
}

#[utoipa::path(get, path = "/api/admin/tenants", responses((status = 200)), tag = "admin")]
pub async fn list(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
) -> ApiResult<Json<Vec<Tenant>>> {
    Ok(Json(state.registry.list().await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenant {
    pub id: String,
    pub display_name: Option<String>,
    /// Invites this address as the tenant's first admin; the answer carries the invite.
    pub owner_email: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub tenant: Tenant,
    pub invite: Option<Invite>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerInvite {
    pub email: String,
}

/// Invites a tenant's admin (its first one, or a replacement).
#[utoipa::path(post, path = "/api/admin/tenants/{id}/invites", request_body = OwnerInvite, responses((status = 201, body = Invite)), tag = "admin")]
pub async fn invite(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Path(id): Path<String>,
    Json(body): Json<OwnerInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    let id = TenantId::parse(&id)?;
    let pool = state.pools.pool(&id).await?;
    let invite = invites::create(&pool, &body.email, Role::Admin, &admin.email).await?;
    tracing::info!(tenant = %id, by = %admin.email, "Tenant admin invited.");
    Ok((StatusCode::CREATED, Json(invite)))
}

#[utoipa::path(post, path = "/api/admin/tenants", request_body = NewTenant, responses((status = 201, body = CreatedTenant), (status = 409)), tag = "admin")]
pub async fn create(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Json(body): Json<NewTenant>,
) -> ApiResult<(StatusCode, Json<CreatedTenant>)> {
    if let Some(email) = &body.owner_email {
        super::credentials::check_email(email)?;
    }
    let id = TenantId::parse(&body.id)?;
    let t = state
        .registry
        .create(&id, body.display_name.as_deref().unwrap_or(&body.id))
        .await?;
    tracing::info!(tenant = %t.id, by = %admin.email, "Tenant created.");
    let invite = match &body.owner_email {
        Some(email) => {
            let pool = state.pools.pool(&t.id).await?;
            Some(invites::create(&pool, email, Role::Admin, &admin.email).await?)
        }
        None => None,
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedTenant { tenant: t, invite }),
    ))
}

async fn set_status(state: &AppState, id: &str, status: &str) -> ApiResult<Json<Tenant>> {
    state.set_tenant_status(id, status).await?;
    Ok(Json(state.registry.get(id).await?))
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/suspend", responses((status = 200)), tag = "admin")]
pub async fn suspend(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<Tenant>> {
    set_status(&state, &id, "suspended").await
}

#[utoipa::path(post, path = "/api/admin/tenants/{id}/resume", responses((status = 200)), tag = "admin")]
pub async fn resume(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
    Path(id): Path<String>,
) -> ApiResult<Json<Tenant>> {
    set_status(&state, &id, "active").await
}

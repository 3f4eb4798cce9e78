//! Signing in and out, refresh-token rotation, users and API keys.
//!
//! Refresh tokens are stored as hashes and rotate on every use. Each chain of rotations is a
//! family; presenting a token that was already rotated means it leaked, so the whole family is
//! revoked and the user must sign in again.

use super::auth::{
    access_token, hash_password, random_token, token_hash, verify_password, Auth, Role,
    API_KEY_PREFIX,
};
use super::credentials;
use super::error::{ApiError, ApiResult};
use super::ratelimit::Bucket;
use super::tenancy::TenantCtx;
use super::web_session;
use crate::state::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use std::net::SocketAddr;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub full_name: String,
    /// Ignored on register (the invite says the role).
    #[serde(default)]
    pub role: Option<Role>,
    /// Register only: the invite token an admin gave this email address.
    #[serde(default)]
    pub invite: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: u64,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub full_name: String,
    pub role: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Optional for the web app, which sends its session cookie instead.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

fn check_new_user(u: &NewUser) -> ApiResult<String> {
    let email = credentials::check_email(&u.email)?;
    credentials::check_password(&u.password)?;
    Ok(email)
}

async fn insert_user(pool: &PgPool, u: &NewUser, email: &str, role: Role) -> ApiResult<User> {
    let hash = hash_password(u.password.clone()).await?;
    sqlx::query_as("INSERT INTO users (email, password_hash, full_name, role) VALUES ($1, $2, $3, $4) RETURNING id, email, full_name, role")
        .bind(email)
        .bind(hash)
        .bind(&u.full_name)
        .bind(role.as_str())
        .fetch_one(pool)
        .await
        .map_err(|e| match e.as_database_error().and_then(|d| d.constraint()) {
            Some("users_email_key") => ApiError::Conflict(format!("{email} already has an account")),
            _ => ApiError::internal(e),
        })
}

/// Signs up with an invite (`invite`), for the email address it was made for, with its role.
#[utoipa::path(post, path = "/api/auth/register", request_body = NewUser, responses((status = 201, body = Session), (status = 403, description = "no valid invite for this email address")), tag = "auth")]
pub async fn register(
    State(state): State<AppState>,
    tenant: TenantCtx,
    headers: HeaderMap,
    Json(body): Json<NewUser>,
) -> ApiResult<Response> {
    let email = check_new_user(&body)?;
    let Some(token) = body.invite.as_deref() else {
        return Err(ApiError::Forbidden(
            "registration needs an invite: a platform admin invites a tenant's first admin, a tenant admin everyone else".into(),
        ));
    };
    let hash = hash_password(body.password.clone()).await?;
    let mut tx = tenant.pool.begin().await?;
    let role = super::invites::redeem(&mut tx, token, &email).await?;
    let user: User = sqlx::query_as("INSERT INTO users (email, password_hash, full_name, role) VALUES ($1, $2, $3, $4) RETURNING id, email, full_name, role")
        .bind(&email)
        .bind(hash)
        .bind(&body.full_name)
        .bind(role.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_unique_violation() => {
                ApiError::Conflict(format!("{email} has an account already; sign in"))
            }
            e => e.into(),
        })?;
    tx.commit().await?;
    let session = new_session(&state, &tenant, user, None).await?;
    Ok(respond(
        &headers,
        StatusCode::CREATED,
        session,
        state.config.refresh_ttl,
    ))
}

#[utoipa::path(post, path = "/api/auth/login", request_body = Credentials, responses((status = 200, body = Session), (status = 401), (status = 429)), tag = "auth")]
pub async fn login(
    State(state): State<AppState>,
    tenant: TenantCtx,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    state
        .limiter
        .check(Bucket::Login, &format!("{}:{}", tenant.id(), peer.ip()))?;
    let email = body.email.trim().to_lowercase();
    let account = format!("{}:{email}", tenant.id());
    if let Some(secs) = state.lockout.wait(&account) {
        return Err(ApiError::RateLimited(secs));
    }
    let row: Option<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, full_name, role, password_hash FROM users WHERE email = $1 AND deactivated_at IS NULL")
            .bind(&email)
            .fetch_optional(&tenant.pool)
            .await?;
    // Hash even for unknown users so timing does not tell which emails exist.
    let hash = row
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_owned(), |r| r.3.clone());
    let ok = verify_password(body.password, hash).await;
    if ok && row.is_some() {
        state.lockout.succeeded(&account);
    } else {
        state.lockout.failed(&account);
    }
    match row {
        Some((id, full_name, role, _)) if ok => {
            let user = User {
                id,
                email,
                full_name,
                role,
            };
            let session = new_session(&state, &tenant, user, None).await?;
            Ok(respond(
                &headers,
                StatusCode::OK,
                session,
                state.config.refresh_ttl,
            ))
        }
        _ => {
            tracing::info!(tenant = %tenant.id(), email = %email, "A sign-in failed.");
            Err(ApiError::Unauthorized("wrong email or password".into()))
        }
    }
}

// argon2id of a random password; never matches.
pub(super) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Wk1aWqj9cB0ajqyBLmC0rcM7sB4wv0Aj5p0e7xGJ4bQ";

/// The session as the client gets it: the web app's refresh token travels in its cookie, not
/// in the body.
fn respond(
    headers: &HeaderMap,
    status: StatusCode,
    mut session: Session,
    ttl: std::time::Duration,
) -> Response {
    let Some(cookie) = web_session::cookie(headers, &session.refresh_token, ttl) else {
        return (status, Json(session)).into_response();
    };
    session.refresh_token = String::new();
    let mut res = (status, Json(session)).into_response();
    res.headers_mut()
        .insert(axum::http::header::SET_COOKIE, cookie);
    res
}

async fn new_session(
    state: &AppState,
    tenant: &TenantCtx,
    user: User,
    family: Option<String>,
) -> ApiResult<Session> {
    let role = Role::parse(&user.role)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("unknown role {:?}", user.role)))?;
    let refresh = random_token("rt_");
    let family = family.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let expires = chrono::Utc::now()
        + chrono::Duration::from_std(state.config.refresh_ttl).map_err(ApiError::internal)?;
    sqlx::query("INSERT INTO refresh_tokens (token_hash, user_id, family, expires_at) VALUES ($1, $2, $3, $4)").bind(token_hash(&refresh)).bind(user.id).bind(family).bind(expires).execute(&tenant.pool).await?;
    Ok(Session {
        access_token: access_token(state, tenant.id(), user.id, &user.email, role)?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: state.config.access_ttl.as_secs(),
        user,
    })
}

/// Trades a refresh token for a new session; the old token stops working.
#[utoipa::path(post, path = "/api/auth/refresh", request_body = RefreshRequest, responses((status = 200, body = Session), (status = 401)), tag = "auth")]
pub async fn refresh(
    State(state): State<AppState>,
    tenant: TenantCtx,
    headers: HeaderMap,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Response> {
    let presented = web_session::refresh_token(&headers, body.refresh_token)?;
    let mut tx = tenant.pool.begin().await?;
    let row: Option<(i64, String, Option<chrono::DateTime<chrono::Utc>>, bool)> =
        sqlx::query_as("SELECT user_id, family, revoked_at, expires_at < now() FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE").bind(token_hash(&presented)).fetch_optional(&mut *tx).await?;
    let Some((user_id, family, revoked, expired)) = row else {
        return Err(ApiError::Unauthorized(
            "the refresh token is not valid".into(),
        ));
    };
    if revoked.is_some() {
        sqlx::query(
            "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = $1",
        )
        .bind(&family)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(tenant = %tenant.id(), user_id, "A rotated refresh token was presented again; its family is revoked.");
        return Err(ApiError::Unauthorized(
            "the refresh token was already used; sign in again".into(),
        ));
    }
    if expired {
        return Err(ApiError::Unauthorized(
            "the refresh token has expired; sign in again".into(),
        ));
    }
    sqlx::query("UPDATE refresh_tokens SET revoked_at = now() WHERE token_hash = $1")
        .bind(token_hash(&presented))
        .execute(&mut *tx)
        .await?;
    let user: User = sqlx::query_as(
        "SELECT id, email, full_name, role FROM users WHERE id = $1 AND deactivated_at IS NULL",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| {
        ApiError::Unauthorized(
            "the account no longer exists or was deactivated; ask an admin".into(),
        )
    })?;
    tx.commit().await?;
    let session = new_session(&state, &tenant, user, Some(family)).await?;
    Ok(respond(
        &headers,
        StatusCode::OK,
        session,
        state.config.refresh_ttl,
    ))
}

/// Revokes the refresh token's whole family (this device's session).
#[utoipa::path(post, path = "/api/auth/logout", request_body = RefreshRequest, responses((status = 204)), tag = "auth")]
pub async fn logout(
    tenant: TenantCtx,
    headers: HeaderMap,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Response> {
    let presented = web_session::refresh_token(&headers, body.refresh_token)?;
    sqlx::query("UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family = (SELECT family FROM refresh_tokens WHERE token_hash = $1)")
        .bind(token_hash(&presented))
        .execute(&tenant.pool)
        .await?;
    Ok(web_session::clear(
        &headers,
        StatusCode::NO_CONTENT.into_response(),
    ))
}

#[utoipa::path(get, path = "/api/me", responses((status = 200, body = User)), tag = "auth")]
pub async fn me(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<serde_json::Value>> {
    let user: Option<User> = match auth.user_id {
        Some(id) => {
            sqlx::query_as("SELECT id, email, full_name, role FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&tenant.pool)
                .await?
        }
        None => None,
    };
    Ok(Json(
        serde_json::json!({ "tenant": tenant.id(), "role": auth.role, "who": auth.who, "user": user }),
    ))
}

#[utoipa::path(post, path = "/api/users", request_body = NewUser, responses((status = 201, body = User), (status = 409)), tag = "users")]
pub async fn create_user(
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    auth.require(Role::Admin)?;
    let email = check_new_user(&body)?;
    let user = insert_user(
        &tenant.pool,
        &body,
        &email,
        body.role.unwrap_or(Role::Member),
    )
    .await?;
    auth.audit(
        &tenant.pool,
        "user.created",
        &email,
        serde_json::json!({ "role": body.role.unwrap_or(Role::Member) }),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// An API key as admins see it: never the key itself.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[utoipa::path(get, path = "/api/api-keys", responses((status = 200, body = [ApiKeyView])), tag = "users")]
pub async fn list_api_keys(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Vec<ApiKeyView>>> {
    auth.require(Role::Admin)?;
    Ok(Json(
        sqlx::query_as("SELECT id, name, role, created_at, revoked_at FROM api_keys ORDER BY id")
            .fetch_all(&tenant.pool)
            .await?,
    ))
}

/// Revokes a key at once: the next request with it is refused.
#[utoipa::path(delete, path = "/api/api-keys/{id}", responses((status = 204), (status = 404)), tag = "users")]
pub async fn revoke_api_key(
    tenant: TenantCtx,
    auth: Auth,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    let n =
        sqlx::query("UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1")
            .bind(id)
            .execute(&tenant.pool)
            .await?
            .rows_affected();
    if n == 0 {
        return Err(ApiError::NotFound(format!("API key {id}")));
    }
    auth.audit(
        &tenant.pool,
        "api_key.revoked",
        &format!("API key {id}"),
        serde_json::json!({ "id": id }),
    )
    .await?;
    tracing::info!(tenant = %tenant.id(), key = id, by = %auth.who, "API key revoked.");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    pub name: String,
    pub role: Role,
}

/// Creates an API key; the key is shown once.
#[utoipa::path(post, path = "/api/api-keys", request_body = NewApiKey, responses((status = 201)), tag = "users")]
pub async fn create_api_key(
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<NewApiKey>,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    auth.require(Role::Admin)?;
    let key = random_token(API_KEY_PREFIX);
    let id: i64 = sqlx::query_scalar("INSERT INTO api_keys (name, key_hash, role, created_by) VALUES ($1, $2, $3, $4) RETURNING id")
        .bind(&body.name)
        .bind(token_hash(&key))
        .bind(body.role.as_str())
        .bind(auth.user_id)
        .fetch_one(&tenant.pool)
        .await?;
    auth.audit(
        &tenant.pool,
        "api_key.created",
        &format!("API key {id} ({})", body.name),
        serde_json::json!({ "id": id, "name": body.name, "role": body.role }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": id, "name": body.name, "role": body.role, "key": key })),
    ))
}

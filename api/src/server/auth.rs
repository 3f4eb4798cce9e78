//! Who is asking: short-lived HS256 access tokens (claims: user, tenant, role), API keys for
//! scripts, argon2 password hashes, and the role ladder viewer < member < admin.
//!
//! A token is only good on its own tenant's host: the [`Auth`] extractor compares the token's
//! tenant with the one the host names and refuses (403, logged) when they differ.

use super::error::{ApiError, ApiResult};
use super::ratelimit::Bucket;
use super::tenancy::TenantCtx;
use crate::state::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a user may do. Ordered: each role can do what the ones below it can.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Self::Viewer),
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }
}

/// The access token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id in the tenant's database (text, as JWT wants `sub`).
    pub sub: String,
    pub tenant: String,
    pub role: Role,
    pub email: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs an access token for a user.
pub fn access_token(
    state: &AppState,
    tenant: &str,
    user_id: i64,
    email: &str,
    role: Role,
) -> ApiResult<String> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user_id.to_string(),
        tenant: tenant.to_owned(),
        role,
        email: email.to_owned(),
        iat: now,
        exp: now + state.config.access_ttl.as_secs() as i64,
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(state.config.jwt_secret.expose().as_bytes()),
    )
    .map_err(ApiError::internal)
}

pub fn verify_token(state: &AppState, token: &str) -> ApiResult<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = 5;
    v.set_required_spec_claims(&["exp", "sub"]);
    decode::<Claims>(
        token,
        &DecodingKey::from_secret(state.config.jwt_secret.expose().as_bytes()),
        &v,
    )
    .map(|d| d.claims)
    .map_err(|e| match e.kind() {
        ErrorKind::ExpiredSignature => {
            ApiError::Unauthorized("the access token has expired; refresh it".into())
        }
        kind => {
            tracing::info!(?kind, "An access token was refused.");
            ApiError::Unauthorized("the access token is not valid".into())
        }
    })
}

/// Hashes a password with argon2id and a random salt, off the async threads.
pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(anyhow::anyhow!("hashing: {e}")))
    })
    .await
    .map_err(ApiError::internal)?
}

/// Checks a password against a stored hash, off the async threads.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

/// SHA-256 in hex: how refresh tokens and API keys are stored (they are long and random, so a
/// slow hash adds nothing).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A long random token with a recognizable prefix.
pub fn random_token(prefix: &str) -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// An authenticated caller of this tenant.
#[derive(Debug, Clone)]
pub struct Auth {
    /// The user, or `None` for an API key.
    pub user_id: Option<i64>,
    pub role: Role,
    pub who: String,
}

impl Auth {
    /// Writes this caller's entry in the tenant's audit log (inside the change's transaction
    /// when given one).
    pub async fn audit<'e, E: sqlx::PgExecutor<'e>>(
        &self,
        db: E,
        action: &str,
        target: &str,
        details: serde_json::Value,
    ) -> ApiResult<()> {
        crate::audit::record(db, self.user_id, &self.who, action, target, details).await?;
        Ok(())
    }

    /// Refuses callers below `role`.
    pub fn require(&self, role: Role) -> ApiResult<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; {} has {}",
                role.as_str(),
                self.who,
                self.role.as_str()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let tenant = TenantCtx::from_request_parts(parts, state).await?;
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let bearer = bearer(&parts.headers);
        let auth = match (header("x-api-key"), bearer) {
            (Some(key), _) => api_key(&tenant, key).await?,
            (None, Some(t)) if t.starts_with(API_KEY_PREFIX) => api_key(&tenant, t).await?,
            (None, Some(t)) => {
                let claims = verify_token(state, t)?;
                if claims.tenant != tenant.id().as_str() {
                    tracing::warn!(token_tenant = %claims.tenant, host_tenant = %tenant.id(), user = %claims.email, "A token was used on another tenant's host.");
                    return Err(ApiError::Forbidden(
                        "this token belongs to another tenant".into(),
                    ));
                }
                Auth {
                    user_id: claims.sub.parse().ok(),
                    role: claims.role,
                    who: claims.email,
                }
            }
            (None, None) => return Err(ApiError::Unauthorized(super::error::SIGN_IN.into())),
        };
        state
            .limiter
            .check(Bucket::User, &format!("{}:{}", tenant.id(), auth.who))?;
        Ok(auth)
    }
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive
/// (RFC 7235), so `bearer` and `BEARER` are accepted as well.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get("authorization")?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Prefix of API keys, so they are recognizable in a `Bearer` header and in leaked-secret scans.
pub const API_KEY_PREFIX: &str = "tk_";

async fn api_key(tenant: &TenantCtx, key: &str) -> ApiResult<Auth> {
    let row: Option<(i64, String, String)> = sqlx::query_as(
        "SELECT id, role, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(token_hash(key))
    .fetch_optional(&tenant.pool)
    .await?;
    let (id, role, name) = row
        .ok_or_else(|| ApiError::Unauthorized("the API key is not valid for this tenant".into()))?;
    Ok(Auth {
        user_id: None,
        role: Role::parse(&role).unwrap_or(Role::Viewer),
        who: format!("api key {id} ({name})"),
    })
}

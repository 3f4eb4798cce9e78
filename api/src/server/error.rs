//! API errors: a stable snake_case `code`, a sentence for people, and the HTTP status, all
//! decided in one match. Our own bugs are logged with their cause chain and shown to clients
//! as "internal error" with the request id; database and driver text never reaches a client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use taskifai_connectors::postgres::PgError;

pub type ApiResult<T> = Result<T, ApiError>;

/// What a request without credentials is told.
pub const SIGN_IN: &str = "sign in: send `Authorization: Bearer <token>` or `X-Api-Key`";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the upload is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("too many requests; retry in {0} s")]
    RateLimited(u64),
    /// Too much of one kind of work is running for this caller; retry in a second.
    #[error("{0}")]
    Busy(String),
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("tenant {0:?} is suspended")]
    Suspended(String),
    #[error("the query ran longer than {0} s and was stopped")]
    Timeout(u64),
    #[error("{0}")]
    Unavailable(String),
    /// The language model provider failed or was too slow.
    #[error("{0}")]
    Upstream(String),
    /// The tenant's monthly token budget is spent.
    #[error("{0}")]
    BudgetSpent(String),
    #[error("internal error; the server log has the details under this request's x-request-id")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        Self::Internal(e.into())
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large"),
            Self::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            Self::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::Suspended(_) => (StatusCode::FORBIDDEN, "tenant_suspended"),
            Self::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "query_timeout"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Upstream(_) => (StatusCode::BAD_GATEWAY, "model_unavailable"),
            Self::BudgetSpent(_) => (StatusCode::TOO_MANY_REQUESTS, "token_budget_spent"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "Request failed.");
        }
        let (status, code) = self.parts();
        let mut res = (
            status,
            Json(json!({ "code": code, "message": self.to_string() })),
        )
            .into_response();
        let retry = match self {
            Self::RateLimited(secs) => Some(secs.max(1)),
            Self::Busy(_) => Some(1),
            _ => None,
        };
        if let Some(secs) = retry {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<taskifai_connectors::tenant_id::InvalidTenantId> for ApiError {
    fn from(e: taskifai_connectors::tenant_id::InvalidTenantId) -> Self {
        Self::bad("invalid_tenant_id", e.to_string())
    }
}

impl From<PgError> for ApiError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::UnknownTenant(t) => Self::NotFound(format!("tenant {t:?}")),
            PgError::Suspended(t) => Self::Suspended(t),
            PgError::ConnectionBudget(_) => Self::Unavailable(e.to_string()),
            PgError::TenantExists(_) => Self::Conflict(e.to_string()),
            PgError::InvalidTenantId(_) => Self::bad("invalid_tenant_id", e.to_string()),
            _ => Self::internal(e),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        Self::internal(e)
    }
}

impl From<taskifai_connectors::lake::LakeError> for ApiError {
    fn from(e: taskifai_connectors::lake::LakeError) -> Self {
        match e {
            taskifai_connectors::lake::LakeError::NoSuchVersion { .. } => {
                Self::bad("no_such_version", e.to_string())
            }
            // An operator's step, not a bug: the answer says which command to run.
            taskifai_connectors::lake::LakeError::NeedsMigration { .. } => {
                Self::Unavailable(e.to_string())
            }
            e => Self::internal(e),
        }
    }
}

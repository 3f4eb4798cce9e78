//! `/api/webhooks`: a tenant's outgoing webhooks and their deliveries, for admins.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::state::AppState;
use crate::webhooks::{self, Delivery, Webhook, WebhookError, WebhookInput};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

impl From<WebhookError> for ApiError {
    fn from(e: WebhookError) -> Self {
        ApiError::bad("invalid_webhook", e.to_string())
    }
}

fn missing(id: i64) -> ApiError {
    ApiError::NotFound(format!("webhook {id}"))
}

#[utoipa::path(get, path = "/api/webhooks", responses((status = 200, body = [Webhook])), tag = "webhooks")]
pub async fn list(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Vec<Webhook>>> {
    auth.require(Role::Admin)?;
    Ok(Json(webhooks::list(&tenant.pool).await?))
}

/// Registers a webhook. The answer holds its signing secret, shown this once.
#[utoipa::path(post, path = "/api/webhooks", request_body = WebhookInput, responses((status = 201), (status = 400)), tag = "webhooks")]
pub async fn create(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<WebhookInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require(Role::Admin)?;
    body.validate(state.config.allow_private_webhooks).await?;
    let (hook, secret) = webhooks::create(&tenant.pool, &body, auth.user_id).await?;
    auth.audit(
        &tenant.pool,
        "webhook.created",
        &hook.url,
        json!({ "id": hook.id, "events": hook.events }),
    )
    .await?;
    let mut out = serde_json::to_value(&hook).map_err(ApiError::internal)?;
    out["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(out)))
}

#[utoipa::path(put, path = "/api/webhooks/{id}", request_body = WebhookInput, responses((status = 200, body = Webhook), (status = 400), (status = 404)), tag = "webhooks")]
pub async fn update(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
    Json(body): Json<WebhookInput>,
) -> ApiResult<Json<Webhook>> {
    auth.require(Role::Admin)?;
    body.validate(state.config.allow_private_webhooks).await?;
    let hook = webhooks::update(&tenant.pool, id, &body)
        .await?
        .ok_or_else(|| missing(id))?;
    auth.audit(
        &tenant.pool,
        "webhook.changed",
        &hook.url,
        json!({ "id": id, "events": hook.events, "enabled": hook.enabled }),
    )
    .await?;
    Ok(Json(hook))
}

#[utoipa::path(delete, path = "/api/webhooks/{id}", responses((status = 204), (status = 404)), tag = "webhooks")]
pub async fn delete(tenant: TenantCtx, auth: Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    if !webhooks::delete(&tenant.pool, id).await? {
        return Err(missing(id));
    }
    auth.audit(
        &tenant.pool,
        "webhook.deleted",
        &format!("webhook {id}"),
        json!({ "id": id }),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The webhook's latest 100 deliveries: event, status, attempts, the receiver's answer.
#[utoipa::path(get, path = "/api/webhooks/{id}/deliveries", responses((status = 200, body = [Delivery])), tag = "webhooks")]
pub async fn deliveries(
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Delivery>>> {
    auth.require(Role::Admin)?;
    Ok(Json(webhooks::deliveries(&tenant.pool, id, 100).await?))
}

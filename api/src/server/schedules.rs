//! `/api/schedules`: scheduled reports, for admins. A schedule is checked when it is saved (the
//! cron expression, the time zone, the recipients and the filters), so a slot never fails on
//! what a person could have fixed then.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::schedule::{self, Schedule, ScheduleError, ScheduleInput};
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

impl From<ScheduleError> for ApiError {
    fn from(e: ScheduleError) -> Self {
        ApiError::bad("invalid_schedule", e.to_string())
    }
}

/// What the audit log keeps of a schedule.
fn described(s: &Schedule) -> serde_json::Value {
    serde_json::json!({
        "id": s.id, "cron": s.cron, "timezone": s.timezone, "format": s.format,
        "filters": s.filters.0, "recipients": s.recipients, "enabled": s.enabled,
    })
}

/// Tells the scheduler's index of the change.
async fn reindex(state: &AppState, tenant: &TenantCtx) -> ApiResult<()> {
    crate::schedule::run::index(&state.registry.pool, &tenant.pool, tenant.id()).await?;
    Ok(())
}

fn missing(id: i64) -> ApiError {
    ApiError::NotFound(format!("schedule {id}"))
}

#[utoipa::path(get, path = "/api/schedules", responses((status = 200, body = [Schedule])), tag = "reports")]
pub async fn list(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Vec<Schedule>>> {
    auth.require(Role::Admin)?;
    Ok(Json(schedule::list(&tenant.pool).await?))
}

#[utoipa::path(get, path = "/api/schedules/{id}", responses((status = 200, body = Schedule), (status = 404)), tag = "reports")]
pub async fn get(tenant: TenantCtx, auth: Auth, Path(id): Path<i64>) -> ApiResult<Json<Schedule>> {
    auth.require(Role::Admin)?;
    schedule::get(&tenant.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| missing(id))
}

#[utoipa::path(post, path = "/api/schedules", request_body = ScheduleInput, responses((status = 201, body = Schedule), (status = 400)), tag = "reports")]
pub async fn create(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Json(body): Json<ScheduleInput>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    auth.require(Role::Admin)?;
    body.validate()?;
    let s = schedule::create(&tenant.pool, &body, auth.user_id).await?;
    reindex(&state, &tenant).await?;
    auth.audit(&tenant.pool, "schedule.created", &s.name, described(&s))
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(put, path = "/api/schedules/{id}", request_body = ScheduleInput, responses((status = 200, body = Schedule), (status = 400), (status = 404)), tag = "reports")]
pub async fn update(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
    Json(body): Json<ScheduleInput>,
) -> ApiResult<Json<Schedule>> {
    auth.require(Role::Admin)?;
    body.validate()?;
    let s = schedule::update(&tenant.pool, id, &body)
        .await?
        .ok_or_else(|| missing(id))?;
    reindex(&state, &tenant).await?;
    auth.audit(&tenant.pool, "schedule.changed", &s.name, described(&s))
        .await?;
    Ok(Json(s))
}

#[utoipa::path(delete, path = "/api/schedules/{id}", responses((status = 204), (status = 404)), tag = "reports")]
pub async fn delete(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    auth.require(Role::Admin)?;
    if schedule::delete(&tenant.pool, id).await? {
        reindex(&state, &tenant).await?;
        auth.audit(
            &tenant.pool,
            "schedule.deleted",
            &format!("schedule {id}"),
            serde_json::json!({ "id": id }),
        )
        .await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(missing(id))
    }
}

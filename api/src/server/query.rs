//! `POST /api/query`: read-only SQL for power users and the AI chat, through the one guard in
//! `taskifai_engine::sql`. The session holds only this tenant's tables, so another tenant's
//! data cannot even be named; rows are capped inside the plan and time by a timeout.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::ratelimit::Bucket;
use super::tenancy::TenantCtx;
use crate::query_runner::QueryResult;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use taskifai_connectors::lake::AsOf;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub sql: String,
    /// At most the server's cap.
    pub max_rows: Option<usize>,
    /// Time travel: the lake as of a version (`42`), a time (`2025-06-30T12:00:00Z`) or the end
    /// of a day (`2025-06-30`, UTC). Removed data stays readable until a vacuum deletes it.
    pub as_of: Option<String>,
}

#[utoipa::path(post, path = "/api/query", request_body = QueryRequest, responses((status = 200), (status = 400, description = "refused, with the reason"), (status = 408)), tag = "query")]
pub async fn run(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Json(req): Json<QueryRequest>,
) -> ApiResult<Json<Value>> {
    state
        .limiter
        .check(Bucket::Query, &format!("{}:{}", tenant.id(), auth.who))?;
    let cap = req
        .max_rows
        .unwrap_or(state.config.query_max_rows)
        .clamp(1, state.config.query_max_rows);
    let as_of = req
        .as_of
        .as_deref()
        .map(str::parse::<AsOf>)
        .transpose()
        .map_err(|e| ApiError::bad("bad_as_of", e))?;
    let (ctx, lake_version) = state
        .query_sessions
        .session_as_of(&state.lake, tenant.id(), as_of)
        .await?;
    let timeout = state.config.query_timeout;
    let sql = req.sql.clone();
    let work = async move { crate::query_runner::run_guarded(&ctx, &sql, cap).await };
    let QueryResult {
        columns,
        rows,
        truncated,
    } = state.queries.run(tenant.id(), timeout, work).await?;
    tracing::info!(tenant = %tenant.id(), by = %auth.who, rows = rows.len(), truncated, "Query ran.");
    Ok(Json(
        json!({ "columns": columns, "rows": rows, "row_count": rows.len(), "truncated": truncated, "lake_version": lake_version }),
    ))
}

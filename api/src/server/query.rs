//! `POST /api/query`: read-only SQL for power users and the AI chat, through the one guard in
//! `taskifai_engine::sql`. The session holds only this tenant's tables, so another tenant's
//! data cannot even be named; rows are capped inside the plan and time by a timeout.

use super::analytics::to_json;
use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::ratelimit::Bucket;
use super::tenancy::TenantCtx;
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub sql: String,
    /// At most the server's cap.
    pub max_rows: Option<usize>,
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
    let ctx = state
        .query_sessions
        .session(&state.lake, tenant.id())
        .await?;
    let timeout = state.config.query_timeout;
    let sql = req.sql.clone();
    let work = async move {
        // One more row than the cap tells whether the answer was cut.
        let plan = taskifai_engine::sql_guard::plan_read_only(&ctx, &sql, cap + 1)
            .await
            .map_err(|e| ApiError::bad("sql_refused", e.to_string()))?;
        let failed = |e: datafusion::error::DataFusionError| {
            ApiError::bad("sql_failed", first_line(&e.to_string()))
        };
        let physical = taskifai_engine::sql_guard::physical_plan(&ctx, plan)
            .await
            .map_err(failed)?;
        let schema = physical.schema().as_ref().clone();
        let batches = datafusion::physical_plan::collect(physical, ctx.task_ctx())
            .await
            .map_err(failed)?;
        Ok::<_, ApiError>((schema, batches))
    };
    let (schema, batches) = state.queries.run(tenant.id(), timeout, work).await?;
    let mut rows = to_json(&batches)?;
    let truncated = rows.len() > cap;
    rows.truncate(cap);
    let columns: Vec<Value> = schema
        .fields()
        .iter()
        .map(|f| json!({ "name": f.name(), "type": f.data_type().to_string() }))
        .collect();
    tracing::info!(tenant = %tenant.id(), by = %auth.who, rows = rows.len(), truncated, "Query ran.");
    Ok(Json(
        json!({ "columns": columns, "rows": rows, "row_count": rows.len(), "truncated": truncated }),
    ))
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_owned()
}

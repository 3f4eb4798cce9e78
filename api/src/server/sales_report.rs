//! `GET /api/reports/sales?format=pdf|xlsx|csv` with the analytics filters: the report of
//! [`crate::report`] as a download.

use super::analytics::prepare;
use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::report::{self, Heading, ReportError, ReportFormat};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use taskifai_engine::analytics::{Filters, Source};

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    pub format: Option<String>,
    #[serde(flatten)]
    pub filters: Filters,
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Format(_) => ApiError::bad("invalid_format", e.to_string()),
            ReportError::TooLarge(_) => ApiError::bad("report_too_large", e.to_string()),
            ReportError::Query(_) | ReportError::Render(_) => ApiError::internal(e),
        }
    }
}

#[utoipa::path(get, path = "/api/reports/sales", params(("format" = String, Query, description = "pdf, xlsx (default) or csv; plus the analytics filters")), responses((status = 200, content_type = "application/pdf")), tag = "reports")]
pub async fn sales(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Query(p): Query<ReportParams>,
) -> ApiResult<Response> {
    let format: ReportFormat = p.format.as_deref().unwrap_or("xlsx").parse()?;
    let snap = state.lake.snapshot(tenant.id()).await?;
    let (ctx, window) = prepare(&state, &tenant, &p.filters, Source::Lines, &snap).await?;
    let w = window.ok_or_else(|| ApiError::NotFound("sales for these filters".into()))?;
    let heading = Heading::new(
        &tenant.tenant.display_name,
        tenant.id().as_str(),
        &p.filters,
        &snap.committed_at,
    );
    let r = report::render(&ctx, w, format, heading).await?;
    Ok((
        [
            (header::CONTENT_TYPE, r.format.content_type().to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", r.file_name),
            ),
        ],
        r.bytes,
    )
        .into_response())
}

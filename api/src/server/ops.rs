//! Operations: liveness, readiness, Prometheus metrics, the OpenAPI document and its docs page.

use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde_json::json;
use utoipa::OpenApi;

/// The process is up.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The registry database and the lake answer.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let db = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.registry.pool)
        .await
        .is_ok();
    let lake = state.lake.snapshot("demo").await.is_ok();
    let status = if db && lake {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "database": db, "lake": lake })))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let depth = crate::jobs::depth(&state.registry.pool).await.unwrap_or(-1);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(depth),
    )
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "TaskifAI API",
        description = "Sell-out uploads, jobs, analytics and guarded SQL. The tenant comes from the host name; send `Authorization: Bearer <access token>` or `X-Api-Key`."
    ),
    paths(
        super::accounts::register,
        super::accounts::login,
        super::accounts::refresh,
        super::accounts::logout,
        super::accounts::me,
        super::accounts::list_users,
        super::accounts::create_user,
        super::accounts::create_api_key,
        super::invites::invite,
        super::uploads::create,
        super::uploads::list,
        super::uploads::get,
        super::uploads::events,
        super::uploads::errors,
        super::uploads::delete,
        super::uploads::retry,
        super::analytics::kpis,
        super::analytics::timeseries,
        super::analytics::top_products,
        super::analytics::top_resellers,
        super::analytics::top_markets,
        super::analytics::top_stores,
        super::analytics::channel_mix,
        super::analytics::sales,
        super::specs::list,
        super::specs::get,
        super::specs::create,
        super::specs::activate,
        super::specs::dry_run,
        super::query::run,
        super::admin::login,
        super::admin::list,
        super::admin::create,
        super::admin::invite,
        super::admin::suspend,
        super::admin::resume,
    ),
    components(schemas(
        super::uploads::Upload,
        super::uploads::Accepted,
        super::reports::ErrorRow,
        super::accounts::Session,
        super::accounts::User,
        super::invites::Invite,
        crate::jobs::JobView
    ))
)]
pub struct ApiDoc;

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Swagger UI from its CDN over our document: no UI assets in the binary or the build.
pub async fn docs() -> Html<&'static str> {
    Html(
        r##"<!doctype html><html><head><meta charset="utf-8"><title>TaskifAI API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div><script src="https://unpkg.com/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#ui" });</script></body></html>"##,
    )
}

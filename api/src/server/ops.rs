//! Operations: liveness, readiness, Prometheus metrics, the OpenAPI document and its docs page.

use crate::state::AppState;
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;
use taskifai_connectors::TenantId;
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
    let lake = state.lake.snapshot(&TenantId::demo()).await.is_ok();
    let status = if db && lake {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "database": db, "lake": lake })))
}

/// Prometheus text. Only for scrapers on this machine unless `--metrics-public`: the numbers
/// tell the load and the tenants' activity to whoever asks.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Result<impl IntoResponse, super::error::ApiError> {
    if !state.config.metrics_public && !peer.ip().is_loopback() {
        return Err(super::error::ApiError::NotFound("/metrics".into()));
    }
    let depth = crate::jobs::depth(&state.registry.pool).await.unwrap_or(-1);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(depth),
    ))
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
        super::notifications::get,
        super::notifications::set,
        super::notifications::logs,
        super::audit_log::list,
        super::team::list,
        super::team::change,
        super::resets::create,
        super::resets::reset,
        super::settings::unmatched,
        super::settings::email,
        super::settings::set_email,
        super::catalog::export,
        super::catalog::import,
        super::unmapped::queue,
        super::dashboards::list,
        super::dashboards::create,
        super::dashboards::update,
        super::dashboards::delete,
        super::dashboards::set_metabase,
        super::analytics::completeness,
        super::sales_report::sales,
        super::schedules::list,
        super::schedules::get,
        super::schedules::create,
        super::schedules::update,
        super::schedules::delete,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::update,
        super::webhooks::delete,
        super::webhooks::deliveries,
        super::unmapped::resolve,
        super::unmapped::reprocess_range,
        super::settings::set_unmatched,
        super::accounts::create_user,
        super::accounts::create_api_key,
        super::accounts::list_api_keys,
        super::accounts::revoke_api_key,
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
        super::chat::ask,
        super::chat::list,
        super::chat::get,
        super::chat::delete,
        super::chat::usage,
        super::admin::login,
        super::admin::list,
        super::admin::create,
        super::admin::invite,
        super::admin::suspend,
        super::admin::resume,
    ),
    components(schemas(
        super::uploads::Upload,
        crate::email::EmailLog,
        super::notifications::Notifications,
        super::uploads::Accepted,
        super::reports::ErrorRow,
        super::accounts::Session,
        super::accounts::User,
        super::invites::Invite,
        super::team::Member,
        super::team::MemberChange,
        super::resets::Reset,
        super::resets::NewPassword,
        super::settings::UnmatchedPolicy,
        taskifai_connectors::postgres::catalog::Imported,
        taskifai_connectors::postgres::unmapped::Unmapped,
        taskifai_connectors::catalog::Suggestion,
        super::unmapped::Resolve,
        super::dashboards::Dashboard,
        super::dashboards::DashboardInput,
        super::dashboards::Provider,
        super::dashboards::MetabaseSetup,
        super::unmapped::Range,
        super::unmapped::Reprocessed,
        super::settings::Action,
        super::chat::ChatRequest,
        crate::chat::store::Conversation,
        crate::jobs::JobView
    ))
)]
pub struct ApiDoc;

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Swagger UI 5.17.14 from its CDN over our document, pinned with subresource integrity so a
/// changed file on the CDN is refused by the browser; no UI assets in the binary or the build.
/// The page's CSP allows that CDN and the one inline script, by its hash.
pub async fn docs() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_SECURITY_POLICY, DOCS_CSP)],
        Html(
            r##"<!doctype html><html><head><meta charset="utf-8"><title>TaskifAI API</title>
<link rel="stylesheet" href="https://unpkg.com/swagger-ui-dist@5.17.14/swagger-ui.css" integrity="sha384-wxLW6kwyHktdDGr6Pv1zgm/VGJh99lfUbzSn6HNHBENZlCN7W602k9VkGdxuFvPn" crossorigin="anonymous"></head>
<body><div id="ui"></div><script src="https://unpkg.com/swagger-ui-dist@5.17.14/swagger-ui-bundle.js" integrity="sha384-wmyclcVGX/WhUkdkATwhaK1X1JtiNrr2EoYJ+diV3vj4v6OC5yCeSu+yW13SYJep" crossorigin="anonymous"></script>
<script>SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#ui" });</script></body></html>"##,
        ),
    )
}

/// The docs page's policy: the pinned CDN files and the one inline script.
pub const DOCS_CSP: &str = "default-src 'self'; script-src https://unpkg.com 'sha256-pQ1B0vqb6vJ37i+k/cVjO8j4lMFgLZCt8zgZxUMrepk='; style-src https://unpkg.com 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

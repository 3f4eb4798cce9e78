//! The HTTP API: one router over [`AppState`], served with graceful shutdown.

pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod audit_log;
pub mod auth;
pub mod catalog;
pub mod chat;
pub mod credentials;
pub mod dashboards;
pub mod error;
pub mod form;
pub mod invites;
pub mod listen;
pub mod lockout;
pub mod notifications;
pub mod ops;
pub mod paging;
pub mod query;
pub mod ratelimit;
pub mod reports;
pub mod resets;
pub mod sales_report;
pub mod schedules;
pub mod settings;
pub mod specs;
pub mod team;
pub mod tenancy;
pub mod tenant_cache;
pub mod unmapped;
pub mod uploads;
pub mod web;
pub mod web_session;
pub mod webhooks;

use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Every route of the API.
pub fn router(state: AppState) -> Router {
    // Uploads enforce their own limit while streaming; other bodies are small.
    let upload_limit =
        DefaultBodyLimit::max(state.config.max_upload_bytes as usize * 2 + (1 << 20));
    let api = Router::new()
        .route("/auth/register", post(accounts::register))
        .route("/auth/login", post(accounts::login))
        .route("/auth/refresh", post(accounts::refresh))
        .route("/auth/logout", post(accounts::logout))
        .route("/auth/reset", post(resets::reset))
        .route("/me", get(accounts::me))
        .route(
            "/me/notifications",
            get(notifications::get).put(notifications::set),
        )
        .route("/email-logs", get(notifications::logs))
        .route("/audit", get(audit_log::list))
        .route("/users", get(team::list).post(accounts::create_user))
        .route("/users/{id}", axum::routing::patch(team::change))
        .route("/users/{id}/password-reset", post(resets::create))
        .route(
            "/api-keys",
            get(accounts::list_api_keys).post(accounts::create_api_key),
        )
        .route(
            "/api-keys/{id}",
            axum::routing::delete(accounts::revoke_api_key),
        )
        .route("/invites", post(invites::invite))
        .route(
            "/uploads",
            get(uploads::list).post(uploads::create).layer(upload_limit),
        )
        .route("/uploads/{id}", get(uploads::get).delete(uploads::delete))
        .route("/uploads/{id}/events", get(uploads::events))
        .route("/uploads/{id}/errors", get(uploads::errors))
        .route("/uploads/{id}/retry", post(uploads::retry))
        .route("/analytics/kpis", get(analytics::kpis))
        .route("/analytics/timeseries", get(analytics::timeseries))
        .route("/analytics/top-products", get(analytics::top_products))
        .route("/analytics/top-resellers", get(analytics::top_resellers))
        .route("/analytics/top-markets", get(analytics::top_markets))
        .route("/analytics/top-stores", get(analytics::top_stores))
        .route("/analytics/channel-mix", get(analytics::channel_mix))
        .route("/analytics/sales", get(analytics::sales))
        .route("/analytics/completeness", get(analytics::completeness))
        .route("/reports/sales", get(sales_report::sales))
        .route("/schedules", get(schedules::list).post(schedules::create))
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route(
            "/webhooks/{id}",
            axum::routing::put(webhooks::update).delete(webhooks::delete),
        )
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route(
            "/schedules/{id}",
            get(schedules::get)
                .put(schedules::update)
                .delete(schedules::delete),
        )
        .route("/specs", get(specs::list))
        .route(
            "/specs/dry-run",
            post(specs::dry_run).layer(DefaultBodyLimit::max(
                state.config.max_upload_bytes as usize + (1 << 20),
            )),
        )
        .route("/specs/{vendor}", get(specs::get).post(specs::create))
        .route(
            "/specs/{vendor}/versions/{version}/activate",
            post(specs::activate),
        )
        .route("/catalog/unmapped", get(unmapped::queue))
        .route("/catalog/unmapped/resolve", post(unmapped::resolve))
        .route("/catalog/reprocess", post(unmapped::reprocess_range))
        .route(
            "/catalog/{kind}",
            get(catalog::export).post(catalog::import),
        )
        .route(
            "/settings/email",
            get(settings::email).put(settings::set_email),
        )
        .route(
            "/settings/unmatched",
            get(settings::unmatched).put(settings::set_unmatched),
        )
        .route(
            "/dashboards",
            get(dashboards::list).post(dashboards::create),
        )
        .route(
            "/dashboards/metabase",
            axum::routing::put(dashboards::set_metabase),
        )
        .route(
            "/dashboards/{id}",
            axum::routing::put(dashboards::update).delete(dashboards::delete),
        )
        .route("/query", post(query::run))
        .route("/chat", post(chat::ask))
        .route("/chat/conversations", get(chat::list))
        .route("/usage", get(chat::usage))
        .route(
            "/chat/conversations/{id}",
            get(chat::get).delete(chat::delete),
        )
        .route("/admin/login", post(admin::login))
        .route("/admin/tenants", get(admin::list).post(admin::create))
        .route("/admin/tenants/{id}/invites", post(admin::invite))
        .route("/admin/tenants/{id}/suspend", post(admin::suspend))
        .route("/admin/tenants/{id}/resume", post(admin::resume))
        .route("/openapi.json", get(ops::openapi))
        .route("/docs", get(ops::docs));
    let web = state.config.web_dir.as_deref().and_then(web::routes);
    if state.config.web_dir.is_some() && web.is_none() {
        tracing::warn!("The web app is not built (no index.html in the web directory); serving the API only. Build it with: cd api/web && npm ci && npm run build");
    }
    // Unknown /api paths stay JSON 404s; the app answers everything else.
    let api =
        api.fallback(|| async { super::server::error::ApiError::NotFound("this API path".into()) });
    let router = Router::new()
        .nest("/api", api)
        .route("/health", get(ops::health))
        .route("/ready", get(ops::ready))
        .route("/metrics", get(ops::metrics));
    let router = match web {
        Some(web) => router.merge(web.layer(middleware::from_fn_with_state(
            state.clone(),
            dashboards::frame_policy,
        ))),
        None => router,
    };
    router
        .layer(middleware::from_fn(security_headers))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The text a panic was raised with (`panic!` gives a `String` or a `&str`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message")
}

/// A bug in a handler answers 500 like any other internal error instead of dropping the connection.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic_message(panic.as_ref());
    axum::response::IntoResponse::into_response(error::ApiError::internal(anyhow::anyhow!(
        "handler panicked: {message}"
    )))
}

/// Headers every answer carries: no MIME sniffing, no referrer, no framing (the web app frames
/// nothing of ours), a default-deny content policy unless the page set its own, and HSTS when
/// the request came over TLS through a proxy.
async fn security_headers(req: Request, next: Next) -> Response {
    use axum::http::{header, HeaderValue};
    let tls = req
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
        );
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}

async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let res = next.run(req).await;
    state
        .metrics
        .request(res.status().as_u16(), started.elapsed().as_micros() as u64);
    res
}

/// Serves until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let header_timeout = state.config.header_timeout;
    listen::serve(listener, router(state), header_timeout, shutdown).await
}

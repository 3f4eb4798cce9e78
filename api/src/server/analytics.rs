//! `/api/analytics/*`: KPIs, time series, rankings and sale lines over the tenant's lake with
//! DataFusion. The lake serves these, so they work while the database is busy or down.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::query_runner::to_json;
use crate::state::AppState;
use axum::extract::{Query, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use taskifai_connectors::lake::Snapshot;
use taskifai_engine::analytics::{self as queries, Dimension, Filters, Source, Window};

fn first(batches: &[RecordBatch]) -> ApiResult<Value> {
    Ok(to_json(batches)?.into_iter().next().unwrap_or(Value::Null))
}

/// A failed analytics query: the server's fault, not the request's.
pub(super) fn query_failed(e: datafusion::error::DataFusionError) -> ApiError {
    ApiError::internal(e)
}

/// The session over `snap` (the tenant's current snapshot) with `f` registered over `from`,
/// and the window to report on (`None`: no data).
pub(super) async fn prepare(
    state: &AppState,
    tenant: &TenantCtx,
    filters: &Filters,
    from: Source,
    snap: &Arc<Snapshot>,
) -> ApiResult<(SessionContext, Option<Window>)> {
    let today = chrono::Utc::now().date_naive();
    let asked = filters
        .window(today)
        .map_err(|e| ApiError::bad("invalid_filter", e.to_string()))?;
    let sessions = &state.query_sessions;
    let ctx = match from {
        Source::Rollup(grain) => {
            sessions
                .rollup_session_of(&state.lake, tenant.id(), grain, snap)
                .await?
        }
        Source::Lines => sessions.session_of(&state.lake, tenant.id(), snap).await?,
    };
    queries::register_filtered(&ctx, filters, from)
        .await
        .map_err(query_failed)?;
    let window = queries::resolve_window(&ctx, asked)
        .await
        .map_err(query_failed)?;
    Ok((ctx, window))
}

/// Says whether an answer came from the cache.
pub const CACHE_HEADER: &str = "x-taskifai-cache";
/// The lake version an analytics answer was computed for (see `/api/query`'s `lake_version`).
pub const VERSION_HEADER: &str = "x-taskifai-lake-version";

/// The answer of `endpoint` for this query, from the cache while the tenant's lake is at the
/// version it was computed on (and on the same day: ranges such as last_month move with it);
/// computed and kept otherwise. A commit changes the version, so a load or delete is seen by
/// the next request, and keys carry the tenant, so no answer crosses tenants. Requests that
/// miss together share one computation, over the snapshot the key was made from.
async fn cached<F, Fut>(
    state: &AppState,
    tenant: &TenantCtx,
    endpoint: &str,
    query: Option<String>,
    compute: F,
) -> ApiResult<Response>
where
    F: FnOnce(Arc<Snapshot>) -> Fut,
    Fut: std::future::Future<Output = ApiResult<Json<Value>>>,
{
    let snap = state.lake.snapshot(tenant.id()).await?;
    let version = snap.version;
    let today = chrono::Utc::now().date_naive().to_string();
    let key = crate::cache::key(
        tenant.id(),
        version,
        &[endpoint, &today, query.as_deref().unwrap_or("")],
    );
    let (v, kept) = state
        .analytics_cache
        .get_or_compute(key, async { compute(snap).await.map(|Json(v)| v) })
        .await?;
    let how = if kept { "hit" } else { "miss" };
    let version = version.to_string();
    Ok((
        [(CACHE_HEADER, how), (VERSION_HEADER, version.as_str())],
        Json(v),
    )
        .into_response())
}

fn growth(now: &Value, before: &Value) -> Value {
    let num = |v: &Value| {
        v["revenue_eur"]
            .as_str()
            .and_then(|s| s.parse::<f64>().ok())
    };
    match (num(now), num(before)) {
        (Some(n), Some(b)) => json!(queries::growth_pct(n, b)),
        _ => Value::Null,
    }
}

#[utoipa::path(get, path = "/api/analytics/kpis", responses((status = 200)), tag = "analytics")]
pub async fn kpis(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Query(filters): Query<Filters>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    cached(&state, &tenant, "kpis", raw, |snap| {
        kpis_of(&state, &tenant, filters, snap)
    })
    .await
}

async fn kpis_of(
    state: &AppState,
    tenant: &TenantCtx,
    filters: Filters,
    snap: Arc<Snapshot>,
) -> ApiResult<Json<Value>> {
    let from = Source::for_query(&filters, false);
    let (ctx, window) = prepare(state, tenant, &filters, from, &snap).await?;
    let Some(w) = window else {
        return Ok(Json(
            json!({ "window": null, "revenue_eur": "0", "units": 0, "orders": 0 }),
        ));
    };
    let mut out = first(&queries::totals(&ctx, w).await.map_err(query_failed)?)?;
    let prev = first(
        &queries::revenue(&ctx, w.previous())
            .await
            .map_err(query_failed)?,
    )?;
    let last_year = first(
        &queries::revenue(&ctx, w.year_before())
            .await
            .map_err(query_failed)?,
    )?;
    let movers = first(&queries::movers(&ctx, w).await.map_err(query_failed)?)?;
    out["window"] = json!(w);
    out["fast_movers"] = movers["fast_movers"].clone();
    out["slow_movers"] = movers["slow_movers"].clone();
    out["channels"] = Value::Array(to_json(
        &queries::channel_mix(&ctx, w).await.map_err(query_failed)?,
    )?);
    out["previous_period"] = json!({ "window": w.previous(), "revenue_eur": prev["revenue_eur"], "growth_pct": growth(&out, &prev) });
    out["same_period_last_year"] = json!({ "window": w.year_before(), "revenue_eur": last_year["revenue_eur"], "growth_pct": growth(&out, &last_year) });
    // A dip that is really a file that never came says so.
    let ledgers = recent_ledgers(state, tenant, snap.version).await?;
    out["missing_files"] = ledgers
        .iter()
        .filter_map(|l| {
            let missing = l.missing_within(w.from, w.to);
            (!missing.is_empty()).then(|| {
                json!({ "vendor": l.vendor, "periods": missing.iter().map(|m| &m.period).collect::<Vec<_>>() })
            })
        })
        .collect();
    Ok(Json(out))
}

/// How long the KPIs reuse the ledgers they read: a file that arrives shows within this many
/// seconds, and a page of requests costs the database one read.
const LEDGER_SECONDS: u64 = 5;

/// [`ledgers`] as of today, read at most [`LEDGER_SECONDS`] ago at this lake version.
async fn recent_ledgers(
    state: &AppState,
    tenant: &TenantCtx,
    version: u64,
) -> ApiResult<Arc<Vec<taskifai_engine::completeness::Ledger>>> {
    let today = chrono::Utc::now().date_naive();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (day, slot) = (today.to_string(), (now / LEDGER_SECONDS).to_string());
    let key = crate::cache::key(tenant.id(), version, &["ledgers", &day, &slot]);
    let read = async { ledgers(tenant, today).await.map(Arc::new) };
    Ok(state.ledger_cache.get_or_compute(key, read).await?.0)
}

async fn ledgers(
    tenant: &TenantCtx,
    today: chrono::NaiveDate,
) -> ApiResult<Vec<taskifai_engine::completeness::Ledger>> {
    let received = taskifai_connectors::postgres::batches::received(&tenant.pool).await?;
    Ok(taskifai_engine::completeness::ledgers(&received, today))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct CompletenessParams {
    /// The day to judge from (default today): a period is due some grace days after it ends
    /// (2 for a day, 4 for a week, 10 for a month, 45 for a year).
    pub as_of: Option<chrono::NaiveDate>,
}

/// Per reseller: the cadence it sends files on, the periods expected and received so far, the
/// missing ones, late files, and whether it is complete, has gaps, is late or has stopped.
#[utoipa::path(get, path = "/api/analytics/completeness", params(CompletenessParams), responses((status = 200)), tag = "analytics")]
pub async fn completeness(
    tenant: TenantCtx,
    _auth: Auth,
    Query(p): Query<CompletenessParams>,
) -> ApiResult<Json<Value>> {
    let as_of = p.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let ledgers = ledgers(&tenant, as_of).await?;
    Ok(Json(json!({ "as_of": as_of, "resellers": ledgers })))
}

#[derive(Debug, Deserialize)]
pub struct SeriesParams {
    pub bucket: Option<queries::Bucket>,
    #[serde(flatten)]
    pub filters: Filters,
}

#[utoipa::path(get, path = "/api/analytics/timeseries", responses((status = 200)), tag = "analytics")]
pub async fn timeseries(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Query(p): Query<SeriesParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    cached(&state, &tenant, "timeseries", raw, |snap| {
        timeseries_of(&state, &tenant, p, snap)
    })
    .await
}

async fn timeseries_of(
    state: &AppState,
    tenant: &TenantCtx,
    p: SeriesParams,
    snap: Arc<Snapshot>,
) -> ApiResult<Json<Value>> {
    let from = Source::for_query(&p.filters, false);
    let (ctx, window) = prepare(state, tenant, &p.filters, from, &snap).await?;
    let bucket = p.bucket.unwrap_or(queries::Bucket::Month);
    let (points, outside) = match window {
        Some(w) => (
            to_json(
                &queries::timeseries(&ctx, w, bucket)
                    .await
                    .map_err(query_failed)?,
            )?,
            match queries::outside_buckets(&ctx, w, bucket)
                .await
                .map_err(query_failed)?
            {
                Some(b) => first(&b)?,
                None => Value::Null,
            },
        ),
        None => (vec![], Value::Null),
    };
    Ok(Json(
        json!({ "window": window, "bucket": format!("{bucket:?}").to_lowercase(), "points": points, "outside_buckets": outside }),
    ))
}

/// Numbers in query strings next to a flattened struct arrive as text (serde's flatten buffers
/// them untyped), so they are parsed here.
fn number<'de, D: serde::Deserializer<'de>, N: std::str::FromStr>(
    d: D,
) -> Result<Option<N>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    s.map(|s| {
        s.trim()
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a whole number")))
    })
    .transpose()
}

#[derive(Debug, Deserialize)]
pub struct TopParams {
    #[serde(default, deserialize_with = "number")]
    pub limit: Option<usize>,
    #[serde(flatten)]
    pub filters: Filters,
}

async fn top(
    state: AppState,
    tenant: TenantCtx,
    p: TopParams,
    by: Dimension,
    raw: Option<String>,
) -> ApiResult<Response> {
    let endpoint = format!("top-{by:?}");
    cached(&state, &tenant, &endpoint, raw, |snap| {
        top_of(&state, &tenant, p, by, snap)
    })
    .await
}

async fn top_of(
    state: &AppState,
    tenant: &TenantCtx,
    p: TopParams,
    by: Dimension,
    snap: Arc<Snapshot>,
) -> ApiResult<Json<Value>> {
    let from = Source::for_query(&p.filters, by == Dimension::Store);
    let (ctx, window) = prepare(state, tenant, &p.filters, from, &snap).await?;
    let items = match window {
        Some(w) => to_json(
            &queries::top(&ctx, w, by, p.limit.unwrap_or(10))
                .await
                .map_err(query_failed)?,
        )?,
        None => vec![],
    };
    Ok(Json(json!({ "window": window, "items": items })))
}

/// One handler per ranked dimension: utoipa documents a path per function.
macro_rules! top_handler {
    ($name:ident, $path:literal, $dimension:expr) => {
        #[utoipa::path(get, path = $path, responses((status = 200)), tag = "analytics")]
        pub async fn $name(
            State(s): State<AppState>,
            t: TenantCtx,
            _a: Auth,
            Query(p): Query<TopParams>,
            RawQuery(raw): RawQuery,
        ) -> ApiResult<Response> {
            top(s, t, p, $dimension, raw).await
        }
    };
}

top_handler!(
    top_products,
    "/api/analytics/top-products",
    Dimension::Product
);
top_handler!(
    top_resellers,
    "/api/analytics/top-resellers",
    Dimension::Reseller
);
top_handler!(top_markets, "/api/analytics/top-markets", Dimension::Market);
top_handler!(top_stores, "/api/analytics/top-stores", Dimension::Store);

#[utoipa::path(get, path = "/api/analytics/channel-mix", responses((status = 200)), tag = "analytics")]
pub async fn channel_mix(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Query(filters): Query<Filters>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let (st, tn, filters) = (&state, &tenant, &filters);
    let compute = move |snap: Arc<Snapshot>| async move {
        let from = Source::for_query(filters, false);
        let (ctx, window) = prepare(st, tn, filters, from, &snap).await?;
        let items = match window {
            Some(w) => to_json(&queries::channel_mix(&ctx, w).await.map_err(query_failed)?)?,
            None => vec![],
        };
        Ok(Json(json!({ "window": window, "items": items })))
    };
    cached(&state, &tenant, "channel-mix", raw, compute).await
}

#[derive(Debug, Deserialize)]
pub struct SalesParams {
    #[serde(default, deserialize_with = "number")]
    pub page: Option<u64>,
    #[serde(default, deserialize_with = "number")]
    pub per_page: Option<u64>,
    #[serde(flatten)]
    pub filters: Filters,
}

#[utoipa::path(get, path = "/api/analytics/sales", responses((status = 200)), tag = "analytics")]
pub async fn sales(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Query(p): Query<SalesParams>,
) -> ApiResult<Json<Value>> {
    let paged = super::paging::Paging::new(p.page, p.per_page, 100, 1000)?;
    let snap = state.lake.snapshot(tenant.id()).await?;
    let (ctx, window) = prepare(&state, &tenant, &p.filters, Source::Lines, &snap).await?;
    let (page, per_page) = (paged.page, paged.per_page);
    let items = match window {
        Some(w) => to_json(
            &queries::rows(&ctx, w, per_page as usize, paged.offset() as usize)
                .await
                .map_err(query_failed)?,
        )?,
        None => vec![],
    };
    Ok(Json(
        json!({ "window": window, "page": page, "per_page": per_page, "items": items }),
    ))
}

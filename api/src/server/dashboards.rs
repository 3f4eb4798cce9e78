//! Dashboards from other tools embedded in the web app: Looker Studio, Tableau, Power BI by
//! their embed URLs on the providers' own hosts, and Metabase by signed embedding (the server
//! signs each dashboard's token with the tenant's secret, which never reaches the browser).
//! The web app's content policy frames only these hosts (see [`frame_policy`]).

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::state::AppState;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Hosts every tenant may frame: the providers' embed hosts.
pub const PROVIDER_HOSTS: [&str; 4] = [
    "https://lookerstudio.google.com",
    "https://public.tableau.com",
    "https://*.online.tableau.com",
    "https://app.powerbi.com",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    LookerStudio,
    Tableau,
    PowerBi,
    Metabase,
}

/// A dashboard as saved: the provider's embed URL, or a Metabase dashboard number.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardInput {
    pub name: String,
    pub provider: Provider,
    /// The embed URL (Looker Studio, Tableau, Power BI).
    #[serde(default)]
    pub url: Option<String>,
    /// The dashboard's number in the tenant's Metabase.
    #[serde(default)]
    pub metabase_dashboard: Option<u32>,
}

/// A dashboard as the app shows it: `frame_url` is what to put in the iframe (for Metabase a
/// freshly signed embed URL, valid ten minutes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    pub id: i64,
    pub name: String,
    pub provider: Provider,
    pub frame_url: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Checks an embed URL against its provider's hosts and paths; the reason when it does not fit.
pub fn check_url(provider: Provider, url: &str) -> Result<String, String> {
    let u = url::Url::parse(url.trim()).map_err(|e| format!("url {url:?}: {e}"))?;
    if u.scheme() != "https"
        || !u.username().is_empty()
        || u.password().is_some()
        || u.port().is_some()
    {
        return Err(format!(
            "url {url:?}: expected an https address without credentials or port"
        ));
    }
    let host = u.host_str().unwrap_or_default();
    let path = u.path();
    let fits = match provider {
        Provider::LookerStudio => host == "lookerstudio.google.com" && path.starts_with("/embed/"),
        Provider::Tableau => {
            (host == "public.tableau.com" || host.ends_with(".online.tableau.com"))
                && path.starts_with("/views/")
        }
        Provider::PowerBi => {
            host == "app.powerbi.com"
                && (path.starts_with("/view") || path.starts_with("/reportEmbed"))
        }
        Provider::Metabase => false,
    };
    match fits {
        true => Ok(u.to_string()),
        false => Err(format!(
            "url {url:?}: expected {}",
            match provider {
                Provider::LookerStudio => "a Looker Studio embed link (https://lookerstudio.google.com/embed/...)",
                Provider::Tableau => "a Tableau view (https://public.tableau.com/views/... or https://<site>.online.tableau.com/views/...)",
                Provider::PowerBi => "a Power BI embed link (https://app.powerbi.com/view?... or /reportEmbed?...)",
                Provider::Metabase => "a metabase_dashboard number instead of a url",
            }
        )),
    }
}

/// The config JSON a dashboard is saved with.
fn config(input: &DashboardInput) -> ApiResult<serde_json::Value> {
    let bad = |m: String| ApiError::Unprocessable {
        code: "invalid_dashboard",
        message: m,
    };
    if input.name.trim().is_empty() || input.name.len() > 200 {
        return Err(bad("name: expected 1 to 200 characters".into()));
    }
    match (input.provider, &input.url, input.metabase_dashboard) {
        (Provider::Metabase, None, Some(n)) => {
            Ok(json!({ "provider": input.provider, "metabase_dashboard": n }))
        }
        (Provider::Metabase, ..) => Err(bad(
            "a Metabase dashboard takes metabase_dashboard (its number), not a url".into(),
        )),
        (p, Some(url), None) => {
            Ok(json!({ "provider": p, "url": check_url(p, url).map_err(bad)? }))
        }
        _ => Err(bad("expected the provider's embed url".into())),
    }
}

#[derive(Serialize)]
struct MetabaseClaims {
    resource: serde_json::Value,
    params: serde_json::Value,
    exp: i64,
}

/// The iframe address of a saved dashboard.
async fn frame_url(pool: &sqlx::PgPool, config: &serde_json::Value) -> ApiResult<String> {
    if let Some(url) = config["url"].as_str() {
        return Ok(url.to_owned());
    }
    let n = config["metabase_dashboard"].as_u64().unwrap_or_default();
    let (site, secret): (String, String) =
        sqlx::query_as("SELECT site_url, secret_key FROM metabase_embedding")
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| {
                ApiError::Conflict("Metabase embedding is not set up for this tenant".into())
            })?;
    let claims = MetabaseClaims {
        resource: json!({ "dashboard": n }),
        params: json!({}),
        exp: (chrono::Utc::now() + chrono::Duration::minutes(10)).timestamp(),
    };
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(ApiError::internal)?;
    Ok(format!(
        "{}/embed/dashboard/{token}#bordered=true&titled=true",
        site.trim_end_matches('/')
    ))
}

async fn row_to_dashboard(
    pool: &sqlx::PgPool,
    row: (
        i64,
        String,
        serde_json::Value,
        chrono::DateTime<chrono::Utc>,
    ),
) -> ApiResult<Dashboard> {
    let (id, name, config, created_at) = row;
    let provider: Provider =
        serde_json::from_value(config["provider"].clone()).map_err(ApiError::internal)?;
    Ok(Dashboard {
        id,
        name,
        provider,
        frame_url: frame_url(pool, &config).await?,
        created_at,
    })
}

const SELECT: &str = "SELECT id, name, config, created_at FROM dashboards";

#[utoipa::path(get, path = "/api/dashboards", responses((status = 200, body = [Dashboard])), tag = "dashboards")]
pub async fn list(tenant: TenantCtx, auth: Auth) -> ApiResult<Json<Vec<Dashboard>>> {
    auth.require(Role::Viewer)?;
    let rows: Vec<(
        i64,
        String,
        serde_json::Value,
        chrono::DateTime<chrono::Utc>,
    )> = sqlx::query_as(&format!("{SELECT} ORDER BY name"))
        .fetch_all(&tenant.pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(row_to_dashboard(&tenant.pool, r).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/api/dashboards", request_body = DashboardInput, responses((status = 201, body = Dashboard), (status = 422), (status = 409)), tag = "dashboards")]
pub async fn create(
    tenant: TenantCtx,
    auth: Auth,
    Json(input): Json<DashboardInput>,
) -> ApiResult<(StatusCode, Json<Dashboard>)> {
    auth.require(Role::Member)?;
    let config = config(&input)?;
    let row = sqlx::query_as(
        "INSERT INTO dashboards (name, config, created_by) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id, name, config, created_at"
    )
    .bind(input.name.trim())
    .bind(&config)
    .bind(auth.user_id)
    .fetch_optional(&tenant.pool)
    .await?
    .ok_or_else(|| ApiError::Conflict(format!("a dashboard is named {:?} already", input.name.trim())))?;
    Ok((
        StatusCode::CREATED,
        Json(row_to_dashboard(&tenant.pool, row).await?),
    ))
}

#[utoipa::path(put, path = "/api/dashboards/{id}", request_body = DashboardInput, responses((status = 200, body = Dashboard), (status = 404)), tag = "dashboards")]
pub async fn update(
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
    Json(input): Json<DashboardInput>,
) -> ApiResult<Json<Dashboard>> {
    auth.require(Role::Member)?;
    let config = config(&input)?;
    let row = sqlx::query_as("UPDATE dashboards SET name = $2, config = $3 WHERE id = $1 RETURNING id, name, config, created_at")
        .bind(id)
        .bind(input.name.trim())
        .bind(&config)
        .fetch_optional(&tenant.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("dashboard {id}")))?;
    Ok(Json(row_to_dashboard(&tenant.pool, row).await?))
}

#[utoipa::path(delete, path = "/api/dashboards/{id}", responses((status = 204), (status = 404)), tag = "dashboards")]
pub async fn delete(tenant: TenantCtx, auth: Auth, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    auth.require(Role::Member)?;
    let done = sqlx::query("DELETE FROM dashboards WHERE id = $1")
        .bind(id)
        .execute(&tenant.pool)
        .await?;
    match done.rows_affected() {
        0 => Err(ApiError::NotFound(format!("dashboard {id}"))),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// The tenant's Metabase for signed embedding. The secret is written, never read back.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetabaseSetup {
    pub site_url: String,
    pub secret_key: String,
}

#[utoipa::path(put, path = "/api/dashboards/metabase", request_body = MetabaseSetup, responses((status = 200)), tag = "dashboards")]
pub async fn set_metabase(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Json(m): Json<MetabaseSetup>,
) -> ApiResult<Json<serde_json::Value>> {
    auth.require(Role::Admin)?;
    let bad = |m: String| ApiError::Unprocessable {
        code: "invalid_metabase",
        message: m,
    };
    let u = url::Url::parse(m.site_url.trim()).map_err(|e| bad(format!("site_url: {e}")))?;
    if u.scheme() != "https"
        || u.host_str().is_none()
        || !u.username().is_empty()
        || u.query().is_some()
    {
        return Err(bad(
            "site_url: expected https://your-metabase.example".into()
        ));
    }
    if m.secret_key.len() < 32 {
        return Err(bad(
            "secret_key: expected Metabase's embedding secret (64 hex characters)".into(),
        ));
    }
    let origin = u.origin().ascii_serialization();
    let site = format!("{}{}", origin, u.path().trim_end_matches('/'));
    sqlx::query("INSERT INTO metabase_embedding (site_url, secret_key) VALUES ($1, $2) ON CONFLICT (one) DO UPDATE SET site_url = $1, secret_key = $2, updated_at = now()")
        .bind(&site)
        .bind(&m.secret_key)
        .execute(&tenant.pool)
        .await?;
    sqlx::query("INSERT INTO tenant_frame_hosts (tenant_id, hosts) VALUES ($1, ARRAY[$2]) ON CONFLICT (tenant_id) DO UPDATE SET hosts = ARRAY[$2]")
        .bind(tenant.id().as_str())
        .bind(&origin)
        .execute(&state.registry.pool)
        .await?;
    Ok(Json(json!({ "site_url": site, "configured": true })))
}

/// The web app's pages frame the providers' hosts and the tenant's own Metabase, nothing else.
/// The tenant comes from the host, as for the API; its hosts from the registry, so no tenant
/// database is opened for an anonymous page load.
pub async fn frame_policy(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut res = next.run(req).await;
    let is_html = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !is_html {
        return res;
    }
    let mut hosts: Vec<String> = PROVIDER_HOSTS.iter().map(|h| h.to_string()).collect();
    if let Ok(sub) = super::tenancy::subdomain_of(&host, &state.config.base_domain) {
        // `demo` may have no registry row; its subdomain is its id.
        let own: Option<Vec<String>> = sqlx::query_scalar(
            "SELECT hosts FROM tenant_frame_hosts WHERE tenant_id = coalesce(
                (SELECT id FROM tenants WHERE subdomain = $1), CASE WHEN $1 = 'demo' THEN 'demo' END)",
        )
        .bind(&sub)
        .fetch_optional(&state.registry.pool)
        .await
        .ok()
        .flatten();
        hosts.extend(own.unwrap_or_default());
    }
    let policy = format!(
        "default-src 'self'; frame-src {}; frame-ancestors 'none'",
        hosts.join(" ")
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&policy) {
        res.headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_providers_embed_addresses_are_taken() {
        assert!(check_url(
            Provider::LookerStudio,
            "https://lookerstudio.google.com/embed/reporting/abc/page/1"
        )
        .is_ok());
        assert!(check_url(
            Provider::Tableau,
            "https://eu-west.online.tableau.com/views/Sales/Overview"
        )
        .is_ok());
        assert!(check_url(Provider::PowerBi, "https://app.powerbi.com/view?r=abc").is_ok());
        for (p, bad) in [
            (
                Provider::LookerStudio,
                "http://lookerstudio.google.com/embed/x",
            ),
            (
                Provider::LookerStudio,
                "https://lookerstudio.google.com.evil.example/embed/x",
            ),
            (
                Provider::LookerStudio,
                "https://user:pw@lookerstudio.google.com/embed/x",
            ),
            (Provider::Tableau, "https://evil.example/views/x"),
            (
                Provider::Tableau,
                "https://online.tableau.com.evil.example/views/x",
            ),
            (Provider::PowerBi, "javascript:alert(1)"),
            (Provider::PowerBi, "https://app.powerbi.com:444/view?r=1"),
        ] {
            assert!(check_url(p, bad).is_err(), "{bad}");
        }
    }
}

//! Which tenant a request is for, from its `Host`: `acme.<base domain>` is the tenant whose
//! subdomain is `acme`; `localhost` and bare IP addresses are the demo tenant. Lookups are
//! cached for a few seconds; a status change made through the server clears the entry at once,
//! one made elsewhere (another process, the CLI) takes effect within that time.

use super::error::{ApiError, ApiResult};
use super::ratelimit::Bucket;
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sqlx::PgPool;
use std::net::IpAddr;
use taskifai_connectors::postgres::tenants::Tenant;
use taskifai_connectors::postgres::{PgError, DEMO_TENANT};
use taskifai_connectors::TenantId;

/// The subdomain a host names, or why it names none.
pub fn subdomain_of(host: &str, base_domain: &str) -> Result<String, String> {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = match host.strip_prefix('[') {
        Some(v6) => {
            return v6
                .split(']')
                .next()
                .filter(|a| a.parse::<IpAddr>().is_ok())
                .map(|_| DEMO_TENANT.to_owned())
                .ok_or(format!("bad host {host:?}"))
        }
        None => host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host.as_str(), |(h, _)| h),
    };
    if name == "localhost" || name.parse::<IpAddr>().is_ok() {
        return Ok(DEMO_TENANT.to_owned());
    }
    let base = base_domain.to_ascii_lowercase();
    match name.strip_suffix(&base).and_then(|s| s.strip_suffix('.')) {
        Some(sub) if !sub.is_empty() && !sub.contains('.') => Ok(sub.to_owned()),
        _ => Err(format!("host {name:?} is not a tenant of {base}")),
    }
}

/// The tenant of this request, active, with its database pool.
#[derive(Clone)]
pub struct TenantCtx {
    pub tenant: Tenant,
    pub pool: PgPool,
}

impl TenantCtx {
    pub fn id(&self) -> &TenantId {
        &self.tenant.id
    }
}

impl FromRequestParts<AppState> for TenantCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if let Some(t) = parts.extensions.get::<TenantCtx>() {
            return Ok(t.clone());
        }
        let host = parts
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or(parts.uri.host())
            .unwrap_or_default();
        let sub = subdomain_of(host, &state.config.base_domain).map_err(ApiError::NotFound)?;
        let anonymous = !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
            && !parts.headers.contains_key("x-api-key");
        let tenant = match state.tenants.get(&state.registry, &sub).await {
            Ok(t) if t.status == "active" => t,
            // To the anonymous, an unknown or suspended tenant answers as an existing one
            // does, so tenant names cannot be enumerated.
            Ok(_) | Err(PgError::UnknownTenant(_)) if anonymous => {
                return Err(anonymous_refusal(parts.uri.path()))
            }
            Ok(t) => return Err(ApiError::Suspended(t.id.to_string())),
            Err(e) => return Err(e.into()),
        };
        state.limiter.check(Bucket::Tenant, &tenant.id)?;
        let pool = state.pools.pool(&tenant.id).await?;
        let ctx = Self { tenant, pool };
        parts.extensions.insert(ctx.clone());
        Ok(ctx)
    }
}

/// What an existing tenant answers an anonymous caller of `path`.
fn anonymous_refusal(path: &str) -> ApiError {
    // Inside the nested /api router the path has lost its prefix.
    if path.ends_with("/auth/login") {
        ApiError::Unauthorized("wrong email or password".into())
    } else {
        ApiError::Unauthorized(super::error::SIGN_IN.into())
    }
}

#[cfg(test)]
mod tests {
    use super::subdomain_of;

    #[test]
    fn hosts_map_to_subdomains() {
        let base = "taskifai.example";
        assert_eq!(subdomain_of("acme.taskifai.example", base).unwrap(), "acme");
        assert_eq!(
            subdomain_of("ACME.taskifai.example:8443", base).unwrap(),
            "acme"
        );
        assert_eq!(subdomain_of("localhost:3000", base).unwrap(), "demo");
        assert_eq!(subdomain_of("127.0.0.1:8080", base).unwrap(), "demo");
        assert_eq!(subdomain_of("[::1]:8080", base).unwrap(), "demo");
    }

    #[test]
    fn foreign_and_nested_hosts_are_refused() {
        let base = "taskifai.example";
        assert!(subdomain_of("evil.com", base).is_err());
        assert!(subdomain_of("a.b.taskifai.example", base).is_err());
        assert!(subdomain_of("taskifai.example", base).is_err());
        assert!(subdomain_of("acmetaskifai.example", base).is_err());
    }
}

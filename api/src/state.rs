//! What every request handler and worker shares, behind one `Arc`.

use crate::config::ServerConfig;
use crate::metrics::Metrics;
use crate::server::ratelimit::Limiter;
use std::sync::Arc;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::postgres::pools::PoolManager;
use taskifai_connectors::postgres::tenants::Registry;
use taskifai_engine::spec::SpecRegistry;

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

pub struct Inner {
    pub config: ServerConfig,
    pub registry: Registry,
    pub pools: PoolManager,
    pub lake: Lake,
    /// The platform's vendor specs, shared by every tenant.
    pub specs: SpecRegistry,
    pub limiter: Limiter,
    pub metrics: Metrics,
    pub tenants: crate::server::tenancy::TenantCache,
}

impl AppState {
    pub fn new(config: ServerConfig, registry: Registry, pools: PoolManager, lake: Lake, specs: SpecRegistry) -> Self {
        let limiter = Limiter::new(&config.rate);
        Self(Arc::new(Inner { config, registry, pools, lake, specs, limiter, metrics: Metrics::default(), tenants: Default::default() }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

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
    pub tenants: crate::server::tenant_cache::TenantCache,
    /// DataFusion tables per tenant snapshot, shared by requests.
    pub query_sessions: taskifai_connectors::query_session::SessionCache,
    /// Runs user SQL apart from the API's threads, a few queries at a time.
    pub queries: crate::query_runner::QueryRunner,
    /// Failed sign-ins per account.
    pub lockout: crate::server::lockout::Lockout,
    /// Chat replies by tenant, lake version, question and context.
    pub chat_cache: crate::chat::cache::ReplyCache,
    /// Analytics answers by tenant, lake version, endpoint, day and query.
    pub analytics_cache: crate::cache::Cache<serde_json::Value>,
    /// The KPIs' reseller ledgers by tenant, lake version, day and a few seconds.
    pub ledger_cache: crate::cache::Cache<Arc<Vec<taskifai_engine::completeness::Ledger>>>,
    /// The chat planner's names and data span per tenant.
    pub chat_knowledge: crate::chat::cache::KnowledgeCache,
    /// The chat's language model, when one is configured.
    pub model: Option<Arc<crate::chat::model::Model>>,
}

impl AppState {
    pub fn new(
        config: ServerConfig,
        registry: Registry,
        pools: PoolManager,
        lake: Lake,
        specs: SpecRegistry,
    ) -> Self {
        let limiter = Limiter::new(&config.rate);
        let config_limits = config.query_limits;
        let config_llm = config.llm.clone();
        let planner = config.query_engine.as_ref().map(|e| e.planner.clone());
        Self(Arc::new(Inner {
            config,
            registry,
            pools,
            lake,
            specs,
            limiter,
            metrics: Metrics::default(),
            tenants: Default::default(),
            query_sessions: taskifai_connectors::query_session::SessionCache::default()
                .with_planner(planner),
            queries: crate::query_runner::QueryRunner::new(config_limits),
            chat_cache: Default::default(),
            analytics_cache: Default::default(),
            ledger_cache: Default::default(),
            chat_knowledge: Default::default(),
            model: config_llm.map(|l| Arc::new(crate::chat::model::Model::new(l))),
            lockout: Default::default(),
        }))
    }
}

impl AppState {
    /// Suspends or resumes a tenant; its pool and cached host lookup go at once.
    pub async fn set_tenant_status(
        &self,
        tenant: &str,
        status: &str,
    ) -> Result<(), taskifai_connectors::postgres::PgError> {
        self.registry.set_status(tenant, status).await?;
        self.pools.forget(tenant);
        self.tenants.forget(tenant);
        // A resumed tenant's schedules are due again now, not at the next hourly reindex.
        if status == "active" {
            let id = taskifai_connectors::TenantId::parse(tenant)?;
            let pool = self.pools.pool(&id).await?;
            crate::schedule::run::index(&self.registry.pool, &pool, &id).await?;
        }
        Ok(())
    }

    /// The specs a tenant's files are read with: the platform's, with the tenant's active
    /// versions in place of the same vendors'. A stored spec that no longer compiles (after an
    /// engine upgrade) is skipped with a warning rather than blocking every upload.
    pub async fn specs_for(&self, tenant: &str, pool: &sqlx::PgPool) -> sqlx::Result<SpecRegistry> {
        let rows: Vec<(String, i32, String)> =
            sqlx::query_as("SELECT vendor, version, body FROM vendor_specs WHERE active")
                .fetch_all(pool)
                .await?;
        let mut own = Vec::new();
        for (vendor, version, body) in rows {
            match taskifai_engine::spec::parse(&format!("{vendor} v{version}"), &body) {
                Ok(s) => own.push(s),
                Err(e) => {
                    tracing::warn!(tenant, vendor, version, error = %e, "A tenant spec does not compile; the platform's is used.")
                }
            }
        }
        Ok(if own.is_empty() {
            self.specs.clone()
        } else {
            self.specs.with_overrides(own)
        })
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

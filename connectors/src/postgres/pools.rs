//! One small pool per active tenant, created on first use, closed when idle, under a global
//! connection budget. Suspended and unknown tenants get an error before any pool is made.

use super::tenants::Registry;
use super::{options_for, PgError};
use crate::tenant_id::TenantId;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Knobs of the pool manager.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub per_tenant: u32,
    pub budget: u32,
    pub idle: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            per_tenant: 4,
            budget: 64,
            idle: Duration::from_secs(300),
        }
    }
}

/// Pools by tenant id.
pub struct PoolManager {
    registry: Registry,
    config: PoolConfig,
    pools: Mutex<HashMap<String, (PgPool, Instant)>>,
    migrated: Mutex<std::collections::HashSet<String>>,
}

impl PoolManager {
    pub fn new(registry: Registry, config: PoolConfig) -> Self {
        Self {
            registry,
            config,
            pools: Mutex::new(HashMap::new()),
            migrated: Mutex::new(Default::default()),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The tenant's pool, if the tenant exists and is active. The tenant's migrations are
    /// applied on first use in this process, so a deploy with new migrations needs no extra step.
    pub async fn pool(&self, tenant: &TenantId) -> Result<PgPool, PgError> {
        let pool = self.open(tenant).await?;
        // Migrating holds a connection: only the first use per process.
        if !self
            .migrated
            .lock()
            .expect("migrated set lock")
            .contains(tenant.as_str())
        {
            super::migrate(&pool, &super::TENANT_MIGRATOR).await?;
            self.migrated
                .lock()
                .expect("migrated set lock")
                .insert(tenant.to_string());
        }
        Ok(pool)
    }

    async fn open(&self, tenant: &TenantId) -> Result<PgPool, PgError> {
        let t = self.registry.get(tenant).await?;
        if t.status != "active" {
            self.forget(tenant);
            return Err(PgError::Suspended(tenant.to_string()));
        }
        let mut pools = self.pools.lock().expect("pool map lock");
        if let Some((pool, used)) = pools.get_mut(tenant.as_str()) {
            *used = Instant::now();
            return Ok(pool.clone());
        }
        let idle = self.config.idle;
        pools.retain(|_, (pool, used)| {
            let keep = used.elapsed() < idle;
            if !keep {
                let pool = pool.clone();
                tokio::spawn(async move { pool.close().await });
            }
            keep
        });
        // At the budget, the least recently used pool with no connection in use makes room: a
        // burst of requests on many tenant hosts (anonymous ones included, whose pools never
        // connect) cannot lock the other tenants out.
        while (pools.len() as u32 + 1) * self.config.per_tenant > self.config.budget {
            let victim = pools
                .iter()
                .filter(|(_, (pool, _))| pool.size() as usize == pool.num_idle())
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| id.clone());
            let Some(victim) = victim else {
                return Err(PgError::ConnectionBudget(self.config.budget));
            };
            if let Some((pool, _)) = pools.remove(&victim) {
                tokio::spawn(async move { pool.close().await });
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(self.config.per_tenant)
            .idle_timeout(idle)
            .connect_lazy_with(options_for(&self.registry.url, &t.database_name)?);
        pools.insert(tenant.to_string(), (pool.clone(), Instant::now()));
        Ok(pool)
    }

    /// Closes a tenant's pool (after suspension or drop).
    pub fn forget(&self, tenant: &str) {
        if let Some((pool, _)) = self.pools.lock().expect("pool map lock").remove(tenant) {
            tokio::spawn(async move { pool.close().await });
        }
    }

    /// Tenants with an open pool.
    pub fn open_tenants(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .pools
            .lock()
            .expect("pool map lock")
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }
}

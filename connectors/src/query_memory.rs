//! Memory limits for queries: each tenant's queries share a budget, and all tenants together
//! share a global one. Operators that can spill (sorts, aggregations) spill to disk when a
//! budget is spent; the others fail the query with a clear error instead of taking the server's
//! memory.

use datafusion::common::{resources_datafusion_err, Result};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The budgets: `global` bytes for all queries at once, `per_tenant` for one tenant's.
#[derive(Debug)]
pub struct MemoryBudgets {
    global: Arc<GreedyMemoryPool>,
    per_tenant: usize,
    tenants: Mutex<HashMap<String, Arc<TenantPool>>>,
}

/// 2 GiB for all queries, 1 GiB for one tenant's.
pub const DEFAULT_GLOBAL_BYTES: usize = 2 << 30;
pub const DEFAULT_TENANT_BYTES: usize = 1 << 30;

impl Default for MemoryBudgets {
    fn default() -> Self {
        Self::new(DEFAULT_GLOBAL_BYTES, DEFAULT_TENANT_BYTES)
    }
}

impl MemoryBudgets {
    pub fn new(global: usize, per_tenant: usize) -> Self {
        Self {
            global: Arc::new(GreedyMemoryPool::new(global)),
            per_tenant: per_tenant.min(global),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// The pool a tenant's queries draw from.
    pub fn pool(&self, tenant: &str) -> Arc<TenantPool> {
        self.tenants
            .lock()
            .expect("memory budgets lock")
            .entry(tenant.to_owned())
            .or_insert_with(|| {
                Arc::new(TenantPool {
                    tenant: tenant.to_owned(),
                    limit: self.per_tenant,
                    used: AtomicUsize::new(0),
                    global: self.global.clone(),
                })
            })
            .clone()
    }
}

/// One tenant's share, drawn from the global pool.
#[derive(Debug)]
pub struct TenantPool {
    tenant: String,
    limit: usize,
    used: AtomicUsize,
    global: Arc<GreedyMemoryPool>,
}

impl std::fmt::Display for TenantPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "tenant {} query memory: {} of {} bytes",
            self.tenant,
            self.reserved(),
            self.limit
        )
    }
}

impl MemoryPool for TenantPool {
    fn name(&self) -> &str {
        "tenant"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.global.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.global.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.global.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.global.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let claimed = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used + additional <= self.limit).then_some(used + additional)
            });
        if claimed.is_err() {
            return Err(resources_datafusion_err!(
                "the query needs more memory than tenant {}'s limit of {} MB allows; narrow it (filters, fewer groups, a LIMIT)",
                self.tenant,
                self.limit >> 20
            ));
        }
        if let Err(e) = self.global.try_grow(reservation, additional) {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(resources_datafusion_err!(
                "the server's query memory is in use by other queries; try again shortly ({e})"
            ));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_stops_at_its_limit_and_all_tenants_at_the_global_one() {
        let budgets = MemoryBudgets::new(250, 200);
        let acme: Arc<dyn MemoryPool> = budgets.pool("acme");
        let globex: Arc<dyn MemoryPool> = budgets.pool("globex");
        let a = MemoryConsumer::new("a").register(&acme);
        let g = MemoryConsumer::new("g").register(&globex);
        a.try_grow(150).unwrap();
        let err = a.try_grow(100).unwrap_err().to_string();
        assert!(err.contains("tenant acme's limit"), "{err}");
        g.try_grow(150).unwrap_err();
        g.try_grow(100).unwrap();
        a.shrink(150);
        g.try_grow(100).unwrap();
        assert_eq!(globex.reserved(), 200);
    }
}

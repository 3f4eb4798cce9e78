//! Registry lookups by subdomain, kept for a few seconds: most requests of a tenant come in
//! bursts, and a registry round trip per request would double their database work.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use taskifai_connectors::postgres::tenants::{Registry, Tenant};
use taskifai_connectors::postgres::PgError;

const CACHE_TTL: Duration = Duration::from_secs(5);

/// Registry lookups by subdomain, kept briefly.
#[derive(Default)]
pub struct TenantCache(Mutex<HashMap<String, (Tenant, Instant)>>);

impl TenantCache {
    pub async fn get(&self, registry: &Registry, subdomain: &str) -> Result<Tenant, PgError> {
        if let Some((t, at)) = self.0.lock().expect("tenant cache lock").get(subdomain) {
            if at.elapsed() < CACHE_TTL {
                return Ok(t.clone());
            }
        }
        let t = registry.by_subdomain(subdomain).await?;
        self.0
            .lock()
            .expect("tenant cache lock")
            .insert(subdomain.to_owned(), (t.clone(), Instant::now()));
        Ok(t)
    }

    /// Drops what is cached for a tenant, so a status change applies to the next request.
    pub fn forget(&self, tenant: &str) {
        self.0
            .lock()
            .expect("tenant cache lock")
            .retain(|_, (t, _)| t.id != tenant);
    }
}

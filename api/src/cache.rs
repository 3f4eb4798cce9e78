//! Answers kept while the data under them is unchanged: keys carry the tenant and its lake
//! version, so a commit makes every older answer of that tenant unreachable and no other
//! tenant's. Bounded; the oldest half goes when it is full.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

const CAPACITY: usize = 2048;

pub struct Cache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
    clock: AtomicU64,
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }
}

/// `tenant`, `lake_version` and the parts, joined with a separator no part holds.
pub fn key(tenant: &str, lake_version: u64, parts: &[&str]) -> String {
    let mut k = format!("{tenant}\u{1f}{lake_version}");
    for p in parts {
        k.push('\u{1f}');
        k.push_str(&p.replace('\u{1f}', ""));
    }
    k
}

impl<V: Clone> Cache<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        self.entries
            .lock()
            .expect("cache lock")
            .get(key)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, value: V) {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= CAPACITY {
            let mut ticks: Vec<u64> = entries.values().map(|(t, _)| *t).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            entries.retain(|_, (t, _)| *t > cut);
        }
        entries.insert(key, (tick, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_lake_version_or_another_tenant_misses() {
        let c = Cache::default();
        c.put(key("demo", 3, &["kpis", "range=last_month"]), 1);
        assert_eq!(
            c.get(&key("demo", 3, &["kpis", "range=last_month"])),
            Some(1)
        );
        assert_eq!(c.get(&key("demo", 4, &["kpis", "range=last_month"])), None);
        assert_eq!(c.get(&key("acme", 3, &["kpis", "range=last_month"])), None);
        // A part cannot forge another key's layout.
        assert_ne!(key("demo", 3, &["a\u{1f}b"]), key("demo", 3, &["a", "b"]));
    }

    #[test]
    fn a_full_cache_drops_its_oldest_half() {
        let c = Cache::default();
        for i in 0..CAPACITY + 1 {
            c.put(format!("k{i}"), i);
        }
        assert_eq!(c.get("k0"), None);
        assert_eq!(c.get(&format!("k{CAPACITY}")), Some(CAPACITY));
    }
}

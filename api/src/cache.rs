//! Answers kept while the data under them is unchanged: keys carry the tenant and its lake
//! version, so a commit makes every older answer of that tenant unreachable and no other
//! tenant's. Bounded; the oldest half goes when it is full. Requests that miss the same key at
//! once share one computation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const CAPACITY: usize = 2048;

pub struct Cache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
    clock: AtomicU64,
    /// Keys being computed, so a second request for one waits for the first.
    inflight: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<V>>>>,
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            inflight: Mutex::new(HashMap::new()),
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

    /// The value of `key`, computed by `compute` unless it is kept or being computed by another
    /// request (then that one's result is shared); `true` when this call did not compute it.
    pub async fn get_or_compute<E, F>(&self, key: String, compute: F) -> Result<(V, bool), E>
    where
        F: std::future::Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.get(&key) {
            return Ok((v, true));
        }
        let cell = self
            .inflight
            .lock()
            .expect("cache lock")
            .entry(key.clone())
            .or_default()
            .clone();
        let ran = std::sync::atomic::AtomicBool::new(false);
        let result = cell
            .get_or_try_init(|| {
                ran.store(true, Ordering::Relaxed);
                compute
            })
            .await
            .cloned();
        let ran = ran.into_inner();
        if ran {
            if let Ok(v) = &result {
                self.put(key.clone(), v.clone());
            }
            let mut inflight = self.inflight.lock().expect("cache lock");
            if inflight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                inflight.remove(&key);
            }
        }
        result.map(|v| (v, !ran))
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_of_a_key_share_one_computation() {
        let c = Arc::new(Cache::<u32>::default());
        let runs = Arc::new(AtomicU64::new(0));
        let calls = (0..8).map(|_| {
            let (c, runs) = (c.clone(), runs.clone());
            tokio::spawn(async move {
                c.get_or_compute("k".into(), async {
                    runs.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok::<_, ()>(7)
                })
                .await
            })
        });
        let results = futures::future::join_all(calls).await;
        assert!(results.iter().all(|r| matches!(r, Ok(Ok((7, _))))));
        assert_eq!(runs.load(Ordering::Relaxed), 1, "computed once");
        let computed = results
            .iter()
            .filter(|r| matches!(r, Ok(Ok((_, false)))))
            .count();
        assert_eq!(computed, 1);
        // A failed computation is not kept: the next call computes again.
        let failed = c
            .get_or_compute("e".into(), async { Err::<u32, _>("down") })
            .await;
        assert_eq!(failed, Err("down"));
        assert_eq!(
            c.get_or_compute("e".into(), async { Ok::<_, &str>(1) })
                .await,
            Ok((1, false))
        );
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

//! Replies to questions already answered on the same data: keyed by tenant, lake version (a new
//! load changes it), the question's words and the conversation's last interpretation, so a
//! repeated question costs no query. Bounded; the oldest half goes when it is full.

use super::Reply;
use std::collections::HashMap;
use std::sync::Mutex;

const CAPACITY: usize = 2048;

#[derive(Default)]
pub struct ReplyCache {
    entries: Mutex<HashMap<String, (u64, Reply)>>,
    clock: std::sync::atomic::AtomicU64,
}

impl ReplyCache {
    pub fn key(tenant: &str, lake_version: u64, question: &str, previous: Option<&str>) -> String {
        let words = taskifai_engine::chat::words::normalize(question);
        format!(
            "{tenant}\u{1f}{lake_version}\u{1f}{words}\u{1f}{}",
            previous.unwrap_or("")
        )
    }

    pub fn get(&self, key: &str) -> Option<Reply> {
        self.entries
            .lock()
            .expect("chat cache lock")
            .get(key)
            .map(|(_, r)| r.clone())
    }

    pub fn put(&self, key: String, reply: Reply) {
        let tick = self
            .clock
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut entries = self.entries.lock().expect("chat cache lock");
        if entries.len() >= CAPACITY {
            let mut ticks: Vec<u64> = entries.values().map(|(t, _)| *t).collect();
            ticks.sort_unstable();
            let cut = ticks[ticks.len() / 2];
            entries.retain(|_, (t, _)| *t > cut);
        }
        entries.insert(key, (tick, reply));
    }
}

/// What the planner knows of each tenant, kept while the lake version is unchanged (and for a
/// minute at most, so edits to the reference table show up): reading it is five queries.
#[derive(Default)]
pub struct KnowledgeCache {
    entries: Mutex<HashMap<String, Known>>,
}

/// A tenant's knowledge: the lake version it was read at, when, and what.
type Known = (u64, std::time::Instant, std::sync::Arc<super::Knowledge>);

const KNOWLEDGE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl KnowledgeCache {
    pub fn get(&self, tenant: &str, lake_version: u64) -> Option<std::sync::Arc<super::Knowledge>> {
        let entries = self.entries.lock().expect("knowledge cache lock");
        entries
            .get(tenant)
            .filter(|(v, at, _)| *v == lake_version && at.elapsed() < KNOWLEDGE_TTL)
            .map(|(_, _, k)| k.clone())
    }

    pub fn put(
        &self,
        tenant: &str,
        lake_version: u64,
        knowledge: std::sync::Arc<super::Knowledge>,
    ) {
        self.entries.lock().expect("knowledge cache lock").insert(
            tenant.to_owned(),
            (lake_version, std::time::Instant::now(), knowledge),
        );
    }
}

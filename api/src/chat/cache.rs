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

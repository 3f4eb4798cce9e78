//! Replies to questions already answered on the same data ([`crate::cache::Cache`]): keyed by
//! tenant, lake version (a new load changes it), the question's words and the conversation's
//! last interpretation, so a repeated question costs no query.

use super::Reply;
use std::collections::HashMap;
use std::sync::Mutex;

pub type ReplyCache = crate::cache::Cache<Reply>;

/// The key of a question in its conversation.
pub fn reply_key(
    tenant: &str,
    lake_version: u64,
    question: &str,
    previous: Option<&str>,
) -> String {
    let words = taskifai_engine::chat::words::normalize(question);
    crate::cache::key(tenant, lake_version, &[&words, previous.unwrap_or("")])
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

//! Time travel: a tenant's lake as it was at an earlier version or moment. The tenant's version
//! counts the commits of all its tables; replaying the tables' Delta logs in commit-time order
//! (each table's entries in their own order) gives the state after any of them.

use super::{delta, Lake, LakeError, Snapshot};
use crate::tenant_id::TenantId;
use chrono::{DateTime, NaiveDate, Utc};
use object_store::ObjectStoreExt;
use std::collections::VecDeque;

/// Which state of the lake to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// After the tenant's first `n` commits ([`Snapshot::version`] of that moment).
    Version(u64),
    /// The last state committed at or before this moment.
    Time(DateTime<Utc>),
}

impl std::str::FromStr for AsOf {
    type Err = String;

    /// `42`, `2025-06-30T12:00:00Z` (RFC 3339) or `2025-06-30` (the end of that day, UTC).
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(v) = s.parse() {
            return Ok(Self::Version(v));
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Self::Time(t.with_timezone(&Utc)));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let end = d.and_hms_milli_opt(23, 59, 59, 999).expect("valid time");
            return Ok(Self::Time(end.and_utc()));
        }
        Err(format!(
            "as of {s:?}: expected a version number, an RFC 3339 time (2025-06-30T12:00:00Z) or a date (2025-06-30)"
        ))
    }
}

/// One log entry not yet applied.
struct Entry {
    at: i64,
    bytes: Vec<u8>,
    path: String,
}

impl Lake {
    /// The tenant's lake as of `as_of`. Files removed since then are read only while a vacuum
    /// has not deleted them ([`Lake::vacuum`]'s retention).
    pub async fn snapshot_as_of(
        &self,
        tenant: &TenantId,
        as_of: AsOf,
    ) -> Result<Snapshot, LakeError> {
        let latest = self.snapshot(tenant).await?;
        if let AsOf::Version(v) = as_of {
            if v > latest.version {
                return Err(LakeError::NoSuchVersion {
                    asked: v,
                    latest: latest.version,
                });
            }
        }
        let mut logs: Vec<(&str, VecDeque<Entry>)> = Vec::new();
        for (table, _) in delta::tables() {
            let root = delta::table_root(tenant, table);
            let mut entries = VecDeque::new();
            for version in 0..latest.tables.get(table).copied().unwrap_or(0) {
                let path = delta::log_path(&root, version);
                let bytes = self.store.get(&path).await?.bytes().await?.to_vec();
                let at = delta::commit_time(&bytes).unwrap_or_default();
                entries.push_back(Entry {
                    at,
                    bytes,
                    path: path.to_string(),
                });
            }
            logs.push((table, entries));
        }
        let mut snap = Snapshot::default();
        // The earliest next entry of any table; a table's own entries keep their order.
        while let Some((i, at)) = logs
            .iter()
            .enumerate()
            .filter_map(|(i, (_, q))| q.front().map(|e| (i, e.at)))
            .min_by_key(|&(i, at)| (at, i))
        {
            let done = match as_of {
                AsOf::Version(v) => snap.version >= v,
                AsOf::Time(t) => at > t.timestamp_millis(),
            };
            if done {
                break;
            }
            let (table, queue) = &mut logs[i];
            let e = queue.pop_front().expect("an entry was found");
            delta::apply(&mut snap, tenant, table, &e.bytes, &e.path)?;
            *snap.tables.entry(table.to_string()).or_default() += 1;
            snap.version += 1;
            snap.committed(Some(e.at));
        }
        Ok(snap)
    }
}

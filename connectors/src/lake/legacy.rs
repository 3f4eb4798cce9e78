//! The lake's commit log before Delta Lake (`tenant=<t>/_log/<version>.json`, one log for all
//! tables), read only to convert a tenant's lake to Delta tables ([`migrate`]). Once converted,
//! the old log is never read again; `_log/_migrated` records that it was.

use super::{BatchMeta, Commit, DataFile, Lake, LakeError, Snapshot};
use crate::tenant_id::TenantId;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use taskifai_engine::schema;

fn entry(tenant: &TenantId, version: u64) -> StorePath {
    StorePath::from(format!("{}/_log/{version:020}.json", tenant.lake_prefix()))
}

fn marker(tenant: &TenantId) -> StorePath {
    StorePath::from(format!("{}/_log/_migrated", tenant.lake_prefix()))
}

async fn found(store: &dyn ObjectStore, path: &StorePath) -> Result<bool, LakeError> {
    match store.head(path).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether the tenant has an old log that was not converted.
pub async fn pending(store: &dyn ObjectStore, tenant: &TenantId) -> Result<bool, LakeError> {
    Ok(found(store, &entry(tenant, 1)).await? && !found(store, &marker(tenant)).await?)
}

/// The live batches the old log describes.
pub async fn replay(store: &dyn ObjectStore, tenant: &TenantId) -> Result<Snapshot, LakeError> {
    let mut snap = Snapshot::default();
    loop {
        let path = entry(tenant, snap.version + 1);
        let bytes = match store.get(&path).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        };
        let commit: Commit = serde_json::from_slice(&bytes).map_err(|e| LakeError::Log {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        for id in &commit.remove {
            snap.batches.remove(id);
        }
        if let Some((meta, files)) = commit.add {
            snap.batches.insert(meta.batch_id.clone(), (meta, files));
        }
        snap.version = commit.version;
        snap.committed_at = commit.committed_at;
    }
    Ok(snap)
}

/// What [`migrate`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Batches committed to the Delta tables.
    pub batches: usize,
    /// Data files referenced as they are.
    pub kept: usize,
    /// Data files rewritten: the oldest format stored the per-file columns in every row, which
    /// a Delta table keeps as partition values only.
    pub rewritten: usize,
    /// Batches already converted by an earlier, interrupted run.
    pub skipped: usize,
}

/// Converts the tenant's old log into Delta tables: each live batch becomes one Delta commit
/// referencing its files, rewritten only where they store per-file columns. Safe to run again
/// after an interruption: converted batches are skipped, and the old log stays readable until
/// the last batch is in. Nothing to do for a lake without an old log, or one converted already.
pub async fn migrate(lake: &Lake, tenant: &TenantId) -> Result<Migrated, LakeError> {
    if !pending(lake.store.as_ref(), tenant).await? {
        return Ok(Migrated::default());
    }
    let old = replay(lake.store.as_ref(), tenant).await?;
    let mut done = Migrated::default();
    let present = lake.read(tenant, true).await?;
    for (meta, files) in old.batches.into_values() {
        if present.batches.contains_key(&meta.batch_id) {
            done.skipped += 1;
            continue;
        }
        let files = if files.iter().all(|f| !f.constants.is_empty()) {
            done.kept += files.len();
            files
                .into_iter()
                .map(|f| DataFile {
                    stats: Some(serde_json::json!({ "numRecords": f.rows }).to_string()),
                    ..f
                })
                .collect()
        } else {
            done.rewritten += files.len();
            rewrite(lake, tenant, &meta, &files).await?
        };
        let table = meta.table.clone();
        lake.commit_with(tenant, &table, true, |_| {
            Ok(Commit {
                add: Some((meta.clone(), files.clone())),
                ..Default::default()
            })
        })
        .await?;
        done.batches += 1;
    }
    lake.store
        .put(
            &marker(tenant),
            PutPayload::from_static(b"converted to Delta Lake\n"),
        )
        .await?;
    Ok(done)
}

/// Writes a batch's files again without the per-file columns, under new names.
async fn rewrite(
    lake: &Lake,
    tenant: &TenantId,
    meta: &BatchMeta,
    files: &[DataFile],
) -> Result<Vec<DataFile>, LakeError> {
    let target = super::delta::target(&meta.table)
        .ok_or_else(|| LakeError::Delta(format!("no table {}", meta.table)))?;
    let schema = schema::schema(target);
    let partitions = super::delta::per_file_columns(&meta.table)
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let mut staged = lake.begin_with(tenant, meta.clone(), schema.clone(), partitions);
    staged.name = "migrated";
    for f in files {
        for batch in lake.read_file(f, &schema).await? {
            staged.write(&batch).await?;
        }
    }
    staged.close().await?;
    Ok(std::mem::take(&mut staged.files))
}

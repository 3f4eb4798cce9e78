//! Delta checkpoints, written by delta-rs: a Parquet summary of a table's log every
//! [`EVERY`] commits, so other readers need not replay the whole log. TaskifAI's own reader
//! replays the JSON entries, which the table keeps (`delta.enableExpiredLogCleanup` is off).

use super::{delta, Lake, LakeError};
use crate::tenant_id::TenantId;
use deltalake::logstore::{
    default_logstore, logstore_factories, LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableBuilder};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use std::sync::Arc;

/// Commits between checkpoints (Spark's default interval).
pub const EVERY: u64 = 10;

/// delta-rs's plain log store for a bucket whose store the lake already built: delta-rs knows
/// `s3://`, `gs://` and `az://` only through its cloud features, which would bring each
/// provider's SDK for what the lake's object_store already does.
struct GivenStore;

impl LogStoreFactory for GivenStore {
    fn with_options(
        &self,
        prefixed_store: ObjectStoreRef,
        root_store: ObjectStoreRef,
        location: &url::Url,
        options: &StorageConfig,
    ) -> DeltaResult<Arc<dyn LogStore>> {
        Ok(default_logstore(
            prefixed_store,
            root_store,
            location,
            options,
        ))
    }
}

/// Writes a checkpoint of `table` at its latest version.
pub async fn write(lake: &Lake, tenant: &TenantId, table: &str) -> Result<(), LakeError> {
    let scheme = format!("{}://", lake.url().scheme());
    if let Ok(scheme) = url::Url::parse(&scheme) {
        let factories = logstore_factories();
        if !factories.contains_key(&scheme) {
            factories.insert(scheme, Arc::new(GivenStore));
        }
    }
    let err = |e: deltalake::DeltaTableError| LakeError::Delta(e.to_string());
    let location = lake
        .url()
        .join(&format!("{}/", delta::table_root(tenant, table)))
        .map_err(|e| LakeError::Delta(e.to_string()))?;
    // delta-rs addresses objects from the store's root: the bucket, or the file system's.
    let root: Arc<dyn ObjectStore> = match lake.root_store() {
        Some(bucket) => bucket,
        None => Arc::new(LocalFileSystem::new()),
    };
    let loaded = DeltaTableBuilder::from_url(location)
        .map_err(err)?
        .with_storage_backend(root, lake.url().clone())
        .load()
        .await
        .map_err(err)?;
    deltalake::checkpoints::create_checkpoint(&loaded, None)
        .await
        .map_err(err)
}

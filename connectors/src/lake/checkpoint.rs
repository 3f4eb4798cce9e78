//! Delta checkpoints, written by delta-rs: a Parquet summary of a table's log every
//! [`EVERY`] commits, so readers need not replay the whole log: TaskifAI's own reader starts a
//! table from its latest checkpoint ([`latest`]) and replays the JSON entries after it. Time
//! travel replays the JSON entries from the first, which the table keeps
//! (`delta.enableExpiredLogCleanup` is off).

use super::{delta, Lake, LakeError};
use crate::tenant_id::TenantId;
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::ProjectionMask;
use deltalake::logstore::{
    default_logstore, logstore_factories, LogStore, LogStoreFactory, ObjectStoreRef, StorageConfig,
};
use deltalake::{DeltaResult, DeltaTableBuilder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;
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

/// The table's latest checkpoint as log lines (one action per line, as in a JSON entry), with
/// the version it sums up; `None` when the table has none TaskifAI can read (a multi-part
/// checkpoint is replayed from the JSON entries instead).
pub async fn latest(
    store: &dyn ObjectStore,
    root: &str,
) -> Result<Option<(u64, Vec<u8>)>, LakeError> {
    let bad = |path: &str, message: String| LakeError::Log {
        path: path.to_owned(),
        message,
    };
    let pointer = format!("{root}/_delta_log/_last_checkpoint");
    let last = match store.get(&StorePath::from(pointer.as_str())).await {
        Ok(r) => r.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let last: Value = serde_json::from_slice(&last).map_err(|e| bad(&pointer, e.to_string()))?;
    let Some(version) = last.get("version").and_then(Value::as_u64) else {
        return Ok(None);
    };
    if last.get("parts").is_some_and(|p| !p.is_null()) {
        return Ok(None);
    }
    let path = format!("{root}/_delta_log/{version:020}.checkpoint.parquet");
    let bytes = store
        .get(&StorePath::from(path.as_str()))
        .await?
        .bytes()
        .await?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    // The files (adds live, removes as tombstones for the vacuum's retention) and the metadata,
    // whose partition columns say which columns the files store.
    let roots: Vec<usize> = ["add", "remove", "metaData"]
        .iter()
        .filter_map(|c| builder.schema().index_of(c).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let mut lines = Vec::new();
    let mut w = LineDelimitedWriter::new(&mut lines);
    for batch in builder.with_projection(mask).build()? {
        w.write(&batch?)?;
    }
    w.finish()?;
    Ok(Some((version, lines)))
}

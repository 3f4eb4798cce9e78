//! A DataFusion session over one tenant's lake: the canonical tables, read from the files the
//! commit log lists, and nothing else. Other tenants' data is not reachable from it because it
//! is never registered; the session has no file-reading functions or URL tables.

use crate::lake::{Lake, LakeError};
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;
use taskifai_engine::schema;
use taskifai_engine::spec::Target;

/// Builds the tenant's session from the current snapshot.
pub async fn tenant_session(lake: &Lake, tenant: &str) -> Result<SessionContext, LakeError> {
    let config = SessionConfig::new().with_information_schema(false).with_default_catalog_and_schema("datafusion", "public");
    let ctx = SessionContext::new_with_config(config);
    // Local lakes use DataFusion's own file store (absolute paths); a prefixed store registered
    // for `file://` would prefix the lake root twice.
    if lake.url().scheme() != "file" {
        ctx.register_object_store(lake.url(), lake.store());
    }
    let snap = lake.snapshot(tenant).await?;
    for target in [Target::Sellout, Target::Orders] {
        let name = schema::table_name(target);
        let table_schema = schema::schema(target);
        let files = snap.files(name);
        let register = if files.is_empty() {
            ctx.register_table(name, Arc::new(MemTable::try_new(table_schema, vec![vec![]]).map_err(df)?))
        } else {
            let urls = files
                .iter()
                .map(|f| ListingTableUrl::parse(lake.url().join(&f.path).map_err(|e| df_msg(e.to_string()))?.as_str()).map_err(df))
                .collect::<Result<Vec<_>, _>>()?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls).with_listing_options(options).with_schema(table_schema);
            ctx.register_table(name, Arc::new(ListingTable::try_new(config).map_err(df)?))
        };
        register.map_err(df)?;
    }
    Ok(ctx)
}

fn df(e: datafusion::error::DataFusionError) -> LakeError {
    df_msg(e.to_string())
}

fn df_msg(message: String) -> LakeError {
    LakeError::Location { location: "session".into(), message }
}

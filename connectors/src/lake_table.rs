//! A lake table for DataFusion: the Parquet files a snapshot lists, with the columns a file does
//! not store (its per-file constants, recorded in the Delta log as partition values) supplied as partition values.
//! A filter on year, month or batch skips whole files before any is opened, as Hive partitions
//! would, without trusting folder listings (the log decides which files exist).

use crate::lake::{constant_value, DataFile, Lake, LakeError};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{FieldRef, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{
    internal_datafusion_err, project_schema, DFSchema, Result as DfResult, Statistics,
};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{helpers, ListingTableUrl, PartitionedFile};
use datafusion::datasource::object_store::ObjectStoreUrl;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::ExecutionPlan;
use object_store::path::Path as StorePath;
use object_store::ObjectStoreExt;
use std::sync::Arc;

/// Files that store the same columns, scanned by one Parquet source.
#[derive(Debug)]
struct Group {
    file_schema: SchemaRef,
    /// The table's columns these files do not store, in partition-value order.
    constants: Vec<FieldRef>,
    files: Vec<PartitionedFile>,
}

/// One canonical table of a snapshot.
#[derive(Debug)]
pub struct LakeTable {
    schema: SchemaRef,
    store_url: ObjectStoreUrl,
    groups: Vec<Group>,
}

impl LakeTable {
    /// The table over `files`, whose columns are `schema`'s, stored or recorded per file.
    pub async fn new(
        lake: &Lake,
        schema: SchemaRef,
        files: &[&DataFile],
    ) -> Result<Self, LakeError> {
        let bad = |message: String| LakeError::Location {
            location: lake.location().to_owned(),
            message,
        };
        let store_url = ListingTableUrl::parse(lake.url().as_str())
            .map_err(|e| bad(e.to_string()))?
            .object_store();
        let mut groups: Vec<Group> = Vec::new();
        for f in files {
            let joined = lake.url().join(&f.path).map_err(|e| bad(e.to_string()))?;
            let url = ListingTableUrl::parse(joined.as_str()).map_err(|e| bad(e.to_string()))?;
            let size = match f.bytes {
                Some(b) => b,
                None => {
                    lake.store()
                        .head(&StorePath::from(f.path.as_str()))
                        .await?
                        .size
                }
            };
            let (stored, constants): (Vec<FieldRef>, Vec<FieldRef>) = schema
                .fields()
                .iter()
                .cloned()
                .partition(|c| !f.constants.contains_key(c.name()));
            let values = constants
                .iter()
                .map(|c| constant_value(f, c))
                .collect::<Result<Vec<_>, _>>()?;
            // The log knows each file's row count: counts need not open the files.
            let rows = Statistics::new_unknown(&Schema::new(stored.clone()))
                .with_num_rows(Precision::Exact(f.rows as usize));
            let file = PartitionedFile::new(url.prefix().to_string(), size)
                .with_partition_values(values)
                .with_statistics(Arc::new(rows));
            match groups.iter_mut().find(|g| g.constants == constants) {
                Some(g) => g.files.push(file),
                None => groups.push(Group {
                    file_schema: Arc::new(Schema::new(stored)),
                    constants,
                    files: vec![file],
                }),
            }
        }
        Ok(Self {
            schema,
            store_url,
            groups,
        })
    }

    async fn scan_group(
        &self,
        g: &Group,
        state: &dyn Session,
        wanted: &[usize],
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        let names: Vec<&str> = g.constants.iter().map(|f| f.name().as_str()).collect();
        let files = if names.is_empty() {
            g.files.clone()
        } else {
            let pruning: Vec<Expr> = filters
                .iter()
                .filter(|e| helpers::expr_applicable_for_cols(&names, e))
                .cloned()
                .collect();
            let values_schema = DFSchema::try_from(Schema::new(g.constants.clone()))?;
            let mut kept = Vec::new();
            for f in &g.files {
                kept.extend(helpers::filter_partitioned_file(
                    f.clone(),
                    &pruning,
                    &values_schema,
                )?);
            }
            kept
        };
        if files.is_empty() {
            return Ok(None);
        }
        // The scan's columns are the stored ones followed by the per-file ones.
        let stored = g.file_schema.fields().len();
        let indices = wanted
            .iter()
            .map(|&i| {
                let name = self.schema.field(i).name();
                g.file_schema
                    .index_of(name)
                    .ok()
                    .or_else(|| names.iter().position(|n| n == name).map(|p| stored + p))
                    .ok_or_else(|| internal_datafusion_err!("lake file group has no column {name}"))
            })
            .collect::<DfResult<Vec<_>>>()?;
        let format = ParquetFormat::default().with_options(state.table_options().parquet.clone());
        let table_schema = TableSchema::builder(g.file_schema.clone())
            .with_table_partition_cols(g.constants.clone())
            .build();
        let statistics = Statistics::new_unknown(table_schema.table_schema()).with_num_rows(
            files
                .iter()
                .map(|f| {
                    f.statistics
                        .as_ref()
                        .map_or(Precision::Absent, |s| s.num_rows)
                })
                .fold(Precision::Exact(0), |a, b| a.add(&b)),
        );
        let source = format.file_source(table_schema);
        let partitions = state.config().target_partitions().max(1);
        let config = FileScanConfigBuilder::new(self.store_url.clone(), source)
            .with_statistics(statistics)
            .with_file_groups(FileGroup::new(files).split_files(partitions))
            .with_projection_indices(Some(indices))?
            .with_limit(limit)
            .build();
        // The format's plan reads footers through the runtime's metadata cache: without it every
        // query re-read the footer of every file it scans.
        Ok(Some(format.create_physical_plan(state, config).await?))
    }
}

#[async_trait]
impl TableProvider for LakeTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let wanted: Vec<usize> = projection
            .cloned()
            .unwrap_or_else(|| (0..self.schema.fields().len()).collect());
        let mut plans = Vec::new();
        for g in &self.groups {
            plans.extend(self.scan_group(g, state, &wanted, filters, limit).await?);
        }
        if plans.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        UnionExec::try_new(plans)
    }

    /// Filters prune files by their per-file values here and row groups by statistics in the
    /// scan; DataFusion still applies every filter to the rows.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }
}

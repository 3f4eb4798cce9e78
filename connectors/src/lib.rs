//! TaskifAI's connectors: the file readers ([`readers`]), the load of one file ([`ingest`]) and
//! its [`error_report`], the Parquet lake on object storage ([`lake`], read by DataFusion
//! through [`lake_table`] and [`query_session`]), the tenant's reference tables
//! ([`reference`]) and PostgreSQL ([`postgres`]: tenants, pools, COPY, upload batches).

pub mod catalog;
pub mod day_table;
pub mod error_report;
pub mod fx;
pub mod ingest;
pub mod lake;
pub mod lake_table;
pub mod postgres;
pub mod query_memory;
pub mod query_session;
pub mod readers;
pub mod reference;
pub mod rollup;
pub mod tenant_id;

pub use tenant_id::TenantId;

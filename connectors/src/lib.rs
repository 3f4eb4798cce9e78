//! TaskifAI's connectors: the file readers ([`readers`]), the tenant's reference tables
//! ([`reference`]) and the Parquet lake on object storage ([`lake`]).

pub mod error_report;
pub mod ingest;
pub mod lake;
pub mod lake_table;
pub mod postgres;
pub mod readers;
pub mod reference;
pub mod session;

//! PostgreSQL: the registry of tenants, one database per tenant, a pool per active tenant, and
//! the loader that copies normalized batches in with binary COPY.
//!
//! A demo deployment runs in one database: the registry's own database doubles as the `demo`
//! tenant's. Migration versions of the two sets never collide (registry 1-99, tenant 100+), and
//! each migrator ignores the other's versions, so both can live in one database.

pub mod batches;
pub mod catalog;
pub mod copy;
pub mod load;
pub mod pools;
pub mod tenants;
pub mod unmapped;

use sqlx::migrate::Migrator;
use sqlx::postgres::PgConnectOptions;
use std::str::FromStr;

/// Migrations of the registry database.
pub static REGISTRY_MIGRATOR: Migrator = sqlx::migrate!("../migrations/registry");
/// Migrations of every tenant database.
pub static TENANT_MIGRATOR: Migrator = sqlx::migrate!("../migrations/tenant");

/// The tenant that lives in the registry's own database.
pub use crate::tenant_id::DEMO_TENANT;

/// What went wrong with PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("tenant {0:?} does not exist")]
    UnknownTenant(String),
    #[error("tenant {0:?} is suspended")]
    Suspended(String),
    #[error("tenant {0:?} already exists")]
    TenantExists(String),
    #[error(transparent)]
    InvalidTenantId(#[from] crate::tenant_id::InvalidTenantId),
    #[error("the connection budget of {0} is used by active tenants; try again when one is idle")]
    ConnectionBudget(u32),
    #[error("database error")]
    Db(#[from] sqlx::Error),
    #[error("migrating")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("encoding rows for COPY: {0}")]
    Encode(String),
    #[error("the COPY task stopped")]
    CopyTask(#[source] tokio::task::JoinError),
    #[error("the COPY ended early")]
    CopyEnded,
    #[error("the load has already ended")]
    Ended,
    #[error("building the error report rows")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("writing {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("reference table: {0}")]
    Reference(String),
    #[error("lake")]
    Lake(#[from] crate::lake::LakeError),
}

/// Migrates a database with a migrator that tolerates the other migrator's versions.
pub async fn migrate(pool: &sqlx::PgPool, migrator: &'static Migrator) -> Result<(), PgError> {
    let m = Migrator {
        migrations: migrator.migrations.clone(),
        ignore_missing: true,
        locking: migrator.locking,
        no_tx: migrator.no_tx,
    };
    m.run(pool).await?;
    Ok(())
}

/// Connection options for another database on the same server as `base`.
pub fn options_for(base: &str, database: &str) -> Result<PgConnectOptions, PgError> {
    Ok(PgConnectOptions::from_str(base)?.database(database))
}

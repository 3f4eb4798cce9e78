//! `taskifai migrate` and `taskifai tenant ...`, and the database side of `ingest`.

use super::{Cli, TenantCommand};
use anyhow::Context;
use std::process::ExitCode;
use taskifai_connectors::postgres::pools::{PoolConfig, PoolManager};
use taskifai_connectors::postgres::{catalog::seed_reference, tenants::Registry};
use taskifai_connectors::TenantId;

/// Prefix of tenant database names.
pub const DB_PREFIX: &str = "taskifai_tenant_";

pub async fn registry(cli: &Cli) -> anyhow::Result<Registry> {
    let url = cli
        .database_url
        .as_deref()
        .context("no database: set DATABASE_URL or pass --database-url")?;
    Registry::open(url, DB_PREFIX)
        .await
        .context("opening the registry database")
}

/// The tenant's pool when a database is configured.
pub async fn tenant_pool(cli: &Cli, tenant: &TenantId) -> anyhow::Result<Option<sqlx::PgPool>> {
    if cli.database_url.is_none() {
        return Ok(None);
    }
    let manager = PoolManager::new(registry(cli).await?, PoolConfig::default());
    Ok(Some(manager.pool(tenant).await?))
}

pub async fn migrate(cli: &Cli) -> anyhow::Result<ExitCode> {
    let r = registry(cli).await?;
    let tenants = r.list().await?;
    let manager = PoolManager::new(r, PoolConfig::default());
    for t in &tenants {
        let pool = match manager.pool(&t.id).await {
            Ok(p) => p,
            Err(e) => {
                println!("skipped {}: {e}", t.id);
                continue;
            }
        };
        taskifai_connectors::postgres::migrate(
            &pool,
            &taskifai_connectors::postgres::TENANT_MIGRATOR,
        )
        .await?;
        println!("migrated {}", t.id);
    }
    println!("migrated the registry and the demo tenant");
    Ok(ExitCode::SUCCESS)
}

pub async fn tenant(cli: &Cli, command: &TenantCommand) -> anyhow::Result<ExitCode> {
    let r = registry(cli).await?;
    match command {
        TenantCommand::Create {
            id,
            name,
            seed_demo,
        } => {
            let t = r.create(id, name.as_deref().unwrap_or(id)).await?;
            if *seed_demo {
                let pool = PoolManager::new(r.clone(), PoolConfig::default())
                    .pool(id)
                    .await?;
                seed_reference(&pool, &cli.reference).await?;
            }
            println!(
                "created tenant {} (database {}, subdomain {})",
                t.id, t.database_name, t.subdomain
            );
        }
        TenantCommand::List => {
            println!(
                "{:<20} {:<20} {:<10} {:<32} name",
                "id", "subdomain", "status", "database"
            );
            for t in r.list().await? {
                println!(
                    "{:<20} {:<20} {:<10} {:<32} {}",
                    t.id, t.subdomain, t.status, t.database_name, t.display_name
                );
            }
        }
        TenantCommand::Suspend { id } => {
            r.set_status(id, "suspended").await?;
            println!("suspended {id}");
        }
        TenantCommand::Resume { id } => {
            r.set_status(id, "active").await?;
            println!("resumed {id}");
        }
        TenantCommand::Drop {
            id,
            force,
            export_dir,
        } => {
            let exported = r
                .drop_tenant(
                    id,
                    if *force {
                        None
                    } else {
                        Some(export_dir.as_path())
                    },
                )
                .await?;
            match exported {
                Some(dir) => println!(
                    "exported {id} to {} and dropped its database; its lake is kept",
                    dir.display()
                ),
                None => println!("dropped {id} without export; its lake is kept"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `taskifai completeness`: a line per reseller.
pub async fn completeness(
    cli: &Cli,
    tenant: &TenantId,
    as_of: Option<chrono::NaiveDate>,
) -> anyhow::Result<ExitCode> {
    let pool = tenant_pool(cli, tenant).await?.context(
        "uploads are recorded in the tenant's database: set DATABASE_URL or pass --database-url",
    )?;
    let received = taskifai_connectors::postgres::batches::received(&pool).await?;
    let today = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    println!(
        "{:<14} {:<7} {:<10} {:>8} {:>8} {:>5}  missing",
        "vendor", "cadence", "status", "expected", "received", "late"
    );
    for l in taskifai_engine::completeness::ledgers(&received, today) {
        let missing: Vec<&str> = l.missing.iter().map(|m| m.period.as_str()).collect();
        println!(
            "{:<14} {:<7} {:<10} {:>8} {:>8} {:>5}  {}",
            l.vendor,
            l.cadence,
            l.status,
            l.expected,
            l.received,
            l.late_files,
            missing.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

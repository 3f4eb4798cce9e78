//! `taskifai catalog import|export --tenant T KIND FILE`: a tenant's reference data as files.

use super::Cli;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use taskifai_connectors::catalog::{self, Kind};
use taskifai_connectors::postgres::catalog as db;
use taskifai_connectors::TenantId;

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Check every row of a CSV or XLSX file and import all of them, or none when any is wrong.
    Import {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        /// Also change rows whose key (EAN, mapping, price list and EAN, currency and month) is
        /// in the catalog already; without it they are errors.
        #[arg(long)]
        upsert: bool,
        /// products, vendor_products, prices or fx_rates.
        #[arg(value_parser = kind)]
        kind: Kind,
        file: PathBuf,
    },
    /// Write one kind as CSV in the format `import` reads (to standard output without a file).
    Export {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        #[arg(value_parser = kind)]
        kind: Kind,
        file: Option<PathBuf>,
    },
}

fn kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("expected one of {}", all.join(", "))
    })
}

pub async fn run(cli: &Cli, command: &CatalogCommand) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Import {
            tenant,
            upsert,
            kind,
            file,
        } => {
            let name = file.display().to_string();
            let parsed = match catalog::read(*kind, file, &name) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let pool = pool(cli, tenant).await?;
            match db::import(&pool, &parsed, *upsert).await {
                Ok(done) => {
                    println!(
                        "{name}: {} {} inserted, {} updated",
                        done.inserted, done.kind, done.updated
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e @ catalog::CatalogError::Db(_)) => Err(e.into()),
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        CatalogCommand::Export { tenant, kind, file } => {
            let csv = db::export(&pool(cli, tenant).await?, *kind).await?;
            match file {
                Some(f) => {
                    std::fs::write(f, csv).with_context(|| format!("writing {}", f.display()))?
                }
                None => print!("{csv}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn pool(cli: &Cli, tenant: &TenantId) -> anyhow::Result<sqlx::PgPool> {
    super::db::tenant_pool(cli, tenant).await?.context(
        "the catalog lives in the tenant's database: set DATABASE_URL or pass --database-url",
    )
}

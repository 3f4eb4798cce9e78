//! `taskifai fx monthly|import`: the ECB's euro reference rates (eurofxref-hist.csv) as the
//! monthly EUR-per-unit rates a tenant's catalog holds.

use super::Cli;
use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;
use taskifai_connectors::catalog::{self, Kind};
use taskifai_connectors::TenantId;

#[derive(Debug, Subcommand)]
pub enum FxCommand {
    /// Print an ECB reference-rate file's monthly averages as a catalog fx_rates CSV.
    Monthly {
        #[command(flatten)]
        source: Source,
    },
    /// Import an ECB reference-rate file's monthly averages as the tenant's own rates (they
    /// take precedence over the ECB defaults every tenant starts with).
    Import {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        #[command(flatten)]
        source: Source,
    },
}

#[derive(Debug, clap::Args)]
pub struct Source {
    /// eurofxref-hist.csv (or eurofxref.csv) as downloaded from the ECB and unzipped.
    file: PathBuf,
    /// The first month, YYYY-MM.
    #[arg(long, default_value = "2022-01")]
    from: String,
    /// Only these currencies (comma-separated); all by default.
    #[arg(long, value_delimiter = ',')]
    currencies: Vec<String>,
}

impl Source {
    fn rates(&self) -> anyhow::Result<Vec<taskifai_connectors::fx::MonthlyRate>> {
        let from = taskifai_engine::period::Period::parse_user(&self.from)
            .filter(|p| p.grain == taskifai_engine::period::Grain::Month)
            .with_context(|| format!("--from {:?}: expected a month such as 2022-01", self.from))?;
        let text = std::fs::read_to_string(&self.file)
            .with_context(|| format!("reading {}", self.file.display()))?;
        let wanted: Vec<&str> = self.currencies.iter().map(String::as_str).collect();
        let start = (
            chrono::Datelike::year(&from.start),
            chrono::Datelike::month(&from.start),
        );
        taskifai_connectors::fx::monthly(&text, &wanted, start)
            .map_err(|e| anyhow::anyhow!("{}: {e}", self.file.display()))
    }
}

pub async fn run(cli: &Cli, command: &FxCommand) -> anyhow::Result<ExitCode> {
    match command {
        FxCommand::Monthly { source } => {
            println!("currency,year,month,rate");
            for r in source.rates()? {
                println!("{},{},{},{}", r.currency, r.year, r.month, r.rate);
            }
            Ok(ExitCode::SUCCESS)
        }
        FxCommand::Import { tenant, source } => {
            let rates = source.rates()?;
            let header: Vec<String> = Kind::FxRates
                .columns()
                .iter()
                .map(|c| c.to_string())
                .collect();
            let cells: Vec<Vec<Option<String>>> = rates
                .iter()
                .map(|r| {
                    vec![
                        Some(r.currency.clone()),
                        Some(r.year.to_string()),
                        Some(r.month.to_string()),
                        Some(r.rate.clone()),
                    ]
                })
                .collect();
            let name = source.file.display().to_string();
            let parsed = catalog::check(Kind::FxRates, &name, &header, &cells)?;
            let pool = super::db::tenant_pool(cli, tenant).await?.context(
                "rates live in the tenant's database: set DATABASE_URL or pass --database-url",
            )?;
            match taskifai_connectors::postgres::catalog::import(&pool, &parsed, true).await {
                Ok(done) => {
                    println!(
                        "{name}: {} monthly rates inserted, {} updated",
                        done.inserted, done.updated
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

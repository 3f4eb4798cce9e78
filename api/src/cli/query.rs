//! `taskifai query` and `taskifai lake ...`.

use super::{Cli, Format, LakeCommand};
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::process::ExitCode;
use taskifai_connectors::lake::AsOf;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session_on;
use taskifai_connectors::TenantId;
use taskifai_engine::sql_guard::plan_read_only;

/// What a CLI query may take.
pub struct Limits {
    pub max_rows: usize,
    pub timeout: Option<std::time::Duration>,
}

pub async fn run(
    cli: &Cli,
    tenant: &TenantId,
    format: Format,
    limits: Limits,
    sql: &str,
    as_of: Option<AsOf>,
) -> anyhow::Result<ExitCode> {
    let lake = Lake::open(&cli.lake)?;
    let engine = taskifai_api::query_engine::connect(&cli.query_engine).await?;
    let planner = engine.as_ref().map(|e| e.planner.clone());
    let (ctx, version) = tenant_session_on(&lake, tenant, as_of, planner.as_ref()).await?;
    if as_of.is_some() {
        eprintln!("lake version {version}");
    }
    let plan = plan_read_only(&ctx, sql, limits.max_rows).await?;
    let df = ctx.execute_logical_plan(plan).await?;
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let mut batches = match limits.timeout {
        None => df.collect().await?,
        Some(t) => tokio::time::timeout(t, df.collect())
            .await
            .map_err(|_| anyhow::anyhow!("the query did not finish within {} s", t.as_secs()))??,
    };
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if batches.is_empty() {
        // An empty answer still shows its columns.
        batches.push(datafusion::arrow::record_batch::RecordBatch::new_empty(
            schema,
        ));
    }
    match format {
        Format::Table => {
            println!("{}", pretty_format_batches(&batches)?);
            println!("{rows} row{}", if rows == 1 { "" } else { "s" });
        }
        Format::Csv => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(std::io::stdout());
            for b in &batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(std::io::stdout());
            w.write_batches(&batches.iter().collect::<Vec<_>>())?;
            w.finish()?;
            println!();
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn lake(cli: &Cli, command: &LakeCommand) -> anyhow::Result<ExitCode> {
    let lake = Lake::open(&cli.lake)?;
    match command {
        LakeCommand::Batches { tenant } => {
            let snap = lake.snapshot(tenant).await?;
            println!(
                "{:<34} {:<16} {:<12} {:<23} {:>8}  file",
                "batch", "table", "vendor", "period", "rows"
            );
            for (m, _) in snap.batches.values() {
                println!(
                    "{:<34} {:<16} {:<12} {:<23} {:>8}  {}",
                    m.batch_id,
                    m.table,
                    m.vendor,
                    format!("{}..{}", m.period_start, m.period_end),
                    m.rows,
                    m.file_name
                );
            }
        }
        LakeCommand::Delete { tenant, batch } => {
            if !lake.delete_batch(tenant, batch).await? {
                anyhow::bail!("tenant {tenant} has no live batch {batch}");
            }
            println!("deleted batch {batch}");
        }
        LakeCommand::Optimize { tenant, min_files } => {
            let done = lake.optimize(tenant, *min_files).await?;
            println!(
                "merged {} months: {} files became {}{}",
                done.months,
                done.files_before,
                done.files_after,
                if done.converted > 0 {
                    format!(
                        "; {} tables now partitioned by year and month only",
                        done.converted
                    )
                } else {
                    String::new()
                }
            );
        }
        LakeCommand::Vacuum {
            tenant,
            min_age_secs,
        } => println!(
            "removed {} unreferenced files",
            lake.vacuum(tenant, std::time::Duration::from_secs(*min_age_secs))
                .await?
        ),
        LakeCommand::Migrate { tenant } => {
            let done = lake.migrate(tenant).await?;
            println!(
                "converted {} batches to Delta tables ({} data files kept, {} rewritten; {} batches were already converted)",
                done.batches, done.kept, done.rewritten, done.skipped
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

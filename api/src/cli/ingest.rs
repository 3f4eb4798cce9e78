//! `taskifai detect`, `taskifai ingest` and `taskifai demo`.

use super::{Cli, EXIT_WITH_REJECTS};
use anyhow::{anyhow, Context};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use taskifai_connectors::ingest::{
    self as load, Crashpoint, IngestRequest, LoadMode, Report, Status,
};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::TenantId;
use taskifai_engine::detect::rank;
use taskifai_engine::schema::{EUR_SCALE, LOCAL_SCALE};
use taskifai_engine::spec::SpecRegistry;
use taskifai_engine::values::format_scaled;

pub fn specs(cli: &Cli) -> anyhow::Result<SpecRegistry> {
    SpecRegistry::load_dir(&cli.specs).map_err(|errors| {
        anyhow!(
            "vendor specs do not load:\n{}",
            errors
                .iter()
                .map(|e| format!("  {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

pub fn detect(cli: &Cli, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let specs = specs(cli)?;
    let mut failed = false;
    for f in files {
        let mut wb = match taskifai_connectors::readers::open(f, &display_name(f)) {
            Ok(wb) => wb,
            Err(e) => {
                println!("{}: {e}", f.display());
                failed = true;
                continue;
            }
        };
        let verdict = taskifai_engine::detect::detect(&specs, wb.as_mut());
        match &verdict {
            Ok((spec, _)) => println!("{}: {}", f.display(), spec.spec.vendor),
            Err(e) => {
                failed = true;
                println!("{}: no match: {e}", f.display());
            }
        }
        for c in rank(&specs, wb.as_mut()).iter().take(3) {
            println!(
                "  {:<12} {:.2} (needs {:.2}): {}",
                c.vendor,
                c.score,
                c.threshold,
                c.reasons.join("; ")
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec})")
            .expect("valid template"),
    );
    bar
}

/// `taskifai ingest`.
#[derive(clap::Args, Debug)]
pub struct IngestArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, default_value = "demo")]
    tenant: TenantId,
    /// Use this vendor's spec instead of detecting it.
    #[arg(long)]
    vendor: Option<String>,
    /// replace: the batch takes the place of the loaded batches of the same vendor and period,
    /// and of those whose months the file covers; append: it is added beside them.
    #[arg(long, default_value = "replace")]
    mode: LoadMode,
    /// The reporting period (`2025-06`, or `2025` for a year), for a file whose name, cells and
    /// sheet carry none; it replaces the period the spec would find.
    #[arg(long, value_parser = parse_period)]
    period: Option<taskifai_engine::period::Period>,
    /// Load a file even when it gives no accepted row (in replace mode this removes the
    /// period's loaded data). Without it such a file is refused and nothing changes.
    #[arg(long)]
    allow_empty_replace: bool,
    /// Process and report, but load nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// One line per file (for loading many files at once).
    #[arg(long, conflicts_with = "json")]
    brief: bool,
}

fn parse_period(text: &str) -> Result<taskifai_engine::period::Period, String> {
    taskifai_engine::period::Period::parse_user(text)
        .ok_or_else(|| format!("{text:?}: expected a month (2025-06) or a year (2025)"))
}

pub async fn ingest(cli: &Cli, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let IngestArgs {
        files,
        tenant,
        vendor,
        mode,
        period,
        allow_empty_replace,
        dry_run,
        json,
        brief,
    } = args;
    let (tenant, vendor, dry_run, json) = (&tenant, vendor.as_deref(), *dry_run, *json);
    let specs = specs(cli)?;
    let lake = Lake::open(&cli.lake)?;
    let db = super::db::tenant_pool(cli, tenant).await?;
    // With a database, reference data is the tenant's own; without, the reference folder.
    let reference = Arc::new(match &db {
        Some(pool) => taskifai_connectors::postgres::catalog::load_reference(pool)
            .await
            .context("loading the tenant's reference data")?,
        None => taskifai_connectors::reference::load_dir(&cli.reference)
            .context("loading reference data")?,
    });
    let mut code = ExitCode::SUCCESS;
    for f in files {
        let bar = progress_bar();
        bar.set_message(display_name(f));
        let b = bar.clone();
        let req = IngestRequest {
            name: display_name(f),
            vendor: vendor.map(str::to_owned),
            dry_run,
            mode: *mode,
            allow_empty: *allow_empty_replace,
            period: *period,
            // Crash tests freeze the process at a named point, then kill it.
            pause_at: Crashpoint::from_env(),
            ..IngestRequest::new(f, tenant)
        };
        let result = load::ingest(
            &lake,
            db.as_ref(),
            &specs,
            reference.clone(),
            req,
            Arc::new(move |n| b.inc(n as u64)),
        )
        .await;
        bar.finish_and_clear();
        match result {
            Ok(report) => {
                if json {
                    print_json(&report)
                } else if *brief {
                    print_brief(&report)
                } else {
                    print_report(&report, &lake)
                }
                let rejected = report
                    .outcome
                    .as_ref()
                    .is_some_and(|o| o.summary.rows_rejected > 0);
                if rejected && code == ExitCode::SUCCESS {
                    code = ExitCode::from(EXIT_WITH_REJECTS);
                }
            }
            Err(e) => {
                let message = taskifai_engine::error::chain(&e);
                if json {
                    // Scripts read one JSON document per file, failures included.
                    let v = serde_json::json!({
                        "file": display_name(f), "result": { "status": "failed" }, "error": message,
                    });
                    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                }
                eprintln!("error: {message}");
                code = ExitCode::from(1);
            }
        }
    }
    Ok(code)
}

fn print_json(r: &Report) {
    let status = match &r.status {
        Status::Loaded { replaced, .. } => {
            serde_json::json!({"status": "loaded", "replaced": replaced})
        }
        Status::Duplicate { batch_id } => {
            serde_json::json!({"status": "duplicate", "batch_id": batch_id})
        }
        Status::DryRun => serde_json::json!({"status": "dry_run"}),
    };
    let v = serde_json::json!({
        "batch_id": r.batch_id, "sha256": r.sha256, "result": status,
        "summary": r.outcome.as_ref().map(|o| summary_json(&o.summary)),
        "issues": r.outcome.as_ref().map(|o| &o.issues),
        "error_report": r.error_report,
    });
    println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
}

/// The summary with its amounts as decimals (`75313.38`), not the scaled integers inside.
fn summary_json(s: &taskifai_engine::pipeline::Summary) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    let decimal = |scaled: i128, scale: i8| {
        let text = format_scaled(scaled, scale as u32);
        serde_json::from_str::<serde_json::Number>(&text)
            .map_or(serde_json::Value::String(text), serde_json::Value::Number)
    };
    v["sales_local"] = decimal(s.sales_local, LOCAL_SCALE);
    v["sales_eur"] = decimal(s.sales_eur, EUR_SCALE);
    v
}

fn print_brief(r: &Report) {
    let Some(o) = &r.outcome else {
        if let Status::Duplicate { batch_id } = &r.status {
            println!("duplicate of batch {batch_id}, nothing to do");
        }
        return;
    };
    let s = &o.summary;
    let replaced = match &r.status {
        Status::Loaded { replaced, .. } if !replaced.is_empty() => {
            format!(", replacing {}", replaced.len())
        }
        _ => String::new(),
    };
    println!(
        "{:<22} {:<12} {:>5} accepted {:>4} rejected {:>12} EUR{replaced}  {}",
        s.period.label(),
        s.vendor,
        s.rows_accepted,
        s.rows_rejected,
        format!(
            "{:.2}",
            format_scaled(s.sales_eur, EUR_SCALE as u32)
                .parse::<f64>()
                .unwrap_or_default()
        ),
        s.file
    );
}

fn print_report(r: &Report, lake: &Lake) {
    let Some(o) = &r.outcome else {
        if let Status::Duplicate { batch_id } = &r.status {
            println!(
                "duplicate: identical content is already loaded as batch {batch_id}; nothing to do"
            );
        }
        return;
    };
    let s = &o.summary;
    println!(
        "{}  (spec {} v{}{})",
        s.file,
        s.vendor,
        s.spec_version,
        s.sheet
            .as_ref()
            .map(|n| format!(", sheet {n:?}"))
            .unwrap_or_default()
    );
    println!(
        "  period    {} ({})",
        s.period.label(),
        s.period.grain.as_str()
    );
    println!(
        "  rows      read {}, accepted {}, rejected {}, skipped {}, other periods {}, warnings {}",
        s.rows_read,
        s.rows_accepted,
        s.rows_rejected,
        s.rows_skipped,
        s.rows_other_period,
        s.warnings
    );
    let eur = format_scaled(s.sales_eur, EUR_SCALE as u32);
    if s.table == taskifai_engine::schema::SELLOUT {
        println!(
            "  totals    quantity {}, sales {} {} = {eur} EUR",
            s.quantity,
            format_scaled(s.sales_local, LOCAL_SCALE as u32),
            s.currency
        );
    } else {
        println!("  totals    quantity {}, sales {eur} EUR", s.quantity);
    }
    for issue in o.issues.iter().take(10) {
        println!(
            "  {:<9} {issue}",
            format!("{:?}", issue.severity).to_lowercase()
        );
    }
    if o.issues.len() > 10 {
        println!(
            "  ...       {} more in the error report",
            o.issues.len() - 10
        );
    }
    match &r.status {
        Status::Loaded { replaced, .. } if replaced.is_empty() => {
            println!("  loaded    batch {} into {}", r.batch_id, s.table)
        }
        Status::Loaded { replaced, .. } => println!(
            "  loaded    batch {} into {}, replacing {}",
            r.batch_id,
            s.table,
            replaced.join(", ")
        ),
        Status::DryRun => println!("  dry run   nothing loaded"),
        Status::Duplicate { .. } => {}
    }
    if let Some(paths) = &r.error_report {
        println!(
            "  errors    {}/{}",
            lake.location().trim_end_matches('/'),
            paths.csv
        );
    }
    println!("  time      {:.2} s", s.seconds);
}

/// Loads the files under `samples` (one folder per vendor), or else a generated history, into
/// the demo tenant.
pub async fn demo(
    cli: &Cli,
    samples: Option<&Path>,
    history: &super::HistoryArgs,
) -> anyhow::Result<ExitCode> {
    let files = match samples {
        Some(dir) => {
            let mut files: Vec<PathBuf> = walk(dir)?;
            files.sort();
            if files.is_empty() {
                anyhow::bail!(
                    "no sample files under {}; rebuild them with `taskifai gen-samples`",
                    dir.display()
                );
            }
            files
        }
        None => {
            let files = history.generate()?;
            println!(
                "history: {} files under {}",
                files.len(),
                history.out.display()
            );
            files
        }
    };
    if cli.database_url.is_some() {
        let registry = super::db::registry(cli).await?;
        taskifai_connectors::postgres::catalog::seed_reference(&registry.pool, &cli.reference)
            .await
            .context("seeding the demo reference data")?;
        println!("database: demo tenant in the registry database, reference data seeded");
    }
    // A demo lake left by a version before Delta Lake is converted, not refused.
    let converted = Lake::open(&cli.lake)?.migrate(&TenantId::demo()).await?;
    if converted.batches > 0 {
        println!(
            "lake: converted {} batches to Delta tables",
            converted.batches
        );
    }
    let args = IngestArgs {
        files,
        tenant: TenantId::demo(),
        vendor: None,
        mode: LoadMode::Replace,
        period: None,
        allow_empty_replace: false,
        dry_run: false,
        json: false,
        brief: samples.is_none(),
    };
    let code = ingest(cli, &args).await?;
    println!();
    let sql = "SELECT reseller, count(*) AS rows, sum(quantity) AS units, round(sum(sales_eur), 2) AS sales_eur FROM sellout_entries GROUP BY reseller ORDER BY reseller";
    println!("{sql}");
    super::query::run(
        cli,
        &TenantId::demo(),
        super::Format::Table,
        super::query::Limits {
            max_rows: 1000,
            timeout: None,
        },
        sql,
        None,
    )
    .await?;
    if cli.database_url.is_some() {
        let pool = super::db::registry(cli).await?.pool;
        let (batches, rows): (i64, i64) = sqlx::query_as("SELECT (SELECT count(*) FROM upload_batches WHERE replaced_by IS NULL), (SELECT count(*) FROM sellout_entries) + (SELECT count(*) FROM ecommerce_orders)").fetch_one(&pool).await?;
        println!("database: {batches} batches, {rows} rows in the demo tenant");
    }
    Ok(if code == ExitCode::from(1) {
        code
    } else {
        ExitCode::SUCCESS
    })
}

fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else if !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            out.push(p);
        }
    }
    Ok(out)
}

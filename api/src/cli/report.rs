//! `taskifai report`: the sales report of `/api/reports/sales`, from the lake, without a server.

use super::Cli;
use std::path::PathBuf;
use std::process::ExitCode;
use taskifai_api::report::{self, Heading, ReportFormat};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_engine::analytics::{self as queries, Filters};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    #[arg(long, default_value = "demo")]
    tenant: TenantId,
    /// pdf, xlsx or csv.
    #[arg(long, default_value = "pdf")]
    format: ReportFormat,
    /// First day (YYYY-MM-DD); without --from, --to and --range, the whole data.
    #[arg(long)]
    from: Option<chrono::NaiveDate>,
    #[arg(long)]
    to: Option<chrono::NaiveDate>,
    /// last_month, last_quarter, this_year, year_to_date, last_30_days ... (relative to today).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    range: Option<String>,
    #[arg(long)]
    reseller: Option<String>,
    /// EAN or product name.
    #[arg(long)]
    product: Option<String>,
    /// retail or online.
    #[arg(long)]
    channel: Option<String>,
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    store: Option<String>,
    /// The name in the report's title (default: the tenant id).
    #[arg(long)]
    title: Option<String>,
    /// Where to write it (default: the report's own name in the current folder).
    #[arg(short = 'o', long)]
    out: Option<PathBuf>,
}

pub async fn run(cli: &Cli, a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let filters = Filters {
        from: a.from,
        to: a.to,
        range: a.range.clone(),
        channel: a.channel.clone(),
        reseller: a.reseller.clone(),
        product: a.product.clone(),
        country: a.country.clone(),
        store: a.store.clone(),
    };
    let asked = filters.window(chrono::Utc::now().date_naive())?;
    let lake = Lake::open(&cli.lake)?;
    let ctx = tenant_session(&lake, &a.tenant).await?;
    queries::register_filtered(&ctx, &filters, queries::Source::Lines).await?;
    let Some(window) = queries::resolve_window(&ctx, asked).await? else {
        anyhow::bail!(
            "tenant {} has no sales {}",
            a.tenant,
            asked.map_or_else(
                || "at all".to_owned(),
                |w| format!("from {} to {} for these filters", w.from, w.to)
            )
        );
    };
    let snap = lake.snapshot(&a.tenant).await?;
    let title = a.title.clone().unwrap_or_else(|| a.tenant.to_string());
    let heading = Heading::new(&title, a.tenant.as_str(), &filters, &snap.committed_at);
    let r = report::render(&ctx, window, a.format, heading).await?;
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(&r.file_name));
    std::fs::write(&out, &r.bytes).map_err(|e| anyhow::anyhow!("{}: {e}", out.display()))?;
    println!(
        "{}: sales {} ({} bytes)",
        out.display(),
        report::period_text(window),
        r.bytes.len()
    );
    Ok(ExitCode::SUCCESS)
}

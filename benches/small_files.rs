//! What compacting the lake's small files would buy: the guarded SQL path (`/api/query`, the
//! chat) over the analytics bench's tenant as the lake holds it (one file per batch and month)
//! against the same rows rewritten as one file per month, which is what a `lake optimize` would
//! leave. Both are read by the tenant's own session settings; answers are compared.
//!
//! `cargo bench -p taskifai-benches --bench small_files -- [ROWS BATCHES REPEATS]` after the
//! analytics bench made its lake; writes `benches/SMALL_FILES_RESULTS.md`.

mod bench_args;
mod line_queries;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int32Type;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_tests::repo_path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Data files (not Delta checkpoints) and their bytes under `dir`.
fn files_in(dir: &Path) -> (usize, u64) {
    let mut out = (0, 0);
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            let (n, b) = files_in(&p);
            out = (out.0 + n, out.1 + b);
        } else if p.extension().is_some_and(|x| x == "parquet")
            && !p.to_string_lossy().contains("/_delta_log/")
        {
            out = (out.0 + 1, out.1 + e.metadata().map_or(0, |m| m.len()));
        }
    }
    out
}

/// The tenant's live rows rewritten as one file per month (every column stored); seconds taken.
async fn compact(lake: &Lake, out: &Path) -> anyhow::Result<f64> {
    let _ = std::fs::remove_dir_all(out);
    let t = Instant::now();
    let ctx = tenant_session(lake, &TenantId::demo()).await?;
    // SMALL_FILES_ORDER=none keeps the lake's order (batch after batch) instead of sorting.
    let order = match std::env::var("SMALL_FILES_ORDER").as_deref() {
        Ok("none") => "",
        _ => " ORDER BY reseller, sale_date",
    };
    let months = ctx
        .sql("SELECT DISTINCT CAST(year AS INT), CAST(month AS INT) FROM sellout_entries")
        .await?
        .collect()
        .await?;
    for b in &months {
        let (y, m) = (
            b.column(0).as_primitive::<Int32Type>(),
            b.column(1).as_primitive::<Int32Type>(),
        );
        for i in 0..b.num_rows() {
            let (y, m) = (y.value(i), m.value(i));
            let file = out.join(format!("year={y}/month={m}/part-0.parquet"));
            ctx.sql(&format!(
                "SELECT * FROM sellout_entries WHERE year = {y} AND month = {m}{order}"
            ))
            .await?
            .write_parquet(
                file.to_str().expect("a UTF-8 path"),
                DataFrameWriteOptions::new().with_single_file_output(true),
                None,
            )
            .await?;
        }
    }
    Ok(t.elapsed().as_secs_f64())
}

/// A tenant session whose `sellout_entries` is the compacted copy.
async fn compacted_session(lake: &Lake, dir: &Path) -> anyhow::Result<SessionContext> {
    let ctx = tenant_session(lake, &TenantId::demo()).await?;
    let schema = ctx.table_provider("sellout_entries").await?.schema();
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.deregister_table("sellout_entries")?;
    ctx.register_table("sellout_entries", Arc::new(ListingTable::try_new(config)?))?;
    Ok(ctx)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let [rows, batches, repeats] = bench_args::numbers([10_000_000, 1008, 5]);
    let lake_dir = bench_args::existing_analytics_lake(rows, batches)?;
    let lake = Lake::open(lake_dir.to_str().expect("a UTF-8 path"))?;
    let out = repo_path(&format!(
        "target/bench-analytics/compacted-{rows}-{batches}"
    ));
    let seconds = compact(&lake, &out).await?;
    let (small_n, small_bytes) = files_in(&lake_dir.join(TenantId::demo().lake_prefix()));
    let (big_n, big_bytes) = files_in(&out);
    let mut text = format!(
        "# What compacting small files would buy\n\n{rows} sell-out lines in {batches} batches (the analytics bench's tenant): the lake as loaded, {small_n} files ({:.0} MB), against the same rows rewritten as one file per month, {big_n} files ({:.0} MB, every column stored), written in {seconds:.1} s. `/api/query`'s path (guard, plan, run, answer as JSON) in a tenant session made once, as a server keeps it per lake version; median of {repeats} runs; answers compared.\n\n| query | {small_n} files ms | {big_n} files ms | small / compacted |\n|---|---:|---:|---:|\n",
        small_bytes as f64 / 1e6,
        big_bytes as f64 / 1e6,
    );
    let as_loaded = tenant_session(&lake, &TenantId::demo()).await?;
    let compacted = compacted_session(&lake, &out).await?;
    for (name, sql) in line_queries::QUERIES {
        // The sessions are made once, as a server keeps a tenant's per lake version.
        let (small, want) =
            line_queries::median(|| async { Ok(as_loaded.clone()) }, sql, repeats).await?;
        let (big, got) =
            line_queries::median(|| async { Ok(compacted.clone()) }, sql, repeats).await?;
        anyhow::ensure!(
            got == want,
            "{name}: the compacted copy answered {got}, the lake {want}"
        );
        text.push_str(&format!(
            "| {name} | {small:.0} | {big:.0} | {:.2}x |\n",
            small / big
        ));
        eprintln!("{name}: {small:.0} ms over {small_n} files, {big:.0} ms over {big_n}");
    }
    println!("{text}");
    std::fs::write(repo_path("benches/SMALL_FILES_RESULTS.md"), text)?;
    Ok(())
}

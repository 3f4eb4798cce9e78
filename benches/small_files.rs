//! What `lake optimize` buys: the guarded SQL path (`/api/query`, the chat) over the analytics
//! bench's tenant as the lake holds it (one file per batch and month) against a copy of it after
//! [`Lake::optimize`] (one file per month), and the dashboard rollup's first build over each.
//! Both are read by the tenant's own session settings; answers are compared.
//!
//! `cargo bench -p taskifai-benches --bench small_files -- [ROWS BATCHES REPEATS]` after the
//! analytics bench made its lake; writes `benches/SMALL_FILES_RESULTS.md`.

mod bench_args;
mod line_queries;

use std::time::Instant;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::{tenant_session, SessionCache};
use taskifai_connectors::TenantId;
use taskifai_engine::analytics::Grain;
use taskifai_tests::repo_path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The first dashboard request's rollup build over every file of the lake, ms.
async fn rollup_build(lake: &Lake) -> anyhow::Result<f64> {
    let cache = SessionCache::default();
    let t = Instant::now();
    cache
        .rollup_session(lake, &TenantId::demo(), Grain::Products)
        .await?;
    Ok(t.elapsed().as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let [rows, batches, repeats] = bench_args::numbers([10_000_000, 1008, 5]);
    let lake_dir = bench_args::existing_analytics_lake(rows, batches)?;
    let lake = Lake::open(lake_dir.to_str().expect("a UTF-8 path"))?;
    // `lake optimize` on a copy, so the analytics bench's lake stays as loaded.
    let out = repo_path(&format!(
        "target/bench-analytics/optimized-{rows}-{batches}"
    ));
    let _ = std::fs::remove_dir_all(&out);
    bench_args::copy_dir(&lake_dir, &out)?;
    let optimized = Lake::open(out.to_str().expect("a UTF-8 path"))?;
    let t = Instant::now();
    let done = optimized.optimize(&TenantId::demo(), 2).await?;
    let seconds = t.elapsed().as_secs_f64();
    // Only live data files count: the optimized copy still holds the files it replaced, for
    // time travel, until a vacuum.
    let live = |snap: &taskifai_connectors::lake::Snapshot| -> (usize, u64) {
        let files = snap.files("sellout_entries");
        (files.len(), files.iter().filter_map(|f| f.bytes).sum())
    };
    let (small_n, small_bytes) = live(&*lake.snapshot(&TenantId::demo()).await?);
    let (big_n, big_bytes) = live(&*optimized.snapshot(&TenantId::demo()).await?);
    anyhow::ensure!(done.files_after == big_n, "optimize reported {done:?}");
    let (small_rollup, big_rollup) = (rollup_build(&lake).await?, rollup_build(&optimized).await?);
    let mut text = format!(
        "# What `lake optimize` buys\n\n{rows} sell-out lines in {batches} batches (the analytics bench's tenant): the lake as loaded, {small_n} files ({:.0} MB), against a copy after `taskifai lake optimize` (`Lake::optimize`, {seconds:.1} s), {big_n} files ({:.0} MB, lineage columns stored). `/api/query`'s path (guard, plan, run, answer as JSON) in a tenant session made once, as a server keeps it per lake version; median of {repeats} runs; answers compared. The dashboard reads rollups, not files, once they are built: the first request's build over every file took {small_rollup:.0} ms as loaded and {big_rollup:.0} ms optimized.\n\n| query | {small_n} files ms | {big_n} files ms | as loaded / optimized |\n|---|---:|---:|---:|\n",
        small_bytes as f64 / 1e6,
        big_bytes as f64 / 1e6,
    );
    let as_loaded = tenant_session(&lake, &TenantId::demo()).await?;
    let compacted = tenant_session(&optimized, &TenantId::demo()).await?;
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

//! What a query costs on a Ballista cluster on this one machine against the same query in this
//! process: `/api/query`'s path (guard, plan, run) over the analytics bench's tenant. Same plans
//! and files; the cluster adds submitting the job, scheduling its stages, the shuffle between
//! them and fetching the answer over Flight. The answers are compared.
//!
//! `cargo bench -p taskifai-benches --bench cluster -- [ROWS BATCHES REPEATS]` after the
//! analytics bench made its lake; writes `benches/CLUSTER_RESULTS.md`.

mod bench_args;
mod line_queries;

use datafusion::prelude::SessionContext;
use std::sync::Arc;
use taskifai_cluster::ClusterPlanner;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::{tenant_session_on, Planner};
use taskifai_connectors::TenantId;
use taskifai_tests::repo_path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A tenant session whose plans run on `planner` (this process when `None`).
async fn session(lake: &Lake, planner: Option<&Planner>) -> anyhow::Result<SessionContext> {
    Ok(tenant_session_on(lake, &TenantId::demo(), None, planner)
        .await?
        .0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let [rows, batches, repeats] = bench_args::numbers([10_000_000, 1008, 5]);
    let lake_dir = bench_args::existing_analytics_lake(rows, batches)?;
    let lake = Lake::open(lake_dir.to_str().expect("a UTF-8 path"))?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let url = taskifai_cluster::standalone(cores, &vec![]).await?;
    let cluster: Planner = Arc::new(ClusterPlanner::connect(&url).await?);
    let mut out = format!(
        "# Queries on a Ballista cluster on one machine\n\n{rows} sell-out lines in {batches} batches (the analytics bench's tenant); `/api/query`'s path (guard, plan, run, answer as JSON) in this process and on a Ballista scheduler and executor ({cores} task slots) in the same process over loopback gRPC and Flight. Median of {repeats} runs each; answers compared. A query answered from the files' statistics alone (count) scans nothing and runs here either way.\n\n| query | this process ms | cluster ms | cluster / this process |\n|---|---:|---:|---:|\n"
    );
    for (name, sql) in line_queries::QUERIES {
        let (here, want) = line_queries::median(|| session(&lake, None), sql, repeats).await?;
        let (there, got) =
            line_queries::median(|| session(&lake, Some(&cluster)), sql, repeats).await?;
        anyhow::ensure!(
            got == want,
            "{name}: the cluster answered {got}, this process {want}"
        );
        out.push_str(&format!(
            "| {name} | {here:.0} | {there:.0} | {:.2}x |\n",
            there / here
        ));
        eprintln!("{name}: {here:.0} ms here, {there:.0} ms on the cluster");
    }
    println!("{out}");
    std::fs::write(repo_path("benches/CLUSTER_RESULTS.md"), out)?;
    Ok(())
}

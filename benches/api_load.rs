//! The API under load on loopback: many concurrent KPI requests, then uploads with their jobs,
//! then both at once. Reports p50/p99 latency and throughput. Needs `DATABASE_URL`.
//!
//! `cargo bench -p taskifai-benches --bench api_load -- [CLIENTS] [SECONDS]`

mod bench_args;
mod common;

use common::{hammer, Make, Server, Stats};
use std::sync::Arc;
use std::time::Instant;
use taskifai_connectors::lake::Lake;
use taskifai_tests::{repo_path, SAMPLE_TOTALS};

/// Uploads per upload phase: each becomes a job, and the queue must drain between phases.
const UPLOADS: usize = 200;

// The same allocator as the `taskifai` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let [clients, seconds] = bench_args::numbers([32, 10]);
    let seconds = seconds as u64;
    let lake_dir = tempfile::tempdir()?;
    let server =
        Arc::new(Server::start(Lake::open(lake_dir.path().to_str().unwrap())?, clients, 2).await?);
    let upload = server.uploads();
    let kpis: Make = {
        let server = server.clone();
        Arc::new(move |i: usize| {
            server.get(
                [
                    "/api/analytics/kpis",
                    "/api/analytics/top-products?limit=5",
                    "/api/analytics/timeseries?bucket=week",
                ][i % 3],
            )
        })
    };

    // The same three endpoints, each request a question not asked before (the window's first
    // day moves a day at a time): what a dashboard costs when the answer cache cannot help.
    let fresh: Make = {
        let server = server.clone();
        Arc::new(move |i: usize| {
            let from = chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
                + chrono::Duration::days((i / 3) as i64 % 395);
            let window = format!("from={from}&to=2026-06-30");
            server.get(
                &[
                    format!("/api/analytics/kpis?{window}"),
                    format!("/api/analytics/top-products?limit=5&{window}"),
                    format!("/api/analytics/timeseries?bucket=week&{window}"),
                ][i % 3],
            )
        })
    };

    // Some data first, so analytics have something to chew on.
    for i in 0..SAMPLE_TOTALS.len() {
        upload(i).send().await?;
    }
    server.wait_idle().await;
    let mut rows = vec![
        hammer(
            "analytics, a new question each time (cache misses)",
            clients,
            seconds,
            usize::MAX,
            fresh,
        )
        .await,
        hammer(
            "analytics, the same three requests (cache hits after the first)",
            clients,
            seconds,
            usize::MAX,
            kpis.clone(),
        )
        .await,
    ];
    let before = Instant::now();
    let mut up = hammer(
        "uploads (multipart, queued)",
        4,
        seconds,
        UPLOADS,
        upload.clone(),
    )
    .await;
    let queued = up.latencies.len();
    server.wait_idle().await;
    let drained = before.elapsed();
    rows.push(std::mem::replace(&mut up, Stats::empty("")));
    let (a, u) = tokio::join!(
        hammer(
            "analytics (the same three) while uploading",
            clients,
            seconds,
            usize::MAX,
            kpis
        ),
        hammer("uploads while analytics run", 4, seconds, UPLOADS, upload)
    );
    rows.push(a);
    rows.push(u);
    server.wait_idle().await;

    let mut out = format!(
        "# API load on loopback\n\n{} clients for analytics, 4 for uploads, {seconds} s per phase, 2 workers, one tenant. Machine: {} cores.\n\n| phase | requests | errors | p50 ms | p99 ms | max ms | req/s |\n|---|---|---|---|---|---|---|\n",
        clients,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for r in &mut rows {
        out.push_str(&r.row());
        out.push('\n');
    }
    out.push_str(&format!("\n{queued} uploads queued in the upload phase were all loaded {:.1} s after it began ({:.1} files/s end to end).\n", drained.as_secs_f64(), queued as f64 / drained.as_secs_f64()));
    println!("{out}");
    std::fs::write(repo_path("benches/API_RESULTS.md"), out)?;
    if let Ok(server) = Arc::try_unwrap(server) {
        server.stop().await;
    }
    Ok(())
}

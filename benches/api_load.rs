//! The API under load on loopback: many concurrent KPI requests, then uploads with their jobs,
//! then both at once. Reports p50/p99 latency and throughput. Needs `DATABASE_URL`.
//!
//! `cargo bench -p taskifai-benches --bench api_load -- [CLIENTS] [SECONDS]`

use reqwest::header::HOST;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskifai_api::config::{RateLimits, Secret, ServerConfig};
use taskifai_api::AppState;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::postgres::pools::{PoolConfig, PoolManager};
use taskifai_tests::{pg::TestDb, repo_path, SAMPLE_TOTALS};

/// Uploads per upload phase: each becomes a job, and the queue must drain between phases.
const UPLOADS: usize = 200;

// The same allocator as the `taskifai` binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Stats {
    name: String,
    latencies: Vec<Duration>,
    errors: usize,
    wall: Duration,
}

impl Stats {
    fn row(&mut self) -> String {
        self.latencies.sort();
        let pct = |p: f64| {
            self.latencies
                .get(
                    ((self.latencies.len() as f64 * p) as usize)
                        .min(self.latencies.len().saturating_sub(1)),
                )
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        format!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
            self.name,
            self.latencies.len(),
            self.errors,
            pct(0.5),
            pct(0.99),
            pct(1.0),
            self.latencies.len() as f64 / self.wall.as_secs_f64()
        )
    }
}

/// Sends requests from `clients` tasks for `seconds` (or until `max` were sent), each built by `make`.
async fn hammer(
    name: &str,
    clients: usize,
    seconds: u64,
    max: usize,
    make: Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>,
) -> Stats {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (make, sent) = (make.clone(), sent.clone());
            tokio::spawn(async move {
                let (mut lat, mut errors, mut i) = (Vec::new(), 0, 0);
                while Instant::now() < deadline
                    && sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < max
                {
                    let t = Instant::now();
                    match make(c * 1_000_000 + i).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed());
                        }
                        _ => errors += 1,
                    }
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut s = Stats {
        name: name.into(),
        latencies: vec![],
        errors: 0,
        wall: Duration::ZERO,
    };
    for t in tasks {
        let (l, e) = t.await.unwrap();
        s.latencies.extend(l);
        s.errors += e;
    }
    s.wall = started.elapsed();
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let clients: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(32);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let db = TestDb::new().await;
    let lake_dir = tempfile::tempdir()?;
    taskifai_connectors::postgres::catalog::seed_reference(
        &db.registry.pool,
        &repo_path("sample-data/reference"),
    )
    .await?;
    let mut config = ServerConfig::new(Secret::new("bench-secret"));
    config.rate = RateLimits {
        per_tenant: 1_000_000,
        per_user: 1_000_000,
        login: 1000,
        uploads: 1_000_000,
        query: 1_000_000,
        chat: 1_000_000,
    };
    let state = AppState::new(
        config,
        db.registry.clone(),
        PoolManager::new(db.registry.clone(), PoolConfig::default()),
        Lake::open(lake_dir.path().to_str().unwrap())?,
        taskifai_tests::specs(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut shutdown = rx.clone();
    tokio::spawn(taskifai_api::serve(listener, state.clone(), async move {
        let _ = shutdown.wait_for(|s| *s).await;
    }));
    tokio::spawn(taskifai_api::worker::run(state.clone(), 2, rx));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let invite = taskifai_api::server::invites::create(
        &state
            .pools
            .pool(&taskifai_connectors::TenantId::demo())
            .await?,
        "bench@bibbi.example",
        taskifai_api::server::auth::Role::Admin,
        "bench",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?
    .invite_token;
    let session: Value = client
        .post(format!("{base}/api/auth/register"))
        .header(HOST, "localhost")
        .json(&json!({ "email": "bench@bibbi.example", "password": "benchmark password", "invite": invite }))
        .send()
        .await?
        .json()
        .await?;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let files: Vec<(String, Vec<u8>)> = SAMPLE_TOTALS
        .iter()
        .map(|t| {
            let p = repo_path(&format!("sample-data/vendors/{}", t.0));
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();

    let upload = {
        let (client, base, token, files) =
            (client.clone(), base.clone(), token.clone(), Arc::new(files));
        Arc::new(move |i: usize| {
            let (name, bytes) = &files[i % files.len()];
            // Trailing bytes make each upload new content (readers ignore them), so none is a duplicate.
            let mut b = bytes.clone();
            b.extend_from_slice(format!("\n{i}").as_bytes());
            let form = reqwest::multipart::Form::new().text("mode", "append").part(
                "file",
                reqwest::multipart::Part::bytes(b).file_name(name.clone()),
            );
            client
                .post(format!("{base}/api/uploads"))
                .header(HOST, "localhost")
                .bearer_auth(&token)
                .multipart(form)
        }) as Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>
    };
    let kpis = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        Arc::new(move |i: usize| {
            let path = [
                "/api/analytics/kpis",
                "/api/analytics/top-products?limit=5",
                "/api/analytics/timeseries?bucket=week",
            ][i % 3];
            client
                .get(format!("{base}{path}"))
                .header(HOST, "localhost")
                .bearer_auth(&token)
        }) as Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>
    };

    // The same three endpoints, each request a question not asked before (the window's first
    // day moves a day at a time): what a dashboard costs when the answer cache cannot help.
    let fresh = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        Arc::new(move |i: usize| {
            let from = chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap()
                + chrono::Duration::days((i / 3) as i64 % 395);
            let window = format!("from={from}&to=2026-06-30");
            let path = [
                format!("/api/analytics/kpis?{window}"),
                format!("/api/analytics/top-products?limit=5&{window}"),
                format!("/api/analytics/timeseries?bucket=week&{window}"),
            ][i % 3]
                .clone();
            client
                .get(format!("{base}{path}"))
                .header(HOST, "localhost")
                .bearer_auth(&token)
        }) as Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>
    };

    // Some data first, so analytics have something to chew on.
    for i in 0..SAMPLE_TOTALS.len() {
        upload(i).send().await?;
    }
    wait_idle(&state).await;
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
    wait_idle(&state).await;
    let drained = before.elapsed();
    rows.push(std::mem::replace(
        &mut up,
        Stats {
            name: String::new(),
            latencies: vec![],
            errors: 0,
            wall: Duration::ZERO,
        },
    ));
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
    wait_idle(&state).await;
    let _ = stop.send(true);

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
    db.cleanup().await;
    Ok(())
}

/// Waits until the queue is empty.
async fn wait_idle(state: &AppState) {
    loop {
        if taskifai_api::jobs::depth(&state.registry.pool)
            .await
            .unwrap_or(1)
            == 0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! What the API benchmarks share: a server on loopback over a real database and a given lake,
//! a signed-in client, and clients that hammer it and report latency percentiles.

use reqwest::header::HOST;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use taskifai_api::config::{RateLimits, Secret, ServerConfig};
use taskifai_api::AppState;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::postgres::pools::{PoolConfig, PoolManager};
use taskifai_tests::{pg::TestDb, repo_path};

/// Builds one request; the argument numbers the requests of a run.
pub type Make = Arc<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>;

pub struct Stats {
    pub name: String,
    pub latencies: Vec<Duration>,
    pub errors: usize,
    pub wall: Duration,
}

impl Stats {
    pub fn empty(name: &str) -> Self {
        Self {
            name: name.into(),
            latencies: vec![],
            errors: 0,
            wall: Duration::ZERO,
        }
    }

    /// The latency at percentile `p` (0 to 1) in milliseconds.
    pub fn pct(&mut self, p: f64) -> f64 {
        self.latencies.sort();
        self.latencies
            .get(
                ((self.latencies.len() as f64 * p) as usize)
                    .min(self.latencies.len().saturating_sub(1)),
            )
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// `| name | requests | errors | p50 | p99 | max | req/s |`
    pub fn row(&mut self) -> String {
        let (p50, p99, max) = (self.pct(0.5), self.pct(0.99), self.pct(1.0));
        format!(
            "| {} | {} | {} | {p50:.1} | {p99:.1} | {max:.1} | {:.0} |",
            self.name,
            self.latencies.len(),
            self.errors,
            self.latencies.len() as f64 / self.wall.as_secs_f64()
        )
    }
}

/// Runs `clients` tasks for `seconds` (or until `max` units were started), each unit being
/// `unit` requests sent at once (a page's requests), timed until the last answer.
pub async fn hammer_units(
    name: &str,
    clients: usize,
    seconds: u64,
    max: usize,
    unit: usize,
    make: Make,
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
                    let requests = (0..unit).map(|k| {
                        let r = make((c * 1_000_000 + i) * unit + k);
                        async move {
                            match r.send().await {
                                Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                                _ => false,
                            }
                        }
                    });
                    let ok = futures::future::join_all(requests).await;
                    if ok.iter().all(|&ok| ok) {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                    i += 1;
                }
                (lat, errors)
            })
        })
        .collect();
    let mut s = Stats::empty(name);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        s.latencies.extend(l);
        s.errors += e;
    }
    s.wall = started.elapsed();
    s
}

/// [`hammer_units`] with one request per unit.
pub async fn hammer(name: &str, clients: usize, seconds: u64, max: usize, make: Make) -> Stats {
    hammer_units(name, clients, seconds, max, 1, make).await
}

/// A server on loopback with its workers, and an admin of the demo tenant signed in.
pub struct Server {
    pub db: TestDb,
    pub state: AppState,
    pub base: String,
    pub token: String,
    pub client: reqwest::Client,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Server {
    pub async fn start(lake: Lake, clients: usize, workers: usize) -> anyhow::Result<Self> {
        let db = TestDb::new().await;
        taskifai_connectors::postgres::catalog::seed_reference(
            &db.registry.pool,
            &repo_path("sample-data/reference"),
        )
        .await?;
        let mut config = ServerConfig::new(Secret::new("bench-secret"));
        // Workers leave the lake's files as the bench made them (the analytics bench reuses its
        // lake from run to run; `ANALYTICS_OPTIMIZE=1` measures an optimized copy).
        config.optimize_files = 0;
        // A run outlasts the default 5 minutes when the database repair of a big lake is slow:
        // the client signs in once.
        config.access_ttl = Duration::from_secs(3600);
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
            lake,
            taskifai_tests::specs(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop, rx) = tokio::sync::watch::channel(false);
        let mut shutdown = rx.clone();
        tokio::spawn(taskifai_api::serve(listener, state.clone(), async move {
            let _ = shutdown.wait_for(|s| *s).await;
        }));
        // As `taskifai serve --in-process-workers` runs them: on threads of lower priority.
        taskifai_api::worker::spawn_background(state.clone(), workers, rx)?;
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
        Ok(Self {
            db,
            state,
            base,
            token,
            client,
            stop,
        })
    }

    /// A GET of `path` as the signed-in admin.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .header(HOST, "localhost")
            .bearer_auth(&self.token)
    }

    /// Uploads of the sample files in append mode, each made new content by trailing bytes
    /// (readers ignore them), so none is a duplicate.
    pub fn uploads(self: &Arc<Self>) -> Make {
        let files: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
            taskifai_tests::SAMPLE_TOTALS
                .iter()
                .map(|t| {
                    let p = repo_path(&format!("sample-data/vendors/{}", t.0));
                    (
                        p.file_name().unwrap().to_string_lossy().into_owned(),
                        std::fs::read(&p).unwrap(),
                    )
                })
                .collect(),
        );
        let server = self.clone();
        Arc::new(move |i: usize| {
            let (name, bytes) = &files[i % files.len()];
            let mut b = bytes.clone();
            b.extend_from_slice(format!("\n{i}").as_bytes());
            let form = reqwest::multipart::Form::new().text("mode", "append").part(
                "file",
                reqwest::multipart::Part::bytes(b).file_name(name.clone()),
            );
            server
                .client
                .post(format!("{}/api/uploads", server.base))
                .header(HOST, "localhost")
                .bearer_auth(&server.token)
                .multipart(form)
        })
    }

    /// Waits until the job queue is empty.
    pub async fn wait_idle(&self) {
        loop {
            if taskifai_api::jobs::depth(&self.state.registry.pool)
                .await
                .unwrap_or(1)
                == 0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.db.cleanup().await;
    }
}

//! A running server for one test: its own registry database, lake, workers and HTTP client.

use reqwest::header::HOST;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use taskifai_api::config::{RateLimits, Secret, ServerConfig};
use taskifai_api::server::auth::Role;
use taskifai_api::AppState;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::postgres::catalog::seed_reference;
use taskifai_connectors::postgres::pools::{PoolConfig, PoolManager};
use taskifai_tests::pg::TestDb;
use taskifai_tests::repo_path;
use tokio::sync::watch;

pub const SECRET: &str = "test-secret-not-for-production";
pub const BASE_DOMAIN: &str = "taskifai.test";
pub const PASSWORD: &str = "correct horse battery";

/// Knobs a test may turn.
pub struct Options {
    pub workers: usize,
    pub max_upload_bytes: u64,
    pub rate: RateLimits,
    pub lease: Duration,
    pub query_timeout: Duration,
    pub llm: Option<taskifai_api::chat::model::LlmConfig>,
    /// A folder with a built web app (at least an index.html) to serve.
    pub web_dir: Option<PathBuf>,
    pub email: taskifai_api::email::EmailConfig,
    pub allow_private_webhooks: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: 2,
            max_upload_bytes: 100 * 1024 * 1024,
            rate: RateLimits {
                login: 1000,
                ..Default::default()
            },
            lease: Duration::from_secs(10),
            query_timeout: Duration::from_secs(20),
            llm: None,
            web_dir: None,
            email: Default::default(),
            allow_private_webhooks: false,
        }
    }
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub db: TestDb,
    pub lake_dir: tempfile::TempDir,
    pub client: reqwest::Client,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// The host name of a tenant.
pub fn host(tenant: &str) -> String {
    if tenant == "demo" {
        "localhost".into()
    } else {
        format!("{tenant}.{BASE_DOMAIN}")
    }
}

pub fn sample(rel: &str) -> PathBuf {
    repo_path(&format!("sample-data/vendors/{rel}"))
}

impl TestServer {
    pub async fn start(o: Options) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let db = TestDb::new().await;
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(lake_dir.path().to_str().unwrap()).unwrap();
        let pools = PoolManager::new(db.registry.clone(), PoolConfig::default());
        seed_reference(&db.registry.pool, &repo_path("sample-data/reference"))
            .await
            .unwrap();
        let mut config = ServerConfig::new(Secret::new(SECRET));
        config.base_domain = BASE_DOMAIN.into();
        config.max_upload_bytes = o.max_upload_bytes;
        config.rate = o.rate;
        config.job_lease = o.lease;
        config.query_timeout = o.query_timeout;
        config.llm = o.llm;
        config.web_dir = o.web_dir;
        config.email = o.email;
        config.allow_private_webhooks = o.allow_private_webhooks;
        // Short, so the slow-header test is quick; the client drops idle connections sooner,
        // so it never reuses one the server is closing.
        config.header_timeout = Duration::from_secs(4);
        let state = AppState::new(
            config,
            db.registry.clone(),
            pools,
            lake,
            taskifai_tests::specs(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = watch::channel(false);
        let mut shutdown = rx.clone();
        let mut tasks = vec![tokio::spawn({
            let state = state.clone();
            async move {
                taskifai_api::serve(listener, state, async move {
                    let _ = shutdown.wait_for(|s| *s).await;
                })
                .await
                .unwrap();
            }
        })];
        if o.workers > 0 {
            tasks.push(tokio::spawn(taskifai_api::worker::run(
                state.clone(),
                o.workers,
                rx,
            )));
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_idle_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        Self {
            base,
            state,
            db,
            lake_dir,
            client,
            stop,
            tasks,
        }
    }

    /// A tenant as the platform creates it: an empty catalog and the ECB's default rates.
    pub async fn empty_tenant(&self, id: &str) {
        let tenant_id = taskifai_connectors::TenantId::parse(id).unwrap();
        self.db.registry.create(&tenant_id, id).await.unwrap();
    }

    /// A tenant of its own, seeded with the demo reference data.
    pub async fn tenant(&self, id: &str) {
        let tenant_id = taskifai_connectors::TenantId::parse(id).unwrap();
        self.db.registry.create(&tenant_id, id).await.unwrap();
        let pool = self.state.pools.pool(&tenant_id).await.unwrap();
        seed_reference(&pool, &repo_path("sample-data/reference"))
            .await
            .unwrap();
    }

    pub fn req(&self, method: Method, tenant: &str, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .header(HOST, host(tenant))
    }

    pub fn get(&self, tenant: &str, token: &str, path: &str) -> RequestBuilder {
        self.req(Method::GET, tenant, path).bearer_auth(token)
    }

    /// An invite for `email` as the tenant's admin, as a platform admin makes it.
    pub async fn invite(&self, tenant: &str, email: &str) -> String {
        let pool = self
            .state
            .pools
            .pool(&taskifai_connectors::TenantId::parse(tenant).unwrap())
            .await
            .unwrap();
        taskifai_api::server::invites::create(&pool, email, Role::Admin, "test")
            .await
            .unwrap()
            .invite_token
    }

    /// Signs up the tenant's first user (its admin) with an invite; returns the session.
    pub async fn register(&self, tenant: &str, email: &str) -> Value {
        let invite = self.invite(tenant, email).await;
        let res = self
            .req(Method::POST, tenant, "/api/auth/register")
            .json(&serde_json::json!({ "email": email, "password": PASSWORD, "invite": invite }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json().await.unwrap()
    }

    /// Signs up the tenant's first user and returns only the access token.
    pub async fn admin_token(&self, tenant: &str, email: &str) -> String {
        self.register(tenant, email).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// Uploads one file and returns its batch id.
    pub async fn upload_one(&self, tenant: &str, token: &str, file: PathBuf) -> String {
        let up: Value = self
            .upload(tenant, token, &[file], &[])
            .await
            .json()
            .await
            .unwrap();
        up[0]["id"].as_str().expect("a batch id").to_owned()
    }

    /// An admin adds a user with a role and signs them in; returns their access token.
    pub async fn user(&self, tenant: &str, admin: &str, email: &str, role: &str) -> String {
        let res = self
            .req(Method::POST, tenant, "/api/users")
            .bearer_auth(admin)
            .json(&serde_json::json!({ "email": email, "password": PASSWORD, "role": role }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        let res = self
            .req(Method::POST, tenant, "/api/auth/login")
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Uploads files in one multipart request.
    pub async fn upload(
        &self,
        tenant: &str,
        token: &str,
        files: &[PathBuf],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in extra {
            form = form.text(k.to_string(), v.to_string());
        }
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            form = form.part(
                "file",
                reqwest::multipart::Part::bytes(std::fs::read(f).unwrap()).file_name(name),
            );
        }
        self.req(Method::POST, tenant, "/api/uploads")
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Polls an upload until it is completed or failed and its job has finished.
    pub async fn wait(&self, tenant: &str, token: &str, id: &str) -> Value {
        let started = Instant::now();
        loop {
            let v: Value = self
                .get(tenant, token, &format!("/api/uploads/{id}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // The batch commits just before its job is marked done.
            if matches!(
                v["status"].as_str(),
                Some("completed" | "completed_with_errors" | "failed")
            ) && v["job"]["status"] != "running"
            {
                return v;
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "upload {id} did not finish: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Dry-runs a sample file (`vendor/file name`) for the demo tenant; the answer's JSON.
    pub async fn dry_run(&self, token: &str, rel: &str) -> Value {
        let name = rel.rsplit('/').next().unwrap_or(rel).to_owned();
        let bytes = std::fs::read(sample(rel)).unwrap();
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name),
        );
        let res = self
            .req(Method::POST, "demo", "/api/specs/dry-run")
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn json(&self, tenant: &str, token: &str, path: &str) -> Value {
        let res = self.get(tenant, token, path).send().await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        self.db.cleanup().await;
    }
}

/// A decimal text as an exact count of millionths.
pub fn micros(s: &str) -> i128 {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let neg = int.starts_with('-');
    let frac = format!("{:0<6}", frac);
    let v = int.trim_start_matches('-').parse::<i128>().unwrap() * 1_000_000
        + frac[..6].parse::<i128>().unwrap();
    if neg {
        -v
    } else {
        v
    }
}

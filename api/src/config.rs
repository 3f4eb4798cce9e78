//! What an operator sets: one typed [`ServerConfig`] built by the binary from flags and the
//! environment, printed at start with secrets masked.

use std::time::Duration;

pub use crate::secret::Secret;

/// Requests allowed per minute, by who asks and for what.
#[derive(Debug, Clone)]
pub struct RateLimits {
    pub per_tenant: u32,
    pub per_user: u32,
    /// Per tenant and client address: guessing passwords is slow.
    pub login: u32,
    pub uploads: u32,
    /// SQL queries.
    pub query: u32,
    /// Chat questions per user.
    pub chat: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_tenant: 6000,
            per_user: 1200,
            login: 10,
            uploads: 60,
            query: 120,
            chat: 60,
        }
    }
}

/// Everything the server and workers need to know.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `acme.<base_domain>` is tenant `acme`; `localhost` and bare IPs are the demo tenant.
    pub base_domain: String,
    pub jwt_secret: Secret,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub max_upload_bytes: u64,
    pub query_timeout: Duration,
    pub query_max_rows: usize,
    /// Threads and concurrency of user SQL.
    pub query_limits: crate::query_runner::QueryLimits,
    pub rate: RateLimits,
    /// Answer `/metrics` to any client, not only to loopback ones.
    pub metrics_public: bool,
    /// Time a client has to send a request's headers; idle connections close after it too.
    pub header_timeout: Duration,
    /// How long a worker owns a job without renewing its lease.
    pub job_lease: Duration,
    /// Jobs one tenant may run at once, across all workers.
    pub jobs_per_tenant: i64,
    /// How long a running job may take to finish after shutdown was asked for; then it is
    /// given back to the queue.
    pub shutdown_grace: Duration,
    /// How often workers look for report schedules that are due.
    pub schedule_tick: Duration,
    /// The chat's language model; without one the built-in planner answers alone.
    pub llm: Option<crate::chat::model::LlmConfig>,
    /// The built web app (`index.html` and `assets/`), served at `/`.
    pub web_dir: Option<std::path::PathBuf>,
    /// Outbound email; without an SMTP server emails are logged as not sent.
    pub email: crate::email::EmailConfig,
    /// Webhooks may post to private, loopback and link-local addresses.
    pub allow_private_webhooks: bool,
    /// How long files removed from the lake stay for time travel before workers vacuum them.
    pub lake_retention: Duration,
    /// Workers merge a month of a tenant's table into one file once it is held in this many
    /// files (`taskifai lake optimize`); 0: never on their own.
    pub optimize_files: usize,
    /// Where queries over the lake run; this process when `None`.
    pub query_engine: Option<crate::query_engine::QueryEngine>,
}

impl ServerConfig {
    /// Defaults for everything but the secret.
    pub fn new(jwt_secret: Secret) -> Self {
        Self {
            base_domain: "taskifai.localhost".into(),
            jwt_secret,
            access_ttl: Duration::from_secs(5 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            max_upload_bytes: 100 * 1024 * 1024,
            query_timeout: Duration::from_secs(30),
            query_max_rows: 10_000,
            query_limits: Default::default(),
            rate: RateLimits::default(),
            metrics_public: false,
            header_timeout: Duration::from_secs(10),
            job_lease: Duration::from_secs(60),
            jobs_per_tenant: 2,
            shutdown_grace: Duration::from_secs(20),
            schedule_tick: Duration::from_secs(15),
            llm: None,
            web_dir: None,
            email: Default::default(),
            allow_private_webhooks: false,
            lake_retention: Duration::from_secs(7 * 24 * 3600),
            optimize_files: 16,
            query_engine: None,
        }
    }

    /// The start-up summary, one setting per line.
    pub fn summary(&self) -> String {
        format!(
            "base domain       {}\njwt secret        {:?}\naccess token ttl  {:?}\nrefresh ttl       {:?}\nmax upload        {} MB\nquery timeout     {:?}, {} rows\nrate limits/min   {:?}\njob lease         {:?}, {} jobs per tenant, shutdown grace {:?}\nchat model        {}\nemail             {}\nlake retention    {} h\nquery engine      {}",
            self.base_domain,
            self.jwt_secret,
            self.access_ttl,
            self.refresh_ttl,
            self.max_upload_bytes / (1024 * 1024),
            self.query_timeout,
            self.query_max_rows,
            self.rate,
            self.job_lease,
            self.jobs_per_tenant,
            self.shutdown_grace,
            match &self.llm {
                Some(l) => format!("{} at {}", l.model, l.base_url),
                None => "none (the built-in planner)".into(),
            },
            match &self.email.smtp_url {
                // The URL may hold credentials: only that one is set.
                Some(_) => format!("SMTP, from {}", self.email.from),
                None => "no SMTP server: emails are logged as not sent".into(),
            },
            self.lake_retention.as_secs() / 3600,
            self.query_engine
                .as_ref()
                .map_or("local (this process)", |e| e.url.as_str())
        )
    }
}

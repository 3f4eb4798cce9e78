//! Command-line interface: argument types and dispatch.

mod bench;
mod catalog;
mod chat;
#[cfg(feature = "ballista")]
mod cluster;
pub mod config_file;
mod db;
mod edge_cases;
mod fx;
mod history;
mod ingest;
mod query;
mod report;
mod samples;
mod serve;
mod spec;
mod supervise;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use taskifai_connectors::TenantId;

/// Exit code of a run that loaded data but rejected some rows.
pub const EXIT_WITH_REJECTS: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "taskifai",
    version,
    about = "Sell-out files to one clean dataset: detect, ingest, test specs, query."
)]
pub struct Cli {
    /// Lake location: a folder or file:// URL.
    #[arg(
        long,
        global = true,
        env = "TASKIFAI_LAKE",
        default_value = "./data/lake"
    )]
    pub lake: String,
    /// Folder of vendor specs.
    #[arg(
        long,
        global = true,
        env = "TASKIFAI_SPECS",
        default_value = "vendor-specs"
    )]
    pub specs: PathBuf,
    /// Folder of the tenant's reference tables (products, vendor_products, prices, fx_rates).
    #[arg(
        long,
        global = true,
        env = "TASKIFAI_REFERENCE",
        default_value = "sample-data/reference"
    )]
    pub reference: PathBuf,
    /// Registry database; tenant databases live on the same server. Without it, loads go to
    /// the lake only.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A YAML file of options (keys as the long flags, with `_`); flags and the environment win.
    #[arg(long, global = true, env = "TASKIFAI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where queries over the lake run: `local` (this process), or `ballista://HOST:PORT`, a
    /// Ballista cluster's scheduler (builds with the `ballista` feature; see README).
    #[arg(
        long,
        global = true,
        env = "TASKIFAI_QUERY_ENGINE",
        default_value = "local"
    )]
    pub query_engine: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Folder the history is written to (emptied first).
    #[arg(long, default_value = "data/demo-history")]
    pub out: PathBuf,
    /// Last month of the history, YYYY-MM; default the last full month.
    #[arg(long, value_parser = parse_month)]
    pub until: Option<chrono::NaiveDate>,
    /// How many months.
    #[arg(long, default_value_t = 24)]
    pub months: u32,
}

fn parse_month(s: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .map_err(|_| format!("expected a month as YYYY-MM, got {s:?}"))
}

impl HistoryArgs {
    /// Writes the history and returns its files in load order.
    pub fn generate(&self) -> anyhow::Result<Vec<PathBuf>> {
        let until = self
            .until
            .unwrap_or_else(|| history::last_full_month(chrono::Utc::now().date_naive()));
        if self.out.exists() {
            std::fs::remove_dir_all(&self.out)?;
        }
        history::generate(&self.out, &history::Window::new(until, self.months))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Which vendor spec matches a file, with scores and reasons.
    Detect { files: Vec<PathBuf> },
    /// Normalize files and load them into a tenant's lake.
    Ingest(ingest::IngestArgs),
    /// Load a sell-out history into the demo tenant (generated into --out: every month up to
    /// the last full one, from all nine formats) and show what is there. With --samples, load
    /// those files instead.
    Demo {
        #[arg(long)]
        samples: Option<PathBuf>,
        #[command(flatten)]
        history: HistoryArgs,
    },
    /// Check and test vendor specs.
    Spec {
        #[command(subcommand)]
        command: SpecCommand,
    },
    /// Ask a question about a tenant's sales in plain English; prints how it was understood,
    /// the answer, the SQL and the rows. With --eval, scores the planner on a question file.
    Chat {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        /// A YAML file of questions with expected answers (see tests/chat/questions.yaml).
        #[arg(long, conflicts_with = "question")]
        eval: Option<PathBuf>,
        /// Print the whole reply as JSON.
        #[arg(long)]
        json: bool,
        /// Ask the language model configured by the --llm-* options (or TASKIFAI_LLM_*).
        #[arg(long)]
        llm: bool,
        #[command(flatten)]
        model: LlmArgs,
        #[arg(required_unless_present = "eval")]
        question: Vec<String>,
    },
    /// Run a read-only SQL query over a tenant's lake.
    Query {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Most rows returned.
        #[arg(long, default_value_t = 10_000)]
        max_rows: usize,
        /// Time travel: the lake as of a version (`42`, printed on stderr), a time
        /// (`2025-06-30T12:00:00Z`) or the end of a day (`2025-06-30`, UTC).
        #[arg(long)]
        as_of: Option<taskifai_connectors::lake::AsOf>,
        /// Stop the query after this many seconds, with an error (0: no limit).
        #[arg(long, default_value_t = 0)]
        timeout_secs: u64,
        sql: String,
    },
    /// Write the sales report (PDF, XLSX or CSV) of a tenant's lake to a file.
    Report(report::ReportArgs),
    /// Generate the demo's sell-out history: every month of a window from all nine formats.
    GenHistory(HistoryArgs),
    /// Rebuild the sample files of every reseller format.
    GenSamples {
        #[arg(long, default_value = "sample-data/vendors")]
        out: PathBuf,
    },
    /// Generate a benchmark file and the truth it must give.
    GenBench {
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value = "csv", value_parser = ["csv", "xlsx"])]
        format: String,
        #[arg(long, default_value = "benches/out")]
        out: PathBuf,
    },
    /// Apply database migrations to the registry and every tenant.
    Migrate,
    /// Import or export a tenant's products, vendor product mappings, price lists and FX rates.
    Catalog {
        #[command(subcommand)]
        command: catalog::CatalogCommand,
    },
    /// Per reseller: its cadence, and the periods whose files are missing or late.
    Completeness {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        /// Judge as of this day (YYYY-MM-DD; default today).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// The ECB's euro reference rates as monthly rates: print them, or import a tenant's own.
    Fx {
        #[command(subcommand)]
        command: fx::FxCommand,
    },
    /// Manage tenants and their databases.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// Run the REST API (and, unless --workers 0, background workers in the same process).
    Serve {
        #[arg(long, env = "TASKIFAI_HOST", default_value = "127.0.0.1")]
        host: String,
        #[arg(long, env = "TASKIFAI_PORT", default_value_t = 8080)]
        port: u16,
        /// Run the workers in this process instead of a child process. A load that aborts the
        /// process then takes the API down with it.
        #[arg(long, env = "TASKIFAI_IN_PROCESS_WORKERS")]
        in_process_workers: bool,
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Run background workers only (scale out against the same database and object store).
    Worker {
        #[command(flatten)]
        service: ServiceArgs,
    },
    /// Platform administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Lake maintenance.
    Lake {
        #[command(subcommand)]
        command: LakeCommand,
    },
    /// Run a Ballista scheduler or executor that runs TaskifAI's queries (see README).
    #[cfg(feature = "ballista")]
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum SpecCommand {
    /// Schema and semantic checks; errors carry file:line:column.
    Validate { files: Vec<PathBuf> },
    /// Run the examples embedded in each spec.
    Test { files: Vec<PathBuf> },
    /// Print the JSON Schema of the spec format.
    Schema,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its own database.
    Create {
        id: TenantId,
        #[arg(long)]
        name: Option<String>,
        /// Load the demo reference data (products, mappings, prices, FX rates).
        #[arg(long)]
        seed_demo: bool,
    },
    List,
    Suspend {
        id: TenantId,
    },
    Resume {
        id: TenantId,
    },
    /// Drop a tenant's database (its lake stays). Exports every table as CSV first unless --force.
    Drop {
        id: TenantId,
        #[arg(long)]
        force: bool,
        #[arg(long, default_value = "exports")]
        export_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// List the live batches of a tenant.
    Batches {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
    },
    /// Remove a batch.
    Delete {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        batch: String,
    },
    /// Merge each month of the tenant's tables held in many small files (one per upload and
    /// month) into one file; the first time, every month (see README, "The lake").
    Optimize {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        /// Merge a month once it is held in at least this many files.
        #[arg(long, default_value_t = 2)]
        min_files: usize,
    },
    /// Delete data files that no commit references (left by crashed loads).
    Vacuum {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
        /// Only files at least this old go: younger ones may belong to a load in flight.
        #[arg(long, default_value_t = 3600)]
        min_age_secs: u64,
    },
    /// Convert a lake written before Delta Lake (one `_log` per tenant) into Delta tables. Data
    /// files are kept where they can be and rewritten only when they store per-file columns;
    /// safe to run again after an interruption.
    Migrate {
        #[arg(long, default_value = "demo")]
        tenant: TenantId,
    },
}

/// Settings shared by `serve` and `worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// Tenants are `<subdomain>.<base domain>`; localhost and IPs are the demo tenant.
    #[arg(
        long,
        env = "TASKIFAI_BASE_DOMAIN",
        default_value = "taskifai.localhost"
    )]
    pub base_domain: String,
    /// Signs access tokens; every server process needs the same one.
    #[arg(long, env = "TASKIFAI_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Seconds an access token lives. Access tokens are not checked against revoked sessions
    /// (that would cost a database read per request), so a revoked session keeps working for at
    /// most this long.
    #[arg(long, env = "TASKIFAI_ACCESS_TTL_SECS", default_value_t = 300)]
    pub access_ttl_secs: u64,
    #[arg(long, env = "TASKIFAI_MAX_UPLOAD_MB", default_value_t = 100)]
    pub max_upload_mb: u64,
    /// Worker loops in this process.
    #[arg(long, env = "TASKIFAI_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Seconds a worker owns a job without renewing; a dead worker's job is retaken after it.
    #[arg(long, env = "TASKIFAI_JOB_LEASE_SECS", default_value_t = 60)]
    pub lease_secs: u64,
    /// Jobs one tenant may run at once across all workers; by default one less than this
    /// process's workers (at least 1), so one tenant's queue never takes every worker.
    #[arg(long, env = "TASKIFAI_JOBS_PER_TENANT")]
    pub jobs_per_tenant: Option<i64>,
    /// Answer /metrics to any client; by default only to clients on this machine.
    #[arg(long, env = "TASKIFAI_METRICS_PUBLIC")]
    pub metrics_public: bool,
    /// Seconds a client has to send a request's headers (idle connections close after it).
    #[arg(long, env = "TASKIFAI_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a running job may take to finish on shutdown before it is given back.
    #[arg(long, env = "TASKIFAI_GRACE_SECS", default_value_t = 20)]
    pub grace_secs: u64,
    #[command(flatten)]
    pub llm: LlmArgs,
    /// Outbound email: smtp://host:25, smtp://user:pass@host:587?tls=required (STARTTLS) or
    /// smtps://host:465. Without it emails are logged as not sent.
    #[arg(long, env = "TASKIFAI_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The sender of every email.
    #[arg(
        long,
        env = "TASKIFAI_SMTP_FROM",
        default_value = "TaskifAI <noreply@taskifai.localhost>"
    )]
    pub smtp_from: String,
    /// The web app's address in emails' links; {tenant} stands for the tenant's subdomain.
    #[arg(
        long,
        env = "TASKIFAI_PUBLIC_URL",
        default_value = "http://{tenant}.taskifai.localhost:8080"
    )]
    pub public_url: String,
    /// Let webhooks post to private, loopback and link-local addresses (a deployment whose
    /// receivers are on its own network). Off: such targets are refused.
    #[arg(long, env = "TASKIFAI_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// Hours a file removed from the lake (by a replace or delete) stays on storage, for time
    /// travel and for queries that started before the removal; workers vacuum every hour.
    #[arg(long, env = "TASKIFAI_LAKE_RETENTION_HOURS", default_value_t = 168)]
    pub lake_retention_hours: u64,
    /// Workers merge a month of a tenant's table into one file once a load leaves it in this
    /// many files (and check every hour); 0: only `taskifai lake optimize` does.
    #[arg(long, env = "TASKIFAI_OPTIMIZE_FILES", default_value_t = 16)]
    pub optimize_files: usize,
    /// The built web app, served at /; the API alone when it has no index.html.
    #[arg(long, env = "TASKIFAI_WEB_DIR", default_value = "api/web/dist")]
    pub web_dir: std::path::PathBuf,
}

/// The chat's language model: any OpenAI-compatible chat-completions endpoint. Without a base
/// URL and a model the built-in planner answers alone.
#[derive(clap::Args, Debug, Clone)]
pub struct LlmArgs {
    /// e.g. https://api.openai.com/v1, or http://127.0.0.1:11434/v1 for Ollama.
    #[arg(long, env = "TASKIFAI_LLM_BASE_URL")]
    pub llm_base_url: Option<String>,
    #[arg(long, env = "TASKIFAI_LLM_MODEL")]
    pub llm_model: Option<String>,
    #[arg(long, env = "TASKIFAI_LLM_API_KEY", hide_env_values = true)]
    pub llm_api_key: Option<String>,
    /// Seconds one model call may take.
    #[arg(long, env = "TASKIFAI_LLM_TIMEOUT_SECS", default_value_t = 30)]
    pub llm_timeout_secs: u64,
    /// USD per million prompt tokens, for the usage table.
    #[arg(long, env = "TASKIFAI_LLM_PROMPT_PRICE", default_value_t = 0.0)]
    pub llm_prompt_price: f64,
    /// USD per million completion tokens.
    #[arg(long, env = "TASKIFAI_LLM_COMPLETION_PRICE", default_value_t = 0.0)]
    pub llm_completion_price: f64,
    /// Model tokens one tenant may use per calendar month; the chat answers 429 beyond.
    #[arg(long, env = "TASKIFAI_LLM_MONTHLY_TOKENS")]
    pub llm_monthly_tokens: Option<i64>,
}

impl LlmArgs {
    pub fn config(&self) -> Option<taskifai_api::chat::model::LlmConfig> {
        Some(taskifai_api::chat::model::LlmConfig {
            base_url: self.llm_base_url.clone()?,
            model: self.llm_model.clone()?,
            api_key: self
                .llm_api_key
                .clone()
                .map(taskifai_api::config::Secret::new),
            timeout: std::time::Duration::from_secs(self.llm_timeout_secs.max(1)),
            prompt_price: self.llm_prompt_price,
            completion_price: self.llm_completion_price,
            monthly_token_budget: self.llm_monthly_tokens,
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add (or reset the password of) a platform admin.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long, env = "TASKIFAI_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Invite someone to a tenant (its first admin, usually); prints the one-time invite
    /// token to register with (POST /api/auth/register with `invite`).
    Invite {
        #[arg(long)]
        tenant: TenantId,
        #[arg(long)]
        email: String,
        /// admin, member or viewer.
        #[arg(long, default_value = "admin")]
        role: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Detect { files } => ingest::detect(&cli, files),
        Command::Ingest(args) => ingest::ingest(&cli, args).await,
        Command::Demo { samples, history } => ingest::demo(&cli, samples.as_deref(), history).await,
        Command::Spec { command } => spec::run(&cli, command),
        Command::Query {
            tenant,
            format,
            max_rows,
            as_of,
            timeout_secs,
            sql,
        } => {
            let limits = query::Limits {
                max_rows: *max_rows,
                timeout: (*timeout_secs > 0).then(|| std::time::Duration::from_secs(*timeout_secs)),
            };
            query::run(&cli, tenant, *format, limits, sql, *as_of).await
        }
        Command::Lake { command } => query::lake(&cli, command).await,
        #[cfg(feature = "ballista")]
        Command::Cluster { command } => cluster::run(&cli, command).await,
        Command::Report(args) => report::run(&cli, args).await,
        Command::Chat {
            tenant,
            eval,
            json,
            llm,
            model,
            question,
        } => {
            let model = match (*llm, model.config()) {
                (false, _) => None,
                (true, Some(c)) => Some(taskifai_api::chat::model::Model::new(c)),
                (true, None) => anyhow::bail!("--llm needs --llm-base-url and --llm-model (or TASKIFAI_LLM_BASE_URL and TASKIFAI_LLM_MODEL)"),
            };
            match eval {
                Some(file) => chat::eval(&cli, tenant, file, model.as_ref()).await,
                None => chat::ask(&cli, tenant, &question.join(" "), *json, model.as_ref()).await,
            }
        }
        Command::Migrate => db::migrate(&cli).await,
        Command::GenBench {
            rows,
            seed,
            format,
            out,
        } => {
            let (path, truth) = bench::generate(out, *rows, *seed, format)?;
            println!(
                "wrote {} ({} accepted, rejects {:?}, sales_eur {})",
                path.display(),
                truth.accepted,
                truth.rejects,
                truth.sales_eur
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Tenant { command } => db::tenant(&cli, command).await,
        Command::Catalog { command } => catalog::run(&cli, command).await,
        Command::Fx { command } => fx::run(&cli, command).await,
        Command::Completeness { tenant, as_of } => db::completeness(&cli, tenant, *as_of).await,
        Command::Serve {
            host,
            port,
            in_process_workers,
            service,
        } => serve::serve(&cli, service, host, *port, *in_process_workers).await,
        Command::Worker { service } => serve::worker(&cli, service).await,
        Command::Admin {
            command: AdminCommand::Add { email, password },
        } => serve::add_admin(&cli, email, password).await,
        Command::Admin {
            command:
                AdminCommand::Invite {
                    tenant,
                    email,
                    role,
                },
        } => serve::invite(&cli, tenant, email, role).await,
        Command::GenHistory(args) => {
            let files = args.generate()?;
            println!("wrote {} files under {}", files.len(), args.out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::GenSamples { out } => {
            let edge = out.parent().unwrap_or(out).join("edge-cases");
            for p in samples::generate(out)?
                .into_iter()
                .chain(edge_cases::generate(&edge)?)
            {
                println!("wrote {}", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

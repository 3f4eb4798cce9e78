//! `taskifai serve`, `taskifai worker` and `taskifai admin add`: the service side.

use super::{Cli, ServiceArgs};
use anyhow::Context;
use std::process::ExitCode;
use std::time::Duration;
use taskifai_api::config::{Secret, ServerConfig};
use taskifai_api::AppState;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::postgres::pools::{PoolConfig, PoolManager};
use taskifai_connectors::TenantId;
use tokio::sync::watch;

fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,datafusion=warn".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if std::env::var("TASKIFAI_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

fn config(args: &ServiceArgs) -> ServerConfig {
    let secret = match &args.jwt_secret {
        Some(s) => Secret::new(s.clone()),
        None => {
            tracing::warn!("TASKIFAI_JWT_SECRET is not set: using a random secret, so tokens die with this process and other processes will not accept them.");
            Secret::new(taskifai_api::server::auth::random_token(""))
        }
    };
    let mut c = ServerConfig::new(secret);
    c.base_domain = args.base_domain.clone();
    c.max_upload_bytes = args.max_upload_mb * 1024 * 1024;
    c.job_lease = Duration::from_secs(args.lease_secs.max(1));
    c.jobs_per_tenant = args
        .jobs_per_tenant
        .unwrap_or(args.workers as i64 - 1)
        .max(1);
    c.access_ttl = Duration::from_secs(args.access_ttl_secs);
    c.shutdown_grace = Duration::from_secs(args.grace_secs);
    c.metrics_public = args.metrics_public;
    c.header_timeout = Duration::from_secs(args.header_timeout_secs.max(1));
    c.llm = args.llm.config();
    c.web_dir = Some(args.web_dir.clone());
    c.email = taskifai_api::email::EmailConfig {
        smtp_url: args.smtp_url.clone().map(Secret::new),
        from: args.smtp_from.clone(),
        public_url: args.public_url.clone(),
    };
    c.allow_private_webhooks = args.allow_private_webhooks;
    c.lake_retention = Duration::from_secs(args.lake_retention_hours * 3600);
    c.optimize_files = args.optimize_files;
    c
}

async fn state(cli: &Cli, args: &ServiceArgs) -> anyhow::Result<AppState> {
    let registry = super::db::registry(cli).await?;
    let pools = PoolManager::new(registry.clone(), PoolConfig::default());
    let lake = Lake::open(&cli.lake)?;
    let specs = super::ingest::specs(cli)?;
    let mut config = config(args);
    config.query_engine = taskifai_api::query_engine::connect(&cli.query_engine).await?;
    println!(
        "TaskifAI {}\nlake              {}\nspecs             {} vendors from {}\n{}",
        env!("CARGO_PKG_VERSION"),
        cli.lake,
        specs.vendors().len(),
        cli.specs.display(),
        config.summary()
    );
    Ok(AppState::new(config, registry, pools, lake, specs))
}

/// A channel that turns true on Ctrl-C or SIGTERM.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
        tracing::info!("Shutting down.");
        let _ = tx.send(true);
    });
    rx
}

pub async fn serve(
    cli: &Cli,
    args: &ServiceArgs,
    host: &str,
    port: u16,
    in_process_workers: bool,
) -> anyhow::Result<ExitCode> {
    init_logs();
    let state = state(cli, args).await?;
    let listener = tokio::net::TcpListener::bind((host, port))
        .await
        .with_context(|| format!("binding {host}:{port}"))?;
    println!("listening on http://{}", listener.local_addr()?);
    let shutdown = shutdown_signal();
    let workers = match (args.workers, in_process_workers) {
        (0, _) => None,
        (n, true) => {
            let t = taskifai_api::worker::spawn_background(state.clone(), n, shutdown.clone())?;
            Some(tokio::task::spawn_blocking(move || {
                let _ = t.join();
            }))
        }
        (_, false) => {
            let launch = super::supervise::Launch::new(cli, args);
            Some(tokio::spawn(super::supervise::workers(
                launch,
                shutdown.clone(),
            )))
        }
    };
    let mut stop = shutdown.clone();
    taskifai_api::serve(listener, state, async move {
        let _ = stop.wait_for(|s| *s).await;
    })
    .await?;
    if let Some(w) = workers {
        let _ = w.await;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn worker(cli: &Cli, args: &ServiceArgs) -> anyhow::Result<ExitCode> {
    init_logs();
    let state = state(cli, args).await?;
    println!("working with {} workers", args.workers.max(1));
    taskifai_api::worker::run(state, args.workers.max(1), shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

pub async fn invite(
    cli: &Cli,
    tenant: &TenantId,
    email: &str,
    role: &str,
) -> anyhow::Result<ExitCode> {
    use taskifai_api::server::{auth::Role, invites};
    let role = Role::parse(role)
        .ok_or_else(|| anyhow::anyhow!("role {role:?}: expected admin, member or viewer"))?;
    let pool = super::db::tenant_pool(cli, tenant).await?.ok_or_else(|| {
        anyhow::anyhow!("invites live in the tenant's database: set DATABASE_URL")
    })?;
    let invite = invites::create(&pool, email, role, "cli")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "invite for {} ({}) on tenant {tenant}, valid until {}:\n{}",
        invite.email,
        role.as_str(),
        invite.expires_at.format("%Y-%m-%d %H:%M UTC"),
        invite.invite_token
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn add_admin(cli: &Cli, email: &str, password: &str) -> anyhow::Result<ExitCode> {
    let registry = super::db::registry(cli).await?;
    if password.chars().count() < 10 {
        anyhow::bail!("a password needs at least 10 characters");
    }
    let hash = taskifai_api::server::auth::hash_password(password.to_owned())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    sqlx::query("INSERT INTO platform_admins (email, password_hash) VALUES ($1, $2) ON CONFLICT (email) DO UPDATE SET password_hash = EXCLUDED.password_hash")
        .bind(email.trim().to_lowercase())
        .bind(hash)
        .execute(&registry.pool)
        .await?;
    println!("platform admin {email} can sign in at /api/admin/login");
    Ok(ExitCode::SUCCESS)
}

//! `serve` runs its workers in a child process (`taskifai worker`): a file that makes a load
//! abort the process (a stack overflow, an allocation failure) ends the child, never the API.
//! The child is started again after a pause; the job it held is taken over when its lease runs
//! out, and set aside after its second lost lease (see `jobs::MAX_LOST_LEASES`).

use super::{Cli, ServiceArgs};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// Pause before a stopped worker process is started again.
const RESTART_PAUSE: Duration = Duration::from_secs(2);

/// How to start the worker process: this binary's path, arguments and environment.
pub struct Launch {
    args: Vec<String>,
    /// Settings passed in the environment rather than on the command line, which any local
    /// user can read: the database URL and the SMTP URL may hold passwords.
    env: Vec<(&'static str, String)>,
    grace: Duration,
}

impl Launch {
    /// The same binary as a worker, with this server's settings.
    pub fn new(cli: &Cli, args: &ServiceArgs) -> Self {
        let mut a: Vec<String> = vec![
            "--lake".into(),
            cli.lake.clone(),
            "--specs".into(),
            cli.specs.display().to_string(),
            "--reference".into(),
            cli.reference.display().to_string(),
            "--query-engine".into(),
            cli.query_engine.clone(),
            "worker".into(),
        ];
        for (flag, value) in [
            ("--workers", args.workers.to_string()),
            ("--lease-secs", args.lease_secs.to_string()),
            ("--grace-secs", args.grace_secs.to_string()),
            ("--max-upload-mb", args.max_upload_mb.to_string()),
            ("--base-domain", args.base_domain.clone()),
            // The workers send the emails and webhooks: they need the server's settings.
            ("--smtp-from", args.smtp_from.clone()),
            ("--public-url", args.public_url.clone()),
            (
                "--lake-retention-hours",
                args.lake_retention_hours.to_string(),
            ),
            ("--optimize-files", args.optimize_files.to_string()),
        ] {
            a.extend([flag.to_owned(), value]);
        }
        if let Some(n) = args.jobs_per_tenant {
            a.extend(["--jobs-per-tenant".to_owned(), n.to_string()]);
        }
        if args.allow_private_webhooks {
            a.push("--allow-private-webhooks".into());
        }
        let mut env = vec![];
        if let Some(url) = &cli.database_url {
            env.push(("DATABASE_URL", url.clone()));
        }
        if let Some(url) = &args.smtp_url {
            env.push(("TASKIFAI_SMTP_URL", url.clone()));
        }
        Self {
            args: a,
            env,
            grace: Duration::from_secs(args.grace_secs + 5),
        }
    }

    fn command(&self) -> Command {
        let exe = std::env::current_exe().unwrap_or_else(|_| "taskifai".into());
        let mut c = Command::new(exe);
        c.args(&self.args).kill_on_drop(true);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }
}

/// Keeps one worker process running until `shutdown` turns true, then stops it gracefully.
pub async fn workers(launch: Launch, mut shutdown: watch::Receiver<bool>) {
    loop {
        let mut child = match launch.command().spawn() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "The worker process could not be started.");
                if pause_or_stop(&mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        let stopped = tokio::select! {
            status = child.wait() => Some(status),
            _ = shutdown.wait_for(|s| *s) => None,
        };
        match stopped {
            Some(status) => {
                tracing::error!(status = ?status, "The worker process stopped; starting it again.");
                if pause_or_stop(&mut shutdown).await {
                    return;
                }
            }
            None => {
                stop(&mut child, launch.grace).await;
                return;
            }
        }
    }
}

/// Waits before a restart; true when the server is shutting down meanwhile.
async fn pause_or_stop(shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(RESTART_PAUSE) => false,
        _ = shutdown.wait_for(|s| *s) => true,
    }
}

/// SIGTERM, so the child finishes or gives back its job within its grace time; then SIGKILL.
async fn stop(child: &mut Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // The shell's own `kill`: no extra package, and no unsafe code for a signal.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status()
            .await;
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// The worker process gets what it needs to send email and webhooks (it once did not, and
    /// every email of a `serve` was logged as not sent).
    #[test]
    fn the_worker_process_gets_the_servers_email_and_webhook_settings() {
        let cli = Cli::try_parse_from([
            "taskifai",
            "--database-url",
            "postgres://u:secret@db/registry",
            "serve",
            "--smtp-url",
            "smtp://mailer:pw@smtp.example:587?tls=required",
            "--smtp-from",
            "Bibbi <noreply@bibbi.example>",
            "--public-url",
            "https://{tenant}.app.example",
            "--allow-private-webhooks",
        ])
        .unwrap();
        let super::super::Command::Serve { service, .. } = &cli.command else {
            panic!("serve");
        };
        let launch = Launch::new(&cli, service);
        let after = |flag: &str| {
            let i = launch.args.iter().position(|a| a == flag).unwrap();
            launch.args[i + 1].clone()
        };
        assert_eq!(after("--smtp-from"), "Bibbi <noreply@bibbi.example>");
        assert_eq!(after("--public-url"), "https://{tenant}.app.example");
        assert!(launch.args.contains(&"--allow-private-webhooks".to_owned()));
        assert!(
            !launch.args.iter().any(|a| a.contains("pw@")),
            "no password on the command line: {:?}",
            launch.args
        );
        let env: std::collections::HashMap<_, _> = launch.env.iter().cloned().collect();
        assert_eq!(
            env["TASKIFAI_SMTP_URL"],
            "smtp://mailer:pw@smtp.example:587?tls=required"
        );
        assert_eq!(env["DATABASE_URL"], "postgres://u:secret@db/registry");
    }
}

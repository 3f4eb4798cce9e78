//! `taskifai cluster scheduler` and `taskifai cluster executor`: the processes of a Ballista
//! cluster that runs TaskifAI's queries.

use super::Cli;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use taskifai_connectors::lake::Lake;

#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: servers and the CLI send it their plans (--query-engine ballista://HOST:PORT).
    Scheduler {
        #[arg(long, default_value = "0.0.0.0:50050")]
        bind: SocketAddr,
        /// The name executors reach this scheduler by.
        #[arg(long, default_value = "localhost")]
        external_host: String,
    },
    /// An executor: runs plans' tasks, reading the lake (--lake) itself.
    Executor {
        /// The scheduler, ballista://HOST:PORT.
        #[arg(long, default_value = "ballista://localhost:50050")]
        scheduler: String,
        /// Address of the executor's Flight service, from which results are fetched.
        #[arg(long, default_value = "0.0.0.0:50051")]
        bind: SocketAddr,
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// The name other machines reach this executor by.
        #[arg(long)]
        external_host: Option<String>,
        /// Task slots; the machine's cores by default.
        #[arg(long)]
        cores: Option<usize>,
        /// Where shuffle files go.
        #[arg(long)]
        work_dir: Option<PathBuf>,
    },
}

pub async fn run(cli: &Cli, command: &ClusterCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Scheduler {
            bind,
            external_host,
        } => {
            println!("Ballista scheduler for TaskifAI on {bind}");
            taskifai_cluster::serve_scheduler(*bind, external_host).await?;
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            external_host,
            cores,
            work_dir,
        } => {
            let lake = Lake::open(&cli.lake)?;
            let stores = lake
                .root_store()
                .map(|store| vec![(lake.url().clone(), store)])
                .unwrap_or_default();
            let opts = taskifai_cluster::ExecutorOptions {
                scheduler: scheduler.clone(),
                bind: *bind,
                grpc_port: *grpc_port,
                external_host: external_host.clone(),
                cores: cores
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
                work_dir: work_dir.clone(),
            };
            println!(
                "Ballista executor for TaskifAI on {bind}, reading {}",
                cli.lake
            );
            taskifai_cluster::serve_executor(opts, stores).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! The processes of a cluster: a scheduler and executors that speak TaskifAI's codec and can
//! read the lake, in this process (for one machine and tests) or as their own services.

use crate::codec::Codec;
use crate::ClusterError;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::RuntimeProducer;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::prelude::SessionConfig;
use object_store::ObjectStore;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Object stores the executors read, by the URL of their root (`s3://bucket`); local files
/// need none.
pub type Stores = Vec<(Url, Arc<dyn ObjectStore>)>;

fn runtime(stores: &Stores) -> Arc<RuntimeEnv> {
    let runtime = RuntimeEnv::default();
    for (url, store) in stores {
        runtime.register_object_store(url, store.clone());
    }
    Arc::new(runtime)
}

/// A scheduler and one executor with `cores` task slots in this process, on loopback ports
/// the system picks; returns the `ballista://` URL to plan with.
pub async fn standalone(cores: usize, stores: &Stores) -> Result<String, ClusterError> {
    let config = SessionConfig::new_with_ballista()
        .with_ballista_physical_extension_codec(Arc::new(Codec::default()));
    let state: SessionState = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime(stores))
        .with_default_features()
        .build();
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_from_state(&state).await?;
    let url = format!("http://localhost:{}", addr.port());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let scheduler = loop {
        match SchedulerGrpcClient::connect(url.clone()).await {
            Ok(client) => break client,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(ClusterError::Unreachable {
                    url,
                    message: e.to_string(),
                })
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    ballista_executor::new_standalone_executor_from_state(scheduler, cores.max(1), &state).await?;
    Ok(format!("ballista://localhost:{}", addr.port()))
}

/// Runs a scheduler on `bind` until the process ends.
pub async fn serve_scheduler(bind: SocketAddr, external_host: &str) -> Result<(), ClusterError> {
    let config = SchedulerConfig {
        bind_host: bind.ip().to_string(),
        bind_port: bind.port(),
        external_host: external_host.to_owned(),
        override_physical_codec: Some(Arc::new(Codec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config)).await?;
    Ok(())
}

/// Where an executor listens and whom it works for.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `ballista://host:port`.
    pub scheduler: String,
    /// Address of the executor's Flight service, which serves its results.
    pub bind: SocketAddr,
    /// Port of its gRPC service.
    pub grpc_port: u16,
    /// The name other machines reach it by (the bind address when unset).
    pub external_host: Option<String>,
    /// Task slots.
    pub cores: usize,
    /// Where shuffle files go (a temporary folder when unset).
    pub work_dir: Option<PathBuf>,
}

/// Runs an executor until the process ends; it reads the lake through `stores`.
pub async fn serve_executor(opts: ExecutorOptions, stores: Stores) -> Result<(), ClusterError> {
    let planner = crate::ClusterPlanner::new(&opts.scheduler)?;
    let scheduler = Url::parse(&planner.shared.scheduler).map_err(|e| ClusterError::Url {
        url: opts.scheduler.clone(),
        message: e.to_string(),
    })?;
    let runtime = runtime(&stores);
    let producer: RuntimeProducer = Arc::new(move |_| Ok(runtime.clone()));
    let config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        port: opts.bind.port(),
        grpc_port: opts.grpc_port,
        external_host: opts.external_host,
        scheduler_host: scheduler.host_str().unwrap_or("localhost").to_owned(),
        scheduler_port: scheduler.port().unwrap_or(50050),
        // Not 0, which tries once: an executor started with (or before) its scheduler would
        // exit. Ballista then retries every half second until the scheduler answers.
        scheduler_connect_timeout_seconds: 60,
        vcores: opts.cores.max(1),
        work_dir: opts.work_dir.map(|p| p.display().to_string()),
        override_physical_codec: Some(Arc::new(Codec::default())),
        override_runtime_producer: Some(producer),
        print_thread_info: false,
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}

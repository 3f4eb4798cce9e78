//! TaskifAI's queries on an Apache Ballista cluster. The server and the CLI still parse, guard
//! and plan every query over the tenant's snapshot, exactly as on one machine; the
//! [`ClusterPlanner`] then sends the physical plans that read lake files to the cluster's
//! scheduler, which cuts them into stages for its executors, and streams the answer back. Plans
//! over what this process already holds in memory (the dashboard's rollups) run here: sending
//! their rows would cost more than running them.
//!
//! The plan names the snapshot's files itself, so an executor reads exactly the files of one
//! tenant's snapshot and never lists the lake; executors need read access to the lake's object
//! store ([`serve_executor`]).

mod codec;
mod exec;
mod planner;
mod process;

pub use codec::Codec;
pub use planner::ClusterPlanner;
pub use process::{serve_executor, serve_scheduler, standalone, ExecutorOptions, Stores};

/// What can go wrong reaching or running a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("query engine `{url}`: {message} (expected ballista://HOST:PORT)")]
    Url { url: String, message: String },
    #[error("the Ballista scheduler at {url} does not answer: {message}")]
    Unreachable { url: String, message: String },
    #[error("Ballista: {0}")]
    Ballista(#[from] ballista_core::error::BallistaError),
    #[error(transparent)]
    Query(#[from] datafusion::error::DataFusionError),
}

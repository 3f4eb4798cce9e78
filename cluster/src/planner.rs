//! The session's query planner when queries run on a cluster.

use crate::codec::Codec;
use crate::exec::ClusterExec;
use crate::ClusterError;
use async_trait::async_trait;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use datafusion::catalog::Session;
use datafusion::common::tree_node::TreeNode;
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, PhysicalPlanner};
use datafusion_proto::physical_plan::AsExecutionPlan;
use datafusion_proto::protobuf::PhysicalPlanNode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Plans as DataFusion does here, then hands the plans that read lake files to a Ballista
/// scheduler. Cheap to clone; clones share one count of jobs.
#[derive(Debug, Clone)]
pub struct ClusterPlanner {
    pub(crate) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// `http://host:port` of the scheduler's gRPC service.
    pub(crate) scheduler: String,
    /// The one Ballista session this process's jobs run in (the scheduler keeps a session per id).
    pub(crate) session_id: String,
    pub(crate) codec: Arc<Codec>,
    jobs: AtomicU64,
}

impl Shared {
    pub(crate) fn job_sent(&self) {
        self.jobs.fetch_add(1, Ordering::Relaxed);
    }
}

impl ClusterPlanner {
    /// A planner for the scheduler at `url` (`ballista://host:port`, port 50050 when left out).
    /// Nothing is contacted yet.
    pub fn new(url: &str) -> Result<Self, ClusterError> {
        let bad = |message: &str| ClusterError::Url {
            url: url.to_owned(),
            message: message.to_owned(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "ballista" {
            return Err(bad("the scheme must be ballista"));
        }
        let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
        let port = parsed.port().unwrap_or(50050);
        Ok(Self {
            shared: Arc::new(Shared {
                scheduler: format!("http://{host}:{port}"),
                session_id: uuid::Uuid::new_v4().to_string(),
                codec: Arc::new(Codec::default()),
                jobs: AtomicU64::new(0),
            }),
        })
    }

    /// [`ClusterPlanner::new`], after checking that the scheduler answers.
    pub async fn connect(url: &str) -> Result<Self, ClusterError> {
        let planner = Self::new(url)?;
        SchedulerGrpcClient::connect(planner.shared.scheduler.clone())
            .await
            .map_err(|e| ClusterError::Unreachable {
                url: url.to_owned(),
                message: e.to_string(),
            })?;
        Ok(planner)
    }

    /// Jobs sent to the cluster so far.
    pub fn jobs(&self) -> u64 {
        self.shared.jobs.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl QueryPlanner for ClusterPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let plan = DefaultPhysicalPlanner::default()
            .create_physical_plan(logical_plan, session_state)
            .await?;
        if !reads_files(&plan)? {
            return Ok(plan);
        }
        // A plan that cannot be written down (an operator without a codec) cannot go; it runs
        // here rather than failing the request.
        if let Err(e) =
            PhysicalPlanNode::try_from_physical_plan(plan.clone(), self.shared.codec.as_ref())
        {
            tracing::warn!(error = %e, "A plan that reads the lake runs here: it cannot be sent to the cluster.");
            return Ok(plan);
        }
        Ok(Arc::new(ClusterExec::new(plan, self.shared.clone())))
    }
}

/// Whether `plan` scans files (of the lake), the work worth a cluster.
fn reads_files(plan: &Arc<dyn ExecutionPlan>) -> datafusion::error::Result<bool> {
    plan.exists(|node| {
        Ok(node
            .downcast_ref::<DataSourceExec>()
            .and_then(|d| d.data_source().downcast_ref::<FileScanConfig>())
            .is_some())
    })
}

//! The plan node that stands for a plan running on the cluster.

use crate::planner::Shared;
use ballista_core::execution_plans::execute_physical_plan;
use ballista_core::extension::SessionConfigExt;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion_proto::protobuf::PhysicalPlanNode;
use futures::{StreamExt, TryStreamExt};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How long a job runs before each warning that it is still waiting.
const PATIENCE: Duration = Duration::from_secs(30);

/// `plan`, run by the cluster: one partition here, the answer as the scheduler streams it.
/// A leaf for everything after planning (the optimizer, the guard's wrapping), so no part of
/// `plan` is ever run here by accident.
#[derive(Debug)]
pub(crate) struct ClusterExec {
    plan: Arc<dyn ExecutionPlan>,
    cluster: Arc<Shared>,
    properties: Arc<PlanProperties>,
}

impl ClusterExec {
    pub(crate) fn new(plan: Arc<dyn ExecutionPlan>, cluster: Arc<Shared>) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(plan.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self {
            plan,
            cluster,
            properties,
        }
    }
}

impl DisplayAs for ClusterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let shown = datafusion::physical_plan::displayable(self.plan.as_ref()).indent(false);
        write!(
            f,
            "ClusterExec: scheduler={}\n{shown}",
            self.cluster.scheduler
        )
    }
}

impl ExecutionPlan for ClusterExec {
    fn name(&self) -> &str {
        "ClusterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return internal_err!("ClusterExec has no children");
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("ClusterExec has one partition, not {partition}");
        }
        let (plan, cluster) = (self.plan.clone(), self.cluster.clone());
        let config = context.session_config().clone().upgrade_for_ballista();
        let answer = async move {
            cluster.job_sent();
            let ballista = config.ballista_config();
            let job = execute_physical_plan::<PhysicalPlanNode>(
                cluster.scheduler.clone(),
                &ballista,
                plan,
                cluster.codec.as_ref(),
                cluster.session_id.clone(),
                config,
            );
            futures::pin_mut!(job);
            // A scheduler with no executors queues jobs without an error: say so while waiting.
            let mut waited = PATIENCE;
            loop {
                match tokio::time::timeout(PATIENCE, &mut job).await {
                    Ok(answer) => break answer,
                    Err(_) => tracing::warn!(
                        scheduler = %cluster.scheduler,
                        waited_secs = waited.as_secs(),
                        "A query is still waiting for the Ballista cluster; does the scheduler have executors?"
                    ),
                }
                waited += PATIENCE;
            }
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.plan.schema(),
            futures::stream::once(answer).try_flatten().boxed(),
        )))
    }
}

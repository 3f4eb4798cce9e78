//! Where queries over the lake run: in this process, or on a Ballista cluster (the `ballista`
//! feature, `taskifai-cluster`). Either way the query is parsed, guarded and planned here.

use taskifai_connectors::query_session::Planner;

/// A query engine other than this process.
#[derive(Debug, Clone)]
pub struct QueryEngine {
    /// As the operator gave it (`ballista://host:port`).
    pub url: String,
    pub planner: Planner,
}

/// The engine `setting` names: `None` for `local`; a cluster after checking its scheduler
/// answers.
pub async fn connect(setting: &str) -> anyhow::Result<Option<QueryEngine>> {
    if setting.is_empty() || setting == "local" {
        return Ok(None);
    }
    cluster(setting).await.map(Some)
}

#[cfg(feature = "ballista")]
async fn cluster(url: &str) -> anyhow::Result<QueryEngine> {
    let planner = taskifai_cluster::ClusterPlanner::connect(url).await?;
    Ok(QueryEngine {
        url: url.to_owned(),
        planner: std::sync::Arc::new(planner),
    })
}

#[cfg(not(feature = "ballista"))]
async fn cluster(url: &str) -> anyhow::Result<QueryEngine> {
    if url.starts_with("ballista://") {
        anyhow::bail!("--query-engine {url}: this taskifai was built without the ballista feature (cargo build --release --features ballista)");
    }
    anyhow::bail!("--query-engine {url}: expected local or ballista://HOST:PORT")
}

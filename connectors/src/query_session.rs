//! A DataFusion session over one tenant's lake: the canonical tables, read from the files the
//! Delta log lists, and nothing else. Other tenants' data is not reachable from it because it
//! is never registered; the session has no file-reading functions or URL tables.

use crate::lake::{AsOf, Lake, LakeError, Snapshot};
use crate::lake_table::LakeTable;
use crate::query_memory::MemoryBudgets;
use crate::rollup::Rollups;
use crate::tenant_id::TenantId;
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use taskifai_engine::analytics::{Grain, Plans};
use taskifai_engine::schema;
use taskifai_engine::spec::Target;
use taskifai_engine::sql_guard::bounded;

/// Builds the tenant's session from the current snapshot.
pub async fn tenant_session(lake: &Lake, tenant: &TenantId) -> Result<SessionContext, LakeError> {
    Ok(tenant_session_as_of(lake, tenant, None).await?.0)
}

/// Builds the tenant's session from the snapshot `as_of` (the current one when `None`); returns
/// the lake version it reads.
pub async fn tenant_session_as_of(
    lake: &Lake,
    tenant: &TenantId,
    as_of: Option<AsOf>,
) -> Result<(SessionContext, u64), LakeError> {
    tenant_session_on(lake, tenant, as_of, None).await
}

/// Makes the physical plans of a session, and decides where they run: another engine than
/// DataFusion's own planner on this machine (`taskifai-cluster`'s Ballista planner).
pub type Planner = Arc<dyn QueryPlanner + Send + Sync>;

/// [`tenant_session_as_of`], its plans made by `planner` when given.
pub async fn tenant_session_on(
    lake: &Lake,
    tenant: &TenantId,
    as_of: Option<AsOf>,
    planner: Option<&Planner>,
) -> Result<(SessionContext, u64), LakeError> {
    let ctx = new_context(Arc::new(RuntimeEnv::default()), planner);
    register_object_store(&ctx, lake);
    let snap = match as_of {
        Some(a) => Arc::new(lake.snapshot_as_of(tenant, a).await?),
        None => lake.snapshot(tenant).await?,
    };
    for (name, table) in tables_of(lake, &snap).await? {
        ctx.register_table(name, table).map_err(LakeError::Query)?;
    }
    Ok((ctx, snap.version))
}

/// A context for one request: value-building functions share one byte budget (see
/// [`bounded`]), so a query cannot allocate without limit outside the memory pool.
fn new_context(runtime: Arc<RuntimeEnv>, planner: Option<&Planner>) -> SessionContext {
    let config = SessionConfig::new()
        .with_information_schema(false)
        .with_default_catalog_and_schema("datafusion", "public");
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features();
    if let Some(p) = planner {
        state = state.with_query_planner(p.clone());
    }
    let ctx = SessionContext::new_with_state(state.build());
    bounded::install(&ctx, &bounded::Budget::new(bounded::QUERY_BUILD_BYTES));
    ctx
}

fn register_object_store(ctx: &SessionContext, lake: &Lake) {
    // Local lakes use DataFusion's own file store (absolute paths). A cloud lake registers its
    // bucket, not its prefixed store: DataFusion resolves full URLs against the bucket.
    if let Some(root) = lake.root_store() {
        ctx.register_object_store(lake.url(), root);
    }
}

type Tables = Vec<(&'static str, Arc<dyn TableProvider>)>;

/// What is kept of a tenant's current snapshot: its version, tables, and the plans made over
/// them (a plan holds its tables, so the plans go with the version).
#[derive(Clone)]
struct Current {
    version: u64,
    tables: Tables,
    plans: Arc<Plans>,
}

/// The canonical tables of a snapshot: its live files, or empty tables.
async fn tables_of(lake: &Lake, snap: &Snapshot) -> Result<Tables, LakeError> {
    let mut out: Tables = Vec::new();
    for target in [Target::Sellout, Target::Orders] {
        let name = schema::table_name(target);
        let table_schema = schema::schema(target);
        let files = snap.files(name);
        let table: Arc<dyn TableProvider> = if files.is_empty() {
            Arc::new(MemTable::try_new(table_schema, vec![vec![]]).map_err(LakeError::Query)?)
        } else {
            Arc::new(LakeTable::new(lake, table_schema, &files).await?)
        };
        out.push((name, table));
    }
    Ok(out)
}

/// Sessions for a server: each request gets a fresh context (so it may register its own
/// views), but the tables of the tenant's current snapshot, the plans of the dashboard's
/// queries over them ([`Plans`]) and the runtime (with its Parquet metadata and file
/// statistics caches) are kept and shared until the next commit.
pub struct SessionCache {
    runtime: Arc<RuntimeEnv>,
    memory: MemoryBudgets,
    tables: Mutex<HashMap<String, Current>>,
    rollups: Rollups,
    planner: Option<Planner>,
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new(MemoryBudgets::default())
    }
}

impl SessionCache {
    /// Sessions whose queries draw memory from `memory`.
    pub fn new(memory: MemoryBudgets) -> Self {
        Self {
            runtime: Arc::new(RuntimeEnv::default()),
            memory,
            tables: Mutex::new(HashMap::new()),
            rollups: Rollups::default(),
            planner: None,
        }
    }

    /// Sessions whose plans `planner` makes (and runs where it decides).
    #[must_use]
    pub fn with_planner(mut self, planner: Option<Planner>) -> Self {
        self.planner = planner;
        self
    }

    /// A session over the tenant's current snapshot and nothing else.
    pub async fn session(
        &self,
        lake: &Lake,
        tenant: &TenantId,
    ) -> Result<SessionContext, LakeError> {
        Ok(self.session_as_of(lake, tenant, None).await?.0)
    }

    /// A session over the tenant's snapshot `as_of` (the current one when `None`); returns the
    /// lake version it reads. Earlier snapshots are built for the request, not kept.
    pub async fn session_as_of(
        &self,
        lake: &Lake,
        tenant: &TenantId,
        as_of: Option<AsOf>,
    ) -> Result<(SessionContext, u64), LakeError> {
        if let Some(a) = as_of {
            let snap = lake.snapshot_as_of(tenant, a).await?;
            let t = tables_of(lake, &snap).await?;
            return Ok((self.context(lake, tenant, t, None)?, snap.version));
        }
        let snap = lake.snapshot(tenant).await?;
        Ok((self.session_of(lake, tenant, &snap).await?, snap.version))
    }

    /// A session over `snap`, the tenant's current snapshot as the caller read it.
    pub async fn session_of(
        &self,
        lake: &Lake,
        tenant: &TenantId,
        snap: &Arc<Snapshot>,
    ) -> Result<SessionContext, LakeError> {
        let current = self.current(lake, tenant, snap).await?;
        self.context(lake, tenant, current.tables, Some(current.plans))
    }

    /// A session over the tenant's current snapshot that also has the dashboard's rollup of its
    /// sales at `grain` ([`crate::rollup`]); returns the lake version it reads.
    pub async fn rollup_session(
        &self,
        lake: &Lake,
        tenant: &TenantId,
        grain: Grain,
    ) -> Result<(SessionContext, u64), LakeError> {
        let snap = lake.snapshot(tenant).await?;
        let ctx = self.rollup_session_of(lake, tenant, grain, &snap).await?;
        Ok((ctx, snap.version))
    }

    /// [`SessionCache::rollup_session`] over `snap`, the tenant's current snapshot as the
    /// caller read it.
    pub async fn rollup_session_of(
        &self,
        lake: &Lake,
        tenant: &TenantId,
        grain: Grain,
        snap: &Arc<Snapshot>,
    ) -> Result<SessionContext, LakeError> {
        let current = self.current(lake, tenant, snap).await?;
        let rollup = self
            .rollups
            .table(tenant.as_str(), grain, snap, |batches| {
                // Only the files of the batches not summed yet.
                let mut part = Snapshot::clone(snap);
                part.batches.retain(|id, _| batches.contains(id));
                async move {
                    let t = tables_of(lake, &part).await?;
                    self.context(lake, tenant, t, None)
                }
            })
            .await?;
        let ctx = self.context(lake, tenant, current.tables, Some(current.plans))?;
        ctx.register_table(grain.table(), rollup.days)
            .map_err(LakeError::Query)?;
        ctx.register_table(grain.months_table(), rollup.months)
            .map_err(LakeError::Query)?;
        Ok(ctx)
    }

    /// The tables of `snap`, the tenant's current snapshot, built once per version.
    async fn current(
        &self,
        lake: &Lake,
        tenant: &TenantId,
        snap: &Snapshot,
    ) -> Result<Current, LakeError> {
        let cached = self
            .tables
            .lock()
            .expect("session cache lock")
            .get(tenant.as_str())
            .filter(|c| c.version == snap.version)
            .cloned();
        Ok(match cached {
            Some(c) => c,
            None => {
                let started = std::time::Instant::now();
                let c = Current {
                    version: snap.version,
                    tables: tables_of(lake, snap).await?,
                    plans: Arc::default(),
                };
                tracing::debug!(
                    tenant = tenant.as_str(),
                    version = snap.version,
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "lake tables built"
                );
                self.tables
                    .lock()
                    .expect("session cache lock")
                    .insert(tenant.to_string(), c.clone());
                c
            }
        })
    }

    /// A context over `tables`, keeping its dashboard plans in `plans` when given (only for
    /// the tables of the current version that `plans` was made with).
    fn context(
        &self,
        lake: &Lake,
        tenant: &TenantId,
        tables: Tables,
        plans: Option<Arc<Plans>>,
    ) -> Result<SessionContext, LakeError> {
        // The shared caches and object stores, with the tenant's memory budget.
        let runtime = RuntimeEnv {
            memory_pool: self.memory.pool(tenant),
            disk_manager: self.runtime.disk_manager.clone(),
            cache_manager: self.runtime.cache_manager.clone(),
            object_store_registry: self.runtime.object_store_registry.clone(),
        };
        let ctx = new_context(Arc::new(runtime), self.planner.as_ref());
        register_object_store(&ctx, lake);
        for (name, table) in tables {
            ctx.register_table(name, table).map_err(LakeError::Query)?;
        }
        if let Some(p) = plans {
            Plans::attach(&ctx, p);
        }
        Ok(ctx)
    }
}

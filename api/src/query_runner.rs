//! Where user SQL (`POST /api/query`, and the chat after it) runs: on a runtime of its own, so a
//! heavy query takes the query threads and never the threads that serve the API and the
//! dashboards; at most a few at once per tenant and overall; and stopped when its time is up
//! (the task is aborted, which drops DataFusion's streams and the tasks they spawned).

use crate::server::error::ApiError;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

/// Concurrency of user SQL.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Threads of the query runtime.
    pub threads: usize,
    /// Queries running at once, all tenants together.
    pub global: usize,
    /// Queries running at once for one tenant.
    pub per_tenant: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            threads: (cores / 2).max(1),
            global: 4,
            per_tenant: 2,
        }
    }
}

pub struct QueryRunner {
    handle: Handle,
    /// Dropping it ends the runtime's thread (and the runtime with it, outside any async
    /// context, where dropping a runtime is allowed).
    _stop: std::sync::mpsc::Sender<()>,
    global: Arc<Semaphore>,
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
    limits: QueryLimits,
}

impl QueryRunner {
    pub fn new(limits: QueryLimits) -> Self {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("taskifai-query".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(limits.threads.max(1))
                    .thread_name("taskifai-query")
                    .enable_all()
                    .build()
                    .expect("the query runtime starts");
                let _ = handle_tx.send(rt.handle().clone());
                // Blocks until the runner is dropped.
                let _ = stopped.recv();
                rt.shutdown_background();
            })
            .expect("the query thread starts");
        Self {
            handle: handle_rx.recv().expect("the query runtime's handle"),
            _stop: stop,
            global: Arc::new(Semaphore::new(limits.global.max(1))),
            tenants: Mutex::new(HashMap::new()),
            limits,
        }
    }

    /// Runs `work` for `tenant` on the query runtime within `timeout`. Refused at once (429)
    /// when the tenant has its maximum of queries running; waits for a free slot otherwise,
    /// within the same timeout.
    pub async fn run<T: Send + 'static>(
        &self,
        tenant: &str,
        timeout: Duration,
        work: impl Future<Output = Result<T, ApiError>> + Send + 'static,
    ) -> Result<T, ApiError> {
        let mine = self
            .tenants
            .lock()
            .expect("query runner lock")
            .entry(tenant.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.limits.per_tenant.max(1))))
            .clone();
        let _tenant_slot = mine.try_acquire_owned().map_err(|_| {
            ApiError::Busy(format!(
                "{} queries of this tenant are running already; retry when one has finished",
                self.limits.per_tenant
            ))
        })?;
        let deadline = tokio::time::Instant::now() + timeout;
        let _slot = tokio::time::timeout_at(deadline, self.global.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::Timeout(timeout.as_secs()))?
            .map_err(ApiError::internal)?;
        let mut task = self.handle.spawn(work);
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(done) => done.map_err(ApiError::internal)?,
            Err(_) => {
                task.abort();
                Err(ApiError::Timeout(timeout.as_secs()))
            }
        }
    }
}

/// A guarded query's answer, as JSON.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct QueryResult {
    /// `{name, type}` per column.
    pub columns: Vec<serde_json::Value>,
    pub rows: Vec<serde_json::Value>,
    /// More rows than the cap matched.
    pub truncated: bool,
}

/// Plans `sql` through the guard and runs it over `ctx`, keeping at most `cap` rows. A refusal
/// is `sql_refused` with the guard's reason; a failure while running is `sql_failed`.
pub async fn run_guarded(
    ctx: &datafusion::prelude::SessionContext,
    sql: &str,
    cap: usize,
) -> Result<QueryResult, ApiError> {
    // One more row than the cap tells whether the answer was cut.
    let plan = taskifai_engine::sql_guard::plan_read_only(ctx, sql, cap + 1)
        .await
        .map_err(|e| ApiError::bad("sql_refused", e.to_string()))?;
    let failed = |e: datafusion::error::DataFusionError| {
        let s = e.to_string();
        ApiError::bad("sql_failed", s.lines().next().unwrap_or(&s).to_owned())
    };
    let physical = taskifai_engine::sql_guard::physical_plan(ctx, plan)
        .await
        .map_err(failed)?;
    let columns = physical
        .schema()
        .fields()
        .iter()
        .map(|f| serde_json::json!({ "name": f.name(), "type": f.data_type().to_string() }))
        .collect();
    let batches = datafusion::physical_plan::collect(physical, ctx.task_ctx())
        .await
        .map_err(failed)?;
    let mut rows = to_json(&batches)?;
    let truncated = rows.len() > cap;
    rows.truncate(cap);
    Ok(QueryResult {
        columns,
        rows,
        truncated,
    })
}

/// Arrow batches as JSON objects, one per row.
pub fn to_json(
    batches: &[datafusion::arrow::record_batch::RecordBatch],
) -> Result<Vec<serde_json::Value>, ApiError> {
    rows_json(batches).map_err(ApiError::internal)
}

/// [`to_json`] for callers outside the server.
pub fn rows_json(
    batches: &[datafusion::arrow::record_batch::RecordBatch],
) -> anyhow::Result<Vec<serde_json::Value>> {
    let batches = batches
        .iter()
        .map(exact_decimals)
        .collect::<Result<Vec<_>, _>>()?;
    let mut w = datafusion::arrow::json::ArrayWriter::new(Vec::new());
    let refs: Vec<&datafusion::arrow::record_batch::RecordBatch> = batches.iter().collect();
    w.write_batches(&refs)?;
    w.finish()?;
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Ok(vec![]);
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// Decimal columns as their exact text (`"8381.561539"`): as JSON numbers they would pass
/// through f64 and lose digits past the fifteenth, and money is never rounded on the way out.
fn exact_decimals(
    batch: &datafusion::arrow::record_batch::RecordBatch,
) -> Result<datafusion::arrow::record_batch::RecordBatch, datafusion::arrow::error::ArrowError> {
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| {
        matches!(
            f.data_type(),
            DataType::Decimal128(..) | DataType::Decimal256(..)
        )
    }) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        if matches!(
            f.data_type(),
            DataType::Decimal128(..) | DataType::Decimal256(..)
        ) {
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            columns.push(datafusion::arrow::compute::cast(c, &DataType::Utf8)?);
        } else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
        }
    }
    datafusion::arrow::record_batch::RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )
}

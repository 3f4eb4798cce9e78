//! The dashboard's rollups of a tenant's sales ([`Grain`]): the lines summed per batch, day
//! span, reseller, channel, country, web-shop order and product (or store). Analytics read them
//! instead of every line, so they cost thousands of rows instead of millions.
//!
//! A batch's files never change once committed, so each batch is summed once, by the first
//! request that needs it, and kept; a commit adds the new batch's piece and drops the pieces of
//! the batches it removed. The table a request reads is made of the pieces of exactly the
//! snapshot's live batches, so it answers as the lines of that snapshot would. It is sorted by
//! day in a few runs ([`DayTable`]): a query for a month reads that month's rows, and a commit
//! sorts only its new batch's rows (and, now and then, merges runs of similar size). Beside it is its month
//! layer ([`Grain::months_sql`]), for the whole months of a long window.

use crate::day_table::{DayTable, Segment};
use crate::lake::{LakeError, Snapshot};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use taskifai_engine::analytics::{Grain, LINES_SQL};

/// The rollup rows of one batch: per day span, and per month.
type Piece = Arc<(Vec<RecordBatch>, Vec<RecordBatch>)>;

/// A rollup: its rows per day span and its month layer.
#[derive(Clone)]
pub struct RollupTables {
    pub days: Arc<DayTable>,
    pub months: Arc<DayTable>,
}

/// Lines summed by one query at most (more when one batch has more).
const CHUNK_LINES: u64 = 1_000_000;

/// A tenant's rollup at one grain.
type Key = (String, Grain);

#[derive(Default)]
struct TenantRollup {
    pieces: HashMap<String, Piece>,
    /// The tables of the last snapshot asked for, and the runs they are made of.
    table: Option<(u64, RollupTables, Vec<Run>)>,
}

/// The rows of some batches, sorted by day once: a commit adds a run for its new batches
/// instead of re-sorting the whole rollup, and runs of similar size are merged as they pile
/// up, so a table has a few runs and each row is sorted again only a few times.
#[derive(Clone)]
struct Run {
    batches: Vec<String>,
    days: Arc<Segment>,
    months: Arc<Segment>,
}

/// Runs a table may have before the smallest are merged whatever their sizes.
const MAX_RUNS: usize = 12;

impl Run {
    fn of(
        schema: &SchemaRef,
        pieces: &HashMap<String, Piece>,
        batches: Vec<String>,
    ) -> Result<Self, LakeError> {
        let rows = |layer: fn(&Piece) -> &Vec<RecordBatch>| -> Vec<RecordBatch> {
            batches
                .iter()
                .filter_map(|b| pieces.get(b))
                .flat_map(|p| layer(p).iter().cloned())
                .collect()
        };
        let days = Segment::try_new(schema, &rows(|p| &p.0)).map_err(LakeError::Query)?;
        let months = Segment::try_new(schema, &rows(|p| &p.1)).map_err(LakeError::Query)?;
        Ok(Self {
            batches,
            days: Arc::new(days),
            months: Arc::new(months),
        })
    }

    /// Rows, for merging: a run without rows still counts as one so that empty runs merge.
    fn size(&self) -> usize {
        self.days.num_rows() + 1
    }
}

/// Rollups of every tenant a server has answered for.
#[derive(Default)]
pub struct Rollups {
    tenants: Mutex<HashMap<Key, TenantRollup>>,
    /// One build per tenant and grain at a time: requests that arrive during a build wait for
    /// its pieces instead of summing the same batches again.
    building: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl Rollups {
    /// The rollup of `snap`'s live batches. `session_over` gives a session whose canonical
    /// tables hold only the files of the batches passed to it (those not summed yet).
    pub async fn table<F, Fut>(
        &self,
        tenant: &str,
        grain: Grain,
        snap: &Snapshot,
        session_over: F,
    ) -> Result<RollupTables, LakeError>
    where
        F: Fn(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<SessionContext, LakeError>>,
    {
        let key = (tenant.to_owned(), grain);
        if let Some(t) = self.cached(&key, snap.version) {
            return Ok(t);
        }
        let gate = self
            .building
            .lock()
            .expect("rollup lock")
            .entry(key.clone())
            .or_default()
            .clone();
        let _building = gate.lock().await;
        if let Some(t) = self.cached(&key, snap.version) {
            return Ok(t);
        }
        let missing: Vec<String> = {
            let tenants = self.tenants.lock().expect("rollup lock");
            let have = tenants.get(&key).map(|t| &t.pieces);
            snap.batches
                .keys()
                .filter(|b| have.is_none_or(|p| !p.contains_key(*b)))
                .cloned()
                .collect()
        };
        // A few batches per query, so that summing ten million lines stays within the tenant's
        // query memory; at least one query, which gives the schema.
        let mut chunks: Vec<Vec<String>> = vec![vec![]];
        let mut lines = 0;
        for id in missing {
            let rows = snap.batches.get(&id).map_or(0, |(m, _)| m.rows);
            if lines + rows > CHUNK_LINES && !chunks.last().is_some_and(Vec::is_empty) {
                chunks.push(vec![]);
                lines = 0;
            }
            lines += rows;
            chunks.last_mut().expect("one chunk at least").push(id);
        }
        let started = std::time::Instant::now();
        let mut schema = None;
        let mut summed = Vec::new();
        for chunk in chunks {
            let ctx = session_over(chunk.clone()).await?;
            let (s, mut days) = sum(&ctx, grain).await?;
            let mut months = months(&ctx, grain, &s, &days).await?;
            // Its own buffers: a piece must not keep its neighbours' rows alive.
            let own = |rows: Option<Vec<RecordBatch>>| match rows {
                Some(slices) => concat_batches(&s, &slices).map(|b| vec![b]),
                None => Ok(vec![]),
            };
            for id in chunk {
                let piece = (own(days.remove(&id))?, own(months.remove(&id))?);
                summed.push((id, Arc::new(piece)));
            }
            schema = Some(s);
        }
        let schema = schema.expect("one chunk at least");
        let (summed_batches, sum_ms) = (summed.len(), started.elapsed().as_secs_f64() * 1000.0);
        let (mut runs, fresh, live) = {
            let mut tenants = self.tenants.lock().expect("rollup lock");
            let t = tenants.entry(key.clone()).or_default();
            t.pieces.extend(summed);
            // Pieces of batches that are gone are not needed again: a batch id is never reused.
            t.pieces.retain(|id, _| snap.batches.contains_key(id));
            let live: HashMap<String, Piece> = snap
                .batches
                .keys()
                .filter_map(|id| t.pieces.get(id).map(|p| (id.clone(), p.clone())))
                .collect();
            // The last table's runs whose batches are all still live; the rest is sorted anew.
            let kept: Vec<Run> = t
                .table
                .iter()
                .flat_map(|(_, _, runs)| runs)
                .filter(|r| r.batches.iter().all(|b| live.contains_key(b)))
                .cloned()
                .collect();
            let in_kept: HashSet<&String> = kept.iter().flat_map(|r| &r.batches).collect();
            let fresh: Vec<String> = live
                .keys()
                .filter(|b| !in_kept.contains(b))
                .cloned()
                .collect();
            (kept, fresh, live)
        };
        // Built outside the lock: other tenants' requests do not wait for the sort.
        if !fresh.is_empty() || runs.is_empty() {
            runs.push(Run::of(&schema, &live, fresh)?);
        }
        runs.sort_by_key(|r| std::cmp::Reverse(r.size()));
        while let [.., a, b] = runs.as_slice() {
            if a.size() > 2 * b.size() && runs.len() <= MAX_RUNS {
                break;
            }
            let (b, a) = (runs.pop().expect("two runs"), runs.pop().expect("two runs"));
            let batches = a.batches.into_iter().chain(b.batches).collect();
            runs.push(Run::of(&schema, &live, batches)?);
            runs.sort_by_key(|r| std::cmp::Reverse(r.size()));
        }
        let table = |layer: fn(&Run) -> &Arc<Segment>| {
            let segments = runs.iter().map(|r| layer(r).clone()).collect();
            DayTable::from_segments(schema.clone(), segments)
                .map(Arc::new)
                .map_err(LakeError::Query)
        };
        let table = RollupTables {
            days: table(|r| &r.days)?,
            months: table(|r| &r.months)?,
        };
        tracing::debug!(
            tenant,
            ?grain,
            version = snap.version,
            summed_batches,
            sum_ms,
            sort_ms = started.elapsed().as_secs_f64() * 1000.0 - sum_ms,
            runs = runs.len(),
            "rollup built"
        );
        let mut tenants = self.tenants.lock().expect("rollup lock");
        let t = tenants.entry(key).or_default();
        if t.table.as_ref().is_none_or(|(v, _, _)| *v <= snap.version) {
            t.table = Some((snap.version, table.clone(), runs));
        }
        Ok(table)
    }

    fn cached(&self, key: &Key, version: u64) -> Option<RollupTables> {
        let tenants = self.tenants.lock().expect("rollup lock");
        let (v, table, _) = tenants.get(key)?.table.as_ref()?;
        (*v == version).then(|| table.clone())
    }
}

/// Runs the grain's rollup over the session's tables; returns its schema and the rows per batch.
async fn sum(
    ctx: &SessionContext,
    grain: Grain,
) -> Result<(SchemaRef, HashMap<String, Vec<RecordBatch>>), LakeError> {
    let lines = ctx.sql(LINES_SQL).await.map_err(LakeError::Query)?;
    ctx.register_table("lines", lines.into_view())
        .map_err(LakeError::Query)?;
    let df = ctx.sql(&grain.sql()).await.map_err(LakeError::Query)?;
    // The physical schema: Parquet's text arrives as views, which the logical one does not say.
    let plan = df.create_physical_plan().await.map_err(LakeError::Query)?;
    let schema = plan.schema();
    let batches = datafusion::physical_plan::collect(plan, ctx.task_ctx())
        .await
        .map_err(LakeError::Query)?;
    Ok((schema, by_batch(batches)?))
}

/// The month layer of `days` (rows of `schema` per batch), per batch, in `schema`'s types.
async fn months(
    ctx: &SessionContext,
    grain: Grain,
    schema: &SchemaRef,
    days: &HashMap<String, Vec<RecordBatch>>,
) -> Result<HashMap<String, Vec<RecordBatch>>, LakeError> {
    let rows: Vec<RecordBatch> = days.values().flatten().cloned().collect();
    let table = MemTable::try_new(schema.clone(), vec![rows]).map_err(LakeError::Query)?;
    ctx.register_table("days", Arc::new(table))
        .map_err(LakeError::Query)?;
    let batches = ctx
        .sql(&grain.months_sql())
        .await
        .map_err(LakeError::Query)?
        .collect()
        .await
        .map_err(LakeError::Query)?;
    // Sums of sums are wider decimals: the layer keeps the day rows' types, so that a window
    // reads both as one. A value that does not fit fails the build instead of becoming null.
    let strict = datafusion::arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let conformed = batches
        .into_iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| {
                    datafusion::arrow::compute::cast_with_options(c, f.data_type(), &strict)
                })
                .collect::<Result<Vec<_>, _>>()?;
            RecordBatch::try_new(schema.clone(), columns)
        })
        .collect::<Result<Vec<_>, _>>()?;
    by_batch(conformed)
}

/// Rows sorted by batch id (the first column), per batch.
fn by_batch(batches: Vec<RecordBatch>) -> Result<HashMap<String, Vec<RecordBatch>>, LakeError> {
    let mut out: HashMap<String, Vec<RecordBatch>> = HashMap::new();
    for batch in batches {
        // Rows come sorted by batch: each run of one id is a slice.
        let ids = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )?;
        let ids = ids.as_string::<i32>();
        let mut start = 0;
        for i in 1..=batch.num_rows() {
            if i == batch.num_rows() || ids.value(i) != ids.value(start) {
                out.entry(ids.value(start).to_owned())
                    .or_default()
                    .push(batch.slice(start, i - start));
                start = i;
            }
        }
    }
    Ok(out)
}

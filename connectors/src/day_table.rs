//! An in-memory table kept sorted by its `day` column, whose scans read only the rows of the days
//! their filters allow. A dashboard asks for a month or a quarter of a history of years; a scan
//! of the whole table would filter and hash every row of the history for each query.

use async_trait::async_trait;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::{concat_batches, sort_to_indices, take_record_batch, SortOptions};
use datafusion::arrow::datatypes::{Date32Type, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, ScalarValue};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use std::ops::Range;
use std::sync::Arc;

/// The sorted column.
const DAY: &str = "day";

/// Rows per record batch handed to a scan: a thousand small slices would cost every operator a
/// thousand steps, one large one would keep a core idle.
const SCAN_BATCH_ROWS: usize = 64 * 1024;

/// Rows sorted by `day` (a `Date32` column), days without a date last: one sorted run of a
/// [`DayTable`].
#[derive(Debug)]
pub struct Segment {
    rows: RecordBatch,
    /// The rows with a day: `0..dated`.
    dated: usize,
}

impl Segment {
    /// The rows of `batches` (of `schema`, which has a `Date32` column `day`), sorted.
    pub fn try_new(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<Self> {
        let all = concat_batches(schema, batches)?;
        let day = schema.index_of(DAY)?;
        let order = sort_to_indices(
            all.column(day),
            Some(SortOptions {
                descending: false,
                nulls_first: false,
            }),
            None,
        )?;
        let rows = take_record_batch(&all, &order)?;
        let dated = rows.num_rows() - all.column(day).null_count();
        Ok(Self { rows, dated })
    }

    pub fn num_rows(&self) -> usize {
        self.rows.num_rows()
    }

    /// The runs of rows on `days`, in day order.
    fn ranges(&self, day: usize, days: &Days) -> Vec<Range<usize>> {
        if days.is_all() {
            return std::iter::once(0..self.rows.num_rows()).collect();
        }
        let dated = &self.rows.column(day).as_primitive::<Date32Type>().values()[..self.dated];
        days.0
            .iter()
            .map(|&(lo, hi)| {
                let start = dated.partition_point(|&d| d < lo);
                let end = dated.partition_point(|&d| d <= hi);
                start..end.max(start)
            })
            .filter(|r| !r.is_empty())
            .collect()
    }
}

/// Rows in a few segments, each sorted by `day`. A new batch's rows can come as a segment of
/// their own, so a commit does not re-sort the whole table (`crate::rollup` merges segments
/// of similar size as they pile up).
#[derive(Debug)]
pub struct DayTable {
    schema: SchemaRef,
    segments: Vec<Arc<Segment>>,
    /// The index of `day` in the schema.
    day: usize,
}

impl DayTable {
    /// The rows of `batches` (of `schema`, which has a `Date32` column `day`), as one segment.
    pub fn try_new(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Self> {
        let segment = Arc::new(Segment::try_new(&schema, batches)?);
        Self::from_segments(schema, vec![segment])
    }

    /// A table of `segments` (of `schema`).
    pub fn from_segments(schema: SchemaRef, segments: Vec<Arc<Segment>>) -> Result<Self> {
        let day = schema.index_of(DAY)?;
        Ok(Self {
            schema,
            segments,
            day,
        })
    }

    /// The runs of rows whose day can satisfy every filter: per segment, in day order.
    fn runs(&self, filters: &[Expr]) -> Vec<RecordBatch> {
        let days = filters
            .iter()
            .fold(Days::all(), |days, f| days.and(&Days::of(f)));
        self.segments
            .iter()
            .flat_map(|s| {
                s.ranges(self.day, &days)
                    .into_iter()
                    .map(|r| s.rows.slice(r.start, r.len()))
            })
            .collect()
    }

    /// The rows of `runs` in `n` partitions of nearly equal rows, each in batches of at most
    /// [`SCAN_BATCH_ROWS`].
    fn partitions(runs: &[RecordBatch], n: usize) -> Vec<Vec<RecordBatch>> {
        let total: usize = runs.iter().map(RecordBatch::num_rows).sum();
        let n = n.max(1);
        let mut parts: Vec<Vec<RecordBatch>> = vec![vec![]; n];
        // Rows before each run, across the runs: partition `i` takes rows
        // `total * i / n .. total * (i + 1) / n` of that sequence.
        let mut before = 0;
        for r in runs {
            for (i, part) in parts.iter_mut().enumerate() {
                let (a, b) = (total * i / n, total * (i + 1) / n);
                let (a, b) = (a.max(before), b.min(before + r.num_rows()));
                for s in (a..b).step_by(SCAN_BATCH_ROWS) {
                    let len = SCAN_BATCH_ROWS.min(b - s);
                    part.push(r.slice(s - before, len));
                }
            }
            before += r.num_rows();
        }
        parts
    }
}

/// A set of days: disjoint closed ranges in order.
#[derive(Debug, Clone, PartialEq)]
struct Days(Vec<(i32, i32)>);

impl Days {
    fn all() -> Self {
        Self(vec![(i32::MIN, i32::MAX)])
    }

    fn between(lo: i32, hi: i32) -> Self {
        Self(if lo <= hi { vec![(lo, hi)] } else { vec![] })
    }

    fn is_all(&self) -> bool {
        self.0 == [(i32::MIN, i32::MAX)]
    }

    fn and(&self, other: &Days) -> Days {
        let mut out = vec![];
        for &(a, b) in &self.0 {
            for &(c, d) in &other.0 {
                let (lo, hi) = (a.max(c), b.min(d));
                if lo <= hi {
                    out.push((lo, hi));
                }
            }
        }
        out.sort_unstable();
        Days(out)
    }

    fn or(&self, other: &Days) -> Days {
        let mut all: Vec<(i32, i32)> = self.0.iter().chain(&other.0).copied().collect();
        all.sort_unstable();
        let mut out: Vec<(i32, i32)> = vec![];
        for (lo, hi) in all {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        Days(out)
    }

    /// The days `filter` can be true on, as far as it bounds `day` with dates (all days
    /// otherwise).
    fn of(filter: &Expr) -> Days {
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::And => {
                Days::of(left).and(&Days::of(right))
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) if *op == Operator::Or => {
                Days::of(left).or(&Days::of(right))
            }
            Expr::Between(b) if !b.negated && is_day(&b.expr) => Days::between(
                date(&b.low).unwrap_or(i32::MIN),
                date(&b.high).unwrap_or(i32::MAX),
            ),
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, value) = if is_day(left) {
                    (Some(*op), date(right))
                } else if is_day(right) {
                    (op.swap(), date(left))
                } else {
                    (None, None)
                };
                match (op, value) {
                    (Some(Operator::GtEq), Some(v)) => Days::between(v, i32::MAX),
                    (Some(Operator::Gt), Some(v)) => Days::between(v.saturating_add(1), i32::MAX),
                    (Some(Operator::LtEq), Some(v)) => Days::between(i32::MIN, v),
                    (Some(Operator::Lt), Some(v)) => Days::between(i32::MIN, v.saturating_sub(1)),
                    (Some(Operator::Eq), Some(v)) => Days::between(v, v),
                    _ => Days::all(),
                }
            }
            _ => Days::all(),
        }
    }
}

fn is_day(e: &Expr) -> bool {
    matches!(e, Expr::Column(c) if c.name == DAY)
}

fn date(e: &Expr) -> Option<i32> {
    match e {
        Expr::Literal(ScalarValue::Date32(Some(d)), _) => Some(*d),
        _ => None,
    }
}

#[async_trait]
impl TableProvider for DayTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let parts = Self::partitions(&self.runs(filters), state.config().target_partitions());
        let source = MemorySourceConfig::try_new(&parts, self.schema.clone(), projection.cloned())?;
        Ok(DataSourceExec::from_data_source(source))
    }

    /// The day bounds choose the rows; DataFusion still applies every filter to them.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;

    /// Day `d % 50` (none for every 7th row) and a value of `d`, in shuffled batches.
    fn table() -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("day", DataType::Date32, true),
            Field::new("v", DataType::Int64, false),
        ]));
        let batches = (0..5)
            .map(|b| {
                let ids: Vec<i64> = (0..40).map(|i| (i * 37 + b * 11) % 200).collect();
                let days: Date32Array = ids
                    .iter()
                    .map(|&i| (i % 7 != 0).then_some(20_000 + (i % 50) as i32))
                    .collect();
                RecordBatch::try_new(
                    schema.clone(),
                    vec![Arc::new(days), Arc::new(Int64Array::from(ids))],
                )
                .unwrap()
            })
            .collect();
        (schema, batches)
    }

    async fn answer(ctx: &SessionContext, sql: &str) -> (String, usize) {
        let df = ctx.sql(sql).await.unwrap();
        let plan = df.create_physical_plan().await.unwrap();
        let mut scanned = 0;
        let mut stack = vec![plan.clone()];
        while let Some(p) = stack.pop() {
            let memory = p
                .downcast_ref::<DataSourceExec>()
                .and_then(|d| d.data_source().downcast_ref::<MemorySourceConfig>());
            if let Some(m) = memory {
                scanned += m
                    .partitions()
                    .iter()
                    .flatten()
                    .map(|b| b.num_rows())
                    .sum::<usize>();
            }
            stack.extend(p.children().into_iter().cloned());
        }
        let out = collect(plan, ctx.task_ctx()).await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&out)
            .unwrap()
            .to_string();
        (text, scanned)
    }

    #[tokio::test]
    async fn scans_read_the_days_asked_for_and_answer_as_a_full_table() {
        let (schema, batches) = table();
        let (sorted, runs, plain) = (
            SessionContext::new(),
            SessionContext::new(),
            SessionContext::new(),
        );
        sorted
            .register_table(
                "t",
                Arc::new(DayTable::try_new(schema.clone(), &batches).unwrap()),
            )
            .unwrap();
        // The same rows in three runs (of 2, 2 and 1 batches), each sorted on its own.
        let segments = batches
            .chunks(2)
            .map(|c| Arc::new(Segment::try_new(&schema, c).unwrap()))
            .collect();
        let segmented = DayTable::from_segments(schema.clone(), segments).unwrap();
        runs.register_table("t", Arc::new(segmented)).unwrap();
        let mem = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
        plain.register_table("t", Arc::new(mem)).unwrap();
        // Through a view, as the dashboard reads it.
        for ctx in [&sorted, &runs, &plain] {
            let view = ctx.table("t").await.unwrap().into_view();
            ctx.register_table("f", view).unwrap();
        }
        let d = |n: i32| {
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()
                + chrono::Duration::days(n as i64))
            .to_string()
        };
        // (a filter on days, whether the scan can narrow by it, another filter)
        let cases = [
            (
                format!("day BETWEEN DATE '{}' AND DATE '{}'", d(20_010), d(20_019)),
                true,
                "true",
            ),
            (
                format!("day >= DATE '{}' AND day < DATE '{}'", d(20_045), d(20_060)),
                true,
                "true",
            ),
            (format!("DATE '{}' > day", d(20_002)), true, "true"),
            (format!("day = DATE '{}'", d(20_030)), true, "v > 3"),
            (format!("day > DATE '{}'", d(20_100)), true, "true"),
            (
                format!("(day < DATE '{0}' OR day > DATE '{0}')", d(20_010)),
                true,
                "true",
            ),
            // Two separate spans read as two runs of rows.
            (
                format!(
                    "(day BETWEEN DATE '{}' AND DATE '{}' OR day BETWEEN DATE '{}' AND DATE '{}')",
                    d(20_003),
                    d(20_008),
                    d(20_040),
                    d(20_044)
                ),
                true,
                "v % 2 = 0",
            ),
            // Overlapping spans count their rows once.
            (
                format!(
                    "(day BETWEEN DATE '{}' AND DATE '{}' OR day BETWEEN DATE '{}' AND DATE '{}')",
                    d(20_003),
                    d(20_020),
                    d(20_010),
                    d(20_030)
                ),
                true,
                "true",
            ),
            // A disjunction that does not bound the day in each branch reads everything.
            (
                format!("(day = DATE '{}' OR v > 100)", d(20_010)),
                false,
                "true",
            ),
            (
                format!(
                    "day BETWEEN DATE '{}' AND DATE '{}' AND day < DATE '{}'",
                    d(20_030),
                    d(20_040),
                    d(20_020)
                ),
                true,
                "true",
            ),
        ];
        for (days, narrows, other) in cases {
            let sql = format!("SELECT day, count(*) AS n, sum(v) AS v FROM f WHERE {days} AND {other} GROUP BY day ORDER BY day");
            let (got, scanned) = answer(&sorted, &sql).await;
            let (want, _) = answer(&plain, &sql).await;
            assert_eq!(got, want, "{days}");
            let (in_runs, scanned_in_runs) = answer(&runs, &sql).await;
            assert_eq!(in_runs, want, "{days}, three runs");
            assert_eq!(scanned_in_runs, scanned, "{days}, three runs");
            let rows = if narrows {
                let n = plain
                    .sql(&format!("SELECT count(*) FROM t WHERE {days}"))
                    .await
                    .unwrap();
                let n = n.collect().await.unwrap();
                n[0].column(0)
                    .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                    .value(0) as usize
            } else {
                200
            };
            assert_eq!(scanned, rows, "{days}");
        }
        let (got, _) = answer(&sorted, "SELECT count(*) AS n, count(day) AS dated FROM f").await;
        let (want, _) = answer(&plain, "SELECT count(*) AS n, count(day) AS dated FROM f").await;
        assert_eq!(got, want);
    }
}

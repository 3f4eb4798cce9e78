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

/// Rows sorted by `day` (a `Date32` column), days without a date last.
#[derive(Debug)]
pub struct DayTable {
    schema: SchemaRef,
    rows: RecordBatch,
    /// The rows with a day: `0..dated`.
    dated: usize,
}

impl DayTable {
    /// The rows of `batches` (of `schema`, which has a `Date32` column `day`), sorted.
    pub fn try_new(schema: SchemaRef, batches: &[RecordBatch]) -> Result<Self> {
        let all = concat_batches(&schema, batches)?;
        let day = all.column(schema.index_of(DAY)?);
        let order = sort_to_indices(
            day,
            Some(SortOptions {
                descending: false,
                nulls_first: false,
            }),
            None,
        )?;
        let rows = take_record_batch(&all, &order)?;
        let dated = rows.num_rows() - day.null_count();
        Ok(Self {
            schema,
            rows,
            dated,
        })
    }

    /// The rows whose day can satisfy every filter.
    fn range(&self, filters: &[Expr]) -> Range<usize> {
        let (lo, hi) = filters.iter().fold((None, None), narrow);
        if lo.is_none() && hi.is_none() {
            return 0..self.rows.num_rows();
        }
        let days = self
            .rows
            .column(self.schema.index_of(DAY).expect("checked in try_new"))
            .as_primitive::<Date32Type>()
            .values();
        let dated = &days[..self.dated];
        let start = lo.map_or(0, |lo| dated.partition_point(|&d| d < lo));
        let end = hi.map_or(self.dated, |hi| dated.partition_point(|&d| d <= hi));
        start..end.max(start)
    }

    /// `range` in `n` partitions of nearly equal rows, each in batches of [`SCAN_BATCH_ROWS`].
    fn partitions(&self, range: Range<usize>, n: usize) -> Vec<Vec<RecordBatch>> {
        let len = range.len();
        let n = n.max(1);
        (0..n)
            .map(|i| {
                let (a, b) = (range.start + len * i / n, range.start + len * (i + 1) / n);
                (a..b)
                    .step_by(SCAN_BATCH_ROWS)
                    .map(|s| self.rows.slice(s, SCAN_BATCH_ROWS.min(b - s)))
                    .collect()
            })
            .collect()
    }
}

/// The closed range of days `(from, to)` narrowed by `filter` where it bounds `day` with a date.
type Bounds = (Option<i32>, Option<i32>);

fn narrow((lo, hi): Bounds, filter: &Expr) -> Bounds {
    let at_least = |v: i32| (Some(lo.map_or(v, |l: i32| l.max(v))), hi);
    let at_most = |v: i32| (lo, Some(hi.map_or(v, |h: i32| h.min(v))));
    match filter {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => narrow(narrow((lo, hi), left), right),
        Expr::Between(b) if !b.negated && is_day(&b.expr) => match (date(&b.low), date(&b.high)) {
            (Some(l), Some(h)) => {
                let (lo, _) = at_least(l);
                let (_, hi) = at_most(h);
                (lo, hi)
            }
            (Some(l), None) => at_least(l),
            (None, Some(h)) => at_most(h),
            (None, None) => (lo, hi),
        },
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, value) = if is_day(left) {
                (*op, date(right))
            } else if is_day(right) {
                match op.swap() {
                    Some(op) => (op, date(left)),
                    None => return (lo, hi),
                }
            } else {
                return (lo, hi);
            };
            match (op, value) {
                (Operator::GtEq, Some(v)) => at_least(v),
                (Operator::Gt, Some(v)) => at_least(v.saturating_add(1)),
                (Operator::LtEq, Some(v)) => at_most(v),
                (Operator::Lt, Some(v)) => at_most(v.saturating_sub(1)),
                (Operator::Eq, Some(v)) => {
                    let (lo, _) = at_least(v);
                    let (_, hi) = at_most(v);
                    (lo, hi)
                }
                _ => (lo, hi),
            }
        }
        _ => (lo, hi),
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
        let parts = self.partitions(self.range(filters), state.config().target_partitions());
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
        let sorted = SessionContext::new();
        let plain = SessionContext::new();
        sorted
            .register_table(
                "t",
                Arc::new(DayTable::try_new(schema.clone(), &batches).unwrap()),
            )
            .unwrap();
        let mem = datafusion::datasource::MemTable::try_new(schema, vec![batches]).unwrap();
        plain.register_table("t", Arc::new(mem)).unwrap();
        // Through a view, as the dashboard reads it.
        for ctx in [&sorted, &plain] {
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
                false,
                "true",
            ),
        ];
        for (days, narrows, other) in cases {
            let sql = format!("SELECT day, count(*) AS n, sum(v) AS v FROM f WHERE {days} AND {other} GROUP BY day ORDER BY day");
            let (got, scanned) = answer(&sorted, &sql).await;
            let (want, _) = answer(&plain, &sql).await;
            assert_eq!(got, want, "{days}");
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

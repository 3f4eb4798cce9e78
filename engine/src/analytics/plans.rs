//! The dashboard's queries planned once per shape. A query's dates are placeholders
//! (`$1`, `$2`, …) filled at run time, so the windows of one query share one SQL text; a
//! session that carries [`Plans`] keeps each text's optimized plan and, for the next window,
//! only binds the dates and makes the physical plan. Parsing, planning and optimizing were
//! about 70% of a dashboard query's time (`benches/QUERY_COST_RESULTS.md`).
//!
//! Binding cannot change what a plan means: the optimizer saw placeholders, so nothing it did
//! depended on their values, and the scans still get the literal dates as filters when the
//! physical plan is made.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// SQL with `$n` placeholders and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub sql: String,
    pub params: Vec<ScalarValue>,
    /// Planned from its text every time, its plan not kept: for SQL whose text changes with
    /// the request beyond its dates (a page number), which would push the dashboard's plans out.
    pub once: bool,
}

impl Query {
    /// The placeholder for `d`, added to the values.
    pub(super) fn date(&mut self, d: NaiveDate) -> String {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        self.params
            .push(ScalarValue::Date32(Some((d - epoch).num_days() as i32)));
        format!("${}", self.params.len())
    }

    /// Finishes the query with its text.
    pub(super) fn with(mut self, sql: String) -> Self {
        self.sql = sql;
        self
    }

    /// The query, planned every time it runs ([`Query::once`]).
    pub(super) fn once(mut self) -> Self {
        self.once = true;
        self
    }
}

/// A session's plans by SQL text, for the tables of one lake version of one tenant: whoever
/// attaches it to sessions ([`Plans::attach`]) must give each version its own. Sessions that
/// narrow their sales differently ([`super::register_filtered`]) keep their plans apart.
#[derive(Default)]
pub struct Plans {
    plans: Mutex<HashMap<String, LogicalPlan>>,
}

/// Enough for every query shape of a few filter combinations; past it the plans start over.
const MAX_PLANS: usize = 512;

/// What the session's `f` holds (source and filters), which a plan's text does not say.
#[derive(Debug)]
pub(super) struct Scope(pub(super) String);

impl Plans {
    /// Makes the session keep its plans in `plans`.
    pub fn attach(ctx: &SessionContext, plans: Arc<Plans>) {
        ctx.state_ref().write().config_mut().set_extension(plans);
    }

    /// How many plans are kept.
    pub fn len(&self) -> usize {
        self.plans.lock().expect("plans lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Records what `f` holds in the session, for the plans' keys.
pub(super) fn set_scope(ctx: &SessionContext, scope: String) {
    ctx.state_ref()
        .write()
        .config_mut()
        .set_extension(Arc::new(Scope(scope)));
}

/// Runs `q` in `ctx`: from its kept plan when the session has [`Plans`], else planned here.
pub async fn run(ctx: &SessionContext, q: &Query) -> Result<Vec<RecordBatch>> {
    let state = ctx.state();
    let kept = state.config().get_extension::<Plans>().filter(|_| !q.once);
    let Some(plans) = kept else {
        return ctx
            .sql(&q.sql)
            .await?
            .with_param_values(q.params.clone())?
            .collect()
            .await;
    };
    let scope = state.config().get_extension::<Scope>();
    let key = format!("{}\n{}", scope.as_ref().map_or("", |s| s.0.as_str()), q.sql);
    let kept = plans.plans.lock().expect("plans lock").get(&key).cloned();
    let plan = match kept {
        Some(p) => p,
        None => {
            let plan = state.optimize(&state.create_logical_plan(&q.sql).await?)?;
            let mut map = plans.plans.lock().expect("plans lock");
            if map.len() >= MAX_PLANS {
                map.clear();
            }
            map.insert(key, plan.clone());
            plan
        }
    };
    let bound = plan.with_param_values(q.params.clone())?;
    let physical = state
        .query_planner()
        .create_physical_plan(&bound, &state)
        .await?;
    datafusion::physical_plan::collect(physical, ctx.task_ctx()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::{register_filtered, top, totals, Dimension, Filters, Grain, Source};
    use crate::xorshift::XorShift;
    use datafusion::arrow::util::pretty::pretty_format_batches;

    /// A product rollup of 400 lines over 2025: two resellers, both channels.
    async fn rollup() -> Arc<dyn datafusion::catalog::TableProvider> {
        let ctx = SessionContext::new();
        ctx.sql(
            "CREATE TABLE rollup_products AS
             SELECT CAST(CAST(20089 + value % 365 AS INT) AS DATE) AS day,
                    CAST(CAST(20089 + value % 365 AS INT) AS DATE) AS day_end,
                    CASE WHEN value % 2 = 0 THEN 'A' ELSE 'B' END AS reseller, CAST(NULL AS VARCHAR) AS store,
                    CASE WHEN value % 3 = 0 THEN 'online' ELSE 'retail' END AS channel, 'DE' AS country,
                    'P' || CAST(value % 7 AS VARCHAR) AS product_ean, 'P' || CAST(value % 7 AS VARCHAR) AS product,
                    value % 5 + 1 AS quantity, CAST(value AS DECIMAL(18, 2)) AS sales_eur,
                    CAST(NULL AS VARCHAR) AS order_key, CAST(1 AS BIGINT) AS lines, CAST(1 AS BIGINT) AS own_orders,
                    CAST(1 AS BIGINT) AS sold, 'b1' AS batch_id
             FROM generate_series(0, 399)",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
        ctx.table_provider("rollup_products").await.unwrap()
    }

    async fn answers(
        table: &Arc<dyn datafusion::catalog::TableProvider>,
        plans: Option<&Arc<Plans>>,
        filters: &Filters,
        w: crate::analytics::Window,
    ) -> String {
        let ctx = SessionContext::new();
        ctx.register_table(Grain::Products.table(), table.clone())
            .unwrap();
        if let Some(p) = plans {
            Plans::attach(&ctx, p.clone());
        }
        let source = Source::Rollup(Grain::Products);
        register_filtered(&ctx, filters, source).await.unwrap();
        let mut out = pretty_format_batches(&totals(&ctx, w).await.unwrap())
            .unwrap()
            .to_string();
        let ranked = top(&ctx, w, Dimension::Product, 3).await.unwrap();
        out.push_str(&pretty_format_batches(&ranked).unwrap().to_string());
        out
    }

    /// Kept plans answer every window and filter as planning from the text does, and are
    /// reused: one plan per query shape and filter set, not per window.
    #[tokio::test]
    async fn kept_plans_answer_as_fresh_ones() {
        let table = rollup().await;
        let plans = Arc::new(Plans::default());
        let by = |reseller: Option<&str>, channel: Option<&str>| Filters {
            reseller: reseller.map(str::to_owned),
            channel: channel.map(str::to_owned),
            ..Default::default()
        };
        let filter_sets = [
            by(None, None),
            by(Some("A"), None),
            by(Some("B"), None),
            by(Some("A"), Some("online")),
        ];
        let mut rng = XorShift::new(7);
        let (mut runs, mut differ) = (0, false);
        for _ in 0..12 {
            let from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
                + chrono::Duration::days((rng.next_u64() % 300) as i64);
            let w = crate::analytics::Window {
                from,
                to: from + chrono::Duration::days((rng.next_u64() % 60) as i64),
            };
            let mut seen = Vec::new();
            for f in &filter_sets {
                let kept = answers(&table, Some(&plans), f, w).await;
                assert_eq!(kept, answers(&table, None, f, w).await, "{f:?} {w:?}");
                seen.push(kept);
                runs += 2;
            }
            differ |= seen[1] != seen[2];
        }
        assert!(
            differ,
            "resellers A and B never differed: the test proves nothing"
        );
        // Two queries (totals, top) per filter set, one shape each (no month layer here).
        assert_eq!(plans.len(), 2 * filter_sets.len(), "after {runs} runs");
    }

    /// A query marked `once` (the pages of sale lines) is planned from its text and leaves no
    /// plan behind to push the dashboard's out.
    #[tokio::test]
    async fn queries_run_once_keep_no_plan() {
        let ctx = SessionContext::new();
        let plans = Arc::new(Plans::default());
        Plans::attach(&ctx, plans.clone());
        for page in 0..5 {
            let q = Query::default()
                .with(format!(
                    "SELECT * FROM generate_series(0, 99) LIMIT 10 OFFSET {}",
                    page * 10
                ))
                .once();
            let got = run(&ctx, &q).await.unwrap();
            assert_eq!(got.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
        }
        assert!(plans.is_empty());
        run(&ctx, &Query::default().with("SELECT 1".into()))
            .await
            .unwrap();
        assert_eq!(plans.len(), 1);
    }
}

//! Where a dashboard request's time goes: for each query of the analytics page, over the
//! analytics bench's tenant (run `--bench analytics` first; it writes the lake), the mean time
//! to parse and plan it, to optimize the plan, to make the physical plan, and to run it; one
//! query at a time on one thread, with and without the rollups' month layer.
//!
//! `cargo bench -p taskifai-benches --bench query_cost -- [ROWS] [BATCHES] [WINDOWS]`
//! (defaults 10000000 1008 40). Writes `benches/QUERY_COST_RESULTS.md`.

mod bench_args;

use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use std::collections::HashMap;
use std::time::Instant;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::SessionCache;
use taskifai_connectors::TenantId;
use taskifai_engine::analytics::{
    self as q, Bucket, Dimension, Filters, Grain, Query, Source, Window,
};
use taskifai_tests::repo_path;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Milliseconds per phase: plan, optimize, physical plan, run.
type Phases = [f64; 4];

async fn cost(ctx: &SessionContext, q: &Query) -> anyhow::Result<(Phases, String)> {
    let state = ctx.state();
    let t0 = Instant::now();
    let plan = state
        .create_logical_plan(&q.sql)
        .await?
        .with_param_values(q.params.clone())?;
    let t1 = Instant::now();
    let optimized = state.optimize(&plan)?;
    let t2 = Instant::now();
    let physical = state
        .query_planner()
        .create_physical_plan(&optimized, &state)
        .await?;
    let t3 = Instant::now();
    let batches = datafusion::physical_plan::collect(physical, ctx.task_ctx()).await?;
    let t4 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
    Ok(([ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t3, t4)], text))
}

/// Milliseconds to bind a cached optimized plan, make its physical plan and run it; and the
/// answer, to compare with the literal query's.
async fn cached_cost(
    ctx: &SessionContext,
    plans: &mut HashMap<String, LogicalPlan>,
    q: &Query,
) -> anyhow::Result<([f64; 3], String)> {
    let state = ctx.state();
    if !plans.contains_key(&q.sql) {
        let plan = state.create_logical_plan(&q.sql).await?;
        plans.insert(q.sql.clone(), state.optimize(&plan)?);
    }
    let t0 = Instant::now();
    let bound = plans[&q.sql].clone().with_param_values(q.params.clone())?;
    let t1 = Instant::now();
    let physical = state
        .query_planner()
        .create_physical_plan(&bound, &state)
        .await?;
    let t2 = Instant::now();
    let batches = datafusion::physical_plan::collect(physical, ctx.task_ctx()).await?;
    let t3 = Instant::now();
    let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
    Ok(([ms(t0, t1), ms(t1, t2), ms(t2, t3)], text))
}

/// The page's queries for window `w` over a session with `f` registered.
fn page(ctx: &SessionContext, w: Window, stores: bool) -> Vec<(&'static str, Query)> {
    if stores {
        return vec![("top stores", q::top_sql(ctx, w, Dimension::Store, 10))];
    }
    vec![
        ("KPI totals", q::totals_sql(ctx, w)),
        ("KPI previous revenue", q::revenue_sql(ctx, w.previous())),
        (
            "KPI last year's revenue",
            q::revenue_sql(ctx, w.year_before()),
        ),
        ("KPI movers", q::movers_sql(w)),
        ("channel mix", q::channel_mix_sql(ctx, w)),
        ("month series", q::timeseries_sql(ctx, w, Bucket::Month)),
        ("top products", q::top_sql(ctx, w, Dimension::Product, 10)),
        ("top resellers", q::top_sql(ctx, w, Dimension::Reseller, 10)),
        ("top markets", q::top_sql(ctx, w, Dimension::Market, 10)),
    ]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let [rows, batches, windows] = bench_args::numbers([10_000_000, 1008, 40]);
    let lake_dir = bench_args::existing_analytics_lake(rows, batches)?;
    // Session settings to try, e.g. QUERY_COST_SET='SET datafusion.execution.target_partitions = 1'.
    let settings: Vec<String> = std::env::var("QUERY_COST_SET")
        .unwrap_or_default()
        .split(';')
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
        .collect();
    let lake = Lake::open(lake_dir.to_str().expect("a UTF-8 path"))?;
    let (tenant, sessions) = (TenantId::demo(), SessionCache::default());
    let mut out = format!(
        "# Where a dashboard query's time goes\n\n{rows} sell-out lines in {batches} batches (the analytics bench's tenant), {windows} windows of 29 to 729 days, one query at a time on one thread; mean ms per query. Session settings: {}.\n\nThe first four phases are the path of a query planned from its text; the last four columns run the same query from a plan made once per query shape (dates as placeholders, optimized once; what the server does since 2026-12-06): binding the dates, physical planning, running, and how many times faster than the full path; both answers are compared.\n\n| query | month layer | plan | optimize | physical plan | run | planning share | bind | physical plan | run | cached plan, speed-up |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        if settings.is_empty() { "the product's".to_owned() } else { settings.join("; ") }
    );
    let mut setups = Vec::new();
    for months in [true, false] {
        for (grain, stores) in [(Grain::Products, false), (Grain::Stores, true)] {
            let mut sums: Vec<(&str, Phases, [f64; 3])> = Vec::new();
            let mut plans = HashMap::new();
            let mut setup = 0.0;
            for i in 0..windows {
                let from = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).expect("a date")
                    + chrono::Duration::days((i * 23 % 900) as i64);
                let w = Window {
                    from,
                    to: from + chrono::Duration::days(28 + (i * 37 % 700) as i64),
                };
                // What a request does before its queries: its session and its `f`.
                let t = Instant::now();
                let (ctx, _) = sessions.rollup_session(&lake, &tenant, grain).await?;
                q::register_filtered(&ctx, &Filters::default(), Source::Rollup(grain)).await?;
                if i > 0 {
                    setup += t.elapsed().as_secs_f64() * 1000.0 / (windows - 1) as f64;
                }
                for set in &settings {
                    ctx.sql(set).await?.collect().await?;
                }
                if !months {
                    ctx.deregister_table("fm")?;
                }
                for (k, (name, sql)) in page(&ctx, w, stores).into_iter().enumerate() {
                    let (c, want) = cost(&ctx, &sql).await?;
                    let (b, got) = cached_cost(&ctx, &mut plans, &sql).await?;
                    if got != want {
                        anyhow::bail!("{name}: the cached plan answered\n{got}\nthe query\n{want}");
                    }
                    if sums.len() <= k {
                        sums.push((name, [0.0; 4], [0.0; 3]));
                    }
                    for (s, v) in sums[k].1.iter_mut().zip(c) {
                        *s += v / windows as f64;
                    }
                    for (s, v) in sums[k].2.iter_mut().zip(b) {
                        *s += v / windows as f64;
                    }
                }
            }
            for (name, [a, b, c, d], [e, f, g]) in sums {
                let share = (a + b + c) / (a + b + c + d) * 100.0;
                let row = format!(
                    "| {name} | {} | {a:.2} | {b:.2} | {c:.2} | {d:.2} | {share:.0}% | {e:.2} | {f:.2} | {g:.2} | {:.2}x |\n",
                    if months { "yes" } else { "no" },
                    (a + b + c + d) / (e + f + g)
                );
                eprint!("{row}");
                out.push_str(&row);
            }
            setups.push(format!(
                "- {grain:?}, month layer {}: {setup:.2} ms\n",
                if months { "on" } else { "off" }
            ));
        }
    }
    out.push_str("\nA request's session before its queries (the session over the kept tables and rollup, and its `f` view), mean ms after the first:\n\n");
    out.push_str(&setups.concat());
    std::fs::write(repo_path("benches/QUERY_COST_RESULTS.md"), out)?;
    Ok(())
}

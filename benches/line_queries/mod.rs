//! Guarded SQL over the analytics bench's sale lines (not its rollups), as `/api/query` and the
//! chat run it: the queries the `cluster` and `small_files` benches time, and their timing.

use datafusion::prelude::SessionContext;
use std::future::Future;
use std::time::Instant;
use taskifai_api::query_runner::run_guarded;

/// Name and SQL of each query.
pub const QUERIES: [(&str, &str); 5] = [
    ("count", "SELECT count(*) AS n FROM sellout_entries"),
    (
        "revenue per reseller",
        "SELECT reseller, sum(sales_eur) AS revenue, sum(quantity) AS units FROM sellout_entries GROUP BY reseller ORDER BY revenue DESC",
    ),
    (
        "products per month",
        "SELECT year, month, count(DISTINCT product_ean) AS products FROM sellout_entries GROUP BY year, month ORDER BY year, month",
    ),
    (
        "top 10 products of 2025",
        "SELECT product_ean, sum(sales_eur) AS revenue FROM sellout_entries WHERE year = 2025 GROUP BY product_ean ORDER BY revenue DESC, product_ean LIMIT 10",
    ),
    (
        "one month's resellers",
        "SELECT reseller, sum(sales_eur) AS revenue FROM sellout_entries WHERE year = 2024 AND month = 3 GROUP BY reseller ORDER BY reseller",
    ),
];

/// Median ms of `repeats` runs of `sql` through the guard, each in a session from `session`
/// (its making timed too), and the answer as JSON.
pub async fn median<F, Fut>(session: F, sql: &str, repeats: usize) -> anyhow::Result<(f64, String)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<SessionContext>>,
{
    let mut ms = Vec::new();
    let mut answer = String::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let ctx = session().await?;
        let r = run_guarded(&ctx, sql, 10_000)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
        answer = serde_json::to_string(&r.rows)?;
    }
    ms.sort_by(f64::total_cmp);
    Ok((ms[ms.len() / 2], answer))
}

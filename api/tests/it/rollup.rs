//! The dashboard's rollup answers exactly as the lines do: every analytics query, on random
//! filters and windows over the demo history (sell-out and web-shop orders), gives the same
//! text from `sales_rollup` as from every line, also after a delete and a new load.

use crate::cli::{files_under, run, taskifai};
use chrono::{Datelike, Duration, NaiveDate};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;
use std::path::Path;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::SessionCache;
use taskifai_connectors::TenantId;
use taskifai_engine::analytics::{self as q, Bucket, Dimension, Filters, Grain, Source, Window};
use taskifai_engine::xorshift::XorShift;

pub(crate) fn text(b: &[RecordBatch]) -> String {
    pretty_format_batches(b).unwrap().to_string()
}

/// Every query a rollup serves, as text: the store ranking from the store grain, the others
/// from the product grain.
pub(crate) async fn answers(
    ctx: &SessionContext,
    w: Window,
    stores: bool,
) -> Vec<(String, String)> {
    if stores {
        return vec![(
            "top stores".into(),
            text(&q::top(ctx, w, Dimension::Store, 7).await.unwrap()),
        )];
    }
    let mut out = vec![
        ("totals", q::totals(ctx, w).await),
        ("movers", q::movers(ctx, w).await),
        ("channels", q::channel_mix(ctx, w).await),
        ("previous", q::revenue(ctx, w.previous()).await),
        ("last year", q::revenue(ctx, w.year_before()).await),
    ];
    for b in [Bucket::Day, Bucket::Week, Bucket::Month] {
        out.push(("series", q::timeseries(ctx, w, b).await));
        if let Some(o) = q::outside_buckets(ctx, w, b).await.transpose() {
            out.push(("outside", o));
        }
    }
    for d in [Dimension::Product, Dimension::Reseller, Dimension::Market] {
        out.push(("top", q::top(ctx, w, d, 7).await));
    }
    out.into_iter()
        .map(|(name, r)| (name.to_owned(), text(&r.unwrap())))
        .collect()
}

/// Fast and slow movers as first written: products sold in the last 30 days of the window,
/// and those sold in its last 90 but not among them.
async fn movers_by_anti_join(ctx: &SessionContext, w: Window) -> Vec<RecordBatch> {
    let between = |days: i64| {
        format!(
            "day BETWEEN DATE '{}' AND DATE '{}'",
            w.to - Duration::days(days - 1),
            w.to
        )
    };
    let (r, q) = (between(30), between(90));
    let sql = format!(
        "SELECT (SELECT count(DISTINCT product) FROM f WHERE quantity > 0 AND {r}) AS fast_movers,
                (SELECT count(DISTINCT product) FROM f WHERE quantity > 0 AND {q} AND product NOT IN
                   (SELECT product FROM f WHERE quantity > 0 AND {r} AND product IS NOT NULL)) AS slow_movers"
    );
    ctx.sql(&sql).await.unwrap().collect().await.unwrap()
}

async fn distinct(ctx: &SessionContext, column: &str) -> Vec<String> {
    let sql = format!(
        "SELECT DISTINCT CAST({column} AS VARCHAR) FROM f WHERE {column} IS NOT NULL ORDER BY 1"
    );
    let b = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    let mut out = Vec::new();
    for batch in b {
        let c = datafusion::arrow::compute::cast(
            batch.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        let c = datafusion::arrow::array::as_string_array(&c);
        out.extend(c.iter().flatten().map(str::to_owned));
    }
    out
}

/// `rounds` random filters: the same answers from the rollup as from the lines.
async fn compare(lake: &Lake, sessions: &SessionCache, rounds: usize, seed: u64) -> usize {
    let tenant = TenantId::demo();
    let all = sessions.session(lake, &tenant).await.unwrap();
    q::register_filtered(&all, &Filters::default(), Source::Lines)
        .await
        .unwrap();
    let values = [
        distinct(&all, "reseller").await,
        distinct(&all, "product").await,
        distinct(&all, "product_ean").await,
        distinct(&all, "country").await,
    ];
    let span = q::resolve_window(&all, None).await.unwrap().unwrap();
    let days = (span.to - span.from).num_days() as u64;
    let mut rng = XorShift::new(seed);
    let pick = |v: &[String], rng: &mut XorShift| -> Option<String> {
        (rng.below(2) == 0 && !v.is_empty()).then(|| v[rng.below(v.len() as u64) as usize].clone())
    };
    let mut nonempty = 0;
    for round in 0..rounds {
        let from: NaiveDate = span.from + Duration::days(rng.below(days) as i64);
        let to = from + Duration::days(rng.below(200) as i64);
        // Every third window is whole months, which the month layer answers alone.
        let (from, to) = if round % 3 == 0 {
            let first = |d: NaiveDate| d.with_day(1).unwrap();
            (
                first(from),
                first(to) + chrono::Months::new(1) - Duration::days(1),
            )
        } else {
            (from, to)
        };
        let product = if rng.below(2) == 0 {
            pick(&values[1], &mut rng)
        } else {
            pick(&values[2], &mut rng)
        };
        let filters = Filters {
            from: Some(from),
            to: Some(to),
            reseller: pick(&values[0], &mut rng),
            product,
            country: pick(&values[3], &mut rng),
            channel: [None, Some("retail"), Some("online")][rng.below(3) as usize]
                .map(str::to_owned),
            ..Default::default()
        };
        let w = filters.window(span.to).unwrap().unwrap();
        assert_eq!(
            text(&q::movers(&all, w).await.unwrap()),
            text(&movers_by_anti_join(&all, w).await),
            "{w:?}"
        );
        let mut got = Vec::new();
        for (grain, stores) in [(Grain::Products, false), (Grain::Stores, true)] {
            for from in [Source::Lines, Source::Rollup(grain)] {
                let ctx = match from {
                    Source::Lines => sessions.session(lake, &tenant).await.unwrap(),
                    Source::Rollup(g) => sessions.rollup_session(lake, &tenant, g).await.unwrap().0,
                };
                let mut f = filters.clone();
                if stores {
                    // The store grain has no products: it only serves rankings without one.
                    f.product = None;
                }
                q::register_filtered(&ctx, &f, from).await.unwrap();
                got.push(answers(&ctx, w, stores).await);
            }
        }
        for (lines, rollup) in got[0].iter().zip(&got[1]).chain(got[2].iter().zip(&got[3])) {
            assert_eq!(lines, rollup, "round {round}, {filters:?}");
        }
        // A month series with points: the window and filters found sales.
        let series = got[0].iter().filter(|(n, _)| n == "series").nth(2).unwrap();
        if series.1.lines().count() > 4 {
            nonempty += 1;
        }
    }
    nonempty
}

/// Generates `months` months of the demo history up to `until` into `out` and loads them into
/// the lake with the CLI.
pub(crate) async fn history_loaded(lake: &Path, out: &Path, until: &str, months: &str) {
    let (lake, out) = (lake.to_owned(), out.to_owned());
    let (until, months) = (until.to_owned(), months.to_owned());
    tokio::task::spawn_blocking(move || {
        let (code, stdout, err) = run(taskifai(&lake)
            .args([
                "gen-history",
                "--until",
                &until,
                "--months",
                &months,
                "--out",
            ])
            .arg(&out));
        assert_eq!(code, 0, "{stdout}{err}");
        let mut files = files_under(&out);
        files.sort();
        let (code, stdout, err) = run(taskifai(&lake)
            .args(["ingest", "--tenant", "demo"])
            .args(&files));
        assert!(code == 0 || code == 3, "{stdout}{err}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollup_answers_every_dashboard_query_as_the_lines_do() {
    let dir = tempfile::tempdir().unwrap();
    let (lake_dir, history) = (dir.path().join("lake"), dir.path().join("history"));
    history_loaded(&lake_dir, &history, "2025-06", "6").await;
    let lake = Lake::open(lake_dir.to_str().unwrap()).unwrap();
    let sessions = SessionCache::default();
    let nonempty = compare(&lake, &sessions, 10, 7).await;
    assert!(
        nonempty >= 4,
        "only {nonempty} of 10 rounds had sales: the test would prove little"
    );

    // Fewer rows, and the web-shop orders are in it.
    let (ctx, _) = sessions
        .rollup_session(&lake, &TenantId::demo(), Grain::Products)
        .await
        .unwrap();
    let count = |sql: &'static str| {
        let ctx = ctx.clone();
        async move {
            let b = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            datafusion::arrow::array::as_primitive_array::<datafusion::arrow::datatypes::Int64Type>(
                b[0].column(0),
            )
            .value(0)
        }
    };
    let lines = count("SELECT count(*) FROM sellout_entries").await;
    let rolled = count("SELECT count(*) FROM rollup_products WHERE channel <> 'online'").await;
    assert!(rolled < lines, "{rolled} rollup rows for {lines} lines");
    assert!(count("SELECT count(DISTINCT order_key) FROM rollup_products").await > 0);
    let months = count("SELECT count(*) FROM rollup_products_months").await;
    let days = count("SELECT count(*) FROM rollup_products").await;
    assert!(months < days, "{months} month rows for {days} day rows");

    // A delete and a new load change the rollup with the lines.
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let gone = snap.batches.keys().nth(3).unwrap().clone();
    assert!(lake.delete_batch(&TenantId::demo(), &gone).await.unwrap());
    compare(&lake, &sessions, 3, 8).await;
    history_loaded(&lake_dir, &dir.path().join("more"), "2025-09", "2").await;
    compare(&lake, &sessions, 3, 9).await;
}

//! The Ballista path (`--features ballista`): a scheduler and executor started in this process,
//! then as `taskifai cluster` processes, answer the dashboard's queries and guarded SQL exactly
//! as this process does; the guard refuses before anything is sent; the bounded functions stay
//! bounded on the executors.

use crate::cli::{run, taskifai};
use crate::rollup::{answers, history_loaded};
use chrono::NaiveDate;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::Duration;
use taskifai_api::query_runner::run_guarded;
use taskifai_cluster::ClusterPlanner;
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::SessionCache;
use taskifai_connectors::TenantId;
use taskifai_engine::analytics::{self as q, Filters, Grain, Source, Window};

const SQL: [&str; 4] = [
    "SELECT reseller, sum(sales_eur) AS revenue, count(*) AS lines FROM sellout_entries GROUP BY reseller ORDER BY reseller",
    "SELECT date_trunc('month', sale_date) AS month, sum(quantity) AS units FROM sellout_entries GROUP BY 1 ORDER BY 1",
    "SELECT s.reseller, sum(o.n) AS web_orders FROM (SELECT DISTINCT reseller, product_ean FROM sellout_entries) s JOIN (SELECT product_ean, count(DISTINCT order_id) AS n FROM ecommerce_orders GROUP BY 1) o ON s.product_ean = o.product_ean GROUP BY 1 ORDER BY 1",
    "SELECT reseller || ' / ' || country AS who, product_ean FROM sellout_entries ORDER BY sales_eur DESC, product_ean, who LIMIT 20",
];

async fn guarded(ctx: &datafusion::prelude::SessionContext, sql: &str) -> Result<String, String> {
    run_guarded(ctx, sql, 1000)
        .await
        .map(|r| serde_json::to_string(&(r.columns, r.rows, r.truncated)).unwrap())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ballista_cluster_answers_as_this_process_does() {
    let dir = tempfile::tempdir().unwrap();
    let lake_dir = dir.path().join("lake");
    history_loaded(&lake_dir, &dir.path().join("history"), "2025-06", "4").await;
    let lake = Lake::open(lake_dir.to_str().unwrap()).unwrap();
    let tenant = TenantId::demo();

    let url = taskifai_cluster::standalone(2, &vec![]).await.unwrap();
    let cluster = ClusterPlanner::connect(&url).await.unwrap();
    let local = SessionCache::default();
    let remote = SessionCache::default().with_planner(Some(Arc::new(cluster.clone())));

    // The dashboard: from the lines (scans, sent) and from the rollup (built on the cluster,
    // then read here), over windows and filters.
    let day = |m, d| NaiveDate::from_ymd_opt(2025, m, d).unwrap();
    let windows = [
        Window {
            from: day(3, 1),
            to: day(6, 30),
        },
        Window {
            from: day(4, 13),
            to: day(5, 27),
        },
    ];
    let filter_sets = [
        Filters::default(),
        Filters {
            country: Some("DE".into()),
            ..Default::default()
        },
    ];
    for w in windows {
        for f in &filter_sets {
            for source in [Source::Lines, Source::Rollup(Grain::Products)] {
                let mut got = Vec::new();
                for sessions in [&local, &remote] {
                    let ctx = match source {
                        Source::Rollup(g) => {
                            sessions.rollup_session(&lake, &tenant, g).await.unwrap().0
                        }
                        _ => sessions.session(&lake, &tenant).await.unwrap(),
                    };
                    q::register_filtered(&ctx, f, source).await.unwrap();
                    got.push(answers(&ctx, w, false).await);
                }
                assert_eq!(got[0], got[1], "{source:?} {w:?} {f:?}");
            }
        }
    }
    let after_dashboard = cluster.jobs();
    assert!(
        after_dashboard > 20,
        "only {after_dashboard} jobs went to the cluster"
    );

    // Guarded SQL, each query one job.
    let (here, there) = (
        local.session(&lake, &tenant).await.unwrap(),
        remote.session(&lake, &tenant).await.unwrap(),
    );
    for sql in SQL {
        let before = cluster.jobs();
        let expected = guarded(&here, sql).await.unwrap();
        assert!(expected.len() > 100, "{sql}: {expected}");
        assert_eq!(guarded(&there, sql).await.unwrap(), expected, "{sql}");
        assert_eq!(
            cluster.jobs(),
            before + 1,
            "{sql} did not go to the cluster"
        );
    }

    // The guard refuses before anything is sent.
    let before = cluster.jobs();
    for sql in [
        "DROP TABLE sellout_entries",
        "SELECT * FROM 'file:///etc/passwd'",
        "CREATE EXTERNAL TABLE x STORED AS CSV LOCATION '/etc/'",
        "COPY sellout_entries TO '/tmp/out.csv'",
    ] {
        let refused = guarded(&there, sql).await.unwrap_err();
        assert!(refused.contains("sql_refused"), "{sql}: {refused}");
    }
    assert_eq!(
        cluster.jobs(),
        before,
        "a refused query reached the cluster"
    );

    // The executors' `repeat` is TaskifAI's bounded one, not the cluster's own.
    let huge = "SELECT max(length(repeat(reseller, 100000000))) AS n FROM sellout_entries";
    let failed = guarded(&there, huge).await.unwrap_err();
    assert!(failed.contains("would build"), "{failed}");
    assert_eq!(cluster.jobs(), before + 1);
}

fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// Ports free at once, so no two are the same.
fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<_> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| held[i].local_addr().unwrap().port())
}

/// Waits until something accepts connections on `port` (a minute at most).
async fn listening(port: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The deployment's processes: `taskifai cluster scheduler` and `executor`, and the CLI's
/// `--query-engine`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taskifai_cluster_processes_run_the_cli_queries() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    history_loaded(&lake, &dir.path().join("history"), "2025-03", "2").await;
    let [scheduler, flight, grpc] = free_ports::<3>();
    let spawn = |args: Vec<String>| {
        Killed(
            taskifai(&lake)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let _s = spawn(vec![
        "cluster".into(),
        "scheduler".into(),
        "--bind".into(),
        format!("127.0.0.1:{scheduler}"),
    ]);
    let engine = format!("ballista://127.0.0.1:{scheduler}");
    listening(scheduler).await;
    let mut executor = spawn(vec![
        "cluster".into(),
        "executor".into(),
        "--scheduler".into(),
        engine.clone(),
        "--bind".into(),
        format!("127.0.0.1:{flight}"),
        "--grpc-port".into(),
        grpc.to_string(),
        "--external-host".into(),
        "127.0.0.1".into(),
        "--cores".into(),
        "2".into(),
    ]);
    let query = {
        let lake = lake.clone();
        move |engine: &str, sql: &str| {
            run(taskifai(&lake).args(["--query-engine", engine, "query", "--format", "csv", sql]))
        }
    };
    let sql = SQL[0];
    let (code, expected, err) = query("local", sql);
    assert_eq!(code, 0, "{err}");
    // The scheduler takes a moment to listen, and a job waits for an executor.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (code, got, err) = loop {
        // A query the cluster cannot finish fails the test instead of hanging it.
        let attempt = tokio::task::spawn_blocking({
            let (engine, query) = (engine.clone(), query.clone());
            move || query(&engine, sql)
        });
        let r = tokio::time::timeout(Duration::from_secs(120), attempt)
            .await
            .expect("a query on the cluster took over 2 minutes")
            .unwrap();
        if r.0 == 0 || std::time::Instant::now() > deadline {
            break r;
        }
        assert!(
            executor.0.try_wait().unwrap().is_none(),
            "the executor exited"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(code, 0, "{err}");
    assert_eq!(got, expected);
    assert!(expected.lines().count() > 2, "{expected}");

    // A scheduler that is not there is a clear error, not a hang.
    let dead = format!("ballista://127.0.0.1:{}", free_port());
    let (code, _, err) = query(&dead, sql);
    assert_ne!(code, 0);
    assert!(err.contains("does not answer"), "{err}");
    let (code, _, err) = query("spark://x", sql);
    assert_ne!(code, 0);
    assert!(err.contains("expected ballista://HOST:PORT"), "{err}");

    // A scheduler without executors queues the job; --timeout-secs ends the wait.
    let lonely = free_port();
    let _l = spawn(vec![
        "cluster".into(),
        "scheduler".into(),
        "--bind".into(),
        format!("127.0.0.1:{lonely}"),
    ]);
    listening(lonely).await;
    let (code, _, err) = run(taskifai(&lake).args([
        "--query-engine",
        &format!("ballista://127.0.0.1:{lonely}"),
        "query",
        "--timeout-secs",
        "3",
        sql,
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("did not finish within 3 s"), "{err}");
}

//! A worker killed in the middle of a job: the job's lease runs out, another worker takes it
//! and finishes it once; the batch is in the lake and the database exactly once.

use super::kit::{sample, Options, TestServer};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use taskifai_connectors::TenantId;

/// A worker process whose log goes to `log` (a file, so nothing blocks or breaks when no one reads it).
fn worker(s: &TestServer, crash: bool, log: &std::path::Path) -> Child {
    worker_with(s, crash, log, &[])
}

/// [`worker`] with more environment, e.g. `TASKIFAI_SMTP_URL`.
pub(super) fn worker_with(
    s: &TestServer,
    crash: bool,
    log: &std::path::Path,
    env: &[(&str, &str)],
) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_taskifai"));
    c.envs(env.iter().copied());
    c.current_dir(taskifai_tests::repo_path(""))
        .args([
            "worker",
            "--workers",
            "1",
            "--lease-secs",
            "2",
            "--grace-secs",
            "1",
        ])
        .env("DATABASE_URL", &s.db.url)
        .env("TASKIFAI_LAKE", s.lake_dir.path())
        .env_remove("TASKIFAI_SPECS")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if crash {
        c.env("TASKIFAI_CRASHPOINT", "after_first_write");
    } else {
        c.env_remove("TASKIFAI_CRASHPOINT");
    }
    c.spawn().expect("the worker starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_worker_was_killed_completes_once_after_another_takes_it() {
    // The server runs no workers of its own; the workers are real processes.
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = s.admin_token("demo", "ops@bibbi.example").await;
    let id = s
        .upload_one(
            "demo",
            &token,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;

    let logs = tempfile::tempdir().unwrap();
    let mut first = worker(&s, true, &logs.path().join("first.log"));
    until_frozen(&logs.path().join("first.log")).await;
    let mid: Value = s.json("demo", &token, &format!("/api/uploads/{id}")).await;
    assert_eq!(mid["status"], "processing", "{mid}");
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = worker(&s, false, &logs.path().join("second.log"));
    let started = Instant::now();
    let done = s.wait("demo", &token, &id).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the job was retaken only after its lease ran out"
    );
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["job"]["status"], "done");
    assert_eq!(done["job"]["attempts"], 2);
    assert_eq!(done["rows_accepted"], 6);

    let pool = &s.db.registry.pool;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sellout_entries WHERE batch_id = $1")
        .bind(&id)
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(rows, 6, "loaded once in the database");
    let batches = s
        .state
        .lake
        .snapshot(&TenantId::demo())
        .await
        .unwrap()
        .batches
        .clone();
    assert_eq!(batches.len(), 1, "loaded once in the lake");
    assert_eq!(batches[&id].0.rows, 6);
    let jobs: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, count(*) FROM job_queue GROUP BY kind ORDER BY kind")
            .fetch_all(pool)
            .await
            .unwrap();
    // One load, and one email about it, though two workers ran it.
    assert_eq!(jobs, [("email".to_string(), 1), ("ingest".to_string(), 1)]);
    s.stop().await;
}

/// A file that stops every worker that loads it (here: a worker frozen and killed at the same
/// point, twice) is set aside as failed, with a message, instead of being retried forever; the
/// tenant can then delete it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_stops_its_worker_twice_is_set_aside_and_can_be_deleted() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = s.admin_token("demo", "ops@bibbi.example").await;
    let id = s
        .upload_one(
            "demo",
            &token,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;
    let logs = tempfile::tempdir().unwrap();
    for n in 0..2 {
        let log = logs.path().join(format!("crash{n}.log"));
        let mut w = worker(&s, true, &log);
        until_frozen(&log).await;
        w.kill().unwrap();
        w.wait().unwrap();
    }
    let mut last = worker(&s, false, &logs.path().join("last.log"));
    let done = s.wait("demo", &token, &id).await;
    last.kill().unwrap();
    last.wait().unwrap();
    assert_eq!(done["status"], "failed", "{done}");
    let why = done["error_summary"].as_str().unwrap_or_default();
    assert!(
        why.contains("stopped 2 times") && why.contains("set aside"),
        "{done}"
    );
    assert_eq!(done["job"]["status"], "failed");
    let res = s
        .req(
            reqwest::Method::DELETE,
            "demo",
            &format!("/api/uploads/{id}"),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    s.stop().await;
}

/// Waits for a worker's log to say it reached the crash point (where it then hangs).
async fn until_frozen(log: &std::path::Path) {
    let started = Instant::now();
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains("crashpoint AfterFirstWrite reached")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the worker did not reach the crash point: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_asked_to_stop_gives_its_job_back_and_the_next_worker_finishes_it() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = s.admin_token("demo", "ops@bibbi.example").await;
    let id = s
        .upload_one(
            "demo",
            &token,
            sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        )
        .await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("first.log");
    let mut first = worker(&s, true, &log);
    until_frozen(&log).await;
    let term = Command::new("kill")
        .args(["-TERM", &first.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exited = tokio::task::spawn_blocking(move || first.wait().unwrap());
    let status = tokio::time::timeout(Duration::from_secs(30), exited)
        .await
        .expect("the worker stops within its grace period")
        .unwrap();
    assert!(status.success(), "a clean exit: {status:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("the job is given back"), "{text}");
    let job: (String, i32) =
        sqlx::query_as("SELECT status, attempts FROM job_queue WHERE kind = 'ingest'")
            .fetch_one(&s.db.registry.pool)
            .await
            .unwrap();
    assert_eq!(
        job,
        ("queued".to_owned(), 0),
        "given back at once, the attempt not counted"
    );
    let mut second = worker(&s, false, &logs.path().join("second.log"));
    let done = s.wait("demo", &token, &id).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["job"]["attempts"], 1);
    assert_eq!(
        s.state
            .lake
            .snapshot(&TenantId::demo())
            .await
            .unwrap()
            .batches
            .len(),
        1
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_fails_at_once_with_the_engines_message_and_can_be_retried() {
    let s = TestServer::start(Options::default()).await;
    let token = s.admin_token("demo", "ops@bibbi.example").await;
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("april.xlsx");
    std::fs::write(&pdf, b"%PDF-1.7\n1 0 obj << >> endobj\n").unwrap();
    let up: Vec<Value> = s
        .upload("demo", &token, &[pdf], &[])
        .await
        .json()
        .await
        .unwrap();
    let id = up[0]["id"].as_str().unwrap();
    let failed = s.wait("demo", &token, id).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error_summary"]
            .as_str()
            .unwrap()
            .contains("april.xlsx"),
        "{failed}"
    );
    assert_eq!(failed["job"]["attempts"], 1, "a bad file is not retried");
    assert!(s
        .state
        .lake
        .snapshot(&TenantId::demo())
        .await
        .unwrap()
        .batches
        .is_empty());

    let retry = s
        .req(
            reqwest::Method::POST,
            "demo",
            &format!("/api/uploads/{id}/retry"),
        )
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), reqwest::StatusCode::ACCEPTED);
    let again = s.wait("demo", &token, id).await;
    assert_eq!(again["status"], "failed");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_respect_the_per_tenant_cap_and_only_the_lease_holder_finishes() {
    use taskifai_api::jobs;
    let db = taskifai_tests::pg::TestDb::new().await;
    let pool = &db.registry.pool;
    for (tenant, batch) in [
        ("acme", "a1"),
        ("acme", "a2"),
        ("acme", "a3"),
        ("globex", "g1"),
    ] {
        jobs::enqueue(pool, &TenantId::parse(tenant).unwrap(), batch)
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(30);
    // Eight workers claim at once with a cap of one running job per tenant.
    let claims = futures::future::join_all((0..8).map(|i| {
        let pool = pool.clone();
        async move {
            jobs::claim(&pool, &format!("w{i}"), lease, 1)
                .await
                .unwrap()
        }
    }))
    .await;
    let mut got: Vec<(String, String)> = claims
        .into_iter()
        .flatten()
        .map(|j| (j.tenant_id.to_string(), j.batch_id))
        .collect();
    got.sort();
    assert_eq!(got.len(), 2, "one per tenant: {got:?}");
    assert_eq!(got[0].0, "acme");
    assert_eq!(got[1], ("globex".to_owned(), "g1".to_owned()));

    let running = jobs::claim(pool, "late", lease, 5).await.unwrap().unwrap();
    assert!(
        !jobs::complete(pool, &running, "someone-else", 0)
            .await
            .unwrap(),
        "only the holder completes"
    );
    assert!(jobs::complete(pool, &running, "late", 0).await.unwrap());
    assert!(
        !jobs::complete(pool, &running, "late", 0).await.unwrap(),
        "a job completes once"
    );
    db.cleanup().await;
}

/// One tenant's queue does not hold up another's: with a cap above one, the second claim goes to
/// the tenant with nothing running, although the first tenant's jobs were queued earlier.
#[tokio::test]
async fn claims_take_turns_between_tenants() {
    use taskifai_api::jobs;
    let db = taskifai_tests::pg::TestDb::new().await;
    let pool = &db.registry.pool;
    for (tenant, batch) in [
        ("acme", "a1"),
        ("acme", "a2"),
        ("acme", "a3"),
        ("globex", "g1"),
    ] {
        jobs::enqueue(pool, &TenantId::parse(tenant).unwrap(), batch)
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(30);
    let mut order = Vec::new();
    for w in 0..3 {
        let j = jobs::claim(pool, &format!("w{w}"), lease, 2).await.unwrap();
        order.push(j.expect("a job").batch_id);
    }
    assert_eq!(order, ["a1", "g1", "a2"]);
    db.cleanup().await;
}

/// A worker whose load leaves a month in `TASKIFAI_OPTIMIZE_FILES` files merges them: the
/// tenant's April is one file afterwards, and lake and database still hold every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_merges_a_month_once_loads_leave_it_in_enough_files() {
    let s = TestServer::start(Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let token = s.admin_token("demo", "ops@bibbi.example").await;
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("worker.log");
    let mut w = worker_with(&s, false, &log, &[("TASKIFAI_OPTIMIZE_FILES", "2")]);
    for f in [
        "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
        "liberty/Continuity Supplier Size Report 27-04-2025.xlsx",
    ] {
        let id = s.upload_one("demo", &token, sample(f)).await;
        let done = s.wait("demo", &token, &id).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    // The merge follows the second load's job.
    let deadline = Instant::now() + Duration::from_secs(60);
    let snap = loop {
        // A fresh reader: the server's lake caches its snapshot.
        let lake =
            taskifai_connectors::lake::Lake::open(s.lake_dir.path().to_str().unwrap()).unwrap();
        let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
        // The worker logs the merge once its commit is in: wait for both before killing it.
        let logged = std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Lake optimized."));
        if snap.partitions("sellout_entries") == ["year", "month"] && logged {
            break snap;
        }
        assert!(
            Instant::now() < deadline,
            "no merge: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    w.kill().unwrap();
    w.wait().unwrap();
    let files = snap.files("sellout_entries");
    assert_eq!(files.len(), 1, "April is one file");
    assert_eq!(files[0].rows, 11);
    assert_eq!(snap.batches.len(), 2);
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM sellout_entries")
        .fetch_one(&s.db.registry.pool)
        .await
        .unwrap();
    assert_eq!(rows, 11, "the database keeps every row once");
    s.stop().await;
}

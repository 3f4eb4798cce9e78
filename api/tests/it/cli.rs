//! The `taskifai` binary as a user runs it: exit codes, output, and a load killed mid-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

pub(crate) fn taskifai(lake: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_taskifai"));
    c.current_dir(repo(""))
        .env("TASKIFAI_LAKE", lake)
        .env_remove("TASKIFAI_SPECS")
        .env_remove("TASKIFAI_REFERENCE")
        .env_remove("DATABASE_URL");
    c
}

pub(crate) fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("taskifai runs");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn ingest_exit_codes_tell_success_rejects_and_failure_apart() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let ok = repo("sample-data/vendors/cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx");
    let (code, out, _) = run(taskifai(&lake)
        .args(["ingest", "--tenant", "demo"])
        .arg(&ok));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("rows      read 4, accepted 6, rejected 0"),
        "{out}"
    );
    let rejects =
        repo("sample-data/vendors/boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx");
    let (code, out, _) = run(taskifai(&lake)
        .args(["ingest", "--tenant", "demo"])
        .arg(&rejects));
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("[bad_product_ean]"), "{out}");
    let bad = dir.path().join("BOXNOX - BIBBI Monthly Sales Report.csv");
    std::fs::write(&bad, "YEAR;MONTH;CHANNEL;POS;EAN;QTY;AMOUNT;DESCRIPTION;SKU\n2025;4;Retail;Paris;7350154320008;1;195;Ghost;BBGOT100\n").unwrap();
    let (code, _, err) = run(taskifai(&lake)
        .args(["ingest", "--tenant", "demo"])
        .arg(&bad));
    assert_eq!(code, 1);
    assert!(err.contains("no reporting period found"), "{err}");
    // With --json a failure is a JSON document too.
    let (code, out, _) = run(taskifai(&lake)
        .args(["ingest", "--tenant", "demo", "--json"])
        .arg(&bad));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(v["result"]["status"], "failed");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("no reporting period found"),
        "{v}"
    );
    // A report without any date loads when the user gives its period.
    let (code, out, err) = run(taskifai(&lake)
        .args([
            "ingest",
            "--tenant",
            "demo",
            "--dry-run",
            "--period",
            "2025-04",
        ])
        .arg(&bad));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("period    2025-04 (month)"), "{out}");
    let (code, _, err) = run(taskifai(&lake)
        .args(["ingest", "--tenant", "demo", "--period", "April"])
        .arg(&bad));
    assert_eq!(code, 2);
    assert!(
        err.contains("expected a month (2025-06) or a year (2025)"),
        "{err}"
    );
    let (code, out, _) = run(taskifai(&lake).args([
        "query",
        "--tenant",
        "demo",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM sellout_entries",
    ]));
    assert_eq!((code, out.as_str()), (0, "n\n10\n"));
    // An empty answer shows its columns and says so.
    let (code, out, _) = run(taskifai(&lake).args([
        "query",
        "--tenant",
        "demo",
        "SELECT reseller FROM sellout_entries WHERE quantity > 1000000",
    ]));
    assert_eq!(code, 0);
    assert!(
        out.contains("| reseller |") && out.ends_with("0 rows\n"),
        "{out}"
    );
    // Output into a closed pipe ends quietly (no panic message).
    let mut child = taskifai(&lake)
        .args(["query", "--tenant", "demo", "--format", "csv"])
        .arg("SELECT * FROM sellout_entries CROSS JOIN (SELECT * FROM range(1, 2000)) r")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// A large living-document CSV in the BOXNOX layout: every row is in the file's month.
fn big_boxnox_csv(path: &Path, rows: usize) {
    use std::io::Write;
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(w, "YEAR;MONTH;CHANNEL;POS;EAN;QTY;AMOUNT;DESCRIPTION;SKU").unwrap();
    for i in 0..rows {
        writeln!(
            w,
            "2025;4;Retail;Store {};7350154320008;{};{},00;Ghost of Tom;BBGOT100",
            i % 97,
            1 + i % 3,
            195 * (1 + i % 3)
        )
        .unwrap();
    }
}

pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out
}

/// Runs an ingest frozen at `point`, kills it there, and checks nothing became visible, in the
/// lake or (given `db_url`) the database, that vacuum clears what it wrote, and that the same
/// file then loads completely.
fn kill_at(point: &str, db_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let file = dir
        .path()
        .join("BOXNOX - BIBBI Monthly Sales Report APR2025.csv");
    big_boxnox_csv(&file, 50_000);
    let with_db = |mut c: Command| {
        if let Some(url) = db_url {
            c.env("DATABASE_URL", url);
        }
        c
    };
    let mut child = with_db(taskifai(&lake))
        .env("TASKIFAI_CRASHPOINT", point)
        .args(["ingest", "--tenant", "demo"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    kill_when_frozen(
        &mut child,
        &format!("the load ended without reaching {point}"),
    );
    let (code, out, err) = run(taskifai(&lake).args([
        "query",
        "--tenant",
        "demo",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM sellout_entries",
    ]));
    assert_eq!((code, out.as_str()), (0, "n\n0\n"), "{err}");
    let (code, _, _) =
        run(taskifai(&lake).args(["lake", "vacuum", "--tenant", "demo", "--min-age-secs", "0"]));
    assert_eq!(code, 0);
    let table = lake.join("tenant=demo").join("table=sellout_entries");
    assert!(
        files_under(&table)
            .iter()
            .all(|p| !p.to_string_lossy().ends_with(".parquet")),
        "vacuum left data files"
    );
    let (code, out, err) = run(with_db(taskifai(&lake))
        .args(["ingest", "--tenant", "demo"])
        .arg(&file));
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = run(taskifai(&lake).args([
        "query",
        "--tenant",
        "demo",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM sellout_entries",
    ]));
    assert_eq!(out, "n\n50000\n");
    // Time travel to before the first load: no rows, and the version that answered.
    let (code, out, err) = run(taskifai(&lake).args([
        "query",
        "--tenant",
        "demo",
        "--format",
        "csv",
        "--as-of",
        "0",
        "SELECT count(*) AS n FROM sellout_entries",
    ]));
    assert_eq!((code, out.as_str()), (0, "n\n0\n"), "{err}");
    assert!(err.contains("lake version 0"), "{err}");
}

#[test]
fn a_load_killed_while_writing_leaves_nothing_visible() {
    kill_at("after_first_write", None);
}

#[test]
fn a_load_killed_just_before_its_commit_leaves_nothing_visible() {
    kill_at("before_commit", None);
}

#[tokio::test]
async fn a_load_with_a_database_killed_before_its_commit_leaves_no_trace_in_either_store() {
    let db = taskifai_tests::pg::TestDb::new().await;
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || kill_at("before_commit", Some(&url)))
        .await
        .unwrap();
    // kill_at loaded the file once more after the crash: exactly one batch and its rows.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM sellout_entries")
        .fetch_one(&db.registry.pool)
        .await
        .unwrap();
    let batches: i64 = sqlx::query_scalar("SELECT count(*) FROM upload_batches")
        .fetch_one(&db.registry.pool)
        .await
        .unwrap();
    assert_eq!((n, batches), (50_000, 1));
    db.cleanup().await;
}

#[tokio::test]
async fn a_load_killed_between_the_lake_and_database_commits_is_repaired_by_the_next_load() {
    let db = taskifai_tests::pg::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let file = dir
        .path()
        .join("BOXNOX - BIBBI Monthly Sales Report APR2025.csv");
    big_boxnox_csv(&file, 20_000);
    let mut child = taskifai(&lake)
        .env("DATABASE_URL", &db.url)
        .env("TASKIFAI_CRASHPOINT", "between_commits")
        .args(["ingest", "--tenant", "demo"])
        .arg(&file)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    kill_when_frozen(&mut child, "the load ended without reaching the crashpoint");
    let count = |sql: &'static str| {
        let pool = db.registry.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // The lake committed, the database did not.
    let (_, out, _) = run(taskifai(&lake).args([
        "query",
        "--tenant",
        "demo",
        "--format",
        "csv",
        "SELECT count(*) AS n FROM sellout_entries",
    ]));
    assert_eq!(out, "n\n20000\n");
    assert_eq!(count("SELECT count(*) FROM sellout_entries").await, 0);
    // The next load repairs the database before doing its own work.
    let other = repo("sample-data/vendors/cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx");
    let (code, out, err) = run(taskifai(&lake)
        .env("DATABASE_URL", &db.url)
        .args(["ingest", "--tenant", "demo"])
        .arg(&other));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(count("SELECT count(*) FROM sellout_entries").await, 20_006);
    assert_eq!(count("SELECT count(*) FROM upload_batches").await, 2);
    db.cleanup().await;
}

/// The children of a process, from /proc (no procps needed).
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: the name may hold spaces, so read after its last ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out
}

/// `serve` runs its workers in a child process: when that process dies (as a load that aborts
/// would make it), the API keeps answering and a new worker process is started.
#[tokio::test]
async fn serve_keeps_answering_when_its_worker_process_dies() {
    let db = taskifai_tests::pg::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = taskifai(&dir.path().join("lake"))
        .env("DATABASE_URL", &db.url)
        .env("TASKIFAI_JWT_SECRET", "test-secret")
        .args(["serve", "--port", &port.to_string(), "--workers", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let health = format!("http://127.0.0.1:{port}/health");
    let client = reqwest::Client::new();
    let up = || async {
        client
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    };
    let wait_for = |what: &str| {
        let what = what.to_owned();
        move |ok: bool, started: std::time::Instant| {
            assert!(
                ok || started.elapsed() < std::time::Duration::from_secs(30),
                "{what}"
            );
            ok
        }
    };
    let started = std::time::Instant::now();
    let check = wait_for("the server and its worker start");
    let first = loop {
        let kids = children(server.id());
        if check(up().await && !kids.is_empty(), started) {
            break kids[0];
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    Command::new("sh")
        .args(["-c", &format!("kill -KILL {first}")])
        .status()
        .unwrap();
    let started = std::time::Instant::now();
    let check = wait_for("a new worker process starts");
    let second = loop {
        assert!(up().await, "the API answers while its worker is gone");
        let kids = children(server.id());
        if let Some(&k) = kids.iter().find(|&&k| k != first) {
            break k;
        }
        check(false, started);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", server.id())])
        .status()
        .unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status}");
    // Gone, or a zombie waiting for a reaper: not running either way.
    let stat = std::fs::read_to_string(format!("/proc/{second}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().next());
    assert!(
        matches!(state, None | Some("Z")),
        "the worker stopped with the server"
    );
    db.cleanup().await;
}

/// The chat's evaluation set over the demo history (18 months to June 2025 from all nine
/// formats): every question answered with the numbers computed independently by
/// tests/chat/expected.py, asked back, or declined, as expected; no database, so product names
/// come from the files themselves.
#[test]
fn the_chat_planner_answers_the_evaluation_set_over_the_demo_history() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let history = dir.path().join("history");
    let (code, out, err) = run(taskifai(&lake)
        .args([
            "gen-history",
            "--until",
            "2025-06",
            "--months",
            "18",
            "--out",
        ])
        .arg(&history));
    assert_eq!(code, 0, "{out}{err}");
    let mut files = files_under(&history);
    files.sort();
    assert_eq!(files.len(), 280, "{out}");
    let (code, out, err) = run(taskifai(&lake)
        .args(["ingest", "--tenant", "demo"])
        .args(&files));
    assert!(code == 0 || code == 3, "{out}{err}");
    assert!(
        !out.contains("replacing"),
        "every file holds its own period: {out}"
    );
    let (code, out, err) =
        run(taskifai(&lake).args(["chat", "--eval", "tests/chat/questions.yaml"]));
    assert_eq!(code, 0, "{out}{err}");
    let all = out.lines().find(|l| l.starts_with("all ")).unwrap_or("");
    assert!(all.contains("72/72"), "{out}");
    let (code, out, _) = run(taskifai(&lake).args([
        "chat",
        "Which reseller sold the most Ghost of Tom in June 2025?",
    ]));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "Selfridges sold the most of BBGOT100 or BBGOT50 in June 2025: \u{20ac}2,900.62."
        ),
        "{out}"
    );
}

/// `taskifai chat --llm` asks the configured model, through the same guard and checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_chat_asks_a_configured_model() {
    use crate::server::model_standin::{Script, StandIn};
    let model = StandIn::start().await;
    model.script([
        Script::Text("```sql\nSELECT count(*) AS lines FROM sales\n```".into()),
        Script::Text("There are 6 sales lines.".into()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let cdlc = repo("sample-data/vendors/cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx");
    let base = model.base_url.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        assert_eq!(
            run(taskifai(&lake)
                .args(["ingest", "--tenant", "demo"])
                .arg(&cdlc))
            .0,
            0
        );
        run(taskifai(&lake)
            .args([
                "chat",
                "--llm",
                "--llm-base-url",
                &base,
                "--llm-model",
                "stand-in-1",
            ])
            .arg("how many sales lines are there?"))
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("There are 6 sales lines."), "{out}");
    assert!(out.contains("SELECT count(*) AS lines FROM sales"), "{out}");
    // One call for the SQL, one for the wording.
    assert_eq!(model.requests().len(), 2);
}

/// `gen-samples` rebuilds exactly the committed samples and edge cases, so the files in the
/// repository are the ones the generator describes.
#[test]
fn gen_samples_rebuilds_the_committed_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vendors");
    let (code, stdout, stderr) = run(taskifai(dir.path())
        .arg("gen-samples")
        .arg("--out")
        .arg(&out));
    assert_eq!(code, 0, "{stderr}");
    let written: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("wrote "))
        .collect();
    assert!(written.len() >= 14, "{stdout}");
    for path in written {
        let rel = Path::new(path).strip_prefix(dir.path()).unwrap();
        let committed = repo(&format!("sample-data/{}", rel.display()));
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(&committed).unwrap_or_else(|e| panic!("{}: {e}", committed.display())),
            "{} differs from what gen-samples writes",
            committed.display()
        );
    }
}

/// The catalog and rate commands a data engineer runs against a tenant database.
#[tokio::test]
async fn catalog_and_rates_from_the_command_line() {
    let db = taskifai_tests::pg::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let cli = |args: &[&str]| {
        let mut c = taskifai(&lake);
        c.env("DATABASE_URL", &db.url).args(args);
        run(&mut c)
    };
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let bad = file("bad.csv", "ean,functional_name\n7350154320993,BBX\n");
    let (code, _, err) = cli(&["catalog", "import", "--tenant", "demo", "products", &bad]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("row 2, column ean: expected an EAN"), "{err}");
    let good = file(
        "good.csv",
        "ean,functional_name,name\n7350154320992,BBNEW50,New 50 ml\n",
    );
    let (code, out, err) = cli(&["catalog", "import", "--tenant", "demo", "products", &good]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 products inserted, 0 updated"), "{out}");
    let (_, out, _) = cli(&["catalog", "export", "--tenant", "demo", "products"]);
    assert!(out.contains("7350154320992,BBNEW50,New 50 ml,,"), "{out}");

    let ecb = file(
        "eurofxref-hist.csv",
        "Date,USD,GBP,\n2025-02-03,1.02,0.80,\n2025-01-31,1.04,0.84,\n2025-01-30,1.04,0.82,\n",
    );
    let (code, out, err) = cli(&[
        "fx",
        "monthly",
        &ecb,
        "--from",
        "2025-01",
        "--currencies",
        "GBP",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "currency,year,month,rate\nGBP,2025,1,1.204819\nGBP,2025,2,1.250000\n"
    );
    let (code, out, err) = cli(&[
        "fx", "import", "--tenant", "demo", &ecb, "--from", "2025-01",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 monthly rates"), "{out}");
    let (code, out, _) = cli(&["completeness", "--tenant", "demo", "--as-of", "2025-06-01"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("vendor"), "{out}");
    db.cleanup().await;
}

/// `taskifai demo` (what `./scripts/demo` runs) on a fresh database: the generated history goes
/// into the lake and the tenant's database alike, every month of every reseller but CDLC's two
/// missing ones, with the rejects in the error reports and no file replacing another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_a_history_into_the_lake_and_the_database() {
    let db = taskifai_tests::pg::TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let (lake, history) = (dir.path().join("lake"), dir.path().join("history"));
    let url = db.url.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        run(taskifai(&lake)
            .env("DATABASE_URL", &url)
            .args(["demo", "--until", "2025-06", "--months", "9", "--out"])
            .arg(&history))
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("replacing"), "{out}");
    assert!(out.contains(" rejected "), "one line per file: {out}");
    let months: Vec<(String, i64)> = sqlx::query_as(
        "SELECT reseller, count(DISTINCT date_trunc('month', coalesce(sale_date, period_start)))::int8
         FROM sellout_entries GROUP BY reseller ORDER BY reseller",
    )
    .fetch_all(&db.registry.pool)
    .await
    .unwrap();
    let by: std::collections::BTreeMap<_, _> = months.into_iter().collect();
    assert_eq!(by.len(), 8, "{by:?}");
    // CDLC's two-month gap falls in the window; Liberty's and Selfridges' first week starts in
    // the month before it.
    assert_eq!(by["Creme de la Creme"], 7, "{by:?}");
    assert_eq!(by["BOXNOX"], 9, "{by:?}");
    assert_eq!(by["Selfridges"], 10, "{by:?}");
    let (lake_rows, rejected): (i64, i64) = sqlx::query_as(
        "SELECT sum(rows_accepted)::int8, sum(rows_rejected)::int8 FROM upload_batches WHERE replaced_by IS NULL",
    )
    .fetch_one(&db.registry.pool)
    .await
    .unwrap();
    let stored: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM sellout_entries) + (SELECT count(*) FROM ecommerce_orders)",
    )
    .fetch_one(&db.registry.pool)
    .await
    .unwrap();
    assert_eq!(lake_rows, stored);
    assert!(rejected > 0, "the unmapped launch product is rejected");
    db.cleanup().await;
}

#[test]
fn loads_from_separate_processes_at_once_all_commit_to_one_delta_log() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let files: Vec<PathBuf> = files_under(&repo("sample-data/vendors"))
        .into_iter()
        .filter(|f| !f.to_string_lossy().contains("online"))
        .collect();
    let count = |lake: &Path| {
        let (code, out, err) = run(taskifai(lake).args([
            "query",
            "--tenant",
            "demo",
            "--format",
            "csv",
            "SELECT count(*) AS n, sum(quantity) AS q FROM sellout_entries",
        ]));
        assert_eq!(code, 0, "{err}");
        out
    };
    // The same files one after the other, into a lake of their own.
    let alone = dir.path().join("alone");
    for f in &files {
        run(taskifai(&alone).args(["ingest", "--tenant", "demo"]).arg(f));
    }
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            taskifai(&lake)
                .args(["ingest", "--tenant", "demo"])
                .arg(f)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        c.wait().unwrap();
    }
    let rows = count(&alone);
    assert!(!rows.starts_with("n,q\n0,"), "{rows}");
    assert_eq!(count(&lake), rows);
    let log = lake.join("tenant=demo/table=sellout_entries/_delta_log");
    let mut versions: Vec<String> = std::fs::read_dir(&log)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    let expected: Vec<String> = (0..versions.len())
        .map(|v| format!("{v:020}.json"))
        .collect();
    assert_eq!(versions, expected, "one entry per commit, no gaps");
}

/// Runs `lake optimize` frozen at `point` and kills it there.
fn optimize_killed_at(lake: &Path, point: &str) {
    let mut child = taskifai(lake)
        .env("TASKIFAI_CRASHPOINT", point)
        .args(["lake", "optimize", "--tenant", "demo"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    kill_when_frozen(
        &mut child,
        &format!("optimize ended without reaching {point}"),
    );
}

/// `lake optimize` killed before its commit changes nothing (vacuum clears its files), killed
/// after it leaves the merged table; either way every query answers as before.
#[test]
fn an_optimize_killed_before_or_after_its_commit_changes_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    for f in [
        "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
        "liberty/Continuity Supplier Size Report 27-04-2025.xlsx",
        "selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx",
    ] {
        let (code, out, err) = run(taskifai(&lake)
            .args(["ingest", "--tenant", "demo"])
            .arg(repo(&format!("sample-data/vendors/{f}"))));
        assert!(code == 0 || code == 3, "{out}{err}");
    }
    let answer = || {
        let (code, out, err) = run(taskifai(&lake).args([
            "query",
            "--tenant",
            "demo",
            "--format",
            "csv",
            "SELECT batch_id, year, month, count(*) AS n, sum(quantity) AS q \
             FROM sellout_entries GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        ]));
        assert_eq!(code, 0, "{err}");
        out
    };
    let parquet = || {
        files_under(&lake)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .filter(|p| !p.to_string_lossy().contains("_delta_log"))
            .count()
    };
    let before = answer();
    assert!(before.lines().count() > 3, "{before}");
    let files = parquet();

    optimize_killed_at(&lake, "before_optimize_commit");
    assert_eq!(answer(), before);
    assert!(parquet() > files, "the merged file was written");
    let (code, out, _) =
        run(taskifai(&lake).args(["lake", "vacuum", "--tenant", "demo", "--min-age-secs", "0"]));
    assert_eq!(code, 0);
    assert!(out.contains("removed 1 unreferenced files"), "{out}");
    assert_eq!(parquet(), files);

    optimize_killed_at(&lake, "after_optimize_commit");
    assert_eq!(answer(), before);
    let (code, out, err) = run(taskifai(&lake).args(["lake", "optimize", "--tenant", "demo"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("merged 0 months"), "{out}");
    assert_eq!(answer(), before);
}

/// Waits for `child` (started with `TASKIFAI_CRASHPOINT` and a piped stderr) to say it froze at
/// its crashpoint, then kills it; `unreached` is the failure message otherwise.
fn kill_when_frozen(child: &mut std::process::Child, unreached: &str) {
    use std::io::{BufRead, BufReader};
    let reached = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("crashpoint"));
    assert!(reached, "{unreached}");
    child.kill().unwrap();
    child.wait().unwrap();
}

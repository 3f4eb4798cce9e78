//! The lake read by engines that are not TaskifAI: after loads, a replace, an append and a
//! delete, the Python `deltalake` package (delta-rs) and DuckDB read each table and get exactly
//! the rows, units and sales per month and batch that TaskifAI's own queries return, with every
//! canonical column. `./scripts/test` installs them (scripts/ensure-moto) and names the Python
//! in `TASKIFAI_TEST_PYTHON`.

use datafusion::arrow::util::display::array_value_to_string;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestRequest, Status};
use taskifai_connectors::lake::{AsOf, Lake, LoadMode};
use taskifai_connectors::query_session::tenant_session_as_of;
use taskifai_connectors::TenantId;
use taskifai_engine::sql_guard::plan_read_only;
use taskifai_tests::{reference, repo_path, specs};

fn python() -> PathBuf {
    let exe = std::env::var("TASKIFAI_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_path("target/moto/bin/python"));
    assert!(
        exe.exists(),
        "{} is missing: ./scripts/test installs deltalake and duckdb for this test",
        exe.display()
    );
    exe
}

pub(crate) async fn load(lake: &Lake, path: PathBuf, name: &str, mode: LoadMode) -> Status {
    let req = IngestRequest {
        name: name.into(),
        mode,
        ..IngestRequest::new(path, &TenantId::demo())
    };
    ingest(
        lake,
        None,
        &specs(),
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
    .expect("loads")
    .status
}

/// Rows, units and sales per month and batch, as TaskifAI answers.
pub(crate) async fn ours(lake: &Lake, table: &str) -> Vec<Vec<String>> {
    ours_as_of(lake, table, None).await
}

pub(crate) async fn ours_as_of(lake: &Lake, table: &str, as_of: Option<AsOf>) -> Vec<Vec<String>> {
    let (ctx, _) = tenant_session_as_of(lake, &TenantId::demo(), as_of)
        .await
        .unwrap();
    let sql = format!(
        "SELECT year, month, batch_id, count(*), sum(quantity), CAST(sum(sales_eur) AS VARCHAR) \
         FROM {table} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    );
    let plan = plan_read_only(&ctx, &sql, 1000).await.unwrap();
    let batches = ctx
        .execute_logical_plan(plan)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    batches
        .iter()
        .flat_map(|b| {
            (0..b.num_rows()).map(move |r| {
                b.columns()
                    .iter()
                    .map(|c| array_value_to_string(c, r).unwrap())
                    .collect()
            })
        })
        .collect()
}

pub(crate) fn theirs(table: &Path) -> Value {
    theirs_at(table.to_str().unwrap(), None)
}

/// What delta-rs sees of the table at one of its Delta versions.
pub(crate) fn theirs_of_version(table: &Path, version: u64) -> Value {
    read_with(
        table.to_str().unwrap(),
        &["--version".into(), version.to_string()],
    )
}

/// What the other readers see of the table at `uri`, with delta-rs storage options for a bucket.
pub(crate) fn theirs_at(uri: &str, options: Option<Value>) -> Value {
    let args = match options {
        Some(o) => vec!["--options".to_owned(), o.to_string()],
        None => vec![],
    };
    read_with(uri, &args)
}

fn read_with(uri: &str, args: &[String]) -> Value {
    let out = std::process::Command::new(python())
        .arg(repo_path("tests/delta_readers.py"))
        .arg(uri)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub(crate) fn as_text(rows: &Value) -> Vec<Vec<String>> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn delta_rs_and_duckdb_read_the_same_numbers_as_taskifai() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let vendors = repo_path("sample-data/vendors");
    let mut loaded = 0;
    for vendor in ["skins_nl", "boxnox", "cdlc", "aromateque", "online"] {
        for f in std::fs::read_dir(vendors.join(vendor)).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if matches!(
                load(&lake, f.path(), &name, LoadMode::Replace).await,
                Status::Loaded { .. }
            ) {
                loaded += 1;
            }
        }
    }
    assert!(loaded >= 5, "{loaded} files loaded");
    // A corrected February file replaces the first one; a second part of it is appended.
    let csv = "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\nB;Ghost;7350154320008;€ 195;;;1;;\nB;Ghost;7350154320008;€ 195;;;1;;\n";
    let fixed = dir.path().join("BIBBIPARFU_ReportPeriod02-2025.csv");
    std::fs::write(&fixed, csv).unwrap();
    let name = "BIBBIPARFU_ReportPeriod02-2025.csv";
    let Status::Loaded { replaced, .. } = load(&lake, fixed, name, LoadMode::Replace).await else {
        panic!("the corrected file loads");
    };
    assert_eq!(replaced.len(), 1);
    let part = dir.path().join("BIBBIPARFU_ReportPeriod02-2025-b.csv");
    std::fs::write(&part, csv.replace("€ 195;;;1", "€ 390;;;2")).unwrap();
    let appended = load(&lake, part, name, LoadMode::Append).await;
    assert!(matches!(appended, Status::Loaded { ref replaced, .. } if replaced.is_empty()));
    // One batch deleted.
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let (victim, _) = snap
        .batches
        .iter()
        .find(|(_, (m, _))| m.vendor == "boxnox")
        .expect("a boxnox batch");
    assert!(lake.delete_batch(&TenantId::demo(), victim).await.unwrap());

    let schema = |t| taskifai_engine::schema::schema(t);
    for (table, target) in taskifai_connectors::lake::delta::tables() {
        let root = dir
            .path()
            .join("lake/tenant=demo")
            .join(format!("table={table}"));
        let expected = ours(&lake, table).await;
        assert!(!expected.is_empty(), "{table} has rows");
        let read = theirs(&root);
        assert_eq!(as_text(&read["delta_rs"]), expected, "{table}: delta-rs");
        assert_eq!(as_text(&read["duckdb"]), expected, "{table}: DuckDB");
        let mut columns: Vec<String> = schema(target)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        columns.sort();
        let theirs: Vec<String> = serde_json::from_value(read["columns"].clone()).unwrap();
        assert_eq!(theirs, columns, "{table}: every canonical column");
        assert!(
            !expected.iter().any(|r| r[2] == *victim),
            "deleted batch gone"
        );
    }
}

/// Every sample file: (path, name).
pub(crate) fn samples() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(repo_path("sample-data/vendors"))
        .unwrap()
        .flatten()
    {
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push((f.path(), f.file_name().to_string_lossy().into_owned()));
        }
    }
    out.sort();
    out
}

async fn total(lake: &Lake, table: &str) -> (i64, i64) {
    let rows = ours(lake, table).await;
    let n = |i: usize| rows.iter().map(|r| r[i].parse::<i64>().unwrap()).sum();
    (n(3), n(4))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn loads_into_one_tenant_at_once_all_commit_and_nothing_is_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    // What each file holds, loaded alone.
    let mut expected = std::collections::BTreeMap::new();
    for (i, (path, name)) in samples().into_iter().enumerate() {
        let alone = Lake::open(dir.path().join(format!("alone{i}")).to_str().unwrap()).unwrap();
        if let Status::Loaded { .. } = load(&alone, path, &name, LoadMode::Replace).await {
            for (table, _) in taskifai_connectors::lake::delta::tables() {
                let t = total(&alone, table).await;
                let e = expected.entry(table).or_insert((0, 0));
                *e = (e.0 + t.0, e.1 + t.1);
            }
        }
    }
    // Each load through its own Lake, as separate workers would: no shared snapshot cache.
    let tasks: Vec<_> = samples()
        .into_iter()
        .map(|(path, name)| {
            let lake = Lake::open(root.to_str().unwrap()).unwrap();
            tokio::spawn(async move { load(&lake, path, &name, LoadMode::Replace).await })
        })
        .collect();
    let loaded = futures::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|s| matches!(s, Ok(Status::Loaded { .. })))
        .count();
    assert!(loaded >= 5, "{loaded}");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(snap.batches.len(), loaded, "one batch per load");
    assert_eq!(snap.version as usize, loaded, "one commit per load");
    for (table, _) in taskifai_connectors::lake::delta::tables() {
        assert_eq!(total(&lake, table).await, expected[table], "{table}");
        let read = theirs(&root.join("tenant=demo").join(format!("table={table}")));
        assert_eq!(
            as_text(&read["delta_rs"]),
            ours(&lake, table).await,
            "{table}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_corrections_of_one_period_at_once_leave_exactly_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let header = "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\n";
    let mut tasks = Vec::new();
    for n in 1..=4 {
        let file = dir.path().join(format!("fix{n}.csv"));
        std::fs::write(
            &file,
            format!(
                "{header}{}",
                "B;Ghost;7350154320008;€ 195;;;1;;\n".repeat(n)
            ),
        )
        .unwrap();
        let lake = Lake::open(root.to_str().unwrap()).unwrap();
        tasks.push(tokio::spawn(async move {
            load(
                &lake,
                file,
                "BIBBIPARFU_ReportPeriod02-2025.csv",
                LoadMode::Replace,
            )
            .await
        }));
    }
    for t in tasks {
        assert!(matches!(t.await.unwrap(), Status::Loaded { .. }));
    }
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(
        (snap.version, snap.batches.len()),
        (4, 1),
        "each replaced the one before"
    );
    let (_, files) = snap.batches.values().next().unwrap();
    let rows: u64 = files.iter().map(|f| f.rows).sum();
    assert_eq!(
        total(&lake, "sellout_entries").await,
        (rows as i64, rows as i64)
    );
    let read = theirs(&root.join("tenant=demo/table=sellout_entries"));
    assert_eq!(
        as_text(&read["delta_rs"]),
        ours(&lake, "sellout_entries").await
    );
}

#[tokio::test]
async fn a_vacuum_during_a_load_leaves_the_load_whole() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let (path, name) = samples()
        .into_iter()
        .find(|(_, n)| n.contains("BOXNOX"))
        .unwrap();
    let (_, batches) = taskifai_tests::normalize_file(&specs(), &reference(), &path).unwrap();
    let meta = taskifai_connectors::lake::BatchMeta {
        batch_id: "inflight".into(),
        table: "sellout_entries".into(),
        vendor: "boxnox".into(),
        spec_version: 1,
        file_name: name,
        sha256: "1".into(),
        period_start: "2025-04-01".into(),
        period_end: "2025-04-30".into(),
        rows: 0,
        reference_version: String::new(),
    };
    let schema = taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout);
    let mut staged = lake.begin(&TenantId::demo(), meta, schema).await.unwrap();
    for b in &batches {
        staged.write(b).await.unwrap();
    }
    let vacuumed = lake
        .vacuum(&TenantId::demo(), std::time::Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(
        vacuumed, 0,
        "a load in flight is younger than the retention"
    );
    staged.commit().await.unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(total(&lake, "sellout_entries").await.0, rows as i64);
}

#[tokio::test]
async fn every_tenth_commit_writes_a_checkpoint_that_other_readers_use() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    let header = "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\n";
    for n in 1..=12 {
        let file = dir.path().join(format!("fix{n}.csv"));
        let rows = "B;Ghost;7350154320008;€ 195;;;1;;\n".repeat(n);
        std::fs::write(&file, format!("{header}{rows}")).unwrap();
        let name = "BIBBIPARFU_ReportPeriod02-2025.csv";
        assert!(matches!(
            load(&lake, file, name, LoadMode::Replace).await,
            Status::Loaded { .. }
        ));
    }
    let table = root.join("tenant=demo/table=sellout_entries");
    let log = table.join("_delta_log");
    assert!(log.join("00000000000000000009.checkpoint.parquet").exists());
    assert!(log.join("_last_checkpoint").exists());
    // Past the checkpoint: delta-rs reads it and the two entries after it.
    let read = theirs(&table);
    assert_eq!(read["version"], 11);
    assert_eq!(
        as_text(&read["delta_rs"]),
        ours(&lake, "sellout_entries").await
    );
    let fresh = Lake::open(root.to_str().unwrap()).unwrap();
    assert_eq!(total(&fresh, "sellout_entries").await, (12, 12));

    // Time travel agrees too: this tenant has one table, so its version n is the table's
    // Delta version n - 1.
    for v in [1, 5, 11] {
        let old = theirs_of_version(&table, v - 1);
        let rows = ours_as_of(&lake, "sellout_entries", Some(AsOf::Version(v))).await;
        assert_eq!(as_text(&old["delta_rs"]), rows, "version {v}");
        assert_eq!(
            rows[0][3],
            v.to_string(),
            "version {v} holds the {v}-row file"
        );
    }

    // A new reader starts from the checkpoint: without the entries before it, the same state.
    for v in 0..9 {
        std::fs::remove_file(log.join(format!("{v:020}.json"))).unwrap();
    }
    let full = lake.snapshot(&TenantId::demo()).await.unwrap();
    let cold = Lake::open(root.to_str().unwrap()).unwrap();
    let from_checkpoint = cold.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(from_checkpoint.version, 12);
    assert_eq!(from_checkpoint.committed_at, full.committed_at);
    assert_eq!(from_checkpoint.batches, full.batches);
    assert_eq!(from_checkpoint.removed, full.removed);
    assert_eq!(total(&cold, "sellout_entries").await, (12, 12));
}

/// Files whose per-file values include a null (a CSV has no sheet) read the same from a
/// checkpoint as from the JSON entries: a checkpoint read back leaves nulls out of the map, and a
/// server restarted on such a lake could not read those files.
#[tokio::test]
async fn files_with_a_null_per_file_value_read_back_from_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    let header = "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\n";
    for n in 1..=10 {
        let file = dir.path().join(format!("append{n}.csv"));
        let rows = "B;Ghost;7350154320008;€ 195;;;1;;\n".repeat(n);
        std::fs::write(&file, format!("{header}{rows}")).unwrap();
        let name = format!("BIBBIPARFU_ReportPeriod{n:02}-2025.csv");
        assert!(matches!(
            load(&lake, file, &name, LoadMode::Append).await,
            Status::Loaded { .. }
        ));
    }
    let log = root.join("tenant=demo/table=sellout_entries/_delta_log");
    assert!(log.join("00000000000000000009.checkpoint.parquet").exists());
    let full = lake.snapshot(&TenantId::demo()).await.unwrap();
    let cold = Lake::open(root.to_str().unwrap()).unwrap();
    let from_checkpoint = cold.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(from_checkpoint.batches, full.batches);
    assert_eq!(total(&cold, "sellout_entries").await, (55, 55));
}

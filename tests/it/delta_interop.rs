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
use taskifai_connectors::lake::{Lake, LoadMode};
use taskifai_connectors::query_session::tenant_session;
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

async fn load(lake: &Lake, path: PathBuf, name: &str, mode: LoadMode) -> Status {
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
async fn ours(lake: &Lake, table: &str) -> Vec<Vec<String>> {
    let ctx = tenant_session(lake, &TenantId::demo()).await.unwrap();
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

fn theirs(table: &Path) -> Value {
    let out = std::process::Command::new(python())
        .arg(repo_path("tests/delta_readers.py"))
        .arg(table)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn as_text(rows: &Value) -> Vec<Vec<String>> {
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

//! The lake: all-or-nothing visibility, idempotent re-uploads, replacement of a vendor's period,
//! deletes, tenant isolation, and cleanup after a load that never committed.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use std::path::PathBuf;
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestRequest, Status};
use taskifai_connectors::lake::{BatchMeta, Lake};
use taskifai_connectors::session::tenant_session;
use taskifai_engine::sql::plan_read_only;
use taskifai_tests::{reference, repo_path, specs};

fn lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    (dir, lake)
}

async fn load(lake: &Lake, tenant: &str, path: PathBuf, name: &str) -> Status {
    let req = IngestRequest { path, name: name.into(), tenant: tenant.into(), vendor: None, dry_run: false, mode: Default::default(), batch_id: None, pause_at: None };
    ingest(lake, &specs(), Arc::new(reference()), req, Arc::new(|_| {})).await.expect("loads").status
}

async fn count(lake: &Lake, tenant: &str, sql: &str) -> i64 {
    let ctx = tenant_session(lake, tenant).await.unwrap();
    let plan = plan_read_only(&ctx, sql, 100).await.unwrap();
    let batches: Vec<RecordBatch> = ctx.execute_logical_plan(plan).await.unwrap().collect().await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

const SKINS_NL: &str = "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx";

fn sample(rel: &str) -> PathBuf {
    repo_path(&format!("sample-data/vendors/{rel}"))
}

#[tokio::test]
async fn identical_content_is_loaded_once() {
    let (_d, lake) = lake();
    assert!(matches!(load(&lake, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await, Status::Loaded { .. }));
    assert!(matches!(load(&lake, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await, Status::Duplicate { .. }));
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 3);
    assert_eq!(lake.snapshot("demo").await.unwrap().batches.len(), 1);
}

#[tokio::test]
async fn a_new_file_for_the_same_vendor_and_period_replaces_the_old_rows() {
    let (d, lake) = lake();
    load(&lake, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await;
    let first: Vec<String> = lake.snapshot("demo").await.unwrap().batches.keys().cloned().collect();
    // Same vendor and period, different bytes: a corrected file with one more row.
    let csv = d.path().join("BIBBIPARFU_ReportPeriod02-2025.csv");
    std::fs::write(&csv, "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\nB;Ghost;7350154320008;€ 195;;;1;;\nB;Ghost;7350154320008;€ 195;;;1;;\n").unwrap();
    let status = load(&lake, "demo", csv, "BIBBIPARFU_ReportPeriod02-2025.csv").await;
    let Status::Loaded { replaced, .. } = status else { panic!("loaded") };
    assert_eq!(replaced, first);
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 2);
    assert_eq!(count(&lake, "demo", "SELECT sum(quantity) FROM sellout_entries").await, 2);
    // Another vendor's rows are untouched by the replacement.
    load(&lake, "demo", sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"), "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx").await;
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 6);
}

#[tokio::test]
async fn a_deleted_batch_disappears_from_queries() {
    let (_d, lake) = lake();
    load(&lake, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await;
    let id = lake.snapshot("demo").await.unwrap().batches.keys().next().cloned().unwrap();
    assert!(lake.delete_batch("demo", &id).await.unwrap());
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 0);
    assert!(!lake.delete_batch("demo", &id).await.unwrap());
}

#[tokio::test]
async fn one_tenants_batch_is_invisible_to_another() {
    let (_d, lake) = lake();
    load(&lake, "acme", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await;
    assert_eq!(count(&lake, "acme", "SELECT count(*) FROM sellout_entries").await, 3);
    assert_eq!(count(&lake, "globex", "SELECT count(*) FROM sellout_entries").await, 0);
    let ctx = tenant_session(&lake, "globex").await.unwrap();
    let err = plan_read_only(&ctx, "SELECT * FROM acme.sellout_entries", 10).await.unwrap_err().to_string();
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test]
async fn a_load_that_never_commits_stays_invisible_and_is_vacuumed() {
    let (_d, lake) = lake();
    load(&lake, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await;
    let (_, batches) = taskifai_tests::normalize_file(&specs(), &reference(), &sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx")).unwrap();
    let meta = BatchMeta { batch_id: "crashed".into(), table: "sellout_entries".into(), vendor: "cdlc".into(), spec_version: 1, file_name: "x.xlsx".into(), sha256: "0".into(), period_start: "2025-04-01".into(), period_end: "2025-04-30".into(), rows: 0 };
    let mut staged = lake.begin("demo", meta, taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout));
    for b in &batches {
        staged.write(b).await.unwrap();
    }
    // The process dies here: the writer is dropped without commit or abort.
    drop(staged);
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 3);
    lake.vacuum("demo", std::time::Duration::ZERO).await.unwrap();
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 3);
}

#[tokio::test]
async fn vacuum_removes_old_orphans_and_staging_files_but_not_young_ones() {
    let (d, lake) = lake();
    load(&lake, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await;
    let part = d.path().join("lake/tenant=demo/table=sellout_entries/year=2025/month=4");
    std::fs::create_dir_all(&part).unwrap();
    let orphan = part.join("part-crashed-0.parquet");
    let staging = part.join("part-crashed-1.parquet#7");
    std::fs::write(&orphan, b"PAR1").unwrap();
    std::fs::write(&staging, b"PAR1").unwrap();
    // A load in flight could own them: an hour's grace keeps them.
    assert_eq!(lake.vacuum("demo", std::time::Duration::from_secs(3600)).await.unwrap(), 0);
    assert!(orphan.exists() && staging.exists());
    assert_eq!(lake.vacuum("demo", std::time::Duration::ZERO).await.unwrap(), 2);
    assert!(!orphan.exists() && !staging.exists());
    assert_eq!(count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await, 3, "live data stays");
}

#[tokio::test]
async fn a_dry_run_loads_nothing() {
    let (_d, lake) = lake();
    let req = IngestRequest { path: sample(SKINS_NL), name: "BIBBIPARFU_ReportPeriod02-2025.xlsx".into(), tenant: "demo".into(), vendor: None, dry_run: true, mode: Default::default(), batch_id: None, pause_at: None };
    let report = ingest(&lake, &specs(), Arc::new(reference()), req, Arc::new(|_| {})).await.unwrap();
    assert!(matches!(report.status, Status::DryRun));
    assert_eq!(report.outcome.unwrap().summary.rows_accepted, 3);
    assert!(lake.snapshot("demo").await.unwrap().batches.is_empty());
}

#[tokio::test]
async fn a_reader_that_cached_a_snapshot_sees_later_commits_from_another_process() {
    let (dir, writer) = lake();
    let reader = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    assert_eq!(reader.snapshot("demo").await.unwrap().version, 0);
    load(&writer, "demo", sample(SKINS_NL), "BIBBIPARFU_ReportPeriod02-2025.xlsx").await;
    let first = reader.snapshot("demo").await.unwrap();
    assert_eq!((first.version, first.batches.len()), (1, 1));
    load(&writer, "demo", sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"), "CDLC BIBBI_Sell_Out_2025 04.xlsx").await;
    let id = first.batches.keys().next().unwrap().clone();
    writer.delete_batch("demo", &id).await.unwrap();
    let later = reader.snapshot("demo").await.unwrap();
    assert_eq!(later.version, 3);
    assert_eq!(later.batches.len(), 1);
    assert!(!later.batches.contains_key(&id), "the delete is replayed on top of the cached snapshot");
}

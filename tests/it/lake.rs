//! The lake: all-or-nothing visibility, idempotent re-uploads, replacement of a vendor's period,
//! deletes, tenant isolation, and cleanup after a load that never committed.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use std::path::PathBuf;
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestRequest, Status};
use taskifai_connectors::lake::{BatchMeta, Lake};
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_engine::sql_guard::plan_read_only;
use taskifai_tests::{reference, repo_path, specs};

fn lake() -> (tempfile::TempDir, Lake) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    (dir, lake)
}

async fn load(lake: &Lake, tenant: &str, path: PathBuf, name: &str) -> Status {
    let req = IngestRequest {
        name: name.into(),
        ..IngestRequest::new(path, &crate::tid(tenant))
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

async fn query(lake: &Lake, tenant: &str, sql: &str) -> Vec<RecordBatch> {
    let ctx = tenant_session(lake, &crate::tid(tenant)).await.unwrap();
    let plan = plan_read_only(&ctx, sql, 100).await.unwrap();
    ctx.execute_logical_plan(plan)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap()
}

async fn count(lake: &Lake, tenant: &str, sql: &str) -> i64 {
    query(lake, tenant, sql).await[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0)
}

const SKINS_NL: &str = "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx";

fn sample(rel: &str) -> PathBuf {
    repo_path(&format!("sample-data/vendors/{rel}"))
}

#[tokio::test]
async fn identical_content_is_loaded_once() {
    let (d, lake) = lake();
    assert!(matches!(
        load(
            &lake,
            "demo",
            sample(SKINS_NL),
            "BIBBIPARFU_ReportPeriod02-2025.xlsx"
        )
        .await,
        Status::Loaded { .. }
    ));
    assert!(matches!(
        load(
            &lake,
            "demo",
            sample(SKINS_NL),
            "BIBBIPARFU_ReportPeriod02-2025.xlsx"
        )
        .await,
        Status::Duplicate { .. }
    ));
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        3
    );
    assert_eq!(
        lake.snapshot(&TenantId::demo())
            .await
            .unwrap()
            .batches
            .len(),
        1
    );
    // A lake-only load may have started writing before the hash showed the duplicate.
    assert_eq!(
        data_files(&d.path().join("lake")).len(),
        1,
        "the duplicate left no data file"
    );
}

#[tokio::test]
async fn a_new_file_for_the_same_vendor_and_period_replaces_the_old_rows() {
    let (d, lake) = lake();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let first: Vec<String> = lake
        .snapshot(&TenantId::demo())
        .await
        .unwrap()
        .batches
        .keys()
        .cloned()
        .collect();
    // Same vendor and period, different bytes: a corrected file with one more row.
    let csv = d.path().join("BIBBIPARFU_ReportPeriod02-2025.csv");
    std::fs::write(&csv, "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\nB;Ghost;7350154320008;€ 195;;;1;;\nB;Ghost;7350154320008;€ 195;;;1;;\n").unwrap();
    let status = load(&lake, "demo", csv, "BIBBIPARFU_ReportPeriod02-2025.csv").await;
    let Status::Loaded { replaced, .. } = status else {
        panic!("loaded")
    };
    assert_eq!(replaced, first);
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        2
    );
    assert_eq!(
        count(&lake, "demo", "SELECT sum(quantity) FROM sellout_entries").await,
        2
    );
    // Another vendor's rows are untouched by the replacement.
    load(
        &lake,
        "demo",
        sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
    )
    .await;
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        6
    );
}

#[tokio::test]
async fn a_deleted_batch_disappears_from_queries() {
    let (_d, lake) = lake();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let id = lake
        .snapshot(&TenantId::demo())
        .await
        .unwrap()
        .batches
        .keys()
        .next()
        .cloned()
        .unwrap();
    assert!(lake.delete_batch(&TenantId::demo(), &id).await.unwrap());
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        0
    );
    assert!(!lake.delete_batch(&TenantId::demo(), &id).await.unwrap());
}

#[tokio::test]
async fn one_tenants_batch_is_invisible_to_another() {
    let (_d, lake) = lake();
    load(
        &lake,
        "acme",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    assert_eq!(
        count(&lake, "acme", "SELECT count(*) FROM sellout_entries").await,
        3
    );
    assert_eq!(
        count(&lake, "globex", "SELECT count(*) FROM sellout_entries").await,
        0
    );
    let ctx = tenant_session(&lake, &crate::tid("globex")).await.unwrap();
    let err = plan_read_only(&ctx, "SELECT * FROM acme.sellout_entries", 10)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test]
async fn a_load_that_never_commits_stays_invisible_and_is_vacuumed() {
    let (_d, lake) = lake();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let (_, batches) = taskifai_tests::normalize_file(
        &specs(),
        &reference(),
        &sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
    )
    .unwrap();
    let meta = BatchMeta {
        batch_id: "crashed".into(),
        table: "sellout_entries".into(),
        vendor: "cdlc".into(),
        spec_version: 1,
        file_name: "x.xlsx".into(),
        sha256: "0".into(),
        period_start: "2025-04-01".into(),
        period_end: "2025-04-30".into(),
        rows: 0,
        reference_version: String::new(),
    };
    let mut staged = lake
        .begin(
            &TenantId::demo(),
            meta,
            taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout),
        )
        .await
        .unwrap();
    for b in &batches {
        staged.write(b).await.unwrap();
    }
    // The process dies here: the writer is dropped without commit or abort.
    drop(staged);
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        3
    );
    lake.vacuum(&TenantId::demo(), std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        3
    );
}

#[tokio::test]
async fn vacuum_removes_old_orphans_and_staging_files_but_not_young_ones() {
    let (d, lake) = lake();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let part = d
        .path()
        .join("lake/tenant=demo/table=sellout_entries/year=2025/month=4");
    std::fs::create_dir_all(&part).unwrap();
    let orphan = part.join("part-crashed-0.parquet");
    let staging = part.join("part-crashed-1.parquet#7");
    std::fs::write(&orphan, b"PAR1").unwrap();
    std::fs::write(&staging, b"PAR1").unwrap();
    // A load in flight could own them: an hour's grace keeps them.
    assert_eq!(
        lake.vacuum(&TenantId::demo(), std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert!(orphan.exists() && staging.exists());
    assert_eq!(
        lake.vacuum(&TenantId::demo(), std::time::Duration::ZERO)
            .await
            .unwrap(),
        2
    );
    assert!(!orphan.exists() && !staging.exists());
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        3,
        "live data stays"
    );
}

#[tokio::test]
async fn a_dry_run_loads_nothing() {
    let (_d, lake) = lake();
    let req = IngestRequest {
        name: "BIBBIPARFU_ReportPeriod02-2025.xlsx".into(),
        dry_run: true,
        ..IngestRequest::new(sample(SKINS_NL), &TenantId::demo())
    };
    let report = ingest(
        &lake,
        None,
        &specs(),
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    assert!(matches!(report.status, Status::DryRun));
    assert_eq!(report.outcome.unwrap().summary.rows_accepted, 3);
    assert!(lake
        .snapshot(&TenantId::demo())
        .await
        .unwrap()
        .batches
        .is_empty());
}

#[tokio::test]
async fn a_reader_that_cached_a_snapshot_sees_later_commits_from_another_process() {
    let (dir, writer) = lake();
    let reader = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    assert_eq!(reader.snapshot(&TenantId::demo()).await.unwrap().version, 0);
    load(
        &writer,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let first = reader.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!((first.version, first.batches.len()), (1, 1));
    load(
        &writer,
        "demo",
        sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
        "CDLC BIBBI_Sell_Out_2025 04.xlsx",
    )
    .await;
    let id = first.batches.keys().next().unwrap().clone();
    writer.delete_batch(&TenantId::demo(), &id).await.unwrap();
    let later = reader.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(later.version, 3);
    assert_eq!(later.batches.len(), 1);
    assert!(
        !later.batches.contains_key(&id),
        "the delete is replayed on top of the cached snapshot"
    );
}

fn data_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(data_files(&p));
        } else if p.to_string_lossy().contains("table=")
            && !p.to_string_lossy().contains("_delta_log")
        {
            out.push(p);
        }
    }
    out
}

async fn strings(lake: &Lake, tenant: &str, sql: &str) -> Vec<String> {
    query(lake, tenant, sql)
        .await
        .iter()
        .flat_map(|b| {
            (0..b.num_rows())
                .map(|i| {
                    datafusion::arrow::util::display::array_value_to_string(b.column(0), i).unwrap()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

fn stored_columns(path: &std::path::Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap();
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap();
    reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[tokio::test]
async fn per_file_columns_are_recorded_once_in_the_log_and_come_back_in_queries() {
    let (d, lake) = lake();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let (id, (_, files)) = snap.batches.iter().next().unwrap();
    let file = &files[0];
    let stored = stored_columns(&d.path().join("lake").join(&file.path));
    for c in taskifai_engine::schema::PER_FILE {
        assert!(
            !stored.contains(&c.to_string()),
            "{c} is not stored per row: {stored:?}"
        );
    }
    assert!(stored.contains(&"product_ean".to_string()));
    assert_eq!(file.constants["batch_id"].as_deref(), Some(id.as_str()));
    assert_eq!(file.constants["month"].as_deref(), Some("2"));
    assert_eq!(
        file.bytes,
        Some(
            std::fs::metadata(d.path().join("lake").join(&file.path))
                .unwrap()
                .len()
        )
    );
    let sql = format!("SELECT count(*) FROM sellout_entries WHERE batch_id = '{id}' AND year = 2025 AND month = 2 AND source_file = 'BIBBIPARFU_ReportPeriod02-2025.xlsx' AND spec_name = 'skins_nl' AND spec_version = 1 AND period_start = DATE '2025-02-01' AND period_grain = 'month'");
    assert_eq!(count(&lake, "demo", &sql).await, 3);
    assert_eq!(
        count(
            &lake,
            "demo",
            "SELECT count(*) FROM sellout_entries WHERE month = 3"
        )
        .await,
        0
    );
    // The filter on a per-file column drops the file before the scan: nothing is opened.
    let ctx = tenant_session(&lake, &TenantId::demo()).await.unwrap();
    let plan = plan_read_only(
        &ctx,
        "SELECT product_ean FROM sellout_entries WHERE month = 3",
        100,
    )
    .await
    .unwrap();
    let physical = ctx.state().create_physical_plan(&plan).await.unwrap();
    let shown = datafusion::physical_plan::displayable(physical.as_ref())
        .indent(false)
        .to_string();
    assert!(
        shown.contains("EmptyExec") && !shown.contains("DataSourceExec"),
        "{shown}"
    );
    // Footers read once go to the runtime's metadata cache, so later queries need not re-read
    // them (a GET per file on a bucket).
    let cache = ctx.runtime_env().cache_manager.get_file_metadata_cache();
    assert_eq!(cache.len(), 0);
    for _ in 0..2 {
        let plan = plan_read_only(&ctx, "SELECT sum(quantity) FROM sellout_entries", 10)
            .await
            .unwrap();
        ctx.execute_logical_plan(plan)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(cache.len(), 1, "the one file's footer, kept");
    }
    assert_eq!(
        strings(
            &lake,
            "demo",
            "SELECT DISTINCT source_file FROM sellout_entries"
        )
        .await,
        vec!["BIBBIPARFU_ReportPeriod02-2025.xlsx"]
    );
    // Whole rows, as the database repair reads them.
    let schema = taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout);
    let rows = lake.read_file(file, &schema).await.unwrap();
    assert_eq!(rows[0].schema(), schema);
    assert_eq!(
        rows[0]
            .column_by_name("batch_id")
            .unwrap()
            .as_string::<i32>()
            .value(2),
        id
    );
}

#[tokio::test]
async fn a_lake_in_the_old_format_is_refused_until_migrated_and_then_reads_the_same() {
    use taskifai_connectors::lake::{Commit, DataFile, LakeError};
    let (d, lake) = lake();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let (meta, files) = snap.batches.values().next().unwrap().clone();
    // A file as lakes wrote them before per-file columns moved to the log: every column stored.
    let schema = taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout);
    let rows = lake.read_file(&files[0], &schema).await.unwrap();
    let old_path = "tenant=demo/table=sellout_entries/year=2025/month=2/part-old-0.parquet";
    let out = d.path().join("lake").join(old_path);
    let mut w = datafusion::parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&out).unwrap(),
        schema.clone(),
        None,
    )
    .unwrap();
    for b in &rows {
        let mut columns = b.columns().to_vec();
        columns[schema.index_of("batch_id").unwrap()] =
            Arc::new(datafusion::arrow::array::StringArray::from(vec![
                "old";
                b.num_rows(
                )
            ]));
        w.write(&RecordBatch::try_new(schema.clone(), columns).unwrap())
            .unwrap();
    }
    w.close().unwrap();
    let old_meta = BatchMeta {
        batch_id: "old".into(),
        ..meta.clone()
    };
    // The old log: the loaded batch (per-file columns recorded in the log), then the old file.
    let commits = [
        Commit {
            version: 1,
            committed_at: "2025-01-01T00:00:00Z".into(),
            add: Some((
                meta,
                files
                    .into_iter()
                    .map(|f| DataFile { stats: None, ..f })
                    .collect(),
            )),
            remove: vec![],
            ..Default::default()
        },
        Commit {
            version: 2,
            committed_at: "2025-01-02T00:00:00Z".into(),
            add: Some((
                old_meta,
                vec![DataFile {
                    path: old_path.into(),
                    rows: 3,
                    bytes: None,
                    constants: Default::default(),
                    stats: None,
                    shared: None,
                }],
            )),
            remove: vec![],
            ..Default::default()
        },
    ];
    let root = d.path().join("lake/tenant=demo");
    std::fs::remove_dir_all(root.join("table=sellout_entries/_delta_log")).unwrap();
    std::fs::create_dir_all(root.join("_log")).unwrap();
    for c in &commits {
        std::fs::write(
            root.join(format!("_log/{:020}.json", c.version)),
            serde_json::to_vec(c).unwrap(),
        )
        .unwrap();
    }
    let fresh = || Lake::open(d.path().join("lake").to_str().unwrap()).unwrap();
    let lake = fresh();
    let refused = lake.snapshot(&TenantId::demo()).await.unwrap_err();
    assert!(
        matches!(refused, LakeError::NeedsMigration { .. }),
        "{refused}"
    );
    assert!(refused
        .to_string()
        .contains("taskifai lake migrate --tenant demo"));

    let done = lake.migrate(&TenantId::demo()).await.unwrap();
    assert_eq!((done.batches, done.kept, done.rewritten), (2, 1, 1));
    let again = fresh().migrate(&TenantId::demo()).await.unwrap();
    assert_eq!(again, Default::default(), "converted once");
    let lake = fresh();
    assert_eq!(
        count(
            &lake,
            "demo",
            "SELECT count(*) FROM sellout_entries WHERE month = 2"
        )
        .await,
        6
    );
    assert_eq!(
        count(&lake, "demo", "SELECT count(*) FROM sellout_entries").await,
        6,
        "row counts from the log, both groups"
    );
    assert_eq!(
        count(
            &lake,
            "demo",
            "SELECT count(DISTINCT batch_id) FROM sellout_entries"
        )
        .await,
        2,
        "the old file's batch_id column becomes its partition value"
    );
    assert_eq!(
        count(
            &lake,
            "demo",
            "SELECT sum(quantity) FROM sellout_entries WHERE batch_id = 'old'"
        )
        .await,
        count(
            &lake,
            "demo",
            "SELECT sum(quantity) FROM sellout_entries WHERE batch_id <> 'old'"
        )
        .await
    );
}

#[tokio::test]
async fn a_per_file_column_that_varies_within_a_file_is_refused() {
    let (_d, lake) = lake();
    let (_, batches) = taskifai_tests::normalize_file(
        &specs(),
        &reference(),
        &sample("cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx"),
    )
    .unwrap();
    let b = &batches[0];
    assert!(b.num_rows() > 1);
    let i = b.schema().index_of("spec_name").unwrap();
    let mut columns = b.columns().to_vec();
    columns[i] = Arc::new(datafusion::arrow::array::StringArray::from_iter_values(
        (0..b.num_rows()).map(|r| format!("spec{r}")),
    ));
    let varied = RecordBatch::try_new(b.schema(), columns).unwrap();
    let meta = BatchMeta {
        batch_id: "x".into(),
        table: "sellout_entries".into(),
        vendor: "cdlc".into(),
        spec_version: 1,
        file_name: "x.xlsx".into(),
        sha256: "0".into(),
        period_start: "2025-04-01".into(),
        period_end: "2025-04-30".into(),
        rows: 0,
        reference_version: String::new(),
    };
    let mut staged = lake
        .begin(
            &TenantId::demo(),
            meta,
            taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout),
        )
        .await
        .unwrap();
    let err = staged.write(&varied).await.unwrap_err().to_string();
    assert!(
        err.contains("column spec_name differs between rows of one lake file"),
        "{err}"
    );
    staged.abort().await;
}

#[tokio::test]
async fn time_travel_reads_each_earlier_version_until_a_vacuum_deletes_its_files() {
    use taskifai_connectors::lake::{AsOf, LakeError};
    use taskifai_connectors::query_session::tenant_session_as_of;
    let (d, lake) = lake();
    let demo = TenantId::demo();
    load(
        &lake,
        "demo",
        sample(SKINS_NL),
        "BIBBIPARFU_ReportPeriod02-2025.xlsx",
    )
    .await;
    let first = lake.snapshot(&demo).await.unwrap();
    // The next commit must not share the first one's millisecond, or "as of the first commit's
    // time" would include it: wait until the clock has moved on.
    let AsOf::Time(first_at) = first.committed_at.parse::<AsOf>().unwrap() else {
        panic!("a commit time")
    };
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        <= first_at.timestamp_millis()
    {
        tokio::task::yield_now().await;
    }
    load(
        &lake,
        "demo",
        sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx"),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
    )
    .await;
    let csv = d.path().join("BIBBIPARFU_ReportPeriod02-2025.csv");
    std::fs::write(&csv, "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\nB;Ghost;7350154320008;€ 195;;;1;;\n").unwrap();
    load(&lake, "demo", csv, "BIBBIPARFU_ReportPeriod02-2025.csv").await;
    let boxnox = lake
        .snapshot(&demo)
        .await
        .unwrap()
        .batches
        .iter()
        .find(|(_, (m, _))| m.vendor == "boxnox")
        .unwrap()
        .0
        .clone();
    lake.delete_batch(&demo, &boxnox).await.unwrap();

    let answer_at = |as_of: AsOf, sql: &'static str| {
        let lake = lake.clone();
        async move {
            let (ctx, version) = tenant_session_as_of(&lake, &TenantId::demo(), Some(as_of))
                .await
                .unwrap();
            let plan = plan_read_only(&ctx, sql, 10).await.unwrap();
            let got = ctx
                .execute_logical_plan(plan)
                .await
                .unwrap()
                .collect()
                .await;
            (
                version,
                got.map(|b| b[0].column(0).as_primitive::<Int64Type>().value(0)),
            )
        }
    };
    let rows_at = |as_of: AsOf| answer_at(as_of, "SELECT count(*) FROM sellout_entries");
    let counts: Vec<_> = futures::future::join_all((0..=4).map(|v| rows_at(AsOf::Version(v))))
        .await
        .into_iter()
        .map(|(v, n)| (v, n.unwrap()))
        .collect();
    // Nothing; February; February and April; corrected February and April; corrected alone.
    assert_eq!(counts, vec![(0, 0), (1, 3), (2, 7), (3, 5), (4, 1)]);
    assert_eq!(rows_at(AsOf::Time(first_at)).await.1.unwrap(), 3);
    assert_eq!(
        "2020-01-31".parse::<AsOf>().unwrap(),
        AsOf::Time("2020-01-31T23:59:59.999Z".parse().unwrap())
    );
    let before = rows_at("2020-01-31".parse().unwrap()).await;
    assert_eq!((before.0, before.1.unwrap()), (0, 0));
    assert!(matches!(
        lake.snapshot_as_of(&demo, AsOf::Version(5)).await,
        Err(LakeError::NoSuchVersion {
            asked: 5,
            latest: 4
        })
    ));

    // Removed files stay for a retention period, then go: the old versions can no longer be
    // read, and say so instead of answering with fewer rows.
    assert_eq!(
        lake.vacuum(&demo, std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert!(lake.vacuum(&demo, std::time::Duration::ZERO).await.unwrap() >= 2);
    let (_, gone) = answer_at(
        AsOf::Version(2),
        "SELECT sum(quantity) FROM sellout_entries",
    )
    .await;
    assert!(gone.is_err(), "{gone:?}");
    assert_eq!(rows_at(AsOf::Version(4)).await.1.unwrap(), 1);
}

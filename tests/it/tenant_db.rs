//! Tenant databases on a real PostgreSQL: provisioning, isolation, idempotent and replacing
//! loads in the database and the lake together, suspension, migrations.

use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestRequest, Status};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::postgres::load::sync_from_lake;
use taskifai_connectors::postgres::pools::{PoolConfig, PoolManager};
use taskifai_connectors::postgres::{migrate, PgError, TENANT_MIGRATOR};
use taskifai_connectors::TenantId;
use taskifai_tests::pg::TestDb;
use taskifai_tests::{reference, repo_path, specs};

fn sample(rel: &str) -> (PathBuf, String) {
    (
        repo_path(&format!("sample-data/vendors/{rel}")),
        rel.rsplit('/').next().unwrap().to_owned(),
    )
}

async fn load(lake: &Lake, pool: &PgPool, tenant: &str, (path, name): (PathBuf, String)) -> Status {
    let req = IngestRequest {
        name,
        ..IngestRequest::new(path, &crate::tid(tenant))
    };
    ingest(
        lake,
        Some(pool),
        &specs(),
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
    .expect("loads")
    .status
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

const SKINS_NL: &str = "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx";
const BOXNOX: &str = "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx";

#[tokio::test]
async fn a_batch_loaded_for_one_tenant_is_invisible_to_another() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    db.registry
        .create(&crate::tid("acme"), "Acme")
        .await
        .unwrap();
    db.registry
        .create(&crate::tid("globex"), "Globex")
        .await
        .unwrap();
    let pools = PoolManager::new(db.registry.clone(), PoolConfig::default());
    let (acme, globex) = (
        pools.pool(&crate::tid("acme")).await.unwrap(),
        pools.pool(&crate::tid("globex")).await.unwrap(),
    );
    load(&lake, &acme, "acme", sample(SKINS_NL)).await;
    assert_eq!(
        scalar(&acme, "SELECT count(*) FROM sellout_entries").await,
        3
    );
    assert_eq!(
        scalar(&globex, "SELECT count(*) FROM sellout_entries").await,
        0
    );
    assert_eq!(
        scalar(&globex, "SELECT count(*) FROM upload_batches").await,
        0
    );
    // Different databases, not a filter: globex's connection cannot name acme's tables.
    let acme_db = db.registry.get("acme").await.unwrap().database_name;
    let err = sqlx::query(&format!(
        "SELECT * FROM \"{acme_db}\".public.sellout_entries"
    ))
    .fetch_all(&globex)
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cross-database references are not implemented"),
        "{err}"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn reloading_identical_content_changes_nothing_and_replacing_touches_only_that_period() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let pool = db.registry.pool.clone(); // the demo tenant lives in the registry database
    load(&lake, &pool, "demo", sample(SKINS_NL)).await;
    load(&lake, &pool, "demo", sample(BOXNOX)).await;
    assert!(matches!(
        load(&lake, &pool, "demo", sample(SKINS_NL)).await,
        Status::Duplicate { .. }
    ));
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM upload_batches").await,
        2
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM sellout_entries").await,
        7
    );
    // A corrected Skins NL file for the same period replaces its rows, and only those.
    let csv = dir.path().join("BIBBIPARFU_ReportPeriod02-2025.csv");
    std::fs::write(&csv, "Brand,Article,EANCode,SalesAmount,SalesAmountSPLY,SalesQuantity\nB,Ghost,7350154320008,195,,1\n").unwrap();
    let Status::Loaded { replaced, .. } = load(
        &lake,
        &pool,
        "demo",
        (csv, "BIBBIPARFU_ReportPeriod02-2025.csv".into()),
    )
    .await
    else {
        panic!("loaded")
    };
    assert_eq!(replaced.len(), 1);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM sellout_entries WHERE spec_name = 'skins_nl'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM sellout_entries WHERE spec_name = 'boxnox'"
        )
        .await,
        4
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM upload_batches WHERE replaced_by IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM error_reports").await, 1);
    db.cleanup().await;
}

/// Rows keep no per-row reference to their batch (it cost a third of a load): deleting batches
/// deletes their rows in the same statement, and only theirs.
#[tokio::test]
async fn deleting_batches_deletes_their_rows_and_no_others() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let pool = db.registry.pool.clone();
    load(&lake, &pool, "demo", sample(SKINS_NL)).await;
    load(&lake, &pool, "demo", sample(BOXNOX)).await;
    let skins: Vec<String> =
        sqlx::query_scalar("SELECT id FROM upload_batches WHERE vendor = 'skins_nl'")
            .fetch_all(&pool)
            .await
            .unwrap();
    sqlx::query("DELETE FROM upload_batches WHERE id = ANY($1)")
        .bind(&skins)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM sellout_entries WHERE spec_name = 'skins_nl'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM sellout_entries WHERE spec_name = 'boxnox'"
        )
        .await,
        4
    );
    // The cheap guards still refuse what cannot be an EAN or a currency.
    for (column, value) in [("product_ean", "123"), ("currency", "EURO")] {
        let err = sqlx::query(&format!(
            "UPDATE sellout_entries SET {column} = $1 WHERE spec_name = 'boxnox'"
        ))
        .bind(value)
        .execute(&pool)
        .await
        .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("sellout_entries_{column}_check")),
            "{err}"
        );
    }
    db.cleanup().await;
}

#[tokio::test]
async fn a_database_that_missed_a_lake_commit_is_repaired_from_the_lake() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    let pool = db.registry.pool.clone();
    // Load into the lake alone, as if the process died between the lake and database commits.
    let (path, name) = sample(BOXNOX);
    let req = IngestRequest {
        name,
        ..IngestRequest::new(path, &TenantId::demo())
    };
    ingest(
        &lake,
        None,
        &specs(),
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM sellout_entries").await,
        0
    );
    let report = sync_from_lake(&pool, &lake, &TenantId::demo())
        .await
        .unwrap();
    assert_eq!(report.loaded.len(), 1);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM sellout_entries").await,
        4
    );
    assert_eq!(
        scalar(&pool, "SELECT sum(quantity)::bigint FROM sellout_entries").await,
        5
    );
    // And a batch deleted from the lake leaves the database too.
    lake.delete_batch(&TenantId::demo(), &report.loaded[0])
        .await
        .unwrap();
    assert_eq!(
        sync_from_lake(&pool, &lake, &TenantId::demo())
            .await
            .unwrap()
            .removed,
        report.loaded
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM sellout_entries").await,
        0
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_suspended_tenant_is_refused_and_resumes() {
    let db = TestDb::new().await;
    db.registry
        .create(&crate::tid("acme"), "Acme")
        .await
        .unwrap();
    let pools = PoolManager::new(db.registry.clone(), PoolConfig::default());
    pools.pool(&crate::tid("acme")).await.unwrap();
    db.registry.set_status("acme", "suspended").await.unwrap();
    assert!(
        matches!(pools.pool(&crate::tid("acme")).await, Err(PgError::Suspended(t)) if t == "acme")
    );
    assert!(matches!(
        pools.pool(&crate::tid("nobody")).await,
        Err(PgError::UnknownTenant(_))
    ));
    db.registry.set_status("acme", "active").await.unwrap();
    pools.pool(&crate::tid("acme")).await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn provisioning_refuses_bad_and_duplicate_ids_and_migrations_rerun() {
    let db = TestDb::new().await;
    assert!(matches!(
        db.registry.create(&TenantId::demo(), "x").await,
        Err(PgError::InvalidTenantId(_))
    ));
    db.registry
        .create(&crate::tid("acme"), "Acme")
        .await
        .unwrap();
    assert!(matches!(
        db.registry.create(&crate::tid("acme"), "Acme").await,
        Err(PgError::TenantExists(_))
    ));
    let pool = PoolManager::new(db.registry.clone(), PoolConfig::default())
        .pool(&crate::tid("acme"))
        .await
        .unwrap();
    migrate(&pool, &TENANT_MIGRATOR)
        .await
        .expect("migrations re-run cleanly");
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM sellout_entries").await,
        0
    );
    // Constraints protect the data: months are 1-12.
    let err = sqlx::query("INSERT INTO fx_rates VALUES ('GBP', 2025, 13, 1.17)")
        .execute(&pool)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("fx_rates_month_check"), "{err}");
    let exports = tempfile::tempdir().unwrap();
    let exported = db
        .registry
        .drop_tenant("acme", Some(exports.path()))
        .await
        .unwrap()
        .unwrap();
    assert!(exported.join("upload_batches.csv").exists());
    assert!(db.registry.list().await.unwrap().is_empty());
    db.cleanup().await;
}

#[tokio::test]
async fn each_tenant_maps_products_with_its_own_reference_data() {
    use taskifai_connectors::postgres::catalog::{load_reference, seed_reference};
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().to_str().unwrap()).unwrap();
    db.registry
        .create(&crate::tid("acme"), "Acme")
        .await
        .unwrap();
    db.registry
        .create(&crate::tid("globex"), "Globex")
        .await
        .unwrap();
    let pools = PoolManager::new(db.registry.clone(), PoolConfig::default());
    let (acme, globex) = (
        pools.pool(&crate::tid("acme")).await.unwrap(),
        pools.pool(&crate::tid("globex")).await.unwrap(),
    );
    seed_reference(&acme, &repo_path("sample-data/reference"))
        .await
        .unwrap();
    let galilu = |tenant: &str| {
        let (path, name) = sample("galilu/BIbbi_sellout_Galilu_2025.xlsx");
        IngestRequest {
            name,
            ..IngestRequest::new(path, &crate::tid(tenant))
        }
    };
    let r = ingest(
        &lake,
        Some(&acme),
        &specs(),
        Arc::new(load_reference(&acme).await.unwrap()),
        galilu("acme"),
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    assert_eq!(r.outcome.unwrap().summary.rows_accepted, 3);
    // Globex has no mapping for Galilu's names: every row is unknown, and the file is refused.
    let err = ingest(
        &lake,
        Some(&globex),
        &specs(),
        Arc::new(load_reference(&globex).await.unwrap()),
        galilu("globex"),
        Arc::new(|_| {}),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("4 of 4 rows rejected"), "{err}");
    assert_eq!(
        scalar(&globex, "SELECT count(*) FROM upload_batches").await,
        0
    );
    db.cleanup().await;
}

#[tokio::test]
async fn rows_the_database_refuses_mid_copy_fail_the_load_and_leave_nothing() {
    use datafusion::arrow::array::{ArrayRef, Int32Array};
    use taskifai_connectors::lake::BatchMeta;
    use taskifai_connectors::postgres::load::DbLoad;
    let db = TestDb::new().await;
    let pool = db.registry.pool.clone();
    let (path, _) = sample(BOXNOX);
    let (_, batches) = taskifai_tests::normalize_file(&specs(), &reference(), &path).unwrap();
    let good = batches[0].clone();
    let month = good.schema().index_of("month").unwrap();
    let mut cols = good.columns().to_vec();
    cols[month] = Arc::new(Int32Array::from(vec![13; good.num_rows()])) as ArrayRef;
    let bad = datafusion::arrow::record_batch::RecordBatch::try_new(good.schema(), cols).unwrap();
    let meta = BatchMeta {
        batch_id: "b1".into(),
        table: "sellout_entries".into(),
        vendor: "boxnox".into(),
        spec_version: 1,
        file_name: "x.xlsx".into(),
        sha256: "0".repeat(64),
        period_start: String::new(),
        period_end: String::new(),
        rows: 0,
        reference_version: String::new(),
    };
    let mut load = DbLoad::begin(&pool, &meta, 0, Default::default())
        .await
        .unwrap();
    let mut failed = None;
    for b in [&good, &bad, &good] {
        if let Err(e) = load.write(b).await {
            failed = Some(e);
            break;
        }
    }
    let err = match failed {
        Some(e) => e,
        None => load
            .commit()
            .await
            .expect_err("month 13 breaks a CHECK constraint"),
    };
    assert!(
        format!("{err:?}").contains("month"),
        "the cause names the constraint: {err:?}"
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM sellout_entries").await,
        0
    );
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM upload_batches").await,
        0
    );
    db.cleanup().await;
}

/// At the connection budget, an idle tenant's pool makes room for the next tenant: requests on
/// many tenant hosts (anonymous ones too) used to take the whole budget and lock every other
/// tenant out for minutes. Pools with connections in use are never taken away.
#[tokio::test]
async fn the_least_recently_used_idle_pool_makes_room_at_the_budget() {
    let db = TestDb::new().await;
    for t in ["acme", "globex", "initech"] {
        db.registry.create(&crate::tid(t), t).await.unwrap();
    }
    let config = PoolConfig {
        per_tenant: 2,
        budget: 4,
        idle: std::time::Duration::from_secs(300),
    };
    let pools = PoolManager::new(db.registry.clone(), config);
    let acme = pools.pool(&crate::tid("acme")).await.unwrap();
    let globex = pools.pool(&crate::tid("globex")).await.unwrap();
    drop(acme);
    // Two pools fill the budget; the third takes the place of the least recently used one.
    let initech = pools.pool(&crate::tid("initech")).await.unwrap();
    assert_eq!(pools.open_tenants(), ["globex", "initech"]);
    // With connections in use in both, a fourth tenant is refused rather than taking them.
    let (_g, _i) = (
        globex.acquire().await.unwrap(),
        initech.acquire().await.unwrap(),
    );
    let err = pools
        .pool(&crate::tid("acme"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("connection budget"), "{err}");
    drop((_g, _i));
    db.cleanup().await;
}

//! `lake optimize`: a month's small files merged into one, the table partitioned by year and
//! month only, and every reader (TaskifAI, delta-rs, DuckDB, time travel) still seeing the same
//! rows, also after replaces, deletes and loads that come after it or race it.

use crate::delta_interop::{as_text, load, ours, ours_as_of, samples, theirs, theirs_of_version};
use datafusion::arrow::util::display::array_value_to_string;
use std::collections::BTreeMap;
use std::path::Path;
use taskifai_connectors::ingest::Status;
use taskifai_connectors::lake::{delta, AsOf, Lake, LoadMode, Snapshot, MERGED_PARTITIONS};
use taskifai_connectors::TenantId;
use taskifai_tests::{reference, specs};

type Rows = Vec<Vec<String>>;

/// Each table as TaskifAI reads it, checked against delta-rs and DuckDB, with every canonical
/// column present for them.
async fn all_agree(lake: &Lake, root: &Path) -> BTreeMap<&'static str, Rows> {
    let mut out = BTreeMap::new();
    for (table, target) in delta::tables() {
        let expected = ours(lake, table).await;
        let dir = root.join(format!("tenant=demo/table={table}"));
        if !dir.exists() {
            assert!(expected.is_empty(), "{table} has rows but no Delta table");
            continue;
        }
        let read = theirs(&dir);
        assert_eq!(as_text(&read["delta_rs"]), expected, "{table}: delta-rs");
        assert_eq!(as_text(&read["duckdb"]), expected, "{table}: DuckDB");
        let mut columns: Vec<String> = taskifai_engine::schema::schema(target)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        columns.sort();
        let theirs: Vec<String> = serde_json::from_value(read["columns"].clone()).unwrap();
        assert_eq!(theirs, columns, "{table}: every canonical column");
        out.insert(table, expected);
    }
    out
}

/// Live files per month of a table.
fn files_per_month(snap: &Snapshot, table: &str) -> BTreeMap<(i32, i32), usize> {
    let mut out = BTreeMap::new();
    for f in snap.files(table) {
        *out.entry(f.month().unwrap()).or_default() += 1;
    }
    out
}

/// The rows (per month and batch) of batches other than `ids`.
fn without(rows: &Rows, ids: &[&str]) -> Rows {
    rows.iter()
        .filter(|r| !ids.contains(&r[2].as_str()))
        .cloned()
        .collect()
}

async fn snapshot(lake: &Lake) -> std::sync::Arc<Snapshot> {
    lake.snapshot(&TenantId::demo()).await.unwrap()
}

const FEB_HEADER: &str = "Brand;Article;EANCode;SalesAmount;SalesAmountSPLY;SalesAmountVariance;SalesQuantity;SalesQuantitySPLY;SalesQuantityVariance\n";
const FEB: &str = "BIBBIPARFU_ReportPeriod02-2025.csv";

/// A Skins NL February file of `n` one-unit lines (it replaces the sample's February).
fn february(dir: &Path, n: usize) -> std::path::PathBuf {
    let path = dir.join(format!("feb-{n}.csv"));
    let lines = "B;Ghost;7350154320008;€ 195;;;1;;\n".repeat(n);
    std::fs::write(&path, format!("{FEB_HEADER}{lines}")).unwrap();
    path
}

#[tokio::test]
async fn optimize_leaves_a_file_per_month_and_every_reader_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    for (path, name) in samples() {
        load(&lake, path, &name, LoadMode::Replace).await;
    }
    // Two more batches in February beside the sample's: three files in one month.
    for n in [2, 3] {
        let status = load(&lake, february(dir.path(), n), FEB, LoadMode::Append).await;
        assert!(matches!(status, Status::Loaded { .. }));
    }
    let before = all_agree(&lake, &root).await;
    let unoptimized = snapshot(&lake).await;
    assert!(files_per_month(&unoptimized, "sellout_entries")
        .values()
        .any(|&n| n >= 3));

    let done = lake.optimize(&TenantId::demo(), 2).await.unwrap();
    let with_rows = delta::tables()
        .iter()
        .filter(|(t, _)| !unoptimized.files(t).is_empty())
        .count();
    assert_eq!(done.converted, with_rows, "{done:?}");
    assert!(done.files_after < done.files_before, "{done:?}");
    let snap = snapshot(&lake).await;
    for (table, _) in delta::tables() {
        assert!(
            files_per_month(&snap, table).values().all(|&n| n == 1),
            "{table}: {:?}",
            files_per_month(&snap, table)
        );
        assert_eq!(snap.partitions(table), MERGED_PARTITIONS.to_vec());
    }
    let ids = |s: &Snapshot| s.batches.keys().cloned().collect::<Vec<_>>();
    assert_eq!(ids(&snap), ids(&unoptimized), "every batch is still known");
    // A reader of one batch (the database repair) gets exactly its rows from the merged files.
    let schema = taskifai_engine::schema::schema(taskifai_engine::spec::Target::Sellout);
    let mut shared = 0;
    for (id, (meta, files)) in &snap.batches {
        if meta.table != "sellout_entries" || files.iter().all(|f| f.shared.is_none()) {
            continue;
        }
        shared += 1;
        let mut rows = 0;
        for f in files {
            for b in lake.read_file(f, &schema).await.unwrap() {
                let ids = b.column_by_name("batch_id").unwrap();
                for r in 0..b.num_rows() {
                    assert_eq!(array_value_to_string(ids, r).unwrap(), *id);
                }
                rows += b.num_rows() as u64;
            }
        }
        assert_eq!(rows, meta.rows, "{id}");
    }
    assert!(shared > 1, "batches share merged files");
    assert_eq!(
        all_agree(&lake, &root).await,
        before,
        "optimize changes no number"
    );
    // Another process, from the log alone; and the version before, with its own partitioning.
    let fresh = Lake::open(root.to_str().unwrap()).unwrap();
    assert_eq!(
        ours(&fresh, "sellout_entries").await,
        before["sellout_entries"]
    );
    let as_of = Some(AsOf::Version(unoptimized.version));
    assert_eq!(
        ours_as_of(&lake, "sellout_entries", as_of).await,
        before["sellout_entries"]
    );
    let table = root.join("tenant=demo/table=sellout_entries");
    let delta_version = unoptimized.tables["sellout_entries"] - 1;
    assert_eq!(
        as_text(&theirs_of_version(&table, delta_version)["delta_rs"]),
        before["sellout_entries"]
    );

    // A correction replaces Skins NL's three February batches in the merged February file;
    // Skins SA's February rows in that file, and every other month, stay.
    let Status::Loaded { commit, replaced } =
        load(&lake, february(dir.path(), 4), FEB, LoadMode::Replace).await
    else {
        panic!("the correction loads");
    };
    let batch_id = commit.add.unwrap().0.batch_id;
    assert_eq!(replaced.len(), 3, "{replaced:?}");
    let gone: Vec<&str> = replaced.iter().map(String::as_str).collect();
    let after = all_agree(&lake, &root).await;
    assert_eq!(
        without(&after["sellout_entries"], &[&batch_id]),
        without(&before["sellout_entries"], &gone)
    );
    let new: Vec<&Vec<String>> = after["sellout_entries"]
        .iter()
        .filter(|r| r[2] == batch_id)
        .collect();
    assert_eq!(new.len(), 1);
    assert_eq!((new[0][3].as_str(), new[0][4].as_str()), ("4", "4"));

    // A delete of a batch whose rows share a merged file with others.
    let snap = snapshot(&lake).await;
    let (victim, _) = snap
        .batches
        .iter()
        .find(|(_, (m, files))| m.vendor == "boxnox" && files.iter().all(|f| f.shared.is_some()))
        .expect("boxnox's rows are in a merged file");
    let victim = victim.clone();
    assert!(lake.delete_batch(&TenantId::demo(), &victim).await.unwrap());
    let deleted = all_agree(&lake, &root).await;
    assert_eq!(
        deleted["sellout_entries"],
        without(&after["sellout_entries"], &[&victim])
    );
    assert!(deleted["sellout_entries"].len() < after["sellout_entries"].len());

    // Loads since the first optimize store their lineage; a second optimize merges the months
    // they added files to, and changes no number either.
    let snap = snapshot(&lake).await;
    assert!(files_per_month(&snap, "sellout_entries")
        .values()
        .any(|&n| n >= 2));
    let again = lake.optimize(&TenantId::demo(), 2).await.unwrap();
    assert_eq!(again.converted, 0);
    assert!(again.months >= 1, "{again:?}");
    let snap = snapshot(&lake).await;
    assert!(files_per_month(&snap, "sellout_entries")
        .values()
        .all(|&n| n == 1));
    assert_eq!(all_agree(&lake, &root).await, deleted);
    // Nothing to do now.
    assert_eq!(lake.optimize(&TenantId::demo(), 2).await.unwrap().months, 0);
}

#[tokio::test]
async fn a_load_that_optimize_overtakes_is_laid_out_again_and_commits_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    let mut samples = samples().into_iter();
    let (first, name) = samples.next().unwrap();
    load(&lake, first, &name, LoadMode::Replace).await;
    let (path, name) = samples.find(|(_, n)| n.contains("BOXNOX")).unwrap();
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
    let before: i64 = ours(&lake, "sellout_entries")
        .await
        .iter()
        .map(|r| r[3].parse::<i64>().unwrap())
        .sum();
    // The table's partition columns change under the load.
    assert_eq!(
        lake.optimize(&TenantId::demo(), 2).await.unwrap().converted,
        1
    );
    staged.commit().await.unwrap();
    let snap = snapshot(&lake).await;
    let (_, files) = &snap.batches["inflight"];
    for f in files {
        let keys: Vec<&String> = f.constants.keys().collect();
        assert_eq!(keys, ["month", "year"], "laid out for the new partitions");
    }
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let now = all_agree(&lake, &root).await;
    let total: i64 = now["sellout_entries"]
        .iter()
        .map(|r| r[3].parse::<i64>().unwrap())
        .sum();
    assert_eq!(total, before + rows as i64);
    assert_eq!(snap.batches["inflight"].0.rows, rows as u64);
    // Only committed files stay: the first layout's were deleted.
    let parquet = walk(&root)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .filter(|p| !p.to_string_lossy().contains("_delta_log"))
        .count();
    let listed: usize = delta::tables()
        .iter()
        .map(|(t, _)| snap.files(t).len())
        .sum();
    let removed = snap.removed.len();
    assert_eq!(parquet, listed + removed, "no orphan files");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

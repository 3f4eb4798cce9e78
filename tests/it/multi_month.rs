//! #19.8: files that hold several months. Every month a file holds is loaded; in replace mode
//! it replaces the batches of its vendor whose months it covers, and refuses (changing nothing)
//! when that would split a batch. `grain: year` keeps every month of the year, and a period
//! can come from a Year and a Month column together.

use std::path::Path;
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestError, IngestRequest, Report};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::TenantId;
use taskifai_engine::reference::Reference;
use taskifai_engine::spec::{self, SpecRegistry};

fn spec(grain: &str, from: &str, keep_only_period: bool) -> SpecRegistry {
    let text = format!(
        "
vendor: monthly
version: 1
reseller: Monthly
currency: EUR
detect: {{ filename: {{ pattern: 'monthly', weight: 1.0 }}, threshold: 0.5 }}
read: {{ header: {{ row: 1 }} }}
period: {{ grain: {grain}, from: {from}, keep_only_period: {keep_only_period} }}
fields:
  year: {{ column: Year }}
  month: {{ column: Month }}
  product_ean: {{ column: EAN }}
  quantity: {{ column: Qty }}
  sales_local: {{ column: Amount }}
"
    );
    SpecRegistry::new(vec![spec::parse("monthly.yaml", &text).expect("compiles")])
}

/// A CSV with one row per (year, month, quantity); amounts are 10 per unit.
fn file(dir: &Path, name: &str, rows: &[(i32, u32, i64)]) -> std::path::PathBuf {
    let mut text = String::from("Year,Month,EAN,Qty,Amount\n");
    for (y, m, q) in rows {
        text += &format!("{y},{m},7350154320008,{q},{}\n", q * 10);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

async fn load(lake: &Lake, specs: &SpecRegistry, path: &Path) -> Result<Report, IngestError> {
    let req = IngestRequest::new(path, &TenantId::demo());
    let reference = Arc::new(Reference::default());
    ingest(lake, None, specs, reference, req, Arc::new(|_| {})).await
}

/// Live rows per (year, month), from the lake's files.
async fn months(lake: &Lake) -> Vec<((i32, i32), u64)> {
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let mut out = std::collections::BTreeMap::new();
    for f in snap.files("sellout_entries") {
        *out.entry(f.month().unwrap()).or_insert(0) += f.rows;
    }
    out.into_iter().collect()
}

#[tokio::test]
async fn a_file_of_several_months_replaces_the_months_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let specs = spec("month", "[filename]", false);
    load(
        &lake,
        &specs,
        &file(dir.path(), "monthly 2025-01.csv", &[(2025, 1, 1)]),
    )
    .await
    .unwrap();
    load(
        &lake,
        &specs,
        &file(dir.path(), "monthly 2025-02.csv", &[(2025, 2, 2)]),
    )
    .await
    .unwrap();
    assert_eq!(months(&lake).await, vec![((2025, 1), 1), ((2025, 2), 1)]);

    // March's file is year to date: January to March, one row each, and two rows for March.
    let ytd = [(2025, 1, 5), (2025, 2, 6), (2025, 3, 7), (2025, 3, 1)];
    let report = load(
        &lake,
        &specs,
        &file(dir.path(), "monthly 2025-03.csv", &ytd),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome.unwrap().summary.rows_accepted, 4);
    assert_eq!(
        months(&lake).await,
        vec![((2025, 1), 1), ((2025, 2), 1), ((2025, 3), 2)],
        "January and February are replaced, not counted twice"
    );
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(snap.batches.len(), 1);

    // A February correction alone would split the year-to-date batch: refused, nothing changes.
    let fix = file(dir.path(), "monthly 2025-02 fix.csv", &[(2025, 2, 9)]);
    let err = load(&lake, &specs, &fix).await.unwrap_err();
    let text = err.to_string();
    assert!(!err.is_transient(), "{text}");
    for part in [
        "2025-02",
        "2025-01, 2025-03",
        "monthly 2025-03.csv",
        "nothing changed",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert_eq!(
        lake.snapshot(&TenantId::demo()).await.unwrap().version,
        snap.version
    );
    let files = walkdir(dir.path().join("lake").as_path());
    assert_eq!(
        files.iter().filter(|p| p.ends_with(".parquet")).count(),
        3 + snap.removed.len(),
        "the refused load's files are deleted (the replaced months' stay until a vacuum): {files:?}"
    );
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walkdir(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[tokio::test]
async fn a_year_file_keeps_every_month_of_its_year() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let specs = spec("year", "[filename]", true);
    let rows = [(2024, 12, 1), (2025, 1, 2), (2025, 6, 3), (2025, 12, 4)];
    let report = load(&lake, &specs, &file(dir.path(), "monthly 2025.csv", &rows))
        .await
        .unwrap();
    let summary = report.outcome.unwrap().summary;
    assert_eq!((summary.rows_accepted, summary.rows_other_period), (3, 1));
    assert_eq!(summary.period.start.to_string(), "2025-01-01");
    assert_eq!(summary.period.end.to_string(), "2025-12-31");
    assert_eq!(
        months(&lake).await,
        vec![((2025, 1), 1), ((2025, 6), 1), ((2025, 12), 1)]
    );
}

#[tokio::test]
async fn a_year_column_and_a_month_column_make_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let specs = spec(
        "month",
        "[filename, { column: Year }, { column: Month }]",
        true,
    );
    // Nothing in the name; the first data row says 2025 and 4.
    let rows = [(2025, 4, 2), (2025, 4, 3)];
    let report = load(&lake, &specs, &file(dir.path(), "monthly sales.csv", &rows))
        .await
        .unwrap();
    let summary = report.outcome.unwrap().summary;
    assert_eq!(summary.period.start.to_string(), "2025-04-01");
    assert_eq!(summary.rows_accepted, 2);
}

/// Weekly files of one month each stay: a week replaces its own week, never its month's other
/// weeks (the demo history found this: a month of Selfridges' weeks kept only the last one).
#[tokio::test]
async fn a_weeks_file_replaces_its_week_not_its_month() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let specs = SpecRegistry::new(vec![spec::parse(
        "weekly.yaml",
        "
vendor: weekly
version: 1
reseller: Weekly
currency: EUR
detect: { filename: { pattern: 'weekly', weight: 1.0 }, threshold: 0.5 }
read: { header: { row: 1 } }
period: { grain: week, from: [filename] }
fields:
  product_ean: { column: EAN }
  quantity: { column: Qty }
  sales_local: { column: Amount }
",
    )
    .expect("compiles")]);
    let week = |name: &str, qty: i64| {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            format!("EAN,Qty,Amount\n7350154320008,{qty},{}\n", qty * 10),
        )
        .unwrap();
        path
    };
    for (name, qty) in [
        ("weekly WE 08-06-2025.csv", 1),
        ("weekly WE 15-06-2025.csv", 2),
        ("weekly WE 22-06-2025.csv", 4),
        // The same week again, corrected: it replaces that week only.
        ("weekly WE 15-06-2025 v2.csv", 8),
    ] {
        load(&lake, &specs, &week(name, qty)).await.unwrap();
    }
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let mut live: Vec<(String, u64)> = snap
        .batches
        .values()
        .map(|(b, _)| (b.period_start.clone(), b.rows))
        .collect();
    live.sort();
    assert_eq!(
        live,
        [
            ("2025-06-02".to_string(), 1),
            ("2025-06-09".to_string(), 1),
            ("2025-06-16".to_string(), 1)
        ]
    );
    assert_eq!(months(&lake).await, [((2025, 6), 3)]);
}

//! The layouts in `sample-data/edge-cases/` (written by `taskifai gen-samples`) once lost data
//! with exit code 0 or counted it twice. Each case's files load in name order into a fresh lake
//! and must end as stated here.

use std::path::PathBuf;
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestError, IngestRequest, Report};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::TenantId;
use taskifai_engine::issues::Severity;
use taskifai_tests::{reference, repo_path, specs};

/// Loads a case's files in name order; the results in the same order.
async fn run(case: &str) -> (Lake, tempfile::TempDir, Vec<Result<Report, IngestError>>) {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let folder = repo_path(&format!("sample-data/edge-cases/{case}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|e| panic!("{}: {e}", folder.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (specs, reference) = (specs(), Arc::new(reference()));
    let mut out = Vec::new();
    for f in files {
        let req = IngestRequest::new(&f, &TenantId::demo());
        out.push(
            ingest(
                &lake,
                None,
                &specs,
                reference.clone(),
                req,
                Arc::new(|_| {}),
            )
            .await,
        );
    }
    (lake, dir, out)
}

async fn live_rows(lake: &Lake) -> u64 {
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    snap.files("sellout_entries").iter().map(|f| f.rows).sum()
}

#[tokio::test]
async fn a_file_with_no_rows_for_its_month_is_refused() {
    let (lake, _dir, results) = run("01-no-rows-for-its-month").await;
    let err = results[0].as_ref().unwrap_err();
    assert!(matches!(err, IngestError::Empty { .. }), "{err}");
    assert_eq!(live_rows(&lake).await, 0);
}

#[tokio::test]
async fn a_rejected_month_of_a_wide_row_is_reported() {
    let (_lake, _dir, results) = run("02-rejected-month-of-a-wide-row").await;
    let report = results[0].as_ref().expect("loads with one reject");
    let outcome = report.outcome.as_ref().unwrap();
    let errors = outcome
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error);
    assert_eq!(outcome.summary.rows_rejected, 1);
    assert_eq!(errors.count(), 1, "{:?}", outcome.issues);
}

#[tokio::test]
async fn a_subtotal_in_another_column_fails_against_the_file_total() {
    let (lake, _dir, results) = run("03-subtotal-in-another-column").await;
    let err = results[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("the file's total 6; they add up to 8"),
        "{err}"
    );
    assert_eq!(live_rows(&lake).await, 0);
}

#[tokio::test]
async fn the_same_bytes_named_for_another_month_are_refused() {
    let (lake, _dir, results) = run("04-same-bytes-another-month").await;
    let first = results[0].as_ref().expect("February loads");
    let err = results[1].as_ref().unwrap_err();
    assert!(matches!(err, IngestError::PeriodConflict { .. }), "{err}");
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(
        snap.batches.keys().collect::<Vec<_>>(),
        vec![&first.batch_id]
    );
}

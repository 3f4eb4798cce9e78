//! Loads that used to lose data with exit code 0: a file without rows for its period replacing
//! a good month, and rejected rows of unpivoted files missing from the error report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestError, IngestRequest, Report};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::TenantId;
use taskifai_engine::issues::Severity;
use taskifai_tests::{reference, repo_path, specs};

const MARCH: &str = "bibbi sales march'25.xlsx";

/// An Aromateque workbook: one quantity column per month header, a product per row.
fn aromateque(dir: &Path, months: &[&str], products: &[(&str, &[&str])]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("TDSheet").unwrap();
    let header: Vec<&str> = ["Номенклатура", "Код"]
        .into_iter()
        .chain(months.iter().copied())
        .chain(["total", "Total in euro"])
        .collect();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, (code, qty)) in products.iter().enumerate() {
        let row = r as u32 + 1;
        sheet.write_string(row, 0, format!("BIBBI {code}")).unwrap();
        sheet.write_string(row, 1, *code).unwrap();
        for (c, q) in qty.iter().enumerate() {
            match q.parse::<f64>() {
                Ok(n) => sheet.write_number(row, c as u16 + 2, n),
                Err(_) => sheet.write_string(row, c as u16 + 2, *q),
            }
            .unwrap();
        }
    }
    // The file's own total row, as real files have: each month column's numbers added up.
    let last = products.len() as u32 + 1;
    sheet.write_string(last, 0, "Total").unwrap();
    for c in 0..months.len() {
        let sum: f64 = products
            .iter()
            .filter_map(|(_, qty)| qty.get(c)?.parse::<f64>().ok())
            .sum();
        sheet.write_number(last, c as u16 + 2, sum).unwrap();
    }
    let path = dir.join(MARCH);
    book.save(&path).unwrap();
    path
}

async fn load(lake: &Lake, path: &Path, allow_empty: bool) -> Result<Report, IngestError> {
    let req = IngestRequest {
        name: MARCH.into(),
        vendor: Some("aromateque".into()),
        allow_empty,
        ..IngestRequest::new(path, &TenantId::demo())
    };
    let (specs, reference) = (specs(), Arc::new(reference()));
    ingest(lake, None, &specs, reference, req, Arc::new(|_| {})).await
}

async fn live_rows(lake: &Lake) -> u64 {
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    snap.files("sellout_entries").iter().map(|f| f.rows).sum()
}

#[tokio::test]
async fn a_file_without_rows_for_its_period_does_not_replace_the_loaded_month() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let good = repo_path(&format!("sample-data/vendors/aromateque/{MARCH}"));
    load(&lake, &good, false)
        .await
        .expect("the real file loads");
    let before = live_rows(&lake).await;
    assert!(before > 0);

    // Named March, but every quantity is for January or February.
    let stale = aromateque(
        &dir.path().join("x"),
        &["2025-01-01", "2025-02-01"],
        &[("BBBOJ100", &["2", "3"]), ("BBGOT100", &["1", "4"])],
    );
    let err = load(&lake, &stale, false).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, IngestError::Empty { .. }), "{text}");
    for part in [
        MARCH,
        "4 for other periods (2025-01 (2 rows), 2025-02 (2 rows))",
        "2025-03-01 to 2025-03-31",
        "nothing changed",
        "--allow-empty-replace",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
    assert_eq!(
        live_rows(&lake).await,
        before,
        "the good month is still there"
    );

    // Asked for explicitly, the empty load replaces the month.
    load(&lake, &stale, true).await.expect("allowed");
    assert_eq!(live_rows(&lake).await, 0);
}

#[tokio::test]
async fn a_rejected_month_of_an_unpivoted_row_is_in_the_error_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("x")).unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    // Each product row makes a row per month; only March is kept. BBGOT100's March quantity is
    // not a number: its row is rejected, while its January and February rows are set aside.
    let file = aromateque(
        &dir.path().join("x"),
        &["2025-01-01", "2025-02-01", "2025-03-01"],
        &[
            ("BBBOJ100", &["2", "3", "5"]),
            ("BBGOT100", &["1", "4", "seven"]),
            ("BBBOJ100", &["1", "1", "1"]),
        ],
    );
    let report = load(&lake, &file, false)
        .await
        .expect("loads with a reject");
    let outcome = report.outcome.unwrap();
    assert_eq!(outcome.summary.rows_rejected, 1);
    let errors: Vec<_> = outcome
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", outcome.issues);
    assert_eq!(errors[0].value.as_deref(), Some("seven"));
    assert_eq!(errors[0].at.row, Some(3));
    // And the lake's report has the same line.
    let paths = report.error_report.expect("a report");
    let csv = std::fs::read_to_string(dir.path().join("lake").join(&paths.csv)).unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("seven"), "{csv}");
}

async fn load_named(
    lake: &Lake,
    specs: &taskifai_engine::spec::SpecRegistry,
    path: &Path,
    name: &str,
) -> Result<Report, IngestError> {
    let req = IngestRequest {
        name: name.into(),
        ..IngestRequest::new(path, &TenantId::demo())
    };
    ingest(
        lake,
        None,
        specs,
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
}

/// #19.4: the same bytes are a no-op only as the same load (same vendor, spec version and
/// period). Renamed to another month they are refused with both periods, not skipped with exit
/// 0; after the spec is fixed (a new version) they are loaded again and take the old batch's
/// place, whatever the mode, so the content is never counted twice.
#[tokio::test]
async fn the_same_bytes_are_skipped_refused_or_reprocessed_as_the_case_is() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let name = "BIBBIPARFU_ReportPeriod02-2025.xlsx";
    let original = repo_path(&format!("sample-data/vendors/skins_nl/{name}"));
    let specs = specs();
    let first = load_named(&lake, &specs, &original, name).await.unwrap();
    let again = load_named(&lake, &specs, &original, name).await.unwrap();
    assert!(
        matches!(&again.status, taskifai_connectors::ingest::Status::Duplicate { batch_id } if *batch_id == first.batch_id),
        "{:?}",
        again.status
    );

    // Renamed to March: refused, naming both periods; nothing changes.
    let renamed = dir.path().join("BIBBIPARFU_ReportPeriod03-2025.xlsx");
    std::fs::copy(&original, &renamed).unwrap();
    let err = load_named(
        &lake,
        &specs,
        &renamed,
        "BIBBIPARFU_ReportPeriod03-2025.xlsx",
    )
    .await
    .expect_err("refused")
    .to_string();
    assert!(err.contains(&first.batch_id), "{err}");
    assert!(
        err.contains("2025-02-01 to 2025-02-28") && err.contains("2025-03-01 to 2025-03-31"),
        "{err}"
    );
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    assert_eq!(snap.batches.len(), 1);

    // The spec is fixed (version 2): the same file is re-processed and replaces its old batch,
    // in append mode too.
    let text = std::fs::read_to_string(repo_path("vendor-specs/skins_nl.yaml")).unwrap();
    let fixed = taskifai_engine::spec::parse(
        "skins_nl.yaml",
        &text.replacen("version: 1", "version: 2", 1),
    )
    .unwrap();
    let specs = specs.with_overrides(vec![fixed]);
    let req = IngestRequest {
        name: name.into(),
        mode: taskifai_connectors::lake::LoadMode::Append,
        ..IngestRequest::new(&original, &TenantId::demo())
    };
    let redone = ingest(
        &lake,
        None,
        &specs,
        Arc::new(reference()),
        req,
        Arc::new(|_| {}),
    )
    .await
    .unwrap();
    assert_ne!(redone.batch_id, first.batch_id);
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let live: Vec<_> = snap
        .batches
        .values()
        .map(|(m, _)| (m.batch_id.clone(), m.spec_version))
        .collect();
    assert_eq!(live, vec![(redone.batch_id.clone(), 2)]);
}

/// A dry run reports what a file holds even when the same bytes are loaded already (it used
/// to answer "duplicate" without an outcome, which the API turned into a 500).
#[tokio::test]
async fn a_dry_run_of_a_loaded_file_still_reports_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let name = "BIBBIPARFU_ReportPeriod02-2025.xlsx";
    let path = repo_path(&format!("sample-data/vendors/skins_nl/{name}"));
    load_named(&lake, &specs(), &path, name).await.unwrap();
    let req = IngestRequest {
        name: name.into(),
        dry_run: true,
        ..IngestRequest::new(&path, &TenantId::demo())
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
    assert!(report.outcome.is_some_and(|o| o.summary.rows_accepted > 0));
}

/// #19.4: the same file loaded again after the tenant's reference data changed is processed
/// again (a product added, a rate fixed) and takes its old batch's place; with the reference
/// data unchanged it is still the same load.
#[tokio::test]
async fn the_same_bytes_are_reprocessed_after_the_reference_data_changes() {
    let dir = tempfile::tempdir().unwrap();
    let lake = Lake::open(dir.path().join("lake").to_str().unwrap()).unwrap();
    let name = "BIBBIPARFU_ReportPeriod02-2025.xlsx";
    let path = repo_path(&format!("sample-data/vendors/skins_nl/{name}"));
    let load = |reference: taskifai_engine::reference::Reference| {
        let req = IngestRequest::new(&path, &TenantId::demo());
        let (lake, specs) = (&lake, specs());
        async move {
            ingest(
                lake,
                None,
                &specs,
                Arc::new(reference),
                req,
                Arc::new(|_| {}),
            )
            .await
        }
    };
    let first = load(reference()).await.unwrap();
    let same = load(reference()).await.unwrap();
    assert!(
        matches!(
            same.status,
            taskifai_connectors::ingest::Status::Duplicate { .. }
        ),
        "{:?}",
        same.status
    );

    let mut changed = reference();
    let header = ["rule".to_string(), "action".to_string()];
    changed
        .add_table(
            "unmatched",
            &header,
            &[vec![Some("missing_price".into()), Some("keep".into())]],
        )
        .unwrap();
    assert_ne!(changed.version(), reference().version());
    let redone = load(changed).await.unwrap();
    assert!(
        matches!(
            redone.status,
            taskifai_connectors::ingest::Status::Loaded { .. }
        ),
        "{:?}",
        redone.status
    );
    let snap = lake.snapshot(&TenantId::demo()).await.unwrap();
    let live: Vec<&String> = snap.batches.keys().collect();
    assert_eq!(
        live,
        vec![&redone.batch_id],
        "it replaced {}",
        first.batch_id
    );
}

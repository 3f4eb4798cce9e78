//! Bad input: each case gives a clear error naming what is wrong, and leaves the lake as it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use taskifai_connectors::ingest::{ingest, IngestRequest};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::TenantId;
use taskifai_engine::spec::SpecRegistry;
use taskifai_tests::{reference, repo_path, specs};

/// Every file under a folder, for before/after comparisons.
fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(tree(&p))
            } else {
                out.push(p)
            }
        }
    }
    out.sort();
    out
}

struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    lake: Lake,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lake");
    let lake = Lake::open(root.to_str().unwrap()).unwrap();
    Env {
        _dir: dir,
        root,
        lake,
    }
}

fn write(env: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let p = env.root.parent().unwrap().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Ingests into a lake that already holds one good batch and returns the error text, checking
/// the lake did not change.
async fn refused(specs: &SpecRegistry, name: &str, bytes: &[u8], vendor: Option<&str>) -> String {
    let env = env();
    let good = repo_path("sample-data/vendors/skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx");
    let req = |path: PathBuf, name: &str, vendor: Option<&str>| IngestRequest {
        name: name.into(),
        vendor: vendor.map(Into::into),
        ..IngestRequest::new(path, &TenantId::demo())
    };
    ingest(
        &env.lake,
        None,
        &taskifai_tests::specs(),
        Arc::new(reference()),
        req(good, "BIBBIPARFU_ReportPeriod02-2025.xlsx", None),
        Arc::new(|_| {}),
    )
    .await
    .expect("good file loads");
    let before = tree(&env.root);
    let path = write(&env, name, bytes);
    let err = ingest(
        &env.lake,
        None,
        specs,
        Arc::new(reference()),
        req(path, name, vendor),
        Arc::new(|_| {}),
    )
    .await
    .expect_err("refused")
    .to_string();
    assert_eq!(
        tree(&env.root),
        before,
        "the lake changed after refusing {name}: {err}"
    );
    assert_eq!(
        empty_dirs(&env.root),
        Vec::<PathBuf>::new(),
        "refusing {name} left empty folders"
    );
    err
}

/// Folders without any file below them.
fn empty_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            if tree(&p).is_empty() {
                out.push(p);
            } else {
                out.extend(empty_dirs(&p));
            }
        }
    }
    out
}

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(repo_path(&format!("sample-data/vendors/{rel}"))).unwrap()
}

#[tokio::test]
async fn an_empty_file_is_refused() {
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv",
        b"",
        None,
    )
    .await;
    assert_eq!(
        err,
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv: the file is empty"
    );
}

#[tokio::test]
async fn a_truncated_workbook_is_refused() {
    let bytes = sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx");
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        &bytes[..bytes.len() / 2],
        None,
    )
    .await;
    assert!(err.starts_with("BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx: not a readable spreadsheet: the file is a ZIP archive"), "{err}");
}

#[tokio::test]
async fn a_pdf_renamed_xlsx_is_called_a_pdf() {
    let err = refused(
        &specs(),
        "Skins SA BIBBI CY 2025 February.xlsx",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        None,
    )
    .await;
    assert_eq!(err, "Skins SA BIBBI CY 2025 February.xlsx: not a readable spreadsheet: the file is a PDF document");
}

#[tokio::test]
async fn a_wrong_vendor_forced_names_the_missing_header() {
    let bytes = sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx");
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        &bytes,
        Some("skins_sa"),
    )
    .await;
    assert!(
        err.contains("no header row with [\"Branch\", \"StockCode\", \"OrderQty\"]"),
        "{err}"
    );
}

#[tokio::test]
async fn a_missing_column_is_named_with_the_nearest_header() {
    let csv = "YEAR,MONTH,CHANNEL,POS,EAN,QTTY,AMOUNT,DESCRIPTION,SKU\n2025,4,Retail,Paris,7350154320008,2,390,Ghost,BBGOT100\n";
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv",
        csv.as_bytes(),
        Some("boxnox"),
    )
    .await;
    assert!(
        err.contains("no column \"QTY\"; nearest header found: \"QTTY\""),
        "{err}"
    );
}

#[tokio::test]
async fn a_file_without_a_period_is_refused() {
    let bytes = sample("boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx");
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report.xlsx",
        &bytes,
        None,
    )
    .await;
    assert!(
        err.contains("no reporting period found; tried the file name"),
        "{err}"
    );
}

#[tokio::test]
async fn a_hook_that_loops_forever_fails_the_file() {
    let text = std::fs::read_to_string(repo_path("vendor-specs/skins_nl.yaml"))
        .unwrap()
        .replace(
            "examples:",
            "hooks:\n  row: \"loop { }\"\nexamples: []\nold_examples:",
        );
    let text = text.split("old_examples:").next().unwrap().to_owned();
    let spec =
        taskifai_engine::spec::parse("skins_nl.yaml", &text).expect("spec with a hook compiles");
    let specs = SpecRegistry::new(vec![spec]);
    let csv = "Brand,Article,EANCode,SalesAmount,SalesAmountSPLY,SalesQuantity\nB,Ghost,7350154320008,195,,1\n";
    let err = refused(
        &specs,
        "BIBBIPARFU_ReportPeriod03-2025.csv",
        csv.as_bytes(),
        None,
    )
    .await;
    assert!(
        err.contains("hook failed") && err.contains("endless loop"),
        "{err}"
    );
}

#[tokio::test]
async fn too_many_rejected_rows_fail_the_whole_file() {
    // The good first row is written to a partition before the rejects are counted: the
    // refusal must remove it and its folders.
    let csv = "YEAR,MONTH,CHANNEL,POS,EAN,QTY,AMOUNT,DESCRIPTION,SKU\n2025,4,Retail,Paris,7350154320008,1,195,Ghost,BBGOT100\n2025,4,Retail,Paris,123,2,390,Ghost,\n2025,4,Retail,Paris,7350154320008,x,390,Ghost,BBGOT100\n";
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv",
        csv.as_bytes(),
        None,
    )
    .await;
    assert!(err.contains("2 of 3 rows rejected"), "{err}");
    // The message says why, with an example of each reason.
    assert!(err.contains("Most frequent: "), "{err}");
    assert!(err.contains("(e.g. "), "{err}");
}

#[test]
fn a_yaml_alias_bomb_is_refused_quickly() {
    let mut text = String::from("a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        text.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
    }
    let err = taskifai_engine::spec::parse("bomb.yaml", &text)
        .expect_err("refused")
        .to_string();
    assert!(err.starts_with("bomb.yaml:"), "{err}");
}

#[test]
fn spec_errors_point_at_line_and_column() {
    let text = std::fs::read_to_string(repo_path("vendor-specs/boxnox.yaml"))
        .unwrap()
        .replace(
            "product_ean: { column: EAN }",
            "product_ean: { column: EAN, extract: '(' }",
        );
    let err = taskifai_engine::spec::parse("vendor-specs/boxnox.yaml", &text)
        .expect_err("refused")
        .to_string();
    let line = text
        .lines()
        .position(|l| l.contains("extract: '('"))
        .unwrap()
        + 1;
    assert!(
        err.starts_with(&format!("vendor-specs/boxnox.yaml:{line}:")),
        "{err}"
    );
    assert!(
        err.contains("fields.product_ean.extract: invalid regex"),
        "{err}"
    );
    let typo = text.replace("keep_only_period: true", "keep_only_periods: true");
    let err = taskifai_engine::spec::parse("vendor-specs/boxnox.yaml", &typo)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("unknown field `keep_only_periods`"), "{err}");
}

#[test]
fn a_batch_hook_sees_the_whole_batch_and_rejects_rows_by_field() {
    let hook = r#"hooks:
  batch: |
    let seen = #{};
    for i in 0..rows.len() {
      let key = `${rows[i].store}|${rows[i].product_ean}`;
      if key in seen { rows[i]._reject = "the same store and EAN twice in one file"; }
      seen[key] = true;
    }
examples:
  - name: a repeated store and EAN is rejected by the batch hook
    file_name: BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx
    rows:
      - [YEAR, MONTH, CHANNEL, POS, EAN, QTY, AMOUNT, DESCRIPTION, SKU]
      - [2025, 4, Retail, Paris, 7350154320008, 2, 390, Ghost of Tom, BBGOT100]
      - [2025, 4, Retail, Paris, 7350154320008, 1, 195, Ghost of Tom, BBGOT100]
      - [2025, 4, Retail, Nice, 7350154320008, 1, 195, Ghost of Tom, BBGOT100]
    expect:
      rows:
        - { store: Paris, quantity: 2 }
        - { store: Nice, quantity: 1 }
      rejects:
        - { row: 3, rule: batch_hook }
"#;
    let original = std::fs::read_to_string(repo_path("vendor-specs/boxnox.yaml")).unwrap();
    let text = format!("{}{hook}", original.split("examples:").next().unwrap());
    let spec = taskifai_engine::spec::parse("boxnox.yaml", &text)
        .expect("a spec with a batch hook compiles");
    let failures = taskifai_engine::examples::run_examples(&spec, &reference());
    assert!(failures.is_empty(), "{failures:?}");
    // The same example fails without the hook, so the test can tell.
    let without = text.replace("      if key in seen { rows[i]._reject = \"the same store and EAN twice in one file\"; }\n", "");
    let spec = taskifai_engine::spec::parse("boxnox.yaml", &without).unwrap();
    assert!(!taskifai_engine::examples::run_examples(&spec, &reference()).is_empty());
}

/// A row with 150,000 cells (CSV) or a cell in column XFD (XLSX) is refused with the row and
/// the limit, before any batch is sized by it: such files used to cost hundreds of MB or kill
/// the worker.
#[tokio::test]
async fn files_wider_than_the_column_limit_are_refused_with_the_row() {
    let mut csv = "YEAR;MONTH;CHANNEL;POS;EAN;QTY;AMOUNT;DESCRIPTION;SKU\n".to_owned();
    csv.push_str(&";".repeat(150_000));
    csv.push('\n');
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv",
        csv.as_bytes(),
        Some("boxnox"),
    )
    .await;
    assert!(
        err.contains("row 2 has 150001 columns; a file may have at most 1024"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.xlsx");
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet().set_name("SELL OUT BY EAN").unwrap();
    sheet.write_string(0, 0, "YEAR").unwrap();
    for r in 1..50u32 {
        sheet.write_string(r, 16_383, "x").unwrap();
    }
    book.save(&path).unwrap();
    let err = refused(
        &specs(),
        "BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        &std::fs::read(&path).unwrap(),
        Some("boxnox"),
    )
    .await;
    assert!(err.contains("has a cell in column 16384"), "{err}");
}

/// #12.7: twenty examples that each expect a runaway hook's "operations" error used to cost
/// twenty full budgets per submission; now the examples share one budget, and spending it fails
/// the spec whatever the examples expect.
#[test]
fn a_specs_examples_share_one_hook_budget() {
    let mut hook = String::from("hooks:\n  row: |\n    loop { }\nexamples:\n");
    for i in 0..20 {
        hook.push_str(&format!(
            r#"  - name: runaway {i}
    file_name: BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx
    rows:
      - [YEAR, MONTH, CHANNEL, POS, EAN, QTY, AMOUNT, DESCRIPTION, SKU]
      - [2025, 4, Retail, Paris, 7350154320008, 2, 390, Ghost of Tom, BBGOT100]
    expect:
      error: operations
"#
        ));
    }
    let original = std::fs::read_to_string(repo_path("vendor-specs/boxnox.yaml")).unwrap();
    let text = format!("{}{hook}", original.split("examples:").next().unwrap());
    let spec = taskifai_engine::spec::parse("boxnox.yaml", &text).expect("compiles");
    // Each example stops at the row hook's own limit (100,000): 2.5 examples' worth of budget.
    let failures = taskifai_engine::examples::run_examples_within(&spec, &reference(), 250_000);
    assert_eq!(failures.len(), 18, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("examples together ran more than"),
        "{:?}",
        failures[0]
    );
    // With room for all of them, each example's expected error is met.
    let failures = taskifai_engine::examples::run_examples_within(&spec, &reference(), 10_000_000);
    assert!(failures.is_empty(), "{failures:?}");
}

/// #19.12: an example can carry its own reference rows, and then runs against them alone, so
/// `spec test` gives the same answer whatever the tenant's tables hold.
#[test]
fn an_example_with_its_own_reference_rows_does_not_need_the_tenants() {
    let example = |reference: &str| {
        format!(
            r#"examples:
  - name: a rand amount converted with the example's own rate
    file_name: Skins SA BIBBI CY 2025 February.xlsx
    sheet: BIBBI
    rows:
      - [Branch, OrderDate, StockCode, OrderQty, StockDescription, NetSalesValue, " ExVatNetsales", MONTH, YEAR]
      - [Sandton, 2/3/2025, 7350154320008, 1, GHOST OF TOM, "3 967,50", "3 450,00", 2, 2025]
{reference}    expect:
      rows:
        - {{ product_ean: "7350154320008", sales_eur: 172.5 }}
"#
        )
    };
    let original = std::fs::read_to_string(repo_path("vendor-specs/skins_sa.yaml")).unwrap();
    let head = original.split("examples:").next().unwrap().to_owned();
    let own = "    reference:\n      products:\n        - { ean: \"7350154320008\", functional_name: BBGOT100, name: Ghost of Tom 100 ml }\n      fx_rates:\n        - { currency: ZAR, year: 2025, month: 2, rate: 0.05 }\n";
    let empty = taskifai_engine::reference::Reference::default();
    let parse = |text: String| taskifai_engine::spec::parse("skins_sa.yaml", &text).unwrap();
    let failures =
        taskifai_engine::examples::run_examples(&parse(format!("{head}{}", example(own))), &empty);
    assert!(failures.is_empty(), "{failures:?}");
    // Without its rows the same example depends on the tenant's (here empty) tables, and fails.
    let failures =
        taskifai_engine::examples::run_examples(&parse(format!("{head}{}", example(""))), &empty);
    assert!(!failures.is_empty());
    // A bad reference row is the example's failure, with its table, row and column.
    let bad = own.replace("\"7350154320008\"", "\"123\"");
    let failures =
        taskifai_engine::examples::run_examples(&parse(format!("{head}{}", example(&bad))), &empty);
    assert!(
        failures[0].message.contains("products row 2: ean \"123\""),
        "{failures:?}"
    );
}

/// #19.7: a column that holds EANs in one file and the reseller's own codes in another. With
/// `otherwise: vendor_product_code` a code goes to that field and the mapping table finds the
/// product; a damaged EAN is still refused; and without `otherwise` the code is refused as a
/// vendor code, not as an EAN Excel damaged.
#[test]
fn an_ean_column_can_fall_back_to_the_vendors_code() {
    let original = std::fs::read_to_string(repo_path("vendor-specs/boxnox.yaml")).unwrap();
    let head = original.split("examples:").next().unwrap();
    let spec_text = |otherwise: &str| {
        head.replace(
            "  product_ean: { column: EAN }",
            &format!("  product_ean: {{ column: EAN{otherwise} }}"),
        )
        .replace("  functional_name: { column: SKU }\n", "")
        .replace(
            "validate:",
            "lookup: { by: vendor_product_code, unmatched: error }\nvalidate:",
        ) + r#"examples:
  - name: EANs, a vendor code and a damaged EAN in one column
    file_name: BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx
    rows:
      - [YEAR, MONTH, CHANNEL, POS, EAN, QTY, AMOUNT, DESCRIPTION, SKU]
      - [2025, 4, Retail, Paris, 7350154320008, 2, 390, Ghost of Tom, BBGOT100]
      - [2025, 4, Retail, Paris, PRDT35, 1, 195, Swimming Pool, BBSP100]
      - [2025, 4, Retail, Paris, 7.35015E+12, 1, 195, Ghost of Tom, BBGOT100]
    reference:
      products:
        - { ean: "7350154320008", functional_name: BBGOT100 }
        - { ean: "7350154320046", functional_name: BBSP100 }
      vendor_products:
        - { vendor: boxnox, match: exact, key: PRDT35, ean: "7350154320046" }
    expect:
      rows:
        - { product_ean: "7350154320008", functional_name: BBGOT100 }
        - { product_ean: "7350154320046", vendor_product_code: PRDT35, functional_name: BBSP100 }
      rejects:
        - { row: 4, rule: bad_product_ean }
"#
    };
    let empty = taskifai_engine::reference::Reference::default();
    let spec = taskifai_engine::spec::parse(
        "boxnox.yaml",
        &spec_text(", otherwise: vendor_product_code"),
    )
    .unwrap();
    let failures = taskifai_engine::examples::run_examples(&spec, &empty);
    assert!(failures.is_empty(), "{failures:?}");
    let spec = taskifai_engine::spec::parse("boxnox.yaml", &spec_text("")).unwrap();
    let failures = taskifai_engine::examples::run_examples(&spec, &empty);
    assert!(failures[0].message.contains("product code"), "{failures:?}");
    let err = taskifai_engine::spec::parse("boxnox.yaml", &spec_text(", otherwise: quantity"))
        .expect_err("refused")
        .to_string();
    assert!(err.contains("otherwise"), "{err}");
}

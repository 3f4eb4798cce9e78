//! #19.6: a report with no date in its name or cells takes its period from the XLSX document
//! properties when its spec names them.

use std::path::{Path, PathBuf};
use taskifai_engine::reference::Reference;
use taskifai_engine::spec::{self, SpecRegistry};
use taskifai_tests::normalize_file;

fn specs(from: &str, offset: i32) -> SpecRegistry {
    let text = format!(
        "
vendor: plain
version: 1
reseller: Plain
currency: EUR
detect: {{ filename: {{ pattern: 'plain', weight: 1.0 }}, threshold: 0.5 }}
read: {{ header: {{ row: 1 }} }}
period: {{ grain: month, from: {from}, offset: {offset} }}
fields:
  product_ean: {{ column: EAN }}
  quantity: {{ column: Qty }}
"
    );
    SpecRegistry::new(vec![spec::parse("plain.yaml", &text).expect("compiles")])
}

fn workbook(dir: &Path, props: rust_xlsxwriter::DocProperties) -> PathBuf {
    let mut book = rust_xlsxwriter::Workbook::new();
    book.set_properties(&props);
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "EAN").unwrap();
    sheet.write_string(0, 1, "Qty").unwrap();
    sheet.write_string(1, 0, "7350154320008").unwrap();
    sheet.write_number(1, 1, 2).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("plain sales.xlsx");
    book.save(&path).unwrap();
    path
}

#[test]
fn the_created_date_or_the_title_gives_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let saved = rust_xlsxwriter::ExcelDateTime::parse_from_str("2025-05-02T09:14:00").unwrap();
    let props = rust_xlsxwriter::DocProperties::new()
        .set_creation_datetime(&saved)
        .set_title("Sell-out April 2025");
    let path = workbook(dir.path(), props);
    let reference = Reference::default();

    // Saved on 2 May, reporting April: the month before.
    let specs_created = specs("[filename, { document: created }]", -1);
    let (outcome, _) = normalize_file(&specs_created, &reference, &path).unwrap();
    assert_eq!(outcome.summary.period.start.to_string(), "2025-04-01");

    let (outcome, _) =
        normalize_file(&specs("[{ document: title }]", 0), &reference, &path).unwrap();
    assert_eq!(outcome.summary.period.start.to_string(), "2025-04-01");

    // Without the property, the error says what was tried.
    let bare = workbook(&dir.path().join("x"), rust_xlsxwriter::DocProperties::new());
    let err = normalize_file(
        &specs("[filename, { document: subject }]", 0),
        &reference,
        &bare,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("the document's subject property (not found)"),
        "{err}"
    );
}

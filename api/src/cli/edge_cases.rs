//! `taskifai gen-samples` also writes `sample-data/edge-cases/`: layouts from real files that
//! once lost data with exit code 0 or were counted twice. Each folder holds the files of one
//! case, loaded in name order; `tests/it/edge_cases.rs` holds what each must do.

use super::samples::{selfridges, skins_nl, write, Sheet, C};
use rust_xlsxwriter::XlsxError;
use std::path::{Path, PathBuf};
use C::{D, E, N, S};

/// An Aromateque stock-and-sales sheet: one quantity column per month, a product per row, and
/// the file's own total row.
fn aromateque(months: &[C], products: &[(&'static str, &'static str, Vec<C>)]) -> Vec<Sheet> {
    let mut header = vec![S("Номенклатура"), S("Код")];
    header.extend(months.iter().cloned());
    header.extend([S("total"), S("Total in euro")]);
    let mut rows = vec![header];
    let mut sums = vec![0.0; months.len()];
    for (name, code, qty) in products {
        let mut row = vec![S(name), S(code)];
        for (i, q) in qty.iter().enumerate() {
            if let N(n) = q {
                sums[i] += n;
            }
            row.push(q.clone());
        }
        rows.push(row);
    }
    let mut total = vec![S("Total"), E];
    total.extend(sums.into_iter().map(N));
    rows.push(total);
    vec![Sheet {
        name: "TDSheet".into(),
        rows,
        merges: vec![],
    }]
}

/// Writes every case into `dir/<case>/`.
pub fn generate(dir: &Path) -> Result<Vec<PathBuf>, XlsxError> {
    let march = "bibbi sales march'25.xlsx";
    let mut with_subtotal = selfridges();
    // A group subtotal whose label sits in the Product column, not the Store column.
    with_subtotal[0]
        .rows
        .insert(7, vec![E, S("Total Manchester stores"), N(2.0), N(315.0)]);
    let cases: Vec<(&str, &str, Vec<Sheet>)> = vec![
        (
            "01-no-rows-for-its-month",
            march,
            aromateque(
                &[D(2025, 1, 1), D(2025, 2, 1)],
                &[
                    ("BIBBI Boy of June 100 ML", "BBBOJ100", vec![N(2.0), N(3.0)]),
                    (
                        "BIBBI Ghost of Tom 100 ML",
                        "BBGOT100",
                        vec![N(1.0), N(4.0)],
                    ),
                ],
            ),
        ),
        (
            "02-rejected-month-of-a-wide-row",
            march,
            aromateque(
                &[D(2025, 1, 1), D(2025, 2, 1), S("березня-25")],
                &[
                    (
                        "BIBBI Boy of June 100 ML",
                        "BBBOJ100",
                        vec![N(2.0), N(3.0), N(5.0)],
                    ),
                    (
                        "BIBBI Ghost of Tom 100 ML",
                        "BBGOT100",
                        vec![N(1.0), N(4.0), S("seven")],
                    ),
                ],
            ),
        ),
        (
            "03-subtotal-in-another-column",
            "Selfridges Weekly Sales WE 27-04-2025.xlsx",
            with_subtotal,
        ),
        (
            "04-same-bytes-another-month",
            "BIBBIPARFU_ReportPeriod02-2025.xlsx",
            skins_nl(),
        ),
        (
            "04-same-bytes-another-month",
            "BIBBIPARFU_ReportPeriod03-2025.xlsx",
            skins_nl(),
        ),
    ];
    let mut written = Vec::new();
    for (case, file, sheets) in cases {
        let folder = dir.join(case);
        std::fs::create_dir_all(&folder).expect("edge-case folder can be created");
        let path = folder.join(file);
        write(&path, &sheets)?;
        written.push(path);
    }
    Ok(written)
}

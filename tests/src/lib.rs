//! Test support: paths into the repository, the sample specs and reference data, and running a
//! file through the real pipeline without a lake.

pub mod pg;

use datafusion::arrow::record_batch::RecordBatch;
use std::path::{Path, PathBuf};
use taskifai_engine::pipeline::{self, Outcome};
use taskifai_engine::reference::Reference;
use taskifai_engine::spec::SpecRegistry;

/// A path relative to the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

/// (sample, accepted, rejected, quantity, sales in local currency, sales in EUR)
pub const SAMPLE_TOTALS: [(&str, usize, usize, i64, &str, &str); 9] = [
    (
        "liberty/Continuity Supplier Size Report 27-04-2025.xlsx",
        5,
        0,
        5,
        "487.5000",
        "570.375000",
    ),
    (
        "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        4,
        1,
        5,
        "975.0000",
        "975.000000",
    ),
    (
        "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
        6,
        0,
        7,
        "1365.0000",
        "1365.000000",
    ),
    (
        "galilu/BIbbi_sellout_Galilu_2025.xlsx",
        3,
        1,
        6,
        "4254.0000",
        "978.420000",
    ),
    (
        "aromateque/bibbi sales march'25.xlsx",
        3,
        0,
        6,
        "924.0000",
        "924.000000",
    ),
    (
        "skins_sa/Skins SA BIBBI CY 2025 February.xlsx",
        4,
        0,
        6,
        "18497.8300",
        "924.891500",
    ),
    (
        "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx",
        3,
        0,
        6,
        "1170.0000",
        "1170.000000",
    ),
    (
        "selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx",
        4,
        1,
        5,
        "704.1667",
        "823.875039",
    ),
    (
        "online/BIBBI Online Orders 2025-04.xlsx",
        3,
        0,
        4,
        "0.0000",
        "650.000000",
    ),
];

/// The repository's vendor specs.
pub fn specs() -> SpecRegistry {
    SpecRegistry::load_dir(&repo_path("vendor-specs"))
        .unwrap_or_else(|e| panic!("specs load: {e:?}"))
}

/// The demo reference data.
pub fn reference() -> Reference {
    taskifai_connectors::reference::load_dir(&repo_path("sample-data/reference"))
        .expect("reference loads")
}

/// Runs a file through detection and the pipeline, collecting the accepted batches.
pub fn normalize_file(
    specs: &SpecRegistry,
    reference: &Reference,
    path: &Path,
) -> Result<(Outcome, Vec<RecordBatch>), taskifai_engine::Error> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut wb = taskifai_connectors::readers::open(path, &name)?;
    let (spec, _) = taskifai_engine::detect::detect(specs, wb.as_mut())?;
    let mut batches = Vec::new();
    let outcome = pipeline::run(
        wb.as_mut(),
        &spec,
        reference,
        "golden",
        &mut |b| {
            batches.push(b.clone());
            Ok(())
        },
        &mut |_| {},
    )?;
    Ok((outcome, batches))
}

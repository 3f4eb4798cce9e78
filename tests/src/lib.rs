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

/// The repository's vendor specs.
pub fn specs() -> SpecRegistry {
    SpecRegistry::load_dir(&repo_path("vendor-specs")).unwrap_or_else(|e| panic!("specs load: {e:?}"))
}

/// The demo reference data.
pub fn reference() -> Reference {
    taskifai_connectors::reference::load_dir(&repo_path("sample-data/reference")).expect("reference loads")
}

/// Runs a file through detection and the pipeline, collecting the accepted batches.
pub fn normalize_file(specs: &SpecRegistry, reference: &Reference, path: &Path) -> Result<(Outcome, Vec<RecordBatch>), taskifai_engine::Error> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut wb = taskifai_connectors::readers::open(path, &name)?;
    let (spec, _) = taskifai_engine::detect::detect(specs, wb.as_mut())?;
    let mut batches = Vec::new();
    let outcome = pipeline::run(wb.as_mut(), &spec, reference, "golden", &mut |b| {
        batches.push(b.clone());
        Ok(())
    }, &mut |_| {})?;
    Ok((outcome, batches))
}

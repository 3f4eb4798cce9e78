//! Any bytes as a delimited-text sell-out file, through the reader and every spec: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use taskifai_engine::reference::Reference;
use taskifai_engine::spec::SpecRegistry;

fn specs() -> &'static SpecRegistry {
    static SPECS: OnceLock<SpecRegistry> = OnceLock::new();
    SPECS.get_or_init(|| {
        SpecRegistry::load_dir(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../vendor-specs"
        )))
        .expect("specs load")
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("BOXNOX - BIBBI Monthly Sales Report APR2025.csv");
    std::fs::write(&path, data).unwrap();
    let Ok(mut wb) = taskifai_connectors::readers::open(
        &path,
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv",
    ) else {
        return;
    };
    let reference = Reference::default();
    for spec in specs().iter() {
        let _ = taskifai_engine::pipeline::run(
            wb.as_mut(),
            spec,
            &reference,
            "fuzz",
            &mut |_| Ok(()),
            &mut |_| {},
        );
    }
});

//! Damaged files (flipped bytes, truncations) through readers and specs: errors, never panics.
//! A small deterministic version of the cargo-fuzz targets in `fuzz/`, run on every test.

use taskifai_engine::xorshift::XorShift;
use taskifai_tests::{reference, repo_path, specs};

fn damage(rng: &mut XorShift, original: &[u8]) -> Vec<u8> {
    let mut b = original.to_vec();
    let len = b.len() as u64;
    match rng.below(3) {
        0 => b.truncate(rng.below(len) as usize),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(len) as usize;
                b[i] ^= 1 << rng.below(8);
            }
        }
        _ => {
            let i = rng.below(len) as usize;
            let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next_u64() as u8).collect();
            b.splice(i..i, junk);
        }
    }
    b
}

#[test]
fn damaged_samples_never_panic() {
    let (specs, reference) = (specs(), reference());
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift::new(0x5EED_1234_ABCD_0001);
    let samples = [
        "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
        "liberty/Continuity Supplier Size Report 27-04-2025.xlsx",
        "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
    ];
    let csv = b"YEAR;MONTH;CHANNEL;POS;EAN;QTY;AMOUNT;DESCRIPTION;SKU\n2025;4;Retail;\"Paris; Marais\";7350154320008;2;390,00;Ghost;BBGOT100\n".to_vec();
    let mut inputs: Vec<(String, Vec<u8>)> = samples
        .iter()
        .map(|s| {
            (
                s.rsplit('/').next().unwrap().to_owned(),
                std::fs::read(repo_path(&format!("sample-data/vendors/{s}"))).unwrap(),
            )
        })
        .collect();
    inputs.push((
        "BOXNOX - BIBBI Monthly Sales Report APR2025.csv".into(),
        csv,
    ));
    for round in 0..60 {
        for (name, original) in &inputs {
            let bytes = damage(&mut rng, original);
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let Ok(mut wb) = taskifai_connectors::readers::open(&path, name) else {
                    return;
                };
                for spec in specs.iter() {
                    let _ = taskifai_engine::pipeline::run(
                        wb.as_mut(),
                        spec,
                        &reference,
                        "robust",
                        &mut |_| Ok(()),
                        &mut |_| {},
                    );
                }
            }));
            assert!(
                result.is_ok(),
                "round {round}: {name} panicked; bytes saved at {}",
                {
                    let p = std::env::temp_dir().join(format!("taskifai-panic-{round}-{name}"));
                    std::fs::write(&p, &bytes).unwrap();
                    p.display().to_string()
                }
            );
        }
    }
}

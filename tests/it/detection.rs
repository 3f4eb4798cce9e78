//! Detection on the samples under every file-name variant the real files come in.

use taskifai_engine::detect::detect;
use taskifai_tests::{repo_path, specs};

fn detect_as(sample: &str, name: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(repo_path(&format!("sample-data/vendors/{sample}")), &path).unwrap();
    let mut wb = taskifai_connectors::readers::open(&path, name).map_err(|e| e.to_string())?;
    detect(&specs(), wb.as_mut())
        .map(|(s, _)| s.spec.vendor.clone())
        .map_err(|e| e.to_string())
}

#[test]
fn every_vendor_is_recognised_under_its_file_name_variants() {
    let cases = [
        (
            "liberty/Continuity Supplier Size Report 27-04-2025.xlsx",
            "Continuity Supplier Size Report 04_05_2025.xlsm",
            "liberty",
        ),
        (
            "liberty/Continuity Supplier Size Report 27-04-2025.xlsx",
            "Continuity Supplier Size Report 11-05-2025.xlsx",
            "liberty",
        ),
        (
            "boxnox/BOXNOX - BIBBI Monthly Sales Report APR2025.xlsx",
            "BOXNOX - BIBBI Monthly Sales Report MAR2025.xlsx",
            "boxnox",
        ),
        (
            "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
            "BIBBI_Sell_Out_2025_05.xlsx",
            "cdlc",
        ),
        (
            "cdlc/CDLC BIBBI_Sell_Out_2025 04.xlsx",
            "CDLC BIBBI_Sell_Out_2025 01.xlsx",
            "cdlc",
        ),
        (
            "galilu/BIbbi_sellout_Galilu_2025.xlsx",
            "BIbbi_sellout_Galilu_2026.xlsx",
            "galilu",
        ),
        (
            "aromateque/bibbi sales march'25.xlsx",
            "bibbi sales april'25.xlsx",
            "aromateque",
        ),
        (
            "skins_sa/Skins SA BIBBI CY 2025 February.xlsx",
            "Skins SA BIBBI CY 2025 March.xlsx",
            "skins_sa",
        ),
        (
            "skins_nl/BIBBIPARFU_ReportPeriod02-2025.xlsx",
            "BIBBIPARFU_ReportPeriod03-2025.xlsx",
            "skins_nl",
        ),
        (
            "selfridges/Selfridges Weekly Sales WE 27-04-2025.xlsx",
            "Selfridges Weekly Sales WE 04-05-2025.xlsx",
            "selfridges",
        ),
        (
            "online/BIBBI Online Orders 2025-04.xlsx",
            "orders export 2025-05.xlsx",
            "online",
        ),
    ];
    for (sample, name, vendor) in cases {
        assert_eq!(detect_as(sample, name).as_deref(), Ok(vendor), "{name}");
    }
}

#[test]
fn a_file_no_spec_claims_is_refused_with_the_candidates_and_scores() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inventory.csv");
    std::fs::write(&path, "sku,warehouse,stock\nBBGOT100,Stockholm,12\n").unwrap();
    let mut wb = taskifai_connectors::readers::open(&path, "inventory.csv").unwrap();
    let err = detect(&specs(), wb.as_mut())
        .expect_err("refused")
        .to_string();
    assert!(err.contains("no vendor spec recognises this file"), "{err}");
    assert!(err.contains("pass --vendor"), "{err}");
}

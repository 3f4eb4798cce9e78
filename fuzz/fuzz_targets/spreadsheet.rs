//! Any bytes as a spreadsheet: opening, listing sheets and reading every sheet must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taskifai_connectors::readers::spreadsheet::SpreadsheetWorkbook;
use taskifai_engine::raw::Workbook;

fuzz_target!(|data: &[u8]| {
    let Ok(mut wb) = SpreadsheetWorkbook::from_bytes("fuzz.xlsx", data.to_vec()) else { return };
    for i in 0..wb.sheet_names().len() {
        let _ = wb.head(i, 50);
        if let Ok(stream) = wb.stream(i) {
            for _ in stream {}
        }
    }
});

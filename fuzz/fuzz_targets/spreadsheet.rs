//! Any bytes as a spreadsheet: opening, listing sheets and reading every sheet must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taskifai_connectors::readers::spreadsheet::SpreadsheetWorkbook;
use taskifai_engine::raw::Workbook;

fuzz_target!(|data: &[u8]| {
    // The reader turns a panic inside calamine into a read error (the file is damaged); only a
    // panic that escapes the reader is a finding, and libfuzzer-sys aborts on those itself.
    static QUIET: std::sync::Once = std::sync::Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Ok(mut wb) = SpreadsheetWorkbook::from_bytes("fuzz.xlsx", data.to_vec()) else {
        return;
    };
    for i in 0..wb.sheet_names().len() {
        let _ = wb.head(i, 50);
        if let Ok(stream) = wb.stream(i) {
            for _ in stream {}
        }
    }
});

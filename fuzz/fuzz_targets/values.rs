//! Any text through the value parsers and period tokens: no panic, and parsed numbers re-read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use taskifai_engine::values::{
    format_scaled, parse_date, parse_decimal, parse_ean, parse_integer, DecimalSep,
};

fuzz_target!(|text: &str| {
    for sep in [DecimalSep::Auto, DecimalSep::Comma, DecimalSep::Point] {
        if let Ok(v) = parse_decimal(text, 4, sep) {
            assert_eq!(
                parse_decimal(&format_scaled(v, 4), 4, DecimalSep::Point),
                Ok(v)
            );
        }
        let _ = parse_integer(text, sep);
    }
    let _ = parse_ean(text);
    let _ = parse_date(text, &["%d/%m/%Y".to_owned()]);
    let _ = taskifai_engine::period::find_token(text);
});

//! The SQL guard's depth check on arbitrary text: it never panics or recurses, and whatever it
//! lets through parses without overflowing the stack, whatever mix of operators, parentheses
//! and lists the input holds (deep and wide expressions).

#![no_main]

use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use libfuzzer_sys::fuzz_target;
use taskifai_engine::sql_guard::check_depth;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Grow the input into a long chain too, so depth is exercised beyond the corpus size.
    let chained = format!("SELECT {}", text.repeat(64));
    for sql in [text, chained.as_str()] {
        if check_depth(sql).is_ok() {
            let _ = DFParser::parse_sql_with_dialect(sql, &GenericDialect {});
        }
    }
});

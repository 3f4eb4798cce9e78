//! Parsing of the values resellers actually send: numbers with decimal commas, thousands
//! separators, currency symbols and accounting negatives; dates in many formats and as Excel
//! serials; EANs damaged by Excel.
//!
//! Every parser takes trimmed cell text and returns the value or a short phrase saying what was
//! expected, which the caller turns into an [`crate::issues::Issue`] with the cell's location.

use chrono::{Duration, NaiveDate};
use std::borrow::Cow;

/// Which character separates the decimals when a number has only one separator.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Deserialize,
    serde::Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DecimalSep {
    /// `1,5` and `1.5` are both one and a half; `1.234,5` and `1,234.5` are resolved by the last
    /// separator; a repeated separator is a thousands separator.
    #[default]
    Auto,
    /// `1,234` is one thousand two hundred thirty-four.
    Point,
    /// `1.234` is one thousand two hundred thirty-four.
    Comma,
}

const NUMBER: &str = "a number such as 1234.56, 1 234,56 or (12.50)";

/// Parses a decimal number into an integer scaled by `10^scale`, rounding half away from zero.
pub fn parse_decimal(text: &str, scale: u32, sep: DecimalSep) -> Result<i128, &'static str> {
    let (negative, int_part, frac_part) = number_parts(text, sep).ok_or(NUMBER)?;
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(NUMBER);
    }
    let mut value: i128 = 0;
    for d in int_part.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as i128))
            .ok_or("a number small enough to store")?;
    }
    let mut frac = frac_part.bytes();
    for _ in 0..scale {
        let d = frac.next().map_or(0, |d| (d - b'0') as i128);
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(d))
            .ok_or("a number small enough to store")?;
    }
    if frac.next().is_some_and(|d| d >= b'5') {
        value += 1;
    }
    Ok(if negative { -value } else { value })
}

/// Parses a whole number; `3.0` and `3,00` count as 3, `3.5` does not.
pub fn parse_integer(text: &str, sep: DecimalSep) -> Result<i64, &'static str> {
    const WHOLE: &str = "a whole number";
    let (negative, int_part, frac_part) = number_parts(text, sep).ok_or(WHOLE)?;
    if int_part.is_empty() || frac_part.bytes().any(|b| b != b'0') {
        return Err(WHOLE);
    }
    let v: i64 = int_part
        .parse()
        .map_err(|_| "a whole number small enough to store")?;
    Ok(if negative { -v } else { v })
}

/// Sign, integer digits and fraction digits of a number. Plain `-?digits[.digits]` (nearly
/// every cell) is read without allocating; anything else goes through the full rules.
fn number_parts(
    text: &str,
    sep: DecimalSep,
) -> Option<(bool, std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)> {
    if let Some((negative, int, frac)) = plain_number(text, sep) {
        return Some((negative, int.into(), frac.into()));
    }
    let (negative, body) = strip_sign(text)?;
    let (int, frac) = split_number(&body, sep)?;
    Some((negative, int.into(), frac.into()))
}

/// `text` without surrounding whitespace. Most cells have none: two byte checks instead of
/// `str::trim`'s walk over characters from both ends (3% of a 1M-row load).
pub fn trim(text: &str) -> &str {
    let b = text.as_bytes();
    let solid = |c: u8| c > b' ' && c < 0x7f;
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if solid(f) && solid(l) => text,
        _ => text.trim(),
    }
}

/// `-?digits` or `-?digits.digits`, where `.` is the decimal point for this separator setting.
fn plain_number(text: &str, sep: DecimalSep) -> Option<(bool, &str, &str)> {
    let t = trim(text);
    let (negative, body) = t.strip_prefix('-').map_or((false, t), |b| (true, b));
    let (int, frac) = match body.split_once('.') {
        Some(_) if sep == DecimalSep::Comma => return None,
        Some((i, f)) if !f.is_empty() => (i, f),
        Some(_) => return None,
        None => (body, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() && digits(int) && digits(frac)).then_some((negative, int, frac))
}

/// Removes currency symbols, codes and spaces and reads the sign: a leading or trailing `-`,
/// Unicode minus, or accounting parentheses. Returns the remaining digits and separators.
fn strip_sign(text: &str) -> Option<(bool, String)> {
    let mut t = text.trim();
    let mut negative = false;
    if t.starts_with('(') && t.ends_with(')') && t.len() >= 2 {
        negative = true;
        t = &t[1..t.len() - 1];
    }
    let mut body = String::with_capacity(t.len());
    let mut seen_digit = false;
    let mut sign_seen = false;
    for c in t.chars() {
        match c {
            '0'..='9' => {
                seen_digit = true;
                body.push(c)
            }
            '.' | ',' | '\'' | '’' => body.push(c),
            '-' | '\u{2212}' | '\u{2013}' if !sign_seen => {
                // A sign may lead or trail (`12-` from some ERPs), never sit between digits.
                if seen_digit && !body.is_empty() {
                    sign_seen = true;
                    negative = !negative;
                    continue;
                }
                sign_seen = true;
                negative = !negative;
            }
            '+' if !seen_digit && !sign_seen => sign_seen = true,
            c if c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}' => {}
            c if is_currency(c) => {}
            c if c.is_ascii_alphabetic() && !seen_digit => {} // currency codes before: EUR 12
            c if c.is_ascii_alphabetic() => body.push('x'),   // letters after digits: not a number
            _ => return None,
        }
    }
    if !seen_digit || body.contains('x') {
        return None;
    }
    // A trailing sign after digits must be the very last character.
    if sign_seen && seen_digit {
        let trimmed = t.trim_end_matches(|c: char| {
            c.is_whitespace() || is_currency(c) || c.is_ascii_alphabetic()
        });
        let ends_with_sign = trimmed.ends_with(['-', '\u{2212}', '\u{2013}']);
        let starts_with_sign = t
            .trim_start_matches(|c: char| {
                c.is_whitespace() || is_currency(c) || c.is_ascii_alphabetic()
            })
            .starts_with(['-', '\u{2212}', '\u{2013}']);
        if !ends_with_sign && !starts_with_sign {
            return None;
        }
    }
    Some((negative, body))
}

fn is_currency(c: char) -> bool {
    matches!(
        c,
        '€' | '£' | '$' | '¥' | '₴' | '₽' | '₣' | 'ł' | 'č' | 'ž' | '₹' | '¤'
    )
}

/// Splits `1.234,56` into (`1234`, `56`) following the separator rules of [`DecimalSep`].
fn split_number(body: &str, sep: DecimalSep) -> Option<(String, String)> {
    let body: String = body
        .chars()
        .map(|c| if c == '’' { '\'' } else { c })
        .collect();
    let body = body.replace('\'', "");
    let commas = body.matches(',').count();
    let points = body.matches('.').count();
    let decimal = match (commas, points) {
        (0, 0) => None,
        (_, 0) if commas > 1 => None,
        (0, _) if points > 1 => None,
        (1, 0) => {
            if sep == DecimalSep::Point {
                None
            } else {
                Some(',')
            }
        }
        (0, 1) => {
            if sep == DecimalSep::Comma {
                None
            } else {
                Some('.')
            }
        }
        _ => {
            let last = body.rfind([',', '.'])?;
            let d = body[last..].chars().next()?;
            if body.matches(d).count() > 1 {
                return None;
            }
            Some(d)
        }
    };
    let (int_raw, frac) = match decimal {
        Some(d) => {
            let at = body.rfind(d)?;
            (&body[..at], &body[at + 1..])
        }
        None => (body.as_str(), ""),
    };
    let int_part: String = int_raw.chars().filter(|c| c.is_ascii_digit()).collect();
    if frac.contains([',', '.']) || !thousands_groups_ok(int_raw) {
        return None;
    }
    Some((int_part, frac.to_owned()))
}

/// `1.234.567` is fine; `1.23.4` is not a number.
fn thousands_groups_ok(int_raw: &str) -> bool {
    let groups: Vec<&str> = int_raw.split([',', '.']).collect();
    groups.len() == 1 || groups[1..].iter().all(|g| g.len() == 3) && !groups[0].is_empty()
}

/// Why an EAN was refused.
pub const EAN: &str = "an EAN/GTIN of 8, 12, 13 or 14 digits with a valid check digit";

/// Cleans an EAN/GTIN: strips `.0` left by Excel, restores leading zeros lost when the code was
/// stored as a number, checks the check digit, and refuses scientific notation (`7.35015E+12`),
/// whose lost digits cannot be recovered.
pub fn parse_ean(text: &str) -> Result<Cow<'_, str>, &'static str> {
    parse_gtin(text, true)
}

/// [`parse_ean`] with the check-digit verification optional (some files carry internal codes
/// of EAN length that are not real GTINs).
pub fn parse_gtin(text: &str, check_digit: bool) -> Result<Cow<'_, str>, &'static str> {
    let t = trim(text).trim_start_matches('\'');
    // Most cells are already a clean code: check it in place, without building a new string.
    let plain = t.len() >= 8
        && t.len() <= 14
        && t.bytes().all(|b| b.is_ascii_digit())
        && (!check_digit || matches!(t.len(), 8 | 13 | 14));
    if plain {
        if check_digit && !check_digit_ok(t) {
            return Err(CHECK_DIGIT);
        }
        return Ok(Cow::Borrowed(t));
    }
    if looks_scientific(t) {
        return Err("an EAN written out in full; Excel turned this one into scientific notation and its last digits are lost");
    }
    if t.chars().any(|c| c.is_alphabetic()) {
        return Err(CODE_NOT_EAN);
    }
    let t = t
        .strip_suffix(".0")
        .or_else(|| t.strip_suffix(".00"))
        .unwrap_or(t);
    let digits: String = t.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EAN);
    }
    let code = match digits.len() {
        8 | 13 | 14 => digits,
        9..=12 if check_digit => format!("{digits:0>13}"),
        9..=12 => digits,
        _ => return Err(EAN),
    };
    if check_digit && !check_digit_ok(&code) {
        return Err(CHECK_DIGIT);
    }
    Ok(Cow::Owned(code))
}

/// Letters in an EAN column: a reseller's own product code, not a damaged EAN.
const CODE_NOT_EAN: &str = "an EAN/GTIN, which is digits only; this value has letters, so it is probably the reseller's own product code (map it as vendor_product_code)";

/// A value in an EAN column that is a reseller's own product code (it has letters), not a
/// damaged EAN; `product_ean`'s `otherwise` sends such values to another field.
pub fn is_vendor_code(text: &str) -> bool {
    let t = trim(text);
    t.chars().any(char::is_alphabetic) && !looks_scientific(t)
}

/// `7.35015E+12`: a number Excel shows in scientific notation, not a code with an E in it.
fn looks_scientific(t: &str) -> bool {
    let Some((mantissa, exponent)) = t.split_once(['E', 'e']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    let (int, frac) = mantissa.split_once(['.', ',']).unwrap_or((mantissa, ""));
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
}

const CHECK_DIGIT: &str =
    "an EAN/GTIN whose last digit is its check digit; this one does not add up";

fn check_digit_ok(code: &str) -> bool {
    let digits: Vec<u32> = code.bytes().map(|b| (b - b'0') as u32).collect();
    let (body, check) = digits.split_at(digits.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

/// The first day of the 1900 date system, as Excel counts it (with its 1900 leap-year bug).
fn excel_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date")
}

/// Parses a date with the spec's formats (chrono syntax), ISO dates, and Excel serial numbers.
pub fn parse_date(text: &str, formats: &[String]) -> Result<NaiveDate, &'static str> {
    let t = trim(text);
    // A time after the date (`2025-04-30T10:00`, `30/04/2025 00:00`) is dropped; both separators
    // are ASCII, so the byte position is a character boundary.
    let t = match t.bytes().position(|b| b == b'T' || b == b' ') {
        Some(at) if at >= 8 => &t[..at],
        _ => t,
    };
    for f in formats {
        if let Some(d) = fixed_width_date(t, f).or_else(|| NaiveDate::parse_from_str(t, f).ok()) {
            return Ok(d);
        }
    }
    if let Some(d) =
        fixed_width_date(t, "%Y-%m-%d").or_else(|| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok())
    {
        return Ok(d);
    }
    if let Ok(serial) = t.parse::<f64>() {
        if (1.0..2_958_466.0).contains(&serial) {
            return Ok(excel_epoch() + Duration::days(serial.trunc() as i64));
        }
    }
    Err("a date in one of the spec's formats, an ISO date (2025-04-30) or an Excel date serial")
}

/// A date whose format is only `%d`, `%m`, `%Y` and literal characters, written with full-width
/// fields (`05/04/2025`), read without chrono's general parser. `None` means "ask chrono":
/// anything this does not accept, chrono decides.
fn fixed_width_date(text: &str, format: &str) -> Option<NaiveDate> {
    let (t, f) = (text.as_bytes(), format.as_bytes());
    let (mut i, mut j) = (0, 0);
    let (mut year, mut month, mut day) = (None, None, None);
    while j < f.len() {
        if f[j] == b'%' {
            let field = *f.get(j + 1)?;
            let width = match field {
                b'Y' => 4,
                b'm' | b'd' => 2,
                _ => return None,
            };
            let digits = t.get(i..i + width)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let v = digits.iter().fold(0u32, |a, d| a * 10 + (d - b'0') as u32);
            match field {
                b'Y' => year = Some(v as i32),
                b'm' => month = Some(v),
                _ => day = Some(v),
            }
            i += width;
            j += 2;
        } else {
            if t.get(i) != Some(&f[j]) {
                return None;
            }
            i += 1;
            j += 1;
        }
    }
    if i != t.len() {
        return None;
    }
    NaiveDate::from_ymd_opt(year?, month?, day?)
}

/// Trims and collapses inner whitespace runs (including non-breaking spaces) to one space.
pub fn clean_text(text: &str) -> Cow<'_, str> {
    if is_clean(text.as_bytes()) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(collapse_whitespace(text))
}

fn collapse_whitespace(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `clean_text` would return the text unchanged, in one pass over the bytes. Most cells
/// are; anything unusual (non-ASCII, control bytes, two spaces) takes the general path.
fn is_clean(b: &[u8]) -> bool {
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if first == b' ' || last == b' ' {
        return false;
    }
    let mut prev = 0u8;
    for &c in b {
        if c >= 0x80 || (c < 0x21 && (c != b' ' || prev == b' ')) {
            return false;
        }
        prev = c;
    }
    true
}

/// Renders a scaled integer as a decimal string, e.g. `(12345, 2)` as `123.45`.
pub fn format_scaled(v: i128, scale: u32) -> String {
    if scale == 0 {
        return v.to_string();
    }
    let p = 10i128.pow(scale);
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        a / p as u128,
        a % p as u128,
        width = scale as usize
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clean_text_fast_path_agrees_with_the_general_one() {
        for t in [
            "a",
            "Store 1",
            " a",
            "a ",
            "a  b",
            "a\tb",
            "a\u{a0}b",
            "é",
            "x\u{1}y",
            "",
            " ",
            "Ghost of Tom, \"EDP\" 100 ml",
            "a b c",
        ] {
            assert_eq!(super::clean_text(t), super::collapse_whitespace(t), "{t:?}");
        }
    }

    #[test]
    fn the_fixed_width_date_fast_path_agrees_with_chrono() {
        for text in [
            "05/04/2025",
            "5/4/2025",
            "31/02/2025",
            "29/02/2024",
            "2025-04-30",
            "05/04/25",
            "05-04-2025",
            "05/04/2025x",
            "aa/bb/cccc",
        ] {
            for f in ["%d/%m/%Y", "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"] {
                if let Some(d) = fixed_width_date(text, f) {
                    assert_eq!(
                        NaiveDate::parse_from_str(text, f).ok(),
                        Some(d),
                        "{text:?} {f:?}"
                    );
                }
            }
        }
        assert_eq!(
            fixed_width_date("05/04/2025", "%d/%m/%Y"),
            NaiveDate::from_ymd_opt(2025, 4, 5)
        );
        assert_eq!(fixed_width_date("31/02/2025", "%d/%m/%Y"), None);
    }

    #[test]
    fn the_plain_number_fast_path_agrees_with_the_full_rules() {
        for text in [
            "0",
            "7",
            "-7",
            "123.45",
            "-0.5",
            "007",
            "12.",
            ".5",
            "1.234",
            " 42 ",
            "-",
            "1e5",
            "1,5",
            "--3",
            "3.0",
            "99999999999999999999",
        ] {
            for sep in [DecimalSep::Auto, DecimalSep::Point, DecimalSep::Comma] {
                let slow = strip_sign(text)
                    .and_then(|(n, b)| split_number(&b, sep).map(|(i, f)| (n, i, f)));
                if let Some((n, i, f)) = plain_number(text, sep) {
                    assert_eq!(
                        slow,
                        Some((n, i.to_owned(), f.to_owned())),
                        "{text:?} {sep:?}"
                    );
                }
            }
        }
    }

    use super::*;

    fn dec(s: &str) -> Result<i128, &'static str> {
        parse_decimal(s, 2, DecimalSep::Auto)
    }

    #[test]
    fn decimals_in_the_shapes_resellers_send() {
        assert_eq!(dec("1234.56"), Ok(123456));
        assert_eq!(dec("1234,56"), Ok(123456));
        assert_eq!(dec("5 147,83"), Ok(514783));
        assert_eq!(dec("5\u{a0}147,83"), Ok(514783));
        assert_eq!(dec("1.234.567,8"), Ok(123456780));
        assert_eq!(dec("1,234,567.8"), Ok(123456780));
        assert_eq!(dec("1'234.50"), Ok(123450));
        assert_eq!(dec("€ 116"), Ok(11600));
        assert_eq!(dec("£12.5"), Ok(1250));
        assert_eq!(dec("(12.50)"), Ok(-1250));
        assert_eq!(dec("\u{2212}3,5"), Ok(-350));
        assert_eq!(dec("-3"), Ok(-300));
        assert_eq!(dec("3-"), Ok(-300));
        assert_eq!(dec("EUR 7"), Ok(700));
        assert_eq!(dec("0.005"), Ok(1));
        assert_eq!(dec("-0.005"), Ok(-1));
    }

    #[test]
    fn things_that_are_not_numbers_are_refused() {
        for bad in [
            "",
            "abc",
            "12abc",
            "1.2.3",
            "1,2,3.4,5",
            "--",
            "1-2",
            "1.23.4",
        ] {
            assert!(dec(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn explicit_separators_resolve_the_ambiguous_case() {
        assert_eq!(parse_decimal("1.234", 0, DecimalSep::Comma), Ok(1234));
        assert_eq!(parse_decimal("1,234", 0, DecimalSep::Point), Ok(1234));
        assert_eq!(parse_decimal("1,234", 3, DecimalSep::Auto), Ok(1234));
    }

    #[test]
    fn integers_accept_whole_decimals_only() {
        assert_eq!(parse_integer("3", DecimalSep::Auto), Ok(3));
        assert_eq!(parse_integer("3.0", DecimalSep::Auto), Ok(3));
        assert_eq!(parse_integer("-2", DecimalSep::Auto), Ok(-2));
        assert_eq!(parse_integer("1 200", DecimalSep::Auto), Ok(1200));
        assert!(parse_integer("3.5", DecimalSep::Auto).is_err());
        assert!(parse_integer("x", DecimalSep::Auto).is_err());
    }

    #[test]
    fn eans_are_cleaned_and_checked() {
        assert_eq!(parse_ean("7350154320008").as_deref(), Ok("7350154320008"));
        assert_eq!(parse_ean("7350154320008.0").as_deref(), Ok("7350154320008"));
        assert_eq!(parse_ean(" 7350154320008 ").as_deref(), Ok("7350154320008"));
        // A GTIN-13 starting with 0 that was stored as a number.
        assert_eq!(parse_ean("12345678905").as_deref(), Ok("0012345678905"));
        assert!(parse_ean("7.35015E+12").unwrap_err().contains("scientific"));
        assert!(parse_ean("7,35015E+12").unwrap_err().contains("scientific"));
        // A vendor code is named as one, not as a damaged EAN (#19.11).
        for code in ["PREX90", "PRDT35", "E100", "BBGOT100"] {
            let e = parse_ean(code).unwrap_err();
            assert!(
                !e.contains("scientific") && e.contains("product code"),
                "{code}: {e}"
            );
        }
        assert!(parse_ean("7350154320009")
            .unwrap_err()
            .contains("check digit"));
        assert!(parse_ean("abc").is_err());
        assert!(parse_ean("123").is_err());
    }

    #[test]
    fn dates_from_formats_iso_and_excel_serials() {
        let f = vec!["%m/%d/%Y".to_owned(), "%d.%m.%Y".to_owned()];
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(parse_date("2/28/2025", &f), Ok(d(2025, 2, 28)));
        assert_eq!(parse_date("01.03.2025", &f), Ok(d(2025, 3, 1)));
        assert_eq!(parse_date("2025-04-30", &f), Ok(d(2025, 4, 30)));
        assert_eq!(parse_date("2025-04-30T00:00:00", &f), Ok(d(2025, 4, 30)));
        assert_eq!(parse_date("45658", &f), Ok(d(2025, 1, 1)));
        assert!(parse_date("31/02/2025", &["%d/%m/%Y".to_owned()]).is_err());
    }

    #[test]
    fn the_trim_fast_path_agrees_with_str_trim() {
        for s in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}a\u{a0}",
            "\ta\n",
            "ab cd",
            "é",
            " é ",
            "\u{3000}x",
            "x\u{2003}",
            "\x7f",
        ] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn text_is_trimmed_and_collapsed() {
        assert_eq!(
            clean_text("  świeca   zapachowa\u{a0} BIBBI "),
            "świeca zapachowa BIBBI"
        );
    }

    #[test]
    fn scaled_values_render() {
        assert_eq!(format_scaled(123456, 2), "1234.56");
        assert_eq!(format_scaled(-5, 2), "-0.05");
    }
}

//! Text in the PDF's standard fonts (Helvetica, Helvetica-Bold): no font file is embedded, every
//! PDF reader has them. Their widths (Adobe's Core 14 metrics, in 1/1000 of the font size) let
//! numbers be right-aligned and long names be shortened to fit a column.

/// Widths of ASCII 32..=126 in Helvetica.
const REGULAR: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278,
    278, // space../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

/// Widths of ASCII 32..=126 in Helvetica-Bold.
const BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278,
    278, // space../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0..?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P.._
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `..o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p..~
];

/// Width of `s` in points at `size`. Letters outside ASCII (é, ü, ø) count as an average letter.
pub fn width(s: &str, size: f32, bold: bool) -> f32 {
    let table = if bold { &BOLD } else { &REGULAR };
    let units: u32 = s
        .chars()
        .map(|c| match c as u32 {
            n @ 32..=126 => table[(n - 32) as usize] as u32,
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `s` shortened with an ellipsis to fit `max` points.
pub fn fit(s: &str, size: f32, bold: bool, max: f32) -> String {
    if width(s, size, bold) <= max {
        return s.to_owned();
    }
    let mut out: String = s.to_owned();
    while !out.is_empty() && width(&out, size, bold) + width("...", size, bold) > max {
        out.pop();
    }
    format!("{}...", out.trim_end())
}

/// `s` in WinAnsiEncoding, the standard fonts' encoding: Western European letters, the euro
/// sign and typographic quotes; other characters (Cyrillic, CJK) become `?`.
pub fn win_ansi(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c as u8);
            continue;
        }
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buf));
        match (unmappable, bytes.as_ref()) {
            (false, [b]) => out.push(*b),
            _ => out.push(b'?'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_font() {
        assert_eq!(width("0", 10.0, false), 5.56);
        assert!(width("WWW", 10.0, false) > width("iii", 10.0, false) * 3.0);
        assert!(width("Revenue", 10.0, true) > width("Revenue", 10.0, false));
    }

    #[test]
    fn long_names_are_shortened_to_fit() {
        let s = fit(
            "Bibbi Parfum Ghost of Tom 100 ml gift edition",
            9.0,
            false,
            80.0,
        );
        assert!(s.ends_with("..."), "{s}");
        assert!(width(&s, 9.0, false) <= 80.0);
        assert_eq!(fit("Galilu", 9.0, false, 80.0), "Galilu");
    }

    #[test]
    fn text_is_encoded_for_the_standard_fonts() {
        assert_eq!(win_ansi("Café €5"), b"Caf\xe9 \x805".to_vec());
        assert_eq!(win_ansi("Ароматеке"), b"?????????".to_vec());
    }
}

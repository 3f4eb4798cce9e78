//! The emails' words: Jinja templates in `api/templates/`, built into the binary, HTML escaped
//! by minijinja (by the `.html` name) with a plain-text twin.

use minijinja::Environment;
use serde::Serialize;
use std::sync::LazyLock;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in [
        (
            "upload_notice.html",
            include_str!("../../templates/upload_notice.html"),
        ),
        (
            "upload_notice.txt",
            include_str!("../../templates/upload_notice.txt"),
        ),
    ] {
        env.add_template(name, text)
            .expect("the built-in templates parse");
    }
    env
});

/// A rejected row, as the email shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct RowError {
    pub row: String,
    pub column: String,
    pub value: String,
    pub message: String,
}

/// What an upload notice says.
#[derive(Debug, Clone, Serialize)]
pub struct UploadNotice {
    pub tenant: String,
    pub subject: String,
    pub headline: String,
    pub file: String,
    pub vendor: Option<String>,
    pub period: Option<String>,
    pub accepted: i64,
    pub rejected: i64,
    pub units: Option<i64>,
    /// Formatted, e.g. `1,234.56`.
    pub sales_eur: Option<String>,
    pub failure: Option<String>,
    pub errors: Vec<RowError>,
    /// Rejected rows beyond those shown.
    pub more: i64,
    pub link: String,
}

/// The HTML and the text of an upload notice.
pub fn upload_notice(n: &UploadNotice) -> Result<(String, String), minijinja::Error> {
    let html = TEMPLATES.get_template("upload_notice.html")?.render(n)?;
    let text = TEMPLATES.get_template("upload_notice.txt")?.render(n)?;
    Ok((html, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_contents_are_escaped_in_html_and_kept_in_text() {
        let n = UploadNotice {
            tenant: "Bibbi".into(),
            subject: "s".into(),
            headline: "Loaded".into(),
            file: "<script>alert(1)</script>.xlsx".into(),
            vendor: Some("galilu".into()),
            period: Some("2025-03".into()),
            accepted: 3,
            rejected: 1,
            units: Some(4),
            sales_eur: Some("1,234.56".into()),
            failure: None,
            errors: vec![RowError {
                row: "7".into(),
                column: "EAN".into(),
                value: "<b>x</b>".into(),
                message: "expected 13 digits".into(),
            }],
            more: 0,
            link: "http://demo.example/history/b1".into(),
        };
        let (html, text) = upload_notice(&n).unwrap();
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(
            html.contains("&lt;b&gt;x&lt;&#x2f;b&gt;") || html.contains("&lt;b&gt;x&lt;/b&gt;"),
            "{html}"
        );
        assert!(
            text.contains("<script>alert(1)</script>.xlsx (galilu, 2025-03)"),
            "{text}"
        );
        assert!(
            text.contains("- row 7, EAN, \"<b>x</b>\": expected 13 digits"),
            "{text}"
        );
        assert!(text.contains("Sales: EUR 1,234.56"), "{text}");
    }
}

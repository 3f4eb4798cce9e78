//! The emails' words: Jinja templates in `api/templates/`, built into the binary, HTML escaped
//! by minijinja (by the `.html` name) with a plain-text twin.

use minijinja::Environment;
use serde::Serialize;
use std::sync::LazyLock;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in [
        ("layout.html", include_str!("../../templates/layout.html")),
        (
            "upload_notice.html",
            include_str!("../../templates/upload_notice.html"),
        ),
        (
            "upload_notice.txt",
            include_str!("../../templates/upload_notice.txt"),
        ),
        (
            "report_notice.html",
            include_str!("../../templates/report_notice.html"),
        ),
        (
            "report_notice.txt",
            include_str!("../../templates/report_notice.txt"),
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
    pub brand: super::branding::Brand,
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

/// A growth figure as the report email shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Growth {
    pub label: &'static str,
    /// `+3.4 %`, or `n/a` without sales to compare with.
    pub value: String,
}

/// What a scheduled report's email says.
#[derive(Debug, Clone, Serialize)]
pub struct ReportNotice {
    pub tenant: String,
    pub brand: super::branding::Brand,
    pub schedule: String,
    /// `0 7 1 * * in Europe/Amsterdam`.
    pub cadence: String,
    /// `1 Feb 2025 to 28 Feb 2025`.
    pub period: String,
    pub narrowed: String,
    pub no_sales: bool,
    pub revenue: String,
    pub units: String,
    pub orders: String,
    pub growth: Vec<Growth>,
    pub file: String,
    pub link: String,
}

impl ReportNotice {
    pub fn subject(&self) -> String {
        format!("{}: {}, sales {}", self.tenant, self.schedule, self.period)
    }

    /// The HTML and the text.
    pub fn render(&self) -> Result<(String, String), minijinja::Error> {
        let ctx = minijinja::context! { subject => self.subject(), ..minijinja::Value::from_serialize(self) };
        let html = TEMPLATES.get_template("report_notice.html")?.render(&ctx)?;
        let text = TEMPLATES.get_template("report_notice.txt")?.render(&ctx)?;
        Ok((html, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_email_names_the_schedule_and_why_it_came() {
        let n = ReportNotice {
            tenant: "Bibbi".into(),
            brand: super::super::branding::Brand {
                colour: "#0a7b83".into(),
                logo_url: Some("https://cdn.bibbi.example/logo.png?a=1&b=2".into()),
            },
            schedule: "Monthly <sales>".into(),
            cadence: "0 7 1 * * in Europe/Amsterdam".into(),
            period: "1 Apr 2025 to 30 Apr 2025".into(),
            narrowed: String::new(),
            no_sales: false,
            revenue: "1,234.56".into(),
            units: "12".into(),
            orders: "3".into(),
            growth: vec![Growth {
                label: "on the previous period",
                value: "+3.4 %".into(),
            }],
            file: "demo-sales.pdf".into(),
            link: "http://demo.example/".into(),
        };
        let (html, text) = n.render().unwrap();
        assert!(
            html.contains("<title>Bibbi: Monthly &lt;sales&gt;, sales 1 Apr 2025"),
            "{html}"
        );
        assert!(
            html.contains("Bibbi · TaskifAI") && html.contains("0 7 1 * * in Europe"),
            "{html}"
        );
        assert!(
            text.contains("Revenue: EUR 1,234.56") && text.contains("attached: demo-sales.pdf"),
            "{text}"
        );
        assert!(
            text.contains("Revenue growth on the previous period: +3.4 %"),
            "{text}"
        );
    }

    #[test]
    fn file_contents_are_escaped_in_html_and_kept_in_text() {
        let n = UploadNotice {
            tenant: "Bibbi".into(),
            brand: Default::default(),
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

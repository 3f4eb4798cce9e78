//! Sales reports: the analytics of a period as a document a brand team forwards. PDF (A4, a
//! chart of revenue by month, KPIs with growth, top resellers, products and markets), XLSX (the
//! same sections as sheets with a native chart) or CSV (the sale lines). The numbers come from
//! the same queries as `/api/analytics`, so a report agrees with the dashboard. The server, the
//! `taskifai report` command and scheduled reports all build them here.

mod pdf;
mod pdf_text;
mod xlsx;

use crate::query_runner::rows_json;
use chrono::Datelike;
use datafusion::prelude::SessionContext;
use serde_json::Value;
use taskifai_connectors::error_report::csv_safe;
use taskifai_engine::analytics::{self as queries, Bucket, Dimension, Filters, Window};

/// Most sale lines a CSV report holds; a longer period is refused with the count.
pub const MAX_LINES: usize = 200_000;

/// Rows of each ranking in a report.
const TOP: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Pdf,
    Xlsx,
    Csv,
}

impl std::str::FromStr for ReportFormat {
    type Err = ReportError;
    fn from_str(s: &str) -> Result<Self, ReportError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pdf" => Ok(Self::Pdf),
            "xlsx" => Ok(Self::Xlsx),
            "csv" => Ok(Self::Csv),
            _ => Err(ReportError::Format(s.to_owned())),
        }
    }
}

impl ReportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pdf => "pdf",
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("format {0:?}: expected pdf, xlsx or csv")]
    Format(String),
    #[error("more than {MAX_LINES} sale lines in {} to {}; ask for a shorter period", .0.from, .0.to)]
    TooLarge(Window),
    #[error("the report's numbers could not be read: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("the report could not be written: {0}")]
    Render(String),
}

/// Who and what a report is about, for its title lines.
#[derive(Debug, Clone)]
pub struct Heading {
    pub tenant: String,
    pub tenant_id: String,
    /// The filters besides the dates, as `reseller Galilu, channel retail`.
    pub narrowed: Vec<String>,
    /// When the lake last changed (RFC 3339), if known.
    pub last_loaded: Option<String>,
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

impl Heading {
    pub fn new(tenant: &str, tenant_id: &str, filters: &Filters, last_loaded: &str) -> Self {
        let narrowed = [
            ("reseller", &filters.reseller),
            ("product", &filters.product),
            ("channel", &filters.channel),
            ("country", &filters.country),
            ("store", &filters.store),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
        .collect();
        Self {
            tenant: tenant.to_owned(),
            tenant_id: tenant_id.to_owned(),
            narrowed,
            last_loaded: (!last_loaded.is_empty()).then(|| last_loaded.to_owned()),
            generated_at: chrono::Utc::now(),
        }
    }
}

/// A rendered report.
pub struct Rendered {
    pub bytes: Vec<u8>,
    pub format: ReportFormat,
    pub file_name: String,
}

/// Builds the report of `window` over the session's filtered `f` view
/// ([`queries::register_filtered`]).
pub async fn render(
    ctx: &SessionContext,
    window: Window,
    format: ReportFormat,
    heading: Heading,
) -> Result<Rendered, ReportError> {
    let file_name = format!(
        "{}-sales-{}-{}.{}",
        heading.tenant_id,
        window.from,
        window.to,
        format.extension()
    );
    let bytes = match format {
        ReportFormat::Csv => {
            let rows = json(&queries::rows(ctx, window, MAX_LINES + 1, 0).await?)?;
            if rows.len() > MAX_LINES {
                return Err(ReportError::TooLarge(window));
            }
            lines_csv(&rows).map_err(|e| ReportError::Render(e.to_string()))?
        }
        ReportFormat::Xlsx => SalesReport::query(ctx, window, heading)
            .await?
            .workbook()
            .map_err(|e| ReportError::Render(e.to_string()))?,
        ReportFormat::Pdf => SalesReport::query(ctx, window, heading).await?.pdf(),
    };
    Ok(Rendered {
        bytes,
        format,
        file_name,
    })
}

fn json(
    batches: &[datafusion::arrow::record_batch::RecordBatch],
) -> Result<Vec<Value>, ReportError> {
    rows_json(batches).map_err(|e| ReportError::Render(e.to_string()))
}

const LINE_COLUMNS: [&str; 9] = [
    "day",
    "reseller",
    "store",
    "channel",
    "country",
    "product_ean",
    "product",
    "quantity",
    "sales_eur",
];

/// The sale lines as CSV, text cells made safe for spreadsheets (a product named `=HYPERLINK(…)`
/// stays text).
fn lines_csv(rows: &[Value]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(LINE_COLUMNS)?;
    for r in rows {
        w.write_record(LINE_COLUMNS.map(|c| match &r[c] {
            Value::Null => String::new(),
            Value::String(s) => csv_safe(s).into_owned(),
            v => v.to_string(),
        }))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// `1 Feb 2025 to 28 Feb 2025`.
pub fn period_text(w: Window) -> String {
    let day = |d: chrono::NaiveDate| d.format("%-d %b %Y").to_string();
    format!("{} to {}", day(w.from), day(w.to))
}

/// A growth fraction as `+3.4 %`.
pub fn percent(g: f64) -> String {
    format!("{}{:.1} %", if g > 0.0 { "+" } else { "" }, g * 100.0)
}

/// A ranking: its title and rows (`name`, `revenue_eur`, `units`, `orders`).
struct Ranking {
    title: &'static str,
    rows: Vec<Value>,
}

/// A number the analytics return as JSON number or exact decimal text.
fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0.0),
        v => v.as_f64().unwrap_or(0.0),
    }
}

/// The period's totals and the revenue it is compared with, in the shapes `/api/analytics/kpis`
/// returns.
pub struct Summary {
    pub totals: Value,
    pub previous: Value,
    pub last_year: Value,
}

impl Summary {
    pub async fn query(ctx: &SessionContext, window: Window) -> Result<Self, ReportError> {
        let first = |rows: Vec<Value>| rows.into_iter().next().unwrap_or(Value::Null);
        Ok(Self {
            totals: first(json(&queries::totals(ctx, window).await?)?),
            previous: first(json(&queries::revenue(ctx, window.previous()).await?)?),
            last_year: first(json(&queries::revenue(ctx, window.year_before()).await?)?),
        })
    }

    pub fn revenue(&self) -> f64 {
        number(&self.totals["revenue_eur"])
    }

    pub fn total(&self, key: &str) -> f64 {
        number(&self.totals[key])
    }

    /// Growth of revenue on the previous period and on the same period last year, as fractions.
    pub fn growth(&self) -> [(&'static str, Option<f64>); 2] {
        let g = |before: &Value| {
            queries::growth_pct(self.revenue(), number(&before["revenue_eur"])).map(|p| p / 100.0)
        };
        [
            ("on the previous period", g(&self.previous)),
            ("on the same period last year", g(&self.last_year)),
        ]
    }
}

/// The report's numbers, queried once.
struct SalesReport {
    heading: Heading,
    window: Window,
    summary: Summary,
    months: Vec<Value>,
    /// The months before the period, up to a year's worth with it, for the chart's context.
    before: Vec<Value>,
    rankings: Vec<Ranking>,
}

impl SalesReport {
    async fn query(
        ctx: &SessionContext,
        window: Window,
        heading: Heading,
    ) -> Result<Self, ReportError> {
        let mut rankings = Vec::new();
        for (title, dim) in [
            ("Top resellers", Dimension::Reseller),
            ("Top products", Dimension::Product),
            ("Top markets", Dimension::Market),
        ] {
            rankings.push(Ranking {
                title,
                rows: json(&queries::top(ctx, window, dim, TOP).await?)?,
            });
        }
        let first = window.from.with_day(1).expect("the first of a month");
        // The chart shows a year to the period's end: a month's report is seen in its trend.
        let context =
            window.to.with_day(1).expect("the first of a month") - chrono::Months::new(11);
        let before = if context < first {
            let w = Window {
                from: context,
                to: first.pred_opt().expect("a day before"),
            };
            json(&queries::timeseries(ctx, w, Bucket::Month).await?)?
        } else {
            vec![]
        };
        Ok(Self {
            heading,
            window,
            summary: Summary::query(ctx, window).await?,
            months: json(&queries::timeseries(ctx, window, Bucket::Month).await?)?,
            before,
            rankings,
        })
    }
}

//! `GET /api/reports/sales?format=xlsx|csv` with the analytics filters: the numbers a brand
//! team forwards. XLSX: a summary with growth, revenue by month with a native Excel chart, and
//! the top resellers, products and markets, a sheet each. CSV: the sale lines of the period.
//! Both come from the same queries as `/api/analytics`, so they agree with the dashboard.

use super::analytics::{prepare, query_failed};
use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::tenancy::TenantCtx;
use crate::query_runner::to_json;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rust_xlsxwriter::{Chart, ChartType, Format, Workbook, Worksheet};
use serde::Deserialize;
use serde_json::Value;
use taskifai_connectors::error_report::csv_safe;
use taskifai_engine::analytics::{self as queries, Bucket, Dimension, Filters, Window};

/// Most sale lines a CSV report holds; a longer period is refused with the count.
pub const MAX_LINES: usize = 200_000;

#[derive(Debug, Deserialize)]
pub struct ReportParams {
    pub format: Option<String>,
    #[serde(flatten)]
    pub filters: Filters,
}

#[utoipa::path(get, path = "/api/reports/sales", params(("format" = String, Query, description = "xlsx (default) or csv; plus the analytics filters")), responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")), tag = "reports")]
pub async fn sales(
    State(state): State<AppState>,
    tenant: TenantCtx,
    _auth: Auth,
    Query(p): Query<ReportParams>,
) -> ApiResult<Response> {
    let (ctx, window) = prepare(&state, &tenant, &p.filters).await?;
    let w = window.ok_or_else(|| ApiError::NotFound("sales for these filters".into()))?;
    let name = format!("{}-sales-{}-{}", tenant.id(), w.from, w.to);
    match p.format.as_deref().unwrap_or("xlsx") {
        "csv" => {
            let rows = to_json(
                &queries::rows(&ctx, w, MAX_LINES + 1, 0)
                    .await
                    .map_err(query_failed)?,
            )?;
            if rows.len() > MAX_LINES {
                return Err(ApiError::bad(
                    "report_too_large",
                    format!(
                        "more than {MAX_LINES} sale lines in {} to {}; ask for a shorter period",
                        w.from, w.to
                    ),
                ));
            }
            let csv = lines_csv(&rows).map_err(ApiError::internal)?;
            Ok(download(
                csv,
                "text/csv; charset=utf-8",
                &format!("{name}.csv"),
            ))
        }
        "xlsx" => {
            let sections = Sections::query(&ctx, w, &tenant.tenant.display_name).await?;
            let bytes = sections.workbook().map_err(ApiError::internal)?;
            Ok(download(
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{name}.xlsx"),
            ))
        }
        other => Err(ApiError::bad(
            "invalid_format",
            format!("format {other:?}: expected xlsx or csv"),
        )),
    }
}

fn download(body: impl Into<axum::body::Body>, content_type: &str, file: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
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

/// The report's numbers, queried once.
struct Sections {
    tenant: String,
    window: Window,
    totals: Value,
    previous: Value,
    last_year: Value,
    months: Vec<Value>,
    tops: Vec<(&'static str, Vec<Value>)>,
}

fn one(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> ApiResult<Value> {
    Ok(to_json(batches)?.into_iter().next().unwrap_or(Value::Null))
}

fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0.0),
        v => v.as_f64().unwrap_or(0.0),
    }
}

impl Sections {
    async fn query(
        ctx: &datafusion::prelude::SessionContext,
        w: Window,
        tenant: &str,
    ) -> ApiResult<Self> {
        let q = |e| query_failed(e);
        let mut tops = Vec::new();
        for (title, dim) in [
            ("Top resellers", Dimension::Reseller),
            ("Top products", Dimension::Product),
            ("Top markets", Dimension::Market),
        ] {
            tops.push((
                title,
                to_json(&queries::top(ctx, w, dim, 25).await.map_err(q)?)?,
            ));
        }
        Ok(Self {
            tenant: tenant.to_owned(),
            window: w,
            totals: one(&queries::totals(ctx, w).await.map_err(q)?)?,
            previous: one(&queries::revenue(ctx, w.previous()).await.map_err(q)?)?,
            last_year: one(&queries::revenue(ctx, w.year_before()).await.map_err(q)?)?,
            months: to_json(
                &queries::timeseries(ctx, w, Bucket::Month)
                    .await
                    .map_err(q)?,
            )?,
            tops,
        })
    }

    fn workbook(&self) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let money = Format::new().set_num_format("#,##0.00 \"EUR\"");
        let pct = Format::new().set_num_format("0.0%");
        let title = Format::new().set_bold().set_font_size(14);

        let s = book.add_worksheet().set_name("Summary")?;
        s.write_with_format(
            0,
            0,
            format!(
                "{}: sales {} to {}",
                self.tenant, self.window.from, self.window.to
            ),
            &title,
        )?;
        let revenue = number(&self.totals["revenue_eur"]);
        let growth = |before: &Value| {
            let b = number(&before["revenue_eur"]);
            (b != 0.0).then(|| (revenue - b) / b)
        };
        let lines: [(&str, f64, &Format); 5] = [
            ("Revenue", revenue, &money),
            ("Units", number(&self.totals["units"]), &Format::new()),
            ("Orders", number(&self.totals["orders"]), &Format::new()),
            (
                "Active resellers",
                number(&self.totals["active_resellers"]),
                &Format::new(),
            ),
            (
                "Active products",
                number(&self.totals["active_products"]),
                &Format::new(),
            ),
        ];
        for (i, (label, v, f)) in lines.iter().enumerate() {
            s.write_with_format(i as u32 + 2, 0, *label, &bold)?;
            s.write_number_with_format(i as u32 + 2, 1, *v, f)?;
        }
        for (i, (label, g)) in [
            ("Growth on the previous period", growth(&self.previous)),
            (
                "Growth on the same period last year",
                growth(&self.last_year),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let r = i as u32 + 8;
            s.write_with_format(r, 0, label, &bold)?;
            match g {
                Some(g) => s.write_number_with_format(r, 1, g, &pct).map(|_| ())?,
                None => s.write(r, 1, "no sales to compare with").map(|_| ())?,
            }
        }
        s.set_column_width(0, 36)?;
        s.set_column_width(1, 20)?;

        let m = book.add_worksheet().set_name("By month")?;
        table(
            m,
            &["Month", "Revenue (EUR)", "Units", "Orders"],
            &self.months,
            &["period", "revenue_eur", "units", "orders"],
            &money,
        )?;
        if !self.months.is_empty() {
            let last = self.months.len() as u32;
            let mut chart = Chart::new(ChartType::Column);
            chart
                .add_series()
                .set_categories(("By month", 1, 0, last, 0))
                .set_values(("By month", 1, 1, last, 1))
                .set_name("Revenue (EUR)");
            chart.title().set_name("Revenue by month");
            chart.legend().set_hidden();
            m.insert_chart(1, 5, &chart)?;
        }
        for (name, rows) in &self.tops {
            let t = book.add_worksheet().set_name(*name)?;
            table(
                t,
                &["Name", "Revenue (EUR)", "Units", "Orders"],
                rows,
                &["name", "revenue_eur", "units", "orders"],
                &money,
            )?;
        }
        book.save_to_buffer()
    }
}

/// A header row and the rows below it; the second column is money.
fn table(
    s: &mut Worksheet,
    header: &[&str],
    rows: &[Value],
    keys: &[&str],
    money: &Format,
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let bold = Format::new()
        .set_bold()
        .set_border_bottom(rust_xlsxwriter::FormatBorder::Thin);
    for (c, h) in header.iter().enumerate() {
        s.write_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, k) in keys.iter().enumerate() {
            let c = c as u16;
            match (&row[*k], c) {
                (v, 1) => s
                    .write_number_with_format(r, c, number(v), money)
                    .map(|_| ())?,
                (Value::Number(n), _) => s
                    .write_number(r, c, n.as_f64().unwrap_or(0.0))
                    .map(|_| ())?,
                (Value::String(t), _) => s.write_string(r, c, t).map(|_| ())?,
                _ => {}
            }
        }
    }
    s.set_column_width(0, 32)?;
    s.set_column_width(1, 18)?;
    Ok(())
}

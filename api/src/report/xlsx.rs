//! The report as a workbook: a summary with growth, revenue by month with a native Excel chart,
//! and each ranking on its own sheet.

use super::{number, SalesReport};
use rust_xlsxwriter::{Chart, ChartType, Format, FormatBorder, Workbook, Worksheet, XlsxError};
use serde_json::Value;

impl SalesReport {
    pub(super) fn workbook(&self) -> Result<Vec<u8>, XlsxError> {
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let money = Format::new().set_num_format("#,##0.00 \"EUR\"");
        let pct = Format::new().set_num_format("0.0%");
        let title = Format::new().set_bold().set_font_size(14);
        let plain = Format::new();

        let s = book.add_worksheet().set_name("Summary")?;
        s.write_with_format(
            0,
            0,
            format!(
                "{}: sales {} to {}",
                self.heading.tenant, self.window.from, self.window.to
            ),
            &title,
        )?;
        if !self.heading.narrowed.is_empty() {
            s.write(1, 0, format!("Only {}", self.heading.narrowed.join(", ")))?;
        }
        let t = &self.summary;
        let lines: [(&str, f64, &Format); 5] = [
            ("Revenue", t.revenue(), &money),
            ("Units", t.total("units"), &plain),
            ("Orders", t.total("orders"), &plain),
            ("Active resellers", t.total("active_resellers"), &plain),
            ("Active products", t.total("active_products"), &plain),
        ];
        for (i, (label, v, f)) in lines.iter().enumerate() {
            s.write_with_format(i as u32 + 2, 0, *label, &bold)?;
            s.write_number_with_format(i as u32 + 2, 1, *v, f)?;
        }
        for (i, (label, g)) in self.summary.growth().into_iter().enumerate() {
            let r = i as u32 + 8;
            s.write_with_format(r, 0, format!("Growth {label}"), &bold)?;
            match g {
                Some(g) => s.write_number_with_format(r, 1, g, &pct).map(|_| ())?,
                None => s.write(r, 1, "no sales to compare with").map(|_| ())?,
            }
        }
        if let Some(at) = &self.heading.last_loaded {
            s.write(11, 0, format!("Data last loaded {at}"))?;
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
        for r in &self.rankings {
            let t = book.add_worksheet().set_name(r.title)?;
            table(
                t,
                &["Name", "Revenue (EUR)", "Units", "Orders"],
                &r.rows,
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
) -> Result<(), XlsxError> {
    let bold = Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin);
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

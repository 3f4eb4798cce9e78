//! The report as an A4 PDF: a title band, the KPIs with growth, revenue by month as a vector bar
//! chart, and the rankings as tables, with page numbers. Written with `pdf-writer` (the typst
//! project's PDF writer: no dependencies, no fonts to embed) because everything here is rectangles,
//! lines and text in the standard fonts; a charting crate would add an SVG stack to convert.

use super::pdf_text::{fit, width, win_ansi};
use super::{number, percent, period_text, Ranking, SalesReport};
use chrono::{Datelike, NaiveDate};
use pdf_writer::{Content, Date, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use serde_json::Value;
use taskifai_engine::chat::answer::grouped;

const W: f32 = 595.28;
const H: f32 = 841.89;
const MARGIN: f32 = 50.0;
const INNER: f32 = W - 2.0 * MARGIN;
/// Space kept free at the foot of each page for its footer.
const FOOT: f32 = 56.0;

type Rgb = (f32, f32, f32);
const INK: Rgb = (0.106, 0.122, 0.141);
const GREY: Rgb = (0.42, 0.45, 0.5);
const RULE: Rgb = (0.82, 0.84, 0.87);
const TILE: Rgb = (0.953, 0.957, 0.965);
const BAND: Rgb = (0.106, 0.165, 0.255);
const BAR: Rgb = (0.204, 0.314, 0.478);
const CONTEXT: Rgb = (0.71, 0.76, 0.83);
const UP: Rgb = (0.1, 0.45, 0.2);
const DOWN: Rgb = (0.7, 0.15, 0.15);
const WHITE: Rgb = (1.0, 1.0, 1.0);

/// Pages being laid out top to bottom; `y` is the distance from the top of the current page.
struct Doc {
    pages: Vec<Content>,
    y: f32,
}

impl Doc {
    fn new() -> Self {
        Self {
            pages: vec![Content::new()],
            y: MARGIN,
        }
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn room(&mut self, height: f32) {
        if self.y + height > H - FOOT {
            self.pages.push(Content::new());
            self.y = MARGIN;
        }
    }

    /// Text with its baseline `y` points from the top.
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, color: Rgb, s: &str) {
        let c = self.page();
        c.set_fill_rgb(color.0, color.1, color.2);
        c.begin_text();
        c.set_font(Name(if bold { b"F2" } else { b"F1" }), size);
        c.next_line(x, H - y);
        c.show(Str(&win_ansi(s)));
        c.end_text();
    }

    fn right(&mut self, x: f32, y: f32, size: f32, bold: bool, color: Rgb, s: &str) {
        self.text(x - width(s, size, bold), y, size, bold, color, s);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        let c = self.page();
        c.set_fill_rgb(color.0, color.1, color.2);
        c.rect(x, H - y - h, w, h);
        c.fill_nonzero();
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), color: Rgb, thick: f32) {
        let c = self.page();
        c.set_stroke_rgb(color.0, color.1, color.2);
        c.set_line_width(thick);
        c.move_to(from.0, H - from.1);
        c.line_to(to.0, H - to.1);
        c.stroke();
    }

    fn heading(&mut self, title: &str) {
        self.room(40.0);
        self.y += 22.0;
        self.text(MARGIN, self.y, 12.5, true, INK, title);
        self.y += 10.0;
    }
}

fn money(x: f64) -> String {
    format!("\u{20ac}{}", grouped(x, 2))
}

/// `1.2M`, `350k`, `900`: axis labels.
fn compact(x: f64) -> String {
    match x.abs() {
        a if a >= 1e6 => format!("{}M", trim(x / 1e6)),
        a if a >= 1e3 => format!("{}k", trim(x / 1e3)),
        _ => trim(x),
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

/// A round step for about `ticks` gridlines up to `max`.
fn step(max: f64, ticks: f64) -> f64 {
    let raw = (max / ticks).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

impl SalesReport {
    pub(super) fn pdf(&self) -> Vec<u8> {
        let mut doc = Doc::new();
        self.title(&mut doc);
        self.tiles(&mut doc);
        self.chart(&mut doc);
        let total = self.summary.revenue();
        for r in &self.rankings {
            table(&mut doc, r, total);
        }
        self.finish(doc)
    }

    fn title(&self, doc: &mut Doc) {
        let h = &self.heading;
        doc.rect(0.0, 0.0, W, 78.0, BAND);
        doc.text(
            MARGIN,
            38.0,
            20.0,
            true,
            WHITE,
            &fit(&h.tenant, 20.0, true, INNER - 140.0),
        );
        doc.right(W - MARGIN, 38.0, 11.0, false, WHITE, "Sales report");
        let period = period_text(self.window);
        doc.text(MARGIN, 60.0, 10.5, false, WHITE, &period);
        doc.y = 100.0;
        if !h.narrowed.is_empty() {
            let only = format!("Only {}", h.narrowed.join(", "));
            doc.text(MARGIN, doc.y, 9.5, true, INK, &fit(&only, 9.5, true, INNER));
            doc.y += 14.0;
        }
        let loaded = h.last_loaded.as_deref().map_or_else(
            || "No data loaded yet".to_owned(),
            |at| {
                format!(
                    "Data last loaded {}",
                    at.replace('T', " ").chars().take(16).collect::<String>() + " UTC"
                )
            },
        );
        let line = format!(
            "{loaded}  \u{b7}  generated {}",
            h.generated_at.format("%Y-%m-%d %H:%M UTC")
        );
        doc.text(MARGIN, doc.y, 8.5, false, GREY, &line);
        doc.y += 14.0;
    }

    fn tiles(&self, doc: &mut Doc) {
        let t = &self.summary;
        let [(_, prev), (_, ly)] = t.growth();
        let growth = |g: Option<f64>| {
            g.map_or(("n/a".to_owned(), GREY), |g| {
                (percent(g), if g < 0.0 { DOWN } else { UP })
            })
        };
        let (p, pc) = growth(prev);
        let (l, lc) = growth(ly);
        let tiles: [(&str, String, Rgb, String); 6] = [
            (
                "Revenue",
                money(t.revenue()),
                INK,
                format!("{} units", grouped(t.total("units"), 0)),
            ),
            (
                "Orders",
                grouped(t.total("orders"), 0),
                INK,
                format!("average order {}", money(t.total("average_order_value"))),
            ),
            (
                "Active",
                format!("{} resellers", grouped(t.total("active_resellers"), 0)),
                INK,
                format!("{} products sold", grouped(t.total("active_products"), 0)),
            ),
            (
                "Growth on the previous period",
                p,
                pc,
                format!("from {}", money(number(&t.previous["revenue_eur"]))),
            ),
            (
                "Growth on the same period last year",
                l,
                lc,
                format!("from {}", money(number(&t.last_year["revenue_eur"]))),
            ),
            (
                "Units",
                grouped(t.total("units"), 0),
                INK,
                format!("{} per order", trim(t.total("units_per_transaction"))),
            ),
        ];
        let (gap, h) = (10.0, 58.0);
        let w = (INNER - 2.0 * gap) / 3.0;
        doc.y += 6.0;
        for (i, (label, value, color, sub)) in tiles.iter().enumerate() {
            let x = MARGIN + (i % 3) as f32 * (w + gap);
            let y = doc.y + (i / 3) as f32 * (h + gap);
            doc.rect(x, y, w, h, TILE);
            doc.text(x + 10.0, y + 15.0, 8.0, false, GREY, label);
            doc.text(
                x + 10.0,
                y + 35.0,
                15.0,
                true,
                *color,
                &fit(value, 15.0, true, w - 20.0),
            );
            doc.text(
                x + 10.0,
                y + 49.0,
                7.5,
                false,
                GREY,
                &fit(sub, 7.5, false, w - 20.0),
            );
        }
        doc.y += 2.0 * h + gap;
    }

    /// Revenue per calendar month: the months before the period that make up a year with it,
    /// then the period's (flagged `true`). A month without sales is a gap at zero, so a file
    /// that never came shows.
    fn months(&self) -> Vec<(NaiveDate, f64, bool)> {
        let sold: std::collections::HashMap<&str, f64> = self
            .before
            .iter()
            .chain(&self.months)
            .filter_map(|m| Some((m["period"].as_str()?, number(&m["revenue_eur"]))))
            .collect();
        let first = self.window.from.with_day(1).expect("first of month");
        let mut m = self
            .before
            .first()
            .and_then(|b| b["period"].as_str()?.parse::<NaiveDate>().ok())
            .unwrap_or(first)
            .min(first);
        let mut out = Vec::new();
        while m <= self.window.to && out.len() < 120 {
            let key = m.format("%Y-%m-%d").to_string();
            out.push((
                m,
                sold.get(key.as_str()).copied().unwrap_or(0.0),
                m >= first,
            ));
            m = m + chrono::Months::new(1);
        }
        out
    }

    fn chart(&self, doc: &mut Doc) {
        let months = self.months();
        let context = months.iter().any(|m| !m.2);
        doc.heading(if context {
            "Revenue by month (earlier months lighter)"
        } else {
            "Revenue by month"
        });
        let (plot_h, axis_w) = (150.0, 44.0);
        doc.room(plot_h + 40.0);
        let top = doc.y + 8.0;
        let bottom = top + plot_h;
        let max = months.iter().map(|m| m.1).fold(0.0, f64::max);
        let step = step(max.max(1.0), 4.0);
        let ceiling = (max / step).ceil().max(1.0) * step;
        let scale = |v: f64| (v / ceiling) as f32 * plot_h;
        let left = MARGIN + axis_w;
        let mut tick = 0.0;
        while tick <= ceiling + step / 2.0 {
            let y = bottom - scale(tick);
            doc.line((left, y), (W - MARGIN, y), RULE, 0.5);
            doc.right(left - 6.0, y + 3.0, 7.5, false, GREY, &compact(tick));
            tick += step;
        }
        let slot = (W - MARGIN - left) / months.len().max(1) as f32;
        let bar = (slot * 0.7).min(28.0);
        // Every month labelled while they fit, else every second or third.
        let every = ((22.0 / slot).ceil() as usize).max(1);
        for (i, (m, v, in_period)) in months.iter().enumerate() {
            let x = left + i as f32 * slot + (slot - bar) / 2.0;
            let h = scale(v.max(0.0));
            if h > 0.0 {
                doc.rect(
                    x,
                    bottom - h,
                    bar,
                    h,
                    if *in_period { BAR } else { CONTEXT },
                );
            }
            if i % every == 0 {
                let label = m.format("%b").to_string();
                let cx = x + bar / 2.0;
                doc.text(
                    cx - width(&label, 7.5, false) / 2.0,
                    bottom + 11.0,
                    7.5,
                    false,
                    GREY,
                    &label,
                );
                if i == 0 || m.month() == 1 {
                    let year = m.year().to_string();
                    doc.text(
                        cx - width(&year, 7.0, true) / 2.0,
                        bottom + 21.0,
                        7.0,
                        true,
                        GREY,
                        &year,
                    );
                }
            }
        }
        doc.line((left, bottom), (W - MARGIN, bottom), GREY, 0.8);
        doc.y = bottom + 26.0;
    }

    fn finish(&self, doc: Doc) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let mut ids = Ref::new(1);
        let (catalog, tree, regular, bold, info) =
            (ids.bump(), ids.bump(), ids.bump(), ids.bump(), ids.bump());
        let n = doc.pages.len();
        let pages: Vec<(Ref, Ref)> = (0..n).map(|_| (ids.bump(), ids.bump())).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(pages.iter().map(|p| p.0))
            .count(n as i32);
        let foot = format!(
            "TaskifAI  \u{b7}  {}  \u{b7}  sales {}",
            self.heading.tenant,
            period_text(self.window)
        );
        let mut doc = doc;
        for (i, content) in doc.pages.iter_mut().enumerate() {
            let mut d = Doc {
                pages: vec![std::mem::replace(content, Content::new())],
                y: 0.0,
            };
            d.line((MARGIN, H - 40.0), (W - MARGIN, H - 40.0), RULE, 0.5);
            d.text(
                MARGIN,
                H - 26.0,
                7.5,
                false,
                GREY,
                &fit(&foot, 7.5, false, INNER - 70.0),
            );
            d.right(
                W - MARGIN,
                H - 26.0,
                7.5,
                false,
                GREY,
                &format!("Page {} of {n}", i + 1),
            );
            *content = d.pages.pop().expect("the page");
        }
        for (content, (page_id, content_id)) in doc.pages.into_iter().zip(&pages) {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, W, H));
            page.parent(tree);
            page.contents(*content_id);
            page.resources()
                .fonts()
                .pair(Name(b"F1"), regular)
                .pair(Name(b"F2"), bold);
            page.finish();
            pdf.stream(*content_id, &content.finish());
        }
        for (id, name) in [(regular, &b"Helvetica"[..]), (bold, b"Helvetica-Bold")] {
            pdf.type1_font(id)
                .base_font(Name(name))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        let at = self.heading.generated_at;
        pdf.document_info(info)
            .title(TextStr(&format!(
                "{}: sales {} to {}",
                self.heading.tenant, self.window.from, self.window.to
            )))
            .producer(TextStr("TaskifAI"))
            .creation_date(
                Date::new(at.year() as u16)
                    .month(at.month() as u8)
                    .day(at.day() as u8)
                    .hour(chrono::Timelike::hour(&at) as u8)
                    .minute(chrono::Timelike::minute(&at) as u8),
            );
        pdf.finish()
    }
}

/// A ranking as a table: rank, name, revenue, share of the period's revenue, units, orders.
fn table(doc: &mut Doc, r: &Ranking, total: f64) {
    doc.heading(r.title);
    if r.rows.is_empty() {
        doc.y += 8.0;
        doc.text(MARGIN, doc.y, 9.0, false, GREY, "No sales in this period.");
        doc.y += 6.0;
        return;
    }
    // Right edges of the number columns.
    let cols: [(&str, f32); 4] = [
        ("Revenue", MARGIN + 318.0),
        ("Share", MARGIN + 368.0),
        ("Units", MARGIN + 430.0),
        ("Orders", W - MARGIN),
    ];
    let row_h = 15.0;
    let header = |doc: &mut Doc| {
        doc.y += 12.0;
        doc.text(MARGIN, doc.y, 8.0, true, GREY, "#");
        doc.text(MARGIN + 20.0, doc.y, 8.0, true, GREY, "Name");
        for (h, x) in cols {
            doc.right(x, doc.y, 8.0, true, GREY, h);
        }
        doc.y += 4.0;
        doc.line((MARGIN, doc.y), (W - MARGIN, doc.y), RULE, 0.7);
    };
    doc.room(row_h * 3.0 + 16.0);
    header(doc);
    for (i, row) in r.rows.iter().enumerate() {
        let before = doc.pages.len();
        doc.room(row_h);
        if doc.pages.len() != before {
            header(doc);
        }
        if i % 2 == 1 {
            doc.rect(MARGIN, doc.y, INNER, row_h, TILE);
        }
        let y = doc.y + 10.5;
        let revenue = number(&row["revenue_eur"]);
        let name = match &row["name"] {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        doc.text(MARGIN, y, 8.5, false, GREY, &(i + 1).to_string());
        doc.text(
            MARGIN + 20.0,
            y,
            8.5,
            false,
            INK,
            &fit(&name, 8.5, false, 200.0),
        );
        let share = if total != 0.0 {
            format!("{:.1} %", revenue / total * 100.0)
        } else {
            "-".into()
        };
        let cells = [
            money(revenue),
            share,
            grouped(number(&row["units"]), 0),
            grouped(number(&row["orders"]), 0),
        ];
        for ((_, x), v) in cols.iter().zip(cells) {
            doc.right(*x, y, 8.5, false, INK, &v);
        }
        doc.y += row_h;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(step(95_000.0, 4.0), 25_000.0);
        assert_eq!(step(1_200_000.0, 4.0), 500_000.0);
        assert_eq!(step(7.0, 4.0), 2.0);
        assert_eq!(compact(1_500_000.0), "1.5M");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(compact(0.0), "0");
    }
}

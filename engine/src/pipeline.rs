//! Runs one file through one spec: sheet, header, period, then every raw batch through the
//! reshaper and normalizer into a sink. The caller's sink stages the output; the file is accepted
//! or refused as a unit when the whole stream has been seen.

use crate::error::{Error, Result};
use crate::fanout;
use crate::issues::{Issue, Location, Severity};
use crate::layout::{choose_sheet, locate_header, read_head, Header, Reshaper};
use crate::normalize::{FileContext, Normalizer};
use crate::period::{find_token, Grain, Period, Token};
use crate::raw::Workbook;
use crate::reference::Reference;
use crate::spec::{CompiledSpec, PeriodSource};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Decimal128Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use serde::Serialize;
use std::time::Instant;

/// What happened to a file.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub file: String,
    pub vendor: String,
    pub spec_version: u32,
    pub sheet: Option<String>,
    pub table: &'static str,
    pub period: Period,
    pub currency: String,
    pub rows_read: usize,
    pub rows_skipped: usize,
    pub rows_other_period: usize,
    /// Those rows' months with their counts, e.g. `2025-04 (50 rows)`.
    pub other_periods: Vec<String>,
    pub rows_accepted: usize,
    pub rows_rejected: usize,
    pub warnings: usize,
    pub quantity: i64,
    /// Scaled by 10^LOCAL_SCALE.
    pub sales_local: i128,
    /// Scaled by 10^EUR_SCALE.
    pub sales_eur: i128,
    pub seconds: f64,
}

/// A processed file: its summary and every issue found.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub summary: Summary,
    pub issues: Vec<Issue>,
}

impl Outcome {
    /// Row issues that rejected rows.
    pub fn rejects(&self) -> impl Iterator<Item = &Issue> {
        self.issues.iter().filter(|i| i.severity == Severity::Error)
    }
}

/// The three most frequent rules among rejects, with counts and the first example of each:
/// `Most: unknown_product 40 (row 7, "BBXX100": ...); bad_quantity 3 (...)`.
fn top_rules(issues: &[Issue]) -> String {
    let mut by_rule: Vec<(&str, usize, &Issue)> = Vec::new();
    for i in issues.iter().filter(|i| i.severity == Severity::Error) {
        match by_rule.iter_mut().find(|(r, _, _)| *r == i.rule) {
            Some(entry) => entry.1 += 1,
            None => by_rule.push((&i.rule, 1, i)),
        }
    }
    by_rule.sort_by_key(|r| std::cmp::Reverse(r.1));
    let parts: Vec<String> = by_rule
        .iter()
        .take(3)
        .map(|(rule, n, example)| format!("{rule} {n} (e.g. {example})"))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("Most frequent: {}", parts.join("; "))
    }
}

/// Runs `wb` through `spec`, handing accepted canonical batches to `sink` as they are made.
/// Returns an error (and the caller must discard what the sink got) when the file as a whole
/// is refused.
pub fn run(
    wb: &mut dyn Workbook,
    spec: &CompiledSpec,
    reference: &Reference,
    batch_id: &str,
    sink: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    progress: &mut dyn FnMut(usize),
) -> Result<Outcome> {
    run_for_period(wb, spec, reference, batch_id, None, sink, progress)
}

/// [`run`], with the reporting period given by the user (`ingest --period`) instead of found
/// in the file, for reports that carry none.
pub fn run_for_period(
    wb: &mut dyn Workbook,
    spec: &CompiledSpec,
    reference: &Reference,
    batch_id: &str,
    given: Option<Period>,
    sink: &mut dyn FnMut(&RecordBatch) -> Result<()>,
    progress: &mut dyn FnMut(usize),
) -> Result<Outcome> {
    let started = Instant::now();
    let file = wb.file_name().to_owned();
    let sheets = wb.sheet_names();
    let sheet = choose_sheet(spec, &file, &sheets)?;
    let sheet_name = (sheets.len() > 1 || !sheets[sheet].is_empty()).then(|| sheets[sheet].clone());
    let at = Location::file(&file).with_sheet(sheet_name.as_deref());
    let head = read_head(wb, sheet, spec)?;
    let header = locate_header(spec, &head, &at)?;
    let period = match given {
        Some(p) => p,
        None => {
            let props = wb.properties();
            resolve_period(spec, &file, &sheets[sheet], &head, &header, &props)?
        }
    };
    let ctx = FileContext {
        file: file.clone(),
        sheet: sheet_name.clone(),
        batch_id: batch_id.to_owned(),
        period,
    };
    let mut reshaper = Reshaper::new(spec, &header, at.clone())?;
    let mut issues = Vec::new();
    let (mut accepted, mut rejected, mut other_period) = (0, 0, 0);
    let mut other_months = std::collections::BTreeMap::<(i32, u32), usize>::new();
    let (mut quantity, mut local, mut eur) = (0i64, 0i128, 0i128);
    // Reading and reshaping are sequential (forward fill and stop rules carry state from row to
    // row); normalizing a batch depends on that batch alone, so batches spread over the cores.
    let sources = wb.stream(sheet)?.filter_map(|raw| {
        let source = raw.map_err(Error::from).and_then(|raw| {
            progress(raw.num_rows());
            reshaper.apply(&raw)
        });
        match source {
            Ok(s) if s.num_rows() == 0 => None,
            other => Some(other),
        }
    });
    let (header, ctx) = (&header, &ctx);
    fanout::ordered_map(
        fanout::default_workers(),
        sources,
        || {
            let mut normalizer = Normalizer::new(spec, reference, ctx);
            move |source: RecordBatch| normalizer.process(&source, header)
        },
        |out| {
            totals(&out.accepted, &mut quantity, &mut local, &mut eur);
            accepted += out.accepted.num_rows();
            rejected += out.rejected;
            other_period += out.other_period;
            for (month, n) in out.other_months {
                *other_months.entry(month).or_insert(0) += n;
            }
            issues.extend(out.issues);
            if out.accepted.num_rows() > 0 {
                sink(&out.accepted)?;
            }
            Ok(())
        },
    )?;
    reshaper.finish()?;
    let max = spec.spec.max_reject_ratio.unwrap_or(0.5);
    let total = accepted + rejected;
    if total > 0 && rejected as f64 / total as f64 > max {
        return Err(Error::TooManyRejects {
            file,
            rejected,
            total,
            max: max * 100.0,
            top: top_rules(&issues),
            vendor: spec.spec.vendor.clone(),
            issues: Box::new(issues),
        });
    }
    issues.append(&mut reshaper.issues);
    let warnings = issues
        .iter()
        .filter(|i| i.severity == Severity::Warn)
        .count();
    let summary = Summary {
        file,
        vendor: spec.spec.vendor.clone(),
        spec_version: spec.spec.version,
        sheet: sheet_name,
        table: crate::schema::table_name(spec.spec.target),
        period,
        currency: spec.spec.currency.clone(),
        rows_read: reshaper.read,
        rows_skipped: reshaper.skipped,
        rows_other_period: other_period,
        other_periods: other_months
            .into_iter()
            .map(|((y, m), n)| format!("{y}-{m:02} ({n} rows)"))
            .collect(),
        rows_accepted: accepted,
        rows_rejected: rejected,
        warnings,
        quantity,
        sales_local: local,
        sales_eur: eur,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Outcome { summary, issues })
}

fn totals(batch: &RecordBatch, quantity: &mut i64, local: &mut i128, eur: &mut i128) {
    if let Some(q) = batch.column_by_name("quantity") {
        *quantity += q.as_primitive::<Int64Type>().iter().flatten().sum::<i64>();
    }
    let sum = |name: &str| {
        batch.column_by_name(name).map_or(0, |c| {
            c.as_primitive::<Decimal128Type>()
                .iter()
                .flatten()
                .sum::<i128>()
        })
    };
    *local += sum("sales_local");
    *eur += sum("sales_eur");
}

/// Reads the period from the spec's sources in order; later sources complete earlier partial
/// tokens (a month from a header and a year from a cell).
pub fn resolve_period(
    spec: &CompiledSpec,
    file: &str,
    sheet: &str,
    head: &[Vec<Option<String>>],
    header: &Header,
    props: &crate::raw::DocProperties,
) -> Result<Period> {
    let rule = &spec.spec.period;
    let mut year = None;
    let mut month = None;
    let mut tried = Vec::new();
    for source in &rule.from {
        let (what, text) = match source {
            PeriodSource::Filename => (
                "the file name".to_owned(),
                Some(file.rsplit(['/', '\\']).next().unwrap_or(file).to_owned()),
            ),
            PeriodSource::SheetName => ("the sheet name".to_owned(), Some(sheet.to_owned())),
            PeriodSource::Cell(c) => (format!("cell {c}"), crate::layout::cell(head, c)),
            PeriodSource::HeaderLeftOf(l) => {
                let m = crate::labels::norm_label(l);
                let i = header.normalized.iter().position(|h| *h == m);
                (
                    format!("the header left of {l:?}"),
                    i.filter(|i| *i > 0).map(|i| header.labels[i - 1].clone()),
                )
            }
            PeriodSource::Column(l) => {
                let m = crate::labels::LabelMatcher::parse(l).ok();
                let i = m.and_then(|m| m.find(&header.normalized));
                let first = i.and_then(|i| {
                    head.iter()
                        .skip(header.row as usize)
                        .find_map(|r| r.get(i).cloned().flatten())
                });
                (format!("column {l:?}"), first)
            }
            PeriodSource::Document(p) => {
                use crate::spec::DocumentProperty as D;
                let (what, value) = match p {
                    D::Created => ("created", &props.created),
                    D::Modified => ("modified", &props.modified),
                    D::Title => ("title", &props.title),
                    D::Subject => ("subject", &props.subject),
                };
                // `2025-05-02T09:14:00Z`: the date part is the token.
                let text = value
                    .as_deref()
                    .map(|v| v.split('T').next().unwrap_or(v).to_owned());
                (format!("the document's {what} property"), text)
            }
        };
        let token = text.as_deref().and_then(|t| match source {
            // A cell of its own may hold a bare month number (a Month column's `4`), which in
            // a file or sheet name would be any number.
            PeriodSource::Cell(_) | PeriodSource::Column(_) => find_token(t).or_else(|| {
                t.trim()
                    .trim_end_matches(".0")
                    .parse::<u32>()
                    .ok()
                    .filter(|m| (1..=12).contains(m))
                    .map(Token::Month)
            }),
            _ => find_token(t),
        });
        tried.push(format!(
            "{what} ({})",
            text.as_deref()
                .map_or("not found".to_owned(), |t| format!("{t:?}"))
        ));
        match token {
            Some(Token::Date(d)) => {
                let p = match rule.grain {
                    Grain::Day => Period::day(d),
                    Grain::Week => Period::week_ending(d),
                    Grain::Month => {
                        Period::month(chrono::Datelike::year(&d), chrono::Datelike::month(&d))
                            .expect("valid month")
                    }
                    Grain::Year => Period::year(chrono::Datelike::year(&d)).expect("valid year"),
                };
                return Ok(p.shift(rule.offset));
            }
            Some(Token::YearMonth(y, m)) => {
                year = year.or(Some(y));
                month = month.or(Some(m));
            }
            Some(Token::Year(y)) => year = year.or(Some(y)),
            Some(Token::Month(m)) => month = month.or(Some(m)),
            None => {}
        }
        match (year, month, rule.grain) {
            (Some(y), Some(m), Grain::Month) => {
                return Ok(Period::month(y, m).expect("valid month").shift(rule.offset))
            }
            (Some(y), _, Grain::Year) => {
                return Ok(Period::year(y).expect("valid year").shift(rule.offset))
            }
            _ => {}
        }
    }
    let need = match rule.grain {
        Grain::Month => "a month and year",
        Grain::Year => "a year",
        _ => "a full date",
    };
    Err(Error::NoPeriod {
        file: file.to_owned(),
        tried: format!("{}; expected {need}", tried.join(", ")),
    })
}

/// Whether a batch holds no rows of interest (used by callers to skip empty writes).
pub fn is_empty(batch: &RecordBatch) -> bool {
    batch.num_rows() == 0 || batch.columns().iter().all(|c| c.null_count() == c.len())
}

#[cfg(test)]
mod tests {
    use crate::raw::{MemorySheet, MemoryWorkbook};
    use crate::reference::Reference;

    const SPEC: &str = "
vendor: weekly
version: 1
reseller: Weekly
currency: EUR
detect: { filename: { pattern: 'weekly', weight: 1.0 } }
read: { header: { row: 1 } }
period: { grain: week, from: [{ column: Week Ending }, filename] }
fields:
  product_ean: { column: EAN }
  quantity: { column: Qty }
";

    fn run(rows: Vec<Vec<&str>>) -> crate::Result<super::Outcome> {
        let spec = crate::spec::parse("inline", SPEC).expect("spec compiles");
        let rows = rows
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|c| (!c.is_empty()).then(|| c.to_owned()))
                    .collect()
            })
            .collect();
        let mut wb = MemoryWorkbook {
            file_name: "weekly.csv".into(),
            sheets: vec![MemorySheet::new("", rows)],
        };
        super::run(
            &mut wb,
            &spec,
            &Reference::default(),
            "t",
            &mut |_| Ok(()),
            &mut |_| {},
        )
    }

    #[test]
    fn the_period_can_come_from_a_data_column() {
        let o = run(vec![
            vec!["Week Ending", "EAN", "Qty"],
            vec!["2025-05-04", "7350154320008", "2"],
        ])
        .unwrap();
        assert_eq!(o.summary.period.label(), "2025-04-28..2025-05-04");
    }

    #[test]
    fn no_period_anywhere_names_every_source_tried() {
        let err = run(vec![
            vec!["Week Ending", "EAN", "Qty"],
            vec!["", "7350154320008", "2"],
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(err, "weekly.csv: no reporting period found; tried column \"Week Ending\" (not found), the file name (\"weekly.csv\"); expected a full date");
    }
}

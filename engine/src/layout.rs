//! From raw cells to named source columns: which sheet, which header rows, which rows are data,
//! and the reshaping a spec asks for (stop, forward fill, drop rules, unpivot).
//!
//! A [`Reshaper`] works batch by batch and carries what must cross batch boundaries (the last
//! values of filled-down columns, whether reading has stopped), so files of any length stream.

use crate::error::{Error, Result};
use crate::issues::Location;
use crate::labels::{dedupe, join_header_rows, nearest, norm_label};
use crate::raw::{Workbook, ROW};
use crate::spec::{CompiledRowRule, CompiledSpec, RuleColumns, SheetMatcher};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, StringArray, UInt32Array};
use datafusion::arrow::compute::{filter_record_batch, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Picks the sheet: the spec's choices in order, else the first sheet.
pub fn choose_sheet(spec: &CompiledSpec, file: &str, sheets: &[String]) -> Result<usize> {
    if sheets.is_empty() {
        return Err(Error::NoSheet {
            file: file.into(),
            wanted: "any sheet".into(),
            sheets: vec![],
        });
    }
    // Delimited text, Parquet and JSON lines have one unnamed sheet: there is nothing to choose.
    if spec.sheets.is_empty() || (sheets.len() == 1 && sheets[0].is_empty()) {
        return Ok(0);
    }
    for m in &spec.sheets {
        let found = match m {
            SheetMatcher::Name(n) => sheets.iter().position(|s| norm_label(s) == *n),
            SheetMatcher::Pattern(r) => sheets.iter().position(|s| r.is_match(s.trim())),
            SheetMatcher::Index(i) => (*i < sheets.len()).then_some(*i),
        };
        if let Some(i) = found {
            return Ok(i);
        }
    }
    let wanted = spec
        .spec
        .read
        .sheet
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(" or ");
    Err(Error::NoSheet {
        file: file.into(),
        wanted,
        sheets: sheets.to_vec(),
    })
}

/// Where the header is and what the columns are called.
#[derive(Debug, Clone)]
pub struct Header {
    /// 1-based row of the last header row; data starts after it.
    pub row: u32,
    /// Display labels, unique, one per raw column.
    pub labels: Vec<String>,
    /// The same, normalized for matching.
    pub normalized: Vec<String>,
}

/// Rows of the head needed to find the header.
pub fn head_rows_needed(spec: &CompiledSpec) -> usize {
    let h = &spec.spec.read.header;
    h.row.unwrap_or(0).max(h.within) as usize + 1
}

/// Finds the header in the first rows of the sheet.
pub fn locate_header(
    spec: &CompiledSpec,
    head: &[Vec<Option<String>>],
    at: &Location,
) -> Result<Header> {
    let h = &spec.spec.read.header;
    let width = head.iter().map(Vec::len).max().unwrap_or(0);
    let row = match h.row {
        Some(r) if (r as usize) <= head.len() => r,
        Some(_) => return Err(no_header(spec, head, at)),
        None => {
            let found = head.iter().take(h.within as usize).position(|cells| {
                let normalized: Vec<String> = cells
                    .iter()
                    .map(|c| c.as_deref().map(norm_label).unwrap_or_default())
                    .collect();
                spec.header_contains
                    .iter()
                    .all(|m| m.find(&normalized).is_some())
            });
            found.ok_or_else(|| no_header(spec, head, at))? as u32 + 1
        }
    };
    let first = (row - h.rows) as usize;
    let labels = dedupe(join_header_rows(&head[first..row as usize], width));
    let normalized = labels.iter().map(|l| norm_label(l)).collect();
    Ok(Header {
        row,
        labels,
        normalized,
    })
}

fn no_header(spec: &CompiledSpec, head: &[Vec<Option<String>>], at: &Location) -> Error {
    let h = &spec.spec.read.header;
    let cells: Vec<&str> = head
        .iter()
        .flatten()
        .flatten()
        .map(String::as_str)
        .collect();
    let wanted = if h.contains.is_empty() {
        vec![format!("row {}", h.row.unwrap_or(1))]
    } else {
        h.contains.clone()
    };
    let nearest = h
        .contains
        .iter()
        .find_map(|w| nearest(w, cells.iter().copied()))
        .map(str::to_owned);
    Error::NoHeader {
        at: Box::new(at.clone()),
        wanted,
        within: h.within,
        nearest,
    }
}

/// Reads a cell reference like `B2` from the head rows.
pub fn cell(head: &[Vec<Option<String>>], reference: &str) -> Option<String> {
    let r = reference.trim().to_ascii_uppercase();
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    let col = letters.bytes().try_fold(0usize, |acc, b| {
        b.is_ascii_uppercase()
            .then(|| acc * 26 + (b - b'A' + 1) as usize)
    })?;
    let row: usize = digits.parse().ok()?;
    head.get(row.checked_sub(1)?)?
        .get(col.checked_sub(1)?)?
        .clone()
}

/// Applies the spec's row rules and unpivot to raw batches, producing source batches whose
/// columns are named by header label (plus unpivot captures and measures).
pub struct Reshaper<'a> {
    spec: &'a CompiledSpec,
    header: &'a Header,
    data_from: u32,
    stopped: bool,
    fill: Vec<(usize, Option<String>)>,
    /// Rows dropped by rules, blank, or after the stop rule.
    pub skipped: usize,
    /// Data rows seen (after the header).
    pub read: usize,
    /// Warnings found while reshaping (reconciliation mismatches).
    pub issues: Vec<crate::issues::Issue>,
    at: Location,
    totals: Option<TotalsCheck>,
}

/// The file's own total row and the running sums of the columns it totals.
struct TotalsCheck {
    /// Source column index (0-based, without the row-number column) and its running sum.
    sums: Vec<(usize, i128)>,
    /// The last total row seen: its row number and its cells in the totalled columns.
    row: Option<(u32, Vec<Option<String>>)>,
}

impl<'a> Reshaper<'a> {
    pub fn new(spec: &'a CompiledSpec, header: &'a Header, at: Location) -> Result<Self> {
        let fill = spec
            .fill_down
            .iter()
            .zip(&spec.spec.reshape.fill_down)
            .map(|(m, text)| {
                m.find(&header.normalized)
                    .map(|i| (i, None))
                    .ok_or_else(|| text.clone())
            });
        let fill = fill
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|w| missing(header, &w, Location::default()))?;
        let data_from = header.row + spec.spec.read.skip_after_header + 1;
        let totals = match &spec.totals {
            None => None,
            Some(t) => {
                let cols: Vec<usize> = (0..header.normalized.len())
                    .filter(|&i| {
                        t.columns
                            .iter()
                            .any(|m| m.matches_at(i, &header.normalized[i]))
                    })
                    .collect();
                if cols.is_empty() {
                    return Err(missing(
                        header,
                        &spec
                            .spec
                            .reshape
                            .totals
                            .as_ref()
                            .map_or(String::new(), |t| t.columns.join(" | ")),
                        Location::default(),
                    ));
                }
                Some(TotalsCheck {
                    sums: cols.into_iter().map(|c| (c, 0)).collect(),
                    row: None,
                })
            }
        };
        Ok(Self {
            totals,
            spec,
            header,
            data_from,
            stopped: false,
            fill,
            skipped: 0,
            read: 0,
            issues: Vec::new(),
            at,
        })
    }

    /// Turns one raw batch into a source batch (possibly empty).
    pub fn apply(&mut self, raw: &RecordBatch) -> Result<RecordBatch> {
        let rows: &UInt32Array = raw.column(0).as_primitive();
        let mut keep: Vec<bool> = rows
            .values()
            .iter()
            .map(|r| *r >= self.data_from && !self.stopped)
            .collect();
        let mut stop_at = None;
        if let Some(stop) = &self.spec.stop {
            let hits = rule_hits(stop, raw, &self.header.normalized)?;
            stop_at = (0..raw.num_rows()).find(|&i| keep[i] && hits[i]);
        }
        // The total row may be the row the stop rule ends at; it is never data.
        if let (Some(t), Some(check)) = (&self.spec.totals, self.totals.as_mut()) {
            let hits = rule_hits(&t.row, raw, &self.header.normalized)?;
            let last = stop_at.map_or(raw.num_rows(), |s| s + 1);
            let total_rows: Vec<usize> = (0..last).filter(|&i| keep[i] && hits[i]).collect();
            for i in total_rows {
                let cells = check
                    .sums
                    .iter()
                    .map(|(c, _)| {
                        let a: &StringArray = raw.column(c + 1).as_string();
                        a.is_valid(i).then(|| a.value(i).to_owned())
                    })
                    .collect();
                check.row = Some((rows.value(i), cells));
                if Some(i) != stop_at {
                    keep[i] = false;
                    self.read += 1;
                    self.skipped += 1;
                }
            }
        }
        if let Some(first) = stop_at {
            self.stopped = true;
            keep[first..].iter_mut().for_each(|k| *k = false);
            self.skipped += raw.num_rows() - first;
        }
        let data_rows = keep.iter().filter(|k| **k).count();
        self.read += data_rows;
        let batch = filter_record_batch(raw, &BooleanArray::from(keep))?;
        let batch = self.fill_down(batch)?;
        let mut keep: Vec<bool> = (0..batch.num_rows())
            .map(|i| (1..batch.num_columns()).any(|c| batch.column(c).is_valid(i)))
            .collect();
        for rule in &self.spec.drop {
            let hits = rule_hits(rule, &batch, &self.header.normalized)?;
            keep.iter_mut().zip(hits).for_each(|(k, h)| *k &= !h);
        }
        let kept = keep.iter().filter(|k| **k).count();
        self.skipped += batch.num_rows() - kept;
        let batch = filter_record_batch(&batch, &BooleanArray::from(keep))?;
        self.reconcile(&batch);
        self.add_to_totals(&batch);
        let named = rename(&batch, &self.header.labels)?;
        match &self.spec.unpivot {
            Some(u) => {
                let (out, empty) = unpivot(u, &named, &self.header.normalized)?;
                let _ = empty;
                Ok(out)
            }
            None => Ok(named),
        }
    }

    fn add_to_totals(&mut self, batch: &RecordBatch) {
        let decimal = self.spec.spec.read.decimal;
        let Some(check) = self.totals.as_mut() else {
            return;
        };
        for (c, sum) in &mut check.sums {
            let a: &StringArray = batch.column(*c + 1).as_string();
            *sum += a
                .iter()
                .flatten()
                .filter_map(|v| crate::values::parse_decimal(v, 4, decimal).ok())
                .sum::<i128>();
        }
    }

    /// Compares the rows read with the file's own total row, once the file is read: a
    /// mismatch fails the file (or warns, as the spec says), naming both numbers.
    pub fn finish(&mut self) -> Result<()> {
        let (Some(t), Some(check)) = (&self.spec.totals, self.totals.take()) else {
            return Ok(());
        };
        let Some((row, cells)) = check.row else {
            self.issues.push(crate::issues::Issue {
                at: self.at.clone(),
                value: None,
                rule: "file_total".into(),
                severity: crate::issues::Severity::Warn,
                message: "expected the file's total row (reshape.totals.row); none was found, so the rows read could not be checked against it".into(),
            });
            return Ok(());
        };
        let decimal = self.spec.spec.read.decimal;
        for ((c, sum), cell) in check.sums.iter().zip(cells) {
            let Some(want) = cell
                .as_deref()
                .and_then(|v| crate::values::parse_decimal(v, 4, decimal).ok())
            else {
                continue;
            };
            if ((want - sum).abs() as f64) / 10_000.0 <= t.tolerance {
                continue;
            }
            let fmt = |v: i128| {
                let s = crate::values::format_scaled(v, 4);
                s.trim_end_matches('0').trim_end_matches('.').to_owned()
            };
            let issue = crate::issues::Issue {
                at: self
                    .at
                    .clone()
                    .with_row(row)
                    .with_column(self.header.labels[*c].clone()),
                value: cell,
                rule: "file_total".into(),
                severity: t.severity,
                message: format!(
                    "expected the rows read to add up to the file's total {}; they add up to {} (a difference of {}): a subtotal read as data, or rows the spec skipped",
                    fmt(want),
                    fmt(*sum),
                    fmt(sum - want)
                ),
            };
            if t.severity == crate::issues::Severity::Error {
                return Err(Error::FileTotal {
                    at: Box::new(issue.at),
                    message: issue.message,
                });
            }
            self.issues.push(issue);
        }
        Ok(())
    }

    /// Warns where a total column differs from the sum of its parts.
    fn reconcile(&mut self, batch: &RecordBatch) {
        let rows: &UInt32Array = batch.column(0).as_primitive();
        let num = |c: usize, r: usize| -> Option<i128> {
            let a: &StringArray = batch.column(c + 1).as_string();
            if a.is_null(r) {
                Some(0)
            } else {
                crate::values::parse_decimal(a.value(r), 4, self.spec.spec.read.decimal).ok()
            }
        };
        for (total, parts, tolerance) in &self.spec.reconcile {
            let Some(t) = total.find(&self.header.normalized) else {
                continue;
            };
            let p: Vec<usize> = self
                .header
                .normalized
                .iter()
                .enumerate()
                .filter(|(i, l)| parts.iter().any(|m| m.matches_at(*i, l)))
                .map(|(i, _)| i)
                .collect();
            for r in 0..batch.num_rows() {
                let (Some(want), Some(got)) = (
                    num(t, r),
                    p.iter().map(|c| num(*c, r)).sum::<Option<i128>>(),
                ) else {
                    continue;
                };
                if ((want - got).abs() as f64) / 10_000.0 > *tolerance {
                    let label = &self.header.labels[t];
                    self.issues.push(crate::issues::Issue {
                        at: self
                            .at
                            .clone()
                            .with_row(rows.value(r))
                            .with_column(label.clone()),
                        value: Some(crate::values::format_scaled(want, 4)),
                        rule: "reconcile".into(),
                        severity: crate::issues::Severity::Warn,
                        message: format!(
                            "expected the sum of its parts, {}",
                            crate::values::format_scaled(got, 4)
                        ),
                    });
                }
            }
        }
    }

    fn fill_down(&mut self, batch: RecordBatch) -> Result<RecordBatch> {
        if self.fill.is_empty() || batch.num_rows() == 0 {
            return Ok(batch);
        }
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        for (col, last) in &mut self.fill {
            let arr: &StringArray = cols[*col + 1].as_string();
            let filled: StringArray = arr
                .iter()
                .map(|v| {
                    if let Some(v) = v {
                        *last = Some(v.to_owned());
                    }
                    last.clone()
                })
                .collect();
            cols[*col + 1] = Arc::new(filled);
        }
        Ok(RecordBatch::try_new(batch.schema(), cols)?)
    }
}

fn missing(header: &Header, wanted: &str, at: Location) -> Error {
    let nearest = nearest(wanted, header.labels.iter().map(String::as_str)).map(str::to_owned);
    Error::MissingColumn {
        at: Box::new(at),
        wanted: wanted.into(),
        nearest,
        headers: header.labels.clone(),
    }
}

/// Which rows of a raw batch (column 0 = row number) a rule matches.
fn rule_hits(rule: &CompiledRowRule, batch: &RecordBatch, labels: &[String]) -> Result<Vec<bool>> {
    let n = batch.num_rows();
    let mut hits = vec![true; n];
    if let (Some(cols), Some(re)) = (&rule.column, &rule.matches) {
        let width = labels.len().min(batch.num_columns() - 1);
        let tried: Vec<&StringArray> = (0..width)
            .filter(|&i| match cols {
                RuleColumns::Any => true,
                RuleColumns::Listed(ms) => ms.iter().any(|m| m.matches_at(i, &labels[i])),
            })
            .map(|i| batch.column(i + 1).as_string())
            .collect();
        for (r, h) in hits.iter_mut().enumerate() {
            *h &= tried
                .iter()
                .any(|a| a.is_valid(r) && re.is_match(a.value(r).trim()));
        }
    }
    for m in &rule.blank {
        let cols: Vec<usize> = labels
            .iter()
            .enumerate()
            .filter(|(i, l)| m.matches_at(*i, l))
            .map(|(i, _)| i + 1)
            .collect();
        for c in cols {
            let arr = batch.column(c);
            hits.iter_mut()
                .enumerate()
                .for_each(|(r, h)| *h &= arr.is_null(r));
        }
    }
    Ok(hits)
}

fn rename(batch: &RecordBatch, labels: &[String]) -> Result<RecordBatch> {
    let mut fields = vec![Field::new(ROW, DataType::UInt32, false)];
    let width = batch.num_columns() - 1;
    fields.extend((0..width).map(|i| {
        Field::new(
            labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("column {}", i + 1)),
            DataType::Utf8,
            true,
        )
    }));
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        batch.columns().to_vec(),
    )?)
}

/// Wide to long. Columns matching the pattern form groups (keyed by the non-measure captures);
/// each group becomes one output row per input row, with capture columns and measure columns.
/// Returns the long batch and how many (row, group) pairs were dropped as empty.
fn unpivot(
    u: &crate::spec::CompiledUnpivot,
    batch: &RecordBatch,
    normalized: &[String],
) -> Result<(RecordBatch, usize)> {
    let captures: Vec<String> = u
        .columns
        .capture_names()
        .flatten()
        .filter(|n| *n != "measure")
        .map(str::to_owned)
        .collect();
    let measure_names: Vec<String> = match &u.value {
        Some(v) if u.measures.is_empty() => vec![v.clone()],
        _ => {
            let mut m: Vec<String> = u.measures.iter().map(|(_, v)| v.clone()).collect();
            m.dedup();
            m
        }
    };
    // group key (capture values) -> measure index -> source column
    let mut groups: Vec<(Vec<String>, Vec<Option<usize>>)> = Vec::new();
    let mut matched = vec![false; normalized.len()];
    let labels: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .skip(1)
        .map(|f| f.name().clone())
        .collect();
    for (i, label) in normalized.iter().enumerate() {
        let Some(c) = u.columns.captures(label) else {
            continue;
        };
        let measure = match c.name("measure") {
            Some(m) => match u
                .measures
                .iter()
                .find(|(k, _)| *k == norm_label(m.as_str()))
            {
                Some((_, name)) => measure_names.iter().position(|n| n == name),
                None => continue,
            },
            None => Some(0),
        };
        let Some(measure) = measure else { continue };
        matched[i] = true;
        let key: Vec<String> = captures
            .iter()
            .map(|n| {
                let text = c.name(n).map_or("", |m| m.as_str());
                // Keep the label's original spelling for capture values (`Flagship`, not `flagship`).
                original_slice(&labels[i], label, text)
            })
            .collect();
        let g = match groups.iter().position(|(k, _)| *k == key) {
            Some(g) => g,
            None => {
                groups.push((key, vec![None; measure_names.len()]));
                groups.len() - 1
            }
        };
        groups[g].1[measure] = Some(i);
    }
    let n = batch.num_rows();
    let kept_cols: Vec<usize> = (0..normalized.len()).filter(|i| !matched[*i]).collect();
    let mut indices: Vec<u32> = Vec::new();
    let mut key_values: Vec<Vec<String>> = vec![Vec::new(); captures.len()];
    let mut measures: Vec<Vec<Option<String>>> = vec![Vec::new(); measure_names.len()];
    let mut dropped = 0;
    for r in 0..n {
        for (key, cols) in &groups {
            let values: Vec<Option<String>> = cols
                .iter()
                .map(|c| {
                    c.and_then(|c| {
                        let a: &StringArray = batch.column(c + 1).as_string();
                        a.is_valid(r).then(|| a.value(r).to_owned())
                    })
                })
                .collect();
            if !u.keep_empty && values.iter().all(Option::is_none) {
                dropped += 1;
                continue;
            }
            indices.push(r as u32);
            key.iter()
                .zip(&mut key_values)
                .for_each(|(k, out)| out.push(k.clone()));
            values
                .into_iter()
                .zip(&mut measures)
                .for_each(|(v, out)| out.push(v));
        }
    }
    let idx = UInt32Array::from(indices);
    let mut fields = vec![Field::new(ROW, DataType::UInt32, false)];
    let mut cols: Vec<ArrayRef> = vec![take(batch.column(0), &idx, None)?];
    for c in kept_cols {
        fields.push(Field::new(labels[c].clone(), DataType::Utf8, true));
        cols.push(take(batch.column(c + 1), &idx, None)?);
    }
    for (name, values) in captures.iter().zip(key_values) {
        fields.push(Field::new(name.clone(), DataType::Utf8, true));
        cols.push(Arc::new(StringArray::from(values)));
    }
    for (name, values) in measure_names.iter().zip(measures) {
        fields.push(Field::new(name.clone(), DataType::Utf8, true));
        cols.push(Arc::new(StringArray::from(values)));
    }
    Ok((
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?,
        dropped,
    ))
}

/// Finds `part` (a slice of the normalized label) in the original label, case-insensitively.
fn original_slice(original: &str, normalized: &str, part: &str) -> String {
    let clean = crate::values::clean_text(original);
    if clean.to_lowercase() == normalized {
        if let Some(start) = normalized.find(part) {
            if let Some(s) = clean.get(start..start + part.len()) {
                return s.to_owned();
            }
        }
    }
    part.to_owned()
}

/// Index of the source column a field reads, or the missing-column error.
pub fn find_column(
    batch_labels: &[String],
    matchers: &[crate::labels::LabelMatcher],
    wanted: &[String],
    header: &Header,
    at: Location,
) -> Result<usize> {
    let normalized: Vec<String> = batch_labels.iter().map(|l| norm_label(l)).collect();
    let found = matchers.iter().find_map(|m| match m {
        // Positions name raw columns; unpivot may have moved them, so go through the header label.
        crate::labels::LabelMatcher::Position(i) => header
            .labels
            .get(*i)
            .and_then(|l| batch_labels.iter().position(|b| b == l)),
        m => m.find(&normalized),
    });
    found.ok_or_else(|| {
        let mut h = header.clone();
        h.labels = batch_labels.to_vec();
        missing(&h, &wanted.join(" | "), at)
    })
}

/// Reads the first rows of a sheet, bounded by what the spec needs.
pub fn read_head(
    wb: &mut dyn Workbook,
    sheet: usize,
    spec: &CompiledSpec,
) -> Result<Vec<Vec<Option<String>>>> {
    Ok(wb.head(sheet, head_rows_needed(spec).max(40))?)
}

//! Source rows to canonical rows: field rules, hooks, value parsing, product lookup, money and
//! periods, then the spec's SQL `derive` and `validate` over the whole Arrow batch.
//!
//! Work is column by column over a batch; only Rhai hooks see one row at a time.

use crate::error::{Error, Result};
use crate::exprs;
use crate::hooks::{hook_engine, HookOutcome};
use crate::issues::{Issue, Location, Severity};
use crate::period::{month_from_name, Period};
use crate::raw::ROW;
use crate::reference::Reference;
use crate::schema::{self, Kind, EUR_SCALE, LOCAL_SCALE, RATE_SCALE};
use crate::spec::{CompiledField, CompiledSpec, Field, OnMiss, Target};
use crate::values::{clean_text, parse_date, parse_decimal, parse_gtin, parse_integer};
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array,
    StringArray, UInt32Array,
};
use datafusion::arrow::compute::{filter_record_batch, take_record_batch};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::arrow::record_batch::RecordBatch;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

mod strings;

/// A field's text per row (after `extract`, `map` and `default`) and the label of its column.
#[derive(Debug, Clone)]
struct FieldText {
    values: StringArray,
    label: Option<String>,
}

type Texts = HashMap<Field, FieldText>;

/// What is fixed for a whole file.
#[derive(Debug, Clone)]
pub struct FileContext {
    pub file: String,
    pub sheet: Option<String>,
    pub batch_id: String,
    pub period: Period,
}

/// One normalized source batch.
#[derive(Debug)]
pub struct Normalized {
    pub accepted: RecordBatch,
    pub issues: Vec<Issue>,
    pub rejected: usize,
    /// Rows outside the file's period (living documents).
    pub other_period: usize,
    /// Those rows by (year, month).
    pub other_months: std::collections::BTreeMap<(i32, u32), usize>,
}

/// A typed column under construction. Text stays an Arrow array, shared with the raw batch
/// where normalization leaves it as it was; numbers and dates are parsed into plain vectors.
#[derive(Debug, Clone)]
enum Values {
    Text(StringArray),
    Int(Vec<Option<i64>>),
    Dec(Vec<Option<i128>>),
    Date(Vec<Option<NaiveDate>>),
}

/// Parses checked cells, flagging each failure through `fail`.
fn parse_each<T>(
    checked: &[Option<&str>],
    rows: &mut Rows,
    fail: &dyn Fn(&mut Rows, usize, &str, &str),
    parse: impl Fn(&str) -> Result<T, &'static str>,
) -> Vec<Option<T>> {
    checked
        .iter()
        .enumerate()
        .map(|(i, v)| v.and_then(|v| parse(v).map_err(|e| fail(rows, i, v, e)).ok()))
        .collect()
}

/// Normalizes the source batches of one file.
pub struct Normalizer<'a> {
    spec: &'a CompiledSpec,
    reference: &'a Reference,
    ctx: &'a FileContext,
    hooks: Option<rhai::Engine>,
    batch_hooks: Option<rhai::Engine>,
    /// Each field's `matches` pattern, cloned per normalizer: a clone has its own match cache,
    /// while one regex shared by the worker threads serializes them on its cache pool.
    matches: Vec<Option<regex::Regex>>,
}

struct Rows {
    n: usize,
    source_rows: Vec<u32>,
    rejected: Vec<bool>,
    issues: Vec<Issue>,
    /// The output row of each issue, beside it: an unpivoted source row makes several output
    /// rows, and only the issue's own row says whether it was kept, rejected or set aside.
    issue_rows: Vec<usize>,
}

impl Rows {
    fn flag(
        &mut self,
        at: Location,
        i: usize,
        value: Option<&str>,
        rule: &str,
        severity: Severity,
        message: String,
    ) {
        if severity == Severity::Error {
            if self.rejected[i] {
                return; // one reason per row: the first failing check
            }
            self.rejected[i] = true;
        }
        let at = at.with_row(self.source_rows[i]);
        self.issue_rows.push(i);
        self.issues.push(Issue {
            at,
            value: value.map(str::to_owned),
            rule: rule.to_owned(),
            severity,
            message,
        });
    }
}

/// How many of the flagged rows fall in each (year, month).
fn months_of(
    cols: &HashMap<&'static str, Values>,
    flagged: &[bool],
) -> std::collections::BTreeMap<(i32, u32), usize> {
    let mut out = std::collections::BTreeMap::new();
    if let (Some(Values::Int(y)), Some(Values::Int(m))) = (cols.get("year"), cols.get("month")) {
        for i in (0..flagged.len()).filter(|&i| flagged[i]) {
            if let (Some(y), Some(m)) = (y[i], m[i]) {
                *out.entry((y as i32, m as u32)).or_insert(0) += 1;
            }
        }
    }
    out
}

/// Days from 0001-01-01 (day 1) to 1970-01-01, Arrow's Date32 epoch.
const EPOCH_FROM_CE: i32 = 719_163;

fn text_col(cols: &HashMap<&'static str, Values>, name: &str, n: usize) -> StringArray {
    match cols.get(name) {
        Some(Values::Text(t)) => t.clone(),
        _ => StringArray::new_null(n),
    }
}

fn int_col<'c>(cols: &'c HashMap<&'static str, Values>, name: &str) -> Option<&'c [Option<i64>]> {
    match cols.get(name) {
        Some(Values::Int(v)) => Some(v),
        _ => None,
    }
}

impl<'a> Normalizer<'a> {
    pub fn new(spec: &'a CompiledSpec, reference: &'a Reference, ctx: &'a FileContext) -> Self {
        Self {
            spec,
            reference,
            ctx,
            hooks: spec.row_hook.as_ref().map(|_| hook_engine()),
            batch_hooks: spec
                .batch_hook
                .as_ref()
                .map(|_| crate::hooks::batch_hook_engine()),
            matches: spec.fields.iter().map(|f| f.matches.clone()).collect(),
        }
    }

    fn at(&self, column: Option<&str>) -> Location {
        let l = Location::file(&self.ctx.file).with_sheet(self.ctx.sheet.as_deref());
        match column {
            Some(c) => l.with_column(c),
            None => l,
        }
    }

    /// Normalizes one source batch (columns named by header label, plus [`ROW`]).
    pub fn process(
        &mut self,
        source: &RecordBatch,
        header: &crate::layout::Header,
    ) -> Result<Normalized> {
        let n = source.num_rows();
        let source_rows: Vec<u32> = source
            .column_by_name(ROW)
            .expect("source batches carry row numbers")
            .as_primitive::<datafusion::arrow::datatypes::UInt32Type>()
            .values()
            .to_vec();
        let mut rows = Rows {
            n,
            source_rows,
            rejected: vec![false; n],
            issues: Vec::new(),
            issue_rows: Vec::new(),
        };
        let labels: Vec<String> = source
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let mut texts: Texts = HashMap::new();
        for f in &self.spec.fields {
            let t = self.field_texts(f, source, &labels, header)?;
            texts.insert(f.field, t);
        }
        if let Some(hook) = &self.spec.row_hook {
            self.run_hook(hook, &mut texts, &mut rows)?;
        }
        if let Some(hook) = &self.spec.batch_hook {
            self.run_batch_hook(hook, &mut texts, &mut rows)?;
        }
        let diverted = self.divert_codes(&mut texts);
        let mut cols = self.parse_fields(&texts, &mut rows);
        for (field, values) in diverted {
            let name = crate::schema::columns(self.spec.spec.target)
                .iter()
                .find(|c| c.field == Some(field))
                .map(|c| c.name);
            if let Some(name) = name.filter(|n| !cols.contains_key(n)) {
                cols.insert(
                    name,
                    Values::Text(strings::map_strings(&values, |_, v| v.map(clean_text))),
                );
            }
        }
        let other_period = self.fill_engine_columns(&mut cols, &mut rows);
        let other_months = months_of(&cols, &other_period);
        self.lookup_products(&mut cols, &texts, &mut rows);
        self.money(&mut cols, &mut rows);
        let batch = self.to_batch(cols, &rows)?;
        let batch = exprs::apply_derive(&self.spec.exprs, batch)?;
        for (i, name) in required_missing(self.spec.spec.target, &batch) {
            rows.flag(
                self.at(Some(name)),
                i,
                None,
                &format!("missing_{name}"),
                Severity::Error,
                format!("expected a value for {name}"),
            );
        }
        for check in &self.spec.exprs.checks {
            let v = &self.spec.spec.validate[check.index];
            for i in exprs::failing_rows(check, &batch)? {
                rows.flag(
                    self.at(None),
                    i,
                    None,
                    &v.rule,
                    v.severity,
                    v.message.clone(),
                );
            }
        }
        let keep: Vec<bool> = (0..n)
            .map(|i| !rows.rejected[i] && !other_period[i])
            .collect();
        let rejected = (0..n)
            .filter(|&i| rows.rejected[i] && !other_period[i])
            .count();
        // Issues of rows set aside as another period's are dropped with their rows; every
        // rejected row keeps its issue, also when its source row made rows for other months.
        let issues: Vec<Issue> = rows
            .issues
            .into_iter()
            .zip(rows.issue_rows)
            .filter(|(_, i)| !other_period[*i])
            .map(|(issue, _)| issue)
            .collect();
        let reported = issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count();
        if reported != rejected {
            return Err(Error::Internal(format!(
                "{rejected} rows rejected but {reported} in the error report"
            )));
        }
        let accepted = accepted_rows(&batch, &keep)?;
        let accepted = RecordBatch::try_new(
            schema::schema(self.spec.spec.target),
            accepted.columns().to_vec(),
        )?;
        Ok(Normalized {
            accepted,
            issues,
            rejected,
            other_period: other_period.iter().filter(|o| **o).count(),
            other_months,
        })
    }

    /// Text of a field per row: constant or column, then `extract`, `map` and `default`.
    fn field_texts(
        &self,
        f: &CompiledField,
        source: &RecordBatch,
        labels: &[String],
        header: &crate::layout::Header,
    ) -> Result<FieldText> {
        let n = source.num_rows();
        let (raw, label) = match &f.value {
            Some(v) => (strings::constant(Some(v), n), None),
            None => {
                let data_labels = &labels[1..];
                let i = crate::layout::find_column(
                    data_labels,
                    &f.sources,
                    &f.source_text,
                    header,
                    self.at(None),
                )?;
                (
                    source.column(i + 1).as_string::<i32>().clone(),
                    Some(data_labels[i].clone()),
                )
            }
        };
        let remap = !f.map.is_empty() || f.fallback.is_some();
        let values = strings::map_strings(&raw, |_, v| {
            let mut v = v
                .map(crate::values::trim)
                .filter(|s| !s.is_empty())
                .map(Cow::Borrowed);
            if let (Some(re), Some(s)) = (&f.extract, &v) {
                v = re
                    .captures(s)
                    .and_then(|c| c.get(1).or_else(|| c.get(0)))
                    .map(|m| m.as_str().trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .map(Cow::Owned);
            }
            if let Some(s) = v.as_ref().filter(|_| remap) {
                let key = crate::labels::norm_label(s);
                if let Some((_, to)) = f.map.iter().find(|(k, _)| *k == key) {
                    v = Some(Cow::Borrowed(to.as_str()));
                } else if let Some(fb) = &f.fallback {
                    v = Some(Cow::Borrowed(fb.as_str()));
                }
            }
            v.or_else(|| f.default.as_deref().map(Cow::Borrowed))
        });
        Ok(FieldText { values, label })
    }

    /// A row's fields (after extract, map and default) as a hook sees them.
    fn hook_row(names: &[(Field, String)], texts: &Texts, rows: &Rows, i: usize) -> rhai::Map {
        let mut map = rhai::Map::new();
        for (f, name) in names {
            let v = texts.get(f).and_then(|t| strings::get(&t.values, i));
            map.insert(name.as_str().into(), crate::hooks::text(v));
        }
        map.insert("source_row".into(), (rows.source_rows[i] as i64).into());
        map
    }

    /// Notes what a hook changed in a row's map, to be applied by [`Self::apply_edits`].
    fn note_hook_row(
        names: &[(Field, String)],
        texts: &Texts,
        edits: &mut HashMap<Field, Vec<(usize, Option<String>)>>,
        i: usize,
        map: &rhai::Map,
    ) {
        for (f, name) in names {
            let Some(v) = map.get(name.as_str()) else {
                continue;
            };
            let v = if v.is_unit() {
                None
            } else {
                Some(v.to_string())
            };
            if v.as_deref() != texts.get(f).and_then(|t| strings::get(&t.values, i)) {
                edits.entry(*f).or_default().push((i, v));
            }
        }
    }

    fn apply_edits(
        texts: &mut Texts,
        edits: HashMap<Field, Vec<(usize, Option<String>)>>,
        n: usize,
    ) {
        for (f, patches) in edits {
            let t = texts.entry(f).or_insert_with(|| FieldText {
                values: StringArray::new_null(n),
                label: None,
            });
            t.values = strings::patch(&t.values, &patches);
        }
    }

    fn hook_names() -> Vec<(Field, String)> {
        Field::ALL
            .iter()
            .map(|&f| (f, crate::spec::field_name(f)))
            .collect()
    }

    fn run_hook(
        &self,
        hook: &crate::hooks::RowHook,
        texts: &mut Texts,
        rows: &mut Rows,
    ) -> Result<()> {
        let engine = self
            .hooks
            .as_ref()
            .expect("hook engine built with the hook");
        let names = Self::hook_names();
        let mut edits = HashMap::new();
        for i in 0..rows.n {
            let map = Self::hook_row(&names, texts, rows, i);
            match hook.run(engine, map).map_err(|message| Error::Hook {
                at: Box::new(self.at(None).with_row(rows.source_rows[i])),
                message,
            })? {
                HookOutcome::Reject(why) => {
                    rows.flag(self.at(None), i, None, "hook", Severity::Error, why)
                }
                HookOutcome::Keep(map) => Self::note_hook_row(&names, texts, &mut edits, i, &map),
            }
        }
        Self::apply_edits(texts, edits, rows.n);
        Ok(())
    }

    fn run_batch_hook(
        &self,
        hook: &crate::hooks::BatchHook,
        texts: &mut Texts,
        rows: &mut Rows,
    ) -> Result<()> {
        let engine = self
            .batch_hooks
            .as_ref()
            .expect("batch hook engine built with the hook");
        let names = Self::hook_names();
        let input: rhai::Array = (0..rows.n)
            .map(|i| Self::hook_row(&names, texts, rows, i).into())
            .collect();
        let first_row = rows.source_rows.first().copied().unwrap_or(0);
        let out = hook.run(engine, input).map_err(|message| Error::Hook {
            at: Box::new(self.at(None).with_row(first_row)),
            message,
        })?;
        let mut edits = HashMap::new();
        for (i, map) in out.iter().enumerate() {
            if rows.rejected[i] {
                continue;
            }
            match map.get(crate::hooks::REJECT_FIELD).filter(|v| !v.is_unit()) {
                Some(why) => rows.flag(
                    self.at(None),
                    i,
                    None,
                    "batch_hook",
                    Severity::Error,
                    why.to_string(),
                ),
                None => Self::note_hook_row(&names, texts, &mut edits, i, map),
            }
        }
        Self::apply_edits(texts, edits, rows.n);
        Ok(())
    }

    /// Moves the vendor codes of EAN columns with `otherwise` into their field (where that field
    /// is empty on the row), so they identify the product instead of rejecting the row. Returns
    /// the fields it filled that the spec does not read itself, for their output columns.
    fn divert_codes(&self, texts: &mut Texts) -> Vec<(Field, StringArray)> {
        let mut extra = Vec::new();
        for f in &self.spec.fields {
            let Some(to) = f.otherwise else { continue };
            let Some(eans) = texts.get(&f.field) else {
                continue;
            };
            let n = eans.values.len();
            let moved: Vec<(usize, String)> = (0..n)
                .filter_map(|i| strings::get(&eans.values, i).map(|v| (i, v)))
                .filter(|(_, v)| crate::values::is_vendor_code(v))
                .map(|(i, v)| (i, v.to_owned()))
                .collect();
            if moved.is_empty() {
                continue;
            }
            let cleared: Vec<(usize, Option<String>)> =
                moved.iter().map(|(i, _)| (*i, None)).collect();
            let eans = texts.get_mut(&f.field).expect("read above");
            eans.values = strings::patch(&eans.values, &cleared);
            let own = self.spec.fields.iter().any(|g| g.field == to);
            let target = texts.entry(to).or_insert_with(|| FieldText {
                values: StringArray::new_null(n),
                label: None,
            });
            let fill: Vec<(usize, Option<String>)> = moved
                .into_iter()
                .filter(|(i, _)| strings::get(&target.values, *i).is_none())
                .map(|(i, v)| (i, Some(v)))
                .collect();
            target.values = strings::patch(&target.values, &fill);
            if !own {
                extra.push((to, target.values.clone()));
            }
        }
        extra
    }

    /// Parses every field in the order the spec writes them, so a row's reject reason is its
    /// first failing field.
    fn parse_fields(&self, texts: &Texts, rows: &mut Rows) -> HashMap<&'static str, Values> {
        let sep = self.spec.spec.read.decimal;
        let mut cols = HashMap::new();
        for (f, pattern) in self.spec.fields.iter().zip(&self.matches) {
            let c = f.column;
            let Some(FieldText { values, label }) = texts.get(&f.field) else {
                continue;
            };
            let at = self.at(label.as_deref().or(Some(c.name)));
            // Cells that fail `matches` or are missing while required are flagged here and
            // parsed as empty, so later fields cannot claim the row's reason.
            let mut checked: Vec<Option<&str>> = Vec::with_capacity(values.len());
            for i in 0..values.len() {
                match strings::get(values, i) {
                    None if f.required => {
                        rows.flag(
                            at.clone(),
                            i,
                            None,
                            &f.missing_rule,
                            Severity::Error,
                            format!("expected a value for {}", c.name),
                        );
                        checked.push(None);
                    }
                    Some(t) if pattern.as_ref().is_some_and(|re| !re.is_match(t)) => {
                        let re = pattern.as_ref().map(|r| r.as_str()).unwrap_or_default();
                        rows.flag(
                            at.clone(),
                            i,
                            Some(t),
                            &f.rule,
                            Severity::Error,
                            format!("expected text matching /{re}/"),
                        );
                        checked.push(None);
                    }
                    other => checked.push(other),
                }
            }
            let fail = |rows: &mut Rows, i: usize, v: &str, expected: &str| {
                rows.flag(
                    at.clone(),
                    i,
                    Some(v),
                    &f.rule,
                    Severity::Error,
                    format!("expected {expected}"),
                );
            };
            let out = match c.kind {
                Kind::Text | Kind::Channel => Values::Text(strings::map_strings(values, |i, _| {
                    checked[i].map(clean_text)
                })),
                Kind::Ean => Values::Text(strings::map_strings(values, |i, _| {
                    checked[i].and_then(|v| {
                        parse_gtin(v, f.check_digit)
                            .map_err(|e| fail(rows, i, v, e))
                            .ok()
                    })
                })),
                Kind::Integer => {
                    Values::Int(parse_each(&checked, rows, &fail, |v| parse_integer(v, sep)))
                }
                Kind::Month => Values::Int(parse_each(&checked, rows, &fail, |v| {
                    parse_month(v).ok_or("a month: 1-12 or a month name")
                })),
                Kind::Money => {
                    let scale = if c.data_type == DataType::Decimal128(18, EUR_SCALE) {
                        EUR_SCALE
                    } else {
                        LOCAL_SCALE
                    };
                    Values::Dec(parse_each(&checked, rows, &fail, |v| {
                        parse_decimal(v, scale as u32, sep)
                    }))
                }
                Kind::Date => Values::Date(parse_each(&checked, rows, &fail, |v| {
                    parse_date(v, &f.formats)
                })),
            };
            cols.insert(c.name, out);
        }
        cols
    }

    /// Reseller, country, currency, channel, periods and year/month; returns which rows fall
    /// outside the file's period when the spec keeps only it.
    fn fill_engine_columns(
        &self,
        cols: &mut HashMap<&'static str, Values>,
        rows: &mut Rows,
    ) -> Vec<bool> {
        let spec = &self.spec.spec;
        let n = rows.n;
        let fill =
            |cols: &mut HashMap<&'static str, Values>, name: &'static str, v: Option<&str>| {
                let filled = match cols.get(name) {
                    Some(Values::Text(t)) => strings::fill_nulls(t, v),
                    Some(_) => return,
                    None => strings::constant(v, n),
                };
                cols.insert(name, Values::Text(filled));
            };
        fill(cols, "reseller", Some(&spec.reseller));
        fill(cols, "country", spec.country.as_deref());
        if spec.target == Target::Sellout {
            fill(cols, "currency", Some(&spec.currency));
            fill(cols, "channel", Some("retail"));
            if let Some(Values::Text(t)) = cols.get("currency") {
                let up = strings::map_strings(t, |_, v| {
                    v.map(|s| {
                        if s.bytes().any(|b| !b.is_ascii_uppercase()) {
                            Cow::Owned(s.to_uppercase())
                        } else {
                            Cow::Borrowed(s)
                        }
                    })
                });
                cols.insert("currency", Values::Text(up));
            }
            if let Some(Values::Text(ch)) = cols.get("channel") {
                for (i, v) in ch.iter().enumerate() {
                    if let Some(v) = v.filter(|v| *v != "retail" && *v != "online") {
                        rows.flag(
                            self.at(Some("channel")),
                            i,
                            Some(v),
                            "bad_channel",
                            Severity::Error,
                            "expected channel retail or online (map the file's values with `map`)"
                                .into(),
                        );
                    }
                }
            }
        }
        let p = self.ctx.period;
        let date_col = if spec.target == Target::Orders {
            "order_date"
        } else {
            "sale_date"
        };
        let dates: Option<&[Option<NaiveDate>]> = match cols.get(date_col) {
            Some(Values::Date(d)) => Some(d),
            _ => None,
        };
        let (years, months) = (int_col(cols, "year"), int_col(cols, "month"));
        let mut out_y = Vec::with_capacity(n);
        let mut out_m = Vec::with_capacity(n);
        let mut other = vec![false; n];
        for i in 0..n {
            let date = dates.and_then(|d| d[i]);
            let row_y = years.and_then(|v| v[i]).map(|v| v as i32);
            let row_m = months.and_then(|v| v[i]).map(|v| v as u32);
            let (y, m) = match (date, row_y, row_m) {
                (Some(d), _, _) => (d.year(), d.month()),
                (None, Some(y), Some(m)) => (y, m),
                (None, None, Some(m)) => (p.end.year(), m),
                _ => (p.end.year(), p.end.month()),
            };
            if spec.period.keep_only_period {
                other[i] = match date {
                    Some(d) => !p.contains(d),
                    // A month belongs to the period when it overlaps it: every month of a
                    // year, both months of a week that spans two.
                    None => {
                        !((p.start.year(), p.start.month()) <= (y, m)
                            && (y, m) <= (p.end.year(), p.end.month()))
                    }
                };
            }
            out_y.push(Some(y as i64));
            out_m.push(Some(m as i64));
        }
        cols.insert("year", Values::Int(out_y));
        cols.insert("month", Values::Int(out_m));
        if spec.target == Target::Sellout {
            cols.insert("period_start", Values::Date(vec![Some(p.start); n]));
            cols.insert("period_end", Values::Date(vec![Some(p.end); n]));
            cols.insert(
                "period_grain",
                Values::Text(strings::constant(Some(p.grain.as_str()), n)),
            );
        }
        other
    }

    /// Whether a reference miss of `rule` rejects the row or keeps it with a warning: the
    /// spec's `unmatched`, else the tenant's default, else reject.
    fn on_miss(&self, rule: &str) -> Severity {
        let spec = &self.spec.spec;
        let lookup_warns = rule == "unknown_product"
            && spec
                .lookup
                .as_ref()
                .is_some_and(|l| l.unmatched == Severity::Warn);
        match spec
            .unmatched
            .get(rule)
            .or(self.reference.unmatched.get(rule))
        {
            _ if lookup_warns => Severity::Warn,
            Some(OnMiss::Keep) => Severity::Warn,
            Some(OnMiss::Reject) | None => Severity::Error,
        }
    }

    /// Fills EAN and functional name from the mapping tables; unmatched products are reported.
    fn lookup_products(
        &self,
        cols: &mut HashMap<&'static str, Values>,
        texts: &Texts,
        rows: &mut Rows,
    ) {
        let n = rows.n;
        let mut eans = text_col(cols, "product_ean", n);
        let names = text_col(cols, "functional_name", n);
        let unknown = self.on_miss("unknown_product");
        let kept = if unknown == Severity::Warn {
            ", kept without an EAN (unmatched: keep)"
        } else {
            ""
        };
        // Rows kept on the vendor's own name or code: they have an identity, just no EAN yet.
        let mut kept_unknown = vec![false; n];
        if let Some(lookup) = &self.spec.spec.lookup {
            let keys = texts
                .get(&lookup.by)
                .map(|t| t.values.clone())
                .unwrap_or_else(|| StringArray::new_null(n));
            let label = texts.get(&lookup.by).and_then(|t| t.label.clone());
            let mut found = Vec::new();
            for i in (0..n).filter(|&i| eans.is_null(i)) {
                match strings::get(&keys, i)
                    .map(|k| (k, self.reference.vendor_product(&self.spec.spec.vendor, k)))
                {
                    Some((_, Some(ean))) => found.push((i, Some(ean.to_owned()))),
                    Some((k, None)) => {
                        kept_unknown[i] = unknown == Severity::Warn;
                        rows.flag(
                            self.at(label.as_deref()),
                            i,
                            Some(k),
                            "unknown_product",
                            unknown,
                            format!(
                                "expected a product listed for vendor {:?} in the vendor_products table{kept}",
                                self.spec.spec.vendor
                            ),
                        )
                    }
                    None => {}
                }
            }
            eans = strings::patch(&eans, &found);
        }
        let (mut ean_fix, mut name_fix) = (Vec::new(), Vec::new());
        for (i, &on_vendor_identity) in kept_unknown.iter().enumerate() {
            match (strings::get(&eans, i), strings::get(&names, i)) {
                (Some(e), None) => name_fix.push((
                    i,
                    self.reference
                        .product_by_ean(e)
                        .map(|p| p.functional_name.clone()),
                )),
                (None, Some(f)) => match self.reference.product_by_functional(f) {
                    Some(p) => {
                        ean_fix.push((i, Some(p.ean.clone())));
                        name_fix.push((i, Some(p.functional_name.clone())));
                    }
                    None => rows.flag(
                        self.at(Some("functional_name")),
                        i,
                        Some(f),
                        "unknown_product",
                        unknown,
                        format!("expected a functional name listed in the products table{kept}"),
                    ),
                },
                (None, None)
                    if self.spec.spec.target == Target::Sellout
                        && !rows.rejected[i]
                        && !on_vendor_identity =>
                {
                    rows.flag(
                        self.at(None),
                        i,
                        None,
                        "missing_product",
                        Severity::Error,
                        "expected an EAN or a functional name to identify the product".into(),
                    )
                }
                _ => {}
            }
        }
        name_fix.retain(|(_, v)| v.is_some());
        cols.insert("product_ean", Values::Text(strings::patch(&eans, &ean_fix)));
        cols.insert(
            "functional_name",
            Values::Text(strings::patch(&names, &name_fix)),
        );
    }

    /// Price-list sales, VAT removal and conversion to EUR with the month's rate.
    fn money(&self, cols: &mut HashMap<&'static str, Values>, rows: &mut Rows) {
        let spec = &self.spec.spec;
        if spec.target != Target::Sellout {
            return;
        }
        let n = rows.n;
        let mut local = match cols.remove("sales_local") {
            Some(Values::Dec(v)) => v,
            _ => vec![None; n],
        };
        let (eans, currencies) = (
            text_col(cols, "product_ean", n),
            text_col(cols, "currency", n),
        );
        let none = vec![None; n];
        let qty = int_col(cols, "quantity").unwrap_or(&none);
        let (years, months) = (
            int_col(cols, "year").unwrap_or(&none),
            int_col(cols, "month").unwrap_or(&none),
        );
        if let Some(Values::Dec(prices)) = cols.get("unit_price") {
            for i in 0..n {
                if let (None, Some(p), Some(q)) = (local[i], prices[i], qty[i]) {
                    local[i] = Some(p * q as i128);
                }
            }
        }
        if let Some(list) = &spec.price_list {
            for i in 0..n {
                let (Some(e), Some(q)) = (strings::get(&eans, i), qty[i]) else {
                    continue;
                };
                match self.reference.price(list, e) {
                    Some((price, cur)) if Some(cur.as_str()) == strings::get(&currencies, i) => {
                        local[i] = Some(price * q as i128)
                    }
                    Some((_, cur)) => rows.flag(
                        self.at(None),
                        i,
                        Some(e),
                        "price_currency",
                        Severity::Error,
                        format!(
                            "expected a {} price in list {list:?}, found {cur}",
                            spec.currency
                        ),
                    ),
                    None => {
                        let severity = self.on_miss("missing_price");
                        let kept = if severity == Severity::Warn {
                            ", kept without an amount (unmatched: keep)"
                        } else {
                            ""
                        };
                        rows.flag(
                            self.at(None),
                            i,
                            Some(e),
                            "missing_price",
                            severity,
                            format!("expected a price for this EAN in price list {list:?}{kept}"),
                        )
                    }
                }
            }
        }
        if let Some(vat) = spec.vat_included {
            let factor = ((1.0 + vat) * 1_000_000.0).round() as i128;
            local
                .iter_mut()
                .flatten()
                .for_each(|v| *v = div_round(*v * 1_000_000, factor));
        }
        let mut rates = vec![None; n];
        let mut eur = vec![None; n];
        // Rows of a batch mostly share a few currencies and months: remember the last lookup.
        let mut last: Option<(&str, i64, i64, Option<i128>)> = None;
        for i in 0..n {
            let (Some(cur), Some(y), Some(m)) = (strings::get(&currencies, i), years[i], months[i])
            else {
                continue;
            };
            let rate = match last {
                Some((c, ly, lm, r)) if c == cur && ly == y && lm == m => r,
                _ => {
                    let r = self.reference.fx_rate(cur, y as i32, m as u32);
                    last = Some((cur, y, m, r));
                    r
                }
            };
            match rate {
                Some(r) => {
                    rates[i] = Some(r);
                    // local (scale 4) x rate (scale 6) = scale 10; EUR keeps 6.
                    eur[i] = local[i].map(|l| {
                        div_round(
                            l * r,
                            10i128.pow((LOCAL_SCALE + RATE_SCALE - EUR_SCALE) as u32),
                        )
                    });
                }
                None if local[i].is_some() => {
                    let rule = self
                        .spec
                        .field(Field::Currency)
                        .map_or("missing_fx_rate", |f| f.rule.as_str());
                    let severity = self.on_miss("missing_fx_rate");
                    let kept = if severity == Severity::Warn {
                        ", kept without EUR amounts (unmatched: keep)"
                    } else {
                        ""
                    };
                    rows.flag(
                        self.at(Some("currency")),
                        i,
                        Some(cur),
                        rule,
                        severity,
                        format!("expected a currency with an fx_rates row for {y}-{m:02}{kept}"),
                    )
                }
                None => {}
            }
        }
        cols.insert("sales_local", Values::Dec(local));
        cols.insert("fx_rate", Values::Dec(rates));
        cols.insert("sales_eur", Values::Dec(eur));
    }

    fn to_batch(
        &self,
        mut cols: HashMap<&'static str, Values>,
        rows: &Rows,
    ) -> Result<RecordBatch> {
        let n = rows.n;
        let ctx = self.ctx;
        let spec = &self.spec.spec;
        cols.insert(
            "batch_id",
            Values::Text(strings::constant(Some(&ctx.batch_id), n)),
        );
        cols.insert(
            "source_file",
            Values::Text(strings::constant(Some(&ctx.file), n)),
        );
        cols.insert(
            "source_sheet",
            Values::Text(strings::constant(ctx.sheet.as_deref(), n)),
        );
        cols.insert(
            "spec_name",
            Values::Text(strings::constant(Some(&spec.vendor), n)),
        );
        let schema = schema::schema(spec.target);
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (c, f) in schema::columns(spec.target).iter().zip(schema.fields()) {
            let v = cols.remove(c.name);
            let array: ArrayRef = match (c.name, f.data_type()) {
                ("source_row", _) => Arc::new(UInt32Array::from(rows.source_rows.clone())),
                ("spec_version", _) => Arc::new(UInt32Array::from(vec![spec.version; n])),
                (_, DataType::Utf8) => match v {
                    Some(Values::Text(t)) => Arc::new(t),
                    _ => Arc::new(StringArray::new_null(n)),
                },
                (_, DataType::Int64) => Arc::new(Int64Array::from(int_or_null(v, n))),
                (_, DataType::Int32) => Arc::new(Int32Array::from(
                    int_or_null(v, n)
                        .into_iter()
                        .map(|x| x.map(|x| x as i32))
                        .collect::<Vec<_>>(),
                )),
                (_, DataType::Date32) => {
                    let d = match v {
                        Some(Values::Date(d)) => d,
                        _ => vec![None; n],
                    };
                    Arc::new(Date32Array::from(
                        d.into_iter()
                            .map(|d| d.map(|d| d.num_days_from_ce() - EPOCH_FROM_CE))
                            .collect::<Vec<_>>(),
                    ))
                }
                (_, DataType::Decimal128(p, s)) => {
                    let d = match v {
                        Some(Values::Dec(d)) => d,
                        _ => vec![None; n],
                    };
                    Arc::new(Decimal128Array::from(d).with_precision_and_scale(*p, *s)?)
                }
                (_, other) => return Err(Error::Internal(format!("no builder for {other}"))),
            };
            arrays.push(array);
        }
        // Rows already rejected may hold nulls in required columns; keep the batch valid by
        // relaxing nullability here and enforcing it on accepted rows below.
        let relaxed = Arc::new(datafusion::arrow::datatypes::Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(relaxed, arrays)?;
        Ok(batch)
    }
}

/// The kept rows, grouped by (year, month) in the same gather that drops the rejected ones, so
/// the lake writes each month as a slice instead of copying the batch a second time. Rows of a
/// month keep their file order.
fn accepted_rows(batch: &RecordBatch, keep: &[bool]) -> Result<RecordBatch> {
    let key = |name| {
        batch
            .column_by_name(name)
            .map(|c| c.as_primitive::<Int32Type>().values().clone())
    };
    let (Some(years), Some(months)) = (key("year"), key("month")) else {
        return Ok(filter_record_batch(
            batch,
            &BooleanArray::from(keep.to_vec()),
        )?);
    };
    let mut rows: Vec<u32> = (0..keep.len() as u32)
        .filter(|&i| keep[i as usize])
        .collect();
    let at = |i: u32| (years[i as usize], months[i as usize]);
    let grouped = rows.windows(2).all(|w| at(w[0]) <= at(w[1]));
    if grouped && rows.len() == keep.len() {
        return Ok(batch.clone());
    }
    if !grouped {
        rows.sort_by_key(|&i| at(i));
    }
    Ok(take_record_batch(batch, &UInt32Array::from(rows))?)
}

fn int_or_null(v: Option<Values>, n: usize) -> Vec<Option<i64>> {
    match v {
        Some(Values::Int(t)) => t,
        _ => vec![None; n],
    }
}

/// A month number from `4`, `Apr`, `kwietnia`, `березня-25` or a date.
fn parse_month(v: &str) -> Option<i64> {
    use crate::period::{find_token, Token};
    match v.trim().parse::<f64>() {
        Ok(m) if m.fract() == 0.0 && (1.0..=12.0).contains(&m) => Some(m as i64),
        Ok(_) => None,
        Err(_) => match find_token(v) {
            Some(Token::Month(m) | Token::YearMonth(_, m)) => Some(m as i64),
            Some(Token::Date(d)) => Some(d.month() as i64),
            _ => month_from_name(v).map(i64::from),
        },
    }
}

/// Integer division rounding half away from zero.
pub fn div_round(a: i128, b: i128) -> i128 {
    let q = a / b;
    let r = a % b;
    if 2 * r.abs() >= b.abs() {
        q + a.signum() * b.signum()
    } else {
        q
    }
}

/// Rows that are null in a non-nullable canonical column are rejected with `missing_<column>`.
pub fn required_missing(target: Target, batch: &RecordBatch) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (c, col) in schema::columns(target).iter().zip(batch.columns()) {
        if !c.nullable && col.null_count() > 0 {
            out.extend(
                (0..col.len())
                    .filter(|&i| col.is_null(i))
                    .map(|i| (i, c.name)),
            );
        }
    }
    out
}

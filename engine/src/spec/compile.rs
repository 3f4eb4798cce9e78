//! Checks a parsed spec and compiles what it can once: regexes, label matchers, SQL
//! expressions and hooks. Errors are `(path, message)`; the caller turns the path into a line.

use super::types::*;
use crate::hooks::{BatchHook, RowHook};
use crate::labels::{norm_label, LabelMatcher};
use crate::schema;
use regex::Regex;

type CompileResult<T> = Result<T, (String, String)>;

/// A sheet choice, ready to test against sheet names.
#[derive(Debug, Clone)]
pub enum SheetMatcher {
    Name(String),
    Pattern(Regex),
    Index(usize),
}

/// The columns a row rule's regex is tried on.
#[derive(Debug, Clone)]
pub enum RuleColumns {
    /// `'*'`: every column of the row.
    Any,
    /// Any of these (each label or pattern may match several columns).
    Listed(Vec<LabelMatcher>),
}

/// A row rule with its regex and label matchers compiled.
#[derive(Debug, Clone)]
pub struct CompiledRowRule {
    pub column: Option<RuleColumns>,
    pub matches: Option<Regex>,
    pub blank: Vec<LabelMatcher>,
}

/// A file's total row rule and the columns it totals, compiled.
#[derive(Debug, Clone)]
pub struct CompiledTotals {
    pub row: CompiledRowRule,
    pub columns: Vec<LabelMatcher>,
    pub tolerance: f64,
    pub severity: crate::issues::Severity,
}

/// An unpivot with its pattern compiled and measure names normalized.
#[derive(Debug, Clone)]
pub struct CompiledUnpivot {
    pub columns: Regex,
    pub measures: Vec<(String, String)>,
    pub value: Option<String>,
    pub keep_empty: bool,
}

/// A field rule with its source matchers and regex compiled.
#[derive(Debug, Clone)]
pub struct CompiledField {
    pub field: Field,
    pub column: &'static schema::Column,
    pub sources: Vec<LabelMatcher>,
    pub source_text: Vec<String>,
    pub value: Option<String>,
    pub extract: Option<Regex>,
    pub map: Vec<(String, String)>,
    pub fallback: Option<String>,
    pub default: Option<String>,
    pub formats: Vec<String>,
    pub matches: Option<Regex>,
    pub required: bool,
    pub rule: String,
    pub missing_rule: String,
    pub check_digit: bool,
    pub otherwise: Option<Field>,
}

/// A spec ready to run: the parsed spec plus everything compiled from it.
#[derive(Debug)]
pub struct CompiledSpec {
    pub spec: VendorSpec,
    pub filename: Option<Regex>,
    pub sheet_signal: Option<Regex>,
    pub header_signal: Vec<LabelMatcher>,
    pub sheets: Vec<SheetMatcher>,
    pub header_contains: Vec<LabelMatcher>,
    pub fill_down: Vec<LabelMatcher>,
    pub drop: Vec<CompiledRowRule>,
    pub stop: Option<CompiledRowRule>,
    pub unpivot: Option<CompiledUnpivot>,
    pub reconcile: Vec<(LabelMatcher, Vec<LabelMatcher>, f64)>,
    pub totals: Option<CompiledTotals>,
    pub fields: Vec<CompiledField>,
    pub row_hook: Option<RowHook>,
    pub batch_hook: Option<BatchHook>,
    pub exprs: crate::exprs::SpecExprs,
    /// The YAML it was read from, for editors.
    pub source: String,
}

fn regex(path: &str, pattern: &str) -> CompileResult<Regex> {
    Regex::new(&format!("(?i){pattern}"))
        .map_err(|e| (path.to_owned(), format!("invalid regex: {e}")))
}

fn label(path: &str, text: &str) -> CompileResult<LabelMatcher> {
    LabelMatcher::parse(text).map_err(|e| (path.to_owned(), format!("invalid label regex: {e}")))
}

fn labels(path: &str, list: &[String]) -> CompileResult<Vec<LabelMatcher>> {
    list.iter().map(|l| label(path, l)).collect()
}

fn row_rule(path: &str, r: &RowRule) -> CompileResult<CompiledRowRule> {
    if r.matches.is_some() != r.column.is_some() {
        return Err((path.to_owned(), "`column` and `matches` go together".into()));
    }
    if r.matches.is_none() && r.blank.is_empty() {
        return Err((
            path.to_owned(),
            "a row rule needs `column` + `matches`, or `blank`".into(),
        ));
    }
    let column = match r.column.as_ref().map(|c| c.all()) {
        None => None,
        Some(list) if list == ["*"] => Some(RuleColumns::Any),
        Some(list) if list.is_empty() => {
            return Err((format!("{path}.column"), "name at least one column".into()))
        }
        Some(list) => Some(RuleColumns::Listed(
            list.iter()
                .map(|c| label(&format!("{path}.column"), c))
                .collect::<CompileResult<_>>()?,
        )),
    };
    Ok(CompiledRowRule {
        column,
        matches: r
            .matches
            .as_deref()
            .map(|m| regex(&format!("{path}.matches"), m))
            .transpose()?,
        blank: labels(&format!("{path}.blank"), &r.blank)?,
    })
}

impl CompiledSpec {
    pub fn compile(spec: VendorSpec) -> CompileResult<Self> {
        check_top(&spec)?;
        let d = &spec.detect;
        let filename = d
            .filename
            .as_ref()
            .map(|s| regex("detect.filename.pattern", &s.pattern))
            .transpose()?;
        let sheet_signal = d
            .sheet
            .as_ref()
            .map(|s| regex("detect.sheet.pattern", &s.pattern))
            .transpose()?;
        let header_signal = d
            .header
            .as_ref()
            .map(|h| labels("detect.header.labels", &h.labels))
            .transpose()?
            .unwrap_or_default();
        let sheets = spec
            .read
            .sheet
            .iter()
            .enumerate()
            .map(|(i, s)| match s {
                SheetChoice::Name(n) => Ok(SheetMatcher::Name(norm_label(n))),
                SheetChoice::Pattern(p) => {
                    regex(&format!("read.sheet[{i}]"), p).map(SheetMatcher::Pattern)
                }
                SheetChoice::Index(0) => Err((
                    format!("read.sheet[{i}]"),
                    "sheet positions start at 1".into(),
                )),
                SheetChoice::Index(n) => Ok(SheetMatcher::Index(*n as usize - 1)),
            })
            .collect::<CompileResult<_>>()?;
        let h = &spec.read.header;
        if h.row.is_none() && h.contains.is_empty() {
            return Err((
                "read.header".into(),
                "give the header `row` or the labels it `contains`".into(),
            ));
        }
        if h.rows == 0 || h.row.is_some_and(|r| r < h.rows) {
            return Err((
                "read.header.rows".into(),
                "the header spans at least one row, ending at `row`".into(),
            ));
        }
        let r = &spec.reshape;
        let drop = r
            .drop
            .iter()
            .enumerate()
            .map(|(i, d)| row_rule(&format!("reshape.drop[{i}]"), d))
            .collect::<CompileResult<_>>()?;
        let unpivot = r.unpivot.as_ref().map(compile_unpivot).transpose()?;
        let fields = compile_fields(&spec)?;
        for (path, source) in [
            ("hooks.row", &spec.hooks.row),
            ("hooks.batch", &spec.hooks.batch),
        ] {
            if let Some(s) = source
                .as_deref()
                .filter(|s| s.len() > crate::hooks::MAX_HOOK_BYTES)
            {
                return Err((
                    path.to_owned(),
                    format!(
                        "the hook is {} bytes; a hook may have at most {} (move the logic into the spec's declarative rules)",
                        s.len(),
                        crate::hooks::MAX_HOOK_BYTES
                    ),
                ));
            }
        }
        let row_hook = spec
            .hooks
            .row
            .as_deref()
            .map(RowHook::compile)
            .transpose()
            .map_err(|e| ("hooks.row".to_owned(), e.to_string()))?;
        let batch_hook = spec
            .hooks
            .batch
            .as_deref()
            .map(BatchHook::compile)
            .transpose()
            .map_err(|e| ("hooks.batch".to_owned(), e.to_string()))?;
        let exprs = crate::exprs::compile(&spec)?;
        Ok(Self {
            source: String::new(),
            filename,
            sheet_signal,
            header_signal,
            sheets,
            header_contains: labels("read.header.contains", &h.contains)?,
            fill_down: labels("reshape.fill_down", &r.fill_down)?,
            drop,
            stop: r
                .stop
                .as_ref()
                .map(|s| row_rule("reshape.stop", s))
                .transpose()?,
            unpivot,
            reconcile: r
                .reconcile
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Ok((
                        label(&format!("reshape.reconcile[{i}].total"), &c.total)?,
                        labels(&format!("reshape.reconcile[{i}].parts"), &c.parts)?,
                        c.tolerance.unwrap_or(0.01),
                    ))
                })
                .collect::<CompileResult<_>>()?,
            totals: r
                .totals
                .as_ref()
                .map(|t| {
                    if t.columns.is_empty() {
                        return Err((
                            "reshape.totals.columns".to_owned(),
                            "name the columns the total row totals".to_owned(),
                        ));
                    }
                    Ok(CompiledTotals {
                        row: row_rule("reshape.totals.row", &t.row)?,
                        columns: labels("reshape.totals.columns", &t.columns)?,
                        tolerance: t.tolerance.unwrap_or(0.01),
                        severity: t.severity,
                    })
                })
                .transpose()?,
            fields,
            row_hook,
            batch_hook,
            exprs,
            spec,
        })
    }

    /// The field rule for a canonical field, if the spec has one.
    pub fn field(&self, f: Field) -> Option<&CompiledField> {
        self.fields.iter().find(|c| c.field == f)
    }
}

fn check_top(spec: &VendorSpec) -> CompileResult<()> {
    let bad = |p: &str, m: &str| Err((p.to_owned(), m.to_owned()));
    if spec.vendor.is_empty()
        || !spec
            .vendor
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return bad(
            "vendor",
            "vendor ids are lower-case letters, digits and `_`",
        );
    }
    if spec.currency.len() != 3 || !spec.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return bad("currency", "an ISO 4217 code such as EUR or GBP");
    }
    if spec.vat_included.is_some_and(|v| !(0.0..1.0).contains(&v)) {
        return bad("vat_included", "a rate between 0 and 1, e.g. 0.20");
    }
    if spec
        .max_reject_ratio
        .is_some_and(|v| !(0.0..=1.0).contains(&v))
    {
        return bad("max_reject_ratio", "a share between 0.0 and 1.0");
    }
    if spec.period.from.is_empty() {
        return bad(
            "period.from",
            "at least one period source; a file without a period is refused",
        );
    }
    let d = &spec.detect;
    if d.filename.is_none() && d.sheet.is_none() && d.header.is_none() {
        return bad("detect", "at least one of `filename`, `sheet` or `header`");
    }
    Ok(())
}

fn compile_unpivot(u: &Unpivot) -> CompileResult<CompiledUnpivot> {
    let columns = regex("reshape.unpivot.columns", &u.columns)?;
    let has_measure = columns.capture_names().flatten().any(|n| n == "measure");
    if has_measure == u.measures.is_empty() {
        return Err((
            "reshape.unpivot".into(),
            "a `measure` capture needs `measures`, and `measures` need a `measure` capture".into(),
        ));
    }
    if !has_measure && u.value.is_none() {
        return Err((
            "reshape.unpivot".into(),
            "without a `measure` capture, name the value column with `value`".into(),
        ));
    }
    Ok(CompiledUnpivot {
        columns,
        measures: u
            .measures
            .iter()
            .map(|(k, v)| (norm_label(k), v.clone()))
            .collect(),
        value: u.value.clone(),
        keep_empty: u.keep_empty,
    })
}

fn compile_fields(spec: &VendorSpec) -> CompileResult<Vec<CompiledField>> {
    let mut out = Vec::new();
    for (field, rule) in &spec.fields {
        let name = serde_json::to_value(field)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let path = format!("fields.{name}");
        let Some(column) = schema::column_for(spec.target, *field) else {
            return Err((
                path,
                format!(
                    "the {:?} table has no such field",
                    schema::table_name(spec.target)
                ),
            ));
        };
        if rule.column.is_some() == rule.value.is_some() {
            return Err((path, "give exactly one of `column` or `value`".into()));
        }
        let source_text: Vec<String> = rule
            .column
            .as_ref()
            .map(|c| c.all().into_iter().map(str::to_owned).collect())
            .unwrap_or_default();
        let (fallback, map): (Vec<_>, Vec<_>) = rule
            .map
            .iter()
            .map(|(k, v)| (norm_label(k), v.clone()))
            .partition(|(k, _)| k == "*");
        out.push(CompiledField {
            field: *field,
            column,
            sources: labels(&format!("{path}.column"), &source_text)?,
            source_text,
            value: rule.value.clone(),
            extract: rule
                .extract
                .as_deref()
                .map(|e| regex(&format!("{path}.extract"), e))
                .transpose()?,
            map,
            fallback: fallback.into_iter().next().map(|(_, v)| v),
            default: rule.default.clone(),
            formats: rule.formats.clone(),
            matches: rule
                .matches
                .as_deref()
                .map(|m| {
                    Regex::new(m)
                        .map_err(|e| (format!("{path}.matches"), format!("invalid regex: {e}")))
                })
                .transpose()?,
            required: rule.required,
            // A currency never fails to parse; its rule names the reject for a missing FX rate.
            rule: rule.rule.clone().unwrap_or_else(|| {
                if *field == Field::Currency {
                    "missing_fx_rate".into()
                } else {
                    format!("bad_{}", column.name)
                }
            }),
            missing_rule: rule
                .missing_rule
                .clone()
                .unwrap_or_else(|| format!("missing_{}", column.name)),
            check_digit: rule.check_digit.unwrap_or(true),
            otherwise: match rule.otherwise {
                None => None,
                Some(
                    to @ (Field::VendorProductCode
                    | Field::VendorProductName
                    | Field::FunctionalName),
                ) if *field == Field::ProductEan => Some(to),
                Some(_) if *field != Field::ProductEan => {
                    return Err((
                        format!("{path}.otherwise"),
                        "only product_ean has `otherwise`".into(),
                    ))
                }
                Some(to) => {
                    return Err((
                        format!("{path}.otherwise"),
                        format!(
                        "{}: expected vendor_product_code, vendor_product_name or functional_name",
                        crate::spec::field_name(to)
                    ),
                    ))
                }
            },
        });
    }
    let has = |f: Field| spec.fields.contains_key(&f);
    match spec.target {
        Target::Sellout => {
            if !has(Field::Quantity) {
                return Err((
                    "fields".into(),
                    "sell-out specs must fill `quantity`".into(),
                ));
            }
            let identified =
                has(Field::ProductEan) || has(Field::FunctionalName) || spec.lookup.is_some();
            if !identified {
                return Err((
                    "fields".into(),
                    "fill `product_ean` or `functional_name`, or give a `lookup`".into(),
                ));
            }
        }
        Target::Orders => {
            for f in [Field::OrderId, Field::OrderDate, Field::Quantity] {
                if !has(f) {
                    return Err(("fields".into(), format!("order specs must fill {f:?}")));
                }
            }
        }
    }
    Ok(out)
}

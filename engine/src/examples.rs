//! Runs the examples embedded in a spec: each example's cells go through the real pipeline and
//! the rows and rejects it produces are compared with what the example expects.

use crate::pipeline;
use crate::raw::{MemorySheet, MemoryWorkbook};
use crate::reference::Reference;
use crate::spec::{CompiledSpec, Example};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::json::ArrayWriter;
use serde_json::Value;

/// One failed expectation of one example.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub example: String,
    pub message: String,
}

/// Turns an example's YAML cells into text cells, as a reader would render them.
fn cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

fn workbook(e: &Example) -> MemoryWorkbook {
    let rows = e
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    MemoryWorkbook {
        file_name: e.file_name.clone(),
        sheets: vec![MemorySheet::new(e.sheet.clone().unwrap_or_default(), rows)],
    }
}

/// Runs every example of a spec; an empty result means all passed.
pub fn run_examples(spec: &CompiledSpec, reference: &Reference) -> Vec<Failure> {
    run_examples_within(spec, reference, crate::hooks::EXAMPLES_OPERATIONS)
}

/// [`run_examples`] with every hook of every example sharing `operations`: a spec's examples
/// cannot be a CPU weapon. Spending it all fails the spec, whatever the examples expect.
pub fn run_examples_within(
    spec: &CompiledSpec,
    reference: &Reference,
    operations: u64,
) -> Vec<Failure> {
    crate::hooks::with_shared_budget(operations, || {
        spec.spec
            .examples
            .iter()
            .flat_map(|e| run_one(spec, reference, e))
            .collect()
    })
}

/// The example's own reference rows, when it has them.
fn own_reference(e: &Example) -> Result<Option<Reference>, String> {
    let Some(tables) = &e.reference else {
        return Ok(None);
    };
    let mut r = Reference::default();
    for (table, rows) in tables {
        let mut header: Vec<String> = Vec::new();
        for row in rows {
            for k in row.keys() {
                if !header.contains(k) {
                    header.push(k.clone());
                }
            }
        }
        let cells: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|row| header.iter().map(|h| row.get(h).and_then(cell)).collect())
            .collect();
        r.add_table(table, &header, &cells)
            .map_err(|m| format!("its reference rows: {m}"))?;
    }
    Ok(Some(r))
}

fn run_one(spec: &CompiledSpec, tenant_reference: &Reference, e: &Example) -> Vec<Failure> {
    let fail = |m: String| Failure {
        example: e.name.clone(),
        message: m,
    };
    let own = match own_reference(e) {
        Ok(own) => own,
        Err(m) => return vec![fail(m)],
    };
    let reference = own.as_ref().unwrap_or(tenant_reference);
    let mut batches: Vec<RecordBatch> = Vec::new();
    let mut wb = workbook(e);
    let result = pipeline::run(
        &mut wb,
        spec,
        reference,
        "example",
        &mut |b| {
            batches.push(b.clone());
            Ok(())
        },
        &mut |_| {},
    );
    if let Err(err) = &result {
        let message = err.to_string();
        if crate::hooks::budget_spent(&message) {
            return vec![fail(message)];
        }
    }
    let outcome = match (result, &e.expect.error) {
        (Err(err), Some(want)) if err.to_string().contains(want.as_str()) => return vec![],
        (Err(err), Some(want)) => {
            return vec![fail(format!(
                "expected an error containing {want:?}, got: {err}"
            ))]
        }
        (Err(err), None) => return vec![fail(format!("failed: {err}"))],
        (Ok(_), Some(want)) => {
            return vec![fail(format!(
                "expected an error containing {want:?}, but the file was accepted"
            ))]
        }
        (Ok(o), None) => o,
    };
    let rows = to_json(&batches);
    let mut failures = Vec::new();
    if rows.len() != e.expect.rows.len() {
        failures.push(fail(format!(
            "expected {} rows, got {}: {}",
            e.expect.rows.len(),
            rows.len(),
            serde_json::to_string(&rows).unwrap_or_default()
        )));
    }
    for (i, (want, got)) in e.expect.rows.iter().zip(&rows).enumerate() {
        for (k, v) in want {
            let g = got.get(k).cloned().unwrap_or(Value::Null);
            if !same(v, &g) {
                failures.push(fail(format!("row {}: {k}: expected {v}, got {g}", i + 1)));
            }
        }
    }
    let mut got: Vec<(u32, String)> = outcome
        .rejects()
        .map(|i| (i.at.row.unwrap_or(0), i.rule.clone()))
        .collect();
    got.sort();
    got.dedup();
    let mut want: Vec<(u32, String)> = e
        .expect
        .rejects
        .iter()
        .map(|r| (r.row, r.rule.clone()))
        .collect();
    want.sort();
    if got != want {
        let details: Vec<String> = outcome.rejects().map(ToString::to_string).collect();
        failures.push(fail(format!(
            "expected rejects {want:?}, got {got:?} ({})",
            details.join("; ")
        )));
    }
    if let Some(expected) = &e.expect.warnings {
        let mut got: Vec<(u32, String)> = outcome
            .issues
            .iter()
            .filter(|i| i.severity == crate::issues::Severity::Warn)
            .map(|i| (i.at.row.unwrap_or(0), i.rule.clone()))
            .collect();
        got.sort();
        let mut want: Vec<(u32, String)> =
            expected.iter().map(|r| (r.row, r.rule.clone())).collect();
        want.sort();
        if got != want {
            failures.push(fail(format!("expected warnings {want:?}, got {got:?}")));
        }
    }
    failures
}

/// Compares loosely: numbers by value whatever their JSON form (`"1.50"`, `1.5`).
fn same(want: &Value, got: &Value) -> bool {
    let num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    match (num(want), num(got)) {
        (Some(a), Some(b))
            if matches!(want, Value::Number(_)) || matches!(got, Value::Number(_)) =>
        {
            (a - b).abs() < 1e-9
        }
        _ => want == got || want.as_str().is_some_and(|w| got.as_str() == Some(w)),
    }
}

/// Canonical batches as JSON objects (dates as ISO strings, decimals as strings).
pub fn to_json(batches: &[RecordBatch]) -> Vec<serde_json::Map<String, Value>> {
    let mut buf = Vec::new();
    let mut w = ArrayWriter::new(&mut buf);
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    if w.write_batches(&refs).is_err() || w.finish().is_err() {
        return vec![];
    }
    serde_json::from_slice::<Vec<serde_json::Map<String, Value>>>(&buf).unwrap_or_default()
}

//! SQL expressions in specs (`derive`, `validate`), planned by DataFusion against the canonical
//! schema once, when the spec is compiled, and evaluated over whole Arrow batches.

use crate::schema;
use crate::spec::VendorSpec;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::error::Result as DfResult;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// A planned `derive` entry: the canonical column it writes and its expression.
#[derive(Debug, Clone)]
pub struct DeriveExpr {
    pub column: usize,
    pub data_type: DataType,
    pub expr: Arc<dyn PhysicalExpr>,
}

/// A planned `validate` entry.
#[derive(Debug, Clone)]
pub struct CheckExpr {
    pub index: usize,
    pub expr: Arc<dyn PhysicalExpr>,
}

/// All planned expressions of a spec.
#[derive(Debug, Clone, Default)]
pub struct SpecExprs {
    pub derive: Vec<DeriveExpr>,
    pub checks: Vec<CheckExpr>,
}

fn plan(ctx: &SessionContext, schema: &DFSchema, sql: &str) -> DfResult<Arc<dyn PhysicalExpr>> {
    crate::sql_guard::check_depth(sql)
        .map_err(|e| datafusion::error::DataFusionError::Plan(e.to_string()))?;
    let expr = ctx.parse_sql_expr(sql, schema)?;
    ctx.create_physical_expr(expr, schema)
}

/// Plans a spec's expressions; errors are `(path, message)`.
pub fn compile(spec: &VendorSpec) -> Result<SpecExprs, (String, String)> {
    if spec.derive.is_empty() && spec.validate.is_empty() {
        return Ok(SpecExprs::default());
    }
    let arrow_schema = schema::schema(spec.target);
    let df_schema = DFSchema::try_from(arrow_schema.as_ref().clone())
        .map_err(|e| ("derive".into(), e.to_string()))?;
    let ctx = SessionContext::new();
    let mut out = SpecExprs::default();
    for (i, d) in spec.derive.iter().enumerate() {
        let path = format!("derive[{i}].expr");
        let col = schema::column_for(spec.target, d.field).ok_or_else(|| {
            (
                format!("derive[{i}].field"),
                "not a column of the target table".to_owned(),
            )
        })?;
        let column = arrow_schema
            .index_of(col.name)
            .map_err(|e| (path.clone(), e.to_string()))?;
        let expr =
            plan(&ctx, &df_schema, &d.expr).map_err(|e| (path, first_line(&e.to_string())))?;
        out.derive.push(DeriveExpr {
            column,
            data_type: col.data_type.clone(),
            expr,
        });
    }
    for (i, v) in spec.validate.iter().enumerate() {
        let path = format!("validate[{i}].check");
        let expr = plan(&ctx, &df_schema, &v.check)
            .map_err(|e| (path.clone(), first_line(&e.to_string())))?;
        let ty = expr
            .data_type(&arrow_schema)
            .map_err(|e| (path.clone(), e.to_string()))?;
        if ty != DataType::Boolean {
            return Err((
                path,
                format!("a check must be true or false, this one is {ty}"),
            ));
        }
        out.checks.push(CheckExpr { index: i, expr });
    }
    Ok(out)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_owned()
}

/// Applies `derive` entries to a canonical batch, in order.
pub fn apply_derive(exprs: &SpecExprs, batch: RecordBatch) -> DfResult<RecordBatch> {
    let mut batch = batch;
    for d in &exprs.derive {
        let value = d.expr.evaluate(&batch)?.into_array(batch.num_rows())?;
        let value = cast(&value, &d.data_type)?;
        let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
        cols[d.column] = value;
        batch = RecordBatch::try_new(batch.schema(), cols)?;
    }
    Ok(batch)
}

/// Evaluates one check; `false` marks a failing row, `NULL` passes (SQL CHECK semantics).
pub fn failing_rows(check: &CheckExpr, batch: &RecordBatch) -> DfResult<Vec<usize>> {
    let v = check.expr.evaluate(batch)?.into_array(batch.num_rows())?;
    let b = v
        .as_any()
        .downcast_ref::<BooleanArray>()
        .expect("checks are planned as boolean");
    Ok((0..b.len())
        .filter(|&i| b.is_valid(i) && !b.value(i))
        .collect())
}

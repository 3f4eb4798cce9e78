//! A byte budget per query for the functions that build values larger than their inputs
//! (`repeat`, `lpad`, `rpad`, `replace`, `regexp_replace`, `concat`, `concat_ws`,
//! `array_repeat`, and the `||` operator). DataFusion's memory pool tracks operators (sorts,
//! joins, aggregates), not the arrays an expression returns, so `repeat('x', 2000000000)` would
//! allocate 2 GB unchecked. Each call here first works out the largest output it can produce
//! for its batch, charges that to the query's budget, and fails with a clear error when the
//! budget is spent. Scalar `range` and `generate_series` (which return lists) are not offered
//! (the table functions of the same names stream and stay available).

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::compute::kernels::concat_elements::concat_elements_dyn;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::udf_eq::UdfEq;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes one query may build with the functions above.
pub const QUERY_BUILD_BYTES: usize = 256 << 20;

/// The functions replaced by bounded ones of the same names.
const BOUNDED: [&str; 8] = [
    "repeat",
    "lpad",
    "rpad",
    "replace",
    "regexp_replace",
    "concat",
    "concat_ws",
    "array_repeat",
];

/// Name of the bounded `||`.
pub const CONCAT_OP: &str = "__bounded_concat";

/// What is left of a query's budget.
#[derive(Debug, Clone)]
pub struct Budget(Arc<AtomicUsize>);

impl Budget {
    pub fn new(bytes: usize) -> Self {
        Self(Arc::new(AtomicUsize::new(bytes)))
    }

    fn charge(&self, function: &str, bytes: usize) -> Result<()> {
        let taken = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(bytes)
            });
        if taken.is_err() {
            return exec_err!(
                "{function} would build {} MB; a query may build at most {} MB of text with repeat, lpad, rpad, replace, concat and ||",
                bytes >> 20,
                QUERY_BUILD_BYTES >> 20
            );
        }
        Ok(())
    }
}

/// Replaces the session's value-building functions with bounded ones sharing `budget`, adds
/// the bounded `||`, and removes the scalar list generators.
pub fn install(ctx: &SessionContext, budget: &Budget) {
    for name in BOUNDED {
        // `ctx.udf` reads the registry in place; `ctx.state()` would clone the whole session
        // state, on every request.
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(Bounded {
                inner: UdfEq::from(inner.inner().clone()),
                budget: budget.clone(),
            }));
        }
    }
    ctx.register_udf(ScalarUDF::new_from_impl(ConcatOp {
        signature: Signature::any(2, Volatility::Immutable),
        budget: budget.clone(),
    }));
    for name in ["range", "generate_series"] {
        ctx.deregister_udf(name);
    }
}

/// Whether `udf` is one of the functions above. A plan sent to a cluster names them
/// ([`fresh`] makes them again there): the cluster's own functions of the same names are not
/// bounded.
pub fn is_bounded(udf: &ScalarUDF) -> bool {
    udf.inner().downcast_ref::<Bounded>().is_some()
        || udf.inner().downcast_ref::<ConcatOp>().is_some()
}

/// The bounded function `name` with a budget of its own, for a plan decoded elsewhere (on a
/// cluster's executor each task decodes its plan, so each task gets [`QUERY_BUILD_BYTES`]).
pub fn fresh(name: &str) -> Option<ScalarUDF> {
    let budget = Budget::new(QUERY_BUILD_BYTES);
    if name == CONCAT_OP {
        return Some(ScalarUDF::new_from_impl(ConcatOp {
            signature: Signature::any(2, Volatility::Immutable),
            budget,
        }));
    }
    let inner = datafusion::execution::SessionStateDefaults::default_scalar_functions()
        .into_iter()
        .find(|f| f.name() == name && BOUNDED.contains(&name))?;
    Some(ScalarUDF::new_from_impl(Bounded {
        inner: UdfEq::from(inner.inner().clone()),
        budget,
    }))
}

/// Byte length of each row of a string (or any) argument; 8 for other types.
fn lengths(v: &ColumnarValue, rows: usize) -> Vec<usize> {
    match v {
        ColumnarValue::Scalar(s) => vec![scalar_len(s); rows],
        ColumnarValue::Array(a) => (0..a.len()).map(|i| array_len(a, i)).collect(),
    }
}

fn scalar_len(s: &ScalarValue) -> usize {
    match s {
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
            v.as_ref().map_or(0, String::len)
        }
        _ => 8,
    }
}

fn array_len(a: &ArrayRef, i: usize) -> usize {
    if a.is_null(i) {
        return 0;
    }
    match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().value(i).len(),
        DataType::LargeUtf8 => a.as_string::<i64>().value(i).len(),
        DataType::Utf8View => a.as_string_view().value(i).len(),
        _ => 8,
    }
}

/// Each row of an integer argument, negatives and NULLs as 0.
fn counts(v: &ColumnarValue, rows: usize) -> Vec<usize> {
    let as_count = |s: ScalarValue| {
        s.cast_to(&DataType::Int64)
            .ok()
            .and_then(|v| match v {
                ScalarValue::Int64(Some(n)) => Some(n.max(0) as usize),
                _ => None,
            })
            .unwrap_or(0)
    };
    match v {
        ColumnarValue::Scalar(s) => vec![as_count(s.clone()); rows],
        ColumnarValue::Array(a) => (0..a.len())
            .map(|i| ScalarValue::try_from_array(a, i).map_or(0, as_count))
            .collect(),
    }
}

/// The most bytes `function` can build from these arguments.
fn worst_case(function: &str, args: &[ColumnarValue], rows: usize) -> usize {
    let len = |i: usize| args.get(i).map_or(vec![0; rows], |a| lengths(a, rows));
    let n = |i: usize| args.get(i).map_or(vec![0; rows], |a| counts(a, rows));
    let per_row: Vec<usize> = match function {
        "repeat" => len(0)
            .iter()
            .zip(n(1))
            .map(|(l, n)| l.saturating_mul(n))
            .collect(),
        // Characters, up to four bytes each.
        "lpad" | "rpad" => n(1).iter().map(|n| n.saturating_mul(4)).collect(),
        // Every character replaced by the replacement, in the worst case.
        "replace" | "regexp_replace" => {
            let to = len(2);
            len(0)
                .iter()
                .zip(to)
                .map(|(l, t)| (l + 1).saturating_mul(t + 1))
                .collect()
        }
        "array_repeat" => len(0)
            .iter()
            .zip(n(1))
            .map(|(l, n)| (l + 8).saturating_mul(n))
            .collect(),
        // concat, concat_ws and ||: the sum of the inputs (and separators).
        _ => {
            let all: Vec<Vec<usize>> = (0..args.len()).map(len).collect();
            (0..rows)
                .map(|r| all.iter().map(|a| a[r]).fold(0usize, usize::saturating_add))
                .map(|s| s.saturating_mul(2))
                .collect()
        }
    };
    per_row.into_iter().fold(0usize, usize::saturating_add)
}

/// A built-in function, charged to the budget before it runs.
#[derive(Debug)]
struct Bounded {
    inner: UdfEq<Arc<dyn ScalarUDFImpl>>,
    budget: Budget,
}

impl PartialEq for Bounded {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && Arc::ptr_eq(&self.budget.0, &other.budget.0)
    }
}
impl Eq for Bounded {}
impl Hash for Bounded {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl ScalarUDFImpl for Bounded {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let bytes = worst_case(self.inner.name(), &args.args, args.number_rows.max(1));
        self.budget.charge(self.inner.name(), bytes)?;
        self.inner.invoke_with_args(args)
    }
    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        self.inner.documentation()
    }
}

/// `a || b` on text, charged to the budget; NULL when either side is NULL, as `||` is.
#[derive(Debug)]
struct ConcatOp {
    signature: Signature,
    budget: Budget,
}

impl PartialEq for ConcatOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.budget.0, &other.budget.0)
    }
}
impl Eq for ConcatOp {}
impl Hash for ConcatOp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        CONCAT_OP.hash(state);
    }
}

impl ScalarUDFImpl for ConcatOp {
    fn name(&self) -> &str {
        CONCAT_OP
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types.first().cloned().unwrap_or(DataType::Utf8))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows.max(1);
        self.budget
            .charge("||", worst_case("||", &args.args, rows))?;
        let scalars = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let out = concat_elements_dyn(arrays[0].as_ref(), arrays[1].as_ref())?;
        Ok(if scalars {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

//! Rhai hooks, for what the declarative spec cannot say. Hooks run sandboxed: no modules, no
//! I/O (print and debug go nowhere), bounded operations, call depth and memory. A hook that runs
//! away fails its file with a clear error instead of hanging the worker.

use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};

/// Longest hook source. Rhai bounds each string and array, not their total: a short script
/// keeps the number of values it can hold alive small.
pub const MAX_HOOK_BYTES: usize = 16 * 1024;

/// Operations one hook call may take before it is stopped.
pub const MAX_OPERATIONS: u64 = 100_000;

const REJECT_MARK: &str = "taskifai:reject:";

/// Hook operations all the examples of one submitted spec may take together: twice one batch
/// hook's budget, so twenty examples that each loop to their own limit cannot add up to a
/// billion operations.
pub const EXAMPLES_OPERATIONS: u64 = 2 * MAX_BATCH_OPERATIONS;

const BUDGET_MARK: &str = "taskifai:budget";

/// A budget of hook operations shared by every engine that takes it, across threads.
pub type SharedBudget = std::sync::Arc<std::sync::atomic::AtomicU64>;

thread_local! {
    /// The budget hook engines built on this thread charge, while one is set.
    static SHARED_BUDGET: std::cell::RefCell<Option<SharedBudget>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with one operation budget shared by every hook engine built while it runs (on this
/// thread, and on the pipeline's worker threads, which take it over): the spec examples of one
/// submission. Hooks stop when it is spent.
pub fn with_shared_budget<T>(operations: u64, f: impl FnOnce() -> T) -> T {
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(operations));
    within_budget(Some(budget), f)
}

/// The budget set on this thread, for threads it starts to take over.
pub fn current_budget() -> Option<SharedBudget> {
    SHARED_BUDGET.with(|b| b.borrow().clone())
}

/// Runs `f` with `budget` as this thread's shared budget.
pub fn within_budget<T>(budget: Option<SharedBudget>, f: impl FnOnce() -> T) -> T {
    let before = SHARED_BUDGET.with(|b| b.replace(budget));
    let out = f();
    SHARED_BUDGET.with(|b| b.replace(before));
    out
}

fn budget_message() -> String {
    format!("the spec's examples together ran more than {EXAMPLES_OPERATIONS} hook operations and were stopped ({BUDGET_MARK})")
}

/// Whether a hook error is the shared budget running out.
pub fn budget_spent(message: &str) -> bool {
    message.contains(BUDGET_MARK)
}

/// Charges each run's operations to the shared budget, when one is set on this thread.
fn charge_shared_budget(engine: &mut Engine) {
    let Some(budget) = current_budget() else {
        return;
    };
    // Rhai reports the operations of the current run so far; a smaller count starts a new run.
    let last = std::sync::atomic::AtomicU64::new(0);
    engine.on_progress(move |ops| {
        use std::sync::atomic::Ordering::Relaxed;
        let before = last.swap(ops, Relaxed);
        let spent = if ops >= before { ops - before } else { ops };
        let left = budget
            .fetch_update(Relaxed, Relaxed, |l| Some(l.saturating_sub(spent)))
            .map_or(0, |l| l.saturating_sub(spent));
        (left == 0).then(|| Dynamic::from(BUDGET_MARK))
    });
}

/// The only way to build a hook engine: one place for the sandbox limits.
pub fn hook_engine() -> Engine {
    let mut engine = Engine::new();
    charge_shared_budget(&mut engine);
    engine
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(16)
        .set_max_expr_depths(32, 16)
        .set_max_string_size(16 * 1024)
        .set_max_array_size(10_000)
        .set_max_map_size(1_000)
        .disable_symbol("eval");
    engine.on_print(|_| {});
    engine.on_debug(|_, _, _| {});
    engine.register_fn("reject", |why: &str| -> Result<(), Box<EvalAltResult>> {
        Err(format!("{REJECT_MARK}{why}").into())
    });
    engine
}

/// Operations one batch hook call may take: a row hook's budget for each row of a full batch.
pub const MAX_BATCH_OPERATIONS: u64 = 50_000_000;

/// The field a batch hook sets on a row to reject it.
pub const REJECT_FIELD: &str = "_reject";

/// The engine for batch hooks: the same sandbox, with room for a batch of rows (4,096) and no
/// more: nested arrays count towards the limit too, so a hook cannot build gigabytes of lists.
pub fn batch_hook_engine() -> Engine {
    let mut engine = hook_engine();
    engine
        .set_max_operations(MAX_BATCH_OPERATIONS)
        .set_max_array_size(10_000);
    engine
}

/// A compiled batch hook: sees every row of a source batch at once (`rows`, an array of maps),
/// for rules that span rows. It may change fields and reject a row by setting its `_reject`
/// field to the reason; it may not add, remove or reorder rows.
#[derive(Debug, Clone)]
pub struct BatchHook {
    ast: AST,
}

impl BatchHook {
    pub fn compile(source: &str) -> Result<Self, Box<rhai::ParseError>> {
        batch_hook_engine()
            .compile(source)
            .map(|ast| Self { ast })
            .map_err(Box::new)
    }

    /// Runs the hook; errors (and a changed row count) fail the file.
    pub fn run(&self, engine: &Engine, rows: rhai::Array) -> Result<Vec<Map>, String> {
        let n = rows.len();
        let mut scope = Scope::new();
        scope.push("rows", rows);
        engine.run_ast_with_scope(&mut scope, &self.ast).map_err(|e| match *e {
            EvalAltResult::ErrorTooManyOperations(_) => format!("the batch hook ran more than {MAX_BATCH_OPERATIONS} operations and was stopped (an endless loop?)"),
            EvalAltResult::ErrorTerminated(..) => budget_message(),
            other => other.to_string(),
        })?;
        let out = scope
            .get_value::<rhai::Array>("rows")
            .ok_or("the batch hook replaced `rows` with something that is not an array")?;
        if out.len() != n {
            return Err(format!("the batch hook returned {} rows for {n}; it may change and reject rows, not add or remove them", out.len()));
        }
        out.into_iter()
            .map(|r| {
                r.try_cast::<Map>().ok_or_else(|| {
                    "the batch hook put something that is not a map in `rows`".to_owned()
                })
            })
            .collect()
    }
}

/// What a row hook decided.
#[derive(Debug, Clone)]
pub enum HookOutcome {
    /// The row, possibly changed.
    Keep(Map),
    /// The hook called `reject(why)`.
    Reject(String),
}

/// A compiled row hook.
#[derive(Debug, Clone)]
pub struct RowHook {
    ast: AST,
}

impl RowHook {
    pub fn compile(source: &str) -> Result<Self, Box<rhai::ParseError>> {
        hook_engine()
            .compile(source)
            .map(|ast| Self { ast })
            .map_err(Box::new)
    }

    /// Runs the hook on one row (`row` in the script). Errors other than `reject` fail the file.
    pub fn run(&self, engine: &Engine, row: Map) -> Result<HookOutcome, String> {
        let mut scope = Scope::new();
        scope.push("row", row);
        match engine.run_ast_with_scope(&mut scope, &self.ast) {
            Ok(()) => {
                Ok(HookOutcome::Keep(scope.get_value::<Map>("row").ok_or(
                    "the hook replaced `row` with something that is not a map",
                )?))
            }
            Err(e) => match reject_reason(&e) {
                Some(why) => Ok(HookOutcome::Reject(why)),
                None => Err(describe(&e)),
            },
        }
    }
}

fn reject_reason(e: &EvalAltResult) -> Option<String> {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => v
            .clone()
            .into_string()
            .ok()?
            .strip_prefix(REJECT_MARK)
            .map(str::to_owned),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => reject_reason(inner),
        _ => None,
    }
}

fn describe(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorTooManyOperations(_) => format!("the hook ran more than {MAX_OPERATIONS} operations on one row and was stopped (an endless loop?)"),
        EvalAltResult::ErrorTerminated(..) => budget_message(),
        other => other.to_string(),
    }
}

/// Turns a text cell into a hook value.
pub fn text(v: Option<&str>) -> Dynamic {
    v.map_or(Dynamic::UNIT, |s| Dynamic::from(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Map {
        let mut m = Map::new();
        m.insert("store".into(), "ON".into());
        m
    }

    #[test]
    fn hooks_change_rows_and_reject_them() {
        let e = hook_engine();
        let h = RowHook::compile(r#"if row.store == "ON" { row.channel = "online"; }"#).unwrap();
        let HookOutcome::Keep(m) = h.run(&e, row()).unwrap() else {
            panic!("kept")
        };
        assert_eq!(m["channel"].clone().into_string().unwrap(), "online");
        let h = RowHook::compile(r#"reject("closed store")"#).unwrap();
        assert!(
            matches!(h.run(&e, row()).unwrap(), HookOutcome::Reject(why) if why == "closed store")
        );
    }

    #[test]
    fn batch_hooks_see_every_row_and_reject_by_field() {
        let h = BatchHook::compile(r#"let seen = #{}; for i in 0..rows.len() { let s = rows[i].store; if s in seen { rows[i]._reject = "duplicate store"; } seen[s] = true; }"#).unwrap();
        let out = h
            .run(&batch_hook_engine(), vec![row().into(), row().into()])
            .unwrap();
        assert!(!out[0].contains_key(REJECT_FIELD));
        assert_eq!(
            out[1][REJECT_FIELD].clone().into_string().unwrap(),
            "duplicate store"
        );
        let err = BatchHook::compile("rows.pop();")
            .unwrap()
            .run(&batch_hook_engine(), vec![row().into()])
            .unwrap_err();
        assert!(err.contains("not add or remove"), "{err}");
    }

    #[test]
    fn a_hook_that_loops_forever_is_stopped() {
        let h = RowHook::compile("loop { }").unwrap();
        let err = h.run(&hook_engine(), row()).unwrap_err();
        assert!(err.contains("endless loop"), "{err}");
    }
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    #[test]
    fn hooks_built_under_a_shared_budget_stop_when_it_is_spent() {
        let h = RowHook::compile("loop { }").unwrap();
        let row = || {
            let mut m = Map::new();
            m.insert("x".into(), Dynamic::from(1_i64));
            m
        };
        let errors: Vec<String> = with_shared_budget(250_000, || {
            let e = hook_engine();
            (0..4)
                .map(|_| h.run(&e, row()).err().unwrap_or_default())
                .collect()
        });
        assert!(errors[0].contains("on one row"), "{errors:?}");
        assert!(budget_spent(&errors[2]), "{errors:?}");
        assert!(budget_spent(&errors[3]), "{errors:?}");
    }
}

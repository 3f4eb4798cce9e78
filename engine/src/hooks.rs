//! Rhai hooks, for what the declarative spec cannot say. Hooks run sandboxed: no modules, no
//! I/O (print and debug go nowhere), bounded operations, call depth and memory. A hook that runs
//! away fails its file with a clear error instead of hanging the worker.

use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};

/// Longest hook source.
pub const MAX_HOOK_BYTES: usize = 16 * 1024;

/// Memory a row hook may hold at once (every value it makes, counted by the allocator).
pub const ROW_HOOK_MEMORY: i64 = 16 << 20;

/// Memory a batch hook may hold at once, beyond the rows it is given.
pub const BATCH_HOOK_MEMORY: i64 = 128 << 20;

const MEMORY_MARK: &str = "taskifai:memory";

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

/// Stops a run that holds more than `memory` bytes (hooks run inside
/// [`taskifai_meter::metered`]) or, when a shared budget is set on this thread, that spends
/// it: each run's operations are charged to it.
fn watch(engine: &mut Engine, memory: i64) {
    let budget = current_budget();
    // Rhai reports the operations of the current run so far; a smaller count starts a new run.
    let last = std::sync::atomic::AtomicU64::new(0);
    engine.on_progress(move |ops| {
        use std::sync::atomic::Ordering::Relaxed;
        if taskifai_meter::held() > memory {
            return Some(Dynamic::from(MEMORY_MARK));
        }
        let budget = budget.as_ref()?;
        let before = last.swap(ops, Relaxed);
        let spent = if ops >= before { ops - before } else { ops };
        let left = budget
            .fetch_update(Relaxed, Relaxed, |l| Some(l.saturating_sub(spent)))
            .map_or(0, |l| l.saturating_sub(spent));
        (left == 0).then(|| Dynamic::from(BUDGET_MARK))
    });
}

/// Why a run was terminated, from the token the progress callback stopped it with.
fn terminated(token: &Dynamic, memory: i64) -> String {
    match token.clone().into_string() {
        Ok(t) if t == MEMORY_MARK => format!(
            "the hook held more than {} MB at once and was stopped",
            memory >> 20
        ),
        _ => budget_message(),
    }
}

/// The only way to build a hook engine: one place for the sandbox limits.
pub fn hook_engine() -> Engine {
    let mut engine = Engine::new();
    watch(&mut engine, ROW_HOOK_MEMORY);
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

/// The engine for batch hooks: the same sandbox, with room for a batch of rows. Rhai adds up
/// nested values towards its limits (the strings of every row towards the string limit, their
/// fields towards the map limit), so those are sized for 4,096 rows; what the hook holds in
/// all is bounded by [`BATCH_HOOK_MEMORY`].
pub fn batch_hook_engine() -> Engine {
    let mut engine = hook_engine();
    watch(&mut engine, BATCH_HOOK_MEMORY);
    engine
        .set_max_operations(MAX_BATCH_OPERATIONS)
        .set_max_array_size(10_000)
        .set_max_map_size(4_096 * 64)
        .set_max_string_size(64 << 20);
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
        taskifai_meter::metered(|| engine.run_ast_with_scope(&mut scope, &self.ast)).map_err(|e| match *e {
            EvalAltResult::ErrorTooManyOperations(_) => format!("the batch hook ran more than {MAX_BATCH_OPERATIONS} operations and was stopped (an endless loop?)"),
            EvalAltResult::ErrorTerminated(token, _) => terminated(&token, BATCH_HOOK_MEMORY),
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
        match taskifai_meter::metered(|| engine.run_ast_with_scope(&mut scope, &self.ast)) {
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
        EvalAltResult::ErrorTerminated(token, _) => terminated(token, ROW_HOOK_MEMORY),
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

    /// A full batch: 4,096 rows of twelve text fields, as the pipeline hands them over.
    fn batch() -> rhai::Array {
        (0..4096)
            .map(|i| {
                let mut m = Map::new();
                for f in 0..12 {
                    m.insert(
                        format!("f{f}").into(),
                        Dynamic::from(format!("value {i} {f}")),
                    );
                }
                Dynamic::from(m)
            })
            .collect()
    }

    #[test]
    fn a_batch_hook_changes_a_full_batch() {
        // Rhai adds nested values up towards its limits: with the row hook's limits, the first
        // assignment into a batch of this size failed ("Size of object map too large").
        let h = BatchHook::compile(
            r#"for i in 0..rows.len() { if i % 2 == 0 { rows[i]._reject = "even"; } rows[i].f0 = "x"; }"#,
        )
        .unwrap();
        let out = h.run(&batch_hook_engine(), batch()).unwrap();
        assert_eq!(out.len(), 4096);
        assert!(out[0].contains_key(REJECT_FIELD) && !out[1].contains_key(REJECT_FIELD));
    }

    #[test]
    fn a_batch_hook_that_holds_too_much_memory_is_stopped() {
        // Every field of every row a new 16 KB string: about 800 MB, each value within Rhai's
        // own limits.
        let h = BatchHook::compile(
            r#"let s = "x"; s.pad(16000, "x"); for i in 0..rows.len() { for k in 0..12 { rows[i]["f" + k] = s + i + k; } }"#,
        )
        .unwrap();
        let err = h.run(&batch_hook_engine(), batch()).unwrap_err();
        assert_eq!(
            err,
            "the hook held more than 128 MB at once and was stopped"
        );
    }
}

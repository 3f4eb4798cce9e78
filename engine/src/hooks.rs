//! Rhai hooks, for what the declarative spec cannot say. Hooks run sandboxed: no modules, no
//! I/O (print and debug go nowhere), bounded operations, call depth and memory. A hook that runs
//! away fails its file with a clear error instead of hanging the worker.

use rhai::{Dynamic, Engine, EvalAltResult, Map, Scope, AST};

/// Operations one hook call may take before it is stopped.
pub const MAX_OPERATIONS: u64 = 100_000;

const REJECT_MARK: &str = "taskifai:reject:";

/// The only way to build a hook engine: one place for the sandbox limits.
pub fn hook_engine() -> Engine {
    let mut engine = Engine::new();
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
    engine.register_fn("reject", |why: &str| -> Result<(), Box<EvalAltResult>> { Err(format!("{REJECT_MARK}{why}").into()) });
    engine
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
        hook_engine().compile(source).map(|ast| Self { ast }).map_err(Box::new)
    }

    /// Runs the hook on one row (`row` in the script). Errors other than `reject` fail the file.
    pub fn run(&self, engine: &Engine, row: Map) -> Result<HookOutcome, String> {
        let mut scope = Scope::new();
        scope.push("row", row);
        match engine.run_ast_with_scope(&mut scope, &self.ast) {
            Ok(()) => Ok(HookOutcome::Keep(scope.get_value::<Map>("row").ok_or("the hook replaced `row` with something that is not a map")?)),
            Err(e) => match reject_reason(&e) {
                Some(why) => Ok(HookOutcome::Reject(why)),
                None => Err(describe(&e)),
            },
        }
    }
}

fn reject_reason(e: &EvalAltResult) -> Option<String> {
    match e {
        EvalAltResult::ErrorRuntime(v, _) => v.clone().into_string().ok()?.strip_prefix(REJECT_MARK).map(str::to_owned),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _) => reject_reason(inner),
        _ => None,
    }
}

fn describe(e: &EvalAltResult) -> String {
    match e {
        EvalAltResult::ErrorTooManyOperations(_) => format!("the hook ran more than {MAX_OPERATIONS} operations on one row and was stopped (an endless loop?)"),
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
        let HookOutcome::Keep(m) = h.run(&e, row()).unwrap() else { panic!("kept") };
        assert_eq!(m["channel"].clone().into_string().unwrap(), "online");
        let h = RowHook::compile(r#"reject("closed store")"#).unwrap();
        assert!(matches!(h.run(&e, row()).unwrap(), HookOutcome::Reject(why) if why == "closed store"));
    }

    #[test]
    fn a_hook_that_loops_forever_is_stopped() {
        let h = RowHook::compile("loop { }").unwrap();
        let err = h.run(&hook_engine(), row()).unwrap_err();
        assert!(err.contains("endless loop"), "{err}");
    }
}

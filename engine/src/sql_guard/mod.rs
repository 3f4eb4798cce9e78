//! The SQL guard: one statement, a read-only query, planned against a session that holds only
//! one tenant's tables, with a row cap pushed into the plan. Power users and the AI chat go
//! through here; nothing else runs user SQL.

pub mod bounded;

use datafusion::execution::FunctionRegistry;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion::sql::sqlparser::dialect::GenericDialect;

/// Why a query was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SqlRejected {
    #[error("the SQL does not parse: {0}")]
    Syntax(String),
    #[error("send exactly one statement; this text has {0}")]
    StatementCount(usize),
    #[error("only SELECT queries may run here; {0} statements are refused")]
    NotAQuery(String),
    #[error("{0}")]
    Plan(String),
    #[error("the SQL is {0} bytes; the limit is {MAX_SQL_BYTES}")]
    TooLong(usize),
    #[error("an expression chains or nests {0} operators; the limit is {MAX_EXPR_DEPTH} (use IN (...) for long lists of alternatives)")]
    TooDeep(usize),
}

/// Longest SQL text the guard plans. A dashboard's or a chat's query is a few KB.
pub const MAX_SQL_BYTES: usize = 64 * 1024;

/// Deepest expression the guard plans. Planning walks expression trees recursively: a
/// 100-term `OR` chain is 100 levels deep. DataFusion's `recursive_protection` keeps deeper ones
/// from overflowing the stack; this limit keeps their planning time and memory small.
pub const MAX_EXPR_DEPTH: usize = 256;

/// Refuses text whose expressions are deeper than [`MAX_EXPR_DEPTH`], before any tree is
/// built. Works on tokens (no recursion): within each parenthesis and each list item or clause,
/// binary operators are counted and parentheses add a level, an upper bound on the depth the
/// parser would build. Text that does not tokenize is left to the parser's own error.
pub fn check_depth(sql: &str) -> Result<(), SqlRejected> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    if sql.len() > MAX_SQL_BYTES {
        return Err(SqlRejected::TooLong(sql.len()));
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(());
    };
    // Operators counted at each open parenthesis level, and their sum over the levels.
    let mut levels: Vec<usize> = vec![0];
    let mut depth = 0usize;
    for t in &tokens {
        let operator = match t {
            Token::LParen => {
                levels.push(0);
                depth += 1;
                false
            }
            Token::RParen => {
                if levels.len() > 1 {
                    depth -= levels.pop().unwrap_or(0) + 1;
                }
                false
            }
            Token::Comma => {
                depth -= std::mem::take(levels.last_mut().expect("never empty"));
                false
            }
            Token::Word(w) if is_clause(&w.value) => {
                depth -= std::mem::take(levels.last_mut().expect("never empty"));
                false
            }
            Token::Word(w) => ["and", "or", "not", "like", "ilike", "is"]
                .iter()
                .any(|k| w.value.eq_ignore_ascii_case(k)),
            Token::Plus
            | Token::Minus
            | Token::Mul
            | Token::Div
            | Token::Mod
            | Token::StringConcat
            | Token::Eq
            | Token::DoubleEq
            | Token::Neq
            | Token::Lt
            | Token::Gt
            | Token::LtEq
            | Token::GtEq
            | Token::Ampersand
            | Token::Pipe
            | Token::Caret => true,
            _ => false,
        };
        if operator {
            *levels.last_mut().expect("never empty") += 1;
            depth += 1;
        }
        if depth > MAX_EXPR_DEPTH {
            return Err(SqlRejected::TooDeep(depth));
        }
    }
    Ok(())
}

/// Words that start a new expression: the operators before them are not part of it.
fn is_clause(word: &str) -> bool {
    [
        "select", "from", "where", "group", "having", "order", "by", "limit", "offset", "on",
        "join", "when", "then", "else", "end", "union", "as", "with",
    ]
    .iter()
    .any(|k| word.eq_ignore_ascii_case(k))
}

/// Plans `sql` as a read-only query capped at `max_rows` rows.
pub async fn plan_read_only(
    ctx: &SessionContext,
    sql: &str,
    max_rows: usize,
) -> Result<LogicalPlan, SqlRejected> {
    check_depth(sql)?;
    let mut statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
        .map_err(|e| SqlRejected::Syntax(e.to_string()))?;
    if statements.len() != 1 {
        return Err(SqlRejected::StatementCount(statements.len()));
    }
    let statement = statements.pop_front().expect("one statement");
    match &statement {
        Statement::Statement(s) if matches!(s.as_ref(), SqlStatement::Query(_)) => {}
        Statement::Statement(s) => return Err(SqlRejected::NotAQuery(kind(&s.to_string()))),
        Statement::CreateExternalTable(_) => {
            return Err(SqlRejected::NotAQuery("CREATE EXTERNAL TABLE".into()))
        }
        Statement::CopyTo(_) => return Err(SqlRejected::NotAQuery("COPY".into())),
        Statement::Explain(_) => return Err(SqlRejected::NotAQuery("EXPLAIN".into())),
        _ => return Err(SqlRejected::NotAQuery("this kind of".into())),
    }
    let state = ctx.state();
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(|e| SqlRejected::Plan(explain_plan_error(ctx, &e.to_string())))?;
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| SqlRejected::NotAQuery(e.to_string()))?;
    check_no_side_effects(&plan)?;
    let plan = bound_string_concat(ctx, plan)?;
    LogicalPlanBuilder::from(plan)
        .limit(0, Some(max_rows))
        .and_then(|b| b.build())
        .map_err(|e| SqlRejected::Plan(e.to_string()))
}

/// The physical plan of a guarded query, with every operator made cooperative: each batch any
/// operator emits spends tokio's scheduling budget, so a CPU-heavy query yields its thread
/// regularly and stops soon after its task is aborted at the timeout. DataFusion itself makes
/// only the leaves cooperative, and a cross join can emit thousands of batches per input batch.
pub async fn physical_plan(
    ctx: &SessionContext,
    plan: LogicalPlan,
) -> datafusion::error::Result<std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
    use datafusion::physical_plan::coop::CooperativeExec;
    let physical = ctx.state().create_physical_plan(&plan).await?;
    physical
        .transform_up(|node| {
            let wrapped: std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan> =
                std::sync::Arc::new(CooperativeExec::new(node));
            Ok(Transformed::yes(wrapped))
        })
        .map(|t| t.data)
}

/// Replaces `a || b` on text with the budgeted `||` of [`bounded`], when the session has it.
/// Runs on the analyzed plan, where both sides already have the same text type.
fn bound_string_concat(
    ctx: &SessionContext,
    plan: LogicalPlan,
) -> Result<LogicalPlan, SqlRejected> {
    let Ok(op) = ctx.udf(bounded::CONCAT_OP) else {
        return Ok(plan);
    };
    let state = ctx.state();
    let plan = state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})
        .map_err(|e| SqlRejected::Plan(e.to_string()))?;
    plan.transform_up_with_subqueries(|node| {
        let schemas: Vec<_> = std::iter::once(node.schema().clone())
            .chain(node.inputs().iter().map(|i| i.schema().clone()))
            .collect();
        node.map_expressions(|e| {
            e.transform_up(|e| match e {
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::StringConcat,
                    right,
                }) => {
                    let text = schemas.iter().any(|s| {
                        left.get_type(s.as_ref()).is_ok_and(|t| {
                            matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
                        })
                    });
                    if text {
                        Ok(Transformed::yes(op.call(vec![*left, *right])))
                    } else {
                        Ok(Transformed::no(Expr::BinaryExpr(BinaryExpr::new(
                            left,
                            Operator::StringConcat,
                            right,
                        ))))
                    }
                }
                e => Ok(Transformed::no(e)),
            })
        })
    })
    .map(|t| t.data)
    .map_err(|e| SqlRejected::Plan(e.to_string()))
}

/// Refuses plans that read or write outside the registered tables, even if nested.
fn check_no_side_effects(plan: &LogicalPlan) -> Result<(), SqlRejected> {
    let mut bad = None;
    let _ = plan.apply(|node| {
        if matches!(
            node,
            LogicalPlan::Dml(_)
                | LogicalPlan::Ddl(_)
                | LogicalPlan::Copy(_)
                | LogicalPlan::Statement(_)
        ) {
            bad = Some(node.display().to_string());
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    bad.map_or(Ok(()), |b| Err(SqlRejected::NotAQuery(b)))
}

fn kind(sql: &str) -> String {
    sql.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// Adds "did you mean" for unknown tables, from the tables this session has.
fn explain_plan_error(ctx: &SessionContext, message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).to_owned();
    let lower = first.to_lowercase();
    if let Some(rest) = lower.split("no field named ").nth(1) {
        return explain_unknown_column(&first, rest);
    }
    if !(lower.contains("table") && lower.contains("not found")) {
        return first;
    }
    let tables: Vec<String> = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .map(|s| s.table_names())
        .unwrap_or_default();
    let wanted = first
        .split(['\'', '"', '`'])
        .nth(1)
        .unwrap_or_default()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    match crate::labels::nearest(&wanted, tables.iter().map(String::as_str)) {
        Some(t) => format!("{first}; did you mean {t:?}? Tables: {}", tables.join(", ")),
        None => format!("{first}; tables: {}", tables.join(", ")),
    }
}

/// Adds "did you mean" for an unknown column, from the canonical tables' columns.
fn explain_unknown_column(first: &str, rest: &str) -> String {
    let wanted = rest
        .trim_end_matches('.')
        .trim_matches(['"', '\'', '`'])
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let columns: Vec<String> = [crate::spec::Target::Sellout, crate::spec::Target::Orders]
        .iter()
        .flat_map(|t| {
            crate::schema::schema(*t)
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect::<Vec<_>>()
        })
        .collect();
    match crate::labels::nearest(&wanted, columns.iter().map(String::as_str)) {
        Some(c) => format!("{first} Did you mean {c:?}?"),
        None => first.to_owned(),
    }
}

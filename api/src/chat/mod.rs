//! One chat question, answered: the tenant's names and data range ([`knowledge`]), the built-in
//! planner's reading of the question, its SQL through the guard, and the answer in words with a
//! chart suggestion. The HTTP side is `server::chat`; conversations are kept by [`store`].

pub mod assisted;
pub mod cache;
pub mod model;
pub mod store;

use crate::query_runner::{run_guarded, QueryResult};
use crate::server::error::ApiError;
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};
use taskifai_engine::analytics::{Window, SALES_SQL};
use taskifai_engine::chat::answer::{self, Chart};
use taskifai_engine::chat::entities::{Product, Vocabulary};
use taskifai_engine::chat::{check, plan, understand, Context, Interpretation, Understanding};

/// How a turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyKind {
    /// A number, a ranking, a series or lines.
    Answer,
    /// A name fits several values; the user picks one.
    Ask,
    /// Outside what the planner understands.
    Decline,
    /// The model's queries did not run; the reply says what was tried.
    Failed,
}

/// Where an answer's numbers come from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provenance {
    pub tables: Vec<String>,
    /// The tenant's sales span when asked.
    pub data: Option<Window>,
    pub lake_version: u64,
}

/// One answered question.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reply {
    pub kind: ReplyKind,
    pub answer: String,
    pub interpretation: Option<Interpretation>,
    /// The interpretation in one line.
    pub understood: Option<String>,
    pub sql: Option<String>,
    pub result: Option<QueryResult>,
    pub chart: Chart,
    /// For `ask`: the values to choose from.
    pub options: Vec<String>,
    pub notes: Vec<String>,
    pub provenance: Provenance,
    /// `planner` (the built-in one), or the model's name.
    pub source: String,
}

/// Progress of a turn, for the event stream.
#[derive(Debug, Clone)]
pub enum Step {
    Interpretation(String),
    Sql(String),
    Rows(usize),
    /// A piece of the model's wording, already checked.
    AnswerDelta(String),
}

/// What the planner knows of a tenant: its names and the span of its sales.
#[derive(Debug, Clone, Default)]
pub struct Knowledge {
    pub vocabulary: Vocabulary,
    pub data: Option<Window>,
}

/// A product in the tenant's reference table.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReferenceProduct {
    pub ean: String,
    pub functional_name: String,
    pub name: Option<String>,
}

pub async fn reference_products(pool: &sqlx::PgPool) -> sqlx::Result<Vec<ReferenceProduct>> {
    sqlx::query_as("SELECT ean, functional_name, name FROM products ORDER BY ean")
        .fetch_all(pool)
        .await
}

fn text(v: Option<&serde_json::Value>) -> Option<String> {
    v.and_then(|v| v.as_str()).map(str::to_owned)
}

/// Reads the tenant's names and data span from its session; product names come from the
/// reference table where an EAN matches.
pub async fn knowledge(
    ctx: &SessionContext,
    reference: &[ReferenceProduct],
) -> Result<Knowledge, ApiError> {
    let span = run_guarded(
        ctx,
        &format!(
            "WITH sales AS ({SALES_SQL}) SELECT min(day) AS first, max(day_end) AS last FROM sales"
        ),
        1,
    )
    .await?;
    let date = |k: &str| {
        text(span.rows.first().and_then(|r| r.get(k)))
            .and_then(|s| chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
    };
    let data = match (date("first"), date("last")) {
        (Some(from), Some(to)) => Some(Window { from, to }),
        _ => None,
    };
    let mut vocabulary = Vocabulary::default();
    for (col, out) in [
        ("reseller", &mut vocabulary.resellers),
        ("store", &mut vocabulary.stores),
        ("country", &mut vocabulary.countries),
    ] {
        let r = run_guarded(
            ctx,
            &format!("WITH sales AS ({SALES_SQL}) SELECT DISTINCT {col} AS v FROM sales WHERE {col} IS NOT NULL ORDER BY 1"),
            10_000,
        )
        .await?;
        out.extend(r.rows.iter().filter_map(|r| text(r.get("v"))));
    }
    // The `product` of the sales view, with the names the files gave it.
    let products = run_guarded(
        ctx,
        "SELECT coalesce(functional_name, vendor_product_name, product_ean) AS product, min(product_ean) AS ean, min(vendor_product_name) AS name FROM sellout_entries GROUP BY 1 \
         UNION ALL SELECT coalesce(functional_name, product_name, product_ean), min(product_ean), min(product_name) FROM ecommerce_orders GROUP BY 1",
        50_000,
    )
    .await?;
    let mut by_key: std::collections::BTreeMap<String, Product> = Default::default();
    for r in &products.rows {
        let Some(key) = text(r.get("product")) else {
            continue;
        };
        let p = by_key.entry(key.clone()).or_insert_with(|| Product {
            key,
            ..Default::default()
        });
        p.ean = p.ean.take().or_else(|| text(r.get("ean")));
        p.names.extend(text(r.get("name")));
    }
    for p in by_key.values_mut() {
        let known = reference
            .iter()
            .find(|k| Some(&k.ean) == p.ean.as_ref() || k.functional_name == p.key);
        if let Some(k) = known {
            p.ean = p.ean.take().or_else(|| Some(k.ean.clone()));
            p.names.extend(k.name.clone());
        }
        p.names.sort();
        p.names.dedup();
    }
    vocabulary.products = by_key.into_values().collect();
    Ok(Knowledge { vocabulary, data })
}

/// One question and what it is asked against.
#[derive(Debug, Clone, Copy)]
pub struct Question<'a> {
    pub text: &'a str,
    /// Anchors relative dates.
    pub today: chrono::NaiveDate,
    /// The conversation's last interpretation, for follow-ups.
    pub previous: Option<&'a Interpretation>,
    /// The conversation's last turns, oldest first, for a language model's context.
    pub history: &'a [store::PastTurn],
    /// Most rows returned.
    pub cap: usize,
    pub lake_version: u64,
}

/// Answers one question over `ctx`.
pub async fn answer_question(
    ctx: &SessionContext,
    knowledge: &Knowledge,
    q: Question<'_>,
    progress: &(dyn Fn(Step) + Send + Sync),
) -> Result<Reply, ApiError> {
    let Question {
        text: question,
        today,
        previous,
        history: _,
        cap,
        lake_version,
    } = q;
    let provenance = Provenance {
        tables: vec![],
        data: knowledge.data,
        lake_version,
    };
    let reply = |kind, answer: String, options| Reply {
        kind,
        answer,
        interpretation: None,
        understood: None,
        sql: None,
        result: None,
        chart: Chart::None,
        options,
        notes: vec![],
        provenance: provenance.clone(),
        source: "planner".into(),
    };
    let planned = understand(
        question,
        &Context {
            today,
            data: knowledge.data,
            vocabulary: &knowledge.vocabulary,
            previous,
        },
    );
    let interpretation = match planned {
        Understanding::Plan(i) => i,
        Understanding::Ask { message, options } => {
            return Ok(reply(ReplyKind::Ask, message, options))
        }
        Understanding::Decline { message } => {
            return Ok(reply(ReplyKind::Decline, message, vec![]))
        }
    };
    let understood = interpretation.describe();
    progress(Step::Interpretation(understood.clone()));
    let sql = plan::sql(&interpretation);
    progress(Step::Sql(sql.clone()));
    let result = run_guarded(ctx, &sql, cap).await?;
    progress(Step::Rows(result.rows.len()));
    let mut words = answer::words(&interpretation, &result.rows, knowledge.data);
    // Nothing for these names in that period: say which months they do have.
    if let Some(months_sql) =
        plan::months_sql(&interpretation).filter(|_| answer::found_nothing(&words))
    {
        let months = run_guarded(ctx, &months_sql, 1000).await?;
        let months: Vec<chrono::NaiveDate> = months
            .rows
            .iter()
            .filter_map(|r| r.get("month")?.as_str()?.parse().ok())
            .collect();
        words.push(' ');
        words.push_str(&answer::months_with_sales(&interpretation, &months));
    }
    let context = check_context(question, &understood, &result, knowledge.data);
    if let Some(n) = check::unsupported(&words, &result.rows, &context) {
        // The planner's own wording is built from the rows; this is a bug, not a user error.
        tracing::warn!(number = n, answer = %words, "A chat answer holds a number the rows do not.");
    }
    Ok(Reply {
        kind: ReplyKind::Answer,
        answer: words,
        chart: answer::chart(&interpretation),
        notes: interpretation.notes.clone(),
        understood: Some(understood),
        interpretation: Some(interpretation),
        sql: Some(sql),
        result: Some(result),
        options: vec![],
        provenance: Provenance {
            tables: vec!["sellout_entries".into(), "ecommerce_orders".into()],
            ..provenance
        },
        source: "planner".into(),
    })
}

/// Text whose numbers an answer may repeat: the question, the interpretation, the rows' text
/// cells (dates, names) and the data span.
pub fn check_context(
    question: &str,
    understood: &str,
    result: &QueryResult,
    data: Option<Window>,
) -> String {
    let mut s = format!("{question}\n{understood}\n");
    for r in &result.rows {
        if let Some(m) = r.as_object() {
            for v in m.values().filter_map(|v| v.as_str()) {
                s.push_str(v);
                s.push(' ');
            }
        }
    }
    if let Some(d) = data {
        s.push_str(&format!(
            "{} {} {} {}",
            d.from,
            d.to,
            d.from.format("%-d %B %Y"),
            d.to.format("%-d %B %Y")
        ));
    }
    s
}

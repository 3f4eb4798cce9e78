//! `taskifai chat`: the chat's built-in planner over a tenant's lake, from the command line, and
//! its evaluation on a file of questions with expected answers.

use super::Cli;
use anyhow::Context as _;
use serde::Deserialize;
use std::path::Path;
use std::process::ExitCode;
use taskifai_api::chat::model::Model;
use taskifai_api::chat::{self, Knowledge, Reply, ReplyKind};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;

async fn prepare(
    cli: &Cli,
    tenant: &TenantId,
) -> anyhow::Result<(datafusion::prelude::SessionContext, Knowledge, u64)> {
    let lake = Lake::open(&cli.lake)?;
    let ctx = tenant_session(&lake, tenant).await?;
    let version = lake.snapshot(tenant).await?.version;
    let reference = match super::db::tenant_pool(cli, tenant).await? {
        Some(pool) => chat::reference_products(&pool).await?,
        None => vec![],
    };
    let knowledge = chat::knowledge(&ctx, &reference)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((ctx, knowledge, version))
}

async fn answer(
    ctx: &datafusion::prelude::SessionContext,
    k: &Knowledge,
    version: u64,
    question: &str,
    today: chrono::NaiveDate,
    model: Option<&Model>,
) -> anyhow::Result<Reply> {
    let q = chat::Question {
        text: question,
        today,
        previous: None,
        history: &[],
        cap: 1000,
        lake_version: version,
    };
    let reply = match model {
        Some(m) => {
            chat::assisted::answer_with_model(ctx, k, q, m, &|_| {})
                .await
                .0
        }
        None => chat::answer_question(ctx, k, q, &|_| {}).await,
    };
    reply.map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn ask(
    cli: &Cli,
    tenant: &TenantId,
    question: &str,
    json: bool,
    model: Option<&Model>,
) -> anyhow::Result<ExitCode> {
    let (ctx, knowledge, version) = prepare(cli, tenant).await?;
    let reply = answer(
        &ctx,
        &knowledge,
        version,
        question,
        chrono::Utc::now().date_naive(),
        model,
    )
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(u) = &reply.understood {
        println!("Understood: {u}");
    }
    for n in &reply.notes {
        println!("Note: {n}");
    }
    println!("\n{}\n", reply.answer);
    if let (Some(sql), Some(result)) = (&reply.sql, &reply.result) {
        println!("SQL:\n{sql}\n");
        print_table(result);
    }
    Ok(if reply.kind == ReplyKind::Answer {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn cell(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn print_table(result: &taskifai_api::query_runner::QueryResult) {
    let names: Vec<String> = result.columns.iter().map(|c| cell(c.get("name"))).collect();
    let rows: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| names.iter().map(|n| cell(r.get(n))).collect())
        .collect();
    let widths: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([n.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join(" | ")
    };
    println!("{}", line(&names));
    println!(
        "{}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-")
    );
    for r in &rows {
        println!("{}", line(r));
    }
    println!(
        "{} row{}",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" }
    );
}

/// A question file: the day questions are asked on, and each question with what must come back.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalFile {
    pub today: chrono::NaiveDate,
    pub questions: Vec<EvalQuestion>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalQuestion {
    pub q: String,
    /// The intent family, for the accuracy table.
    pub intent: String,
    /// answer, ask or decline.
    #[serde(default = "answer_kind")]
    pub expect: String,
    /// Column name to value (numbers within a cent), checked on the first row.
    #[serde(default)]
    pub first_row: serde_json::Map<String, serde_json::Value>,
    /// How many rows come back.
    #[serde(default)]
    pub rows: Option<usize>,
}

fn answer_kind() -> String {
    "answer".into()
}

/// Whether the reply is what the question expects; the reason when not.
pub fn judge(q: &EvalQuestion, reply: &Reply) -> Result<(), String> {
    let kind = match reply.kind {
        ReplyKind::Answer => "answer",
        ReplyKind::Ask => "ask",
        ReplyKind::Decline => "decline",
        ReplyKind::Failed => "failed",
    };
    if kind != q.expect {
        return Err(format!(
            "expected {}, got {kind}: {}",
            q.expect, reply.answer
        ));
    }
    let rows = reply
        .result
        .as_ref()
        .map(|r| r.rows.as_slice())
        .unwrap_or(&[]);
    if let Some(n) = q.rows {
        if rows.len() != n {
            return Err(format!("expected {n} rows, got {}", rows.len()));
        }
    }
    for (k, want) in &q.first_row {
        let got = rows.first().and_then(|r| r.get(k));
        let same = match (want.as_f64(), taskifai_engine::chat::answer::number(got)) {
            (Some(w), Some(g)) => (w - g).abs() < 0.005,
            _ if want.is_null() => got.is_none_or(|g| g.is_null()),
            _ => got == Some(want),
        };
        if !same {
            return Err(format!("{k}: expected {want}, got {}", cell(got)));
        }
    }
    Ok(())
}

pub async fn eval(
    cli: &Cli,
    tenant: &TenantId,
    file: &Path,
    model: Option<&Model>,
) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let set: EvalFile =
        serde_yaml::from_str(&text).with_context(|| format!("reading {}", file.display()))?;
    let (ctx, knowledge, version) = prepare(cli, tenant).await?;
    let mut by_intent: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut failures = Vec::new();
    for q in &set.questions {
        let reply = answer(&ctx, &knowledge, version, &q.q, set.today, model).await?;
        let score = by_intent.entry(q.intent.clone()).or_default();
        score.1 += 1;
        match judge(q, &reply) {
            Ok(()) => score.0 += 1,
            Err(why) => failures.push(format!("{:?} ({}): {why}", q.q, q.intent)),
        }
    }
    println!("{:<14} {:>7} {:>9}", "intent", "correct", "accuracy");
    let (mut ok, mut all) = (0, 0);
    for (intent, (good, n)) in &by_intent {
        println!(
            "{intent:<14} {:>7} {:>8.1}%",
            format!("{good}/{n}"),
            *good as f64 / *n as f64 * 100.0
        );
        ok += good;
        all += n;
    }
    println!(
        "{:<14} {:>7} {:>8.1}%",
        "all",
        format!("{ok}/{all}"),
        ok as f64 / all.max(1) as f64 * 100.0
    );
    for f in &failures {
        println!("FAILED {f}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

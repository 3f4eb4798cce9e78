//! The chat's built-in planner, question to answer: the evaluation set's questions over the nine
//! sample files in a local lake, each answered many times (reading, SQL through the guard, the
//! query, the wording), as the server does after its first question (names and data span
//! cached). Reports p50/p95/max per intent and the cold first reading of the tenant's names.
//!
//! `cargo bench -p taskifai-benches --bench chat -- [REPEATS]`

use std::sync::Arc;
use std::time::{Duration, Instant};
use taskifai_api::chat::{self, Question};
use taskifai_connectors::ingest::{ingest, IngestRequest};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_tests::{reference, repo_path, specs, SAMPLE_TOTALS};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    ms(sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let repeats: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir()?;
    let lake = Lake::open(dir.path().to_str().expect("a UTF-8 path"))?;
    let tenant = TenantId::demo();
    let (specs, reference) = (specs(), Arc::new(reference()));
    for t in SAMPLE_TOTALS {
        let req = IngestRequest::new(repo_path(&format!("sample-data/vendors/{}", t.0)), &tenant);
        ingest(
            &lake,
            None,
            &specs,
            reference.clone(),
            req,
            Arc::new(|_| {}),
        )
        .await?;
    }
    let ctx = tenant_session(&lake, &tenant).await?;
    let version = lake.snapshot(&tenant).await?.version;
    let started = Instant::now();
    let knowledge = chat::knowledge(&ctx, &[])
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let cold = started.elapsed();

    let text = std::fs::read_to_string(repo_path("tests/chat/questions.yaml"))?;
    let set: serde_yaml::Value = serde_yaml::from_str(&text)?;
    let today = chrono::NaiveDate::parse_from_str(set["today"].as_str().unwrap_or(""), "%Y-%m-%d")?;
    let mut by_intent: std::collections::BTreeMap<String, Vec<Duration>> = Default::default();
    let mut all = Vec::new();
    for _ in 0..repeats {
        for q in set["questions"].as_sequence().into_iter().flatten() {
            let (Some(question), Some(intent)) = (q["q"].as_str(), q["intent"].as_str()) else {
                continue;
            };
            let question = Question {
                text: question,
                today,
                previous: None,
                history: &[],
                cap: 1000,
                lake_version: version,
            };
            let t = Instant::now();
            chat::answer_question(&ctx, &knowledge, question, &|_| {})
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let took = t.elapsed();
            by_intent.entry(intent.to_owned()).or_default().push(took);
            all.push(took);
        }
    }
    println!(
        "Reading the tenant's names and data span (cold, once per lake version): {:.1} ms\n",
        ms(cold)
    );
    println!("| intent | answers | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|");
    for (intent, mut v) in by_intent.into_iter().chain([("all".to_owned(), all)]) {
        v.sort();
        println!(
            "| {intent} | {} | {:.2} | {:.2} | {:.2} |",
            v.len(),
            pct(&v, 0.5),
            pct(&v, 0.95),
            pct(&v, 1.0)
        );
    }
    Ok(())
}

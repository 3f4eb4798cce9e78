//! The chat's built-in planner, question to answer: the evaluation set's questions over the demo
//! history (18 months to June 2025 from all nine formats, as `taskifai gen-history` writes it)
//! in a local lake, each answered many times (reading, SQL through the guard, the query, the
//! wording), as the server does after its first question (names and data span cached).
//! Reports p50/p95/max to the first event (the interpretation) and to the answer, per intent,
//! and the cold first reading of the tenant's names.
//!
//! `cargo bench -p taskifai-benches --bench chat -- [REPEATS] [HISTORY_DIR]`
//! (without HISTORY_DIR the history is generated with `cargo run --release`).

use std::sync::Arc;
use std::time::{Duration, Instant};
use taskifai_api::chat::{self, Question};
use taskifai_connectors::ingest::{ingest, IngestRequest};
use taskifai_connectors::lake::Lake;
use taskifai_connectors::query_session::tenant_session;
use taskifai_connectors::TenantId;
use taskifai_tests::{reference, repo_path, specs};

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
    let history = match std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--") && a.parse::<usize>().is_err())
    {
        Some(d) => std::path::PathBuf::from(d),
        None => {
            let out = dir.path().join("history");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args([
                    "run",
                    "--release",
                    "-q",
                    "-p",
                    "taskifai-api",
                    "--",
                    "gen-history",
                ])
                .args(["--until", "2025-06", "--months", "18", "--out"])
                .arg(&out)
                .current_dir(repo_path(""))
                .status()?;
            anyhow::ensure!(status.success(), "gen-history failed");
            out
        }
    };
    let lake = Lake::open(dir.path().join("lake").to_str().expect("a UTF-8 path"))?;
    let tenant = TenantId::demo();
    let (specs, reference) = (specs(), Arc::new(reference()));
    let mut files = walk(&history)?;
    files.sort();
    for f in &files {
        let req = IngestRequest::new(f, &tenant);
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
    let rows = lake
        .snapshot(&tenant)
        .await?
        .batches
        .values()
        .map(|(m, _)| m.rows)
        .sum::<u64>();
    println!("{} files, {rows} rows loaded\n", files.len());
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
    let mut firsts: std::collections::BTreeMap<String, Vec<Duration>> = Default::default();
    let mut all = Vec::new();
    let mut all_first = Vec::new();
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
            let first = std::sync::OnceLock::new();
            chat::answer_question(&ctx, &knowledge, question, &|_| {
                let _ = first.set(t.elapsed());
            })
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let took = t.elapsed();
            // Asked back or declined: the reply is the first event.
            let first = first.get().copied().unwrap_or(took);
            by_intent.entry(intent.to_owned()).or_default().push(took);
            firsts.entry(intent.to_owned()).or_default().push(first);
            all.push(took);
            all_first.push(first);
        }
    }
    println!(
        "Reading the tenant's names and data span (cold, once per lake version): {:.1} ms\n",
        ms(cold)
    );
    println!("| intent | answers | first event p50 ms | p95 ms | answer p50 ms | p95 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|");
    firsts.insert("all".into(), all_first);
    for (intent, mut v) in by_intent.into_iter().chain([("all".to_owned(), all)]) {
        v.sort();
        let mut f = firsts.remove(&intent).unwrap_or_default();
        f.sort();
        println!(
            "| {intent} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            v.len(),
            pct(&f, 0.5),
            pct(&f, 0.95),
            pct(&v, 0.5),
            pct(&v, 0.95),
            pct(&v, 1.0)
        );
    }
    Ok(())
}

fn walk(dir: &std::path::Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

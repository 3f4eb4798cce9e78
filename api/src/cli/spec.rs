//! `taskifai spec validate|test|schema`.

use super::{Cli, SpecCommand};
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use taskifai_engine::examples::run_examples;
use taskifai_engine::spec::{json_schema, load_all, spec_files};

/// Spec files from arguments: paths, or vendor ids looked up in the specs folder.
fn files(cli: &Cli, given: &[PathBuf]) -> Vec<PathBuf> {
    if given.is_empty() {
        return spec_files(&cli.specs);
    }
    given
        .iter()
        .map(|g| {
            if g.exists() || g.extension().is_some() {
                g.clone()
            } else {
                cli.specs.join(g).with_extension("yaml")
            }
        })
        .collect()
}

pub fn run(cli: &Cli, command: &SpecCommand) -> anyhow::Result<ExitCode> {
    match command {
        SpecCommand::Schema => {
            println!("{}", serde_json::to_string_pretty(&json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
        SpecCommand::Validate { files: specs } => {
            let (ok, errors) = load_all(&files(cli, specs));
            for s in &ok {
                println!("ok     {} v{}", s.spec.vendor, s.spec.version);
            }
            for e in &errors {
                println!("error  {e}");
            }
            Ok(if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        SpecCommand::Test { files: specs } => {
            let reference = taskifai_connectors::reference::load_dir(&cli.reference)
                .context("loading reference data")?;
            let (ok, errors) = load_all(&files(cli, specs));
            let mut failed = errors.len();
            for e in &errors {
                println!("error  {e}");
            }
            for s in &ok {
                let failures = run_examples(s, &reference);
                let n = s.spec.examples.len();
                if failures.is_empty() {
                    println!("pass   {} ({n} examples)", s.spec.vendor);
                } else {
                    failed += 1;
                    println!(
                        "FAIL   {} ({} of {n} examples failed)",
                        s.spec.vendor,
                        failures
                            .iter()
                            .map(|f| &f.example)
                            .collect::<std::collections::BTreeSet<_>>()
                            .len()
                    );
                    for f in failures {
                        println!("       {}: {}", f.example, f.message);
                    }
                }
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

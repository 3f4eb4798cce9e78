//! The benches' positional arguments, and the analytics bench's tenant lake (sized by its first
//! two, `ROWS BATCHES`), which the `query_cost` and `cluster` benches reuse.
// Each bench is its own crate and uses part of this.
#![allow(dead_code)]

use std::path::PathBuf;
use taskifai_tests::repo_path;

/// The positional arguments as numbers, `defaults` where one is missing or not a number.
pub fn numbers<const N: usize>(defaults: [usize; N]) -> [usize; N] {
    // cargo bench adds `--bench`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    std::array::from_fn(|i| {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(defaults[i])
    })
}

/// Where the analytics bench writes the lake of `rows` lines in `batches` batches.
pub fn analytics_lake(rows: usize, batches: usize) -> PathBuf {
    repo_path(&format!("target/bench-analytics/v2-{rows}-{batches}"))
}

/// The lake's folder, once the analytics bench has written all of it.
pub fn existing_analytics_lake(rows: usize, batches: usize) -> anyhow::Result<PathBuf> {
    let dir = analytics_lake(rows, batches);
    if !dir.join("complete").exists() {
        anyhow::bail!(
            "{} has no lake: run `cargo bench -p taskifai-benches --bench analytics -- {rows} {batches}` first",
            dir.display()
        );
    }
    Ok(dir.join("lake"))
}

/// Copies a folder tree (the analytics lake, to optimize a copy of it).
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()))?;
        } else {
            std::fs::copy(e.path(), to.join(e.file_name()))?;
        }
    }
    Ok(())
}

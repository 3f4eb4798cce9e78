//! The engine's error type: file-level failures. Row-level problems are [`crate::issues::Issue`]s,
//! not errors; a file fails as a unit, and nothing of it is kept.

use crate::issues::Location;
use crate::raw::ReadError;
use crate::spec::SpecError;

/// Why a file (or a spec) could not be processed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{file}: no sheet matches {wanted} (sheets: {sheets:?})")]
    NoSheet {
        file: String,
        wanted: String,
        sheets: Vec<String>,
    },
    #[error("{at}: no header row with {wanted:?} in the first {within} rows{}", nearest_hint(.nearest))]
    NoHeader {
        at: Box<Location>,
        wanted: Vec<String>,
        within: u32,
        nearest: Option<String>,
    },
    #[error("{at}: no column {wanted:?}{} (headers: {headers:?})", nearest_hint(.nearest))]
    MissingColumn {
        at: Box<Location>,
        wanted: String,
        nearest: Option<String>,
        headers: Vec<String>,
    },
    #[error("{file}: no reporting period found; tried {tried}")]
    NoPeriod { file: String, tried: String },
    #[error("{at}: hook failed: {message}")]
    Hook { at: Box<Location>, message: String },
    #[error("{at}: {message}; nothing was loaded")]
    FileTotal { at: Box<Location>, message: String },
    #[error("{file}: {rejected} of {total} rows rejected, more than the spec allows ({max:.0}%); nothing was loaded. {top}")]
    TooManyRejects {
        file: String,
        rejected: usize,
        total: usize,
        max: f64,
        /// The most frequent rules with their counts and one example each.
        top: String,
        /// The vendor whose spec read the file, and every issue found, so the refused file's
        /// error report can still be kept.
        vendor: String,
        issues: Box<Vec<crate::issues::Issue>>,
    },
    #[error("{file}: {message}")]
    Detect { file: String, message: String },
    #[error("{file}: reference data: {message}")]
    Reference { file: String, message: String },
    #[error("query engine")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("Arrow")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("internal error: {0}")]
    Internal(String),
}

/// An error with its causes, outermost first: `query engine: Arrow error: ...`. Use it wherever
/// an error becomes a message for a person.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // thiserror's `transparent` repeats its inner text; say each part once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

fn nearest_hint(n: &Option<String>) -> String {
    n.as_ref()
        .map(|n| format!("; nearest header found: {n:?}"))
        .unwrap_or_default()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

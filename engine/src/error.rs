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
        at: Location,
        wanted: Vec<String>,
        within: u32,
        nearest: Option<String>,
    },
    #[error("{at}: no column {wanted:?}{} (headers: {headers:?})", nearest_hint(.nearest))]
    MissingColumn {
        at: Location,
        wanted: String,
        nearest: Option<String>,
        headers: Vec<String>,
    },
    #[error("{file}: no reporting period found; tried {tried}")]
    NoPeriod { file: String, tried: String },
    #[error("{at}: hook failed: {message}")]
    Hook { at: Location, message: String },
    #[error("{file}: {rejected} of {total} rows rejected, more than the spec allows ({max:.0}%); nothing was loaded")]
    TooManyRejects {
        file: String,
        rejected: usize,
        total: usize,
        max: f64,
    },
    #[error("{file}: {message}")]
    Detect { file: String, message: String },
    #[error("{file}: reference data: {message}")]
    Reference { file: String, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

fn nearest_hint(n: &Option<String>) -> String {
    n.as_ref()
        .map(|n| format!("; nearest header found: {n:?}"))
        .unwrap_or_default()
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Internal(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

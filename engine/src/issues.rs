//! Data problems found while normalizing a file.
//!
//! Bad data is not an exception: every problem becomes an [`Issue`] that names where it was
//! found (file, sheet, row, column), the raw value, the rule that failed and a sentence a data
//! engineer can act on. Row issues with [`Severity::Error`] reject their row; warnings keep it.

use serde::Serialize;
use std::fmt;

/// Where a value came from, down to the cell. Rows are 1-based, as Excel shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    pub file: String,
    pub sheet: Option<String>,
    pub row: Option<u32>,
    pub column: Option<String>,
}

impl Location {
    pub fn file(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            ..Self::default()
        }
    }

    pub fn with_sheet(mut self, sheet: Option<&str>) -> Self {
        self.sheet = sheet.map(str::to_owned);
        self
    }

    pub fn with_row(mut self, row: u32) -> Self {
        self.row = Some(row);
        self
    }

    pub fn with_column(mut self, column: impl Into<String>) -> Self {
        self.column = Some(column.into());
        self
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(sheet) = &self.sheet {
            write!(f, ", sheet {sheet:?}")?;
        }
        if let Some(row) = self.row {
            write!(f, ", row {row}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column:?}")?;
        }
        Ok(())
    }
}

/// Whether an issue rejects its row.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The row is rejected and goes to the error report.
    #[default]
    Error,
    /// The row is kept; the issue is reported.
    Warn,
}

impl Severity {
    /// As written in error reports: `error` or `warn`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warn => "warn",
        }
    }
}

/// One problem with one value (or one row) of a file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    pub at: Location,
    /// The raw text of the cell, as read.
    pub value: Option<String>,
    /// Stable snake_case rule id, e.g. `bad_ean`.
    pub rule: String,
    pub severity: Severity,
    /// A sentence saying what was expected.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.at, self.message, self.rule)?;
        if let Some(v) = &self.value {
            write!(f, " (value {v:?})")?;
        }
        Ok(())
    }
}

//! Vendor specs: YAML parsed into typed structs ([`VendorSpec`]), checked and compiled once
//! (regexes, label matchers, SQL expressions, Rhai hooks) into a [`CompiledSpec`], and gathered
//! in a [`SpecRegistry`]. Every error names the spec file, line and column.

mod compile;
mod locate;
mod types;

pub use compile::{
    CompiledField, CompiledRowRule, CompiledSpec, CompiledTotals, CompiledUnpivot, RuleColumns,
    SheetMatcher,
};
pub use locate::locate;
pub use types::*;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A spec that cannot be used, with where the problem is.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Largest spec file accepted; specs are a few kilobytes, and serde_yaml bounds alias expansion.
const MAX_SPEC_BYTES: usize = 1 << 20;

/// Parses and compiles one spec from its text. `file` names it in errors; when it is a path, the
/// vendor id must equal its stem.
pub fn parse(file: &str, text: &str) -> Result<CompiledSpec, SpecError> {
    let at = |line: usize, column: usize, message: String| SpecError {
        file: file.to_owned(),
        line,
        column,
        message,
    };
    if text.len() > MAX_SPEC_BYTES {
        return Err(at(
            1,
            1,
            format!(
                "spec is {} bytes; the limit is {MAX_SPEC_BYTES}",
                text.len()
            ),
        ));
    }
    // Enums are written as `{name: value}` maps in specs, not YAML tags.
    let spec: VendorSpec = serde_yaml::with::singleton_map_recursive::deserialize(
        serde_yaml::Deserializer::from_str(text),
    )
    .map_err(|e: serde_yaml::Error| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        at(
            line,
            column,
            e.to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_owned(),
        )
    })?;
    let stem = Path::new(file)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if file.ends_with(".yaml") && stem != spec.vendor {
        let (line, column) = locate(text, "vendor");
        return Err(at(
            line,
            column,
            format!(
                "vendor is {:?} but the file is named {stem:?}; they must match",
                spec.vendor
            ),
        ));
    }
    let mut compiled = CompiledSpec::compile(spec).map_err(|(path, message)| {
        let (line, column) = locate(text, &path);
        at(line, column, format!("{path}: {message}"))
    })?;
    compiled.source = text.to_owned();
    Ok(compiled)
}

/// Reads, parses and compiles a spec file.
pub fn load(path: &Path) -> Result<CompiledSpec, SpecError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpecError {
        file: name.clone(),
        line: 1,
        column: 1,
        message: format!("cannot read: {e}"),
    })?;
    parse(&name, &text)
}

/// The specs of one tenant (or of the repository), by vendor id, shared by `Arc`.
#[derive(Debug, Default, Clone)]
pub struct SpecRegistry {
    specs: Vec<Arc<CompiledSpec>>,
}

impl SpecRegistry {
    pub fn new(specs: Vec<CompiledSpec>) -> Self {
        Self {
            specs: specs.into_iter().map(Arc::new).collect(),
        }
    }

    /// Loads every `*.yaml` in a folder; all errors are returned together.
    pub fn load_dir(dir: &Path) -> Result<Self, Vec<SpecError>> {
        let (specs, errors) = load_all(&spec_files(dir));
        if errors.is_empty() {
            Ok(Self::new(specs))
        } else {
            Err(errors)
        }
    }

    pub fn get(&self, vendor: &str) -> Option<&Arc<CompiledSpec>> {
        self.specs.iter().find(|s| s.spec.vendor == vendor)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<CompiledSpec>> {
        self.specs.iter()
    }

    /// This registry with `specs` in place of the same vendors' (a tenant's own versions).
    pub fn with_overrides(&self, specs: Vec<CompiledSpec>) -> Self {
        let mut out = self.specs.clone();
        for s in specs {
            out.retain(|o| o.spec.vendor != s.spec.vendor);
            out.push(Arc::new(s));
        }
        out.sort_by(|a, b| a.spec.vendor.cmp(&b.spec.vendor));
        Self { specs: out }
    }

    pub fn vendors(&self) -> Vec<&str> {
        self.specs.iter().map(|s| s.spec.vendor.as_str()).collect()
    }
}

/// The `*.yaml` files of a folder, sorted.
pub fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Loads files, keeping every success and every error.
pub fn load_all(files: &[PathBuf]) -> (Vec<CompiledSpec>, Vec<SpecError>) {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load(f) {
            Ok(s) => specs.push(s),
            Err(e) => errors.push(e),
        }
    }
    (specs, errors)
}

/// JSON Schema of the spec format, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(VendorSpec)).expect("schema serializes")
}

/// A field's snake_case name as written in specs.
pub fn field_name(f: Field) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

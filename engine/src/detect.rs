//! Which vendor sent a file: every spec scores the file (file name, sheet names, header labels),
//! and the best score above its threshold wins. Ties and low scores are refused with every
//! candidate's score and reasons, so a data engineer sees why.

use crate::error::{Error, Result};
use crate::labels::norm_label;
use crate::layout::choose_sheet;
use crate::raw::Workbook;
use crate::spec::{CompiledSpec, SpecRegistry};
use serde::Serialize;
use std::sync::Arc;

/// One spec's score for a file.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub vendor: String,
    pub score: f64,
    pub threshold: f64,
    pub reasons: Vec<String>,
}

/// Scores a file against one spec.
pub fn score(spec: &CompiledSpec, wb: &mut dyn Workbook) -> Candidate {
    let d = &spec.spec.detect;
    let file = wb
        .file_name()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let sheets = wb.sheet_names();
    let mut score = 0.0;
    let mut reasons = Vec::new();
    if let (Some(re), Some(sig)) = (&spec.filename, &d.filename) {
        if re.is_match(&file) {
            score += sig.weight;
            reasons.push(format!(
                "+{} file name matches /{}/",
                sig.weight, sig.pattern
            ));
        } else {
            reasons.push(format!("+0 file name does not match /{}/", sig.pattern));
        }
    }
    if let (Some(re), Some(sig)) = (&spec.sheet_signal, &d.sheet) {
        match sheets.iter().find(|s| re.is_match(s.trim())) {
            Some(s) => {
                score += sig.weight;
                reasons.push(format!(
                    "+{} sheet {s:?} matches /{}/",
                    sig.weight, sig.pattern
                ));
            }
            None => reasons.push(format!("+0 no sheet matches /{}/", sig.pattern)),
        }
    }
    if let Some(sig) = &d.header {
        let found = choose_sheet(spec, &file, &sheets)
            .ok()
            .and_then(|i| wb.head(i, sig.within as usize).ok());
        let cells: Vec<String> = found
            .iter()
            .flatten()
            .flatten()
            .flatten()
            .map(|c| norm_label(c))
            .collect();
        let missing: Vec<&String> = spec
            .header_signal
            .iter()
            .zip(&sig.labels)
            .filter(|(m, _)| m.find(&cells).is_none())
            .map(|(_, l)| l)
            .collect();
        if missing.is_empty() {
            score += sig.weight;
            reasons.push(format!("+{} header has {:?}", sig.weight, sig.labels));
        } else {
            reasons.push(format!("+0 header lacks {missing:?}"));
        }
    }
    Candidate {
        vendor: spec.spec.vendor.clone(),
        score: (score * 1000.0).round() / 1000.0,
        threshold: d.threshold,
        reasons,
    }
}

/// Scores every spec, best first.
pub fn rank(specs: &SpecRegistry, wb: &mut dyn Workbook) -> Vec<Candidate> {
    let mut all: Vec<Candidate> = specs.iter().map(|s| score(s, wb)).collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.vendor.cmp(&b.vendor)));
    all
}

/// The spec that claims the file, or why none does.
pub fn detect(
    specs: &SpecRegistry,
    wb: &mut dyn Workbook,
) -> Result<(Arc<CompiledSpec>, Vec<Candidate>)> {
    let ranked = rank(specs, wb);
    let list = |c: &[Candidate]| {
        c.iter()
            .take(4)
            .map(|c| format!("{} {:.2}", c.vendor, c.score))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let file = wb.file_name().to_owned();
    match ranked.as_slice() {
        [] => Err(Error::Detect { file, message: "no vendor specs are loaded".into() }),
        [best, ..] if best.score < best.threshold => Err(Error::Detect {
            file,
            message: format!("no vendor spec recognises this file (best: {}; {} needs {:.2}); pass --vendor to choose one", list(&ranked), best.vendor, best.threshold),
        }),
        [best, second, ..] if second.score == best.score && second.score >= second.threshold => Err(Error::Detect {
            file,
            message: format!("several vendor specs match equally ({}); pass --vendor to choose one", list(&ranked)),
        }),
        [best, ..] => {
            let spec = specs.get(&best.vendor).expect("ranked from these specs").clone();
            Ok((spec, ranked))
        }
    }
}

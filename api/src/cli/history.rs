//! `taskifai gen-history`: a sell-out history worth asking questions about. Every month of a
//! window, from all nine reseller formats with the sample files' quirks (living documents,
//! weekly files, merged headers, totals, decimal commas, localized months), over one sales
//! model: seasonality, a growing trend, a product launch, a reseller that stops sending for two
//! months, a price change and a few rejects (a launch product two resellers have not mapped,
//! damaged EANs). The same window always gives the same bytes.

mod formats;
mod model;

use chrono::{Datelike, NaiveDate};
use std::path::{Path, PathBuf};

pub use model::Window;

/// Writes the window's files as `dir/<YYYY-MM>/<vendor>/<file>`, so that loading them in path
/// order loads them in the order they would have arrived.
pub fn generate(dir: &Path, window: &Window) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for month in window.months() {
        for (vendor, file, sheets) in formats::month(window, month) {
            let folder = dir
                .join(format!("{}-{:02}", month.year(), month.month()))
                .join(vendor);
            std::fs::create_dir_all(&folder)?;
            let path = folder.join(file);
            super::samples::write(&path, &sheets)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The last full month before `today`.
pub fn last_full_month(today: NaiveDate) -> NaiveDate {
    model::add_months(model::month_start(today), -1)
}

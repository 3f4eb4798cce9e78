//! Loads a tenant's reference tables (products, vendor mappings, prices, FX rates) from a folder
//! of CSV files, through the same readers as sell-out files.

use std::path::Path;
use taskifai_engine::reference::{Reference, TABLES};
use taskifai_engine::Error;

/// Reads `<dir>/<table>.csv` for every reference table that exists.
pub fn load_dir(dir: &Path) -> Result<Reference, Error> {
    let mut r = Reference::default();
    for table in TABLES {
        let path = dir.join(format!("{table}.csv"));
        if !path.exists() {
            continue;
        }
        let name = path.display().to_string();
        let mut wb = crate::readers::open(&path, &name)?;
        let mut rows = wb.head(0, usize::MAX)?;
        if rows.is_empty() {
            continue;
        }
        let header: Vec<String> = rows
            .remove(0)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        r.add_table(table, &header, &rows)
            .map_err(|message| Error::Reference {
                file: name,
                message,
            })?;
    }
    Ok(r)
}

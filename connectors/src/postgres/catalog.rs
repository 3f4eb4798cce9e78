//! The reference tables of a tenant's database: one home for their SQL. Imports checked
//! catalog files ([`crate::catalog`]) all or nothing, exports them in the same format, seeds
//! the demo data and reads everything back for the engine.

use super::PgError;
use crate::catalog::{CatalogError, Kind, Parsed, RowError};
use sqlx::{PgPool, Row};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Where one kind lives in the database.
struct Table {
    /// Selects the file's columns as text, in [`Kind::columns`] order, sorted by key.
    select: &'static str,
    /// Selects every key, its columns joined as [`Parsed::key`] joins them.
    keys: &'static str,
    /// Inserts one row (`$1`.. in column order), updating it when the key exists.
    upsert: &'static str,
}

fn table(kind: Kind) -> Table {
    match kind {
        Kind::Products => Table {
            select: "SELECT ean, functional_name, name, category, launch_date::text FROM products ORDER BY ean",
            keys: "SELECT ean FROM products",
            upsert: "INSERT INTO products (ean, functional_name, name, category, launch_date) VALUES ($1, $2, $3, $4, $5::date) \
                     ON CONFLICT (ean) DO UPDATE SET functional_name = EXCLUDED.functional_name, name = EXCLUDED.name, \
                     category = EXCLUDED.category, launch_date = EXCLUDED.launch_date",
        },
        Kind::VendorProducts => Table {
            select: "SELECT vendor, match, key, ean FROM vendor_product_mappings ORDER BY vendor, match, key",
            keys: "SELECT concat_ws(E'\\x1f', vendor, match, key) FROM vendor_product_mappings",
            upsert: "INSERT INTO vendor_product_mappings (vendor, match, key, ean) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (vendor, match, key) DO UPDATE SET ean = EXCLUDED.ean",
        },
        Kind::Prices => Table {
            select: "SELECT price_list, ean, price::text, currency FROM prices ORDER BY price_list, ean",
            keys: "SELECT concat_ws(E'\\x1f', price_list, ean) FROM prices",
            upsert: "INSERT INTO prices (price_list, ean, price, currency) VALUES ($1, $2, $3::numeric, $4) \
                     ON CONFLICT (price_list, ean) DO UPDATE SET price = EXCLUDED.price, currency = EXCLUDED.currency",
        },
        Kind::FxRates => Table {
            select: "SELECT currency, year::text, month::text, rate::text FROM fx_rates ORDER BY currency, year, month",
            // The ECB defaults a tenant starts with give way to its own rates without upsert.
            keys: "SELECT concat_ws(E'\\x1f', currency, year::text, month::text) FROM fx_rates WHERE source = 'tenant'",
            upsert: "INSERT INTO fx_rates (currency, year, month, rate, source) VALUES ($1, $2::int, $3::int, $4::numeric, 'tenant') \
                     ON CONFLICT (currency, year, month) DO UPDATE SET rate = EXCLUDED.rate, source = 'tenant'",
        },
    }
}

/// What an import did.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Imported {
    pub kind: String,
    pub inserted: usize,
    pub updated: usize,
}

/// Imports a checked file in one transaction: every row, or none when any is wrong. Without
/// `upsert` a row whose key is in the catalog already is an error; with it, it is updated.
/// Mappings and prices must name products of the catalog.
pub async fn import(
    pool: &PgPool,
    parsed: &Parsed,
    upsert: bool,
) -> Result<Imported, CatalogError> {
    let kind = parsed.kind;
    let t = table(kind);
    let mut tx = pool.begin().await?;
    // One import at a time per tenant, so the checks below still hold at commit.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('taskifai.catalog'))")
        .execute(&mut *tx)
        .await?;
    let existing: HashSet<String> = sqlx::query_scalar(t.keys)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
    let mut errors: Vec<RowError> = parsed.errors.clone();
    let n = parsed.rows.len();
    if !upsert {
        for i in (0..n).filter(|&i| existing.contains(&parsed.key(i))) {
            let column = kind.key()[kind.key().len() - 1];
            errors.push(parsed.error(
                i,
                column,
                format!("a new {}; this one is in the catalog already (import with upsert to change it)", kind.key().join(" and ")),
            ));
        }
    }
    if matches!(kind, Kind::VendorProducts | Kind::Prices) {
        let eans: HashSet<String> = sqlx::query_scalar("SELECT ean FROM products")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        for i in (0..n).filter(|&i| parsed.get(i, "ean").is_some_and(|e| !eans.contains(e))) {
            errors.push(parsed.error(
                i,
                "ean",
                "the EAN of a product in the catalog (import products first)",
            ));
        }
    }
    if kind == Kind::Products {
        let names: HashMap<String, String> =
            sqlx::query("SELECT upper(functional_name), ean FROM products")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
        for i in 0..n {
            let (Some(name), Some(ean)) = (parsed.get(i, "functional_name"), parsed.get(i, "ean"))
            else {
                continue;
            };
            if let Some(other) = names.get(&name.to_uppercase()).filter(|o| *o != ean) {
                errors.push(parsed.error(
                    i,
                    "functional_name",
                    format!("a functional name no other product has; EAN {other} has it"),
                ));
            }
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(CatalogError::Rows {
            file: parsed.file.clone(),
            errors,
        });
    }
    let mut updated = 0;
    for (i, row) in parsed.rows.iter().enumerate() {
        updated += usize::from(existing.contains(&parsed.key(i)));
        let mut q = sqlx::query(t.upsert);
        for v in row {
            q = q.bind(v.as_deref());
        }
        q.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(Imported {
        kind: kind.to_string(),
        inserted: n - updated,
        updated,
    })
}

/// Maps a vendor's product name or code to a catalog product (matched `normalized`: case,
/// punctuation and spaces ignored), replacing an earlier mapping of the same key.
pub async fn map_vendor_product(
    pool: &PgPool,
    vendor: &str,
    key: &str,
    ean: &str,
) -> Result<(), PgError> {
    sqlx::query(table(Kind::VendorProducts).upsert)
        .bind(vendor)
        .bind("normalized")
        .bind(key)
        .bind(ean)
        .execute(pool)
        .await?;
    Ok(())
}

/// The catalog of one kind as CSV, in the format [`import`] reads.
pub async fn export(pool: &PgPool, kind: Kind) -> Result<String, CatalogError> {
    let columns = kind.columns();
    let rows = sqlx::query(table(kind).select).fetch_all(pool).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| CatalogError::Header {
        file: kind.to_string(),
        message: e.to_string(),
    };
    w.write_record(columns).map_err(csv_err)?;
    for r in rows {
        let cells: Vec<String> = (0..columns.len())
            .map(|i| r.get::<Option<String>, _>(i).unwrap_or_default())
            .collect();
        w.write_record(&cells).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| CatalogError::Header {
        file: kind.to_string(),
        message: e.to_string(),
    })?;
    Ok(String::from_utf8(bytes).expect("the database's text is UTF-8"))
}

/// Loads the demo reference tables (`products.csv`, `vendor_products.csv`, `prices.csv`,
/// `fx_rates.csv`, `unmatched.csv` from `dir`) into a tenant database, replacing what was there.
pub async fn seed_reference(pool: &PgPool, dir: &Path) -> Result<(), PgError> {
    let mut tx = pool.begin().await?;
    sqlx::query("TRUNCATE vendor_product_mappings, prices, fx_rates, products, unmatched_policy")
        .execute(&mut *tx)
        .await?;
    for (file, table, columns) in [
        ("products.csv", "products", "ean, functional_name, name"),
        (
            "vendor_products.csv",
            "vendor_product_mappings",
            "vendor, match, key, ean",
        ),
        ("prices.csv", "prices", "price_list, ean, price, currency"),
        ("fx_rates.csv", "fx_rates", "currency, year, month, rate"),
        ("unmatched.csv", "unmatched_policy", "rule, action"),
    ] {
        let path = dir.join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let mut copy = tx
            .copy_in_raw(&format!(
                "COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER)"
            ))
            .await?;
        copy.send(bytes).await?;
        copy.finish().await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Reads a tenant's reference tables from its database into the engine's lookup form.
pub async fn load_reference(
    pool: &PgPool,
) -> Result<taskifai_engine::reference::Reference, PgError> {
    let mut r = taskifai_engine::reference::Reference::default();
    for (table, sql, columns) in [
        (
            "products",
            "SELECT ean, functional_name, name FROM products",
            vec!["ean", "functional_name", "name"],
        ),
        (
            "vendor_products",
            "SELECT vendor, match, key, ean FROM vendor_product_mappings ORDER BY id",
            vec!["vendor", "match", "key", "ean"],
        ),
        (
            "prices",
            "SELECT price_list, ean, price::text, currency FROM prices",
            vec!["price_list", "ean", "price", "currency"],
        ),
        (
            "fx_rates",
            "SELECT currency, year::text, month::text, rate::text FROM fx_rates",
            vec!["currency", "year", "month", "rate"],
        ),
        (
            "unmatched",
            "SELECT rule, action FROM unmatched_policy",
            vec!["rule", "action"],
        ),
    ] {
        let rows = sqlx::query(sql).fetch_all(pool).await?;
        let cells: Vec<Vec<Option<String>>> = rows
            .iter()
            .map(|row| {
                (0..columns.len())
                    .map(|i| row.get::<Option<String>, _>(i))
                    .collect()
            })
            .collect();
        let header: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        r.add_table(table, &header, &cells)
            .map_err(PgError::Reference)?;
    }
    Ok(r)
}

//! The unmapped queue: rows of live uploads that the catalog could not complete (an unknown
//! product, no price, no FX rate), grouped by vendor, rule and value, with the uploads they
//! are in and suggested products.

use super::PgError;
use crate::catalog::{suggest, Suggestion};
use sqlx::PgPool;

/// The rules whose rows come back once the catalog is completed.
pub const RULES: [&str; 3] = ["unknown_product", "missing_price", "missing_fx_rate"];

/// One value the catalog lacks, and where it was met.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Unmapped {
    pub vendor: Option<String>,
    pub rule: String,
    /// The product name or code, EAN, or currency that was not found.
    pub value: Option<String>,
    /// What was expected, as the error report says it.
    pub message: String,
    /// Rows rejected for it, and rows kept without an EAN or amount (`unmatched: keep`).
    pub rows_rejected: i64,
    pub rows_kept: i64,
    pub first_seen: chrono::DateTime<chrono::Utc>,
    pub last_seen: chrono::DateTime<chrono::Utc>,
    /// The live uploads holding such rows.
    pub uploads: Vec<String>,
    pub suggestions: Vec<Suggestion>,
}

#[derive(sqlx::FromRow)]
struct Group {
    vendor: Option<String>,
    rule: String,
    value: Option<String>,
    message: String,
    rows_rejected: i64,
    rows_kept: i64,
    first_seen: chrono::DateTime<chrono::Utc>,
    last_seen: chrono::DateTime<chrono::Utc>,
    uploads: Vec<String>,
}

/// Live uploads: loaded and not replaced since.
/// Uploads whose rows count: loaded and not replaced since, or refused whole for too many
/// rejects (their error report is kept, and mapping the values loads them).
const LIVE: &str =
    "b.replaced_by IS NULL AND b.status IN ('completed', 'completed_with_errors', 'failed')";

/// The queue, the most rows first.
pub async fn queue(pool: &PgPool) -> Result<Vec<Unmapped>, PgError> {
    let groups: Vec<Group> = sqlx::query_as(&format!(
        "SELECT b.vendor, e.rule, e.raw_value AS value, e.message,
                count(*) FILTER (WHERE e.severity = 'error') AS rows_rejected,
                count(*) FILTER (WHERE e.severity = 'warn') AS rows_kept,
                min(b.created_at) AS first_seen, max(b.created_at) AS last_seen,
                array_agg(DISTINCT b.id) AS uploads
         FROM error_reports e JOIN upload_batches b ON b.id = e.batch_id
         WHERE {LIVE} AND e.rule = ANY($1)
         GROUP BY b.vendor, e.rule, e.raw_value, e.message
         ORDER BY count(*) DESC, b.vendor, e.raw_value"
    ))
    .bind(&RULES[..])
    .fetch_all(pool)
    .await?;
    let products: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT ean, functional_name, name FROM products")
            .fetch_all(pool)
            .await?;
    Ok(groups
        .into_iter()
        .map(|g| Unmapped {
            suggestions: match (g.rule.as_str(), g.value.as_deref()) {
                ("unknown_product", Some(v)) => suggest(&products, v),
                _ => vec![],
            },
            vendor: g.vendor,
            rule: g.rule,
            value: g.value,
            message: g.message,
            rows_rejected: g.rows_rejected,
            rows_kept: g.rows_kept,
            first_seen: g.first_seen,
            last_seen: g.last_seen,
            uploads: g.uploads,
        })
        .collect())
}

/// Live uploads of `vendor` holding rows of `rule` for `value`.
pub async fn affected(
    pool: &PgPool,
    vendor: &str,
    rule: &str,
    value: &str,
) -> Result<Vec<String>, PgError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT DISTINCT b.id FROM error_reports e JOIN upload_batches b ON b.id = e.batch_id
         WHERE {LIVE} AND b.vendor = $1 AND e.rule = $2 AND e.raw_value = $3 ORDER BY b.id"
    ))
    .bind(vendor)
    .bind(rule)
    .bind(value)
    .fetch_all(pool)
    .await?)
}

/// Live uploads whose period overlaps `from..=to`, of one vendor or all.
pub async fn in_period(
    pool: &PgPool,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    vendor: Option<&str>,
) -> Result<Vec<String>, PgError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT b.id FROM upload_batches b
         WHERE {LIVE} AND b.status <> 'failed' AND b.period_start <= $2 AND b.period_end >= $1
           AND ($3::text IS NULL OR b.vendor = $3) ORDER BY b.period_start, b.id"
    ))
    .bind(from)
    .bind(to)
    .bind(vendor)
    .fetch_all(pool)
    .await?)
}

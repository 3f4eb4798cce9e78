//! When an upload ends: the tenant's webhooks hear of it, and its uploader gets an email of what
//! was loaded, what was rejected (the first rows with their problem), and a link to the upload.

use super::templates::{self, RowError, UploadNotice};
use super::{queue, Email, EmailConfig};
use sqlx::PgPool;
use taskifai_connectors::TenantId;

#[derive(sqlx::FromRow)]
struct Batch {
    file_name: String,
    vendor: Option<String>,
    period_start: Option<chrono::NaiveDate>,
    period_end: Option<chrono::NaiveDate>,
    period_grain: Option<String>,
    rows_accepted: i64,
    rows_rejected: i64,
    quantity_total: i64,
    sales_eur: Option<String>,
    email: Option<String>,
    notify_uploads: Option<bool>,
}

/// Queues the webhooks' deliveries and the notice of an upload that ended (`failure`: why it
/// failed) to its uploader, unless they turned these emails off, and to the tenant's upload
/// recipients; no email when nobody is to be told.
pub async fn notify(
    config: &EmailConfig,
    registry: &taskifai_connectors::postgres::tenants::Registry,
    tenant_pool: &PgPool,
    tenant: &TenantId,
    batch_id: &str,
    failure: Option<&str>,
) -> sqlx::Result<()> {
    let Some(b): Option<Batch> = sqlx::query_as(
        "SELECT b.file_name, b.vendor, b.period_start, b.period_end, b.period_grain, b.rows_accepted, b.rows_rejected,
                b.quantity_total, b.sales_eur::text AS sales_eur, u.email, u.notify_uploads
         FROM upload_batches b LEFT JOIN users u ON u.id = b.uploaded_by WHERE b.id = $1",
    )
    .bind(batch_id)
    .fetch_optional(tenant_pool)
    .await?
    else {
        return Ok(());
    };
    let outcome = if failure.is_some() {
        "failed"
    } else {
        "completed"
    };
    crate::webhooks::emit(
        tenant_pool,
        &registry.pool,
        tenant,
        &format!("upload.{outcome}"),
        &format!("upload:{batch_id}:{outcome}"),
        serde_json::json!({
            "upload_id": batch_id,
            "file": b.file_name,
            "vendor": b.vendor,
            "period_start": b.period_start,
            "period_end": b.period_end,
            "rows_accepted": b.rows_accepted,
            "rows_rejected": b.rows_rejected,
            "units": failure.is_none().then_some(b.quantity_total),
            "sales_eur": b.sales_eur,
            "error": failure,
        }),
    )
    .await?;
    let settings = super::branding::EmailSettings::load(tenant_pool).await?;
    let mut to: Vec<String> = match (b.email.clone(), b.notify_uploads) {
        (Some(uploader), Some(true)) => vec![uploader],
        _ => vec![],
    };
    for r in &settings.upload_recipients {
        if !to.iter().any(|t| t.eq_ignore_ascii_case(r)) {
            to.push(r.clone());
        }
    }
    if to.is_empty() {
        return Ok(());
    }
    // The registry's lookup knows the built-in demo tenant, which has no row of its own.
    let (name, subdomain) = match registry.get(tenant.as_str()).await {
        Ok(t) => (t.display_name, t.subdomain),
        Err(_) => (tenant.to_string(), tenant.to_string()),
    };
    let errors: Vec<RowError> = sqlx::query_as(
        "SELECT coalesce(source_row::text, '') AS row, coalesce(\"column\", '') AS column,
                coalesce(raw_value, '') AS value, message
         FROM error_reports WHERE batch_id = $1 AND severity = 'error'
         ORDER BY source_row NULLS LAST, id LIMIT 5",
    )
    .bind(batch_id)
    .fetch_all(tenant_pool)
    .await?;
    let shown = errors.len() as i64;
    let (subject, headline) = match (failure, b.rows_rejected) {
        (Some(_), _) => (
            format!("Upload failed: {}", b.file_name),
            "Your upload could not be loaded".to_owned(),
        ),
        (None, 0) => (
            format!("Upload loaded: {}", b.file_name),
            "Your upload is loaded".to_owned(),
        ),
        (None, n) => (
            format!(
                "Upload loaded, {n} row{} rejected: {}",
                if n == 1 { "" } else { "s" },
                b.file_name
            ),
            format!(
                "Your upload is loaded; {n} row{} rejected",
                if n == 1 { " was" } else { "s were" }
            ),
        ),
    };
    let notice = UploadNotice {
        tenant: name,
        brand: settings.brand(),
        subject: subject.clone(),
        headline,
        file: b.file_name.clone(),
        vendor: b.vendor.clone(),
        period: period_label(&b),
        accepted: b.rows_accepted,
        rejected: b.rows_rejected,
        units: failure.is_none().then_some(b.quantity_total),
        sales_eur: b.sales_eur.as_deref().and_then(money),
        failure: failure.map(str::to_owned),
        more: (b.rows_rejected - shown).max(0),
        errors,
        link: config.link(&subdomain, &format!("/history/{batch_id}")),
    };
    let (html, text) = match templates::upload_notice(&notice) {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!(error = %e, "An upload notice did not render.");
            return Ok(());
        }
    };
    let email = Email {
        event_key: format!("upload:{batch_id}:{outcome}"),
        kind: "upload_notice",
        recipients: to,
        subject,
        html,
        text,
        attachment: None,
    };
    queue(tenant_pool, &registry.pool, tenant, &email).await
}

fn period_label(b: &Batch) -> Option<String> {
    let (start, end) = (b.period_start?, b.period_end?);
    Some(match b.period_grain.as_deref() {
        Some("month") => start.format("%B %Y").to_string(),
        Some("year") => start.format("%Y").to_string(),
        _ if start == end => start.to_string(),
        _ => format!("{start} to {end}"),
    })
}

/// `1234.5` as `1,234.50`.
fn money(text: &str) -> Option<String> {
    Some(taskifai_engine::chat::answer::grouped(
        text.parse().ok()?,
        2,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn money_reads_as_people_write_it() {
        assert_eq!(super::money("1234.5").as_deref(), Some("1,234.50"));
        assert_eq!(super::money("-0.004").as_deref(), Some("0.00"));
        assert_eq!(super::money("978226.243").as_deref(), Some("978,226.24"));
    }
}

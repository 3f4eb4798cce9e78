//! Running schedules: the scheduler pass that turns due slots into report jobs, and the job
//! that renders a slot's report and emails it.
//!
//! A slot becomes exactly one job however many workers run the pass: the job's queue key is the
//! schedule and the slot (`report:<id>:<slot>`), unique in the queue, and it is queued before
//! `last_slot` moves, so a worker stopped in between leaves the slot to be queued again by the
//! next pass, not lost. After downtime only the latest missed slot is due. A pass reads the
//! registry's index of when schedules are due (`schedule_due`), so it opens only the databases
//! of tenants with something due.

use super::{Cadence, Schedule};
use crate::email::templates::{Growth, ReportNotice};
use crate::email::{self, Attachment, Email};
use crate::report::{self, Heading, ReportFormat};
use crate::state::AppState;
use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::PgPool;
use taskifai_connectors::TenantId;
use taskifai_engine::analytics::{self as queries};
use taskifai_engine::chat::answer::grouped;

/// The queue key of a slot's report.
pub fn job_key(schedule: i64, slot: DateTime<Utc>) -> String {
    format!(
        "report:{schedule}:{}",
        slot.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn parse_key(key: &str) -> Option<(i64, DateTime<Utc>)> {
    let (id, slot) = key.strip_prefix("report:")?.split_once(':')?;
    Some((
        id.parse().ok()?,
        DateTime::parse_from_rfc3339(slot).ok()?.with_timezone(&Utc),
    ))
}

/// One scheduler pass: the tenants with a schedule due by `now` (from the registry's index)
/// get their due slots queued; returns the jobs queued.
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let due: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT tenant_id FROM schedule_due WHERE next_due <= $1")
            .bind(now)
            .fetch_all(&state.registry.pool)
            .await?;
    let mut queued = 0;
    for id in due {
        let Ok(tenant) = state.registry.get(&id).await else {
            continue;
        };
        if tenant.status != "active" {
            continue;
        }
        match state.pools.pool(&tenant.id).await {
            Ok(pool) => queued += tenant_tick(&state.registry.pool, &pool, &tenant.id, now).await?,
            Err(e) => tracing::warn!(tenant = %id, error = %e, "Schedules not read."),
        }
    }
    Ok(queued)
}

/// Rebuilds the registry's index of when schedules are due from every active tenant's
/// schedules: what a crash between a schedule's change and its index entry left behind is
/// mended here.
pub async fn reindex(state: &AppState) -> anyhow::Result<()> {
    let mut tenants = state.registry.list().await?;
    if !tenants
        .iter()
        .any(|t| t.id.as_str() == taskifai_connectors::postgres::DEMO_TENANT)
    {
        tenants.push(
            state
                .registry
                .get(taskifai_connectors::postgres::DEMO_TENANT)
                .await?,
        );
    }
    let active: Vec<&str> = tenants
        .iter()
        .filter(|t| t.status == "active")
        .map(|t| t.id.as_str())
        .collect();
    // Suspended and dropped tenants' schedules wait until the tenant is active again.
    sqlx::query("DELETE FROM schedule_due WHERE NOT (tenant_id = ANY($1))")
        .bind(&active)
        .execute(&state.registry.pool)
        .await?;
    for t in tenants.iter().filter(|t| t.status == "active") {
        match state.pools.pool(&t.id).await {
            Ok(pool) => index(&state.registry.pool, &pool, &t.id).await?,
            Err(e) => tracing::warn!(tenant = %t.id, error = %e, "Schedules not indexed."),
        }
    }
    Ok(())
}

/// Writes when each of the tenant's enabled schedules is next due into the registry's index,
/// and drops the entries of schedules deleted or turned off.
pub async fn index(registry: &PgPool, pool: &PgPool, tenant: &TenantId) -> sqlx::Result<()> {
    let rows: Vec<Due> = sqlx::query_as(
        "SELECT id, cron, timezone, coalesce(last_slot, created_at) AS since FROM report_schedules WHERE enabled",
    )
    .fetch_all(pool)
    .await?;
    let mut ids = Vec::new();
    for r in rows {
        let Some(next) = Cadence::parse(&r.cron, &r.timezone)
            .ok()
            .and_then(|c| c.next_after(r.since))
        else {
            continue;
        };
        sqlx::query(
            "INSERT INTO schedule_due (tenant_id, schedule_id, next_due) VALUES ($1, $2, $3)
             ON CONFLICT (tenant_id, schedule_id) DO UPDATE SET next_due = EXCLUDED.next_due",
        )
        .bind(tenant)
        .bind(r.id)
        .bind(next)
        .execute(registry)
        .await?;
        ids.push(r.id);
    }
    sqlx::query("DELETE FROM schedule_due WHERE tenant_id = $1 AND NOT (schedule_id = ANY($2))")
        .bind(tenant)
        .bind(&ids)
        .execute(registry)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Due {
    id: i64,
    cron: String,
    timezone: String,
    since: DateTime<Utc>,
}

async fn tenant_tick(
    registry: &PgPool,
    pool: &PgPool,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let rows: Vec<Due> = sqlx::query_as(
        "SELECT id, cron, timezone, coalesce(last_slot, created_at) AS since FROM report_schedules WHERE enabled",
    )
    .fetch_all(pool)
    .await?;
    let mut queued = 0;
    for r in rows {
        let Ok(cadence) = Cadence::parse(&r.cron, &r.timezone) else {
            continue;
        };
        let Some(slot) = cadence.latest_due(r.since, now) else {
            continue;
        };
        crate::jobs::enqueue_report(registry, tenant, &job_key(r.id, slot)).await?;
        sqlx::query("UPDATE report_schedules SET last_slot = $2 WHERE id = $1 AND (last_slot IS NULL OR last_slot < $2)")
            .bind(r.id)
            .bind(slot)
            .execute(pool)
            .await?;
        tracing::info!(tenant = %tenant, schedule = r.id, slot = %slot, "Scheduled report queued.");
        queued += 1;
    }
    index(registry, pool, tenant).await?;
    Ok(queued)
}

/// Why a report job did not send.
#[derive(Debug, thiserror::Error)]
pub enum ReportJobError {
    #[error("not a report job: {0}")]
    Key(String),
    /// What was saved no longer holds (checked on save; the engine may have changed since).
    #[error("the schedule cannot run: {0}")]
    Schedule(String),
    #[error(transparent)]
    Report(#[from] report::ReportError),
    #[error("the lake could not be read: {0}")]
    Lake(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("the email could not be written: {0}")]
    Email(String),
}

impl ReportJobError {
    /// Worth another try later: not for a schedule or format that cannot work.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            Self::Key(_)
                | Self::Schedule(_)
                | Self::Report(report::ReportError::Format(_) | report::ReportError::TooLarge(_))
        )
    }
}

/// Renders the slot's report and queues its email (once: the outbox row is keyed by the slot).
/// A schedule deleted or turned off since its slot was queued sends nothing.
pub async fn report_job(
    state: &AppState,
    tenant: &TenantId,
    pool: &PgPool,
    key: &str,
) -> Result<(), ReportJobError> {
    let (id, slot) = parse_key(key).ok_or_else(|| ReportJobError::Key(key.into()))?;
    let Some(schedule) = super::get(pool, id).await? else {
        return Ok(());
    };
    if !schedule.enabled {
        return Ok(());
    }
    let outcome = build(state, tenant, pool, &schedule, slot, key).await;
    let (status, error) = match &outcome {
        Ok(true) => ("sent", None),
        Ok(false) => ("no_sales", None),
        Err(e) => ("failed", Some(e.to_string())),
    };
    sqlx::query("UPDATE report_schedules SET last_run_at = now(), last_status = $2, last_error = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(error)
        .execute(pool)
        .await?;
    outcome.map(|_| ())
}

/// Queues the email; true when it carries a report, false when the period had no sales.
async fn build(
    state: &AppState,
    tenant_id: &TenantId,
    pool: &PgPool,
    s: &Schedule,
    slot: DateTime<Utc>,
    key: &str,
) -> Result<bool, ReportJobError> {
    let cadence = Cadence::parse(&s.cron, &s.timezone)
        .map_err(|e| ReportJobError::Schedule(e.to_string()))?;
    let format: ReportFormat = s.format.parse()?;
    let tenant = state
        .registry
        .get(tenant_id.as_str())
        .await
        .map_err(|e| ReportJobError::Lake(e.to_string()))?;
    let filters = &s.filters.0;
    let asked = filters
        .window(cadence.local_date(slot))
        .map_err(|e| ReportJobError::Schedule(e.to_string()))?;
    let ctx = state
        .query_sessions
        .session(&state.lake, tenant_id)
        .await
        .map_err(|e| ReportJobError::Lake(e.to_string()))?;
    queries::register_filtered(&ctx, filters, queries::Source::Lines)
        .await
        .map_err(report::ReportError::from)?;
    let window = queries::resolve_window(&ctx, asked)
        .await
        .map_err(report::ReportError::from)?;
    let snap = state
        .lake
        .snapshot(tenant_id)
        .await
        .map_err(|e| ReportJobError::Lake(e.to_string()))?;
    let heading = Heading::new(
        &tenant.display_name,
        tenant_id.as_str(),
        filters,
        &snap.committed_at,
    );
    let mut notice = ReportNotice {
        tenant: tenant.display_name.clone(),
        brand: crate::email::branding::EmailSettings::load(pool)
            .await?
            .brand(),
        schedule: s.name.clone(),
        cadence: format!("{} in {}", s.cron, s.timezone),
        period: window
            .or(asked)
            .map_or_else(|| "so far".to_owned(), report::period_text),
        narrowed: heading.narrowed.join(", "),
        no_sales: true,
        revenue: String::new(),
        units: String::new(),
        orders: String::new(),
        growth: vec![],
        file: String::new(),
        link: state.config.email.link(&tenant.subdomain, "/"),
    };
    let summary = match window {
        Some(w) => Some((w, report::Summary::query(&ctx, w).await?)),
        None => None,
    };
    // A period without a sale line gets an email that says so, not an empty report.
    let summary = summary.filter(|(_, s)| s.total("orders") > 0.0);
    notice.no_sales = summary.is_none();
    let attachment = match summary {
        Some((w, summary)) => {
            let r = report::render(&ctx, w, format, heading).await?;
            notice.revenue = grouped(summary.revenue(), 2);
            notice.units = grouped(summary.total("units"), 0);
            notice.orders = grouped(summary.total("orders"), 0);
            notice.growth = summary
                .growth()
                .into_iter()
                .map(|(label, g)| Growth {
                    label,
                    value: g.map_or_else(|| "n/a".into(), report::percent),
                })
                .collect();
            notice.file = r.file_name.clone();
            Some(Attachment {
                name: r.file_name,
                content_type: r.format.content_type().to_owned(),
                bytes: r.bytes,
            })
        }
        None => None,
    };
    let sent_report = attachment.is_some();
    let (html, text) = notice
        .render()
        .map_err(|e| ReportJobError::Email(e.to_string()))?;
    let email = Email {
        event_key: key.to_owned(),
        kind: "report",
        recipients: s.recipients.clone(),
        subject: notice.subject(),
        html,
        text,
        attachment,
    };
    email::queue(pool, &state.registry.pool, tenant_id, &email).await?;
    Ok(sent_report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_key_names_its_schedule_and_slot() {
        let slot = DateTime::parse_from_rfc3339("2025-03-01T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let key = job_key(7, slot);
        assert_eq!(key, "report:7:2025-03-01T06:00:00Z");
        assert_eq!(parse_key(&key), Some((7, slot)));
        assert_eq!(parse_key("email:report:7"), None);
    }
}

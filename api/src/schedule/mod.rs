//! Scheduled reports. A schedule is a cron expression in an IANA time zone, report filters
//! (a relative `range` such as `last_month` is resolved on the date of each slot, in that
//! zone), a format and recipients. Workers turn each due slot into one report job; the job
//! renders the report and emails it through the outbox.

pub mod run;

use crate::report::ReportFormat;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;
use std::str::FromStr;
use taskifai_engine::analytics::Filters;

/// What a person sends to create or change a schedule.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleInput {
    pub name: String,
    /// Five fields, minute to weekday: `0 7 1 * *` is 07:00 on the first of each month.
    pub cron: String,
    /// IANA name, e.g. `Europe/Amsterdam`; default UTC.
    #[serde(default = "utc")]
    pub timezone: String,
    #[schema(value_type = String)]
    pub format: ReportFormat,
    /// The analytics filters; `range` (last_month, last_7_days, this_year ...) is relative to
    /// the slot's date.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filters: Filters,
    pub recipients: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn utc() -> String {
    "UTC".into()
}

fn yes() -> bool {
    true
}

/// A stored schedule, with when it next runs.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Schedule {
    pub id: i64,
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub format: String,
    #[schema(value_type = Object)]
    pub filters: Json<Filters>,
    pub recipients: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_slot: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    /// sent, no_sales or failed.
    pub last_status: Option<String>,
    pub last_error: Option<String>,
    #[sqlx(skip)]
    pub next_run: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cron {expr:?}: {reason}. Expected five fields: minute hour day-of-month month weekday, e.g. \"0 7 1 * *\" for 07:00 on the first of each month")]
    Cron { expr: String, reason: String },
    #[error("time zone {0:?} is not an IANA time zone name such as Europe/Amsterdam or UTC")]
    TimeZone(String),
    #[error("recipient {0:?} is not an email address")]
    Recipient(String),
    #[error("a schedule needs at least one recipient (at most 50)")]
    Recipients,
    #[error("a schedule needs a name: at most 200 characters, on one line")]
    Name,
    #[error("filters: {0}")]
    Filters(String),
}

/// When a schedule's slots fall.
#[derive(Debug, Clone)]
pub struct Cadence {
    cron: Cron,
    tz: Tz,
}

/// Slots looked at when catching up after downtime; beyond that the catch-up starts later.
const CATCH_UP: usize = 100_000;

impl Cadence {
    pub fn parse(expr: &str, timezone: &str) -> Result<Self, ScheduleError> {
        let fields = expr.split_whitespace().count();
        if fields != 5 {
            return Err(ScheduleError::Cron {
                expr: expr.into(),
                reason: format!("{fields} fields"),
            });
        }
        let cron = Cron::from_str(expr).map_err(|e| ScheduleError::Cron {
            expr: expr.into(),
            reason: e.to_string(),
        })?;
        let tz = Tz::from_str(timezone).map_err(|_| ScheduleError::TimeZone(timezone.into()))?;
        Ok(Self { cron, tz })
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Slots fall on whole minutes; croner keeps the fraction of a second it is given.
        let t = chrono::Timelike::with_nanosecond(&t, 0).unwrap_or(t);
        self.cron
            .find_next_occurrence(&t.with_timezone(&self.tz), false)
            .ok()
            .map(|d| d.with_timezone(&Utc))
    }

    /// The latest slot after `after` and not after `now`: one slot however many were missed.
    pub fn latest_due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut due = None;
        let mut t = after;
        for _ in 0..CATCH_UP {
            match self.next_after(t) {
                Some(s) if s <= now => {
                    due = Some(s);
                    t = s;
                }
                _ => return due,
            }
        }
        // More slots than we look at (every minute for months): the latest one is found from
        // a minute before now instead.
        self.latest_due(now - chrono::Duration::minutes(1), now)
            .or(due)
    }

    /// The slot's calendar date in the schedule's zone: "last month" of a report sent at
    /// 00:30 on 1 March in Amsterdam is February, whatever the server's clock says.
    pub fn local_date(&self, slot: DateTime<Utc>) -> NaiveDate {
        slot.with_timezone(&self.tz).date_naive()
    }
}

impl ScheduleInput {
    /// Checks everything a slot will need, with a message a person can act on.
    pub fn validate(&self) -> Result<Cadence, ScheduleError> {
        let name = self.name.trim();
        // The name goes into the email's subject: no line breaks or other control characters.
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(ScheduleError::Name);
        }
        let cadence = Cadence::parse(&self.cron, &self.timezone)?;
        if self.recipients.is_empty() || self.recipients.len() > 50 {
            return Err(ScheduleError::Recipients);
        }
        for r in &self.recipients {
            if r.parse::<lettre::message::Mailbox>().is_err() || !r.contains('@') {
                return Err(ScheduleError::Recipient(r.clone()));
            }
        }
        self.filters
            .window(Utc::now().date_naive())
            .map_err(|e| ScheduleError::Filters(e.to_string()))?;
        Ok(cadence)
    }
}

const COLUMNS: &str = "id, name, cron, timezone, format, filters, recipients, enabled, created_at, last_slot, last_run_at, last_status, last_error";

fn with_next(mut s: Schedule) -> Schedule {
    s.next_run = s
        .enabled
        .then(|| Cadence::parse(&s.cron, &s.timezone).ok())
        .flatten()
        .and_then(|c| c.next_after(Utc::now()));
    s
}

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Schedule>> {
    let rows: Vec<Schedule> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM report_schedules ORDER BY id"
    ))
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(with_next).collect())
}

pub async fn get(pool: &PgPool, id: i64) -> sqlx::Result<Option<Schedule>> {
    let row: Option<Schedule> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM report_schedules WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(with_next))
}

/// Saves a new schedule; its first slot is the first one after now.
pub async fn create(
    pool: &PgPool,
    input: &ScheduleInput,
    by: Option<i64>,
) -> sqlx::Result<Schedule> {
    let sql = format!(
        "INSERT INTO report_schedules (name, cron, timezone, format, filters, recipients, enabled, created_by, last_slot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) RETURNING {COLUMNS}"
    );
    Ok(with_next(save(&sql, input, by).fetch_one(pool).await?))
}

/// Changes a schedule. Slots before the change are not run under the new settings.
pub async fn update(
    pool: &PgPool,
    id: i64,
    input: &ScheduleInput,
) -> sqlx::Result<Option<Schedule>> {
    let sql = format!(
        "UPDATE report_schedules SET name = $1, cron = $2, timezone = $3, format = $4, filters = $5, recipients = $6, enabled = $7,
             updated_at = now(), last_slot = greatest(last_slot, now())
         WHERE id = $8 RETURNING {COLUMNS}"
    );
    Ok(save(&sql, input, Some(id))
        .fetch_optional(pool)
        .await?
        .map(with_next))
}

/// `sql` with the input's fields bound as $1 to $7 and `extra` as $8.
fn save<'q>(
    sql: &'q str,
    input: &'q ScheduleInput,
    extra: Option<i64>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, Schedule, sqlx::postgres::PgArguments> {
    sqlx::query_as(sql)
        .bind(input.name.trim())
        .bind(input.cron.trim())
        .bind(&input.timezone)
        .bind(input.format.extension())
        .bind(Json(&input.filters))
        .bind(&input.recipients)
        .bind(input.enabled)
        .bind(extra)
}

pub async fn delete(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let n = sqlx::query("DELETE FROM report_schedules WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn slots_fall_in_the_schedules_time_zone() {
        let c = Cadence::parse("0 7 1 * *", "Europe/Amsterdam").unwrap();
        // 07:00 in Amsterdam in winter is 06:00 UTC.
        assert_eq!(
            c.next_after(at("2025-01-15T00:00:00Z")),
            Some(at("2025-02-01T06:00:00Z"))
        );
        // And 05:00 UTC in summer.
        assert_eq!(
            c.next_after(at("2025-06-15T00:00:00Z")),
            Some(at("2025-07-01T05:00:00Z"))
        );
        let midnight = Cadence::parse("30 0 1 * *", "Europe/Amsterdam").unwrap();
        let slot = midnight.next_after(at("2025-02-15T00:00:00Z")).unwrap();
        assert_eq!(slot, at("2025-02-28T23:30:00Z"));
        assert_eq!(
            midnight.local_date(slot),
            NaiveDate::from_ymd_opt(2025, 3, 1).unwrap()
        );
    }

    #[test]
    fn after_downtime_only_the_latest_missed_slot_is_due() {
        let c = Cadence::parse("* * * * *", "UTC").unwrap();
        let last = Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2025, 3, 1, 12, 30, 20).unwrap();
        assert_eq!(
            c.latest_due(last, now),
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 12, 30, 0).unwrap())
        );
        assert_eq!(c.latest_due(now, now), None);
        let fraction = DateTime::parse_from_rfc3339("2025-03-01T10:00:30.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            c.next_after(fraction),
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 10, 1, 0).unwrap())
        );
        // Months of every-minute slots are not walked one by one.
        let long_ago = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(
            c.latest_due(long_ago, now),
            Some(Utc.with_ymd_and_hms(2025, 3, 1, 12, 30, 0).unwrap())
        );
    }

    #[test]
    fn bad_schedules_say_what_to_fix() {
        let input = |cron: &str, tz: &str, to: &str| ScheduleInput {
            name: "Monthly".into(),
            cron: cron.into(),
            timezone: tz.into(),
            format: ReportFormat::Pdf,
            filters: Filters {
                range: Some("last_month".into()),
                ..Default::default()
            },
            recipients: vec![to.into()],
            enabled: true,
        };
        let err = |i: ScheduleInput| i.validate().unwrap_err().to_string();
        assert!(err(input("0 7 1 *", "UTC", "a@b.example")).contains("4 fields"));
        assert!(err(input("0 25 1 * *", "UTC", "a@b.example")).starts_with("cron \"0 25 1 * *\""));
        assert!(err(input("0 7 1 * *", "Mars/Olympus", "a@b.example")).contains("Mars/Olympus"));
        assert!(err(input("0 7 1 * *", "UTC", "not an address")).contains("not an address"));
        let mut bad_range = input("0 7 1 * *", "UTC", "a@b.example");
        bad_range.filters.range = Some("last_fortnight".into());
        assert!(err(bad_range).contains("last_fortnight"));
        assert!(
            input("0 7 1 * *", "Europe/Amsterdam", "Sales <a@b.example>")
                .validate()
                .is_ok()
        );
    }
}

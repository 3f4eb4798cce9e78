//! Outgoing webhooks. A tenant's admin registers a URL for some of `upload.completed`,
//! `upload.failed` and `report.sent`; each event becomes a delivery row per subscribed webhook
//! (keyed by webhook and event, so it is delivered once) and a job of the durable queue posts
//! it, signed, retrying with backoff. See [`send`] for the request and the address checks.

pub mod send;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use taskifai_connectors::TenantId;

/// The events a webhook can ask for.
pub const EVENTS: [&str; 3] = ["upload.completed", "upload.failed", "report.sent"];

/// What an admin sends to register or change a webhook.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `https://…` (or `http://`); hosts on private, loopback or link-local addresses are refused.
    pub url: String,
    pub events: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A webhook as admins see it; the secret only once, when it is made.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("event {0:?}: expected upload.completed, upload.failed or report.sent")]
    Event(String),
    #[error("a webhook needs at least one event")]
    NoEvents,
    #[error(transparent)]
    Address(#[from] send::AddressError),
}

impl WebhookInput {
    /// Checks the events and the address (resolving it, unless private targets are allowed).
    pub async fn validate(&self, allow_private: bool) -> Result<(), WebhookError> {
        if self.events.is_empty() {
            return Err(WebhookError::NoEvents);
        }
        if let Some(e) = self.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            return Err(WebhookError::Event(e.clone()));
        }
        send::target(&self.url, allow_private).await?;
        Ok(())
    }
}

const COLUMNS: &str = "id, url, events, enabled, created_at";

pub async fn list(pool: &PgPool) -> sqlx::Result<Vec<Webhook>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY id"))
        .fetch_all(pool)
        .await
}

/// Registers a webhook; returns it and its signing secret.
pub async fn create(
    pool: &PgPool,
    input: &WebhookInput,
    by: Option<i64>,
) -> sqlx::Result<(Webhook, String)> {
    let secret = format!("whsec_{}", hex::encode(rand::rng().random::<[u8; 24]>()));
    let hook = sqlx::query_as(&format!(
        "INSERT INTO webhooks (url, events, enabled, secret, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    ))
    .bind(input.url.trim())
    .bind(&input.events)
    .bind(input.enabled)
    .bind(&secret)
    .bind(by)
    .fetch_one(pool)
    .await?;
    Ok((hook, secret))
}

pub async fn update(pool: &PgPool, id: i64, input: &WebhookInput) -> sqlx::Result<Option<Webhook>> {
    sqlx::query_as(&format!(
        "UPDATE webhooks SET url = $2, events = $3, enabled = $4 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(input.url.trim())
    .bind(&input.events)
    .bind(input.enabled)
    .fetch_optional(pool)
    .await
}

pub async fn delete(pool: &PgPool, id: i64) -> sqlx::Result<bool> {
    let n = sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// One delivery, for the log.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub event: String,
    /// queued, delivered or failed.
    pub status: String,
    pub attempts: i32,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn deliveries(pool: &PgPool, webhook: i64, limit: i64) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(
        "SELECT id, event, status, attempts, response_status, error, created_at, delivered_at
         FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(webhook)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Tells the tenant's webhooks of an event: a delivery row per subscribed, enabled webhook and
/// a queue job for each. `key` names the event (`upload:<id>:completed`); repeating it adds
/// nothing. `data` is the event's JSON; the body wraps it with the event's name and time.
pub async fn emit(
    tenant_pool: &PgPool,
    registry: &PgPool,
    tenant: &TenantId,
    event: &str,
    key: &str,
    data: Value,
) -> sqlx::Result<()> {
    let body = serde_json::json!({
        "event": event,
        "tenant": tenant.as_str(),
        "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string();
    let ids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO webhook_deliveries (webhook_id, event, event_key, body)
         SELECT id, $1, $2, $3 FROM webhooks WHERE enabled AND $1 = ANY (events)
         ON CONFLICT (webhook_id, event_key) DO UPDATE SET event_key = EXCLUDED.event_key
         RETURNING id",
    )
    .bind(event)
    .bind(key)
    .bind(&body)
    .fetch_all(tenant_pool)
    .await?;
    for id in ids {
        // Queued again for a row that was there: a worker stopped between the two writes.
        crate::jobs::enqueue_webhook(registry, tenant, &format!("webhook:{id}")).await?;
    }
    Ok(())
}

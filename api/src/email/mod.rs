//! Outbound email. A message is first a row of the tenant's `email_logs` (the outbox), keyed by
//! the event it tells of, then a job of the durable queue delivers it over SMTP with lettre,
//! retrying with backoff. The event key makes queueing idempotent: an event is emailed once,
//! however often a worker reports it. Delivery is at least once (a worker killed between the
//! SMTP server's acceptance and the row's update sends again on the retry); the message's
//! Message-ID is derived from the event, so mail clients show such a repeat once.

pub mod branding;
pub mod templates;
pub mod upload;

use crate::secret::Secret;
use lettre::message::{header, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::time::Duration;
use taskifai_connectors::TenantId;

/// Where mail goes out and what it says it is from.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// `smtp://host:25`, `smtp://user:pass@host:587?tls=required` (STARTTLS) or
    /// `smtps://host:465`; `None`: emails are logged as not sent.
    pub smtp_url: Option<Secret>,
    /// The platform sender, e.g. `TaskifAI <noreply@taskifai.example>`.
    pub from: String,
    /// The web app's address for links, with `{tenant}` standing for the tenant's subdomain.
    pub public_url: String,
}

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "TaskifAI <noreply@taskifai.localhost>".into(),
            public_url: "http://{tenant}.taskifai.localhost:8080".into(),
        }
    }
}

impl EmailConfig {
    pub fn link(&self, subdomain: &str, path: &str) -> String {
        format!(
            "{}{path}",
            self.public_url
                .replace("{tenant}", subdomain)
                .trim_end_matches('/')
        )
    }
}

/// One message for the outbox.
#[derive(Debug, Clone)]
pub struct Email {
    /// The event it tells of, e.g. `upload:<batch>:completed`; one email per key.
    pub event_key: String,
    pub kind: &'static str,
    pub recipients: Vec<String>,
    pub subject: String,
    pub html: String,
    pub text: String,
    pub attachment: Option<Attachment>,
}

/// A file sent with an email (a scheduled report).
#[derive(Debug, Clone)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// The queue key of an outbox row.
fn job_key(event_key: &str) -> String {
    format!("email:{event_key}")
}

/// Writes the email to the tenant's outbox unless that event's email is there already, and
/// queues its delivery. Safe to repeat.
pub async fn queue(
    tenant_pool: &PgPool,
    registry: &PgPool,
    tenant: &TenantId,
    email: &Email,
) -> sqlx::Result<()> {
    let digest = hex::encode(&Sha256::digest(format!("{tenant}/{}", email.event_key))[..16]);
    let settings = branding::EmailSettings::load(tenant_pool).await?;
    sqlx::query(
        "INSERT INTO email_logs (event_key, kind, recipients, subject, html, text, message_id, attachment_name, attachment_type, attachment, from_name, reply_to)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (event_key) DO NOTHING",
    )
    .bind(&email.event_key)
    .bind(email.kind)
    .bind(&email.recipients)
    .bind(&email.subject)
    .bind(&email.html)
    .bind(&email.text)
    .bind(format!("<{digest}@taskifai>"))
    .bind(email.attachment.as_ref().map(|a| &a.name))
    .bind(email.attachment.as_ref().map(|a| &a.content_type))
    .bind(email.attachment.as_ref().map(|a| &a.bytes))
    .bind(&settings.sender_name)
    .bind(&settings.reply_to)
    .execute(tenant_pool)
    .await?;
    // Queued even when the row was there: a worker stopped between the two writes left a row
    // without its job, and the event's next report mends that.
    crate::jobs::enqueue_email(registry, tenant, &job_key(&email.event_key)).await
}

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the SMTP server could not be reached or refused for now: {0}")]
    Smtp(String),
    /// A 5xx reply: sending again cannot help.
    #[error("the SMTP server refused the message: {0}")]
    Refused(String),
    #[error("the message could not be built: {0}")]
    Message(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl SendError {
    /// Worth another try later.
    pub fn is_transient(&self) -> bool {
        !matches!(self, SendError::Message(_) | SendError::Refused(_))
    }
}

#[derive(sqlx::FromRow)]
struct Outgoing {
    id: i64,
    kind: String,
    recipients: Vec<String>,
    subject: String,
    html: String,
    text: String,
    status: String,
    message_id: String,
    attachment_name: Option<String>,
    attachment_type: Option<String>,
    attachment: Option<Vec<u8>>,
    from_name: Option<String>,
    reply_to: Option<String>,
}

/// An email this delivery sent.
#[derive(Debug)]
pub struct Sent {
    pub kind: String,
    pub event_key: String,
    pub subject: String,
    pub recipients: Vec<String>,
    pub attachment_name: Option<String>,
}

/// Delivers the outbox row a queue job names; says what it sent. A row already sent (or set
/// aside) is left alone.
pub async fn deliver(
    config: &EmailConfig,
    tenant_pool: &PgPool,
    job_key_: &str,
    last_try: bool,
) -> Result<Option<Sent>, SendError> {
    let event_key = job_key_.strip_prefix("email:").unwrap_or(job_key_);
    let Some(row): Option<Outgoing> = sqlx::query_as(
        "SELECT id, kind, recipients, subject, html, text, status, message_id, attachment_name, attachment_type, attachment, from_name, reply_to FROM email_logs WHERE event_key = $1",
    )
    .bind(event_key)
    .fetch_optional(tenant_pool)
    .await?
    else {
        return Ok(None);
    };
    let sent = |row: Outgoing| Sent {
        kind: row.kind,
        event_key: event_key.to_owned(),
        subject: row.subject,
        recipients: row.recipients,
        attachment_name: row.attachment_name,
    };
    // A retry after the message went out (what follows the sending failed) says so again.
    match row.status.as_str() {
        "queued" => {}
        "sent" => return Ok(Some(sent(row))),
        _ => return Ok(None),
    }
    let Some(url) = &config.smtp_url else {
        sqlx::query("UPDATE email_logs SET status = 'not_sent', error = $2 WHERE id = $1")
            .bind(row.id)
            .bind("no SMTP server is configured (--smtp-url or TASKIFAI_SMTP_URL)")
            .execute(tenant_pool)
            .await?;
        return Ok(None);
    };
    match send(url, &config.from, &row).await {
        Ok(reply) => {
            sqlx::query("UPDATE email_logs SET status = 'sent', attempts = attempts + 1, error = NULL, smtp_reply = $2, sent_at = now() WHERE id = $1")
                .bind(row.id)
                .bind(reply)
                .execute(tenant_pool)
                .await?;
            Ok(Some(sent(row)))
        }
        Err(e) => {
            let status = if last_try || !e.is_transient() {
                "failed"
            } else {
                "queued"
            };
            sqlx::query("UPDATE email_logs SET status = $2, attempts = attempts + 1, error = $3 WHERE id = $1")
                .bind(row.id)
                .bind(status)
                .bind(e.to_string())
                .execute(tenant_pool)
                .await?;
            Err(e)
        }
    }
}

async fn send(url: &Secret, from: &str, row: &Outgoing) -> Result<String, SendError> {
    let bad = |e: &dyn std::fmt::Display| SendError::Message(e.to_string());
    let mut sender = from.parse::<Mailbox>().map_err(|e| bad(&e))?;
    // The tenant's name for itself; the address stays the platform's, which SPF and DKIM cover.
    if let Some(name) = &row.from_name {
        sender.name = Some(name.clone());
    }
    let mut message = Message::builder()
        .from(sender)
        .subject(&row.subject)
        .message_id(Some(row.message_id.clone()));
    for to in &row.recipients {
        message = message.to(to.parse::<Mailbox>().map_err(|e| bad(&e))?);
    }
    if let Some(r) = &row.reply_to {
        message = message.reply_to(r.parse::<Mailbox>().map_err(|e| bad(&e))?);
    }
    let body = MultiPart::alternative_plain_html(row.text.clone(), row.html.clone());
    let body = match (&row.attachment_name, &row.attachment_type, &row.attachment) {
        (Some(name), Some(kind), Some(bytes)) => MultiPart::mixed().multipart(body).singlepart(
            lettre::message::Attachment::new(name.clone()).body(
                bytes.clone(),
                header::ContentType::parse(kind).map_err(|e| bad(&e))?,
            ),
        ),
        _ => body,
    };
    let message = message
        .header(header::MIME_VERSION_1_0)
        .multipart(body)
        .map_err(|e| bad(&e))?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
        .map_err(|e| SendError::Smtp(e.to_string()))?
        .timeout(Some(Duration::from_secs(30)))
        .build();
    let reply = transport.send(message).await.map_err(|e| {
        if e.is_permanent() {
            SendError::Refused(e.to_string())
        } else {
            SendError::Smtp(e.to_string())
        }
    })?;
    Ok(format!(
        "{} {}",
        reply.code(),
        reply.message().collect::<Vec<_>>().join(" ")
    ))
}

/// One outbox row, for admins.
#[derive(Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EmailLog {
    pub id: i64,
    /// upload or report.
    pub kind: String,
    pub recipients: Vec<String>,
    pub subject: String,
    /// queued, sent, failed, or not_sent (no SMTP server configured).
    pub status: String,
    pub attempts: i32,
    pub error: Option<String>,
    pub message_id: String,
    pub smtp_reply: Option<String>,
    /// The attached file's name, if any.
    pub attachment_name: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn logs(pool: &PgPool, limit: i64, offset: i64) -> sqlx::Result<Vec<EmailLog>> {
    sqlx::query_as(
        "SELECT id, kind, recipients, subject, status, attempts, error, message_id, smtp_reply, attachment_name, created_at, sent_at
         FROM email_logs ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

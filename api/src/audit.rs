//! The tenant's audit log (`audit_log`, append-only): who did what to specs, uploads, people,
//! API keys, schedules, webhooks and settings. A change and its entry are written in the same
//! transaction where the change has one, so one is never there without the other.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

/// Adds an entry. `who` is the person's email or `API key <name>`.
pub async fn record<'e, E: sqlx::PgExecutor<'e>>(
    db: E,
    user_id: Option<i64>,
    who: &str,
    action: &str,
    target: &str,
    details: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (user_id, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(who)
    .bind(action)
    .bind(target)
    .bind(details)
    .execute(db)
    .await?;
    Ok(())
}

/// One entry, for admins.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub user_id: Option<i64>,
    pub actor: String,
    /// e.g. `spec.activated`, `upload.deleted`, `user.changed`, `api_key.created`.
    pub action: String,
    pub target: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Newest first; `action` narrows to one action or, ending in `.`, to a family (`user.`).
pub async fn list(
    pool: &PgPool,
    action: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<AuditEntry>> {
    let pattern = action.map(|a| {
        let escaped = a
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        if a.ends_with('.') {
            format!("{escaped}%")
        } else {
            escaped
        }
    });
    sqlx::query_as(
        "SELECT id, at, user_id, actor, action, target, details FROM audit_log
         WHERE $1::text IS NULL OR action LIKE $1
         ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

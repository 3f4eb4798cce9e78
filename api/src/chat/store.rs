//! Conversations and their turns in the tenant's database. Every read is by owner: a user never
//! sees another user's conversations, and a conversation id of someone else is "not found".

use super::{Reply, ReplyKind};
use serde::Serialize;
use sqlx::PgPool;
use taskifai_engine::chat::Interpretation;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Conversation {
    pub id: i64,
    pub title: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    pub question: String,
    pub kind: String,
    pub answer: String,
    pub reply: sqlx::types::Json<serde_json::Value>,
    pub elapsed_ms: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The owner's conversation, if it is theirs.
pub async fn get(pool: &PgPool, owner: &str, id: i64) -> sqlx::Result<Option<Conversation>> {
    sqlx::query_as(
        "SELECT id, title, created_at, updated_at FROM conversations WHERE id = $1 AND owner = $2",
    )
    .bind(id)
    .bind(owner)
    .fetch_optional(pool)
    .await
}

pub async fn create(
    pool: &PgPool,
    owner: &str,
    first_question: &str,
) -> sqlx::Result<Conversation> {
    let title: String = first_question.chars().take(80).collect();
    sqlx::query_as("INSERT INTO conversations (owner, title) VALUES ($1, $2) RETURNING id, title, created_at, updated_at")
        .bind(owner)
        .bind(title.trim())
        .fetch_one(pool)
        .await
}

pub async fn list(
    pool: &PgPool,
    owner: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Conversation>> {
    sqlx::query_as("SELECT id, title, created_at, updated_at FROM conversations WHERE owner = $1 ORDER BY updated_at DESC, id DESC LIMIT $2 OFFSET $3")
        .bind(owner)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await
}

pub async fn messages(pool: &PgPool, conversation: i64) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as("SELECT id, question, kind, answer, reply, elapsed_ms, created_at FROM chat_messages WHERE conversation_id = $1 ORDER BY id")
        .bind(conversation)
        .fetch_all(pool)
        .await
}

/// Deletes the owner's conversation; false when there was none of theirs.
pub async fn delete(pool: &PgPool, owner: &str, id: i64) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM conversations WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
            > 0,
    )
}

/// A turn as a model's context: what was asked, the SQL that answered it and the answer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PastTurn {
    pub question: String,
    pub sql: Option<String>,
    pub answer: String,
}

/// The conversation's last `n` turns, oldest first.
pub async fn recent_turns(pool: &PgPool, conversation: i64, n: i64) -> sqlx::Result<Vec<PastTurn>> {
    let mut turns: Vec<PastTurn> = sqlx::query_as(
        "SELECT question, reply ->> 'sql' AS sql, answer FROM chat_messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(conversation)
    .bind(n)
    .fetch_all(pool)
    .await?;
    turns.reverse();
    Ok(turns)
}

/// The interpretation of the conversation's last answered turn, for follow-up questions.
pub async fn last_interpretation(
    pool: &PgPool,
    conversation: i64,
) -> sqlx::Result<Option<Interpretation>> {
    let v: Option<sqlx::types::Json<serde_json::Value>> = sqlx::query_scalar(
        "SELECT reply -> 'interpretation' FROM chat_messages WHERE conversation_id = $1 AND kind = 'answer' ORDER BY id DESC LIMIT 1",
    )
    .bind(conversation)
    .fetch_optional(pool)
    .await?
    .flatten();
    // A turn saved by an older planner may not read back; the next question then stands alone.
    Ok(v.and_then(|j| serde_json::from_value(j.0).ok()))
}

/// Saves a turn and touches the conversation; returns the message id.
pub async fn add(
    pool: &PgPool,
    conversation: i64,
    question: &str,
    reply: &Reply,
    elapsed_ms: i32,
) -> sqlx::Result<i64> {
    let kind = match reply.kind {
        ReplyKind::Answer => "answer",
        ReplyKind::Ask => "ask",
        ReplyKind::Decline => "decline",
        ReplyKind::Failed => "failed",
    };
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar("INSERT INTO chat_messages (conversation_id, question, kind, answer, reply, elapsed_ms) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(conversation)
        .bind(question)
        .bind(kind)
        .bind(&reply.answer)
        .bind(sqlx::types::Json(reply))
        .bind(elapsed_ms)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("UPDATE conversations SET updated_at = now() WHERE id = $1")
        .bind(conversation)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// Records a model call as it was spent.
pub async fn record_usage(
    pool: &PgPool,
    owner: &str,
    conversation: Option<i64>,
    model: &str,
    call: &super::model::Call,
    cost_usd: f64,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO llm_usage (owner, conversation_id, model, purpose, prompt_tokens, completion_tokens, cost_usd, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7::float8::numeric(14, 6), $8, $9)")
        .bind(owner)
        .bind(conversation)
        .bind(model)
        .bind(call.purpose)
        .bind(call.prompt_tokens as i32)
        .bind(call.completion_tokens as i32)
        .bind(cost_usd)
        .bind(call.latency_ms as i32)
        .bind(&call.error)
        .execute(pool)
        .await?;
    Ok(())
}

/// Tokens the tenant has used this calendar month (UTC).
pub async fn tokens_this_month(pool: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint FROM llm_usage WHERE created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'")
        .fetch_one(pool)
        .await
}

/// Usage summed by user, model and month, newest month first.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Usage {
    pub month: String,
    pub owner: String,
    pub model: String,
    pub calls: i64,
    pub failed_calls: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// USD, as text so no cent is lost.
    pub cost_usd: String,
    pub avg_latency_ms: i64,
}

pub async fn usage(pool: &PgPool) -> sqlx::Result<Vec<Usage>> {
    sqlx::query_as(
        "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM') AS month, owner, model, count(*) AS calls, \
         count(error) AS failed_calls, sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens, \
         sum(cost_usd)::text AS cost_usd, avg(latency_ms)::bigint AS avg_latency_ms \
         FROM llm_usage GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 3",
    )
    .fetch_all(pool)
    .await
}

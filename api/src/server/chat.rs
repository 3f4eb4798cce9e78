//! `POST /api/chat` and the conversation endpoints. A question is answered over the tenant's own
//! session only, through the SQL guard, on the query runtime; the reply streams as server-sent
//! events (`status`, `interpretation`, `sql`, `rows`, `answer`, `done`) or comes as one JSON
//! body when the client asks for `application/json`.

use super::auth::{Auth, Role};
use super::error::{ApiError, ApiResult};
use super::paging::Paging;
use super::ratelimit::Bucket;
use super::tenancy::TenantCtx;
use crate::chat::cache::reply_key;
use crate::chat::{self, store, Reply, Step};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Instant;

/// Longest question accepted, in characters.
const MAX_QUESTION: usize = 1000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// Continue this conversation (yours); a new one starts without it.
    pub conversation_id: Option<i64>,
    pub question: String,
}

/// Asks a question about the tenant's sales. The event stream sends `status`, `interpretation`
/// (how the question was read), `sql`, `rows` (how many), `answer_delta` (pieces of a language
/// model's wording as they arrive, each already checked against the result), `answer` (the
/// final, checked wording, which replaces the pieces) and `done` (the whole reply with the
/// conversation and message ids and what the turn spent on the model), or `error`.
#[utoipa::path(post, path = "/api/chat", request_body = ChatRequest, responses((status = 200, description = "text/event-stream by default (events status, interpretation, sql, rows, answer_delta, answer, done or error); one JSON reply for Accept: application/json"), (status = 404), (status = 429)), tag = "chat")]
pub async fn ask(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    headers: HeaderMap,
    Json(req): Json<ChatRequest>,
) -> ApiResult<Response> {
    auth.require(Role::Viewer)?;
    state
        .limiter
        .check(Bucket::Chat, &format!("{}:{}", tenant.id(), auth.who))?;
    let question = req.question.trim().to_owned();
    if question.is_empty() || question.chars().count() > MAX_QUESTION {
        return Err(ApiError::bad(
            "invalid_question",
            format!("a question has 1 to {MAX_QUESTION} characters"),
        ));
    }
    let conversation = match req.conversation_id {
        Some(id) => store::get(&tenant.pool, &auth.who, id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("conversation {id}")))?,
        None => store::create(&tenant.pool, &auth.who, &question).await?,
    };
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/event-stream"));
    if wants_json {
        let (message_id, reply, cached, usage) = turn(
            &state,
            &tenant,
            &auth.who,
            conversation.id,
            &question,
            |_| {},
        )
        .await?;
        return Ok(Json(body(conversation.id, message_id, &reply, cached, &usage)).into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let _ = tx.send(
        Event::default()
            .event("status")
            .data(r#"{"status":"understanding"}"#),
    );
    tokio::spawn(async move {
        let progress = {
            let tx = tx.clone();
            move |step: Step| {
                let (name, data) = match step {
                    Step::Interpretation(s) => ("interpretation", json!({ "understood": s })),
                    Step::Sql(s) => ("sql", json!({ "sql": s })),
                    Step::Rows(n) => ("rows", json!({ "rows": n })),
                    Step::AnswerDelta(s) => ("answer_delta", json!({ "text": s })),
                };
                let _ = tx.send(Event::default().event(name).data(data.to_string()));
            }
        };
        let event = match turn(
            &state,
            &tenant,
            &auth.who,
            conversation.id,
            &question,
            progress,
        )
        .await
        {
            Ok((message_id, reply, cached, usage)) => {
                let _ = tx.send(
                    Event::default()
                        .event("answer")
                        .data(json!({ "text": reply.answer }).to_string()),
                );
                Event::default()
                    .event("done")
                    .data(body(conversation.id, message_id, &reply, cached, &usage).to_string())
            }
            Err(e) => Event::default()
                .event("error")
                .data(json!({ "error": e.to_string() }).to_string()),
        };
        let _ = tx.send(event);
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|e| (Ok::<_, std::convert::Infallible>(e), rx))
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn body(
    conversation_id: i64,
    message_id: i64,
    reply: &Reply,
    cached: bool,
    usage: &Usage,
) -> Value {
    json!({ "conversation_id": conversation_id, "message_id": message_id, "cached": cached, "reply": reply, "usage": usage })
}

/// What one turn spent on the language model (nothing for the planner or the cache).
#[derive(Debug, Default, serde::Serialize)]
struct Usage {
    model_calls: usize,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
}

/// Answers and saves one turn: from the cache when the same question met the same data and
/// context before.
async fn turn(
    state: &AppState,
    tenant: &TenantCtx,
    owner: &str,
    conversation: i64,
    question: &str,
    progress: impl Fn(Step) + Send + Sync + 'static,
) -> ApiResult<(i64, Reply, bool, Usage)> {
    let mut usage = Usage::default();
    let started = Instant::now();
    let model = state.model.clone();
    let previous = store::last_interpretation(&tenant.pool, conversation).await?;
    let history = match &model {
        Some(_) => store::recent_turns(&tenant.pool, conversation, 3).await?,
        None => vec![],
    };
    let lake_version = state.lake.snapshot(tenant.id()).await?.version;
    let previous_key = previous
        .as_ref()
        .map(|p| serde_json::to_string(p).unwrap_or_default());
    let context = format!(
        "{}\u{1f}{}",
        model
            .as_ref()
            .map_or("planner", |m| m.config.model.as_str()),
        previous_key.unwrap_or_default()
    );
    let key = reply_key(tenant.id(), lake_version, question, Some(&context));
    let (reply, cached) = match state.chat_cache.get(&key) {
        Some(reply) => (reply, true),
        None => {
            let ctx = state
                .query_sessions
                .session(&state.lake, tenant.id())
                .await?;
            let known = state.chat_knowledge.get(tenant.id(), lake_version);
            let reference = match known {
                Some(_) => vec![],
                None => chat::reference_products(&tenant.pool).await?,
            };
            let cap = state.config.query_max_rows.min(1000);
            let today = chrono::Utc::now().date_naive();
            let question = question.to_owned();
            if let (Some(m), Some(budget)) = (
                &model,
                model.as_ref().and_then(|m| m.config.monthly_token_budget),
            ) {
                let used = store::tokens_this_month(&tenant.pool).await?;
                if used >= budget {
                    return Err(ApiError::BudgetSpent(format!(
                        "this tenant's chat has used its {budget} model tokens for this month ({used} used with {}); it answers again next month or when an admin raises the budget",
                        m.config.model
                    )));
                }
            }
            let mut timeout = state.config.query_timeout;
            if let Some(m) = &model {
                // The first query, two repairs and the wording, each within the model's time.
                timeout += m.config.timeout * 4;
            }
            let work = {
                let model = model.clone();
                async move {
                    let knowledge = match known {
                        Some(k) => k,
                        None => std::sync::Arc::new(chat::knowledge(&ctx, &reference).await?),
                    };
                    let q = chat::Question {
                        text: &question,
                        today,
                        previous: previous.as_ref(),
                        history: &history,
                        cap,
                        lake_version,
                    };
                    let (reply, calls) = match &model {
                        Some(m) => {
                            chat::assisted::answer_with_model(&ctx, &knowledge, q, m, &progress)
                                .await
                        }
                        None => (
                            chat::answer_question(&ctx, &knowledge, q, &progress).await,
                            vec![],
                        ),
                    };
                    Ok((reply, calls, knowledge.clone()))
                }
            };
            let (reply, calls, knowledge) = state.queries.run(tenant.id(), timeout, work).await?;
            state
                .chat_knowledge
                .put(tenant.id(), lake_version, knowledge);
            if let Some(m) = &model {
                for call in &calls {
                    usage.model_calls += 1;
                    usage.prompt_tokens += u64::from(call.prompt_tokens);
                    usage.completion_tokens += u64::from(call.completion_tokens);
                    usage.cost_usd += m.cost(call);
                    store::record_usage(
                        &tenant.pool,
                        owner,
                        Some(conversation),
                        &m.config.model,
                        call,
                        m.cost(call),
                    )
                    .await?;
                }
            }
            let reply = reply?;
            state.chat_cache.put(key, reply.clone());
            (reply, false)
        }
    };
    let elapsed = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let id = store::add(&tenant.pool, conversation, question, &reply, elapsed).await?;
    Ok((id, reply, cached, usage))
}

#[derive(Debug, Deserialize)]
pub struct ListParams {
    pub page: Option<u64>,
    pub per_page: Option<u64>,
}

/// Your conversations, newest first.
#[utoipa::path(get, path = "/api/chat/conversations", responses((status = 200)), tag = "chat")]
pub async fn list(
    State(_state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let paging = Paging::new(p.page, p.per_page, 20, 100)?;
    let limit = paging.per_page as i64;
    let offset = (paging.page as i64 - 1) * limit;
    let items = store::list(&tenant.pool, &auth.who, limit, offset).await?;
    Ok(Json(
        json!({ "items": items, "page": paging.page, "per_page": paging.per_page }),
    ))
}

/// One of your conversations with its turns.
#[utoipa::path(get, path = "/api/chat/conversations/{id}", responses((status = 200), (status = 404)), tag = "chat")]
pub async fn get(
    State(_state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Value>> {
    let c = store::get(&tenant.pool, &auth.who, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("conversation {id}")))?;
    let messages = store::messages(&tenant.pool, id).await?;
    Ok(Json(json!({ "conversation": c, "messages": messages })))
}

/// Deletes one of your conversations.
#[utoipa::path(delete, path = "/api/chat/conversations/{id}", responses((status = 204), (status = 404)), tag = "chat")]
pub async fn delete(
    State(_state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    if store::delete(&tenant.pool, &auth.who, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("conversation {id}")))
    }
}

/// Model usage by user, model and month (admins).
#[utoipa::path(get, path = "/api/usage", responses((status = 200), (status = 403)), tag = "chat")]
pub async fn usage(
    State(state): State<AppState>,
    tenant: TenantCtx,
    auth: Auth,
) -> ApiResult<Json<Value>> {
    auth.require(Role::Admin)?;
    let items = store::usage(&tenant.pool).await?;
    let used = store::tokens_this_month(&tenant.pool).await?;
    let budget = state
        .model
        .as_ref()
        .and_then(|m| m.config.monthly_token_budget);
    Ok(Json(
        json!({ "items": items, "tokens_this_month": used, "monthly_token_budget": budget }),
    ))
}

//! A local HTTP server that speaks OpenAI's chat-completions protocol, scripted per test: the
//! only stand-in the tests use, for a paid service. It records every request it gets.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the stand-in answers to the next request.
#[derive(Debug, Clone)]
pub enum Script {
    /// A completion with this text, using 10 prompt and 5 completion tokens.
    Text(String),
    /// An error status with OpenAI's error body.
    Status(u16, &'static str),
    /// Waits this long, then answers with the text.
    Slow(Duration, &'static str),
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Script>>,
    requests: Mutex<Vec<Value>>,
}

pub struct StandIn {
    pub base_url: String,
    shared: Arc<Shared>,
}

fn completion(text: &str) -> Response {
    Json(json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": "stand-in",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 }
    }))
    .into_response()
}

/// The same completion as server-sent chunks, a word at a time, then the usage chunk when the
/// request asked for it, then `[DONE]`.
fn chunks(text: &str, usage: bool) -> Response {
    let chunk = |delta: Value, usage: Value| {
        let choices = if delta.is_null() {
            json!([])
        } else {
            json!([{ "index": 0, "delta": delta, "finish_reason": null }])
        };
        let c = json!({ "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "stand-in", "choices": choices, "usage": usage });
        format!("data: {c}\n\n")
    };
    let mut body = chunk(json!({ "role": "assistant", "content": "" }), Value::Null);
    for word in text.split_inclusive(' ') {
        body.push_str(&chunk(json!({ "content": word }), Value::Null));
    }
    if usage {
        body.push_str(&chunk(
            Value::Null,
            json!({ "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 }),
        ));
    }
    body.push_str("data: [DONE]\n\n");
    (
        [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
        body,
    )
        .into_response()
}

async fn answer(State(shared): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    let streamed = body["stream"] == json!(true);
    let usage = body["stream_options"]["include_usage"] == json!(true);
    shared.requests.lock().unwrap().push(body);
    let next = shared.script.lock().unwrap().pop_front();
    let completion = |t: &str| {
        if streamed {
            chunks(t, usage)
        } else {
            completion(t)
        }
    };
    match next {
        Some(Script::Text(t)) => completion(&t),
        Some(Script::Status(code, message)) => (
            StatusCode::from_u16(code).unwrap(),
            Json(json!({ "error": { "message": message, "type": "rate_limit_error", "param": null, "code": null } })),
        )
            .into_response(),
        Some(Script::Slow(wait, t)) => {
            tokio::time::sleep(wait).await;
            completion(t)
        }
        None => (StatusCode::INTERNAL_SERVER_ERROR, "the test's script has run out").into_response(),
    }
}

impl StandIn {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base_url, shared }
    }

    pub fn script(&self, steps: impl IntoIterator<Item = Script>) {
        self.shared.script.lock().unwrap().extend(steps);
    }

    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().unwrap().clone()
    }
}

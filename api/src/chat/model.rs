//! A language model behind an OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI,
//! vLLM, Ollama, llama.cpp), through async-openai. One call is one [`Call`], with its tokens and
//! latency, whatever the outcome, so usage is recorded as it was spent.

use crate::secret::Secret;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, ChatCompletionStreamOptions, CreateChatCompletionRequest,
    CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use futures::StreamExt;
use std::time::{Duration, Instant};

/// Where the model is and what it costs.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
    /// USD per million prompt and completion tokens, for the usage table.
    pub prompt_price: f64,
    pub completion_price: f64,
    /// Tokens a tenant may spend per calendar month; `None`: no limit.
    pub monthly_token_budget: Option<i64>,
}

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    User,
    Assistant,
}

/// One model call as it happened.
#[derive(Debug, Clone)]
pub struct Call {
    pub purpose: &'static str,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub latency_ms: u32,
    /// None when the call succeeded.
    pub error: Option<String>,
}

impl Call {
    fn new(purpose: &'static str) -> Self {
        Self {
            purpose,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency_ms: 0,
            error: None,
        }
    }

    /// Records the latency since `started` and the error, if any.
    fn finish(&mut self, started: Instant, result: &Result<String, ModelError>) {
        self.latency_ms = started.elapsed().as_millis().min(u32::MAX as u128) as u32;
        self.error = result.as_ref().err().map(ToString::to_string);
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the language model did not answer within {0} s")]
    Timeout(u64),
    #[error("the language model provider refused the request: {0}")]
    Provider(String),
    #[error("the language model returned no text")]
    Empty,
}

pub struct Model {
    client: Client<OpenAIConfig>,
    pub config: LlmConfig,
}

impl Model {
    pub fn new(config: LlmConfig) -> Self {
        // rustls without a default provider: use the ring provider the object stores build.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut c = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(key) = &config.api_key {
            c = c.with_api_key(key.expose());
        }
        Self {
            client: Client::with_config(c),
            config,
        }
    }

    /// One completion: the system prompt, then the conversation. Returns the text and the call's
    /// record; a failed call is recorded too, with the tokens it used (none).
    pub async fn complete(
        &self,
        purpose: &'static str,
        system: &str,
        messages: &[(Speaker, String)],
    ) -> (Result<String, ModelError>, Call) {
        let (started, mut call) = (Instant::now(), Call::new(purpose));
        let result = self.request(system, messages, &mut call).await;
        call.finish(started, &result);
        (result, call)
    }

    /// The same as [`Model::complete`], streamed: `on_delta` gets each piece of text as it comes.
    /// The provider is asked for the usage at the end of the stream; one that does not send it
    /// is charged an estimate (four characters a token), never nothing.
    pub async fn complete_streaming(
        &self,
        purpose: &'static str,
        system: &str,
        messages: &[(Speaker, String)],
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> (Result<String, ModelError>, Call) {
        let (started, mut call) = (Instant::now(), Call::new(purpose));
        let result = self.stream(system, messages, &mut call, on_delta).await;
        call.finish(started, &result);
        (result, call)
    }

    fn build(
        &self,
        system: &str,
        messages: &[(Speaker, String)],
    ) -> Result<CreateChatCompletionRequest, ModelError> {
        let mut all: Vec<ChatCompletionRequestMessage> =
            vec![ChatCompletionRequestSystemMessage::from(system).into()];
        for (who, text) in messages {
            all.push(match who {
                Speaker::User => ChatCompletionRequestUserMessage::from(text.as_str()).into(),
                Speaker::Assistant => ChatCompletionRequestAssistantMessage {
                    content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                        text.clone(),
                    )),
                    ..Default::default()
                }
                .into(),
            });
        }
        CreateChatCompletionRequestArgs::default()
            .model(self.config.model.clone())
            .messages(all)
            .temperature(0.0)
            .build()
            .map_err(|e| ModelError::Provider(e.to_string()))
    }

    async fn request(
        &self,
        system: &str,
        messages: &[(Speaker, String)],
        call: &mut Call,
    ) -> Result<String, ModelError> {
        let request = self.build(system, messages)?;
        let timeout = self.config.timeout;
        let response = tokio::time::timeout(timeout, self.client.chat().create(request))
            .await
            .map_err(|_| ModelError::Timeout(timeout.as_secs()))?
            .map_err(|e| ModelError::Provider(first_line(&e.to_string())))?;
        if let Some(u) = &response.usage {
            call.prompt_tokens = u.prompt_tokens;
            call.completion_tokens = u.completion_tokens;
        }
        response
            .choices
            .into_iter()
            .find_map(|c| c.message.content)
            .filter(|t| !t.trim().is_empty())
            .ok_or(ModelError::Empty)
    }

    async fn stream(
        &self,
        system: &str,
        messages: &[(Speaker, String)],
        call: &mut Call,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, ModelError> {
        let mut request = self.build(system, messages)?;
        request.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
        let timeout = self.config.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = |_| ModelError::Timeout(timeout.as_secs());
        let provider =
            |e: async_openai::error::OpenAIError| ModelError::Provider(first_line(&e.to_string()));
        let mut chunks =
            tokio::time::timeout_at(deadline, self.client.chat().create_stream(request))
                .await
                .map_err(timed_out)?
                .map_err(provider)?;
        let mut text = String::new();
        let mut usage = None;
        let outcome = loop {
            match tokio::time::timeout_at(deadline, chunks.next()).await {
                Err(e) => break Err(timed_out(e)),
                Ok(None) => break Ok(()),
                Ok(Some(Err(e))) => break Err(provider(e)),
                Ok(Some(Ok(chunk))) => {
                    if let Some(u) = chunk.usage {
                        usage = Some((u.prompt_tokens, u.completion_tokens));
                    }
                    for piece in chunk.choices.into_iter().filter_map(|c| c.delta.content) {
                        if !piece.is_empty() {
                            on_delta(&piece);
                            text.push_str(&piece);
                        }
                    }
                }
            }
        };
        // A request refused before any text was not charged by the provider either.
        (call.prompt_tokens, call.completion_tokens) = match usage {
            Some(u) => u,
            None if text.is_empty() => (0, 0),
            None => {
                let prompt: usize =
                    system.len() + messages.iter().map(|(_, m)| m.len()).sum::<usize>();
                (estimate(prompt), estimate(text.len()))
            }
        };
        outcome?;
        if text.trim().is_empty() {
            return Err(ModelError::Empty);
        }
        Ok(text)
    }

    /// What a call cost, in USD.
    pub fn cost(&self, call: &Call) -> f64 {
        (call.prompt_tokens as f64 * self.config.prompt_price
            + call.completion_tokens as f64 * self.config.completion_price)
            / 1e6
    }
}

/// Tokens in `bytes` of text, roughly, for a provider that reports none.
fn estimate(bytes: usize) -> u32 {
    bytes.div_ceil(4).min(u32::MAX as usize) as u32
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s);
    line.chars().take(300).collect()
}

//! OpenAI-compatible Chat Completions, streamed: `POST {base}/chat/completions` with
//! `stream: true` and `stream_options.include_usage`, so any compatible server works (vLLM,
//! Ollama, llama.cpp). Tool calls arrive as `tool_calls` deltas whose arguments are assembled
//! across chunks; usage arrives in the last chunk.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use longrun_workflows::payloads::{ContentBlock, LlmResponse, Role, StopReason, TokenUsage};

use super::provider::{
    ProviderCall, ProviderError, error_from_response, excerpt, parse_event, read_stream,
    transport_error,
};

pub struct OpenAi {
    pub base_url: String,
    pub api_key: SecretString,
}

/// The request body: our conversation in Chat Completions shapes.
pub fn request_body(call: &ProviderCall<'_>) -> Value {
    let mut messages = Vec::new();
    if !call.system.is_empty() {
        messages.push(json!({"role": "system", "content": call.system}));
    }
    for message in call.messages {
        match message.role {
            Role::Assistant => {
                let text = message.text();
                let tool_calls: Vec<Value> = message
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolUse { id, name, input } => Some(json!({
                            "id": id, "type": "function",
                            "function": {"name": name, "arguments": input.to_string()}
                        })),
                        _ => None,
                    })
                    .collect();
                let mut turn = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { json!(text) }});
                if !tool_calls.is_empty() {
                    turn["tool_calls"] = json!(tool_calls);
                }
                messages.push(turn);
            }
            Role::User => {
                // Tool results are messages of their own; the API has no error flag for them.
                let mut text = String::new();
                for block in &message.content {
                    match block {
                        ContentBlock::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            let content = if *is_error {
                                format!("Error: {content}")
                            } else {
                                content.clone()
                            };
                            messages.push(json!({"role": "tool", "tool_call_id": tool_use_id, "content": content}));
                        }
                        ContentBlock::Text { text: piece } => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(piece);
                        }
                        ContentBlock::ToolUse { .. } => {}
                    }
                }
                if !text.is_empty() {
                    messages.push(json!({"role": "user", "content": text}));
                }
            }
        }
    }
    let mut body = json!({
        "model": call.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": call.max_tokens,
    });
    if !call.tools.is_empty() {
        body["tools"] = call
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}))
            .collect();
    }
    body
}

#[derive(Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
}

/// Assembles a streamed completion from its chunks.
#[derive(Default)]
pub struct StreamAssembler {
    text: String,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Option<String>,
    usage: TokenUsage,
    done: bool,
}

impl StreamAssembler {
    /// Handles one chunk (`data:` JSON); returns a text delta to forward, if any.
    pub fn on_chunk(&mut self, chunk: &Value) -> Result<Option<String>, ProviderError> {
        if let Some(error) = chunk.get("error") {
            let message = error["message"]
                .as_str()
                .unwrap_or("stream error")
                .to_string();
            return Err(ProviderError::Retryable {
                message,
                retry_after: None,
            });
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            let cached = usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            let prompt = usage["prompt_tokens"].as_u64().unwrap_or(0);
            self.usage = TokenUsage {
                // Cached prompt tokens are billed differently: keep them apart.
                input_tokens: prompt.saturating_sub(cached),
                output_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
                cache_read_tokens: cached,
                cache_write_tokens: 0,
            };
        }
        let mut delta_text = None;
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let delta = &choice["delta"];
            if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
                self.text.push_str(text);
                delta_text = Some(text.to_string());
            }
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let index = call["index"].as_u64().unwrap_or(0);
                let partial = self.calls.entry(index).or_default();
                if let Some(id) = call["id"].as_str() {
                    partial.id = id.to_string();
                }
                if let Some(name) = call["function"]["name"].as_str() {
                    partial.name.push_str(name);
                }
                if let Some(arguments) = call["function"]["arguments"].as_str() {
                    partial.arguments.push_str(arguments);
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish_reason = Some(reason.to_string());
            }
        }
        Ok(delta_text)
    }

    pub fn mark_done(&mut self) {
        self.done = true;
    }

    pub fn finish(self) -> Result<LlmResponse, ProviderError> {
        let Some(reason) = self.finish_reason else {
            return Err(ProviderError::Retryable {
                message: "the stream ended without a finish_reason".into(),
                retry_after: None,
            });
        };
        let stop_reason = match reason.as_str() {
            "stop" => StopReason::EndTurn,
            "tool_calls" | "function_call" => StopReason::ToolUse,
            "length" => StopReason::MaxTokens,
            "content_filter" => StopReason::Refusal,
            other => {
                return Err(ProviderError::BadResponse {
                    reason: format!("unknown finish_reason {other:?}"),
                    excerpt: String::new(),
                });
            }
        };
        let mut content = Vec::new();
        if !self.text.is_empty() {
            content.push(ContentBlock::Text { text: self.text });
        }
        for (index, call) in self.calls {
            if call.name.is_empty() {
                return Err(ProviderError::BadResponse {
                    reason: format!("tool call {index} has no name"),
                    excerpt: excerpt(&call.arguments),
                });
            }
            let input = if call.arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&call.arguments).map_err(|e| ProviderError::BadResponse {
                    reason: format!("tool call arguments are not JSON: {e}"),
                    excerpt: excerpt(&call.arguments),
                })?
            };
            let id = if call.id.is_empty() {
                format!("call_{index}")
            } else {
                call.id
            };
            content.push(ContentBlock::ToolUse {
                id,
                name: call.name,
                input,
            });
        }
        // Some servers say "stop" even when they return tool calls.
        let stop_reason = if stop_reason == StopReason::EndTurn
            && content
                .iter()
                .any(|b| matches!(b, ContentBlock::ToolUse { .. }))
        {
            StopReason::ToolUse
        } else {
            stop_reason
        };
        Ok(LlmResponse {
            content,
            stop_reason,
            usage: self.usage,
            cost_micro_usd: 0,
            paused: None,
        })
    }
}

impl OpenAi {
    pub async fn call(
        &self,
        http: &reqwest::Client,
        call: &ProviderCall<'_>,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<LlmResponse, ProviderError> {
        let response = http
            .post(format!("{}/chat/completions", self.base_url))
            .bearer_auth(self.api_key.expose_secret())
            .header("accept", "text/event-stream")
            .json(&request_body(call))
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            return Err(error_from_response(response).await);
        }
        let mut assembler = StreamAssembler::default();
        read_stream(response, |event| {
            if event.data.trim() == "[DONE]" {
                assembler.mark_done();
                return Ok(true);
            }
            let chunk = parse_event(&event)?;
            if let Some(delta) = assembler.on_chunk(&chunk)? {
                on_delta(&delta);
            }
            Ok(false)
        })
        .await?;
        assembler.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::provider::ToolDeclaration;
    use longrun_workflows::payloads::Message;

    fn feed(chunks: &[Value]) -> Result<(LlmResponse, String), ProviderError> {
        let mut assembler = StreamAssembler::default();
        let mut text = String::new();
        for chunk in chunks {
            if let Some(delta) = assembler.on_chunk(chunk)? {
                text.push_str(&delta);
            }
        }
        assembler.mark_done();
        Ok((assembler.finish()?, text))
    }

    #[test]
    fn assembles_tool_call_arguments_across_chunks() {
        let (response, text) = feed(&[
            json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Checking"}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "calculator", "arguments": ""}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"expression\":"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"3*3\"}"}}]}}]}),
            json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            json!({"choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 20}}}),
        ])
        .unwrap();
        assert_eq!(text, "Checking");
        assert_eq!(response.stop_reason, StopReason::ToolUse);
        assert_eq!(
            response.content[1],
            ContentBlock::ToolUse {
                id: "call_a".into(),
                name: "calculator".into(),
                input: json!({"expression": "3*3"})
            }
        );
        assert_eq!(
            response.usage,
            TokenUsage {
                input_tokens: 30,
                output_tokens: 9,
                cache_read_tokens: 20,
                cache_write_tokens: 0
            }
        );
    }

    #[test]
    fn finish_reasons_map_and_missing_ones_retry() {
        for (reason, expected) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("content_filter", StopReason::Refusal),
        ] {
            let (response, _) =
                feed(&[json!({"choices": [{"delta": {"content": "x"}, "finish_reason": reason}]})])
                    .unwrap();
            assert_eq!(response.stop_reason, expected);
        }
        let truncated = feed(&[json!({"choices": [{"delta": {"content": "x"}}]})]);
        assert!(matches!(truncated, Err(ProviderError::Retryable { .. })));
        let bad = feed(&[
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{nope"}}]}, "finish_reason": "tool_calls"}]}),
        ]);
        assert!(matches!(bad, Err(ProviderError::BadResponse { .. })));
    }

    #[test]
    fn request_uses_tool_messages_and_functions() {
        let messages = vec![
            Message::user_text("2+2?"),
            Message {
                role: Role::Assistant,
                content: vec![ContentBlock::ToolUse {
                    id: "c1".into(),
                    name: "calculator".into(),
                    input: json!({"expression": "2+2"}),
                }],
            },
            Message {
                role: Role::User,
                content: vec![ContentBlock::ToolResult {
                    tool_use_id: "c1".into(),
                    content: "bad".into(),
                    is_error: true,
                }],
            },
        ];
        let tools = vec![ToolDeclaration {
            name: "calculator".into(),
            description: "d".into(),
            input_schema: json!({"type": "object"}),
        }];
        let body = request_body(&ProviderCall {
            model: "gpt-x",
            system: "sys",
            messages: &messages,
            tools: &tools,
            max_tokens: 10,
        });
        let turns = body["messages"].as_array().unwrap();
        assert_eq!(turns[0]["role"], "system");
        assert_eq!(
            turns[2]["tool_calls"][0]["function"]["arguments"],
            "{\"expression\":\"2+2\"}"
        );
        assert_eq!(
            turns[3],
            json!({"role": "tool", "tool_call_id": "c1", "content": "Error: bad"})
        );
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["tools"][0]["function"]["parameters"]["type"], "object");
    }
}

//! OpenAI-compatible Chat Completions, streamed: `POST {base}/chat/completions` with
//! `stream: true` and `stream_options.include_usage`, so any compatible server works (vLLM,
//! Ollama, llama.cpp). Tool calls arrive as `tool_calls` deltas whose arguments are assembled
//! across chunks; usage arrives in the last chunk.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use longrun_workflows::payloads::{ContentBlock, LlmResponse, Role, StopReason, TokenUsage};

use super::provider::{
    ProviderApi, ProviderCall, ProviderError, answer, excerpt, parse_event, tool_input,
};
use super::sse::SseEvent;

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
}

impl ProviderApi for StreamAssembler {
    const PATH: &'static str = "/chat/completions";

    fn authorize(request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
        request.bearer_auth(key)
    }

    /// The request body: our conversation in Chat Completions shapes.
    fn request_body(call: &ProviderCall<'_>) -> Value {
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
        if let Some(schema) = call.output_schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "final_answer", "schema": schema, "strict": true},
            });
        }
        body
    }

    /// A chunk, or the `[DONE]` that ends the stream.
    fn on_sse_event(&mut self, event: &SseEvent) -> Result<Option<String>, ProviderError> {
        if event.data.trim() == "[DONE]" {
            self.mark_done();
            return Ok(None);
        }
        self.on_chunk(&parse_event(event)?)
    }

    /// Whether `[DONE]` arrived.
    fn is_done(&self) -> bool {
        self.done
    }

    fn finish(self) -> Result<LlmResponse, ProviderError> {
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
            let input = tool_input(&call.arguments, "tool call arguments")?;
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
        Ok(answer(content, stop_reason, self.usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::provider::testing::{
        self, calculator_call, calculator_round, request_with_calculator, tokens,
    };
    use longrun_workflows::payloads::Message;

    fn feed(chunks: &[Value]) -> Result<(String, LlmResponse), ProviderError> {
        testing::feed::<StreamAssembler>(chunks.iter().map(|chunk| (None, chunk)))
    }

    #[test]
    fn assembles_tool_call_arguments_across_chunks() {
        let (text, response) = feed(&[
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
        assert_eq!(response.content[1], calculator_call("call_a", "3*3"));
        assert_eq!(response.usage, tokens(30, 9, 20, 0));
    }

    #[test]
    fn finish_reasons_map_and_missing_ones_retry() {
        for (reason, expected) in [
            ("stop", StopReason::EndTurn),
            ("length", StopReason::MaxTokens),
            ("content_filter", StopReason::Refusal),
        ] {
            let (_, response) =
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
        let mut messages = vec![Message::user_text("2+2?")];
        messages.extend(calculator_round("c1", "2+2", "bad", true));
        let body = request_with_calculator::<StreamAssembler>("gpt-x", &messages);
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

    mod properties {
        use super::*;
        use crate::models::sse::stream_parser_properties;
        use crate::models::sse::testing::{
            StreamedCall, frame, json_value, line_end, streamed_call, text,
        };
        use proptest::prelude::*;

        const FINISH_REASONS: [(&str, StopReason); 5] = [
            ("stop", StopReason::EndTurn),
            ("tool_calls", StopReason::ToolUse),
            ("function_call", StopReason::ToolUse),
            ("length", StopReason::MaxTokens),
            ("content_filter", StopReason::Refusal),
        ];

        #[derive(Debug, Clone)]
        struct Streamed {
            text: Vec<String>,
            calls: Vec<StreamedCall>,
            finish: (&'static str, StopReason),
            /// Prompt tokens, of which cached (at most as many), and completion tokens.
            usage: Option<(u64, u64, u64)>,
            /// Whether the stream ends with `[DONE]` (some servers just close it).
            done: bool,
            ends: Vec<&'static str>,
        }

        impl Streamed {
            fn chunks(&self) -> Vec<String> {
                let chunk = |delta: Value, finish: Value| {
                    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
                    .to_string()
                };
                let mut chunks = vec![chunk(
                    json!({"role": "assistant", "content": ""}),
                    Value::Null,
                )];
                for piece in &self.text {
                    chunks.push(chunk(json!({"content": piece}), Value::Null));
                }
                for (index, call) in self.calls.iter().enumerate() {
                    let mut first = json!({"index": index, "type": "function",
                        "function": {"name": call.name, "arguments": ""}});
                    if !call.id.is_empty() {
                        first["id"] = json!(call.id);
                    }
                    chunks.push(chunk(
                        json!({"content": null, "tool_calls": [first]}),
                        Value::Null,
                    ));
                    for piece in call.pieces() {
                        chunks.push(chunk(
                            json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                            Value::Null,
                        ));
                    }
                }
                chunks.push(chunk(json!({}), json!(self.finish.0)));
                if let Some((prompt, cached, completion)) = self.usage {
                    chunks.push(
                        json!({"id": "chatcmpl-1", "choices": [], "usage": {
                            "prompt_tokens": prompt, "completion_tokens": completion,
                            "total_tokens": prompt.saturating_add(completion),
                            "prompt_tokens_details": {"cached_tokens": cached}}})
                        .to_string(),
                    );
                }
                if self.done {
                    chunks.push("[DONE]".into());
                }
                chunks
            }

            fn bytes(&self) -> Vec<u8> {
                let mut bytes = String::from(": OPENROUTER PROCESSING\n\n");
                for (n, chunk) in self.chunks().iter().enumerate() {
                    bytes.push_str(&frame(None, chunk, self.ends[n % self.ends.len()]));
                }
                bytes.into_bytes()
            }

            fn expected(&self) -> (String, LlmResponse) {
                let text = self.text.concat();
                let mut content = Vec::new();
                if !text.is_empty() {
                    content.push(ContentBlock::Text { text: text.clone() });
                }
                for (index, call) in self.calls.iter().enumerate() {
                    // A call the server sent without an id is named after its index.
                    let id = if call.id.is_empty() {
                        format!("call_{index}")
                    } else {
                        call.id.clone()
                    };
                    content.push(call.answered_as(&id));
                }
                let stop_reason = match self.finish.1 {
                    StopReason::EndTurn if !self.calls.is_empty() => StopReason::ToolUse,
                    other => other,
                };
                let usage = self
                    .usage
                    .map_or_else(TokenUsage::default, |(prompt, cached, completion)| {
                        tokens(prompt - cached, completion, cached, 0)
                    });
                (text, answer(content, stop_reason, usage))
            }
        }

        fn streamed() -> impl Strategy<Value = Streamed> {
            (
                prop::collection::vec(text(), 0..6),
                prop::collection::vec(
                    streamed_call(
                        prop_oneof![Just(String::new()), "call_[A-Za-z0-9]{1,12}"],
                        prop_oneof!["[a-z_]{1,16}", "[^\u{0}]{1,8}"],
                    ),
                    0..4,
                ),
                prop::sample::select(FINISH_REASONS.to_vec()),
                prop::option::of((any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
                    |(prompt, cached, completion)| (prompt, cached.min(prompt), completion),
                )),
                any::<bool>(),
                prop::collection::vec(line_end(), 1..8),
            )
                .prop_map(|(text, calls, finish, usage, done, ends)| Streamed {
                    text,
                    calls,
                    finish,
                    usage,
                    done,
                    ends,
                })
        }

        /// Chunks with the right shape but any values.
        fn wild_chunk() -> impl Strategy<Value = Value> {
            prop_oneof![
                json_value(),
                (json_value(), json_value(), json_value()).prop_map(|(a, b, c)| json!({
                    "choices": [{"delta": {"content": a, "tool_calls": [{"index": b, "id": c,
                        "function": {"name": a, "arguments": c}}]}, "finish_reason": b}],
                    "usage": c,
                })),
                (json_value(), json_value()).prop_map(|(a, b)| json!({"error": a, "usage": {
                    "prompt_tokens": a, "completion_tokens": b,
                    "prompt_tokens_details": {"cached_tokens": b}}})),
            ]
        }

        stream_parser_properties!(
            StreamAssembler,
            streamed: streamed(),
            wild: wild_chunk().prop_map(|chunk| SseEvent {
                event: String::new(),
                data: chunk.to_string(),
                id: None,
            }),
            prefixes: ["", "data: [DONE]", "data: {\"choices\":"],
        );
    }
}

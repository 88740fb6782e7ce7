//! The Anthropic Messages API, streamed: `POST {base}/v1/messages` with `stream: true`.
//! Text arrives as `text_delta`s, tool calls as `tool_use` blocks whose input is assembled
//! from `input_json_delta`s, usage from `message_start` and `message_delta`.

use std::collections::BTreeMap;

use longrun_domain::FINAL_ANSWER_TOOL;
use serde_json::{Value, json};

use longrun_workflows::payloads::{
    ContentBlock, LlmResponse, Message, Role, StopReason, TokenUsage,
};

use super::provider::{
    ProviderApi, ProviderCall, ProviderError, answer, excerpt, parse_event, tool_input,
};
use super::sse::SseEvent;

pub const API_VERSION: &str = "2023-06-01";

/// Consecutive messages of one role are merged: the API wants turns to alternate.
fn messages(messages: &[Message]) -> Vec<Value> {
    let mut out: Vec<(Role, Vec<Value>)> = Vec::new();
    for message in messages {
        let blocks = message.content.iter().map(|block| match block {
            ContentBlock::Text { text } => json!({"type": "text", "text": text}),
            ContentBlock::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
            ContentBlock::ToolResult { tool_use_id, content, is_error } => json!({
                "type": "tool_result", "tool_use_id": tool_use_id, "content": content, "is_error": is_error
            }),
        });
        match out.last_mut() {
            Some((role, content)) if *role == message.role => content.extend(blocks),
            _ => out.push((message.role, blocks.collect())),
        }
    }
    out.into_iter()
        .map(|(role, content)| {
            let role = match role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            json!({"role": role, "content": content})
        })
        .collect()
}

/// A block being assembled from the stream.
enum Partial {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        json: String,
    },
    Other,
}

/// Assembles a streamed message. Separate from the transport so it can be tested (and fuzzed)
/// on recorded streams.
#[derive(Default)]
pub struct StreamAssembler {
    blocks: BTreeMap<u64, Partial>,
    usage: TokenUsage,
    stop_reason: Option<StopReason>,
    done: bool,
}

impl StreamAssembler {
    /// Handles one event; returns a text delta to forward, if any.
    pub fn on_event(&mut self, kind: &str, data: &Value) -> Result<Option<String>, ProviderError> {
        let bad = |reason: &str| ProviderError::BadResponse {
            reason: format!("{kind}: {reason}"),
            excerpt: excerpt(&data.to_string()),
        };
        match kind {
            "message_start" => {
                let usage = &data["message"]["usage"];
                self.usage.input_tokens = usage["input_tokens"].as_u64().unwrap_or(0);
                self.usage.output_tokens = usage["output_tokens"].as_u64().unwrap_or(0);
                self.usage.cache_read_tokens =
                    usage["cache_read_input_tokens"].as_u64().unwrap_or(0);
                self.usage.cache_write_tokens =
                    usage["cache_creation_input_tokens"].as_u64().unwrap_or(0);
            }
            "content_block_start" => {
                let index = data["index"].as_u64().ok_or_else(|| bad("no index"))?;
                let block = &data["content_block"];
                let partial = match block["type"].as_str() {
                    Some("text") => Partial::Text(block["text"].as_str().unwrap_or("").to_string()),
                    Some("tool_use") => Partial::ToolUse {
                        id: block["id"]
                            .as_str()
                            .ok_or_else(|| bad("tool_use without id"))?
                            .to_string(),
                        name: block["name"]
                            .as_str()
                            .ok_or_else(|| bad("tool_use without name"))?
                            .to_string(),
                        json: String::new(),
                    },
                    // Thinking and other block types are not part of the conversation we keep.
                    _ => Partial::Other,
                };
                self.blocks.insert(index, partial);
            }
            "content_block_delta" => {
                let index = data["index"].as_u64().ok_or_else(|| bad("no index"))?;
                let delta = &data["delta"];
                match (self.blocks.get_mut(&index), delta["type"].as_str()) {
                    (Some(Partial::Text(text)), Some("text_delta")) => {
                        let piece = delta["text"]
                            .as_str()
                            .ok_or_else(|| bad("text_delta without text"))?;
                        text.push_str(piece);
                        return Ok(Some(piece.to_string()));
                    }
                    (Some(Partial::ToolUse { json, .. }), Some("input_json_delta")) => {
                        json.push_str(delta["partial_json"].as_str().unwrap_or(""));
                    }
                    (Some(_), _) => {}
                    (None, _) => return Err(bad("delta for a block that was not started")),
                }
            }
            "content_block_stop" => {}
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(match reason {
                        "end_turn" | "pause_turn" => StopReason::EndTurn,
                        "tool_use" => StopReason::ToolUse,
                        "max_tokens" | "model_context_window_exceeded" => StopReason::MaxTokens,
                        "stop_sequence" => StopReason::StopSequence,
                        "refusal" => StopReason::Refusal,
                        other => return Err(bad(&format!("unknown stop_reason {other:?}"))),
                    });
                }
                let usage = &data["usage"];
                if let Some(n) = usage["output_tokens"].as_u64() {
                    self.usage.output_tokens = n;
                }
                if let Some(n) = usage["input_tokens"].as_u64() {
                    self.usage.input_tokens = n;
                }
                if let Some(n) = usage["cache_read_input_tokens"].as_u64() {
                    self.usage.cache_read_tokens = n;
                }
                if let Some(n) = usage["cache_creation_input_tokens"].as_u64() {
                    self.usage.cache_write_tokens = n;
                }
            }
            "message_stop" => self.done = true,
            "ping" => {}
            "error" => {
                let kind = data["error"]["type"].as_str().unwrap_or("error");
                let message = data["error"]["message"]
                    .as_str()
                    .unwrap_or("stream error")
                    .to_string();
                return Err(match kind {
                    "overloaded_error" | "api_error" | "rate_limit_error" | "timeout_error" => {
                        ProviderError::Retryable {
                            message: format!("{kind}: {message}"),
                            retry_after: None,
                        }
                    }
                    _ => ProviderError::Rejected {
                        status: 400,
                        message: format!("{kind}: {message}"),
                    },
                });
            }
            // New event types are ignored, as the API's versioning policy asks.
            _ => {}
        }
        Ok(None)
    }
}

impl ProviderApi for StreamAssembler {
    const PATH: &'static str = "/v1/messages";

    /// The key in `x-api-key`, with the API version it speaks.
    fn authorize(request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder {
        request
            .header("x-api-key", key)
            .header("anthropic-version", API_VERSION)
    }

    /// The request body: our conversation in Anthropic's shapes.
    fn request_body(call: &ProviderCall<'_>) -> Value {
        let mut body = json!({
            "model": call.model,
            "max_tokens": call.max_tokens,
            "messages": messages(call.messages),
            "stream": true,
        });
        if !call.system.is_empty() {
            body["system"] = json!(call.system);
        }
        let mut tools: Vec<Value> = call
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        if let Some(schema) = call.output_schema {
            // The answer is the input of a tool the model must call: with other tools, any tool
            // (it may still work first); alone, that one.
            tools.push(json!({
                "name": FINAL_ANSWER_TOOL,
                "description": "Gives the final answer: call it once you have the answer, with \
                                the answer as its input.",
                "input_schema": schema,
            }));
            body["tool_choice"] = if call.tools.is_empty() {
                json!({"type": "tool", "name": FINAL_ANSWER_TOOL})
            } else {
                json!({"type": "any"})
            };
        }
        if !tools.is_empty() {
            body["tools"] = Value::Array(tools);
        }
        body
    }

    /// Its `event:` name, or else the `type` of its data, says what an event is.
    fn on_sse_event(&mut self, event: &SseEvent) -> Result<Option<String>, ProviderError> {
        let data = parse_event(event)?;
        let kind = if event.event.is_empty() {
            data["type"].as_str().unwrap_or("")
        } else {
            event.event.as_str()
        };
        self.on_event(kind, &data)
    }

    fn is_done(&self) -> bool {
        self.done
    }

    /// The complete message, once `message_stop` arrived.
    fn finish(self) -> Result<LlmResponse, ProviderError> {
        if !self.done {
            return Err(ProviderError::Retryable {
                message: "the stream ended before message_stop".into(),
                retry_after: None,
            });
        }
        let stop_reason = self.stop_reason.ok_or_else(|| ProviderError::BadResponse {
            reason: "no stop_reason in the stream".into(),
            excerpt: String::new(),
        })?;
        let mut content = Vec::with_capacity(self.blocks.len());
        for partial in self.blocks.into_values() {
            match partial {
                Partial::Text(text) if !text.is_empty() => {
                    content.push(ContentBlock::Text { text })
                }
                Partial::ToolUse { id, name, json } => {
                    let input = tool_input(&json, "tool_use input")?;
                    content.push(ContentBlock::ToolUse { id, name, input });
                }
                _ => {}
            }
        }
        Ok(answer(content, stop_reason, self.usage))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::provider::testing::{
        self, calculator_call, calculator_round, request_with_calculator, tokens,
    };

    fn feed(events: &[(&str, Value)]) -> Result<(String, LlmResponse), ProviderError> {
        testing::feed::<StreamAssembler>(events.iter().map(|(kind, data)| (Some(*kind), data)))
    }

    #[test]
    fn assembles_text_and_tool_use_with_usage() {
        let (deltas, response) = feed(&[
            ("message_start", json!({"message": {"usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 2}}})),
            ("content_block_start", json!({"index": 0, "content_block": {"type": "text", "text": ""}})),
            ("content_block_delta", json!({"index": 0, "delta": {"type": "text_delta", "text": "Let me "}})),
            ("content_block_delta", json!({"index": 0, "delta": {"type": "text_delta", "text": "check."}})),
            ("content_block_stop", json!({"index": 0})),
            ("content_block_start", json!({"index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {}}})),
            ("content_block_delta", json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"expres"}})),
            ("content_block_delta", json!({"index": 1, "delta": {"type": "input_json_delta", "partial_json": "sion\": \"1+1\"}"}})),
            ("content_block_stop", json!({"index": 1})),
            ("message_delta", json!({"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 40}})),
            ("message_stop", json!({})),
        ])
        .unwrap();
        assert_eq!(deltas, "Let me check.");
        assert_eq!(response.stop_reason, StopReason::ToolUse);
        assert_eq!(
            response.content,
            vec![
                ContentBlock::Text {
                    text: "Let me check.".into()
                },
                calculator_call("toolu_1", "1+1"),
            ]
        );
        assert_eq!(response.usage, tokens(25, 40, 3, 2));
    }

    #[test]
    fn every_stop_reason_is_mapped() {
        for (reason, expected) in [
            ("end_turn", StopReason::EndTurn),
            ("tool_use", StopReason::ToolUse),
            ("max_tokens", StopReason::MaxTokens),
            ("stop_sequence", StopReason::StopSequence),
            ("refusal", StopReason::Refusal),
        ] {
            let (_, response) = feed(&[
                (
                    "message_start",
                    json!({"message": {"usage": {"input_tokens": 1}}}),
                ),
                (
                    "message_delta",
                    json!({"delta": {"stop_reason": reason}, "usage": {"output_tokens": 1}}),
                ),
                ("message_stop", json!({})),
            ])
            .unwrap();
            assert_eq!(response.stop_reason, expected);
        }
    }

    #[test]
    fn broken_streams_are_classed() {
        let truncated = feed(&[("message_start", json!({"message": {"usage": {}}}))]);
        assert!(matches!(truncated, Err(ProviderError::Retryable { .. })));
        let overloaded = feed(&[(
            "error",
            json!({"error": {"type": "overloaded_error", "message": "busy"}}),
        )]);
        assert!(matches!(overloaded, Err(ProviderError::Retryable { .. })));
        let orphan = feed(&[(
            "content_block_delta",
            json!({"index": 3, "delta": {"type": "text_delta", "text": "x"}}),
        )]);
        assert!(matches!(orphan, Err(ProviderError::BadResponse { .. })));
        let bad_json = feed(&[
            (
                "content_block_start",
                json!({"index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "n"}}),
            ),
            (
                "content_block_delta",
                json!({"index": 0, "delta": {"type": "input_json_delta", "partial_json": "{oops"}}),
            ),
            (
                "message_delta",
                json!({"delta": {"stop_reason": "tool_use"}}),
            ),
            ("message_stop", json!({})),
        ]);
        assert!(matches!(bad_json, Err(ProviderError::BadResponse { .. })));
    }

    #[test]
    fn request_merges_turns_and_declares_tools() {
        let mut messages = vec![Message::user_text("hi")];
        messages.extend(calculator_round("t1", "2", "2", false));
        messages.push(Message::user_text("and?"));
        let body = request_with_calculator::<StreamAssembler>("claude-x", &messages);
        assert_eq!(body["stream"], true);
        assert_eq!(body["system"], "sys");
        assert_eq!(body["tools"][0]["input_schema"]["type"], "object");
        let turns = body["messages"].as_array().unwrap();
        assert_eq!(turns.len(), 3, "{body}");
        assert_eq!(turns[2]["content"][0]["type"], "tool_result");
        assert_eq!(turns[2]["content"][1]["text"], "and?");
    }

    mod properties {
        use super::*;
        use crate::models::sse::stream_parser_properties;
        use crate::models::sse::testing::{
            StreamedCall, frame, json_value, line_end, streamed_call, text,
        };
        use proptest::prelude::*;
        use proptest::sample::Index;
        use serde_json::Map;

        #[derive(Debug, Clone)]
        enum Block {
            Text(Vec<String>),
            ToolUse(StreamedCall),
            Thinking(Vec<String>),
        }

        const STOP_REASONS: [(&str, StopReason); 7] = [
            ("end_turn", StopReason::EndTurn),
            ("pause_turn", StopReason::EndTurn),
            ("tool_use", StopReason::ToolUse),
            ("max_tokens", StopReason::MaxTokens),
            ("model_context_window_exceeded", StopReason::MaxTokens),
            ("stop_sequence", StopReason::StopSequence),
            ("refusal", StopReason::Refusal),
        ];

        #[derive(Debug, Clone)]
        struct Streamed {
            start_usage: [u64; 4],
            end_usage: [Option<u64>; 4],
            blocks: Vec<Block>,
            stop: (&'static str, StopReason),
            pings: Vec<Index>,
            /// Per event, cycled: whether it has an `event:` line (else its `type` says).
            named: Vec<bool>,
            /// Per event, cycled: whether its JSON is pretty-printed over several lines.
            pretty: Vec<bool>,
            ends: Vec<&'static str>,
        }

        const USAGE_FIELDS: [&str; 4] = [
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        ];

        impl Streamed {
            fn events(&self) -> Vec<Value> {
                let start_usage: Map<String, Value> = USAGE_FIELDS
                    .iter()
                    .zip(self.start_usage)
                    .map(|(field, n)| (field.to_string(), json!(n)))
                    .collect();
                let mut events = vec![json!({
                    "type": "message_start",
                    "message": {"id": "msg_1", "type": "message", "role": "assistant",
                        "content": [], "model": "claude-x", "stop_reason": null,
                        "usage": start_usage}
                })];
                for (index, block) in self.blocks.iter().enumerate() {
                    let delta = |delta: Value| json!({"type": "content_block_delta", "index": index, "delta": delta});
                    match block {
                        Block::Text(pieces) => {
                            events.push(json!({"type": "content_block_start", "index": index,
                                "content_block": {"type": "text", "text": ""}}));
                            for piece in pieces {
                                events.push(delta(json!({"type": "text_delta", "text": piece})));
                            }
                        }
                        Block::ToolUse(call) => {
                            events.push(json!({"type": "content_block_start", "index": index,
                                "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}));
                            for piece in call.pieces() {
                                events.push(delta(
                                    json!({"type": "input_json_delta", "partial_json": piece}),
                                ));
                            }
                        }
                        Block::Thinking(pieces) => {
                            events.push(json!({"type": "content_block_start", "index": index,
                                "content_block": {"type": "thinking", "thinking": ""}}));
                            for piece in pieces {
                                events.push(delta(
                                    json!({"type": "thinking_delta", "thinking": piece}),
                                ));
                            }
                            events.push(delta(
                                json!({"type": "signature_delta", "signature": "c2ln"}),
                            ));
                        }
                    }
                    events.push(json!({"type": "content_block_stop", "index": index}));
                }
                let end_usage: Map<String, Value> = USAGE_FIELDS
                    .iter()
                    .zip(self.end_usage)
                    .filter_map(|(field, n)| Some((field.to_string(), json!(n?))))
                    .collect();
                events.push(json!({"type": "message_delta",
                    "delta": {"stop_reason": self.stop.0, "stop_sequence": null},
                    "usage": end_usage}));
                events.push(json!({"type": "message_stop"}));
                for ping in &self.pings {
                    // Anywhere after message_start and before message_stop.
                    let at = 1 + ping.index(events.len() - 1);
                    events.insert(at, json!({"type": "ping"}));
                }
                events
            }

            fn bytes(&self) -> Vec<u8> {
                let mut bytes = String::new();
                for (n, event) in self.events().iter().enumerate() {
                    let kind = event["type"].as_str().unwrap();
                    let named = self.named[n % self.named.len()].then_some(kind);
                    let data = if self.pretty[n % self.pretty.len()] {
                        serde_json::to_string_pretty(event).unwrap()
                    } else {
                        event.to_string()
                    };
                    bytes.push_str(&frame(named, &data, self.ends[n % self.ends.len()]));
                }
                bytes.into_bytes()
            }

            /// The text forwarded as deltas, and the response.
            fn expected(&self) -> (String, LlmResponse) {
                let mut deltas = String::new();
                let mut content = Vec::new();
                for block in &self.blocks {
                    match block {
                        Block::Text(pieces) => {
                            let text = pieces.concat();
                            deltas.push_str(&text);
                            if !text.is_empty() {
                                content.push(ContentBlock::Text { text });
                            }
                        }
                        Block::ToolUse(call) => content.push(call.answered_as(&call.id)),
                        Block::Thinking(_) => {}
                    }
                }
                let usage = |n: usize| self.end_usage[n].unwrap_or(self.start_usage[n]);
                let usage = tokens(usage(0), usage(1), usage(2), usage(3));
                (deltas, answer(content, self.stop.1, usage))
            }
        }

        fn block() -> impl Strategy<Value = Block> {
            prop_oneof![
                prop::collection::vec(text(), 0..5).prop_map(Block::Text),
                streamed_call(
                    "toolu_[A-Za-z0-9]{1,12}",
                    prop_oneof!["[a-z_]{1,16}", text()]
                )
                .prop_map(Block::ToolUse),
                prop::collection::vec(text(), 0..3).prop_map(Block::Thinking),
            ]
        }

        fn streamed() -> impl Strategy<Value = Streamed> {
            (
                any::<[u64; 4]>(),
                any::<[Option<u64>; 4]>(),
                prop::collection::vec(block(), 0..5),
                prop::sample::select(STOP_REASONS.to_vec()),
                prop::collection::vec(any::<Index>(), 0..3),
                prop::collection::vec(any::<bool>(), 1..8),
                prop::collection::vec(any::<bool>(), 1..8),
                prop::collection::vec(line_end(), 1..8),
            )
                .prop_map(
                    |(start_usage, end_usage, blocks, stop, pings, named, pretty, ends)| Streamed {
                        start_usage,
                        end_usage,
                        blocks,
                        stop,
                        pings,
                        named,
                        pretty,
                        ends,
                    },
                )
        }

        /// Reads `chunks` as `call` reads a response body.
        fn assemble<'a>(
            chunks: impl IntoIterator<Item = &'a [u8]>,
        ) -> Result<(String, LlmResponse), ProviderError> {
            crate::models::sse::testing::assemble::<StreamAssembler>(chunks)
        }

        #[test]
        fn a_stream_cut_inside_its_last_event_is_retryable() {
            // `message_stop` arrives without its blank line: WHATWG discards it, so the
            // stream ended early and the call is worth retrying, not a bad response.
            let whole = concat!(
                "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
                "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n",
                "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
            );
            assert!(assemble([whole.as_bytes()]).is_ok());
            for cut in [whole.len() - 1, whole.len() - 2, whole.len() - 10] {
                let outcome = assemble([&whole.as_bytes()[..cut]]);
                assert!(
                    matches!(outcome, Err(ProviderError::Retryable { .. })),
                    "cut at {cut}: {outcome:?}"
                );
            }
        }

        const KINDS: [&str; 10] = [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "ping",
            "error",
            "",
            "unknown_new_event",
        ];

        /// Events with the right kinds and shapes but any values.
        fn wild_event() -> impl Strategy<Value = (String, Value)> {
            let kind = prop_oneof![
                prop::sample::select(KINDS.to_vec()).prop_map(str::to_string),
                text()
            ];
            let data = prop_oneof![
                json_value(),
                (json_value(), json_value(), json_value()).prop_map(|(index, block, delta)| {
                    json!({"index": index, "content_block": block, "delta": delta,
                        "usage": delta, "message": {"usage": block}})
                }),
                (
                    0u64..3,
                    prop::sample::select(vec!["text", "tool_use", "thinking", "x"]),
                    json_value()
                )
                    .prop_map(|(index, kind, value)| json!({"index": index,
                        "content_block": {"type": kind, "id": value, "name": value, "text": value},
                        "delta": {"type": "input_json_delta", "partial_json": value, "text": value,
                            "stop_reason": value}})),
            ];
            (kind, data)
        }

        stream_parser_properties!(
            StreamAssembler,
            streamed: streamed(),
            wild: wild_event().prop_map(|(event, data)| SseEvent {
                event,
                data: data.to_string(),
                id: None,
            }),
            prefixes: ["", "event: message_start\ndata: ", "data: {\"type\":"],
        );
    }
}

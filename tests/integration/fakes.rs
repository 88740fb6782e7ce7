//! Fake model providers speaking the real wire formats (Anthropic Messages and OpenAI Chat
//! Completions, both streamed as Server-Sent Events) over loopback, driven by a script:
//! what to answer at each turn of a conversation. They record every request they receive, and
//! notice when a client goes away in the middle of an answer.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use longrun_activities::{ProviderEndpoint, ProviderSettings};

use crate::harness::poll;

/// The API key [`FakeLlm::providers`] configures.
pub const PROVIDER_KEY: &str = "sk-test-provider-key";

/// What the fake answers at one turn.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Ends the turn with text.
    Text(&'static str),
    /// Asks for tool calls: `(id, name, input)`.
    Tools(Vec<Call>),
    /// An HTTP error with headers (429 with `retry-after`, 400, …).
    Error {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Value,
    },
    /// Starts answering, then stalls for this long before finishing with text.
    Stall(Duration, &'static str),
    /// Not JSON where JSON belongs.
    Garbage,
}

/// Agent `a` on the model a fake answers (`anthropic/claude-test`), with these built-in tools.
pub fn claude_agent(tools: &[&str]) -> Value {
    let mut agent = json!({"name": "a", "model": "anthropic/claude-test"});
    if !tools.is_empty() {
        agent["tools"] = json!(tools);
    }
    agent
}

/// The script: replies by turn (1-based), each list consumed one reply per attempt; the last
/// reply of a turn repeats.
#[derive(Clone, Debug, Default)]
pub struct Script {
    turns: BTreeMap<usize, Vec<Reply>>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next turn: its replies, one per attempt.
    pub fn then(mut self, replies: Vec<Reply>) -> Self {
        let turn = self.turns.keys().next_back().map_or(1, |last| last + 1);
        self.turns.insert(turn, replies);
        self
    }

    /// Adds a turn asking for one tool call.
    pub fn call(self, id: &'static str, tool: &'static str, input: Value) -> Self {
        self.then(vec![Reply::Tools(vec![(id, tool, input)])])
    }

    /// Adds a turn asking the calculator for `expression`.
    pub fn calculate(self, id: &'static str, expression: &str) -> Self {
        self.call(id, "calculator", json!({ "expression": expression }))
    }

    /// Adds a turn ending the conversation with `text`.
    pub fn answer(self, text: &'static str) -> Self {
        self.then(vec![Reply::Text(text)])
    }
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub turn: usize,
    pub body: Value,
    pub headers: HeaderMap,
    pub at: std::time::Instant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Anthropic,
    OpenAi,
}

struct Inner {
    format: Format,
    script: Mutex<Script>,
    attempts: Mutex<BTreeMap<usize, usize>>,
    received: Mutex<Vec<Received>>,
    /// Set when a client dropped a stream before its end.
    abandoned: AtomicBool,
}

#[derive(Clone)]
pub struct FakeLlm {
    inner: Arc<Inner>,
    pub base_url: String,
}

impl FakeLlm {
    pub async fn start(format: Format, script: Script) -> Self {
        let inner = Arc::new(Inner {
            format,
            script: Mutex::new(script),
            attempts: Mutex::new(BTreeMap::new()),
            received: Mutex::new(Vec::new()),
            abandoned: AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/v1/messages", post(handle))
            .route("/chat/completions", post(handle))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self {
            inner,
            base_url: format!("http://{address}"),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// The result of the run's first tool call as the model got it in its second request (the
    /// third message's first block), asserted to be an error or not and to hold `text`.
    #[track_caller]
    pub fn first_tool_result(&self, is_error: bool, text: &str) -> Value {
        let result = self.received()[1].body["messages"][2]["content"][0].clone();
        assert_eq!(result["is_error"], is_error, "{result}");
        let content = result["content"].as_str().unwrap_or_default();
        assert!(content.contains(text), "{result}");
        result
    }

    /// Requests received for a turn.
    pub fn requests_for_turn(&self, turn: usize) -> usize {
        self.received().iter().filter(|r| r.turn == turn).count()
    }

    /// Whether a client went away in the middle of an answer.
    pub fn abandoned(&self) -> bool {
        self.inner.abandoned.load(Ordering::SeqCst)
    }

    /// Waits until `n` requests arrived.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) {
        poll(timeout, Duration::from_millis(20), async || {
            let got = self.received().len();
            if got >= n {
                Ok(())
            } else {
                Err(format!("the fake model got {got} requests, expected {n}"))
            }
        })
        .await
    }

    /// Provider settings sending `anthropic/…` and `openai/…` models here, with
    /// [`PROVIDER_KEY`].
    pub fn providers(&self) -> ProviderSettings {
        let endpoint = ProviderEndpoint {
            base_url: self.base_url.clone(),
            api_key: PROVIDER_KEY.to_string().into(),
        };
        ProviderSettings {
            anthropic: Some(endpoint.clone()),
            openai: Some(endpoint),
            ..ProviderSettings::default()
        }
    }
}

/// Turn number of a request: one plus the assistant turns already in the conversation.
fn turn_of(format: Format, body: &Value) -> usize {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let assistants = messages.iter().filter(|m| m["role"] == "assistant").count();
    let _ = format;
    assistants + 1
}

async fn handle(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let turn = turn_of(inner.format, &body);
    inner.received.lock().unwrap().push(Received {
        turn,
        body: body.clone(),
        headers,
        at: std::time::Instant::now(),
    });
    let attempt = {
        let mut attempts = inner.attempts.lock().unwrap();
        let n = attempts.entry(turn).or_insert(0);
        *n += 1;
        *n
    };
    let reply = {
        let script = inner.script.lock().unwrap();
        match script.turns.get(&turn) {
            Some(replies) if !replies.is_empty() => {
                replies[(attempt - 1).min(replies.len() - 1)].clone()
            }
            _ => Reply::Text("The script has nothing more to say."),
        }
    };
    match reply {
        Reply::Error {
            status,
            headers,
            body,
        } => {
            let mut response =
                (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        Reply::Garbage => sse_response(
            vec![(
                Duration::ZERO,
                "event: message_start\ndata: {not json\n\n".to_string(),
            )],
            inner.clone(),
        ),
        other => {
            let events = match inner.format {
                Format::Anthropic => anthropic_events(&other),
                Format::OpenAi => openai_events(&other),
            };
            sse_response(events, inner.clone())
        }
    }
}

/// Sets the fake's `abandoned` flag when a stream is dropped before its end.
struct AbandonGuard {
    inner: Arc<Inner>,
    finished: bool,
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.inner.abandoned.store(true, Ordering::SeqCst);
        }
    }
}

fn sse_response(events: Vec<(Duration, String)>, inner: Arc<Inner>) -> Response {
    let guard = AbandonGuard {
        inner,
        finished: false,
    };
    let stream = futures::stream::unfold(
        (events.into_iter(), guard),
        |(mut events, mut guard)| async move {
            match events.next() {
                Some((delay, text)) => {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    Some((Ok::<_, Infallible>(Bytes::from(text)), (events, guard)))
                }
                None => {
                    guard.finished = true;
                    drop(guard);
                    None
                }
            }
        },
    );
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn sse(event: &str, data: Value) -> (Duration, String) {
    (Duration::ZERO, format!("event: {event}\ndata: {data}\n\n"))
}

/// A tool call as scripted: id, name, input.
type Call = (&'static str, &'static str, Value);

/// What an answer is made of, whatever the wire format.
struct Parts {
    text: Option<&'static str>,
    calls: Vec<Call>,
    /// Pause before the second half of the text.
    stall: Duration,
}

fn parts(reply: &Reply) -> Parts {
    let (text, calls, stall) = match reply {
        Reply::Text(text) => (Some(*text), vec![], Duration::ZERO),
        Reply::Tools(calls) => (None, calls.clone(), Duration::ZERO),
        Reply::Stall(delay, text) => (Some(*text), vec![], *delay),
        _ => (None, vec![], Duration::ZERO),
    };
    Parts { text, calls, stall }
}

fn anthropic_events(reply: &Reply) -> Vec<(Duration, String)> {
    let mut events = vec![sse(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant", "content": [], "usage": {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 5}}}),
    )];
    let Parts { text, calls, stall } = parts(reply);
    let mut index = 0;
    if let Some(text) = text {
        events.push(sse("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
        let (first, second) = text.split_at(text.len() / 2);
        events.push(sse("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": first}})));
        events.push(sse("ping", json!({"type": "ping"})));
        let mut delayed = sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": second}}),
        );
        delayed.0 = stall;
        events.push(delayed);
        events.push(sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ));
        index = 1;
    }
    for (id, name, input) in &calls {
        events.push(sse("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
        let json_text = input.to_string();
        let (a, b) = json_text.split_at(json_text.len() / 2);
        for piece in [a, b] {
            events.push(sse("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": piece}})));
        }
        events.push(sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
        index += 1;
    }
    let stop = if calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    };
    events.push(sse("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 20}})));
    events.push(sse("message_stop", json!({"type": "message_stop"})));
    events
}

fn openai_chunk(delta: Value, finish: Option<&str>) -> (Duration, String) {
    let chunk = json!({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    (Duration::ZERO, format!("data: {chunk}\n\n"))
}

fn openai_events(reply: &Reply) -> Vec<(Duration, String)> {
    let mut events = vec![openai_chunk(
        json!({"role": "assistant", "content": ""}),
        None,
    )];
    let Parts { text, calls, stall } = parts(reply);
    if let Some(text) = text {
        let (first, second) = text.split_at(text.len() / 2);
        events.push(openai_chunk(json!({"content": first}), None));
        let mut delayed = openai_chunk(json!({"content": second}), None);
        delayed.0 = stall;
        events.push(delayed);
    }
    for (index, (id, name, input)) in calls.iter().enumerate() {
        events.push(openai_chunk(json!({"tool_calls": [{"index": index, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}), None));
        let arguments = input.to_string();
        let (a, b) = arguments.split_at(arguments.len() / 2);
        for piece in [a, b] {
            events.push(openai_chunk(
                json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}),
                None,
            ));
        }
    }
    let finish = if calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    };
    events.push(openai_chunk(json!({}), Some(finish)));
    let usage = json!({"id": "chatcmpl-fake", "choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20, "prompt_tokens_details": {"cached_tokens": 10}}});
    events.push((Duration::ZERO, format!("data: {usage}\n\n")));
    events.push((Duration::ZERO, "data: [DONE]\n\n".to_string()));
    events
}

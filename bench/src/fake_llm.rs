//! A fake model speaking the Anthropic Messages API, streamed (`POST /v1/messages`,
//! `stream: true`), in-process and deterministic, so a benchmark measures longrun and
//! Temporal rather than a provider.
//!
//! Each run's input names a seed (`run #<seed>`). For the first K turns the model asks for
//! the calculator with an expression made from the seed and the turn; then it answers with
//! every tool result it was given, in order. The expected answer is a function of the seed
//! alone ([`expected_answer`]), so the driver checks each run's result without trusting the
//! system under test. Every answer waits `latency` after `message_start` before its content
//! (the model "thinking"), and, while a gate is closed, until the gate opens (scenario c holds
//! thousands of calls open at once this way). A call its client drops before it is answered is
//! noted with its seed and when (scenario c times cancellations by it).
//!
//! It must never depend on longrun's code: it stands for a provider on the other side of the
//! network.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::watch;

/// The model name the benchmark's agents use (`anthropic/<MODEL>`).
pub const MODEL: &str = "claude-bench-1";

/// How the fake behaves.
#[derive(Debug, Clone, Copy)]
pub struct Behaviour {
    /// Tool turns before the answer.
    pub tool_turns: u32,
    /// Pause between `message_start` and the content of every answer.
    pub latency: Duration,
}

struct Inner {
    behaviour: Behaviour,
    /// `true` while answers may proceed.
    gate: watch::Receiver<bool>,
    requests: AtomicU64,
    rejected: AtomicU64,
    in_flight: AtomicUsize,
    /// Calls being answered, by the run's seed.
    held: Mutex<HashMap<u64, usize>>,
    /// Calls dropped by their client before their answer: the run's seed, and when.
    dropped: Mutex<Vec<(u64, Instant)>>,
}

/// A running fake model.
pub struct FakeLlm {
    inner: Arc<Inner>,
    gate: watch::Sender<bool>,
    pub base_url: String,
    task: tokio::task::JoinHandle<()>,
}

impl FakeLlm {
    /// Serves on an ephemeral loopback port, with the gate open.
    pub async fn start(behaviour: Behaviour) -> anyhow::Result<Self> {
        let (gate, gate_rx) = watch::channel(true);
        let inner = Arc::new(Inner {
            behaviour,
            gate: gate_rx,
            requests: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            held: Mutex::new(HashMap::new()),
            dropped: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/v1/messages", post(messages))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            inner,
            gate,
            base_url: format!("http://{address}"),
            task,
        })
    }

    /// Holds every answer (after its `message_start`) until [`FakeLlm::open_gate`].
    pub fn close_gate(&self) {
        let _ = self.gate.send(false);
    }

    pub fn open_gate(&self) {
        let _ = self.gate.send(true);
    }

    /// Calls being answered right now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::SeqCst)
    }

    /// Requests refused as malformed (a wire-format bug on the client's side).
    pub fn rejected(&self) -> u64 {
        self.inner.rejected.load(Ordering::SeqCst)
    }

    /// Whether a call of run `seed` is being answered (or held) right now.
    pub fn holds(&self, seed: u64) -> bool {
        self.inner
            .held
            .lock()
            .is_ok_and(|held| held.get(&seed).is_some_and(|n| *n > 0))
    }

    /// Calls their client dropped before they were answered so far: each run's seed and when
    /// the fake saw the connection go.
    pub fn dropped(&self) -> Vec<(u64, Instant)> {
        self.inner
            .dropped
            .lock()
            .map(|dropped| dropped.clone())
            .unwrap_or_default()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The prompt of run `seed`: the fake reads the seed back from it.
pub fn prompt(seed: u64) -> String {
    format!("Benchmark run #{seed}: compute what the tool gives you and report it.")
}

/// The calculator expression the fake asks for at tool turn `turn` (0-based) of run `seed`.
pub fn expression(seed: u64, turn: u32) -> String {
    format!("{seed} * {} + {turn}", turn + 2)
}

/// The answer a correct run ends with.
pub fn expected_answer(seed: u64, tool_turns: u32) -> String {
    let results: Vec<String> = (0..tool_turns)
        .map(|turn| (seed * (u64::from(turn) + 2) + u64::from(turn)).to_string())
        .collect();
    answer(seed, &results)
}

fn answer(seed: u64, results: &[String]) -> String {
    format!("Run {seed} results: [{}].", results.join(", "))
}

fn seed_of(text: &str) -> Option<u64> {
    let rest = &text[text.find('#')? + 1..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Text of a message's content: a string, or the text of its `text` blocks.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// What a request asks for: its seed and the tool results so far, in order.
fn read_request(body: &Value) -> Result<(u64, Vec<String>), String> {
    if body["stream"] != true {
        return Err("stream must be true".into());
    }
    if body["model"] != MODEL {
        return Err(format!("unknown model {}", body["model"]));
    }
    let declares_calculator = body["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == "calculator"));
    if !declares_calculator {
        return Err("the calculator tool is not declared".into());
    }
    let messages = body["messages"].as_array().ok_or("no messages")?;
    let first = messages.first().ok_or("no messages")?;
    let seed = seed_of(&text_of(&first["content"])).ok_or("no seed in the first message")?;
    let mut results = Vec::new();
    for message in messages.iter().filter(|m| m["role"] == "user") {
        for block in message["content"].as_array().into_iter().flatten() {
            if block["type"] == "tool_result" {
                results.push(text_of(&block["content"]));
            }
        }
    }
    Ok((seed, results))
}

async fn messages(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    inner.requests.fetch_add(1, Ordering::SeqCst);
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|body| {
            if headers.get("x-api-key").is_none() {
                return Err("no x-api-key".into());
            }
            read_request(&body)
        });
    let (seed, results) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => {
            inner.rejected.fetch_add(1, Ordering::SeqCst);
            let body = json!({"type": "error", "error": {"type": "invalid_request_error", "message": message}});
            return (StatusCode::BAD_REQUEST, axum::Json(body)).into_response();
        }
    };
    let turn = results.len() as u32;
    let events = if turn < inner.behaviour.tool_turns {
        let id = format!("toolu_{seed}_{turn}");
        tool_use_events(&id, &json!({ "expression": expression(seed, turn) }))
    } else {
        text_events(&answer(seed, &results))
    };
    inner.in_flight.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut held) = inner.held.lock() {
        *held.entry(seed).or_default() += 1;
    }
    let answered = Arc::new(AtomicBool::new(false));
    let guard = InFlight {
        inner: inner.clone(),
        seed,
        answered: answered.clone(),
    };
    let start = sse(
        "message_start",
        json!({"type": "message_start", "message": {"id": format!("msg_{seed}_{turn}"), "type": "message", "role": "assistant", "model": MODEL, "content": [], "stop_reason": null, "usage": {"input_tokens": 100, "output_tokens": 1}}}),
    );
    let held = Held {
        until: tokio::time::Instant::now() + inner.behaviour.latency,
        gate: inner.gate.clone(),
        events: Some(events),
        answered,
    };
    let first = futures::stream::once(async move { Ok::<_, Infallible>(Bytes::from(start)) });
    // While it "thinks", the model sends `ping` events, as Anthropic's API does: a held call
    // is a slow answer, not a dead connection for the client's read timeout.
    let rest = futures::stream::unfold(held, |mut held| async move {
        let events = held.events.take()?;
        let until = held.until;
        let mut gate = held.gate.clone();
        let ready = async move {
            tokio::time::sleep_until(until).await;
            let _ = gate.wait_for(|open| *open).await;
        };
        tokio::select! {
            _ = ready => {
                held.answered.store(true, Ordering::SeqCst);
                Some((Ok::<_, Infallible>(Bytes::from(events.concat())), held))
            }
            _ = tokio::time::sleep(PING_EVERY) => {
                held.events = Some(events);
                let ping = sse("ping", json!({"type": "ping"}));
                Some((Ok(Bytes::from(ping)), held))
            }
        }
    });
    let body = futures::StreamExt::chain(first, rest);
    // The guard lives as long as the body: a call counts as in flight until it is answered
    // or the client goes away (hyper drops the body when it sees the connection closed).
    let body = futures::StreamExt::map(body, move |chunk| {
        let _ = &guard;
        chunk
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// How often a held call sends a `ping`.
const PING_EVERY: Duration = Duration::from_secs(10);

/// A call the fake holds: until `until` and the gate opens, then `events`.
struct Held {
    until: tokio::time::Instant,
    gate: tokio::sync::watch::Receiver<bool>,
    events: Option<Vec<String>>,
    /// Set once `events` are handed to the connection.
    answered: Arc<AtomicBool>,
}

/// A call being answered, from its `message_start` until its body is dropped.
struct InFlight {
    inner: Arc<Inner>,
    seed: u64,
    answered: Arc<AtomicBool>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        if let Ok(mut held) = self.inner.held.lock()
            && let Some(n) = held.get_mut(&self.seed)
        {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.seed);
            }
        }
        if !self.answered.load(Ordering::SeqCst)
            && let Ok(mut dropped) = self.inner.dropped.lock()
        {
            dropped.push((self.seed, Instant::now()));
        }
    }
}

fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

fn text_events(text: &str) -> Vec<String> {
    let mut cut = text.len() / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let (first, second) = text.split_at(cut);
    vec![
        sse(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ),
        sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": first}}),
        ),
        sse("ping", json!({"type": "ping"})),
        sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": second}}),
        ),
        sse(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        sse(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 20}}),
        ),
        sse("message_stop", json!({"type": "message_stop"})),
    ]
}

fn tool_use_events(id: &str, input: &Value) -> Vec<String> {
    let json_text = input.to_string();
    let (a, b) = json_text.split_at(json_text.len() / 2);
    let mut events = vec![sse(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": id, "name": "calculator", "input": {}}}),
    )];
    for piece in [a, b] {
        events.push(sse(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": piece}}),
        ));
    }
    events.push(sse(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(sse(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 20}}),
    ));
    events.push(sse("message_stop", json!({"type": "message_stop"})));
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_answer_follows_the_expressions() {
        assert_eq!(expression(7, 0), "7 * 2 + 0");
        assert_eq!(expression(7, 2), "7 * 4 + 2");
        assert_eq!(expected_answer(7, 3), "Run 7 results: [14, 22, 30].");
        assert_eq!(expected_answer(7, 0), "Run 7 results: [].");
    }

    /// A request of run `seed`, as both systems send it.
    fn request(seed: u64) -> Value {
        json!({
            "model": MODEL, "stream": true, "max_tokens": 10,
            "tools": [{"name": "calculator"}],
            "messages": [{"role": "user", "content": prompt(seed)}],
        })
    }

    #[tokio::test]
    async fn notes_a_held_call_its_client_drops_and_not_an_answered_one() {
        let fake = FakeLlm::start(Behaviour {
            tool_turns: 0,
            latency: Duration::ZERO,
        })
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let post = |seed| {
            http.post(format!("{}/v1/messages", fake.base_url))
                .header("x-api-key", "k")
                .json(&request(seed))
                .send()
        };
        let answered = post(1).await.unwrap().text().await.unwrap();
        assert!(answered.contains("message_stop"), "{answered}");

        fake.close_gate();
        let mut held = post(2).await.unwrap();
        let first = held.chunk().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("message_start"));
        assert!(fake.holds(2));
        drop(held);
        let deadline = Instant::now() + Duration::from_secs(30);
        while fake.dropped().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let seeds: Vec<u64> = fake.dropped().iter().map(|(seed, _)| *seed).collect();
        assert_eq!(seeds, vec![2]);
        assert!(!fake.holds(2));
        assert_eq!(fake.in_flight(), 0);
    }

    #[test]
    fn reads_the_seed_and_tool_results_of_a_conversation() {
        let body = json!({
            "model": MODEL, "stream": true, "max_tokens": 10,
            "tools": [{"name": "calculator"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": prompt(42)}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "calculator", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "84"}]},
            ]
        });
        assert_eq!(read_request(&body), Ok((42, vec!["84".to_string()])));
        let mut no_tool = body.clone();
        no_tool["tools"] = json!([]);
        assert!(read_request(&no_tool).is_err());
    }
}

//! `GET /v1/runs/{id}/events`: a run's events as Server-Sent Events.
//!
//! Stored events are replayed first (everything after `Last-Event-ID`, or `?after=`), each
//! with its sequence number as `id:` and its kind as `event:`; then new ones follow as they
//! are written, with streaming text as `llm.delta` events (live only: no id, not replayable).
//! The stream ends after `run.completed`. Streams are served by the run's feed (one store
//! follower per run in this process, see [`crate::feeds`]) and capped per run and per
//! workspace: over a cap, 429 `too_many_streams` with `Retry-After`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use longrun_domain::EventKind;
use longrun_store::{RunEvent, Store};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::Query;
use crate::feeds::{FeedItem, PAGE, Subscription};
use crate::routes::runs::find_run;

/// A comment line at least this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// A stream that heard nothing from its feed this long reads the table once itself.
const SAFETY_READ: Duration = Duration::from_secs(60);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    after: Option<String>,
}

fn parse_after(field: &str, text: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ApiError::invalid(field, "a non-negative event id"))
}

/// The run's events as Server-Sent Events: stored events first (after `Last-Event-ID` or
/// `?after=`), each with `id:` its sequence number, `event:` its kind and `data:` its JSON; then
/// new ones live, with streaming text as `llm.delta` (no id, not replayed). Ends after
/// `run.completed`.
#[utoipa::path(
    get,
    path = "/v1/runs/{id}/events",
    operation_id = "stream_run_events",
    params(
        ("id" = String, Path, description = "The run's id."),
        ("after" = Option<i64>, Query, minimum = 0,
            description = "Replay the events after this sequence number (`Last-Event-ID` wins)."),
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0,
            description = "Resume after this event (sent by reconnecting SSE clients)."),
    ),
    responses(
        (status = 200, description = "The events, streamed until `run.completed`.",
            content_type = "text/event-stream", body = crate::openapi::RunStreamEvent),
        (status = 422, description = "`invalid_request`: a bad `after` or `Last-Event-ID`, or an unknown query parameter.", body = crate::error::ErrorBody),
        (status = 429, description = "`too_many_streams`: the run or the workspace already has its most open streams (with `limit`).", body = crate::error::ErrorBody),
    ),
)]
pub(crate) async fn stream(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    // Both are checked when both are given (a bad one is refused, not ignored); the header,
    // which a reconnecting client sends, wins.
    let after_query = query
        .after
        .as_deref()
        .map(|text| parse_after("after", text))
        .transpose()?;
    let after = match (headers.get("last-event-id"), after_query) {
        (Some(value), _) => parse_after(
            "Last-Event-ID",
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Last-Event-ID", "not text"))?,
        )?,
        (None, Some(after)) => after,
        (None, None) => 0,
    };
    let workspace_id = tenant.workspace.id.clone();
    find_run(&state, &workspace_id, &run_id).await?;
    let limits = tenant.limits(&state)?;
    // Subscribed before the first read of the table, so nothing written in between is missed.
    let subscription = state
        .feeds
        .subscribe(&workspace_id, &run_id, after, limits.event_streams)
        .map_err(ApiError::from)?;
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    let relay = Relay {
        store: state.store.clone(),
        workspace_id: workspace_id.to_string(),
        run_id,
        last_seq: after,
        tx,
        shutdown: state.shutdown.clone(),
        subscription,
    };
    tokio::spawn(relay.run());
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// A stored event's frame: its sequence number as `id:` (what a reconnecting client sends
/// back as `Last-Event-ID`), its kind as `event:`, its JSON as `data:` (one `data:` line per
/// line of it).
pub(crate) fn stored_frame(seq: i64, kind: &str, data: &str) -> Event {
    Event::default().id(seq.to_string()).event(kind).data(data)
}

/// A live-only event's frame (streaming text): no `id:`, so it is never replayed.
pub(crate) fn live_frame(kind: &str, data: &str) -> Event {
    Event::default().event(kind).data(data)
}

/// Feeds one SSE connection from the run's feed; ends when the run completes, the client
/// goes, or the server shuts down. Its subscription holds its place under the stream caps.
struct Relay {
    store: Store,
    workspace_id: String,
    run_id: String,
    last_seq: i64,
    tx: mpsc::Sender<Result<Event, Infallible>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    subscription: Subscription,
}

async fn stopped(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await of the caller.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

enum Flow {
    Continue,
    Stop,
}

impl Relay {
    async fn run(mut self) {
        if let Flow::Stop = self.send_stored().await {
            return;
        }
        loop {
            let item = tokio::select! {
                item = self.subscription.items.recv() => item,
                // A safety net only: the feed wakes streams up; this bounds what a missed
                // wake-up could cost.
                _ = tokio::time::sleep(SAFETY_READ) => Err(broadcast::error::RecvError::Lagged(0)),
                _ = stopped(self.shutdown.clone()) => return,
                _ = self.tx.closed() => return,
            };
            let flow = match item {
                Ok(FeedItem::Stored(event)) if event.seq <= self.last_seq => Flow::Continue,
                Ok(FeedItem::Stored(event)) if event.seq == self.last_seq + 1 => {
                    self.send(&event).await
                }
                // A gap (the feed started after this stream, or this stream lagged): the
                // table has everything, this event included.
                Ok(FeedItem::Stored(_)) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.send_stored().await
                }
                Ok(FeedItem::Live(live)) => {
                    let (kind, data) = &*live;
                    if self
                        .tx
                        .send(Ok(live_frame(kind.as_str(), data)))
                        .await
                        .is_err()
                    {
                        Flow::Stop
                    } else {
                        Flow::Continue
                    }
                }
                // The subscription holds a sender, so the channel never closes under it.
                Err(broadcast::error::RecvError::Closed) => Flow::Stop,
            };
            if let Flow::Stop = flow {
                return;
            }
        }
    }

    async fn send(&mut self, event: &RunEvent) -> Flow {
        self.last_seq = event.seq;
        let done = event.kind == EventKind::RunCompleted;
        let frame = stored_frame(event.seq, event.kind.as_str(), &event.data);
        if self.tx.send(Ok(frame)).await.is_err() || done {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// Sends every stored event after the last one sent; stops after `run.completed`.
    async fn send_stored(&mut self) -> Flow {
        loop {
            let events = match self
                .store
                .events_after(&self.workspace_id, &self.run_id, self.last_seq, PAGE)
                .await
            {
                Ok(events) => events,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read run events; the stream ends");
                    return Flow::Stop;
                }
            };
            let count = events.len();
            for event in &events {
                if let Flow::Stop = self.send(event).await {
                    return Flow::Stop;
                }
            }
            if (count as i64) < PAGE {
                return Flow::Continue;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use longrun_domain::sse::{SseDecoder, SseEvent};
    use proptest::prelude::*;
    use serde_json::Value;

    /// The bytes axum writes for `frames`, as a client receives them.
    fn render(frames: Vec<Event>) -> Vec<u8> {
        let stream = futures::stream::iter(frames.into_iter().map(Ok::<_, Infallible>));
        let body = Sse::new(stream).into_response().into_body();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime
            .block_on(body.collect())
            .unwrap()
            .to_bytes()
            .to_vec()
    }

    /// Decodes `bytes` as provider streams are decoded, cut into `chunk`-byte pieces.
    fn decode(bytes: &[u8], chunk: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            events.extend(decoder.push(piece).unwrap());
        }
        decoder.finish();
        events
    }

    /// JSON as run events hold it: any values, strings with line ends and any characters.
    fn json_value() -> impl Strategy<Value = Value> {
        let text = prop_oneof![
            "[a-z\r\n\t \"\\\\é日😀\u{2028}\u{0}]{0,12}",
            any::<String>()
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text.clone().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text.clone(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An event kind: anything a field can hold (no line end), not empty.
    fn kind() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "run.started",
                "llm.delta",
                "tool.completed",
                "run.completed"
            ])
            .prop_map(str::to_string),
            "[^\r\n]{1,16}",
        ]
    }

    #[derive(Debug, Clone)]
    enum Frame {
        Stored { seq: i64, kind: String, data: Value },
        Live { kind: String, data: Value },
    }

    fn frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            (0i64..=i64::MAX, kind(), json_value()).prop_map(|(seq, kind, data)| Frame::Stored {
                seq,
                kind,
                data
            }),
            (kind(), json_value()).prop_map(|(kind, data)| Frame::Live { kind, data }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn stored_and_live_events_read_back_exactly(
            frames in prop::collection::vec(frame(), 0..8),
            pretty in any::<bool>(),
            chunk in 1usize..64,
        ) {
            let text = |data: &Value| if pretty {
                serde_json::to_string_pretty(data).unwrap()
            } else {
                data.to_string()
            };
            let expected: Vec<SseEvent> = frames.iter().map(|frame| match frame {
                Frame::Stored { seq, kind, data } => SseEvent {
                    event: kind.clone(), data: text(data), id: Some(seq.to_string()),
                },
                Frame::Live { kind, data } => SseEvent { event: kind.clone(), data: text(data), id: None },
            }).collect();
            let bytes = render(frames.iter().map(|frame| match frame {
                Frame::Stored { seq, kind, data } => stored_frame(*seq, kind, &text(data)),
                Frame::Live { kind, data } => live_frame(kind, &text(data)),
            }).collect());
            for chunk in [bytes.len(), chunk, 1] {
                let decoded = decode(&bytes, chunk);
                prop_assert_eq!(&decoded, &expected);
                for (event, frame) in decoded.iter().zip(&frames) {
                    let (Frame::Stored { data, .. } | Frame::Live { data, .. }) = frame;
                    prop_assert_eq!(&serde_json::from_str::<Value>(&event.data).unwrap(), data);
                }
            }
        }

        #[test]
        fn any_text_reads_back_with_carriage_returns_as_line_feeds(
            data in "[a-z\r\n é😀]{0,24}|.{0,24}",
            kind in kind(),
            seq in 0i64..1_000_000,
        ) {
            // A line end inside `data:` can only be sent as a new `data:` line, which a client
            // joins with `\n`: text with `\r` reads back with `\n` in its place (JSON, all run
            // events hold, never has a raw `\r` but as whitespace, where either is the same).
            let bytes = render(vec![stored_frame(seq, &kind, &data)]);
            let expected = SseEvent { event: kind, data: data.replace('\r', "\n"), id: Some(seq.to_string()) };
            prop_assert_eq!(decode(&bytes, bytes.len()), vec![expected.clone()]);
            prop_assert_eq!(decode(&bytes, 1), vec![expected]);
        }
    }

    #[test]
    fn frames_carry_id_event_and_data_lines() {
        let bytes = render(vec![
            stored_frame(7, "tool.completed", "{\"a\":\n1}"),
            live_frame("llm.delta", "{\"text\":\"hi\"}"),
        ]);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "id: 7\nevent: tool.completed\ndata: {\"a\":\ndata: 1}\n\n\
             event: llm.delta\ndata: {\"text\":\"hi\"}\n\n"
        );
    }
}

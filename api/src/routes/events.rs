//! `GET /v1/runs/{id}/events`: a run's events as Server-Sent Events.
//!
//! Stored events are replayed first (everything after `Last-Event-ID`, or `?after=`), each
//! with its sequence number as `id:` and its kind as `event:`; then new ones follow as they
//! are written, with streaming text as `llm.delta` events (live only: no id, not replayable).
//! The stream ends after `run.completed`. Live deliveries only wake the stream up: it always
//! reads stored events from the table in order, so a reconnecting client gets every event
//! exactly once, and a missed wake-up costs at most one poll interval.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use longrun_store::{Backend, Store};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::Query;

/// Stored events read per query.
const PAGE: i64 = 500;
/// A comment line at least this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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

pub(crate) async fn stream(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let after = match (headers.get("last-event-id"), query.after.as_deref()) {
        (Some(value), _) => parse_after(
            "Last-Event-ID",
            value
                .to_str()
                .map_err(|_| ApiError::invalid("Last-Event-ID", "not text"))?,
        )?,
        (None, Some(text)) => parse_after("after", text)?,
        (None, None) => 0,
    };
    let workspace_id = tenant.workspace.id.clone();
    state
        .store
        .run(&workspace_id, &run_id)
        .await?
        .ok_or_else(ApiError::run_not_found)?;
    // Subscribe before the first read, so nothing written in between is missed.
    let live = state.store.subscribe_live();
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    let follower = Follower {
        store: state.store.clone(),
        workspace_id,
        run_id,
        last_seq: after,
        tx,
        shutdown: state.shutdown.clone(),
    };
    tokio::spawn(follower.run(live));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Feeds one SSE connection; ends when the run completes, the client goes, or the server
/// shuts down.
struct Follower {
    store: Store,
    workspace_id: String,
    run_id: String,
    last_seq: i64,
    tx: mpsc::Sender<Result<Event, Infallible>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

async fn stopped(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await of the caller.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

enum Flow {
    Continue,
    Stop,
}

impl Follower {
    async fn run(mut self, mut live: broadcast::Receiver<longrun_store::LiveEvent>) {
        // Other processes' writes reach SQLite readers only by polling; Postgres has NOTIFY.
        let poll = match self.store.backend() {
            Backend::Sqlite => Duration::from_millis(500),
            Backend::Postgres => Duration::from_secs(5),
        };
        loop {
            match self.send_stored().await {
                Flow::Stop => return,
                Flow::Continue => {}
            }
            let deadline = tokio::time::Instant::now() + poll;
            // Wait for a wake-up for this run (or the poll interval), forwarding deltas.
            loop {
                tokio::select! {
                    received = live.recv() => match received {
                        Ok(event) if event.run_id == self.run_id && event.workspace_id == self.workspace_id => {
                            if event.seq.is_some() {
                                break;
                            }
                            let delta = Event::default().event(event.kind).data(event.data);
                            if self.tx.send(Ok(delta)).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        // Missed deliveries are read from the table.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = stopped(self.shutdown.clone()) => return,
                    _ = self.tx.closed() => return,
                }
            }
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
            for event in events {
                self.last_seq = event.seq;
                let done = event.kind == "run.completed";
                let sse = Event::default()
                    .id(event.seq.to_string())
                    .event(event.kind)
                    .data(event.data);
                if self.tx.send(Ok(sse)).await.is_err() || done {
                    return Flow::Stop;
                }
            }
            if (count as i64) < PAGE {
                return Flow::Continue;
            }
        }
    }
}

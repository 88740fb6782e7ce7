//! Run event feeds: every event stream of one run in this API process is served by one store
//! follower, fanned out in-process, and the streams a client may hold are capped per run and
//! per workspace (by tier).
//!
//! A follower reads the run's stored events in order and broadcasts them, with the live-only
//! text deltas, to the run's streams; it wakes up on a live delivery for its run (NOTIFY on
//! Postgres, this process's own writes on SQLite) or, failing one, after the poll interval.
//! So a thousand streams of one run cost one query per wake-up, not a thousand.
//!
//! Each stream first replays what it asked for from the table (after `Last-Event-ID`), then
//! takes the broadcast, skipping what it already sent and reading any gap (a lagging stream,
//! a follower that started behind it) from the table again: the table stays the source of
//! truth, so every stream sends every stored event exactly once and in order.
//!
//! Why a stream cannot miss an event: it subscribes to the broadcast before it reads the
//! table, and the follower broadcasts every event it reads after the subscription. An event
//! the follower read before the subscription was committed before it, so the stream's own
//! read of the table finds it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{IntCounterVec, IntGauge, Registry};
use tokio::sync::{broadcast, watch};

use longrun_domain::EventKind;
use longrun_store::{Backend, LiveEvent, RunEvent, Store};

use crate::metrics::{counter_vec, gauge};

/// Stored events read per query.
pub(crate) const PAGE: i64 = 500;
/// Items a slow stream may fall behind the broadcast before it lags (and reads the table).
const BROADCAST_CAPACITY: usize = 256;

/// What a follower broadcasts.
#[derive(Debug, Clone)]
pub(crate) enum FeedItem {
    /// An event read from the table.
    Stored(Arc<RunEvent>),
    /// A live-only event (streaming text): kind and JSON.
    Live(Arc<(EventKind, String)>),
}

/// Why a stream was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRefusal {
    /// The run already has the most streams one process serves for a run.
    Run { limit: usize },
    /// The workspace already has its tier's streams.
    Workspace { limit: u64 },
}

#[derive(Clone)]
pub struct FeedMetrics {
    streams: IntGauge,
    followers: IntGauge,
    refused: IntCounterVec,
}

pub const EVENT_STREAMS_OPEN: &str = "longrun_event_streams_open";
pub const EVENT_FOLLOWERS: &str = "longrun_event_followers";
pub const EVENT_STREAMS_REFUSED_TOTAL: &str = "longrun_event_streams_refused_total";

impl FeedMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        Ok(Self {
            streams: gauge(registry, EVENT_STREAMS_OPEN, "Run event streams open now.")?,
            followers: gauge(
                registry,
                EVENT_FOLLOWERS,
                "Store followers running now: one per run with open streams.",
            )?,
            refused: counter_vec(
                registry,
                EVENT_STREAMS_REFUSED_TOTAL,
                "Event streams refused, by the cap they were over (run, workspace).",
                &["cap"],
            )?,
        })
    }

    pub fn unregistered() -> Self {
        Self::register(&Registry::new()).expect("fresh registry")
    }
}

type RunKey = (String, String);

struct Feed {
    tx: broadcast::Sender<FeedItem>,
    /// Streams of this run open now.
    streams: usize,
}

#[derive(Default)]
struct Open {
    /// Runs with open streams (or a follower still finishing). Never more entries than
    /// open streams plus followers ending.
    runs: HashMap<RunKey, Feed>,
    /// Open streams per workspace; a workspace leaves the map with its last stream.
    by_workspace: HashMap<String, u64>,
}

/// The feeds of this process.
pub struct RunFeeds {
    store: Store,
    open: Mutex<Open>,
    max_per_run: usize,
    poll: Duration,
    shutdown: watch::Receiver<bool>,
    metrics: FeedMetrics,
}

impl std::fmt::Debug for RunFeeds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunFeeds")
            .field("max_per_run", &self.max_per_run)
            .finish()
    }
}

/// One open stream's subscription; dropping it gives its places back.
pub(crate) struct Subscription {
    pub(crate) items: broadcast::Receiver<FeedItem>,
    feeds: Arc<RunFeeds>,
    key: RunKey,
    /// Which feed of the run this stream counts against (a later one may replace it).
    channel: broadcast::Sender<FeedItem>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feeds.release(&self.key, &self.channel);
    }
}

impl RunFeeds {
    pub fn new(
        store: Store,
        max_per_run: usize,
        shutdown: watch::Receiver<bool>,
        metrics: FeedMetrics,
    ) -> Arc<Self> {
        // Other processes' writes reach SQLite readers only by polling; Postgres has NOTIFY.
        let poll = match store.backend() {
            Backend::Sqlite => Duration::from_millis(500),
            Backend::Postgres => Duration::from_secs(5),
        };
        Arc::new(Self {
            store,
            open: Mutex::default(),
            max_per_run: max_per_run.max(1),
            poll,
            shutdown,
            metrics,
        })
    }

    /// Opens a stream of a run whose events the caller will send from after `after`, within
    /// the caps: at most `max_per_run` streams of the run, and `workspace_limit` (the tier's)
    /// of the workspace, in this process.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        workspace_id: &str,
        run_id: &str,
        after: i64,
        workspace_limit: Option<u64>,
    ) -> Result<Subscription, StreamRefusal> {
        let key = (workspace_id.to_string(), run_id.to_string());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let in_workspace = open.by_workspace.get(workspace_id).copied().unwrap_or(0);
        if let Some(limit) = workspace_limit
            && in_workspace >= limit
        {
            self.metrics.refused.with_label_values(&["workspace"]).inc();
            return Err(StreamRefusal::Workspace { limit });
        }
        let in_run = open.runs.get(&key).map_or(0, |feed| feed.streams);
        if in_run >= self.max_per_run {
            self.metrics.refused.with_label_values(&["run"]).inc();
            return Err(StreamRefusal::Run {
                limit: self.max_per_run,
            });
        }
        let (items, channel) = match open.runs.get_mut(&key) {
            Some(feed) => {
                feed.streams += 1;
                (feed.tx.subscribe(), feed.tx.clone())
            }
            None => {
                let (tx, items) = broadcast::channel(BROADCAST_CAPACITY);
                open.runs.insert(
                    key.clone(),
                    Feed {
                        tx: tx.clone(),
                        streams: 1,
                    },
                );
                // The follower starts where its first stream starts: everything after it is
                // broadcast after this subscription.
                self.metrics.followers.inc();
                tokio::spawn(self.clone().follow(key.clone(), tx.clone(), after));
                (items, tx)
            }
        };
        *open.by_workspace.entry(key.0.clone()).or_insert(0) += 1;
        self.metrics.streams.inc();
        Ok(Subscription {
            items,
            feeds: self.clone(),
            key,
            channel,
        })
    }

    fn release(&self, key: &RunKey, channel: &broadcast::Sender<FeedItem>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = open.runs.get_mut(key)
            && feed.tx.same_channel(channel)
        {
            feed.streams = feed.streams.saturating_sub(1);
        }
        if let Some(count) = open.by_workspace.get_mut(&key.0) {
            *count -= 1;
            if *count == 0 {
                open.by_workspace.remove(&key.0);
            }
        }
        self.metrics.streams.dec();
    }

    /// Streams open now in this process for a workspace.
    pub fn streams_of(&self, workspace_id: &str) -> u64 {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.by_workspace.get(workspace_id).copied().unwrap_or(0)
    }

    /// Store followers running now: one per run with open streams (and each ends a poll
    /// interval at most after its last stream).
    pub fn followers(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.runs.len()
    }

    /// The follower of one run: reads new events and broadcasts them until the run
    /// completes, its last stream closes, or the server shuts down.
    async fn follow(self: Arc<Self>, key: RunKey, tx: broadcast::Sender<FeedItem>, after: i64) {
        let mut live = self.store.subscribe_live();
        let mut shutdown = self.shutdown.clone();
        let mut last_seq = after;
        let mut completed = false;
        loop {
            // Read everything new, page by page.
            loop {
                let events = match self
                    .store
                    .events_after(&key.0, &key.1, last_seq, PAGE)
                    .await
                {
                    Ok(events) => events,
                    Err(err) => {
                        // The streams read the table themselves on a gap; a store hiccup only
                        // delays the next read.
                        tracing::warn!(error = %err, "cannot read run events; retrying at the next wake-up");
                        break;
                    }
                };
                let count = events.len();
                for event in events {
                    last_seq = event.seq;
                    completed |= event.kind == EventKind::RunCompleted;
                    // No receiver is not an error: the check below ends the follower.
                    let _ = tx.send(FeedItem::Stored(Arc::new(event)));
                }
                if (count as i64) < PAGE {
                    break;
                }
            }
            if completed || self.retire_if_unwatched(&key, &tx) {
                break;
            }
            let deadline = tokio::time::Instant::now() + self.poll;
            loop {
                tokio::select! {
                    received = live.recv() => match received {
                        Ok(event) if event.run_id == key.1 && event.workspace_id == key.0 => {
                            if event.seq.is_some() {
                                break;
                            }
                            let LiveEvent { kind, data, .. } = event;
                            let _ = tx.send(FeedItem::Live(Arc::new((kind, data))));
                        }
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => {
                            completed = true;
                            break;
                        }
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = shutdown.wait_for(|stop| *stop) => {
                        completed = true;
                        break;
                    }
                }
            }
            if completed {
                break;
            }
        }
        self.retire(&key, &tx);
    }

    /// Removes the run's feed if no stream holds it; under the lock, so a stream opening now
    /// either finds this follower (and it goes on) or starts a new one.
    fn retire_if_unwatched(&self, key: &RunKey, tx: &broadcast::Sender<FeedItem>) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let unwatched = open
            .runs
            .get(key)
            .is_some_and(|feed| feed.streams == 0 && feed.tx.same_channel(tx));
        if unwatched {
            open.runs.remove(key);
            self.metrics.followers.dec();
        }
        unwatched
    }

    /// Removes the run's feed (the run completed, or the server stops): streams still open
    /// finish from the table; a stream opened later starts a follower of its own.
    fn retire(&self, key: &RunKey, tx: &broadcast::Sender<FeedItem>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open
            .runs
            .get(key)
            .is_some_and(|feed| feed.tx.same_channel(tx))
        {
            open.runs.remove(key);
            self.metrics.followers.dec();
        }
    }
}

//! Cancellation of in-flight model and tool calls without short heartbeats.
//!
//! The cancel route stamps the run and notifies (`longrun_store`'s `cancel` module). A worker
//! holds one [`CancelWatch`]: each model or tool call registers its run while it is in flight
//! and stops as soon as the run's cancellation is heard, from the store's notifications, or,
//! where notifications cannot reach this process (SQLite) or one may have been missed (a
//! `LISTEN` connection that reconnected), from a poll of the stamps of the runs in flight.
//! Temporal's cancellation stays the source of truth for the workflow; heartbeats are left to
//! detect dead workers, once per heartbeat timeout.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use longrun_store::{Backend, Store};

/// How often the runs in flight are checked when notifications cannot reach this process
/// (SQLite), and as a safety net where they can (Postgres).
pub(crate) fn poll_interval(backend: Backend) -> Duration {
    match backend {
        Backend::Sqlite => Duration::from_millis(500),
        Backend::Postgres => Duration::from_secs(5),
    }
}

#[derive(Default)]
struct Registry {
    /// Run id → the calls in flight for it, by a number of their own.
    runs: BTreeMap<String, BTreeMap<u64, watch::Sender<bool>>>,
    next: u64,
}

/// The calls in flight on this worker, by run; see the module's documentation.
#[derive(Clone, Default)]
pub struct CancelWatch {
    registry: Arc<Mutex<Registry>>,
}

/// A call's registration: [`InFlight::cancelled`] resolves when its run is cancelled;
/// dropping it unregisters the call.
pub(crate) struct InFlight {
    watch: CancelWatch,
    run_id: String,
    id: u64,
    cancelled: watch::Receiver<bool>,
}

impl InFlight {
    /// Resolves once the run's cancellation is heard (never, while it is not).
    pub(crate) async fn cancelled(&mut self) {
        // An error means the registry dropped the sender: the watch is gone, keep waiting.
        if self
            .cancelled
            .wait_for(|cancelled| *cancelled)
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut registry = self.watch.lock();
        if let Some(calls) = registry.runs.get_mut(&self.run_id) {
            calls.remove(&self.id);
            if calls.is_empty() {
                registry.runs.remove(&self.run_id);
            }
        }
    }
}

impl CancelWatch {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a call of `run_id` for as long as the returned value lives.
    pub(crate) fn register(&self, run_id: &str) -> InFlight {
        let (sender, cancelled) = watch::channel(false);
        let mut registry = self.lock();
        registry.next += 1;
        let id = registry.next;
        registry
            .runs
            .entry(run_id.to_string())
            .or_default()
            .insert(id, sender);
        InFlight {
            watch: self.clone(),
            run_id: run_id.to_string(),
            id,
            cancelled,
        }
    }

    /// Stops every call in flight for `run_id`.
    pub(crate) fn cancel(&self, run_id: &str) {
        if let Some(calls) = self.lock().runs.get(run_id) {
            for sender in calls.values() {
                let _ = sender.send(true);
            }
        }
    }

    fn runs_in_flight(&self) -> Vec<String> {
        self.lock()
            .runs
            .keys()
            .take(longrun_store::MAX_POLLED_RUNS)
            .cloned()
            .collect()
    }

    /// Hears cancellations for this worker until `stop` is set: the store's notifications,
    /// and a poll of the runs in flight every [`poll_interval`].
    pub async fn run(self, store: Store, mut stop: watch::Receiver<bool>) {
        let mut heard = store.subscribe_cancellations();
        let mut poll = tokio::time::interval(poll_interval(store.backend()));
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = heard.recv() => match message {
                    Ok(run_id) => self.cancel(&run_id),
                    Err(broadcast::error::RecvError::Lagged(_)) => self.poll(&store).await,
                    Err(broadcast::error::RecvError::Closed) => {
                        heard = store.subscribe_cancellations();
                    }
                },
                _ = poll.tick() => self.poll(&store).await,
                _ = async { let _ = stop.wait_for(|stop| *stop).await; } => return,
            }
        }
    }

    async fn poll(&self, store: &Store) {
        let runs = self.runs_in_flight();
        if runs.is_empty() {
            return;
        }
        match store.cancel_requests_among(&runs).await {
            Ok(cancelled) => {
                for run_id in cancelled {
                    self.cancel(&run_id);
                }
            }
            // The next poll tries again; a cancellation also reaches the call through
            // Temporal's heartbeat.
            Err(err) => tracing::debug!(error = %err, "cannot poll for cancellations"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancellation_stops_the_calls_of_its_run_only() {
        let watch = CancelWatch::default();
        let mut first = watch.register("run-a");
        let mut second = watch.register("run-a");
        let other = watch.register("run-b");
        watch.cancel("run-a");
        first.cancelled().await;
        second.cancelled().await;
        assert!(!*other.cancelled.borrow(), "run-b was not cancelled");
        drop(first);
        drop(second);
        assert_eq!(watch.runs_in_flight(), vec!["run-b".to_string()]);
        drop(other);
        assert!(watch.runs_in_flight().is_empty());
    }
}

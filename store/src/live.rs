//! Live delivery of run events to subscribers (the SSE endpoint, `longrun dev`'s printer).
//!
//! SQLite: events go to an in-process channel, so only subscribers in the writing process see
//! them live (others poll the table). Postgres: events go out with `pg_notify` and every
//! process that runs [`Store::listen_for_events`] feeds its channel from `LISTEN`, so an API
//! process sees what a worker process writes. Either way a delivery is only a wake-up for
//! stored events; the table stays the source of truth.

use serde_json::{Value, json};
use sqlx::postgres::PgListener;

use crate::{Backend, LiveEvent, Store};

pub(crate) const CHANNEL: &str = "longrun_events";

/// Postgres refuses NOTIFY payloads of 8000 bytes or more; stay clear of it.
const MAX_NOTIFY_DATA_BYTES: usize = 6000;

pub(crate) fn notify_payload(event: &LiveEvent) -> String {
    json!({
        "w": event.workspace_id,
        "r": event.run_id,
        "s": event.seq,
        "k": event.kind.as_str(),
        // Stored events are re-read from the table; only ephemeral ones travel whole.
        "d": if event.seq.is_some() { Value::Null } else { Value::String(event.data.clone()) },
    })
    .to_string()
}

fn parse_payload(payload: &str) -> Option<LiveEvent> {
    let value: Value = serde_json::from_str(payload).ok()?;
    Some(LiveEvent {
        workspace_id: value["w"].as_str()?.to_string(),
        run_id: value["r"].as_str()?.to_string(),
        seq: value["s"].as_i64(),
        kind: longrun_domain::EventKind::parse(value["k"].as_str()?)?,
        data: value["d"].as_str().unwrap_or_default().to_string(),
    })
}

/// Splits ephemeral text so every piece fits a NOTIFY payload.
fn split_data(data: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = data;
    while rest.len() > MAX_NOTIFY_DATA_BYTES {
        let mut cut = MAX_NOTIFY_DATA_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

impl Store {
    /// This store with `other`'s live channel: for a worker and an API that run in one
    /// process with pools of their own, so the API's subscribers see the worker's events (on
    /// SQLite, where no NOTIFY carries them).
    pub fn sharing_live_events_with(&self, other: &Store) -> Store {
        Store {
            live: other.live.clone(),
            cancels: other.cancels.clone(),
            ..self.clone()
        }
    }

    /// Publishes an event that is not stored (a streaming text delta).
    pub fn publish_ephemeral(&self, event: LiveEvent) {
        match self.backend {
            Backend::Sqlite => {
                // No subscriber is not an error: nobody is watching.
                let _ = self.live.send(event);
            }
            Backend::Postgres => {
                let pool = self.pool.clone();
                tokio::spawn(async move {
                    for piece in split_data(&event.data) {
                        let payload = notify_payload(&LiveEvent {
                            data: piece.to_string(),
                            ..event.clone()
                        });
                        let sent = sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(CHANNEL)
                            .bind(payload)
                            .execute(&pool)
                            .await;
                        if let Err(err) = sent {
                            tracing::debug!(error = %err, "live delta not delivered");
                            return;
                        }
                    }
                });
            }
        }
    }

    /// Called after a stored event committed: delivers it to this process's subscribers on
    /// SQLite. (On Postgres the NOTIFY sent inside the transaction does it.)
    pub(crate) fn publish_stored(&self, event: LiveEvent) {
        if self.backend == Backend::Sqlite {
            let _ = self.live.send(event);
        }
    }

    /// On Postgres, forwards `LISTEN` notifications (run events and cancellation requests)
    /// into this store's channels until the process ends, reconnecting when the connection
    /// drops. Returns once the first `LISTEN` is in place, so nothing written after the call
    /// is missed. Does nothing on SQLite.
    pub async fn listen_for_events(&self) -> crate::Result<Option<tokio::task::JoinHandle<()>>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let url = self.url.clone();
        let channels = Channels {
            live: self.live.clone(),
            cancels: self.cancels.clone(),
        };
        let mut first = PgListener::connect(&url).await?;
        first.listen_all(CHANNELS).await?;
        Ok(Some(tokio::spawn(async move {
            let mut ready = Some(first);
            loop {
                if let Some(listener) = ready.take() {
                    forward(listener, &channels).await;
                    continue;
                }
                let mut listener = match PgListener::connect(&url).await {
                    Ok(listener) => listener,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot LISTEN for run events; retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                        continue;
                    }
                };
                if let Err(err) = listener.listen_all(CHANNELS).await {
                    tracing::warn!(error = %err, "cannot LISTEN for run events; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    continue;
                }
                ready = Some(listener);
            }
        })))
    }
}

/// What a `LISTEN` connection feeds.
struct Channels {
    live: tokio::sync::broadcast::Sender<LiveEvent>,
    cancels: tokio::sync::broadcast::Sender<String>,
}

const CHANNELS: [&str; 2] = [CHANNEL, crate::cancel::CHANNEL];

/// Forwards notifications until the connection fails.
async fn forward(mut listener: PgListener, channels: &Channels) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) if notification.channel() == crate::cancel::CHANNEL => {
                let _ = channels.cancels.send(notification.payload().to_string());
            }
            Ok(Some(notification)) => {
                if let Some(event) = parse_payload(notification.payload()) {
                    let _ = channels.live.send(event);
                }
            }
            Ok(None) => {
                tracing::warn!("LISTEN connection lost; reconnecting");
                return;
            }
            Err(err) => {
                tracing::warn!(error = %err, "LISTEN connection failed; reconnecting");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stored_events_travel_without_data() {
        let delta = LiveEvent {
            workspace_id: "w".into(),
            run_id: "r".into(),
            seq: None,
            kind: longrun_domain::EventKind::LlmDelta,
            data: "{\"text\":\"hi\"}".into(),
        };
        assert_eq!(parse_payload(&notify_payload(&delta)), Some(delta.clone()));
        let stored = LiveEvent {
            seq: Some(4),
            ..delta
        };
        let back = parse_payload(&notify_payload(&stored)).unwrap();
        assert_eq!(back.seq, Some(4));
        assert!(back.data.is_empty());
    }

    #[test]
    fn long_data_is_split_on_char_boundaries() {
        let text = "é".repeat(5000);
        let pieces = split_data(&text);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.len() <= MAX_NOTIFY_DATA_BYTES));
        assert_eq!(pieces.concat(), text);
    }
}

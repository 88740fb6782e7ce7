//! Run events: the ordered, per-run log behind `GET /v1/runs/{id}/events`.
//!
//! Each event gets the next sequence number of its run, assigned under the run row's lock, and
//! carries a dedupe key so that an activity retried after writing its event does not write it
//! twice. Freshly written events are also published to this process's live subscribers.

use longrun_domain::EventKind;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Backend, Result, Store, StoreError, now_ms, parsed};

#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub workspace_id: &'a str,
    pub run_id: &'a str,
    pub kind: EventKind,
    /// Unique per run: the same key twice is the same event (retries).
    pub dedupe_key: &'a str,
    /// JSON document.
    pub data: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    pub run_id: String,
    pub seq: i64,
    pub kind: EventKind,
    pub data: String,
    pub created_at: i64,
}

/// An event as seen by live subscribers. Stored events carry their sequence number (and no
/// data: subscribers read them from the table); ephemeral ones (streaming text deltas) carry
/// their data and no sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub workspace_id: String,
    pub run_id: String,
    pub seq: Option<i64>,
    pub kind: EventKind,
    pub data: String,
}

impl RunEvent {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            run_id: row.try_get("run_id")?,
            seq: row.try_get("seq")?,
            kind: parsed(row, "kind", |k| {
                EventKind::parse(k).ok_or("unknown event kind")
            })?,
            data: row.try_get("data")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

impl Store {
    /// Appends an event to a run's log and returns it; if an event with the same dedupe key
    /// exists, returns that one and writes nothing.
    pub async fn append_event(&self, new: NewEvent<'_>) -> Result<RunEvent> {
        let mut tx = self.tenant(new.workspace_id).await?;
        // The write comes first: it takes the run row's lock (Postgres) or the database write
        // lock (SQLite) before anything is read, so concurrent appends queue up instead of
        // racing for the same sequence number.
        let seq: i64 = sqlx::query(
            "UPDATE runs SET last_event_seq = last_event_seq + 1 \
             WHERE workspace_id = $1 AND id = $2 RETURNING last_event_seq",
        )
        .bind(new.workspace_id)
        .bind(new.run_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound("run"))?
        .try_get(0)?;
        let existing = sqlx::query(
            "SELECT run_id, seq, kind, data, created_at FROM run_events \
             WHERE run_id = $1 AND dedupe_key = $2",
        )
        .bind(new.run_id)
        .bind(new.dedupe_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = existing {
            tx.rollback().await?;
            return RunEvent::from_row(&row);
        }
        let event = RunEvent {
            run_id: new.run_id.to_string(),
            seq,
            kind: new.kind,
            data: new.data.to_string(),
            created_at: now_ms(),
        };
        sqlx::query(
            "INSERT INTO run_events (run_id, seq, workspace_id, kind, dedupe_key, data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&event.run_id)
        .bind(event.seq)
        .bind(new.workspace_id)
        .bind(event.kind.as_str())
        .bind(new.dedupe_key)
        .bind(&event.data)
        .bind(event.created_at)
        .execute(&mut *tx)
        .await?;
        let live = LiveEvent {
            workspace_id: new.workspace_id.to_string(),
            run_id: event.run_id.clone(),
            seq: Some(event.seq),
            kind: event.kind,
            data: String::new(),
        };
        if self.backend == Backend::Postgres {
            // Delivered on commit, and only if the transaction commits.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::live::CHANNEL)
                .bind(crate::live::notify_payload(&live))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.publish_stored(live);
        Ok(event)
    }

    /// Events of a run with a sequence number above `after`, oldest first.
    pub async fn events_after(
        &self,
        workspace_id: &str,
        run_id: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RunEvent>> {
        let statement = sqlx::query(
            "SELECT run_id, seq, kind, data, created_at FROM run_events \
             WHERE workspace_id = $1 AND run_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(workspace_id)
        .bind(run_id)
        .bind(after)
        .bind(limit);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter().map(RunEvent::from_row).collect()
    }
}

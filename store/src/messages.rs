//! Run conversations: the messages of each run, by sequence number. The workflow carries only
//! the messages new to each step; the model activity stores them and reads the whole
//! conversation from here, so workflow histories grow with the number of steps, not with the
//! square of the conversation's length.

use sqlx::Row;

use crate::steps::insert_messages;
use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub seq: i64,
    pub role: String,
    /// JSON array of content blocks.
    pub content: String,
    /// JSON object: what produced the message (stop reason, usage, time), for model turns.
    pub meta: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub seq: i64,
    pub role: &'a str,
    pub content: &'a str,
    pub meta: Option<&'a str>,
}

impl Store {
    /// Stores messages at their sequence numbers. A sequence number already taken keeps its
    /// first message: the workflow produces the same messages on every replay and retry.
    pub async fn put_messages(
        &self,
        workspace_id: &str,
        run_id: &str,
        messages: &[NewMessage<'_>],
    ) -> Result<()> {
        if messages.is_empty() {
            return Ok(());
        }
        let mut tx = self.tenant(workspace_id).await?;
        // Scoping: the run must belong to the workspace before anything is written for it.
        let owned = sqlx::query("SELECT 1 FROM runs WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
        if owned.is_none() {
            return Err(StoreError::NotFound("run"));
        }
        let now = now_ms();
        insert_messages(&mut tx, workspace_id, run_id, messages, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Messages of a run with `seq < before`, in order.
    pub async fn messages_before(
        &self,
        workspace_id: &str,
        run_id: &str,
        before: i64,
    ) -> Result<Vec<StoredMessage>> {
        self.messages_where(workspace_id, run_id, "seq < $3", before)
            .await
    }

    /// The message at `seq`, if stored.
    pub async fn message_at(
        &self,
        workspace_id: &str,
        run_id: &str,
        seq: i64,
    ) -> Result<Option<StoredMessage>> {
        let mut found = self
            .messages_where(workspace_id, run_id, "seq = $3", seq)
            .await?;
        Ok(found.pop())
    }

    /// The messages of a run whose `seq` meets `condition` (on `$3`, bound to `seq`).
    async fn messages_where(
        &self,
        workspace_id: &str,
        run_id: &str,
        condition: &str,
        seq: i64,
    ) -> Result<Vec<StoredMessage>> {
        let sql = select_messages(condition);
        let statement = sqlx::query(&sql).bind(workspace_id).bind(run_id).bind(seq);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter().map(StoredMessage::from_row).collect()
    }
}

/// The `SELECT` of a run's messages (`$1`: the workspace, `$2`: the run) whose `seq` meets
/// `condition`, in order.
pub(crate) fn select_messages(condition: &str) -> String {
    format!(
        "SELECT seq, role, content, meta FROM run_messages \
         WHERE workspace_id = $1 AND run_id = $2 AND {condition} ORDER BY seq"
    )
}

impl StoredMessage {
    pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Self> {
        Ok(Self {
            seq: row.try_get("seq")?,
            role: row.try_get("role")?,
            content: row.try_get("content")?,
            meta: row.try_get("meta")?,
        })
    }
}

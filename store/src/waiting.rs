//! What a live run waits for, read from its events: the gated tool calls asked for
//! (`approval.requested`) and not yet decided (`approval.decided`), and the client-executed
//! tool calls asked for (`tool.requested`) and not yet answered (`tool.completed`), so
//! clients see them without following the stream.

use std::collections::BTreeMap;

use longrun_domain::EventKind;
use sqlx::Row;

use crate::{Result, Store};

/// A tool call waiting for a human decision, or for a client's result.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingCall {
    pub tool_call_id: String,
    pub tool: String,
    pub input: serde_json::Value,
    /// When it was asked for (epoch ms).
    pub requested_at: i64,
}

impl Store {
    /// The calls of each of `run_ids` (runs of the workspace) that an `asked` event asked for
    /// and no `answered` event answered (`approval.requested`/`approval.decided`,
    /// `tool.requested`/`tool.completed`), by run id, in the order they were asked for. At
    /// most 100 runs at once (a page of the list).
    pub async fn pending_calls(
        &self,
        workspace_id: &str,
        run_ids: &[&str],
        asked: EventKind,
        answered: EventKind,
    ) -> Result<BTreeMap<String, Vec<PendingCall>>> {
        let mut pending: BTreeMap<String, Vec<PendingCall>> = BTreeMap::new();
        if run_ids.is_empty() {
            return Ok(pending);
        }
        let run_ids = &run_ids[..run_ids.len().min(100)];
        let placeholders: Vec<String> = (0..run_ids.len()).map(|i| format!("${}", i + 4)).collect();
        let sql = format!(
            "SELECT run_id, kind, data, created_at FROM run_events \
             WHERE workspace_id = $1 AND kind IN ($2, $3) AND run_id IN ({}) \
             ORDER BY run_id, seq",
            placeholders.join(", ")
        );
        let mut statement = sqlx::query(&sql)
            .bind(workspace_id)
            .bind(asked.as_str())
            .bind(answered.as_str());
        for id in run_ids {
            statement = statement.bind(*id);
        }
        for row in self.tenant_all(workspace_id, statement).await? {
            let run_id: String = row.try_get("run_id")?;
            let kind: String = row.try_get("kind")?;
            let data: String = row.try_get("data")?;
            let data: serde_json::Value = serde_json::from_str(&data).unwrap_or_default();
            let call_id = data["tool_call_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let calls = pending.entry(run_id).or_default();
            if asked == kind.as_str() {
                calls.push(PendingCall {
                    tool_call_id: call_id,
                    tool: data["tool"].as_str().unwrap_or_default().to_string(),
                    input: data["input"].clone(),
                    requested_at: row.try_get("created_at")?,
                });
            } else {
                calls.retain(|call| call.tool_call_id != call_id);
            }
        }
        pending.retain(|_, calls| !calls.is_empty());
        Ok(pending)
    }
}

//! What a live run waits for, read from its events: the gated tool calls asked for
//! (`approval.requested`) and not yet decided (`approval.decided`), so clients see them
//! without following the stream.

use std::collections::BTreeMap;

use sqlx::Row;

use crate::{Result, Store};

/// A gated tool call waiting for a human decision.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingApproval {
    pub tool_call_id: String,
    pub tool: String,
    pub input: serde_json::Value,
    /// When it was asked for (epoch ms).
    pub requested_at: i64,
}

impl Store {
    /// The undecided approvals of each of `run_ids` (runs of the workspace), by run id, in the
    /// order they were asked for. At most 100 runs at once (a page of the list).
    pub async fn pending_approvals(
        &self,
        workspace_id: &str,
        run_ids: &[&str],
    ) -> Result<BTreeMap<String, Vec<PendingApproval>>> {
        let mut pending: BTreeMap<String, Vec<PendingApproval>> = BTreeMap::new();
        if run_ids.is_empty() {
            return Ok(pending);
        }
        let run_ids = &run_ids[..run_ids.len().min(100)];
        let placeholders: Vec<String> = (0..run_ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT run_id, kind, data, created_at FROM run_events \
             WHERE workspace_id = $1 AND run_id IN ({}) \
               AND kind IN ('approval.requested', 'approval.decided') \
             ORDER BY run_id, seq",
            placeholders.join(", ")
        );
        let mut statement = sqlx::query(&sql).bind(workspace_id);
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
            if kind == "approval.requested" {
                calls.push(PendingApproval {
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

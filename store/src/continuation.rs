//! Conversation continuation: a run submitted with `previous_run_id` starts from the finished
//! run's stored conversation. Admission copies it into the new run's `run_messages` (seq 0 ..
//! n-1, in the transaction that inserts the run), and the workflow's first model turn stores
//! the new input at seq n: the model activity reads the whole conversation as for any turn.

use sqlx::Row;

use crate::runs::Run;
use crate::{Result, StoreError, Tx};

/// Copies the conversation of `previous` (a run of the same workspace) into `run`, and
/// records how many messages came first. Only complete exchanges are copied: the
/// conversation is cut after its last answer of the model that asked for no tool, so a run
/// that ended in the middle of a step (cancelled, out of budget, failed) does not leave a
/// tool call without its result, which providers refuse. Returns the number copied.
pub(crate) async fn copy_conversation(tx: &mut Tx, run: &Run, previous: &str) -> Result<i64> {
    let workspace_id = run.workspace_id.as_str();
    let rows = sqlx::query(
        "SELECT seq, role, content FROM run_messages \
         WHERE workspace_id = $1 AND run_id = $2 ORDER BY seq",
    )
    .bind(workspace_id)
    .bind(previous)
    .fetch_all(&mut **tx)
    .await?;
    let mut copied = 0;
    for (index, row) in rows.iter().enumerate() {
        let seq: i64 = row.try_get("seq")?;
        if seq != index as i64 {
            return Err(StoreError::Corrupt(format!(
                "run {previous}: message {index} has seq {seq}"
            )));
        }
        let role: String = row.try_get("role")?;
        let content: String = row.try_get("content")?;
        if role == "assistant" && !asks_for_tools(&content) {
            copied = seq + 1;
        }
    }
    if copied == 0 {
        return Ok(0);
    }
    sqlx::query(
        "INSERT INTO run_messages (run_id, seq, workspace_id, role, content, meta, created_at) \
         SELECT $1, seq, workspace_id, role, content, NULL, $2 FROM run_messages \
         WHERE workspace_id = $3 AND run_id = $4 AND seq < $5",
    )
    .bind(run.id.as_str())
    .bind(crate::now_ms())
    .bind(workspace_id)
    .bind(previous)
    .bind(copied)
    .execute(&mut **tx)
    .await?;
    sqlx::query("UPDATE runs SET prior_messages = $1 WHERE workspace_id = $2 AND id = $3")
        .bind(copied)
        .bind(workspace_id)
        .bind(run.id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(copied)
}

/// Whether a stored message's content (a JSON array of blocks) holds a `tool_use` block.
fn asks_for_tools(content: &str) -> bool {
    serde_json::from_str::<Vec<serde_json::Value>>(content)
        .map(|blocks| blocks.iter().any(|b| b["type"] == "tool_use"))
        // Unreadable content is not a complete exchange.
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_with_a_tool_call_is_not_a_complete_exchange() {
        assert!(asks_for_tools(
            r#"[{"type":"text","text":"let me"},{"type":"tool_use","id":"t","name":"c","input":{}}]"#
        ));
        assert!(!asks_for_tools(r#"[{"type":"text","text":"done"}]"#));
        assert!(asks_for_tools("garbage"));
    }
}

//! The usage ledger: append-only rows, one per billable unit, each under a unique idempotency
//! key, so a retried or replayed activity never bills twice. The run's running totals move in
//! the same transaction as the row, so they can never disagree with the ledger.

use sqlx::Row;

use crate::billing::bind_totals;
use crate::{Result, Statement, Store, StoreError, Tx, UsageTotals, new_id, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageKind {
    /// One model call: tokens.
    Llm,
    /// One tool call.
    Tool,
    /// Milliseconds of activity execution (LLM and tool time, not waiting).
    AgentTime,
}

impl UsageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UsageKind::Llm => "llm",
            UsageKind::Tool => "tool",
            UsageKind::AgentTime => "agent_time",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewUsageEvent<'a> {
    /// `<workflow id>/<temporal run id>/<step>/<kind>`: unique per billable unit.
    pub idempotency_key: &'a str,
    pub workspace_id: &'a str,
    pub run_id: &'a str,
    pub agent_name: &'a str,
    pub step: i64,
    pub kind: UsageKind,
    pub provider: Option<&'a str>,
    pub model: Option<&'a str>,
    pub tool_name: Option<&'a str>,
    pub totals: UsageTotals,
    pub price_version: Option<&'a str>,
    pub occurred_at: i64,
}

/// The columns of a ledger row, in the order [`bind_ledger_row`] binds them.
pub(crate) const LEDGER_COLUMNS: &str = "id, idempotency_key, workspace_id, run_id, agent_name, \
     step, kind, provider, model, tool_name, input_tokens, output_tokens, cache_read_tokens, \
     cache_write_tokens, tool_calls, agent_ms, cost_micro_usd, price_version, occurred_at";

/// How many values [`LEDGER_COLUMNS`] takes.
pub(crate) const LEDGER_ARITY: usize = 19;

/// Binds a ledger row, under a fresh id, to the next [`LEDGER_ARITY`] placeholders.
pub(crate) fn bind_ledger_row<'q>(
    statement: Statement<'q>,
    row: &NewUsageEvent<'q>,
) -> Statement<'q> {
    let statement = statement
        .bind(new_id("use"))
        .bind(row.idempotency_key)
        .bind(row.workspace_id)
        .bind(row.run_id)
        .bind(row.agent_name)
        .bind(row.step)
        .bind(row.kind.as_str())
        .bind(row.provider)
        .bind(row.model)
        .bind(row.tool_name);
    bind_totals(statement, &row.totals)
        .bind(row.price_version)
        .bind(row.occurred_at)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOutcome {
    Recorded,
    /// A row with this idempotency key was already there; nothing changed.
    Duplicate,
}

impl Store {
    /// Appends ledger rows and adds them to their run's totals, atomically. Rows whose key is
    /// already in the ledger are skipped (and reported as duplicates).
    pub async fn record_usage(&self, rows: &[NewUsageEvent<'_>]) -> Result<Vec<LedgerOutcome>> {
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        if rows.iter().any(|r| r.workspace_id != first.workspace_id) {
            return Err(StoreError::Corrupt(
                "one metering write spans several workspaces".into(),
            ));
        }
        let mut tx = self.tenant(first.workspace_id).await?;
        let mut outcomes = Vec::with_capacity(rows.len());
        let now = now_ms();
        for row in rows {
            let insert = format!(
                "INSERT INTO usage_events ({LEDGER_COLUMNS}) VALUES {} \
                 ON CONFLICT (idempotency_key) DO NOTHING",
                crate::value_rows(1, LEDGER_ARITY, "")
            );
            let inserted = bind_ledger_row(sqlx::query(&insert), row)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if inserted == 0 {
                outcomes.push(LedgerOutcome::Duplicate);
                continue;
            }
            let update = sqlx::query(
                "UPDATE runs SET input_tokens = input_tokens + $1, \
                     output_tokens = output_tokens + $2, \
                     cache_read_tokens = cache_read_tokens + $3, \
                     cache_write_tokens = cache_write_tokens + $4, \
                     tool_calls = tool_calls + $5, agent_ms = agent_ms + $6, \
                     cost_micro_usd = cost_micro_usd + $7, updated_at = $8 \
                 WHERE workspace_id = $9 AND id = $10",
            );
            bind_totals(update, &row.totals)
                .bind(now)
                .bind(row.workspace_id)
                .bind(row.run_id)
                .execute(&mut *tx)
                .await?;
            outcomes.push(LedgerOutcome::Recorded);
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Number of ledger rows of a run, by kind: for tests and reconciliation.
    pub async fn usage_rows_of_run(
        &self,
        workspace_id: &str,
        run_id: &str,
    ) -> Result<Vec<(String, i64)>> {
        let statement = sqlx::query(
            "SELECT kind, CAST(COUNT(*) AS BIGINT) AS n FROM usage_events \
             WHERE workspace_id = $1 AND run_id = $2 GROUP BY kind ORDER BY kind",
        )
        .bind(workspace_id)
        .bind(run_id);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
            .collect()
    }
}

/// Usage of a workspace since `from_ms`, inside a transaction (rollups where they exist).
pub(crate) async fn usage_since(
    tx: &mut Tx,
    workspace_id: &str,
    from_ms: i64,
) -> Result<UsageTotals> {
    crate::billing::usage_since(tx, workspace_id, from_ms).await
}

impl Store {
    /// A workspace's usage since `from_ms` (the start of its quota period).
    pub async fn usage_since(&self, workspace_id: &str, from_ms: i64) -> Result<UsageTotals> {
        let mut tx = self.tenant(workspace_id).await?;
        let totals = usage_since(&mut tx, workspace_id, from_ms).await?;
        tx.commit().await?;
        Ok(totals)
    }
}

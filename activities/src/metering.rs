//! Metering: the ledger rows of each billable unit, written by the activity that did the work.
//! Keys are `<workflow id>/<temporal run id>/<step>/<unit>`, so a retried or replayed activity
//! finds its rows already there and adds nothing.

use longrun_store::{NewUsageEvent, Store, StoreError, UsageKind, now_ms};
use longrun_workflows::payloads::{LlmRequest, LlmResponse, RunRef, ToolRequest};

use crate::models::split_model;

pub(crate) struct Meter {
    store: Store,
}

/// A ledger row with everything but the unit-specific fields filled in.
fn row<'a>(run: &'a RunRef, key: &'a str, step: u32, kind: UsageKind) -> NewUsageEvent<'a> {
    NewUsageEvent {
        idempotency_key: key,
        workspace_id: &run.workspace_id,
        run_id: &run.run_id,
        agent_name: &run.agent_name,
        step: i64::from(step),
        kind,
        provider: None,
        model: None,
        tool_name: None,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        tool_calls: 0,
        agent_ms: 0,
        cost_micro_usd: 0,
        price_version: None,
        occurred_at: now_ms(),
    }
}

fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Meter {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }

    /// One model turn: its tokens, and the time it took.
    pub(crate) async fn llm(
        &self,
        request: &LlmRequest,
        response: &LlmResponse,
        agent_ms: i64,
    ) -> Result<(), StoreError> {
        let (provider, model) = split_model(&request.model).unwrap_or(("unknown", "unknown"));
        let llm_key = request.execution.ledger_key(request.step, "llm");
        let time_key = request.execution.ledger_key(request.step, "agent_time:llm");
        let usage = &response.usage;
        let llm = NewUsageEvent {
            provider: Some(provider),
            model: Some(model),
            input_tokens: tokens(usage.input_tokens),
            output_tokens: tokens(usage.output_tokens),
            cache_read_tokens: tokens(usage.cache_read_tokens),
            cache_write_tokens: tokens(usage.cache_write_tokens),
            cost_micro_usd: tokens(response.cost_micro_usd),
            ..row(&request.run, &llm_key, request.step, UsageKind::Llm)
        };
        let time = NewUsageEvent {
            provider: Some(provider),
            model: Some(model),
            agent_ms,
            ..row(&request.run, &time_key, request.step, UsageKind::AgentTime)
        };
        self.store.record_usage(&[llm, time]).await.map(|_| ())
    }

    /// One tool call, and the time it took.
    pub(crate) async fn tool(
        &self,
        request: &ToolRequest,
        agent_ms: i64,
    ) -> Result<(), StoreError> {
        let unit = format!("tool:{}", request.call_index);
        let tool_key = request.execution.ledger_key(request.step, &unit);
        let time_key = request
            .execution
            .ledger_key(request.step, &format!("agent_time:{unit}"));
        let tool = NewUsageEvent {
            tool_name: Some(&request.tool.name),
            tool_calls: 1,
            ..row(&request.run, &tool_key, request.step, UsageKind::Tool)
        };
        let time = NewUsageEvent {
            tool_name: Some(&request.tool.name),
            agent_ms,
            ..row(&request.run, &time_key, request.step, UsageKind::AgentTime)
        };
        self.store.record_usage(&[tool, time]).await.map(|_| ())
    }
}

//! The agent-run activities: everything `AgentRunWorkflow` asks of the world. Each one is
//! idempotent under retry: its ledger rows and events carry keys made of the execution, the
//! step and the unit, so a second attempt writes nothing new.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use longrun_store::{NewEvent, NewUsageEvent, RunFinish, Store, UsageKind, now_ms};
use longrun_workflows::contracts;
use longrun_workflows::payloads::{
    ExecutionRef, FinishRunRequest, LlmRequest, LlmResponse, RunRef, RunStatus, StartRunRequest,
    ToolOutcome, ToolRequest,
};

use crate::errors::{from_store, non_retryable};
use crate::models::{ModelError, ModelRouter, split_model};
use crate::tools;

/// The activities' shared dependencies: passed in, never global.
pub struct AgentActivities {
    store: Store,
    models: ModelRouter,
}

impl AgentActivities {
    pub fn new(store: Store, models: ModelRouter) -> Self {
        Self { store, models }
    }

    async fn event(
        &self,
        run: &RunRef,
        kind: &str,
        dedupe_key: &str,
        data: serde_json::Value,
    ) -> Result<(), ActivityError> {
        self.store
            .append_event(NewEvent {
                workspace_id: &run.workspace_id,
                run_id: &run.run_id,
                kind,
                dedupe_key,
                data: &data.to_string(),
            })
            .await
            .map(|_| ())
            .map_err(from_store)
    }
}

/// A ledger row with everything but the unit-specific fields filled in.
fn ledger_row<'a>(run: &'a RunRef, key: &'a str, step: u32, kind: UsageKind) -> NewUsageEvent<'a> {
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

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

#[activities]
impl AgentActivities {
    #[activity(definition = contracts::StartRun)]
    pub async fn start_run(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: StartRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        self.store
            .set_run_status(
                &run.workspace_id,
                &run.run_id,
                RunStatus::Running.as_str(),
                0,
            )
            .await
            .map_err(from_store)?;
        self.event(
            run,
            "run.started",
            "run.started",
            json!({
                "agent": run.agent_name,
                "workflow_id": request.execution.workflow_id,
                "input": request.input,
            }),
        )
        .await
    }

    #[activity(definition = contracts::LlmCall)]
    pub async fn llm_call(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: LlmRequest,
    ) -> Result<LlmResponse, ActivityError> {
        let started = Instant::now();
        let response = self
            .models
            .complete(&request)
            .await
            .map_err(|err| match err {
                ModelError::NotConfigured(_) => {
                    non_retryable("provider_not_configured", err.to_string())
                }
                _ => non_retryable("invalid_model", err.to_string()),
            })?;
        let agent_ms = elapsed_ms(started);
        self.meter_llm(&request, &response, agent_ms).await?;
        self.event(
            &request.run,
            "llm.completed",
            &format!("step-{}/llm.completed", request.step),
            json!({
                "step": request.step,
                "content": response.content,
                "stop_reason": response.stop_reason,
                "usage": response.usage,
            }),
        )
        .await?;
        Ok(response)
    }

    #[activity(definition = contracts::RunTool)]
    pub async fn run_tool(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: ToolRequest,
    ) -> Result<ToolOutcome, ActivityError> {
        let unit = format!("step-{}/tool-{}", request.step, request.call_index);
        self.event(
            &request.run,
            "tool.started",
            &format!("{unit}/started"),
            json!({
                "step": request.step,
                "tool_call_id": request.call_id,
                "tool": request.tool,
                "input": request.input,
            }),
        )
        .await?;
        let started = Instant::now();
        let outcome =
            tools::run_builtin(&request.tool, &request.input).unwrap_or_else(|| ToolOutcome {
                content: format!("tool {:?} is not available on this worker", request.tool),
                is_error: true,
            });
        let agent_ms = elapsed_ms(started);
        self.meter_tool(&request, agent_ms).await?;
        self.event(
            &request.run,
            "tool.completed",
            &format!("{unit}/completed"),
            json!({
                "step": request.step,
                "tool_call_id": request.call_id,
                "tool": request.tool,
                "content": outcome.content,
                "is_error": outcome.is_error,
            }),
        )
        .await?;
        Ok(outcome)
    }

    #[activity(definition = contracts::FinishRun)]
    pub async fn finish_run(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: FinishRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        let outcome = &request.outcome;
        let error = outcome.error.as_ref();
        self.store
            .finish_run(
                &run.workspace_id,
                &run.run_id,
                RunFinish {
                    status: outcome.status.as_str(),
                    result: outcome.result.as_deref(),
                    error_code: error.map(|e| e.code.as_str()),
                    error_message: error.map(|e| e.message.as_str()),
                    step: i64::from(outcome.steps),
                },
            )
            .await
            .map_err(from_store)?;
        self.event(
            run,
            "run.completed",
            "run.completed",
            json!({
                "status": outcome.status,
                "result": outcome.result,
                "error": error,
                "steps": outcome.steps,
                "usage": outcome.usage,
            }),
        )
        .await
    }
}

impl AgentActivities {
    async fn meter_llm(
        &self,
        request: &LlmRequest,
        response: &LlmResponse,
        agent_ms: i64,
    ) -> Result<(), ActivityError> {
        let (provider, model) = split_model(&request.model)
            .map_err(|err| non_retryable("invalid_model", err.to_string()))?;
        let execution: &ExecutionRef = &request.execution;
        let llm_key = execution.ledger_key(request.step, "llm");
        let time_key = execution.ledger_key(request.step, "agent_time:llm");
        let usage = &response.usage;
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let llm = NewUsageEvent {
            provider: Some(provider),
            model: Some(model),
            input_tokens: as_i64(usage.input_tokens),
            output_tokens: as_i64(usage.output_tokens),
            cache_read_tokens: as_i64(usage.cache_read_tokens),
            cache_write_tokens: as_i64(usage.cache_write_tokens),
            ..ledger_row(&request.run, &llm_key, request.step, UsageKind::Llm)
        };
        let time = NewUsageEvent {
            provider: Some(provider),
            model: Some(model),
            agent_ms,
            ..ledger_row(&request.run, &time_key, request.step, UsageKind::AgentTime)
        };
        self.store
            .record_usage(&[llm, time])
            .await
            .map(|_| ())
            .map_err(from_store)
    }

    async fn meter_tool(&self, request: &ToolRequest, agent_ms: i64) -> Result<(), ActivityError> {
        let unit = format!("tool:{}", request.call_index);
        let tool_key = request.execution.ledger_key(request.step, &unit);
        let time_key = request
            .execution
            .ledger_key(request.step, &format!("agent_time:{unit}"));
        let tool = NewUsageEvent {
            tool_name: Some(&request.tool),
            tool_calls: 1,
            ..ledger_row(&request.run, &tool_key, request.step, UsageKind::Tool)
        };
        let time = NewUsageEvent {
            tool_name: Some(&request.tool),
            agent_ms,
            ..ledger_row(&request.run, &time_key, request.step, UsageKind::AgentTime)
        };
        self.store
            .record_usage(&[tool, time])
            .await
            .map(|_| ())
            .map_err(from_store)
    }
}

//! A run as clients see it.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use longrun_domain::EventKind;
use longrun_store::{PendingCall, Run};
use longrun_workflows::payloads::RunStatus;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::rfc3339;

/// A run's status: `queued → running → (waiting_input | waiting_approval | paused_quota)* →
/// succeeded | failed | cancelled | budget_exhausted | timed_out`.
pub(crate) struct RunStatusName;

impl utoipa::PartialSchema for RunStatusName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(RunStatus::ALL.iter().map(|s| s.as_str())))
            .into()
    }
}

impl ToSchema for RunStatusName {}

/// A run as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunView {
    id: String,
    /// The agent's name.
    agent: String,
    #[schema(value_type = RunStatusName)]
    status: RunStatus,
    /// Why the run is in its status, where the status alone does not say: a `queued` run
    /// whose workflow Temporal could not start yet (`scheduler_unavailable`: it starts when
    /// Temporal answers), a run waiting out a provider outage. `null` otherwise.
    #[schema(required = true)]
    status_reason: Option<String>,
    /// The final answer, once there is one.
    #[schema(required = true)]
    result: Option<String>,
    /// Why a run failed (`provider_rejected`, `activity_timeout`, …), else `null`.
    #[schema(required = true)]
    error: Option<RunError>,
    /// As submitted, or `null`.
    #[schema(value_type = Option<Object>, required = true)]
    metadata: Value,
    /// The Temporal workflow: `run-<workspace>-<run id>`.
    workflow_id: String,
    #[schema(required = true)]
    webhook_url: Option<String>,
    /// The workflow in the Temporal UI.
    temporal_ui_url: String,
    /// Model calls made so far.
    step: i64,
    usage: RunUsageView,
    created_at: String,
    #[schema(required = true)]
    started_at: Option<String>,
    #[schema(required = true)]
    finished_at: Option<String>,
    /// The input; lists and cancellations leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    input: Option<String>,
    /// The events POSTed to `webhook_url`, as submitted (`null`: the workspace's choice, or
    /// `run.completed` alone).
    #[schema(required = true)]
    webhook_events: Option<Vec<String>>,
    /// The finished run whose conversation this one continues.
    #[schema(required = true)]
    previous_run_id: Option<String>,
    /// The run this one reran.
    #[schema(required = true)]
    rerun_of: Option<String>,
    /// Gated tool calls waiting for a decision (`POST /v1/runs/{id}/approvals`).
    pending_approvals: Vec<PendingCallView>,
    /// Client-executed tool calls waiting for their result (`POST
    /// /v1/runs/{id}/tool-results`), while the run `requires_action`.
    pending_tool_calls: Vec<PendingCallView>,
    /// Structured output: the answer as JSON, valid for the run's `output_schema` (`result`
    /// holds the same as text); `null` otherwise.
    #[schema(value_type = Option<Object>, required = true)]
    result_json: Option<Value>,
    /// Whether the run waits for human input (`POST /v1/runs/{id}/messages`).
    awaiting_input: bool,
}

/// A tool call waiting for a decision, or for a client's result.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PendingCallView {
    tool_call_id: String,
    /// The tool's name.
    tool: String,
    /// What the model asked the tool to do.
    #[schema(value_type = Object)]
    input: Value,
    requested_at: String,
}

/// A failed run's stable error code and message.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunError {
    code: String,
    message: String,
}

/// What a run used so far.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunUsageView {
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    tool_calls: i64,
    /// Agent time: milliseconds of model and tool activity.
    agent_ms: i64,
    cost_usd: f64,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunPage {
    pub(crate) runs: Vec<RunView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    pub(crate) next_cursor: Option<String>,
}

/// Runs as clients see them, with their pending approvals (read for the runs that wait for
/// one).
pub(crate) async fn views(
    state: &AppState,
    workspace_id: &str,
    runs: &[Run],
    with_input: bool,
) -> Result<Vec<RunView>, ApiError> {
    let in_status = |status: RunStatus| -> Vec<&str> {
        runs.iter()
            .filter(|r| r.status == status)
            .map(|r| r.id.as_str())
            .collect()
    };
    // The calls runs in `status` wait on: asked by one event kind, answered by another.
    let pending = |status: RunStatus, asked: EventKind, answered: EventKind| {
        let ids = in_status(status);
        async move {
            state
                .store
                .pending_calls(workspace_id, &ids, asked, answered)
                .await
        }
    };
    let approvals = pending(
        RunStatus::WaitingApproval,
        EventKind::ApprovalRequested,
        EventKind::ApprovalDecided,
    )
    .await?;
    let tool_calls = pending(
        RunStatus::RequiresAction,
        EventKind::ToolRequested,
        EventKind::ToolCompleted,
    )
    .await?;
    let of = |pending: &'_ std::collections::BTreeMap<String, Vec<PendingCall>>, run: &Run| {
        pending.get(run.id.as_str()).map_or_else(Vec::new, |calls| {
            calls.iter().map(PendingCallView::from).collect()
        })
    };
    Ok(runs
        .iter()
        .map(|run| {
            let mut shown = view(state, run, with_input);
            shown.pending_approvals = of(&approvals, run);
            shown.pending_tool_calls = of(&tool_calls, run);
            shown
        })
        .collect())
}

/// Why a run is where it is, when its status alone does not say: a start Temporal has not
/// taken yet.
fn status_reason(run: &Run) -> Option<String> {
    match (&run.start_error, run.start_pending) {
        (Some(code), true) => Some(format!(
            "{code}: Temporal did not take the run's start yet; it starts when Temporal answers"
        )),
        _ => None,
    }
}

impl From<&PendingCall> for PendingCallView {
    fn from(call: &PendingCall) -> Self {
        PendingCallView {
            tool_call_id: call.tool_call_id.clone(),
            tool: call.tool.clone(),
            input: call.input.clone(),
            requested_at: rfc3339(call.requested_at),
        }
    }
}

/// A run as clients see it, without what it waits for ([`views`] adds that). Lists leave
/// out the (possibly large) input.
pub(crate) fn view(state: &AppState, run: &Run, with_input: bool) -> RunView {
    RunView {
        id: run.id.to_string(),
        agent: run.agent_name.to_string(),
        status: run.status,
        status_reason: status_reason(run),
        result: run.result.clone(),
        error: run.error_code.as_ref().map(|code| RunError {
            code: code.clone(),
            message: run.error_message.clone().unwrap_or_default(),
        }),
        metadata: run
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(Value::Null),
        workflow_id: run.workflow_id.clone(),
        webhook_url: run.webhook_url.clone(),
        temporal_ui_url: state.scheduler.ui_link(&run.workflow_id),
        step: run.step,
        usage: RunUsageView {
            input_tokens: run.usage.input_tokens,
            output_tokens: run.usage.output_tokens,
            cache_read_tokens: run.usage.cache_read_tokens,
            cache_write_tokens: run.usage.cache_write_tokens,
            tool_calls: run.usage.tool_calls,
            agent_ms: run.usage.agent_ms,
            cost_usd: run.usage.cost_micro_usd as f64 / 1_000_000.0,
        },
        created_at: rfc3339(run.created_at),
        started_at: run.started_at.map(rfc3339),
        finished_at: run.finished_at.map(rfc3339),
        input: with_input.then(|| run.input.clone()),
        webhook_events: run
            .webhook_events
            .as_deref()
            .and_then(|events| serde_json::from_str(events).ok()),
        previous_run_id: run.previous_run_id.as_ref().map(|id| id.to_string()),
        rerun_of: run.rerun_of.as_ref().map(|id| id.to_string()),
        pending_approvals: Vec::new(),
        pending_tool_calls: Vec::new(),
        result_json: run
            .result_json
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok()),
        awaiting_input: run.status == RunStatus::WaitingInput,
    }
}

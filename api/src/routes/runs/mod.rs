//! `/v1/runs`: submitting ([`create`]), listing ([`list`]) and reading agent runs, steering
//! them (messages, approvals, completion, resumption, cancellation), and runs in bulk
//! ([`bulk`]: rerun, batch, cancellation by filter).

pub(crate) mod bulk;
pub(crate) mod create;
pub(crate) mod list;
pub(crate) mod view;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use longrun_domain::{EventKind, RunStatus};
use longrun_store::{Run, RunFinish, StepEvent, StepWrite};
use longrun_workflows::payloads::{ApprovalDecision, ClientToolResult, HumanMessage};

use crate::AppState;
use crate::auth::Tenant;
use crate::dispatcher::{Command, Sent};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::idempotency::idempotency_key;

pub(crate) use bulk::{__path_batch, __path_cancel_many, __path_rerun, batch, cancel_many, rerun};
pub(crate) use create::{__path_create, create};
pub(crate) use list::{__path_list, list};
use view::{RunView, view, views};

/// A request the run will act on at its next turn.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// Always `true`.
    accepted: bool,
    /// `true` when Temporal did not take it at once (an outage, or the run waits for its
    /// start or behind earlier requests): it is stored and delivered, in order, when Temporal
    /// answers.
    queued: bool,
}

/// A decided tool call.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApprovalOutcome {
    tool_call_id: String,
    /// Whether the call was approved.
    approve: bool,
    #[schema(required = true)]
    reason: Option<String>,
}

/// Reads a run: status, result, error, timestamps, usage so far.
#[utoipa::path(
    get,
    path = "/v1/runs/{id}",
    operation_id = "get_run",
    params(("id" = String, Path, description = "The run's id.")),
    responses((status = 200, description = "The run, with its input.", body = RunView)),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = find_run(&state, &tenant.workspace.id, &run_id).await?;
    let mut runs = views(&state, &tenant.workspace.id, &[run], true).await?;
    Ok(axum::Json(runs.pop().ok_or_else(ApiError::run_not_found)?))
}

/// Cancels a run's workflow, and stops its call in flight at once: Temporal's cancellation
/// reaches a call only at its next heartbeat, the stamp and its notification now (see the
/// activities' `cancel` module). Should the stamp fail, the heartbeat still delivers the
/// cancellation, later.
pub(crate) async fn cancel_run(
    state: &AppState,
    tenant: &Tenant,
    run: &Run,
) -> Result<(), ApiError> {
    let workspace_id = &tenant.workspace.id;
    // Not started yet: it never will be.
    if state.store.withdraw_start(workspace_id, &run.id).await? {
        return cancel_unstarted(state, run).await;
    }
    state
        .dispatcher
        .command(workspace_id, &run.id, &run.workflow_id, Command::Cancel)
        .await?;
    if let Err(err) = state.store.request_cancel(workspace_id, &run.id).await {
        tracing::warn!(error = %err, run = %run.id, "cannot notify the workers of a cancellation");
    }
    Ok(())
}

/// Ends a run withdrawn before its workflow started: `cancelled`, with its `run.completed`.
async fn cancel_unstarted(state: &AppState, run: &Run) -> Result<(), ApiError> {
    let data = serde_json::json!({
        "status": "cancelled",
        "result": null,
        "error": {"code": "cancelled", "message": "the run was cancelled before it started"},
        "steps": 0,
        "usage": {},
    })
    .to_string();
    let events = [StepEvent {
        kind: EventKind::RunCompleted,
        dedupe_key: EventKind::RunCompleted.as_str(),
        data: &data,
    }];
    let write = StepWrite {
        finish: Some(RunFinish {
            status: RunStatus::Cancelled,
            result: None,
            result_json: None,
            error_code: Some("cancelled"),
            error_message: Some("the run was cancelled before it started"),
            step: 0,
        }),
        events: &events,
        ..StepWrite::default()
    };
    state
        .store
        .write_step(&run.workspace_id, &run.id, &write)
        .await?;
    Ok(())
}

/// Hands a command to the dispatcher: delivered now, or queued until Temporal answers.
async fn send(state: &AppState, run: &Run, command: Command) -> Result<Sent, ApiError> {
    state
        .dispatcher
        .command(&run.workspace_id, &run.id, &run.workflow_id, command)
        .await
}

/// The workspace's run of this id, or 404 `run_not_found`.
pub(crate) async fn find_run(
    state: &AppState,
    workspace_id: &str,
    run_id: &str,
) -> Result<Run, ApiError> {
    state
        .store
        .run(workspace_id, run_id)
        .await?
        .ok_or_else(ApiError::run_not_found)
}

/// A live run of the workspace, or the error a client should see: 404 for another
/// workspace's run or none, 409 `run_finished` for a run that ended.
async fn live_run(state: &AppState, tenant: &Tenant, run_id: &str) -> Result<Run, ApiError> {
    let run = find_run(state, &tenant.workspace.id, run_id).await?;
    if run.is_terminal() {
        return Err(ApiError::run_finished(run.status.as_str()));
    }
    Ok(run)
}

/// `POST /v1/runs/{id}/cancel`: cancels the workflow; its model or tool call in flight stops
/// at once, and the run ends `cancelled`.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/cancel",
    operation_id = "cancel_run",
    params(("id" = String, Path, description = "The run's id.")),
    responses((status = 202, description = "Cancellation is requested; the run as it was (without its input).", body = RunView)),
)]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    cancel_run(&state, &tenant, &run).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(view(&state, &run, false))))
}

/// 202 `{"accepted":true}`: the run has the request (or will, when `queued`) and acts on it
/// at its next turn.
fn accepted(sent: Sent) -> (StatusCode, axum::Json<Accepted>) {
    (
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            accepted: true,
            queued: sent == Sent::Queued,
        }),
    )
}

pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostMessage {
    /// 1 to 64 KiB, not only spaces.
    #[schema(min_length = 1, max_length = 65536, example = "Now divide it by 10.")]
    text: String,
}

/// `POST /v1/runs/{id}/messages`: human input, joining the conversation at the next turn.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/messages",
    operation_id = "post_message",
    params(("id" = String, Path, description = "The run's id.")),
    request_body = PostMessage,
    responses((status = 202, description = "The message is delivered.", body = Accepted)),
)]
pub(crate) async fn message(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<PostMessage>,
) -> Result<impl IntoResponse, ApiError> {
    // The key also travels with the signal: the run drops a message it already has, should
    // a request that died after signalling be retried.
    let id = idempotency_key(&headers)?;
    if body.text.trim().is_empty() || body.text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid(
            "text",
            format!("1 to {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let run = live_run(&state, &tenant, &run_id).await?;
    let message = HumanMessage {
        text: body.text,
        id,
    };
    Ok(accepted(
        send(&state, &run, Command::Message { message }).await?,
    ))
}

/// `POST /v1/runs/{id}/resume`: asks a run paused at the quota's hard cap to check again
/// (it pauses again if the workspace is still over it).
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/resume",
    operation_id = "resume_run",
    params(("id" = String, Path, description = "The run's id.")),
    responses((status = 202, description = "The run will check its limits again.", body = Accepted)),
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    Ok(accepted(send(&state, &run, Command::Resume).await?))
}

/// `POST /v1/runs/{id}/complete`: ends a run waiting for input with the answer it has.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/complete",
    operation_id = "complete_run",
    params(("id" = String, Path, description = "The run's id.")),
    responses((status = 202, description = "The run will end with the answer it has.", body = Accepted)),
)]
pub(crate) async fn complete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    Ok(accepted(send(&state, &run, Command::Complete).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostApproval {
    /// The call's id, from the `approval.requested` event: 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    tool_call_id: String,
    approve: bool,
    /// Told to the model with a denial; at most 4 KiB.
    #[serde(default)]
    #[schema(max_length = 4096)]
    reason: Option<String>,
}

/// A tool call's id as clients send it back: 1 to 256 characters.
fn check_call_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 256 {
        return Err(ApiError::invalid("tool_call_id", "1 to 256 characters"));
    }
    Ok(())
}

/// `POST /v1/runs/{id}/approvals`: approves or denies a gated tool call (a Temporal update:
/// the workflow's validator refuses unknown or already-decided calls).
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/approvals",
    operation_id = "decide_approval",
    params(("id" = String, Path, description = "The run's id.")),
    request_body = PostApproval,
    responses(
        (status = 200, description = "The decision, as the run took it.", body = ApprovalOutcome),
        (status = 202, description = "Temporal did not answer: the decision is stored and delivered when it does (`queued`); the run's validator may still refuse it then (see its events).", body = Accepted),
        (status = 409, description = "`run_finished`, or `approval_conflict`: no such call waits for a decision.", body = ErrorBody),
    ),
)]
pub(crate) async fn approve(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    Json(body): Json<PostApproval>,
) -> Result<impl IntoResponse, ApiError> {
    check_call_id(&body.tool_call_id)?;
    if body.reason.as_ref().is_some_and(|r| r.len() > 4096) {
        return Err(ApiError::invalid("reason", "at most 4096 bytes"));
    }
    let run = live_run(&state, &tenant, &run_id).await?;
    let decision = ApprovalDecision {
        tool_call_id: body.tool_call_id,
        approve: body.approve,
        reason: body.reason,
    };
    let command = Command::Approval {
        decision: decision.clone(),
    };
    match send(&state, &run, command).await? {
        Sent::Delivered { approved } => Ok(axum::Json(ApprovalOutcome {
            tool_call_id: decision.tool_call_id,
            approve: approved.unwrap_or(decision.approve),
            reason: decision.reason,
        })
        .into_response()),
        Sent::Queued => Ok(accepted(Sent::Queued).into_response()),
    }
}

/// Largest client tool result, in bytes: what a tool's output may be (longer output is
/// refused, not cut, so the client knows).
const MAX_TOOL_RESULT_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostToolResult {
    /// The call's id, from the `tool.requested` event or the run's `pending_tool_calls`: 1 to
    /// 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    tool_call_id: String,
    /// The tool's output, handed to the model: at most 64 KiB.
    #[schema(max_length = 65536)]
    content: String,
    /// The tool failed: the model sees an error result.
    #[serde(default)]
    is_error: bool,
}

/// `POST /v1/runs/{id}/tool-results`: the result of a client-executed tool call the run
/// waits for (`requires_action`); the run goes on with it. A Temporal update: the workflow's
/// validator refuses unknown and already answered calls.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/tool-results",
    operation_id = "post_tool_result",
    params(("id" = String, Path, description = "The run's id.")),
    request_body = PostToolResult,
    responses(
        (status = 202, description = "The run took the result (`queued: false`), or Temporal did not answer and it is stored and delivered when it does (`queued: true`; the run's validator may still refuse it then).", body = Accepted),
        (status = 409, description = "`run_finished`, or `tool_result_conflict`: no such call waits for a result (unknown, already answered, or timed out).", body = ErrorBody),
    ),
)]
pub(crate) async fn tool_result(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    Json(body): Json<PostToolResult>,
) -> Result<impl IntoResponse, ApiError> {
    check_call_id(&body.tool_call_id)?;
    if body.content.len() > MAX_TOOL_RESULT_BYTES {
        return Err(ApiError::invalid(
            "content",
            format!("at most {MAX_TOOL_RESULT_BYTES} bytes"),
        ));
    }
    let run = live_run(&state, &tenant, &run_id).await?;
    let command = Command::ToolResult {
        result: ClientToolResult {
            tool_call_id: body.tool_call_id,
            content: body.content,
            is_error: body.is_error,
        },
    };
    Ok(accepted(send(&state, &run, command).await?))
}

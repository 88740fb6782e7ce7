//! `/v1/runs`: submitting ([`create`]), listing and reading agent runs, and steering them
//! (messages, approvals, completion, resumption, cancellation).

pub(crate) mod create;
pub(crate) mod view;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use longrun_domain::AgentName;
use longrun_store::{Run, RunListFilter};
use longrun_workflows::payloads::{ApprovalDecision, HumanMessage, RunStatus};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::idempotency::idempotency_key;
use crate::page::{CursorShape, Paged, listing};

pub(crate) use create::{__path_create, create};
use view::{RunPage, RunStatusName, RunView, view};

/// A signal the run will act on at its next turn.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// Always `true`.
    accepted: bool,
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Runs per page, 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-fA-F]{32}$")]
    cursor: Option<String>,
    /// Only runs in this status.
    #[param(value_type = Option<RunStatusName>)]
    status: Option<String>,
    /// Only runs of this agent.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    agent: Option<String>,
}
listing!(ListQuery, default 20, max 100, CursorShape::Hex32);

/// Lists the workspace's runs, newest first, without their input; optionally only those of
/// one status or one agent.
#[utoipa::path(
    get,
    path = "/v1/runs",
    operation_id = "list_runs",
    params(ListQuery),
    responses((status = 200, description = "A page of runs.", body = RunPage)),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Paged { query, page }: Paged<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let status = query
        .status
        .as_deref()
        .map(|status| {
            RunStatus::parse(status).ok_or_else(|| {
                let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid(
                    "status",
                    format!(
                        "unknown status {status:?}; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
        })
        .transpose()?;
    let agent = query
        .agent
        .as_deref()
        .map(|name| {
            AgentName::parse(name).map_err(|_| {
                ApiError::invalid(
                    "agent",
                    "1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
                )
            })
        })
        .transpose()?;
    let runs = state
        .store
        .list_runs(
            &tenant.workspace.id,
            RunListFilter {
                status,
                agent: agent.as_ref(),
                before: page.cursor.as_deref(),
                limit: page.limit,
            },
        )
        .await?;
    let next_cursor = page.next_cursor(&runs, |r| r.id.to_string());
    let runs = runs.iter().map(|r| view(&state, r, false)).collect();
    Ok(axum::Json(RunPage { runs, next_cursor }))
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
    let run = state
        .store
        .run(&tenant.workspace.id, &run_id)
        .await?
        .ok_or_else(ApiError::run_not_found)?;
    Ok(axum::Json(view(&state, &run, true)))
}

/// A live run of the workspace, or the error a client should see: 404 for another
/// workspace's run or none, 409 `run_finished` for a run that ended.
async fn live_run(state: &AppState, tenant: &Tenant, run_id: &str) -> Result<Run, ApiError> {
    let run = state
        .store
        .run(&tenant.workspace.id, run_id)
        .await?
        .ok_or_else(ApiError::run_not_found)?;
    if run.is_terminal() {
        return Err(ApiError::run_finished(run.status.as_str()));
    }
    Ok(run)
}

/// `POST /v1/runs/{id}/cancel`: cancels the workflow; in-flight activities stop at their next
/// heartbeat, and the run ends `cancelled`.
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
    state.scheduler.cancel(&run.workflow_id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(view(&state, &run, false))))
}

/// 202 `{"accepted":true}`: the run has the request and acts on it at its next turn.
fn accepted() -> (StatusCode, axum::Json<Accepted>) {
    (
        StatusCode::ACCEPTED,
        axum::Json(Accepted { accepted: true }),
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
    state
        .scheduler
        .send_message(
            &run.workflow_id,
            HumanMessage {
                text: body.text,
                id,
            },
        )
        .await?;
    Ok(accepted())
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
    state.scheduler.resume(&run.workflow_id).await?;
    Ok(accepted())
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
    state.scheduler.complete(&run.workflow_id).await?;
    Ok(accepted())
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
        (status = 409, description = "`run_finished`, or `approval_conflict`: no such call waits for a decision.", body = ErrorBody),
    ),
)]
pub(crate) async fn approve(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    Json(body): Json<PostApproval>,
) -> Result<impl IntoResponse, ApiError> {
    if body.tool_call_id.is_empty() || body.tool_call_id.len() > 256 {
        return Err(ApiError::invalid("tool_call_id", "1 to 256 characters"));
    }
    if body.reason.as_ref().is_some_and(|r| r.len() > 4096) {
        return Err(ApiError::invalid("reason", "at most 4096 bytes"));
    }
    let run = live_run(&state, &tenant, &run_id).await?;
    let decision = ApprovalDecision {
        tool_call_id: body.tool_call_id,
        approve: body.approve,
        reason: body.reason,
    };
    let approved = state
        .scheduler
        .decide(&run.workflow_id, decision.clone())
        .await?;
    Ok(axum::Json(ApprovalOutcome {
        tool_call_id: decision.tool_call_id,
        approve: approved,
        reason: decision.reason,
    }))
}

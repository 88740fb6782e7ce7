//! One tool call of a step: its approval when the tool is gated, then the call, as a local
//! activity for pure built-ins and a regular one otherwise.

use std::time::Duration;

use temporalio_workflow::{
    ActivityCancellationType, ActivityCloseTimeouts, ActivityOptions, LocalActivityOptions,
    RetryPolicy, WorkflowContext,
};

use longrun_domain::BuiltinTool;

use super::AgentRunWorkflow;
use super::ending::{CANCELLED_BY_NOTICE, Ending, ending_for, failure_of};
use super::steps::{Waited, record, remaining, wait_until};
use crate::contracts::RunTool;
use crate::payloads::{
    ApprovalDecision, ClientToolResult, EventKind, ExecutionRef, RunInput, RunStatus, ToolKind,
    ToolOutcome, ToolRequest, ToolSpec, WorkflowShape,
};

/// One tool call: approval first when the tool is gated, then the call itself. A tool that
/// fails (after its retries) becomes an error result the model can work around; only
/// cancellation ends the run here.
#[allow(clippy::too_many_arguments)]
pub(super) async fn call_tool(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    execution: &ExecutionRef,
    step: u32,
    index: u32,
    call_id: &str,
    tool: &str,
    tool_input: serde_json::Value,
) -> Result<ToolOutcome, Ending> {
    let Some(spec) = input.agent.tools.iter().find(|t| t.name == tool).cloned() else {
        return Ok(ToolOutcome {
            content: format!("unknown tool {tool:?}: it is not declared for this agent"),
            is_error: true,
        });
    };
    if spec.requires_approval {
        let decision = approval(ctx, input, step, call_id, &spec, &tool_input).await?;
        if !decision.approve {
            let reason = decision.reason.unwrap_or_else(|| "no reason given".into());
            return Ok(ToolOutcome {
                content: format!("a human denied this tool call: {reason}"),
                is_error: true,
            });
        }
    }
    if spec.kind == ToolKind::Client {
        return client_tool(ctx, input, step, call_id, &spec, &tool_input).await;
    }
    let request = ToolRequest {
        run: input.run.clone(),
        execution: execution.clone(),
        step,
        call_index: index,
        call_id: call_id.to_string(),
        tool: spec.clone(),
        input: tool_input,
        heartbeat_s: 0,
        retry_cap_s: input.tuning.retry_cap_s,
    };
    let tuning = &input.tuning;
    // The catalog says which built-ins are pure (local) and safe to run twice (retried).
    let builtin = match spec.kind {
        ToolKind::Builtin => BuiltinTool::parse(tool),
        // Tools of other services (webhooks, MCP servers): a regular activity, run once; a
        // client's tool never reaches here.
        ToolKind::Webhook | ToolKind::Mcp | ToolKind::Client => None,
    };
    let timeout = Duration::from_secs(tuning.tool_timeout_s);
    let outages_waited = WorkflowShape::of(input) >= WorkflowShape::OutagesWaited;
    // Until `OutagesWaited`: a retry-safe tool 3 attempts, one with effects in the world 1.
    // Since: every call is tried again until the run's deadline (a store outage must not
    // lose a tool's result); the activity itself never runs a tool with effects twice (it
    // writes the result an earlier attempt kept, or answers that it will not run it again).
    let retry = if outages_waited {
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(500))
            .maximum_interval(Duration::from_secs(tuning.retry_cap_s.max(1)))
            .build()
    } else {
        let attempts = if builtin.is_some_and(BuiltinTool::retry_safe) {
            3
        } else {
            1
        };
        RetryPolicy::builder().maximum_attempts(attempts).build()
    };
    let deadline = remaining(ctx).max(timeout);
    let result = if builtin.is_some_and(BuiltinTool::runs_locally) {
        let options = LocalActivityOptions::builder()
            .start_to_close_timeout(timeout)
            .retry_policy(retry)
            .summary(tool.to_string())
            // Reconciliation reads the step and call of each tool call from history; a local
            // activity's marker holds its input only when asked to.
            .include_arguments_in_marker(true);
        let options = if outages_waited {
            options.schedule_to_close_timeout(deadline).build()
        } else {
            options.build()
        };
        ctx.execute_local_activity(RunTool, request, options).await
    } else {
        let timeouts = if outages_waited {
            ActivityCloseTimeouts::ScheduleAndStartToClose {
                schedule_to_close: deadline,
                start_to_close: timeout,
            }
        } else {
            ActivityCloseTimeouts::StartToClose(timeout)
        };
        ctx.execute_activity(
            RunTool,
            ToolRequest {
                heartbeat_s: tuning.tool_heartbeat_s,
                ..request
            },
            ActivityOptions::with_close_timeouts(timeouts)
                .heartbeat_timeout(Duration::from_secs(tuning.tool_heartbeat_s))
                .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
                .retry_policy(retry)
                .summary(tool.to_string())
                .build(),
        )
        .await
    };
    match result {
        Ok(outcome) => Ok(outcome),
        Err(err) if err.as_cancelled().is_some() => Err(Ending::Cancelled),
        Err(err) if matches!(ending_for(input, &err), Ending::TimedOut) => Err(Ending::TimedOut),
        Err(err) => match failure_of(&err) {
            failure if failure.code == CANCELLED_BY_NOTICE => Err(Ending::Cancelled),
            failure => Ok(ToolOutcome {
                content: format!("the tool failed: {}", failure.message),
                is_error: true,
            }),
        },
    }
}

/// What a call waits in: the run's status and the event that asks, and for how long.
struct Asked {
    status: RunStatus,
    kind: EventKind,
    timeout: Duration,
}

/// Records that a call waits for an answer (its status and event, with the call), then
/// waits until `answered` holds, the timeout passes, or the run is cancelled.
#[allow(clippy::too_many_arguments)]
async fn ask(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    step: u32,
    call_id: &str,
    spec: &ToolSpec,
    tool_input: &serde_json::Value,
    asked: Asked,
    answered: impl FnMut(&AgentRunWorkflow) -> bool + Unpin,
) -> Result<Waited, Ending> {
    record(
        ctx,
        input,
        Some(asked.status),
        step,
        asked.kind,
        format!("step-{step}/{}/{call_id}", asked.kind.as_str()),
        serde_json::json!({ "step": step, "tool_call_id": call_id, "tool": spec.name, "input": tool_input }),
    )
    .await?;
    Ok(wait_until(ctx, asked.timeout, answered).await)
}

/// Waits for a human decision on a gated call; no decision in time is a denial.
async fn approval(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    step: u32,
    call_id: &str,
    spec: &ToolSpec,
    tool_input: &serde_json::Value,
) -> Result<ApprovalDecision, Ending> {
    ctx.state_mut(|s| s.approvals.insert(call_id.to_string(), None));
    let id = call_id.to_string();
    let asked = Asked {
        status: RunStatus::WaitingApproval,
        kind: EventKind::ApprovalRequested,
        timeout: Duration::from_secs(input.tuning.approval_timeout_s),
    };
    let answered = move |s: &AgentRunWorkflow| matches!(s.approvals.get(&id), Some(Some(_)));
    let waited = ask(ctx, input, step, call_id, spec, tool_input, asked, answered).await?;
    let (decision, by) = match waited {
        Waited::Cancelled => return Err(Ending::Cancelled),
        Waited::Done => (
            ctx.state(|s| s.approvals.get(call_id).cloned().flatten())
                .unwrap_or(ApprovalDecision {
                    tool_call_id: call_id.to_string(),
                    approve: false,
                    reason: None,
                }),
            "human",
        ),
        Waited::TimedOut => {
            let decision = ApprovalDecision {
                tool_call_id: call_id.to_string(),
                approve: false,
                reason: Some("no decision before the approval timeout".into()),
            };
            // Later updates for this call are refused by the validator.
            ctx.state_mut(|s| {
                s.approvals
                    .insert(call_id.to_string(), Some(decision.clone()))
            });
            (decision, "timeout")
        }
    };
    record(
        ctx,
        input,
        Some(RunStatus::Running),
        step,
        EventKind::ApprovalDecided,
        format!("step-{step}/approval.decided/{call_id}"),
        serde_json::json!({
            "step": step, "tool_call_id": call_id, "approve": decision.approve,
            "reason": decision.reason, "by": by,
        }),
    )
    .await?;
    Ok(decision)
}

/// A client-executed tool call: the run waits (`requires_action`, event `tool.requested`) for
/// the client's result (the `tool_result` update); no result in time is an error result.
async fn client_tool(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    step: u32,
    call_id: &str,
    spec: &ToolSpec,
    tool_input: &serde_json::Value,
) -> Result<ToolOutcome, Ending> {
    ctx.state_mut(|s| s.client_calls.insert(call_id.to_string(), None));
    let id = call_id.to_string();
    let timeout = Duration::from_secs(spec.timeout_s.unwrap_or(input.tuning.client_tool_timeout_s));
    let asked = Asked {
        status: RunStatus::RequiresAction,
        kind: EventKind::ToolRequested,
        timeout,
    };
    let answered = move |s: &AgentRunWorkflow| matches!(s.client_calls.get(&id), Some(Some(_)));
    let waited = ask(ctx, input, step, call_id, spec, tool_input, asked, answered).await?;
    let (outcome, by) = match waited {
        Waited::Cancelled => return Err(Ending::Cancelled),
        Waited::Done => {
            let answer = ctx
                .state(|s| s.client_calls.get(call_id).cloned().flatten())
                .unwrap_or(ClientToolResult {
                    tool_call_id: call_id.to_string(),
                    content: String::new(),
                    is_error: true,
                });
            (
                ToolOutcome {
                    content: answer.content,
                    is_error: answer.is_error,
                },
                "client",
            )
        }
        Waited::TimedOut => {
            let late = ClientToolResult {
                tool_call_id: call_id.to_string(),
                content: format!(
                    "the client did not return a result for {} within {} s",
                    spec.name,
                    timeout.as_secs()
                ),
                is_error: true,
            };
            // A result posted later is refused by the validator.
            ctx.state_mut(|s| {
                s.client_calls
                    .insert(call_id.to_string(), Some(late.clone()))
            });
            (
                ToolOutcome {
                    content: late.content,
                    is_error: true,
                },
                "timeout",
            )
        }
    };
    record(
        ctx,
        input,
        Some(RunStatus::Running),
        step,
        EventKind::ToolCompleted,
        format!("step-{step}/tool.completed/{call_id}"),
        serde_json::json!({
            "step": step, "tool_call_id": call_id, "tool": spec.name,
            "content": outcome.content, "is_error": outcome.is_error, "by": by,
        }),
    )
    .await?;
    Ok(outcome)
}

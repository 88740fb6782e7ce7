//! One tool call of a step: its approval when the tool is gated, then the call, as a local
//! activity for pure built-ins and a regular one otherwise.

use std::collections::BTreeMap;
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
    let pending = Pending {
        input,
        step,
        call_id,
        spec: &spec,
        tool_input: &tool_input,
    };
    if spec.requires_approval {
        let decision = approval(ctx, &pending).await?;
        if !decision.approve {
            let reason = decision.reason.unwrap_or_else(|| "no reason given".into());
            return Ok(ToolOutcome {
                content: format!("a human denied this tool call: {reason}"),
                is_error: true,
            });
        }
    }
    if spec.kind == ToolKind::Client {
        return client_tool(ctx, &pending).await;
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
        let cap = Duration::from_secs(tuning.retry_cap_s.max(1));
        crate::retry::backoff(Duration::from_millis(500), cap, 0)
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

/// A call that waits for an answer: the run's input, the step, the call.
struct Pending<'a> {
    input: &'a RunInput,
    step: u32,
    call_id: &'a str,
    spec: &'a ToolSpec,
    tool_input: &'a serde_json::Value,
}

/// What a call waits in: the run's status and the event that asks, and for how long.
struct Asked {
    status: RunStatus,
    kind: EventKind,
    timeout: Duration,
}

/// An answer a call waits for, and where it arrives: a map of the workflow's state by call
/// id, `None` until the answer came (an update's validator refuses answers for unknown or
/// answered calls).
trait Answer: Clone + 'static {
    /// Who gave an answer that arrived (as `by` in the event that records it).
    const GIVEN_BY: &'static str;
    /// The event that records the answer.
    const RECORDED_AS: EventKind;
    fn answers(state: &AgentRunWorkflow) -> &BTreeMap<String, Option<Self>>;
    fn answers_mut(state: &mut AgentRunWorkflow) -> &mut BTreeMap<String, Option<Self>>;
}

/// Implements [`Answer`] for answers kept in a field of the workflow's state: the field
/// types differ, so a generic function cannot name them.
macro_rules! answer {
    ($answer:ty, $field:ident, given_by: $by:literal, recorded_as: $kind:expr) => {
        impl Answer for $answer {
            const GIVEN_BY: &'static str = $by;
            const RECORDED_AS: EventKind = $kind;

            fn answers(state: &AgentRunWorkflow) -> &BTreeMap<String, Option<Self>> {
                &state.$field
            }

            fn answers_mut(state: &mut AgentRunWorkflow) -> &mut BTreeMap<String, Option<Self>> {
                &mut state.$field
            }
        }
    };
}

answer!(ApprovalDecision, approvals, given_by: "human", recorded_as: EventKind::ApprovalDecided);
answer!(ClientToolResult, client_calls, given_by: "client", recorded_as: EventKind::ToolCompleted);

/// Records that a call waits for an answer (its status and event, with the call), waits for
/// it, and records the answer (the call and what `recorded` adds) with the run running again.
/// No answer in time is answered `late`; a cancelled run ends. `missing` stands for an answer
/// that arrived but cannot be read, which the validator prevents.
async fn ask<T: Answer>(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    pending: &Pending<'_>,
    asked: Asked,
    [missing, late]: [T; 2],
    recorded: impl FnOnce(&T) -> serde_json::Value,
) -> Result<T, Ending> {
    let Pending {
        input,
        step,
        call_id,
        spec,
        tool_input,
    } = *pending;
    ctx.state_mut(|s| T::answers_mut(s).insert(call_id.to_string(), None));
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
    let id = call_id.to_string();
    let answered = move |s: &AgentRunWorkflow| matches!(T::answers(s).get(&id), Some(Some(_)));
    let (answer, by) = match wait_until(ctx, asked.timeout, answered).await {
        Waited::Cancelled => return Err(Ending::Cancelled),
        Waited::Done => (
            ctx.state(|s| T::answers(s).get(call_id).cloned().flatten())
                .unwrap_or(missing),
            T::GIVEN_BY,
        ),
        Waited::TimedOut => {
            // A later answer for this call is refused by the validator.
            ctx.state_mut(|s| T::answers_mut(s).insert(call_id.to_string(), Some(late.clone())));
            (late, "timeout")
        }
    };
    let mut data = serde_json::json!({ "step": step, "tool_call_id": call_id, "by": by });
    if let (Some(data), serde_json::Value::Object(fields)) =
        (data.as_object_mut(), recorded(&answer))
    {
        data.extend(fields);
    }
    record(
        ctx,
        input,
        Some(RunStatus::Running),
        step,
        T::RECORDED_AS,
        format!("step-{step}/{}/{call_id}", T::RECORDED_AS.as_str()),
        data,
    )
    .await?;
    Ok(answer)
}

/// Waits for a human decision on a gated call; no decision in time is a denial.
async fn approval(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    pending: &Pending<'_>,
) -> Result<ApprovalDecision, Ending> {
    let (input, call_id) = (pending.input, pending.call_id);
    let asked = Asked {
        status: RunStatus::WaitingApproval,
        kind: EventKind::ApprovalRequested,
        timeout: Duration::from_secs(input.tuning.approval_timeout_s),
    };
    let denial = |reason: Option<&str>| ApprovalDecision {
        tool_call_id: call_id.to_string(),
        approve: false,
        reason: reason.map(str::to_string),
    };
    let answers = [
        denial(None),
        denial(Some("no decision before the approval timeout")),
    ];
    let recorded = |decision: &ApprovalDecision| serde_json::json!({ "approve": decision.approve, "reason": decision.reason });
    ask(ctx, pending, asked, answers, recorded).await
}

/// A client-executed tool call: the run waits (`requires_action`, event `tool.requested`) for
/// the client's result (the `tool_result` update); no result in time is an error result.
async fn client_tool(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    pending: &Pending<'_>,
) -> Result<ToolOutcome, Ending> {
    let (input, call_id, spec) = (pending.input, pending.call_id, pending.spec);
    let timeout = Duration::from_secs(spec.timeout_s.unwrap_or(input.tuning.client_tool_timeout_s));
    let asked = Asked {
        status: RunStatus::RequiresAction,
        kind: EventKind::ToolRequested,
        timeout,
    };
    let error = |content: String| ClientToolResult {
        tool_call_id: call_id.to_string(),
        content,
        is_error: true,
    };
    let answers = [
        error(String::new()),
        error(format!(
            "the client did not return a result for {} within {} s",
            spec.name,
            timeout.as_secs()
        )),
    ];
    let recorded = |result: &ClientToolResult| serde_json::json!({ "tool": spec.name, "content": result.content, "is_error": result.is_error });
    let answer = ask(ctx, pending, asked, answers, recorded).await?;
    Ok(ToolOutcome {
        content: answer.content,
        is_error: answer.is_error,
    })
}

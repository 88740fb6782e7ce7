//! `AgentRunWorkflow`: one agent run, durably.
//!
//! The loop: check the budget, one model turn (an activity that stores the conversation,
//! meters, and records its event), then each requested tool call (after a human approves it,
//! when the tool is gated), until the model ends its turn, the budget runs out, a step fails
//! for good, or the run is cancelled. A model that ends with a question, on an agent that
//! allows it, waits for human input. Whatever the ending, `finish_run` records it before the
//! workflow closes. Long runs continue as new executions; the conversation stays in the store,
//! so histories stay small.

use std::collections::BTreeMap;
use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::common::error::{ApplicationFailure, IncomingError};
use temporalio_workflow::{
    ActivityCancellationType, ActivityCloseTimeouts, ActivityExecutionError, ActivityOptions,
    CancellableFuture, ContinueAsNewOptions, LocalActivityOptions, RetryPolicy,
    SyncWorkflowContext, WorkflowCancellationToken, WorkflowContext, WorkflowContextView,
    WorkflowResult, WorkflowTermination,
};

use crate::contracts::{DeliverWebhook, FinishRun, LlmCall, RecordEvent, RunTool, StartRun};
use crate::payloads::{
    ApprovalDecision, ContentBlock, EventRequest, ExecutionRef, FinishRunRequest, HumanMessage,
    LlmRequest, LlmResponse, Message, ResumeState, Role, RunFailure, RunInput, RunOutcome,
    RunProgress, RunStatus, StartRunRequest, StopReason, ToolKind, ToolOutcome, ToolRequest,
    ToolSpec, WebhookRequest,
};
use crate::search;

/// Built-in tools that are pure and fast: they run as local activities, which skip the
/// server round trip a regular activity costs.
const LOCAL_TOOLS: &[&str] = &["calculator"];

/// Built-in tools safe to run twice (no effect beyond their result).
const RETRYABLE_TOOLS: &[&str] = &["calculator", "read_file", "list_files"];

#[workflow]
#[derive(Default)]
pub struct AgentRunWorkflow {
    progress: RunProgress,
    /// Gated tool calls by id: `None` while undecided.
    approvals: BTreeMap<String, Option<ApprovalDecision>>,
    /// Human messages not yet handed to the model.
    inbox: Vec<String>,
    /// Ids of the messages received (this execution), so a repeated delivery is dropped.
    message_ids: std::collections::BTreeSet<String>,
    complete_requested: bool,
    /// A `resume` signal arrived while paused at the quota's hard cap.
    resume_requested: bool,
}

/// The loop's own state, carried across continue-as-new.
struct Loop {
    step: u32,
    next_seq: u32,
    pending: Vec<Message>,
    started_at_ms: u64,
    last_text: String,
    /// Step count when this execution began, for continue-as-new pacing.
    first_step: u32,
    /// Pauses at the hard cap so far (event keys need it).
    pauses: u32,
}

#[workflow_methods]
impl AgentRunWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: RunInput,
    ) -> WorkflowResult<RunOutcome> {
        let execution = ExecutionRef {
            workflow_id: ctx.workflow_id().to_string(),
            temporal_run_id: ctx.run_id().to_string(),
        };
        let mut state = match &input.resume {
            Some(resume) => {
                ctx.state_mut(|s| {
                    s.progress.usage = resume.usage;
                    s.progress.cost_micro_usd = resume.cost_micro_usd;
                    s.progress.step = resume.step;
                });
                Loop {
                    step: resume.step,
                    next_seq: resume.next_seq,
                    pending: resume.pending.clone(),
                    started_at_ms: resume.started_at_ms,
                    last_text: resume.last_text.clone(),
                    first_step: resume.step,
                    pauses: 0,
                }
            }
            None => {
                let started = ctx
                    .execute_local_activity(
                        StartRun,
                        StartRunRequest {
                            run: input.run.clone(),
                            execution: execution.clone(),
                            input: input.input.clone(),
                        },
                        store_local_options(input.tuning.store_timeout_s),
                    )
                    .await;
                if let Err(err) = started {
                    let ending = ending_for(&err);
                    return finish(ctx, &input, &execution, ending, 0).await;
                }
                Loop {
                    step: 0,
                    next_seq: 0,
                    pending: vec![Message::user_text(input.input.clone())],
                    started_at_ms: workflow_ms(ctx),
                    last_text: String::new(),
                    first_step: 0,
                    pauses: 0,
                }
            }
        };
        set_status(ctx, RunStatus::Running);

        loop {
            if ctx.cancellation_token().is_cancelled() {
                return finish(ctx, &input, &execution, Ending::Cancelled, state.step).await;
            }
            if let Err(ending) = take_human_messages(ctx, &input, &mut state).await {
                return finish(ctx, &input, &execution, ending, state.step).await;
            }
            if should_continue_as_new(ctx, &input, &state) {
                let resume = ResumeState {
                    step: state.step,
                    next_seq: state.next_seq,
                    usage: ctx.state(|s| s.progress.usage),
                    cost_micro_usd: ctx.state(|s| s.progress.cost_micro_usd),
                    started_at_ms: state.started_at_ms,
                    pending: std::mem::take(&mut state.pending),
                    last_text: std::mem::take(&mut state.last_text),
                };
                let next = RunInput {
                    resume: Some(resume),
                    ..input.clone()
                };
                ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
            }
            if let Some(ending) = budget_exhausted(ctx, &input, &state) {
                return finish(ctx, &input, &execution, ending, state.step).await;
            }

            state.step += 1;
            let step = state.step;
            ctx.state_mut(|s| s.progress.step = step);
            let response_seq = state.next_seq + state.pending.len() as u32;
            let turn = ctx
                .execute_activity(
                    LlmCall,
                    LlmRequest {
                        run: input.run.clone(),
                        execution: execution.clone(),
                        step,
                        model: input.agent.model.clone(),
                        system: input.agent.system_prompt.clone(),
                        tools: input.agent.tools.clone(),
                        max_output_tokens: input.agent.max_output_tokens,
                        new_messages: state.pending.clone(),
                        first_seq: state.next_seq,
                        response_seq,
                    },
                    llm_options(&input, step),
                )
                .await;
            let response = match turn {
                Ok(response) => response,
                Err(err) => {
                    let ending = ending_for(&err);
                    return finish(ctx, &input, &execution, ending, step).await;
                }
            };
            if let Some(pause) = &response.paused {
                // Over the hard cap: nothing was spent. Wait, then try this step again.
                state.step -= 1;
                ctx.state_mut(|s| s.progress.step = state.step);
                if let Err(ending) = pause_for_quota(ctx, &input, &mut state, pause).await {
                    return finish(ctx, &input, &execution, ending, state.step).await;
                }
                continue;
            }
            state.next_seq = response_seq + 1;
            state.pending.clear();
            ctx.state_mut(|s| {
                s.progress.usage.add(&response.usage);
                s.progress.cost_micro_usd += response.cost_micro_usd;
            });
            let text = response.text();
            if !text.is_empty() {
                state.last_text = text.clone();
            }
            ctx.set_current_details(details(ctx, step));

            let calls: Vec<(String, String, serde_json::Value)> = response
                .tool_calls()
                .map(|(id, name, input)| (id.to_string(), name.to_string(), input.clone()))
                .collect();
            if !calls.is_empty() && response.stop_reason == StopReason::ToolUse {
                let mut results = Vec::with_capacity(calls.len());
                for (index, (call_id, tool, tool_input)) in calls.into_iter().enumerate() {
                    let outcome = match call_tool(
                        ctx,
                        &input,
                        &execution,
                        step,
                        index as u32,
                        &call_id,
                        &tool,
                        tool_input,
                    )
                    .await
                    {
                        Ok(outcome) => outcome,
                        Err(ending) => return finish(ctx, &input, &execution, ending, step).await,
                    };
                    results.push(ContentBlock::ToolResult {
                        tool_use_id: call_id,
                        content: outcome.content,
                        is_error: outcome.is_error,
                    });
                }
                state.pending.push(Message {
                    role: Role::User,
                    content: results,
                });
                continue;
            }

            match end_of_turn(ctx, &input, &response, &text, step).await {
                TurnEnd::Continue => continue,
                TurnEnd::Finish(ending) => {
                    return finish(ctx, &input, &execution, ending, step).await;
                }
            }
        }
    }

    /// Status, step, usage and pending approvals, for operators and tests. (The API reads the
    /// store, which the activities keep current, so reads never depend on a worker.)
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> RunProgress {
        let mut progress = self.progress.clone();
        progress.pending_approvals = self
            .approvals
            .iter()
            .filter(|(_, decision)| decision.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        progress
    }

    /// Human input: joins the conversation at the next model turn.
    #[signal]
    pub fn message(&mut self, _ctx: &mut SyncWorkflowContext<Self>, message: HumanMessage) {
        if let Some(id) = message.id
            && !self.message_ids.insert(id)
        {
            return;
        }
        self.inbox.push(message.text);
    }

    /// Asks a run paused at the quota's hard cap to check again.
    #[signal]
    pub fn resume(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.resume_requested = true;
    }

    /// Ends a run that is waiting for input, with the answer it has.
    #[signal]
    pub fn complete(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _input: ()) {
        self.complete_requested = true;
    }

    #[update_validator(decide)]
    fn validate_decide(
        &self,
        _ctx: &WorkflowContextView,
        decision: &ApprovalDecision,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        match self.approvals.get(&decision.tool_call_id) {
            None => Err(format!(
                "no tool call {:?} is waiting for approval",
                decision.tool_call_id
            )
            .into()),
            Some(Some(_)) => {
                Err(format!("tool call {:?} was already decided", decision.tool_call_id).into())
            }
            Some(None) => Ok(()),
        }
    }

    /// A human's decision on a gated tool call.
    #[update]
    pub fn decide(
        &mut self,
        _ctx: &mut SyncWorkflowContext<Self>,
        decision: ApprovalDecision,
    ) -> bool {
        let approve = decision.approve;
        self.approvals
            .insert(decision.tool_call_id.clone(), Some(decision));
        approve
    }
}

enum Ending {
    Succeeded(String),
    Failed(RunFailure),
    BudgetExhausted(String),
    Cancelled,
}

enum TurnEnd {
    Continue,
    Finish(Ending),
}

fn workflow_ms(ctx: &WorkflowContext<AgentRunWorkflow>) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn details(ctx: &WorkflowContext<AgentRunWorkflow>, step: u32) -> String {
    let (usage, cost) = ctx.state(|s| (s.progress.usage, s.progress.cost_micro_usd));
    format!(
        "step {step} · {} tokens · ${:.4}",
        usage.total(),
        cost as f64 / 1_000_000.0
    )
}

fn set_status(ctx: &mut WorkflowContext<AgentRunWorkflow>, status: RunStatus) {
    ctx.state_mut(|s| s.progress.status = status);
    ctx.upsert_search_attributes([search::STATUS.value_set(status.as_str().to_string())]);
}

fn should_continue_as_new(
    ctx: &WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    state: &Loop,
) -> bool {
    let every = input.tuning.continue_as_new_every;
    let paced = every > 0 && state.step - state.first_step >= every;
    (paced || ctx.continue_as_new_suggested()) && state.step > state.first_step
}

fn budget_exhausted(
    ctx: &WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    state: &Loop,
) -> Option<Ending> {
    let budget = &input.budget;
    let (usage, cost) = ctx.state(|s| (s.progress.usage, s.progress.cost_micro_usd));
    if state.step >= budget.max_steps {
        return Some(Ending::BudgetExhausted(format!(
            "the run used its {} model calls",
            budget.max_steps
        )));
    }
    if let Some(max) = budget.max_tokens
        && usage.total() >= max
    {
        return Some(Ending::BudgetExhausted(format!(
            "the run used {} of its {max} tokens",
            usage.total()
        )));
    }
    if let Some(max) = budget.max_cost_micro_usd
        && cost >= max
    {
        return Some(Ending::BudgetExhausted(format!(
            "the run cost ${:.6} of its ${:.6}",
            cost as f64 / 1e6,
            max as f64 / 1e6
        )));
    }
    if let Some(max) = budget.max_duration_s {
        let elapsed_s = workflow_ms(ctx).saturating_sub(state.started_at_ms) / 1000;
        if elapsed_s >= max {
            return Some(Ending::BudgetExhausted(format!(
                "the run ran {elapsed_s} s of its {max} s"
            )));
        }
    }
    None
}

fn llm_options(input: &RunInput, step: u32) -> ActivityOptions {
    let tuning = &input.tuning;
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(tuning.llm_timeout_s))
        .heartbeat_timeout(Duration::from_secs(tuning.llm_heartbeat_s))
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(60))
                .maximum_attempts(tuning.llm_max_attempts)
                .build(),
        )
        .summary(format!("step {step}: {}", input.agent.model))
        .build()
}

/// Records an event (and a status) through the local `record_event` activity.
async fn record(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    status: Option<RunStatus>,
    step: u32,
    kind: &str,
    dedupe_key: String,
    data: serde_json::Value,
) -> Result<(), Ending> {
    let recorded = ctx
        .execute_local_activity(
            RecordEvent,
            EventRequest {
                run: input.run.clone(),
                status,
                step,
                kind: kind.to_string(),
                dedupe_key,
                data,
            },
            store_local_options(input.tuning.store_timeout_s),
        )
        .await;
    if let Err(err) = recorded {
        return Err(ending_for(&err));
    }
    if let Some(status) = status {
        set_status(ctx, status);
    }
    Ok(())
}

/// Hands human messages that arrived to the next model turn, recording each.
async fn take_human_messages(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    state: &mut Loop,
) -> Result<(), Ending> {
    let messages = ctx.state_mut(|s| std::mem::take(&mut s.inbox));
    for (index, text) in messages.into_iter().enumerate() {
        let key = format!("seq-{}/input.received/{index}", state.next_seq);
        record(
            ctx,
            input,
            Some(RunStatus::Running),
            state.step,
            "input.received",
            key,
            serde_json::json!({ "text": text }),
        )
        .await?;
        state.pending.push(Message::user_text(text));
    }
    Ok(())
}

/// After a turn without tool calls: finish, or wait for a human answer to a question.
async fn end_of_turn(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    response: &LlmResponse,
    text: &str,
    step: u32,
) -> TurnEnd {
    match response.stop_reason {
        StopReason::Refusal => {
            return TurnEnd::Finish(Ending::Failed(RunFailure {
                code: "model_refused".into(),
                message: "the model refused to continue".into(),
            }));
        }
        StopReason::MaxTokens if text.is_empty() => {
            return TurnEnd::Finish(Ending::Failed(RunFailure {
                code: "max_tokens".into(),
                message: "the model reached its output limit before answering".into(),
            }));
        }
        _ => {}
    }
    let waits_for_answer = input.agent.await_input && text.trim_end().ends_with('?');
    let has_input = ctx.state(|s| !s.inbox.is_empty());
    if !waits_for_answer && !has_input {
        return TurnEnd::Finish(Ending::Succeeded(text.to_string()));
    }
    if !has_input {
        if let Err(ending) = record(
            ctx,
            input,
            Some(RunStatus::WaitingInput),
            step,
            "input.requested",
            format!("step-{step}/input.requested"),
            serde_json::json!({ "step": step, "question": text }),
        )
        .await
        {
            return TurnEnd::Finish(ending);
        }
        let timeout = Duration::from_secs(input.tuning.input_timeout_s);
        match wait_until(ctx, timeout, |s| {
            !s.inbox.is_empty() || s.complete_requested
        })
        .await
        {
            Waited::Cancelled => return TurnEnd::Finish(Ending::Cancelled),
            // No answer in time: the run ends with the answer it has.
            Waited::TimedOut => return TurnEnd::Finish(Ending::Succeeded(text.to_string())),
            Waited::Done => {}
        }
    }
    if ctx.state(|s| s.complete_requested && s.inbox.is_empty()) {
        return TurnEnd::Finish(Ending::Succeeded(text.to_string()));
    }
    TurnEnd::Continue
}

/// Pauses a run over its workspace's hard cap until a `resume` signal (a raised limit, a
/// changed tier) or the periodic recheck; the caller then tries the step again.
async fn pause_for_quota(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    state: &mut Loop,
    pause: &crate::payloads::QuotaPause,
) -> Result<(), Ending> {
    state.pauses += 1;
    let n = state.pauses;
    record(
        ctx,
        input,
        Some(RunStatus::PausedQuota),
        state.step,
        "quota.paused",
        format!("quota.paused/{n}"),
        serde_json::json!({ "metric": pause.metric, "used": pause.used, "cap": pause.cap }),
    )
    .await?;
    ctx.state_mut(|s| s.resume_requested = false);
    let recheck = Duration::from_secs(input.tuning.quota_recheck_s);
    if let Waited::Cancelled = wait_until(ctx, recheck, |s| s.resume_requested).await {
        return Err(Ending::Cancelled);
    }
    ctx.state_mut(|s| s.resume_requested = false);
    record(
        ctx,
        input,
        Some(RunStatus::Running),
        state.step,
        "quota.resumed",
        format!("quota.resumed/{n}"),
        serde_json::json!({}),
    )
    .await
}

/// One tool call: approval first when the tool is gated, then the call itself. A tool that
/// fails (after its retries) becomes an error result the model can work around; only
/// cancellation ends the run here.
#[allow(clippy::too_many_arguments)]
async fn call_tool(
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
    let request = ToolRequest {
        run: input.run.clone(),
        execution: execution.clone(),
        step,
        call_index: index,
        call_id: call_id.to_string(),
        tool: spec.clone(),
        input: tool_input,
        heartbeat_s: 0,
    };
    let tuning = &input.tuning;
    let attempts = if spec.kind == ToolKind::Builtin && RETRYABLE_TOOLS.contains(&tool) {
        3
    } else {
        // Calls with effects in the world run at most once.
        1
    };
    let result = if spec.kind == ToolKind::Builtin && LOCAL_TOOLS.contains(&tool) {
        ctx.execute_local_activity(
            RunTool,
            request,
            LocalActivityOptions::builder()
                .start_to_close_timeout(Duration::from_secs(tuning.tool_timeout_s))
                .retry_policy(RetryPolicy::builder().maximum_attempts(attempts).build())
                .summary(tool.to_string())
                // Reconciliation reads the step and call of each tool call from history;
                // a local activity's marker holds its input only when asked to.
                .include_arguments_in_marker(true)
                .build(),
        )
        .await
    } else {
        ctx.execute_activity(
            RunTool,
            ToolRequest {
                heartbeat_s: tuning.tool_heartbeat_s,
                ..request
            },
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
                tuning.tool_timeout_s,
            ))
            .heartbeat_timeout(Duration::from_secs(tuning.tool_heartbeat_s))
            .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
            .retry_policy(RetryPolicy::builder().maximum_attempts(attempts).build())
            .summary(tool.to_string())
            .build(),
        )
        .await
    };
    match result {
        Ok(outcome) => Ok(outcome),
        Err(err) if err.as_cancelled().is_some() => Err(Ending::Cancelled),
        Err(err) => Ok(ToolOutcome {
            content: format!("the tool failed: {}", failure_of(&err).message),
            is_error: true,
        }),
    }
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
    record(
        ctx,
        input,
        Some(RunStatus::WaitingApproval),
        step,
        "approval.requested",
        format!("step-{step}/approval.requested/{call_id}"),
        serde_json::json!({ "step": step, "tool_call_id": call_id, "tool": spec.name, "input": tool_input }),
    )
    .await?;
    let id = call_id.to_string();
    let timeout = Duration::from_secs(input.tuning.approval_timeout_s);
    let waited = wait_until(ctx, timeout, move |s| {
        matches!(s.approvals.get(&id), Some(Some(_)))
    })
    .await;
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
        "approval.decided",
        format!("step-{step}/approval.decided/{call_id}"),
        serde_json::json!({
            "step": step, "tool_call_id": call_id, "approve": decision.approve,
            "reason": decision.reason, "by": by,
        }),
    )
    .await?;
    Ok(decision)
}

enum Waited {
    Done,
    TimedOut,
    Cancelled,
}

/// Waits until `condition` holds, the timeout passes, or the run is cancelled. The timer is
/// cancelled when it did not fire, so it does not linger in the history.
async fn wait_until(
    ctx: &WorkflowContext<AgentRunWorkflow>,
    timeout: Duration,
    condition: impl FnMut(&AgentRunWorkflow) -> bool + Unpin,
) -> Waited {
    let mut timer = ctx.timer(timeout);
    let mut condition = ctx.wait_condition(condition);
    let waited = temporalio_workflow::select! {
        done = condition => if done.is_ok() { Waited::Done } else { Waited::Cancelled },
        _ = timer => Waited::TimedOut,
    };
    if !matches!(waited, Waited::TimedOut) {
        timer.cancel();
    }
    waited
}

/// Records the run's end through `finish_run` (and its webhook), then closes the workflow the
/// way Temporal should show it: completed, failed, or cancelled.
async fn finish(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    execution: &ExecutionRef,
    ending: Ending,
    steps: u32,
) -> WorkflowResult<RunOutcome> {
    let (usage, cost_micro_usd) = ctx.state(|s| (s.progress.usage, s.progress.cost_micro_usd));
    let (status, result, error) = match ending {
        Ending::Succeeded(text) => (RunStatus::Succeeded, Some(text), None),
        Ending::Failed(failure) => (RunStatus::Failed, None, Some(failure)),
        Ending::BudgetExhausted(message) => (
            RunStatus::BudgetExhausted,
            None,
            Some(RunFailure {
                code: "budget_exhausted".into(),
                message,
            }),
        ),
        Ending::Cancelled => (
            RunStatus::Cancelled,
            None,
            Some(RunFailure {
                code: "cancelled".into(),
                message: "the run was cancelled".into(),
            }),
        ),
    };
    let outcome = RunOutcome {
        status,
        result,
        error,
        steps,
        usage,
        cost_micro_usd,
    };
    // The run may be ending because it was cancelled: the bookkeeping must still happen, so it
    // gets a token of its own instead of inheriting the workflow's.
    let detached = WorkflowCancellationToken::new();
    let recorded = ctx
        .execute_activity(
            FinishRun,
            FinishRunRequest {
                run: input.run.clone(),
                execution: execution.clone(),
                outcome: outcome.clone(),
            },
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
                input.tuning.store_timeout_s,
            ))
            .cancellation_token(detached.clone())
            .summary(format!("finish: {}", status.as_str()))
            .build(),
        )
        .await;
    set_status(ctx, status);
    if let Err(err) = recorded {
        // The store is unreachable for longer than the retry policy allows. Failing the workflow
        // leaves the run row to the sweep that repairs rows of closed workflows.
        return Err(WorkflowTermination::from(err));
    }
    if let Some(url) = &input.webhook_url {
        ctx.set_current_details(format!(
            "{} · delivering the completion webhook",
            status.as_str()
        ));
        let delivered = ctx
            .execute_activity(
                DeliverWebhook,
                WebhookRequest {
                    run: input.run.clone(),
                    url: url.clone(),
                },
                ActivityOptions::with_close_timeouts(
                    ActivityCloseTimeouts::ScheduleAndStartToClose {
                        schedule_to_close: Duration::from_secs(input.tuning.webhook_retry_s),
                        start_to_close: Duration::from_secs(30),
                    },
                )
                .cancellation_token(detached)
                .retry_policy(
                    RetryPolicy::builder()
                        .initial_interval(Duration::from_secs(1))
                        .maximum_interval(Duration::from_secs(3600))
                        .build(),
                )
                .summary("completion webhook".to_string())
                .build(),
            )
            .await;
        if delivered.is_err() {
            // The run itself is done and recorded; an endpoint down for the whole retry window
            // does not change its outcome.
            ctx.set_current_details(format!(
                "{} · the completion webhook was not delivered",
                status.as_str()
            ));
        }
    }
    match status {
        RunStatus::Succeeded | RunStatus::BudgetExhausted => Ok(outcome),
        RunStatus::Cancelled => Err(WorkflowTermination::cancelled()),
        _ => {
            let failure = outcome.error.unwrap_or(RunFailure {
                code: "failed".into(),
                message: "the run failed".into(),
            });
            Err(ApplicationFailure::builder(failure.message.clone())
                .type_name(failure.code)
                .non_retryable(true)
                .build()
                .into())
        }
    }
}

fn store_local_options(timeout_s: u64) -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(timeout_s))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_millis(200))
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(20)
                .build(),
        )
        .build()
}

fn ending_for(err: &ActivityExecutionError) -> Ending {
    if err.as_cancelled().is_some() {
        return Ending::Cancelled;
    }
    Ending::Failed(failure_of(err))
}

/// The stable code and message of an activity failure. Activities name their failure classes
/// with the application failure's type (`provider_rejected`, …); the message of the outer
/// activity failure is generic, the real one is in the cause.
fn failure_of(err: &ActivityExecutionError) -> RunFailure {
    if err.as_timeout().is_some() {
        return RunFailure {
            code: "activity_timeout".into(),
            message: "a step did not finish in time, and its retries ran out".into(),
        };
    }
    match err.cause() {
        Some(IncomingError::Application(app)) => RunFailure {
            code: app
                .type_name()
                .filter(|t| !t.is_empty())
                .unwrap_or("activity_failed")
                .to_string(),
            message: app
                .failure()
                .map(|f| f.message.clone())
                .unwrap_or_else(|| app.to_string()),
        },
        Some(other) => RunFailure {
            code: "activity_failed".into(),
            message: other.failure().message.clone(),
        },
        None => RunFailure {
            code: "activity_failed".into(),
            message: err.to_string(),
        },
    }
}

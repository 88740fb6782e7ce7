//! The steps of the run's loop besides the model turn: the budget, continue-as-new, events
//! and statuses, human input, the end of a turn, the quota pause, and waits.

use std::time::Duration;

use temporalio_workflow::{
    ActivityCancellationType, ActivityCloseTimeouts, ActivityOptions, CancellableFuture,
    WorkflowContext,
};

use super::ending::{Ending, ending_for, store_local_options};
use super::{AgentRunWorkflow, Loop};
use crate::contracts::RecordEvent;
use crate::payloads::{
    EventKind, EventRequest, LlmResponse, Message, RunFailure, RunInput, RunStatus, StopReason,
    WorkflowShape,
};
use crate::search;

pub(super) enum TurnEnd {
    Continue,
    Finish(Ending),
}

pub(super) fn workflow_ms(ctx: &WorkflowContext<AgentRunWorkflow>) -> u64 {
    ctx.workflow_time()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

pub(super) fn details(ctx: &WorkflowContext<AgentRunWorkflow>, step: u32) -> String {
    let (usage, cost) = ctx.state(|s| (s.progress.usage, s.progress.cost_micro_usd));
    format!(
        "step {step} · {} tokens · ${:.4}",
        usage.total(),
        cost as f64 / 1_000_000.0
    )
}

pub(super) fn set_status(ctx: &mut WorkflowContext<AgentRunWorkflow>, status: RunStatus) {
    ctx.state_mut(|s| s.progress.status = status);
    ctx.upsert_search_attributes([search::STATUS.value_set(status.as_str().to_string())]);
}

pub(super) fn should_continue_as_new(
    ctx: &WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    state: &Loop,
) -> bool {
    let every = input.tuning.continue_as_new_every;
    let paced = every > 0 && state.step - state.first_step >= every;
    (paced || ctx.continue_as_new_suggested()) && state.step > state.first_step
}

pub(super) fn budget_exhausted(
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

/// How long the run may take: its budget's longest duration (the tier's longest run bounds
/// it at admission).
pub(super) fn run_time(input: &RunInput) -> Duration {
    Duration::from_secs(input.budget.max_duration_s.unwrap_or(7 * 24 * 3600))
}

/// The time left before the run's deadline.
pub(super) fn remaining(ctx: &WorkflowContext<AgentRunWorkflow>) -> Duration {
    let deadline = ctx.state(|s| s.deadline_ms);
    Duration::from_millis(deadline.saturating_sub(workflow_ms(ctx)))
}

/// A model turn's options. Since [`WorkflowShape::OutagesWaited`] a turn is tried again
/// until the run's deadline (`remaining`): the activity itself gives up on a provider outage
/// that outlasts the agent's tolerance, and on a provider's refusal.
pub(super) fn llm_options(input: &RunInput, step: u32, remaining: Duration) -> ActivityOptions {
    let tuning = &input.tuning;
    let start_to_close = Duration::from_secs(tuning.llm_timeout_s);
    let (timeouts, retry_cap) = if WorkflowShape::of(input) < WorkflowShape::OutagesWaited {
        (
            ActivityCloseTimeouts::StartToClose(start_to_close),
            Duration::from_secs(60),
        )
    } else {
        (
            ActivityCloseTimeouts::ScheduleAndStartToClose {
                schedule_to_close: remaining.max(start_to_close),
                start_to_close,
            },
            Duration::from_secs(tuning.retry_cap_s.max(1)),
        )
    };
    ActivityOptions::with_close_timeouts(timeouts)
        .heartbeat_timeout(Duration::from_secs(tuning.llm_heartbeat_s))
        .cancellation_type(ActivityCancellationType::WaitCancellationCompleted)
        .retry_policy(
            // Since `OutagesWaited`, 0 by default: no count; the deadline and the provider
            // tolerance bound the tries.
            crate::retry::backoff(Duration::from_secs(1), retry_cap, tuning.llm_max_attempts),
        )
        .summary(format!("step {step}: {}", input.agent.model))
        .build()
}

/// Records an event (and a status) through the local `record_event` activity.
pub(super) async fn record(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    status: Option<RunStatus>,
    step: u32,
    kind: EventKind,
    dedupe_key: String,
    data: serde_json::Value,
) -> Result<(), Ending> {
    let request = EventRequest {
        run: input.run.clone(),
        status,
        step,
        kind,
        dedupe_key,
        data,
    };
    let recorded = ctx
        .execute_local_activity(
            RecordEvent,
            request.clone(),
            store_local_options(input, remaining(ctx)),
        )
        .await;
    if let Err(err) = recorded {
        return Err(ending_for(input, &err));
    }
    super::notify::on_event(ctx, input, kind, &request.dedupe_key, &request.data);
    if let Some(status) = status {
        set_status(ctx, status);
    }
    Ok(())
}

/// Hands human messages that arrived to the next model turn, recording each.
pub(super) async fn take_human_messages(
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
            EventKind::InputReceived,
            key,
            serde_json::json!({ "text": text }),
        )
        .await?;
        state.pending.push(Message::user_text(text));
    }
    Ok(())
}

/// After a turn without tool calls: finish, or wait for a human answer to a question.
pub(super) async fn end_of_turn(
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
            EventKind::InputRequested,
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
pub(super) async fn pause_for_quota(
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
        EventKind::QuotaPaused,
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
        EventKind::QuotaResumed,
        format!("quota.resumed/{n}"),
        serde_json::json!({}),
    )
    .await
}

pub(super) enum Waited {
    Done,
    TimedOut,
    Cancelled,
}

/// Waits until `condition` holds, the timeout passes, or the run is cancelled. The timer is
/// cancelled when it did not fire, so it does not linger in the history.
pub(super) async fn wait_until(
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

//! How a run ends: the [`Ending`] the loop returns, recorded once by [`finish`] (the run row,
//! `run.completed`, the completion webhook) before the workflow closes as Temporal should
//! show it.

use std::time::Duration;

use temporalio_workflow::common::error::{ApplicationFailure, IncomingError, TimeoutType};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, LocalActivityOptions, WorkflowCancellationToken,
    WorkflowContext, WorkflowResult, WorkflowTermination,
};

use super::AgentRunWorkflow;
use super::steps::set_status;
use crate::contracts::{DeliverWebhook, FinishRun};
use crate::payloads::{
    EventKind, ExecutionRef, FinishRunRequest, RunFailure, RunInput, RunOutcome, RunStatus,
    WebhookRequest, WorkflowShape,
};

pub(super) enum Ending {
    Succeeded(String),
    /// A structured answer, valid for the run's `output_schema`.
    Structured(serde_json::Value),
    Failed(RunFailure),
    BudgetExhausted(String),
    /// The run's deadline passed while a step waited (an outage outlasted it).
    TimedOut,
    Cancelled,
}

/// Records the run's end through `finish_run` (and its webhook), then closes the workflow the
/// way Temporal should show it: completed, failed, or cancelled.
pub(super) async fn finish(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    execution: &ExecutionRef,
    ending: Ending,
    steps: u32,
) -> WorkflowResult<RunOutcome> {
    let (usage, cost_micro_usd) = ctx.state(|s| (s.progress.usage, s.progress.cost_micro_usd));
    let mut result_json = None;
    let (status, result, error) = match ending {
        Ending::Succeeded(text) => (RunStatus::Succeeded, Some(text), None),
        Ending::Structured(value) => {
            let text = value.to_string();
            result_json = Some(value);
            (RunStatus::Succeeded, Some(text), None)
        }
        Ending::Failed(failure) => (RunStatus::Failed, None, Some(failure)),
        Ending::BudgetExhausted(message) => (
            RunStatus::BudgetExhausted,
            None,
            Some(RunFailure {
                code: "budget_exhausted".into(),
                message,
            }),
        ),
        Ending::TimedOut => (
            RunStatus::TimedOut,
            None,
            Some(RunFailure {
                code: "timed_out".into(),
                message: "the run's deadline passed while a step was waiting for a dependency"
                    .into(),
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
        result_json,
    };
    // The run may be ending because it was cancelled: the bookkeeping must still happen, so it
    // gets a token of its own instead of inheriting the workflow's.
    let detached = WorkflowCancellationToken::new();
    let request = FinishRunRequest {
        run: input.run.clone(),
        execution: execution.clone(),
        outcome: outcome.clone(),
    };
    let summary = format!("finish: {}", status.as_str());
    let recorded = match WorkflowShape::of(input) {
        WorkflowShape::First => {
            ctx.execute_activity(
                FinishRun,
                request,
                ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
                    input.tuning.store_timeout_s,
                ))
                .cancellation_token(detached.clone())
                .summary(summary)
                .build(),
            )
            .await
        }
        // One transaction: a local activity (a marker in history, no task of its own), retried
        // for as long as the store may take to come back.
        WorkflowShape::OneTransactionPerStep
        | WorkflowShape::OutagesWaited
        | WorkflowShape::AgentTools => {
            ctx.execute_local_activity(
                FinishRun,
                request,
                LocalActivityOptions::builder()
                    .start_to_close_timeout(Duration::from_secs(input.tuning.store_timeout_s))
                    .schedule_to_close_timeout(FINISH_RETRY)
                    .retry_policy(crate::retry::backoff(
                        Duration::from_millis(200),
                        Duration::from_secs(60),
                        0,
                    ))
                    .cancellation_token(detached.clone())
                    .summary(summary)
                    .build(),
            )
            .await
        }
    };
    set_status(ctx, status);
    if let Err(err) = recorded {
        // The store is unreachable for longer than the retry policy allows. Failing the workflow
        // leaves the run row to the sweep that repairs rows of closed workflows.
        return Err(WorkflowTermination::from(err));
    }
    if let Some(url) = super::notify::url_for(input, EventKind::RunCompleted) {
        ctx.set_current_details(format!(
            "{} · delivering the completion webhook",
            status.as_str()
        ));
        let delivered = ctx
            .execute_activity(
                DeliverWebhook,
                WebhookRequest {
                    run: input.run.clone(),
                    url: url.to_string(),
                    event: None,
                },
                super::notify::delivery_options(input, detached, "completion webhook".to_string()),
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

/// The options of the local activities that write a run's state (its start, its events).
/// Since [`WorkflowShape::OutagesWaited`] they retry until the run's deadline (`remaining`
/// from now), so a store outage delays the run instead of failing it.
pub(super) fn store_local_options(input: &RunInput, remaining: Duration) -> LocalActivityOptions {
    let timeout = Duration::from_secs(input.tuning.store_timeout_s);
    if WorkflowShape::of(input) < WorkflowShape::OutagesWaited {
        return LocalActivityOptions::builder()
            .start_to_close_timeout(timeout)
            .retry_policy(crate::retry::backoff(
                Duration::from_millis(200),
                Duration::from_secs(10),
                20,
            ))
            .build();
    }
    LocalActivityOptions::builder()
        .start_to_close_timeout(timeout)
        .schedule_to_close_timeout(remaining.max(timeout))
        .retry_policy(crate::retry::backoff(
            Duration::from_millis(200),
            Duration::from_secs(input.tuning.retry_cap_s.max(1)),
            0,
        ))
        .build()
}

/// How long a run's end is retried while the store is unreachable.
const FINISH_RETRY: Duration = Duration::from_secs(7 * 24 * 3600);

pub(super) fn ending_for(input: &RunInput, err: &ActivityExecutionError) -> Ending {
    if err.as_cancelled().is_some() {
        return Ending::Cancelled;
    }
    // The step was retried until the run's deadline (its schedule-to-close timeout).
    if WorkflowShape::of(input) >= WorkflowShape::OutagesWaited
        && err
            .as_timeout()
            .is_some_and(|t| t.timeout_type() == TimeoutType::ScheduleToClose)
    {
        return Ending::TimedOut;
    }
    let failure = failure_of(err);
    // The activity heard of the cancellation before Temporal told it (see the activities'
    // `cancel` module): the run is cancelled, not failed.
    if failure.code == CANCELLED_BY_NOTICE {
        return Ending::Cancelled;
    }
    Ending::Failed(failure)
}

/// The failure type of an activity stopped because its run was cancelled.
pub(super) const CANCELLED_BY_NOTICE: &str = "run_cancelled";

/// The stable code and message of an activity failure. Activities name their failure classes
/// with the application failure's type (`provider_rejected`, …); the message of the outer
/// activity failure is generic, the real one is in the cause.
pub(super) fn failure_of(err: &ActivityExecutionError) -> RunFailure {
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

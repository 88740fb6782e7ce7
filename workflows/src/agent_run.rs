//! `AgentRunWorkflow`: one agent run, durably. The loop is: check the budget, one model turn
//! (an activity that also meters and records its event), then each requested tool call (pure
//! built-ins as local activities, the rest as activities), until the model ends its turn, the
//! budget runs out, a step fails for good, or the run is cancelled. Whatever the ending, the
//! `finish_run` activity records it before the workflow closes.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::common::error::{ApplicationFailure, IncomingError};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, LocalActivityOptions, RetryPolicy,
    WorkflowCancellationToken, WorkflowContext, WorkflowContextView, WorkflowResult,
    WorkflowTermination,
};

use crate::contracts::{FinishRun, LlmCall, RunTool, StartRun};
use crate::payloads::{
    ContentBlock, ExecutionRef, FinishRunRequest, LlmRequest, Message, Role, RunFailure, RunInput,
    RunOutcome, RunProgress, RunStatus, StartRunRequest, StopReason, TokenUsage, ToolOutcome,
    ToolRequest,
};
use crate::search;

/// Built-in tools that are pure and fast: they run as local activities, which skip the
/// server round trip a regular activity costs.
const LOCAL_TOOLS: &[&str] = &["calculator"];

#[workflow]
#[derive(Default)]
pub struct AgentRunWorkflow {
    progress: RunProgress,
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
        let tuning = input.tuning.clone();

        let started = ctx
            .execute_local_activity(
                StartRun,
                StartRunRequest {
                    run: input.run.clone(),
                    execution: execution.clone(),
                    input: input.input.clone(),
                },
                store_local_options(tuning.store_timeout_s),
            )
            .await;
        if let Err(err) = started {
            let failure = failure_of(&err);
            return finish(ctx, &input, &execution, Ending::Failed(failure), 0).await;
        }
        set_status(ctx, RunStatus::Running);

        let mut messages = vec![Message::user_text(input.input.clone())];
        let mut step: u32 = 0;
        loop {
            if step >= input.budget.max_steps {
                let ending = Ending::BudgetExhausted(format!(
                    "the run used its {} model calls",
                    input.budget.max_steps
                ));
                return finish(ctx, &input, &execution, ending, step).await;
            }
            step += 1;
            ctx.state_mut(|s| s.progress.step = step);

            let turn = ctx
                .execute_activity(
                    LlmCall,
                    LlmRequest {
                        run: input.run.clone(),
                        execution: execution.clone(),
                        step,
                        model: input.agent.model.clone(),
                        system: input.agent.system_prompt.clone(),
                        messages: messages.clone(),
                        tools: input.agent.tools.clone(),
                    },
                    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
                        tuning.llm_timeout_s,
                    ))
                    .retry_policy(
                        RetryPolicy::builder()
                            .initial_interval(Duration::from_secs(1))
                            .maximum_interval(Duration::from_secs(60))
                            .maximum_attempts(tuning.llm_max_attempts)
                            .build(),
                    )
                    .summary(format!("step {step}: {}", input.agent.model))
                    .build(),
                )
                .await;
            let response = match turn {
                Ok(response) => response,
                Err(err) => {
                    let ending = ending_for(&err);
                    return finish(ctx, &input, &execution, ending, step).await;
                }
            };
            ctx.state_mut(|s| s.progress.usage.add(&response.usage));
            let calls: Vec<(String, String, serde_json::Value)> = response
                .tool_calls()
                .map(|(id, name, input)| (id.to_string(), name.to_string(), input.clone()))
                .collect();
            let answer = Message {
                role: Role::Assistant,
                content: response.content.clone(),
            };
            let final_text = answer.text();
            messages.push(answer);

            if calls.is_empty() || response.stop_reason != StopReason::ToolUse {
                let ending = match response.stop_reason {
                    StopReason::Refusal => Ending::Failed(RunFailure {
                        code: "model_refused".into(),
                        message: "the model refused to continue".into(),
                    }),
                    _ => Ending::Succeeded(final_text),
                };
                return finish(ctx, &input, &execution, ending, step).await;
            }

            let mut results = Vec::with_capacity(calls.len());
            for (index, (call_id, tool, tool_input)) in calls.into_iter().enumerate() {
                let outcome = if !input.agent.tools.iter().any(|t| t.name == tool) {
                    ToolOutcome {
                        content: format!(
                            "unknown tool {tool:?}: it is not declared for this agent"
                        ),
                        is_error: true,
                    }
                } else {
                    let request = ToolRequest {
                        run: input.run.clone(),
                        execution: execution.clone(),
                        step,
                        call_index: index as u32,
                        call_id: call_id.clone(),
                        tool: tool.clone(),
                        input: tool_input,
                    };
                    let result = if LOCAL_TOOLS.contains(&tool.as_str()) {
                        ctx.execute_local_activity(
                            RunTool,
                            request,
                            LocalActivityOptions::builder()
                                .start_to_close_timeout(Duration::from_secs(tuning.tool_timeout_s))
                                .retry_policy(RetryPolicy::builder().maximum_attempts(3).build())
                                .summary(tool.clone())
                                .build(),
                        )
                        .await
                    } else {
                        ctx.execute_activity(
                            RunTool,
                            request,
                            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(
                                tuning.tool_timeout_s,
                            ))
                            .retry_policy(RetryPolicy::builder().maximum_attempts(3).build())
                            .summary(tool.clone())
                            .build(),
                        )
                        .await
                    };
                    match result {
                        Ok(outcome) => outcome,
                        Err(err) if err.as_cancelled().is_some() => {
                            return finish(ctx, &input, &execution, Ending::Cancelled, step).await;
                        }
                        // A tool that keeps failing is the model's problem to work around,
                        // not the end of the run.
                        Err(err) => ToolOutcome {
                            content: format!("tool failed: {}", failure_of(&err).message),
                            is_error: true,
                        },
                    }
                };
                results.push(ContentBlock::ToolResult {
                    tool_use_id: call_id,
                    content: outcome.content,
                    is_error: outcome.is_error,
                });
            }
            messages.push(Message {
                role: Role::User,
                content: results,
            });
            let usage = ctx.state(|s| s.progress.usage);
            ctx.set_current_details(format!("step {step} · {} tokens", usage.total()));
        }
    }

    /// Status, step and usage so far, for `GET /v1/runs/{id}` while the run is live.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> RunProgress {
        self.progress.clone()
    }
}

enum Ending {
    Succeeded(String),
    Failed(RunFailure),
    BudgetExhausted(String),
    Cancelled,
}

fn set_status(ctx: &mut WorkflowContext<AgentRunWorkflow>, status: RunStatus) {
    ctx.state_mut(|s| s.progress.status = status);
    ctx.upsert_search_attributes([search::STATUS.value_set(status.as_str().to_string())]);
}

/// Records the run's end through `finish_run`, then closes the workflow the way Temporal
/// should show it: completed, failed, or cancelled.
async fn finish(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    execution: &ExecutionRef,
    ending: Ending,
    steps: u32,
) -> WorkflowResult<RunOutcome> {
    let usage: TokenUsage = ctx.state(|s| s.progress.usage);
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
    };
    // The run may be ending because it was cancelled: the bookkeeping must still happen, so it
    // gets a token of its own instead of inheriting the workflow's.
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
            .cancellation_token(WorkflowCancellationToken::new())
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

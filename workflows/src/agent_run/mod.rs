//! `AgentRunWorkflow`: one agent run, durably.
//!
//! The loop: check the budget, one model turn (an activity that stores the conversation,
//! meters, and records its event), then each requested tool call (after a human approves it,
//! when the tool is gated), until the model ends its turn, the budget runs out, a step fails
//! for good, or the run is cancelled. A model that ends with a question, on an agent that
//! allows it, waits for human input. The loop ([`drive`]) ends in an [`Ending`], which one
//! function ([`ending::finish`]) records through `finish_run` before the workflow closes. Long runs continue as new executions; the conversation stays in the store,
//! so histories stay small.

use std::collections::BTreeMap;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::contracts::{LlmCall, StartRun};
use crate::payloads::{
    ApprovalDecision, ClientToolResult, ContentBlock, ExecutionRef, HumanMessage, LlmRequest,
    Message, RepeatedCall, ResumeState, Role, RunInput, RunOutcome, RunProgress, RunStatus,
    StartRunRequest, StopReason, WorkflowShape,
};

mod ending;
mod notify;
mod output;
mod steps;
mod tools;

use ending::{Ending, ending_for, finish, store_local_options};
use output::{OutputTurn, Repeat, check_repeat, structured_turn};
use steps::{
    TurnEnd, budget_exhausted, details, end_of_turn, llm_options, pause_for_quota, remaining,
    run_time, set_status, should_continue_as_new, take_human_messages, workflow_ms,
};
use tools::call_tool;

#[workflow]
#[derive(Default)]
pub struct AgentRunWorkflow {
    progress: RunProgress,
    /// Gated tool calls by id: `None` while undecided.
    approvals: BTreeMap<String, Option<ApprovalDecision>>,
    /// Client-executed tool calls by id: `None` while the client has not answered.
    client_calls: BTreeMap<String, Option<ClientToolResult>>,
    /// Human messages not yet handed to the model.
    inbox: Vec<String>,
    /// Ids of the messages received (this execution), so a repeated delivery is dropped.
    message_ids: std::collections::BTreeSet<String>,
    complete_requested: bool,
    /// A `resume` signal arrived while paused at the quota's hard cap.
    resume_requested: bool,
    /// When the run's time is up (workflow time, epoch ms): steps retry until then.
    deadline_ms: u64,
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
    /// The last tool call and how many times in a row it was made.
    repeated: Option<RepeatedCall>,
    /// The corrective turn for an invalid structured answer was used.
    output_corrected: bool,
}

impl Loop {
    /// A new run's loop: its input the first message, numbered from `next_seq`.
    fn start(input: &RunInput, next_seq: u32, started_at_ms: u64) -> Self {
        Self {
            step: 0,
            next_seq,
            pending: vec![Message::user_text(input.input.clone())],
            started_at_ms,
            last_text: String::new(),
            first_step: 0,
            pauses: 0,
            repeated: None,
            output_corrected: false,
        }
    }
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
        let (ending, steps) = drive(ctx, &input, &execution).await?;
        finish(ctx, &input, &execution, ending, steps).await
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
        waiting(
            &self.approvals,
            &decision.tool_call_id,
            "waiting for approval",
            "decided",
        )
    }

    #[update_validator(tool_result)]
    fn validate_tool_result(
        &self,
        _ctx: &WorkflowContextView,
        result: &ClientToolResult,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        waiting(
            &self.client_calls,
            &result.tool_call_id,
            "waiting for a client's result",
            "answered",
        )
    }

    /// A client's result for a client-executed tool call.
    #[update]
    pub fn tool_result(&mut self, _ctx: &mut SyncWorkflowContext<Self>, result: ClientToolResult) {
        self.client_calls
            .insert(result.tool_call_id.clone(), Some(result));
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

/// An update's validator: refuses an answer for a call that does not wait for one (unknown, or
/// answered already, by a person, a client or the timeout).
fn waiting<T>(
    calls: &BTreeMap<String, Option<T>>,
    call_id: &str,
    what: &str,
    done: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    match calls.get(call_id) {
        None => Err(format!("no tool call {call_id:?} is {what}").into()),
        Some(Some(_)) => Err(format!("tool call {call_id:?} was already {done}").into()),
        Some(None) => Ok(()),
    }
}

/// The run's loop. Every way out of it is an [`Ending`], with the steps taken, which
/// [`finish`] records; only continue-as-new leaves otherwise.
async fn drive(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    execution: &ExecutionRef,
) -> WorkflowResult<(Ending, u32)> {
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
                repeated: resume.repeated.clone(),
                output_corrected: resume.output_corrected,
            }
        }
        None if WorkflowShape::of(input) == WorkflowShape::First => {
            let started = ctx
                .execute_local_activity(
                    StartRun,
                    StartRunRequest {
                        run: input.run.clone(),
                        execution: execution.clone(),
                        input: input.input.clone(),
                    },
                    store_local_options(input, run_time(input)),
                )
                .await;
            if let Err(err) = started {
                return Ok((ending_for(input, &err), 0));
            }
            set_status(ctx, RunStatus::Running);
            Loop::start(input, 0, workflow_ms(ctx))
        }
        // Later shapes: the first model turn starts the run, and the workflow starts with its
        // status search attribute set.
        None => {
            ctx.state_mut(|s| s.progress.status = RunStatus::Running);
            // A continuation's conversation starts with the messages copied at admission.
            Loop::start(input, input.prior_messages, workflow_ms(ctx))
        }
    };
    if input.resume.is_some() {
        set_status(ctx, RunStatus::Running);
    }
    let deadline_ms = state.started_at_ms + run_time(input).as_millis() as u64;
    ctx.state_mut(|s| s.deadline_ms = deadline_ms);

    loop {
        if ctx.cancellation_token().is_cancelled() {
            return Ok((Ending::Cancelled, state.step));
        }
        if let Err(ending) = take_human_messages(ctx, input, &mut state).await {
            return Ok((ending, state.step));
        }
        if should_continue_as_new(ctx, input, &state) {
            let resume = ResumeState {
                step: state.step,
                next_seq: state.next_seq,
                usage: ctx.state(|s| s.progress.usage),
                cost_micro_usd: ctx.state(|s| s.progress.cost_micro_usd),
                started_at_ms: state.started_at_ms,
                pending: std::mem::take(&mut state.pending),
                last_text: std::mem::take(&mut state.last_text),
                repeated: state.repeated.take(),
                output_corrected: state.output_corrected,
            };
            let next = RunInput {
                resume: Some(resume),
                ..input.clone()
            };
            ctx.continue_as_new(next, ContinueAsNewOptions::default())?;
        }
        if let Some(ending) = budget_exhausted(ctx, input, &state) {
            return Ok((ending, state.step));
        }

        state.step += 1;
        let step = state.step;
        let agent_tools = WorkflowShape::of(input) >= WorkflowShape::AgentTools;
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
                    starts_run: step == 1
                        && input.resume.is_none()
                        && WorkflowShape::of(input) != WorkflowShape::First,
                    provider_outage_tolerance_s: (WorkflowShape::of(input)
                        >= WorkflowShape::OutagesWaited)
                        .then(|| {
                            input
                                .agent
                                .provider_outage_tolerance_s
                                .unwrap_or(input.tuning.provider_outage_tolerance_s)
                        }),
                    retry_cap_s: input.tuning.retry_cap_s,
                    output_schema: agent_tools
                        .then(|| input.agent.output_schema.clone())
                        .flatten(),
                },
                llm_options(input, step, remaining(ctx)),
            )
            .await;
        let response = match turn {
            Ok(response) => response,
            Err(err) => {
                return Ok((ending_for(input, &err), step));
            }
        };
        if let Some(pause) = &response.paused {
            // Over the hard cap: nothing was spent. Wait, then try this step again.
            state.step -= 1;
            ctx.state_mut(|s| s.progress.step = state.step);
            if let Err(ending) = pause_for_quota(ctx, input, &mut state, pause).await {
                return Ok((ending, state.step));
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
        if agent_tools && input.agent.output_schema.is_some() {
            match structured_turn(&response, &mut state.output_corrected) {
                OutputTurn::Answer(value) => return Ok((Ending::Structured(value), step)),
                OutputTurn::Correct(message) => {
                    state.pending.push(message);
                    continue;
                }
                OutputTurn::Invalid(failure) => return Ok((Ending::Failed(failure), step)),
                OutputTurn::NoAnswer => {}
            }
        }

        let calls: Vec<(String, String, serde_json::Value)> = response
            .tool_calls()
            .map(|(id, name, input)| (id.to_string(), name.to_string(), input.clone()))
            .collect();
        if !calls.is_empty() && response.stop_reason == StopReason::ToolUse {
            let mut results = Vec::with_capacity(calls.len());
            for (index, (call_id, tool, tool_input)) in calls.into_iter().enumerate() {
                if agent_tools {
                    match check_repeat(input, &mut state.repeated, &tool, &tool_input) {
                        Repeat::Run => {}
                        Repeat::Refuse(content) => {
                            results.push(ContentBlock::ToolResult {
                                tool_use_id: call_id,
                                content,
                                is_error: true,
                            });
                            continue;
                        }
                        Repeat::Stop(failure) => return Ok((Ending::Failed(failure), step)),
                    }
                }
                let outcome = match call_tool(
                    ctx,
                    input,
                    execution,
                    step,
                    index as u32,
                    &call_id,
                    &tool,
                    tool_input,
                )
                .await
                {
                    Ok(outcome) => outcome,
                    Err(ending) => return Ok((ending, step)),
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

        match end_of_turn(ctx, input, &response, &text, step).await {
            TurnEnd::Continue => continue,
            TurnEnd::Finish(ending) => {
                return Ok((ending, step));
            }
        }
    }
}

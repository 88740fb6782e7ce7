//! One tool call: `tool.started`, the tool run (heartbeating when it may take long, stopped
//! when its run is cancelled), its output capped, and one transaction with its ledger rows and
//! `tool.completed`. Built-in tools by the catalog; webhook tools
//! with the URL and secret stored with the agent now (never from workflow history), their
//! input checked against the tool's schema before it leaves; MCP tools through their server
//! as stored now (see `mcp`).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use longrun_domain::{BuiltinTool, EventKind};
use longrun_store::{StepEvent, StepWrite, now_ms};
use longrun_workflows::payloads::{ToolKind, ToolOutcome, ToolRequest};

use super::{AgentActivities, OwnedEvent, beat_every, carried, elapsed_ms, guarded};
use crate::tools;

/// A tool's outcome, produced but not yet written (the store was away): kept in the
/// heartbeat details, so the next attempt writes it instead of running the tool again.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct ToolCarry {
    step: u32,
    call_index: u32,
    outcome: ToolOutcome,
    agent_ms: i64,
}

/// An event of a tool call: the call (its step, id and tool) and `fields`.
fn call_event(request: &ToolRequest, kind: EventKind, key: String, fields: Value) -> OwnedEvent {
    let mut data = json!({
        "step": request.step,
        "tool_call_id": request.call_id,
        "tool": request.tool.name,
    });
    if let (Some(data), Value::Object(fields)) = (data.as_object_mut(), fields) {
        data.extend(fields);
    }
    OwnedEvent::new(kind, key, &data)
}

impl AgentActivities {
    pub(super) async fn tool_call(
        &self,
        ctx: &ActivityContext,
        request: &ToolRequest,
    ) -> Result<ToolOutcome, ActivityError> {
        let run = &request.run;
        let carried = carried::<ToolCarry>(ctx)
            .filter(|c| c.step == request.step && c.call_index == request.call_index);
        let unit = format!("step-{}/tool-{}", request.step, request.call_index);
        let started = call_event(
            request,
            EventKind::ToolStarted,
            format!("{unit}/started"),
            json!({ "input": request.input }),
        );
        let started = started.as_step();
        // A local call (a pure built-in, no heartbeat) takes milliseconds: its events are
        // written together when it is done. A regular one may take long: its start is
        // visible while it runs.
        let local = request.heartbeat_s == 0;
        if let Some(carry) = carried {
            // The tool ran in the previous attempt, and the store was away when it wrote.
            return self
                .write_tool(ctx, request, &unit, started, carry.outcome, carry.agent_ms)
                .await;
        }
        let retry_safe = match request.tool.kind {
            ToolKind::Builtin => {
                BuiltinTool::parse(&request.tool.name).is_some_and(BuiltinTool::retry_safe)
            }
            ToolKind::Webhook | ToolKind::Mcp | ToolKind::Client => false,
        };
        if !local && !retry_safe && ctx.info().attempt > 1 {
            // An earlier attempt may have acted (and then died): a tool with effects in the
            // world runs at most once.
            let outcome = ToolOutcome {
                content: "the tool's earlier attempt did not finish; a tool with effects is \
                          not run twice"
                    .into(),
                is_error: true,
            };
            return self
                .write_tool(ctx, request, &unit, started, outcome, 0)
                .await;
        }
        if !local {
            let write = StepWrite {
                events: std::slice::from_ref(&started),
                ..StepWrite::default()
            };
            self.write_step(run, &write, &[]).await?;
        }
        let began = Instant::now();
        let outcome = if local {
            self.dispatch_tool(request).await
        } else {
            let every = beat_every(Some(Duration::from_secs(request.heartbeat_s)));
            let mut in_flight = self.cancels.register(&run.run_id);
            guarded(
                ctx,
                Some(&mut in_flight),
                every,
                self.dispatch_tool(request),
            )
            .await?
        };
        let outcome = ToolOutcome {
            content: tools::cap_output(outcome.content),
            is_error: outcome.is_error,
        };
        let agent_ms = elapsed_ms(began);
        let tool_label = crate::metrics::tool_label(&request.tool);
        self.metrics
            .tool_duration
            .with_label_values(&[tool_label])
            .observe(began.elapsed().as_secs_f64());
        if outcome.is_error {
            self.metrics
                .tool_errors
                .with_label_values(&[tool_label])
                .inc();
        }
        self.write_tool(ctx, request, &unit, started, outcome, agent_ms)
            .await
    }

    /// Writes a tool call's step: its ledger rows, the run's totals and `tool.completed`
    /// (with `tool.started` for a local call), in one transaction, waiting out a store outage.
    async fn write_tool(
        &self,
        ctx: &ActivityContext,
        request: &ToolRequest,
        unit: &str,
        started: StepEvent<'_>,
        outcome: ToolOutcome,
        agent_ms: i64,
    ) -> Result<ToolOutcome, ActivityError> {
        let run = &request.run;
        let local = request.heartbeat_s == 0;
        // A retried tool call meters under the same keys; its time is that of the attempt
        // that first committed.
        let ledger = self.meter.tool(request, agent_ms, now_ms());
        let rows = ledger.rows(run);
        let completed = call_event(
            request,
            EventKind::ToolCompleted,
            format!("{unit}/completed"),
            json!({ "content": outcome.content, "is_error": outcome.is_error }),
        );
        let completed = completed.as_step();
        let events = if local {
            vec![started, completed]
        } else {
            vec![completed]
        };
        let write = StepWrite {
            usage: &rows,
            events: &events,
            ..StepWrite::default()
        };
        let carry = ToolCarry {
            step: request.step,
            call_index: request.call_index,
            outcome: outcome.clone(),
            agent_ms,
        };
        let cap = Duration::from_secs(request.retry_cap_s.max(1));
        self.write_done_step(ctx, run, &write, &rows, &carry, cap)
            .await?;
        self.injected_fault(ctx)?;
        Ok(outcome)
    }

    async fn dispatch_tool(&self, request: &ToolRequest) -> ToolOutcome {
        let tool = &request.tool;
        let builtin = match tool.kind {
            ToolKind::Webhook => return self.webhook_tool(request).await,
            ToolKind::Mcp => return self.mcp_tool(request).await,
            ToolKind::Builtin => BuiltinTool::parse(&tool.name),
            // The workflow waits for the client's result instead of running an activity.
            ToolKind::Client => None,
        };
        let Some(builtin) = builtin else {
            return ToolOutcome {
                content: format!("tool {:?} is not available on this worker", tool.name),
                is_error: true,
            };
        };
        let input = &request.input;
        match builtin {
            BuiltinTool::Calculator => tools::calculator::run(input),
            BuiltinTool::HttpFetch => tools::http_fetch::run(&self.settings.egress, input).await,
            BuiltinTool::ReadFile | BuiltinTool::WriteFile | BuiltinTool::ListFiles => {
                let root = self
                    .settings
                    .sandboxes
                    .join(request.run.workspace_id.as_str())
                    .join("files");
                let sandbox = match tools::files::Sandbox::new(root) {
                    Ok(sandbox) => sandbox,
                    Err(err) => {
                        tracing::error!(error = %err, "cannot prepare the workspace sandbox");
                        return ToolOutcome {
                            content: "the workspace's file area is unavailable".into(),
                            is_error: true,
                        };
                    }
                };
                match builtin {
                    BuiltinTool::ReadFile => tools::files::read_file(&sandbox, input).await,
                    BuiltinTool::WriteFile => tools::files::write_file(&sandbox, input).await,
                    _ => tools::files::list_files(&sandbox, input).await,
                }
            }
        }
    }

    /// A webhook tool: its URL and secret come from the agent as stored now (secrets never
    /// travel through workflow history).
    async fn webhook_tool(&self, request: &ToolRequest) -> ToolOutcome {
        let run = &request.run;
        let agent = match self.store.agent(&run.workspace_id, &run.agent_name).await {
            Ok(Some(agent)) => agent,
            Ok(None) => {
                return ToolOutcome {
                    content: "the agent of this run no longer exists".into(),
                    is_error: true,
                };
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the agent for a webhook tool");
                return ToolOutcome {
                    content: "the tool is unavailable right now".into(),
                    is_error: true,
                };
            }
        };
        // The tool as the agent holds it now; the run's snapshot (no secret) if it was
        // removed since the run started.
        let stored = agent.webhook_tool(&request.tool.name);
        let Some(url) = stored
            .map(|tool| tool.url.as_str())
            .or(request.tool.url.as_deref())
        else {
            return ToolOutcome {
                content: format!("webhook tool {:?} has no URL", request.tool.name),
                is_error: true,
            };
        };
        // IP literals never reach the guarded client's resolver: check the URL first.
        if let Err(refused) = crate::egress::check_url(&self.settings.egress, url) {
            return ToolOutcome {
                content: refused.to_string(),
                is_error: true,
            };
        }
        // The model's input must match the schema the tool declared (checked when the agent
        // was saved): a mismatch goes back to the model as an error result, never out.
        let schema = stored
            .map(|tool| tool.input_schema.clone())
            .or_else(|| request.tool.input_schema.clone())
            .unwrap_or_else(|| json!({"type": "object"}));
        let checked = longrun_store::ToolSchema::compile(&schema)
            .map_err(|problem| format!("the tool's input_schema is invalid: {problem}"))
            .and_then(|compiled| {
                compiled.validate(&request.input).map_err(|problem| {
                    format!("the input does not match the tool's input_schema: {problem}")
                })
            });
        if let Err(content) = checked {
            return ToolOutcome {
                content,
                is_error: true,
            };
        }
        let secret = stored.and_then(|tool| tool.secret.as_deref());
        let message_id = format!("{}-{}", run.run_id, request.call_id);
        let message = tools::webhook::Message {
            url,
            secret,
            id: &message_id,
            input: &request.input,
        };
        let timeout = self.settings.webhook_timeout;
        tools::webhook::call(
            &self.guarded_http,
            message,
            timeout,
            tools::MAX_OUTPUT_BYTES,
        )
        .await
    }
}

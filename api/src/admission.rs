//! Admission: whether a workspace may start a run now (its concurrency cap and the period's
//! quotas, checked by the store under the workspace's lock), and the run as its workflow
//! starts it. A refusal is counted by reason and tier, and answered with the figures behind it.

use longrun_domain::{Budget, EventKind, Limits, RunLimits, period_of};
use longrun_store::{Admission, AdmitOutcome, Agent, NewRun, Run, Workspace, new_run_id, now_ms};
use longrun_workflows::payloads::{
    AgentSnapshot, RunInput, RunRef, ToolKind, ToolSpec, WorkflowShape,
};

use crate::AppState;
use crate::auth::Tenant;
use crate::dispatcher::StartRequest;
use crate::error::ApiError;
use crate::scheduler::StartPlan;

/// A submission, checked: what the store is asked to admit.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    pub(crate) input: String,
    /// The client's metadata as JSON text.
    pub(crate) metadata: Option<String>,
    pub(crate) budget: RunLimits,
    pub(crate) webhook_url: Option<String>,
    /// The event kinds the run's webhook receives, as a JSON array, when the run names them.
    pub(crate) webhook_events: Option<String>,
    /// The finished run whose conversation the new one continues.
    pub(crate) previous_run_id: Option<String>,
    /// The run the new one reruns.
    pub(crate) rerun_of: Option<String>,
    /// What a reused `Idempotency-Key` is compared by.
    pub(crate) request_hash: String,
    pub(crate) idempotency_key: Option<String>,
}

/// An admitted run: the row, and whether this request created it (or found it by its key).
pub(crate) struct Admitted {
    pub(crate) run: Run,
    pub(crate) created: bool,
    /// A created run's start request, queued with the row (see [`start`]).
    pub(crate) dispatch: Option<String>,
}

/// The workflow id of a run: readable in the Temporal UI, unique per run.
pub(crate) fn workflow_id(workspace_slug: &str, run_id: &str) -> String {
    format!("run-{workspace_slug}-{run_id}")
}

/// Admits a run of `agent` for the tenant, or says why not.
pub(crate) async fn admit(
    state: &AppState,
    tenant: &Tenant,
    agent: &Agent,
    limits: &Limits,
    submission: &Submission,
    input_of: impl FnOnce(&Run) -> RunInput,
) -> Result<Admitted, ApiError> {
    let workspace = &tenant.workspace;
    let run_id = new_run_id();
    let workflow_id = workflow_id(&workspace.slug, &run_id);
    let idempotency_ttl_ms =
        i64::try_from(state.settings.idempotency_ttl.as_millis()).unwrap_or(i64::MAX / 2);
    let admission = Admission {
        max_active_runs: limits.concurrent_runs.map(|n| n as i64),
        period_start_ms: period_of(now_ms()).start_ms,
        max_tokens: limits.tokens_per_month.map(|n| n as i64),
        max_agent_ms: limits
            .agent_minutes_per_month
            .map(|minutes| (minutes * 60_000) as i64),
        idempotency_since_ms: now_ms() - idempotency_ttl_ms,
    };
    let new = NewRun {
        id: &run_id,
        workspace_id: &workspace.id,
        agent_name: &agent.name,
        input: &submission.input,
        metadata: submission.metadata.as_deref(),
        idempotency_key: submission.idempotency_key.as_deref(),
        request_hash: Some(&submission.request_hash),
        workflow_id: &workflow_id,
        webhook_url: submission.webhook_url.as_deref(),
        webhook_events: submission.webhook_events.as_deref(),
        previous_run_id: submission.previous_run_id.as_deref(),
        rerun_of: submission.rerun_of.as_deref(),
    };
    let refused = |reason: &str| {
        state
            .metrics
            .admissions_refused
            .with_label_values(&[reason, workspace.tier.as_str()])
            .inc();
    };
    // The start request is queued in the admission's transaction: a run is never committed
    // without it, whatever fails after.
    let mut dispatch = None;
    let lease_until = now_ms() + crate::dispatcher::LEASE.as_millis() as i64;
    let start = |run: &Run| {
        let request = StartRequest {
            plan: StartPlan::of(limits),
            input: input_of(run),
        };
        let json = serde_json::to_string(&request).ok()?;
        dispatch = Some(json.clone());
        Some((json, lease_until))
    };
    match state.store.admit_and_queue(new, &admission, start).await? {
        AdmitOutcome::Created(run) => Ok(Admitted {
            run,
            created: true,
            dispatch,
        }),
        AdmitOutcome::Existing(run) => {
            if run.request_hash.as_deref() != Some(submission.request_hash.as_str()) {
                return Err(ApiError::IdempotencyKeyReused);
            }
            Ok(Admitted {
                run,
                created: false,
                dispatch: None,
            })
        }
        AdmitOutcome::ConcurrencyLimit { active, limit } => {
            refused("concurrency_limit");
            Err(ApiError::ConcurrencyLimit { active, limit })
        }
        AdmitOutcome::QuotaExhausted {
            metric,
            used,
            limit,
        } => {
            refused("quota_exhausted");
            let (metric, used, limit) = match metric {
                // Agent time is sold in minutes.
                "agent_ms" => ("agent_minutes", used / 60_000, limit / 60_000),
                other => (other, used, limit),
            };
            Err(ApiError::QuotaExhausted {
                metric,
                used,
                limit,
            })
        }
    }
}

/// The workflow's input for an admitted run: the agent as it is now (a snapshot later edits
/// do not change, without secrets), the budget, the operator's tuning.
pub(crate) fn run_input(
    state: &AppState,
    tenant: &Tenant,
    agent: &Agent,
    run: &Run,
    budget: Budget,
    request_id: Option<String>,
) -> RunInput {
    let workspace = &tenant.workspace;
    RunInput {
        run: RunRef {
            run_id: run.id.to_string(),
            workspace_id: workspace.id.to_string(),
            workspace_slug: workspace.slug.to_string(),
            agent_name: agent.name.to_string(),
            tier: workspace.tier.as_str().to_string(),
            request_id,
        },
        agent: AgentSnapshot {
            name: agent.name.to_string(),
            model: agent.model.clone(),
            system_prompt: agent.system_prompt.clone(),
            tools: agent.tools.iter().flat_map(tool_specs).collect(),
            await_input: agent.settings.await_input,
            max_output_tokens: agent.settings.max_output_tokens.unwrap_or(4096),
            provider_outage_tolerance_s: agent.settings.provider_outage_tolerance_s,
            output_schema: agent.settings.output_schema.clone(),
            max_repeated_tool_calls: agent.settings.max_repeated_tool_calls,
        },
        input: run.input.clone(),
        budget,
        tuning: state.settings.tuning.clone(),
        webhook_url: run.webhook_url.clone(),
        resume: None,
        shape: WorkflowShape::CURRENT as u32,
        prior_messages: u32::try_from(run.prior_messages).unwrap_or(0),
        webhook_events: None,
    }
}

/// Where a run's webhooks go and which events they carry: the run's URL (with its events, or
/// `run.completed` alone), else the workspace's (with the run's events, else the
/// workspace's). Events without a URL anywhere are refused.
pub(crate) fn webhook_of(
    workspace: &Workspace,
    run_url: Option<&str>,
    run_events: Option<Vec<EventKind>>,
) -> Result<(Option<String>, Option<Vec<EventKind>>), ApiError> {
    if let Some(url) = run_url {
        return Ok((Some(url.to_string()), run_events));
    }
    let Some(url) = &workspace.webhook_url else {
        if run_events.is_some() {
            return Err(ApiError::invalid(
                "webhook_events",
                "needs a webhook_url, on the run or its workspace (PUT /v1/workspace)",
            ));
        }
        return Ok((None, None));
    };
    let events = match run_events {
        Some(events) => Some(events),
        None => workspace
            .webhook_events
            .as_deref()
            .and_then(|json| serde_json::from_str::<Vec<EventKind>>(json).ok()),
    };
    Ok((Some(url.clone()), events))
}

/// An agent's tool item as the workflow sees it: one tool, or an MCP server's tools as the
/// agent was saved with them. No secret (the type has no field for one), so secrets never
/// enter workflow history.
fn tool_specs(tool: &longrun_store::AgentTool) -> Vec<ToolSpec> {
    match tool {
        longrun_store::AgentTool::Builtin {
            tool,
            requires_approval,
        } => vec![ToolSpec {
            requires_approval: *requires_approval,
            ..ToolSpec::builtin(tool.name())
        }],
        longrun_store::AgentTool::Webhook(webhook) => vec![ToolSpec {
            requires_approval: webhook.requires_approval,
            kind: ToolKind::Webhook,
            description: Some(webhook.description.clone()),
            input_schema: Some(webhook.input_schema.clone()),
            url: Some(webhook.url.clone()),
            ..ToolSpec::builtin(&webhook.name)
        }],
        longrun_store::AgentTool::Client(client) => vec![ToolSpec {
            requires_approval: client.requires_approval,
            kind: ToolKind::Client,
            description: Some(client.description.clone()),
            input_schema: Some(client.input_schema.clone()),
            timeout_s: client.timeout_s,
            ..ToolSpec::builtin(&client.name)
        }],
        longrun_store::AgentTool::Mcp(set) => set
            .tools
            .iter()
            .map(|mcp| ToolSpec {
                requires_approval: set.requires_approval,
                kind: ToolKind::Mcp,
                description: Some(mcp.description.clone()),
                input_schema: Some(mcp.input_schema.clone()),
                server: Some(set.server.clone()),
                remote_name: Some(mcp.tool.clone()),
                definition_hash: Some(mcp.hash.clone()),
                ..ToolSpec::builtin(&mcp.name)
            })
            .collect(),
    }
}

/// Starts the workflow of a run this request admitted, off the request's path: its start
/// request is queued already (with the row), so a dispatcher starts it even if this try
/// fails. A run found by its idempotency key is queued (or started) already.
pub(crate) fn start(state: &AppState, admitted: &Admitted) {
    if let Some(dispatch) = &admitted.dispatch {
        let run = &admitted.run;
        state
            .dispatcher
            .try_now(&run.workspace_id, &run.id, &run.workflow_id, dispatch);
    }
}

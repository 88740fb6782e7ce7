//! `/v1/runs`: submitting, listing and reading agent runs.
//!
//! Submission writes the run row first (`queued`), then starts the workflow. With an
//! `Idempotency-Key`, a repeated submission finds the row the first one wrote and never starts
//! a second workflow; the workflow id is derived from the run, and Temporal's conflict policy
//! makes a repeated start a no-op even across API instances.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use longrun_activities::quota::period_of;
use longrun_store::{Admission, AdmitOutcome, NewRun, Run, RunListFilter, new_run_id};
use longrun_workflows::payloads::{
    AgentSnapshot, ApprovalDecision, Budget, HumanMessage, RunInput, RunRef, RunStatus,
};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::{Json, Query};
use crate::routes::agents::{AgentLimits, stored_limits, stored_settings, stored_tools};
use crate::routes::rfc3339;

pub(crate) const MAX_INPUT_BYTES: usize = 256 * 1024;
const MAX_METADATA_BYTES: usize = 16 * 1024;
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRun {
    agent: String,
    input: String,
    /// Overrides the agent's limits for this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    budget: Option<AgentLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    metadata: Option<Map<String, Value>>,
    /// Where the finished run is POSTed, signed with the workspace's webhook secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    webhook_url: Option<String>,
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| {
            !k.is_empty()
                && k.len() <= MAX_IDEMPOTENCY_KEY_BYTES
                && k.bytes().all(|b| b.is_ascii_graphic())
        })
        .ok_or_else(|| {
            ApiError::invalid(
                "Idempotency-Key",
                format!("1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"),
            )
        })?;
    Ok(Some(key.to_string()))
}

/// The workflow id of a run: readable in the Temporal UI, unique per run.
pub(crate) fn workflow_id(workspace_slug: &str, run_id: &str) -> String {
    format!("run-{workspace_slug}-{run_id}")
}

pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    request_id: Option<axum::Extension<crate::RequestId>>,
    headers: HeaderMap,
    Json(body): Json<CreateRun>,
) -> Result<impl IntoResponse, ApiError> {
    let idempotency_key = idempotency_key(&headers)?;
    if body.input.trim().is_empty() {
        return Err(ApiError::invalid("input", "must not be empty"));
    }
    if body.input.len() > MAX_INPUT_BYTES {
        return Err(ApiError::invalid(
            "input",
            format!("longer than {MAX_INPUT_BYTES} bytes"),
        ));
    }
    let metadata = match &body.metadata {
        Some(map) => {
            let text = serde_json::to_string(map).map_err(|e| ApiError::Internal(e.to_string()))?;
            if text.len() > MAX_METADATA_BYTES {
                return Err(ApiError::invalid(
                    "metadata",
                    format!("larger than {MAX_METADATA_BYTES} bytes"),
                ));
            }
            Some(text)
        }
        None => None,
    };
    let requested = body.budget.clone().unwrap_or_default();
    requested.validate("budget")?;
    if let Some(url) = &body.webhook_url
        && (!(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048)
    {
        return Err(ApiError::invalid(
            "webhook_url",
            "an http(s) URL of at most 2048 bytes",
        ));
    }

    let workspace = &tenant.workspace;
    let agent = state
        .store
        .agent(&workspace.id, &body.agent)
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&body.agent))?;
    let limits = state
        .tiers
        .limits(&workspace.tier, workspace.quota_overrides.as_deref())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let agent_limits = stored_limits(&agent)?;
    let settings = stored_settings(&agent)?;
    let tier_seconds = limits.max_run_s;
    let budget = Budget {
        max_steps: requested
            .max_steps
            .or(agent_limits.max_steps)
            .unwrap_or(state.settings.default_max_steps),
        max_tokens: requested.max_tokens.or(agent_limits.max_tokens),
        max_cost_micro_usd: requested
            .max_cost_usd
            .or(agent_limits.max_cost_usd)
            .map(|usd| (usd * 1e6).round() as u64),
        // The tier's longest run bounds every run (it is also the workflow's timeout).
        max_duration_s: Some(
            requested
                .max_duration_s
                .or(agent_limits.max_duration_s)
                .map_or(tier_seconds, |s| s.min(tier_seconds)),
        ),
    };

    let request_hash = {
        let canonical = serde_json::to_vec(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
        hex::encode(Sha256::digest(&canonical))
    };
    let run_id = new_run_id();
    let workflow_id = workflow_id(&workspace.slug, &run_id);
    let period = period_of(longrun_store::now_ms());
    let admission = Admission {
        max_active_runs: limits.concurrent_runs.map(|n| n as i64),
        period_start_ms: period.start_ms,
        max_tokens: limits.tokens_per_month.map(|n| n as i64),
        max_agent_ms: limits
            .agent_minutes_per_month
            .map(|minutes| (minutes * 60_000) as i64),
    };
    let outcome = state
        .store
        .admit_run(
            NewRun {
                id: &run_id,
                workspace_id: &workspace.id,
                agent_name: &agent.name,
                input: &body.input,
                metadata: metadata.as_deref(),
                idempotency_key: idempotency_key.as_deref(),
                request_hash: Some(&request_hash),
                workflow_id: &workflow_id,
                webhook_url: body.webhook_url.as_deref(),
            },
            &admission,
        )
        .await?;

    let refused = |reason: &str| {
        state
            .metrics
            .admissions_refused
            .with_label_values(&[reason, &workspace.tier])
            .inc();
    };
    let (run, created) = match outcome {
        AdmitOutcome::ConcurrencyLimit { active, limit } => {
            refused("concurrency_limit");
            return Err(ApiError::ConcurrencyLimit { active, limit });
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
            return Err(ApiError::QuotaExhausted {
                metric,
                used,
                limit,
            });
        }
        AdmitOutcome::Created(run) => (run, true),
        AdmitOutcome::Existing(run) => {
            if run.request_hash.as_deref() != Some(request_hash.as_str()) {
                return Err(ApiError::Conflict {
                    code: "idempotency_key_reused",
                    message: "this Idempotency-Key was used for a different request".into(),
                });
            }
            (run, false)
        }
    };
    // A repeated submission of a run still queued may be retrying a start that failed halfway
    // (API crash between the row and the workflow): starting again is safe, the workflow id
    // conflict policy turns it into a no-op if the first start did happen.
    if created || run.status == RunStatus::Queued.as_str() {
        let input = RunInput {
            run: RunRef {
                run_id: run.id.clone(),
                workspace_id: workspace.id.clone(),
                workspace_slug: workspace.slug.clone(),
                agent_name: agent.name.clone(),
                tier: workspace.tier.clone(),
                request_id: request_id.map(|axum::Extension(id)| id.0),
            },
            agent: AgentSnapshot {
                name: agent.name.clone(),
                model: agent.model.clone(),
                system_prompt: agent.system_prompt.clone(),
                tools: stored_tools(&agent)?,
                await_input: settings.await_input,
                max_output_tokens: settings.max_output_tokens.unwrap_or(4096),
            },
            input: run.input.clone(),
            budget,
            tuning: state.settings.tuning.clone(),
            webhook_url: run.webhook_url.clone(),
            resume: None,
        };
        if let Err(err) = state
            .scheduler
            .start_run(&run.workflow_id, &limits, input)
            .await
        {
            if created {
                // No row may stay queued for a workflow that never started; a retry with the
                // same Idempotency-Key then starts afresh.
                state
                    .store
                    .delete_unstarted_run(&workspace.id, &run.id)
                    .await?;
            }
            return Err(err);
        }
    }
    let status = if created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(view(&state, &run, true))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    limit: Option<String>,
    cursor: Option<String>,
    status: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("an integer from 1 to {MAX_PAGE}"))
            })?,
    };
    if let Some(status) = query.status.as_deref()
        && RunStatus::parse(status).is_none()
    {
        let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
        return Err(ApiError::invalid(
            "status",
            format!(
                "unknown status {status:?}; expected one of {}",
                names.join(", ")
            ),
        ));
    }
    if let Some(cursor) = query.cursor.as_deref()
        && (cursor.len() != 32 || !cursor.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(ApiError::invalid(
            "cursor",
            "not a cursor this API returned",
        ));
    }
    let runs = state
        .store
        .list_runs(
            &tenant.workspace.id,
            RunListFilter {
                status: query.status.as_deref(),
                before: query.cursor.as_deref(),
                limit,
            },
        )
        .await?;
    let next_cursor = if runs.len() as i64 == limit {
        runs.last().map(|r| r.id.clone())
    } else {
        None
    };
    let items: Vec<Value> = runs.iter().map(|r| view(&state, r, false)).collect();
    Ok(axum::Json(
        json!({ "runs": items, "next_cursor": next_cursor }),
    ))
}

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
        return Err(ApiError::run_finished(&run.status));
    }
    Ok(run)
}

/// `POST /v1/runs/{id}/cancel`: cancels the workflow; in-flight activities stop at their next
/// heartbeat, and the run ends `cancelled`.
pub(crate) async fn cancel(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    state.scheduler.cancel(&run.workflow_id).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(view(&state, &run, false))))
}

pub(crate) const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostMessage {
    text: String,
}

/// `POST /v1/runs/{id}/messages`: human input, joining the conversation at the next turn.
pub(crate) async fn message(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    Json(body): Json<PostMessage>,
) -> Result<impl IntoResponse, ApiError> {
    if body.text.trim().is_empty() || body.text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid(
            "text",
            format!("1 to {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let run = live_run(&state, &tenant, &run_id).await?;
    state
        .scheduler
        .send_message(&run.workflow_id, HumanMessage { text: body.text })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "accepted": true })),
    ))
}

/// `POST /v1/runs/{id}/resume`: asks a run paused at the quota's hard cap to check again
/// (it pauses again if the workspace is still over it).
pub(crate) async fn resume(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    state.scheduler.resume(&run.workflow_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "accepted": true })),
    ))
}

/// `POST /v1/runs/{id}/complete`: ends a run waiting for input with the answer it has.
pub(crate) async fn complete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    state.scheduler.complete(&run.workflow_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({ "accepted": true })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostApproval {
    tool_call_id: String,
    approve: bool,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/runs/{id}/approvals`: approves or denies a gated tool call (a Temporal update:
/// the workflow's validator refuses unknown or already-decided calls).
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
    Ok(axum::Json(json!({
        "tool_call_id": decision.tool_call_id,
        "approve": approved,
        "reason": decision.reason,
    })))
}

/// A run as clients see it. Lists leave out the (possibly large) input.
fn view(state: &AppState, run: &Run, with_input: bool) -> Value {
    let error = run.error_code.as_ref().map(
        |code| json!({ "code": code, "message": run.error_message.clone().unwrap_or_default() }),
    );
    let metadata: Value = run
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null);
    let mut view = json!({
        "id": run.id,
        "agent": run.agent_name,
        "status": run.status,
        "result": run.result,
        "error": error,
        "metadata": metadata,
        "workflow_id": run.workflow_id,
        "webhook_url": run.webhook_url,
        "temporal_ui_url": state.scheduler.ui_link(&run.workflow_id),
        "step": run.step,
        "usage": {
            "input_tokens": run.usage.input_tokens,
            "output_tokens": run.usage.output_tokens,
            "cache_read_tokens": run.usage.cache_read_tokens,
            "cache_write_tokens": run.usage.cache_write_tokens,
            "tool_calls": run.usage.tool_calls,
            "agent_ms": run.usage.agent_ms,
            "cost_usd": run.usage.cost_micro_usd as f64 / 1_000_000.0,
        },
        "created_at": rfc3339(run.created_at),
        "started_at": run.started_at.map(rfc3339),
        "finished_at": run.finished_at.map(rfc3339),
    });
    if with_input {
        view["input"] = Value::String(run.input.clone());
    }
    view
}

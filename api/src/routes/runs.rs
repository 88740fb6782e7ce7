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
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, ToSchema};

use longrun_activities::quota::period_of;
use longrun_store::{Admission, AdmitOutcome, NewRun, Run, RunListFilter, new_run_id};
use longrun_workflows::payloads::{
    AgentSnapshot, ApprovalDecision, Budget, HumanMessage, RunInput, RunRef, RunStatus,
};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::idempotency::idempotency_key;
use crate::page::{CursorShape, Page, PageRules};
use crate::routes::agents::{AgentLimits, stored_limits, stored_settings, stored_tools};
use crate::routes::rfc3339;

pub(crate) const MAX_INPUT_BYTES: usize = 256 * 1024;
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A run to submit. (Serialised, it is also what an `Idempotency-Key` is compared by.)
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRun {
    /// The agent's name.
    #[schema(example = "demo")]
    agent: String,
    /// The task: 1 to 256 KiB, not only spaces.
    #[schema(min_length = 1, max_length = 262144, example = "What is 2 ^ 10 - 24?")]
    input: String,
    /// Tightens the agent's limits for this run (a value above the agent's is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    budget: Option<AgentLimits>,
    /// Yours, kept with the run: a JSON object of at most 16 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    metadata: Option<Map<String, Value>>,
    /// Where the finished run is POSTed, signed with the workspace's webhook secret: an
    /// http(s) URL of at most 2048 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^https?://", max_length = 2048)]
    webhook_url: Option<String>,
}

/// A run's status: `queued → running → (waiting_input | waiting_approval | paused_quota)* →
/// succeeded | failed | cancelled | budget_exhausted | timed_out`.
pub(crate) struct RunStatusName;

impl utoipa::PartialSchema for RunStatusName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(RunStatus::ALL.iter().map(|s| s.as_str())))
            .into()
    }
}

impl ToSchema for RunStatusName {}

/// A run as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunView {
    id: String,
    /// The agent's name.
    agent: String,
    #[schema(value_type = RunStatusName)]
    status: String,
    /// The final answer, once there is one.
    #[schema(required = true)]
    result: Option<String>,
    /// Why a run failed (`provider_rejected`, `activity_timeout`, …), else `null`.
    #[schema(required = true)]
    error: Option<RunError>,
    /// As submitted, or `null`.
    #[schema(value_type = Option<Object>, required = true)]
    metadata: Value,
    /// The Temporal workflow: `run-<workspace>-<run id>`.
    workflow_id: String,
    #[schema(required = true)]
    webhook_url: Option<String>,
    /// The workflow in the Temporal UI.
    temporal_ui_url: String,
    /// Model calls made so far.
    step: i64,
    usage: RunUsageView,
    created_at: String,
    #[schema(required = true)]
    started_at: Option<String>,
    #[schema(required = true)]
    finished_at: Option<String>,
    /// The input; lists and cancellations leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    input: Option<String>,
}

/// A failed run's stable error code and message.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunError {
    code: String,
    message: String,
}

/// What a run used so far.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunUsageView {
    input_tokens: i64,
    output_tokens: i64,
    cache_read_tokens: i64,
    cache_write_tokens: i64,
    tool_calls: i64,
    /// Agent time: milliseconds of model and tool activity.
    agent_ms: i64,
    cost_usd: f64,
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunPage {
    runs: Vec<RunView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// A signal the run will act on at its next turn.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// Always `true`.
    accepted: bool,
}

/// A decided tool call.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApprovalOutcome {
    tool_call_id: String,
    /// Whether the call was approved.
    approve: bool,
    #[schema(required = true)]
    reason: Option<String>,
}

/// The workflow id of a run: readable in the Temporal UI, unique per run.
pub(crate) fn workflow_id(workspace_slug: &str, run_id: &str) -> String {
    format!("run-{workspace_slug}-{run_id}")
}

/// Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
/// the run the first one started, and never starts a second workflow.
#[utoipa::path(
    post,
    path = "/v1/runs",
    tag = "runs",
    operation_id = "create_run",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
            description = "Makes the submission safe to retry: 1 to 255 visible ASCII characters."),
    ),
    request_body = CreateRun,
    responses(
        (status = 202, description = "The run is admitted and started.", body = RunView,
            links(
            ("GetRun" = (operation_id = "get_run", parameters(("id" = "$response.body#/id")))),
            ("StreamRunEvents" = (operation_id = "stream_run_events", parameters(("id" = "$response.body#/id")))),
            ("PostMessage" = (operation_id = "post_message", parameters(("id" = "$response.body#/id")))),
            ("DecideApproval" = (operation_id = "decide_approval", parameters(("id" = "$response.body#/id")))),
            ("CompleteRun" = (operation_id = "complete_run", parameters(("id" = "$response.body#/id")))),
            ("ResumeRun" = (operation_id = "resume_run", parameters(("id" = "$response.body#/id")))),
            ("CancelRun" = (operation_id = "cancel_run", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 200, description = "The run this `Idempotency-Key` already started.", body = RunView),
        (status = 400, description = "`invalid_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 402, description = "`quota_exhausted`: a monthly quota is used up (with `metric`, `used`, `limit`).", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`agent_not_found`.", body = ErrorBody),

        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named.", body = ErrorBody),
        (status = 429, description = "`rate_limited` (the workspace's request limit), or `concurrency_limit` (with `active`, `limit`).", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: Temporal did not answer; retry later.", body = ErrorBody),
    ),
)]
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
    requested.within(&agent_limits, "budget")?;
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
        idempotency_since_ms: longrun_store::now_ms()
            - i64::try_from(state.settings.idempotency_ttl.as_millis()).unwrap_or(i64::MAX / 2),
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
                return Err(ApiError::IdempotencyKeyReused);
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Runs per page, 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-fA-F]{32}$")]
    cursor: Option<String>,
    /// Only runs in this status.
    #[param(value_type = Option<RunStatusName>)]
    status: Option<String>,
}

/// Lists the workspace's runs, newest first, without their input.
#[utoipa::path(
    get,
    path = "/v1/runs",
    tag = "runs",
    operation_id = "list_runs",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "A page of runs.", body = RunPage),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a bad or unknown query parameter, named.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = Page::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        PageRules {
            default: 20,
            max: 100,
            cursor: CursorShape::Hex32,
        },
    )?;
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
    let runs = state
        .store
        .list_runs(
            &tenant.workspace.id,
            RunListFilter {
                status: query.status.as_deref(),
                before: page.cursor.as_deref(),
                limit: page.limit,
            },
        )
        .await?;
    let next_cursor = page.next_cursor(&runs, |r| r.id.clone());
    let runs = runs.iter().map(|r| view(&state, r, false)).collect();
    Ok(axum::Json(RunPage { runs, next_cursor }))
}

/// Reads a run: status, result, error, timestamps, usage so far.
#[utoipa::path(
    get,
    path = "/v1/runs/{id}",
    tag = "runs",
    operation_id = "get_run",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run, with its input.", body = RunView),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`run_not_found`: no such run in this workspace.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/cancel",
    tag = "runs",
    operation_id = "cancel_run",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id.")),
    responses(
        (status = 202, description = "Cancellation is requested; the run as it was (without its input).", body = RunView),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`run_not_found`: no such run in this workspace.", body = ErrorBody),
        (status = 409, description = "`run_finished`: the run has ended.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: Temporal did not answer; retry later.", body = ErrorBody),
    ),
)]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostMessage {
    /// 1 to 64 KiB, not only spaces.
    #[schema(min_length = 1, max_length = 65536, example = "Now divide it by 10.")]
    text: String,
}

/// `POST /v1/runs/{id}/messages`: human input, joining the conversation at the next turn.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/messages",
    tag = "runs",
    operation_id = "post_message",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id.")),
    request_body = PostMessage,
    responses(
        (status = 202, description = "The message is delivered.", body = Accepted),
        (status = 400, description = "`invalid_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`run_not_found`: no such run in this workspace.", body = ErrorBody),
        (status = 409, description = "`run_finished`: the run has ended.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: Temporal did not answer; retry later.", body = ErrorBody),
    ),
)]
pub(crate) async fn message(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<PostMessage>,
) -> Result<impl IntoResponse, ApiError> {
    // The key also travels with the signal: the run drops a message it already has, should
    // a request that died after signalling be retried.
    let id = idempotency_key(&headers)?;
    if body.text.trim().is_empty() || body.text.len() > MAX_MESSAGE_BYTES {
        return Err(ApiError::invalid(
            "text",
            format!("1 to {MAX_MESSAGE_BYTES} bytes"),
        ));
    }
    let run = live_run(&state, &tenant, &run_id).await?;
    state
        .scheduler
        .send_message(
            &run.workflow_id,
            HumanMessage {
                text: body.text,
                id,
            },
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted { accepted: true }),
    ))
}

/// `POST /v1/runs/{id}/resume`: asks a run paused at the quota's hard cap to check again
/// (it pauses again if the workspace is still over it).
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/resume",
    tag = "runs",
    operation_id = "resume_run",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id.")),
    responses(
        (status = 202, description = "The run will check its limits again.", body = Accepted),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`run_not_found`: no such run in this workspace.", body = ErrorBody),
        (status = 409, description = "`run_finished`: the run has ended.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: Temporal did not answer; retry later.", body = ErrorBody),
    ),
)]
pub(crate) async fn resume(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    state.scheduler.resume(&run.workflow_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted { accepted: true }),
    ))
}

/// `POST /v1/runs/{id}/complete`: ends a run waiting for input with the answer it has.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/complete",
    tag = "runs",
    operation_id = "complete_run",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id.")),
    responses(
        (status = 202, description = "The run will end with the answer it has.", body = Accepted),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`run_not_found`: no such run in this workspace.", body = ErrorBody),
        (status = 409, description = "`run_finished`: the run has ended.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: Temporal did not answer; retry later.", body = ErrorBody),
    ),
)]
pub(crate) async fn complete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let run = live_run(&state, &tenant, &run_id).await?;
    state.scheduler.complete(&run.workflow_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Accepted { accepted: true }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostApproval {
    /// The call's id, from the `approval.requested` event: 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256)]
    tool_call_id: String,
    approve: bool,
    /// Told to the model with a denial; at most 4 KiB.
    #[serde(default)]
    #[schema(max_length = 4096)]
    reason: Option<String>,
}

/// `POST /v1/runs/{id}/approvals`: approves or denies a gated tool call (a Temporal update:
/// the workflow's validator refuses unknown or already-decided calls).
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/approvals",
    tag = "runs",
    operation_id = "decide_approval",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The run's id.")),
    request_body = PostApproval,
    responses(
        (status = 200, description = "The decision, as the run took it.", body = ApprovalOutcome),
        (status = 400, description = "`invalid_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`run_not_found`: no such run in this workspace.", body = ErrorBody),
        (status = 409, description = "`run_finished`, or `approval_conflict`: no such call waits for a decision.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: Temporal did not answer; retry later.", body = ErrorBody),
    ),
)]
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
    Ok(axum::Json(ApprovalOutcome {
        tool_call_id: decision.tool_call_id,
        approve: approved,
        reason: decision.reason,
    }))
}

/// A run as clients see it. Lists leave out the (possibly large) input.
fn view(state: &AppState, run: &Run, with_input: bool) -> RunView {
    RunView {
        id: run.id.clone(),
        agent: run.agent_name.clone(),
        status: run.status.clone(),
        result: run.result.clone(),
        error: run.error_code.as_ref().map(|code| RunError {
            code: code.clone(),
            message: run.error_message.clone().unwrap_or_default(),
        }),
        metadata: run
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or(Value::Null),
        workflow_id: run.workflow_id.clone(),
        webhook_url: run.webhook_url.clone(),
        temporal_ui_url: state.scheduler.ui_link(&run.workflow_id),
        step: run.step,
        usage: RunUsageView {
            input_tokens: run.usage.input_tokens,
            output_tokens: run.usage.output_tokens,
            cache_read_tokens: run.usage.cache_read_tokens,
            cache_write_tokens: run.usage.cache_write_tokens,
            tool_calls: run.usage.tool_calls,
            agent_ms: run.usage.agent_ms,
            cost_usd: run.usage.cost_micro_usd as f64 / 1_000_000.0,
        },
        created_at: rfc3339(run.created_at),
        started_at: run.started_at.map(rfc3339),
        finished_at: run.finished_at.map(rfc3339),
        input: with_input.then(|| run.input.clone()),
    }
}

//! Runs in bulk: a rerun of one run, a batch of submissions, and cancellation by filter.
//! Reruns and batch items go through [`submit`], the one path of `POST /v1/runs`: each is
//! checked, admitted (and counted against the workspace's caps) and started on its own.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use longrun_domain::RunStatus;
use longrun_store::RunListFilter;

use super::create::{CreateRun, Origin, submit};
use super::find_run;
use super::list::{metadata_pair, parse_agent, parse_statuses};
use super::view::RunView;
use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::Json;
use crate::idempotency::idempotency_key;

/// Most runs in one batch.
pub(crate) const MAX_BATCH_RUNS: usize = 100;
/// Most runs one `POST /v1/runs/cancel` cancels; a client repeats it while `more` is true.
pub(crate) const MAX_BULK_CANCEL: i64 = 200;
/// Cancellations sent to Temporal at once by a bulk cancellation.
const CANCEL_CONCURRENCY: usize = 8;

/// `POST /v1/runs/{id}/rerun`: a new run of the same agent (as it is now) with the same
/// input, metadata and webhook, continuing the same conversation if the original did; linked
/// to the original by `rerun_of`. The original's `budget` is not kept: the agent's limits
/// apply.
#[utoipa::path(
    post,
    path = "/v1/runs/{id}/rerun",
    operation_id = "rerun_run",
    params(
        ("id" = String, Path, description = "The run to rerun."),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
            description = "Makes the rerun safe to retry: 1 to 255 visible ASCII characters."),
    ),
    responses(
        (status = 202, description = "The new run is admitted and started.", body = RunView),
        (status = 200, description = "The run this `Idempotency-Key` already started.", body = RunView),
        (status = 404, description = "`agent_not_found`: the run's agent was deleted.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a bad `Idempotency-Key`; `idempotency_key_reused`: this key made another run.", body = ErrorBody),
    ),
)]
pub(crate) async fn rerun(
    State(state): State<AppState>,
    tenant: Tenant,
    request_id: Option<axum::Extension<crate::RequestId>>,
    headers: HeaderMap,
    Path(run_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let original = find_run(&state, &tenant.workspace.id, &run_id).await?;
    let body = CreateRun {
        agent: Some(original.agent_name.to_string()),
        input: original.input.clone(),
        budget: None,
        metadata: original
            .metadata
            .as_deref()
            .and_then(|m| serde_json::from_str::<Map<String, Value>>(m).ok()),
        webhook_url: original.webhook_url.clone(),
        webhook_events: original
            .webhook_events
            .as_deref()
            .and_then(|events| serde_json::from_str(events).ok()),
        previous_run_id: original.previous_run_id.as_ref().map(|id| id.to_string()),
        // A rerun answers in the agent's shape: a run's own schema is not stored.
        output_schema: None,
        idempotency_key: None,
    };
    let origin = Origin {
        request_id: request_id.map(|axum::Extension(id)| id.0),
        rerun_of: Some(original.id.clone()),
    };
    let (status, run) = submit(&state, &tenant, body, idempotency_key(&headers)?, origin).await?;
    Ok((status, axum::Json(run)))
}

/// Runs to submit together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRuns {
    /// 1 to 100 runs, each as `POST /v1/runs` takes it; an item's `idempotency_key` makes
    /// it safe to retry.
    #[schema(min_items = 1, max_items = 100)]
    runs: Vec<CreateRun>,
}

/// What became of one item of a batch: the run, or why it was not admitted.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchItem {
    /// The item's position in the request, from 0.
    index: usize,
    /// The status `POST /v1/runs` would have answered for this item: 202 started, 200 the
    /// run its `idempotency_key` already started, else an error's.
    status: u16,
    /// The run, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    run: Option<RunView>,
    /// Why the item was refused (`quota_exhausted`, `concurrency_limit`, `agent_not_found`,
    /// `invalid_request`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    error: Option<ErrorDetail>,
}

/// One answer per item, in the request's order.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BatchResult {
    results: Vec<BatchItem>,
    /// Items that made or found a run.
    accepted: usize,
    /// Items refused.
    failed: usize,
}

/// `POST /v1/runs/batch`: up to 100 runs, each submitted as `POST /v1/runs` would (checked,
/// admitted under the workspace's caps, started), in order; an item refused does not stop
/// the others. The batch is one request for the request limit.
#[utoipa::path(
    post,
    path = "/v1/runs/batch",
    operation_id = "create_runs",
    request_body = CreateRuns,
    responses(
        (status = 200, description = "One answer per item.", body = BatchResult),
        (status = 422, description = "`invalid_request`: no runs, or more than 100 (`runs`), or a malformed item (named).", body = ErrorBody),
    ),
)]
pub(crate) async fn batch(
    State(state): State<AppState>,
    tenant: Tenant,
    request_id: Option<axum::Extension<crate::RequestId>>,
    Json(body): Json<CreateRuns>,
) -> Result<impl IntoResponse, ApiError> {
    if body.runs.is_empty() || body.runs.len() > MAX_BATCH_RUNS {
        return Err(ApiError::invalid(
            "runs",
            format!(
                "1 to {MAX_BATCH_RUNS} runs in a batch (got {})",
                body.runs.len()
            ),
        ));
    }
    // A malformed item refuses the whole batch, naming it; admission's answers are per item.
    for (index, run) in body.runs.iter().enumerate() {
        match run.clone().check(None) {
            Ok(_) => {}
            Err(ApiError::InvalidRequest(problem)) => {
                return Err(ApiError::InvalidRequest(format!("runs[{index}].{problem}")));
            }
            // A malformed agent name or run id: what a single submission answers 404.
            Err(other) => return Err(ApiError::invalid(&format!("runs[{index}]"), other)),
        }
    }
    let request_id = request_id.map(|axum::Extension(id)| id.0);
    let mut results = Vec::with_capacity(body.runs.len());
    for (index, run) in body.runs.into_iter().enumerate() {
        let origin = Origin {
            request_id: request_id.clone(),
            rerun_of: None,
        };
        let item = match submit(&state, &tenant, run, None, origin).await {
            Ok((status, run)) => BatchItem {
                index,
                status: status.as_u16(),
                run: Some(run),
                error: None,
            },
            Err(err) => {
                if let ApiError::Internal(detail) = &err {
                    tracing::error!(index, error = %detail, "a batch item failed");
                }
                BatchItem {
                    index,
                    status: err.status().as_u16(),
                    run: None,
                    error: Some(err.detail()),
                }
            }
        };
        results.push(item);
    }
    let accepted = results.iter().filter(|item| item.run.is_some()).count();
    Ok(axum::Json(BatchResult {
        failed: results.len() - accepted,
        accepted,
        results,
    }))
}

/// Which live runs to cancel: every condition given must hold; at least one is needed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelRuns {
    /// Live statuses (`queued`, `running`, `waiting_input`, `waiting_approval`,
    /// `paused_quota`, `waiting_provider`, `requires_action`), each once; default: all of them.
    #[serde(default)]
    #[schema(max_items = 7, example = json!(["waiting_approval"]))]
    status: Option<Vec<String>>,
    /// The agent's name.
    #[serde(default)]
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    agent: Option<String>,
    /// Metadata pairs the runs must have: up to 8, scalar values.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"batch": "nightly"}))]
    metadata: Option<Map<String, Value>>,
}

/// How many runs a bulk cancellation reached.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CancelledRuns {
    /// Live runs that matched (at most 200 per request).
    matched: usize,
    /// Of those, the runs whose cancellation was requested.
    cancelled: usize,
    /// Whether more runs may match: repeat the request to cancel them.
    more: bool,
}

/// `POST /v1/runs/cancel`: cancels the workspace's live runs that match a filter, the newest
/// 200 at most per request (`more` says whether to repeat). Runs that finish meanwhile are
/// not counted.
#[utoipa::path(
    post,
    path = "/v1/runs/cancel",
    operation_id = "cancel_runs",
    request_body = CancelRuns,
    responses(
        (status = 200, description = "What was cancelled.", body = CancelledRuns),
        (status = 422, description = "`invalid_request`: no condition, a status that is not live or given twice, a bad agent name or metadata pair (named).", body = ErrorBody),
    ),
)]
pub(crate) async fn cancel_many(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<CancelRuns>,
) -> Result<impl IntoResponse, ApiError> {
    if body.status.is_none() && body.agent.is_none() && body.metadata.is_none() {
        return Err(ApiError::InvalidRequest(
            "give at least one of status, agent, metadata".into(),
        ));
    }
    let statuses = match &body.status {
        Some(names) => {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let statuses = parse_statuses("status", &names)?;
            if let Some((at, twice)) = statuses
                .iter()
                .enumerate()
                .find(|(at, s)| statuses[..*at].contains(s))
            {
                return Err(ApiError::invalid(
                    &format!("status[{at}]"),
                    format!("{twice} is given twice"),
                ));
            }
            if let Some(done) = statuses.iter().find(|s| s.is_terminal()) {
                return Err(ApiError::invalid(
                    "status",
                    format!("{done} runs have finished; only live runs can be cancelled"),
                ));
            }
            statuses
        }
        None => RunStatus::ALL
            .into_iter()
            .filter(|s| s.is_active())
            .collect(),
    };
    let mut metadata = Vec::new();
    for (key, value) in body.metadata.iter().flatten() {
        let field = format!("metadata.{key}");
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(_) | Value::Bool(_) => value.to_string(),
            _ => return Err(ApiError::invalid(&field, "a string, number or boolean")),
        };
        metadata.push(metadata_pair(&field, key, text)?);
    }
    if metadata.len() > longrun_store::MAX_METADATA_FILTERS {
        return Err(ApiError::invalid("metadata", "at most 8 pairs"));
    }
    let filter = RunListFilter {
        statuses,
        agent: parse_agent(body.agent.as_deref())?,
        metadata,
        limit: MAX_BULK_CANCEL,
        ..RunListFilter::default()
    };
    let runs = state.store.list_runs(&tenant.workspace.id, filter).await?;
    let (state, tenant) = (&state, &tenant);
    let outcomes: Vec<Result<(), ApiError>> = futures::stream::iter(runs.iter().cloned())
        .map(|run| async move { super::cancel_run(state, tenant, &run).await })
        .buffer_unordered(CANCEL_CONCURRENCY)
        .collect()
        .await;
    let mut cancelled = 0;
    for outcome in outcomes {
        match outcome {
            Ok(()) => cancelled += 1,
            // The run closed meanwhile.
            Err(ApiError::Conflict { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(axum::Json(CancelledRuns {
        matched: runs.len(),
        cancelled,
        more: runs.len() as i64 == MAX_BULK_CANCEL,
    }))
}

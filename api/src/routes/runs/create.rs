//! `POST /v1/runs`: a submission, checked into an admission request, admitted under the
//! workspace's caps and quotas, then started. [`submit`] is that path, once: reruns and batch
//! items take it too.
//!
//! Submission writes the run row first (`queued`), then starts the workflow. With an
//! `Idempotency-Key`, a repeated submission finds the row the first one wrote and never starts
//! a second workflow; the workflow id is derived from the run, and Temporal's conflict policy
//! makes a repeated start a no-op even across API instances.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use longrun_domain::{AgentName, Budget, EventKind, RunId, RunLimits};
use longrun_store::Run;

use super::find_run;
use super::view::{RunView, view};
use crate::AppState;
use crate::admission::{self, Submission};
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::idempotency::{MAX_IDEMPOTENCY_KEY_BYTES, idempotency_key};
use crate::routes::agents::{AgentLimits, validate_output_schema};

pub(crate) const MAX_INPUT_BYTES: usize = 256 * 1024;
const MAX_METADATA_BYTES: usize = 16 * 1024;

/// A run to submit. (Serialised, it is also what an `Idempotency-Key` is compared by.)
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRun {
    /// The agent's name. Optional with `previous_run_id` (then the previous run's agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "demo")]
    pub(crate) agent: Option<String>,
    /// The task: 1 to 256 KiB, not only spaces.
    #[schema(min_length = 1, max_length = 262144, example = "What is 2 ^ 10 - 24?")]
    pub(crate) input: String,
    /// Tightens the agent's limits for this run (a value above the agent's is refused).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::extract::optional_object"
    )]
    pub(crate) budget: Option<AgentLimits>,
    /// Yours, kept with the run: a JSON object of at most 16 KiB. Its scalar values of at
    /// most 256 bytes under keys of at most 64 bytes can filter the runs list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub(crate) metadata: Option<Map<String, Value>>,
    /// Where the run's webhooks are POSTed (Standard Webhooks, signed with the workspace's
    /// webhook secret): an http(s) URL of at most 2048 bytes. Without it, the workspace's
    /// `webhook_url`, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^https?://", max_length = 2048)]
    pub(crate) webhook_url: Option<String>,
    /// Which events are POSTed: `approval.requested`, `tool.requested`, `input.requested`,
    /// `quota.paused`, `run.completed`. Default: the workspace's choice with its URL, else `run.completed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 5, example = json!(["approval.requested", "run.completed"]))]
    pub(crate) webhook_events: Option<Vec<String>>,
    /// A finished run of this workspace whose conversation this run continues: the model
    /// sees that conversation, then `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[0-9a-f]{32}$")]
    pub(crate) previous_run_id: Option<String>,
    /// Structured output for this run: a JSON Schema object (at most 16 KiB) the final
    /// answer must be valid for, in place of the agent's `output_schema`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub(crate) output_schema: Option<Value>,
    /// In a batch, the item's idempotency key (`POST /v1/runs` also takes the
    /// `Idempotency-Key` header): 1 to 255 visible ASCII characters.
    #[serde(default, skip_serializing)]
    #[schema(pattern = "^[!-~]{1,255}$")]
    pub(crate) idempotency_key: Option<String>,
}

/// A checked submission: the agent to run (unless the previous run names it) and what the
/// store is asked to admit.
pub(crate) struct Checked {
    agent: Option<AgentName>,
    previous_run_id: Option<RunId>,
    webhook_events: Option<Vec<EventKind>>,
    output_schema: Option<Value>,
    submission: Submission,
}

impl CreateRun {
    /// Checks every field (naming the one at fault).
    pub(crate) fn check(self, header_key: Option<String>) -> Result<Checked, ApiError> {
        let agent = self
            .agent
            .as_deref()
            .map(|name| AgentName::parse(name).map_err(|_| ApiError::agent_not_found(name)))
            .transpose()?;
        if self.input.trim().is_empty() {
            return Err(ApiError::invalid("input", "must not be empty"));
        }
        if self.input.len() > MAX_INPUT_BYTES {
            return Err(ApiError::invalid(
                "input",
                format!("longer than {MAX_INPUT_BYTES} bytes"),
            ));
        }
        let metadata = match &self.metadata {
            Some(map) => {
                let text =
                    serde_json::to_string(map).map_err(|e| ApiError::Internal(e.to_string()))?;
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
        let webhook_events =
            check_run_webhook(self.webhook_url.as_deref(), self.webhook_events.as_deref())?;
        let previous_run_id = self
            .previous_run_id
            .as_deref()
            .map(|id| RunId::parse(id).map_err(|_| ApiError::run_not_found()))
            .transpose()?;
        let idempotency_key = match (header_key, &self.idempotency_key) {
            (Some(header), Some(field)) if header != *field => {
                return Err(ApiError::invalid(
                    "idempotency_key",
                    "differs from the Idempotency-Key header",
                ));
            }
            (Some(header), _) => Some(header),
            (None, Some(field)) => Some(check_key(field)?),
            (None, None) => None,
        };
        let budget = RunLimits::from(self.budget.unwrap_or_default());
        budget.validate("budget")?;
        if let Some(schema) = &self.output_schema {
            validate_output_schema("output_schema", schema)?;
        }
        let canonical = serde_json::to_vec(&self).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok(Checked {
            agent,
            previous_run_id,
            submission: Submission {
                input: self.input,
                metadata,
                budget,
                webhook_url: self.webhook_url,
                webhook_events: webhook_events
                    .as_ref()
                    .map(|kinds| serde_json::json!(kinds).to_string()),
                previous_run_id: None,
                rerun_of: None,
                request_hash: hex::encode(Sha256::digest(&canonical)),
                idempotency_key,
            },
            webhook_events,
            output_schema: self.output_schema,
        })
    }
}

/// A run webhook as a request names it (`webhook_url`, `webhook_events`): the URL checked,
/// the event kinds parsed.
pub(crate) fn check_run_webhook(
    url: Option<&str>,
    events: Option<&[String]>,
) -> Result<Option<Vec<EventKind>>, ApiError> {
    if let Some(url) = url {
        check_webhook_url("webhook_url", url)?;
    }
    events
        .map(|names| webhook_kinds("webhook_events", names))
        .transpose()
}

/// An http(s) URL of at most 2048 bytes.
pub(crate) fn check_webhook_url(field: &str, url: &str) -> Result<(), ApiError> {
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
        return Err(ApiError::invalid(
            field,
            "an http(s) URL of at most 2048 bytes",
        ));
    }
    Ok(())
}

/// Event kinds a webhook may receive, each named once.
pub(crate) fn webhook_kinds(field: &str, names: &[String]) -> Result<Vec<EventKind>, ApiError> {
    let mut kinds = Vec::with_capacity(names.len());
    for name in names {
        let kind = EventKind::parse(name)
            .filter(|kind| EventKind::WEBHOOK.contains(kind))
            .ok_or_else(|| {
                let allowed: Vec<&str> = EventKind::WEBHOOK.iter().map(|k| k.as_str()).collect();
                ApiError::invalid(
                    field,
                    format!("{name:?} is not one of {}", allowed.join(", ")),
                )
            })?;
        if kinds.contains(&kind) {
            return Err(ApiError::invalid(field, format!("{name:?} given twice")));
        }
        kinds.push(kind);
    }
    Ok(kinds)
}

fn check_key(key: &str) -> Result<String, ApiError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY_BYTES
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::invalid(
            "idempotency_key",
            format!("1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"),
        ));
    }
    Ok(key.to_string())
}

/// What else a submission may carry besides its body: the request's id, and the run it
/// reruns.
#[derive(Debug, Default, Clone)]
pub(crate) struct Origin {
    pub(crate) request_id: Option<String>,
    pub(crate) rerun_of: Option<RunId>,
}

/// Checks, admits and starts one run: the one path of `POST /v1/runs`, reruns and batch
/// items. Answers 202 with a new run, 200 with the run an idempotency key already made.
pub(crate) async fn submit(
    state: &AppState,
    tenant: &Tenant,
    body: CreateRun,
    header_key: Option<String>,
    origin: Origin,
) -> Result<(StatusCode, RunView), ApiError> {
    let Checked {
        agent,
        previous_run_id,
        webhook_events,
        output_schema,
        mut submission,
    } = body.check(header_key)?;
    let workspace_id = &tenant.workspace.id;
    let agent_name = match &previous_run_id {
        Some(previous_id) => {
            let previous = find_run(state, workspace_id, previous_id.as_str()).await?;
            if !previous.is_terminal() {
                return Err(ApiError::Conflict {
                    code: "run_not_finished",
                    message: format!(
                        "run {previous_id} is {}: a conversation continues once its run has \
                         finished",
                        previous.status
                    ),
                });
            }
            submission.previous_run_id = Some(previous_id.to_string());
            agent.unwrap_or(previous.agent_name)
        }
        None => agent.ok_or_else(|| {
            ApiError::invalid("agent", "required (unless previous_run_id is given)")
        })?,
    };
    submission.rerun_of = origin.rerun_of.map(|id| id.to_string());
    let webhook = admission::webhook_of(
        &tenant.workspace,
        submission.webhook_url.as_deref(),
        webhook_events,
    )?;
    let agent = state
        .store
        .agent(workspace_id, &agent_name)
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&agent_name))?;
    let limits = tenant.limits(state)?;
    let budget = Budget::resolve(
        &submission.budget,
        &agent.limits,
        state.settings.default_max_steps,
        limits.max_run_s,
    )?;
    let input_of = |run: &Run| {
        let mut input = admission::run_input(state, tenant, &agent, run, budget, origin.request_id);
        (input.webhook_url, input.webhook_events) = webhook;
        if output_schema.is_some() {
            input.agent.output_schema = output_schema;
        }
        input
    };
    let admitted = admission::admit(state, tenant, &agent, &limits, &submission, input_of).await?;
    admission::start(state, &admitted);
    let status = if admitted.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, view(state, &admitted.run, true)))
}

/// Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
/// the run the first one started, and never starts a second workflow. With
/// `previous_run_id`, the run continues that finished run's conversation.
#[utoipa::path(
    post,
    path = "/v1/runs",
    operation_id = "create_run",
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
            ("RerunRun" = (operation_id = "rerun_run", parameters(("id" = "$response.body#/id")))),
        )),
        (status = 200, description = "The run this `Idempotency-Key` already started.", body = RunView),
        (status = 404, description = "`agent_not_found`; `run_not_found`: no such `previous_run_id` in this workspace.", body = ErrorBody),
        (status = 409, description = "`run_not_finished`: the `previous_run_id` run has not finished.", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    request_id: Option<axum::Extension<crate::RequestId>>,
    headers: HeaderMap,
    Json(body): Json<CreateRun>,
) -> Result<impl IntoResponse, ApiError> {
    let origin = Origin {
        request_id: request_id.map(|axum::Extension(id)| id.0),
        rerun_of: None,
    };
    let (status, run) = submit(&state, &tenant, body, idempotency_key(&headers)?, origin).await?;
    Ok((status, axum::Json(run)))
}

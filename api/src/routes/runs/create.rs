//! `POST /v1/runs`: a submission, checked into an admission request, admitted under the
//! workspace's caps and quotas, then started.
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

use longrun_domain::{AgentName, Budget, RunLimits};

use super::view::{RunView, view};
use crate::AppState;
use crate::admission::{self, Submission};
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::idempotency::idempotency_key;
use crate::routes::agents::AgentLimits;

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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::extract::optional_object"
    )]
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

impl CreateRun {
    /// Checks every field (naming the one at fault) into a submission for `agent`.
    fn check(self, idempotency_key: Option<String>) -> Result<(AgentName, Submission), ApiError> {
        let agent =
            AgentName::parse(&self.agent).map_err(|_| ApiError::agent_not_found(&self.agent))?;
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
        if let Some(url) = &self.webhook_url
            && (!(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048)
        {
            return Err(ApiError::invalid(
                "webhook_url",
                "an http(s) URL of at most 2048 bytes",
            ));
        }
        let budget = RunLimits::from(self.budget.unwrap_or_default());
        budget.validate("budget")?;
        let canonical = serde_json::to_vec(&self).map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((
            agent,
            Submission {
                input: self.input,
                metadata,
                budget,
                webhook_url: self.webhook_url,
                request_hash: hex::encode(Sha256::digest(&canonical)),
                idempotency_key,
            },
        ))
    }
}

/// Admits and starts a run. With an `Idempotency-Key`, a repeated submission answers 200 with
/// the run the first one started, and never starts a second workflow.
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
        )),
        (status = 200, description = "The run this `Idempotency-Key` already started.", body = RunView),
        (status = 402, description = "`quota_exhausted`: a monthly quota is used up (with `metric`, `used`, `limit`).", body = ErrorBody),
        (status = 404, description = "`agent_not_found`.", body = ErrorBody),

        (status = 429, description = "`concurrency_limit`: the workspace runs its most runs at once (with `active`, `limit`).", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    request_id: Option<axum::Extension<crate::RequestId>>,
    headers: HeaderMap,
    Json(body): Json<CreateRun>,
) -> Result<impl IntoResponse, ApiError> {
    let (agent_name, submission) = body.check(idempotency_key(&headers)?)?;
    let agent = state
        .store
        .agent(&tenant.workspace.id, &agent_name)
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&agent_name))?;
    let limits = tenant.limits(&state)?;
    let budget = Budget::resolve(
        &submission.budget,
        &agent.limits,
        state.settings.default_max_steps,
        limits.max_run_s,
    )?;
    let admitted = admission::admit(&state, &tenant, &agent, &limits, &submission).await?;
    let request_id = request_id.map(|axum::Extension(id)| id.0);
    let input = admission::run_input(&state, &tenant, &agent, &admitted.run, budget, request_id);
    admission::start(&state, &admitted, &limits, input).await?;
    let status = if admitted.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json::<RunView>(view(&state, &admitted.run, true)),
    ))
}

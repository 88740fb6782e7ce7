//! Run webhooks: the finished run (`run.completed`), or an event a person should act on
//! (`approval.requested`, `input.requested`, `quota.paused`), POSTed to the client's URL in
//! the Standard Webhooks shape (`{"type", "timestamp", "data"}`) and signed the Standard
//! Webhooks way with the workspace's secret. Failures retry (the workflow's retry policy
//! backs off for up to a day); a URL that points somewhere forbidden does not.

use serde_json::json;
use temporalio_sdk::activities::ActivityError;

use longrun_domain::EventKind;
use longrun_store::{Run, Store};
use longrun_workflows::payloads::WebhookRequest;

use crate::egress::{EgressPolicy, check_url};
use crate::errors::{from_store, non_retryable, retryable};
use crate::tools::webhook::message_request;

pub(crate) async fn deliver_run(
    store: &Store,
    http: &reqwest::Client,
    settings: &EgressPolicy,
    request: &WebhookRequest,
    attempt: u32,
) -> Result<(), ActivityError> {
    let run_ref = &request.run;
    let run = store
        .run(&run_ref.workspace_id, &run_ref.run_id)
        .await
        .map_err(from_store)?
        .ok_or_else(|| non_retryable("run_not_found", "the run no longer exists"))?;
    let url = check_url(settings, &request.url)
        .map_err(|refused| non_retryable("webhook_refused", refused.to_string()))?;
    let secret = store
        .webhook_secret(&run_ref.workspace_id)
        .await
        .map_err(from_store)?;
    let timestamp = longrun_store::now_ms() / 1000;
    let (body, message_id) = body_and_id(&run, request, timestamp);
    let response = message_request(http, url, &message_id, timestamp, Some(&secret), body)
        .send()
        .await
        .map_err(|e| {
            retryable(
                "webhook_failed",
                format!(
                    "attempt {attempt}: the webhook endpoint is unreachable: {}",
                    short(&e)
                ),
                None,
            )
        })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(retryable(
        "webhook_failed",
        format!("attempt {attempt}: the webhook endpoint answered {status}"),
        None,
    ))
}

/// The body and the `webhook-id` of a delivery. The id is stable per run and event, so
/// receivers deduplicate retries by it.
fn body_and_id(run: &Run, request: &WebhookRequest, timestamp: i64) -> (String, String) {
    let time = chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    let (kind, data, id) = match &request.event {
        None => (
            EventKind::RunCompleted,
            run_data(run),
            format!("msg_{}", run.id),
        ),
        Some(event) => {
            let mut data = json!({ "run_id": run.id, "agent": run.agent_name });
            if let (Some(fields), Some(extra)) = (data.as_object_mut(), event.data.as_object()) {
                fields.extend(extra.clone());
            }
            let key: String = event
                .key
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            (event.kind, data, format!("msg_{}_{key}", run.id))
        }
    };
    let body = json!({ "type": kind, "timestamp": time, "data": data }).to_string();
    (body, id)
}

/// The finished run, as `run.completed` carries it.
fn run_data(run: &Run) -> serde_json::Value {
    json!({
        "id": run.id,
        "agent": run.agent_name,
        "status": run.status,
        "result": run.result,
        "error": run.error_code.as_ref().map(|code| json!({"code": code, "message": run.error_message})),
        "workflow_id": run.workflow_id,
        "step": run.step,
        "usage": {
            "input_tokens": run.usage.input_tokens,
            "output_tokens": run.usage.output_tokens,
            "cache_read_tokens": run.usage.cache_read_tokens,
            "cache_write_tokens": run.usage.cache_write_tokens,
            "tool_calls": run.usage.tool_calls,
            "agent_ms": run.usage.agent_ms,
            "cost_usd": run.usage.cost_micro_usd as f64 / 1e6,
        },
        "metadata": run.metadata.as_deref().and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok()),
        "previous_run_id": run.previous_run_id,
        "rerun_of": run.rerun_of,
    })
}

/// A transport error without the URL (which may carry tokens in its query).
fn short(err: &reqwest::Error) -> &'static str {
    if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection refused or unreachable"
    } else {
        "request failed"
    }
}

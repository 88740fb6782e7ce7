//! Webhooks for the events a person should act on (`approval.requested`, `input.requested`,
//! `quota.paused`) and for the run's end, to the run's webhook URL, as the run asked
//! (`webhook_events`, resolved at admission from the run or its workspace).
//!
//! An event's webhook is an activity the workflow starts and does not wait for: the run goes
//! on waiting for its human while Temporal retries the delivery on its own schedule (durable
//! across worker crashes, for up to `webhook_retry_s`). It has a cancellation token of its
//! own, so cancelling the run does not call the webhook back. Runs started before this
//! existed have no `webhook_events`, so they never reach the patch marker and replay as
//! they ran.

use std::time::Duration;

use temporalio_workflow::{
    ActivityCloseTimeouts, ActivityOptions, WorkflowCancellationToken, WorkflowContext,
};

use super::AgentRunWorkflow;
use crate::contracts::DeliverWebhook;
use crate::payloads::{EventKind, RunInput, WebhookEvent, WebhookRequest};

/// The patch marker of event webhooks.
const EVENT_WEBHOOKS: &str = "event-webhooks";

/// Where `kind` is POSTed for this run, if it asked for it. Without `webhook_events`, only
/// the run's end is (as it always was).
pub(super) fn url_for(input: &RunInput, kind: EventKind) -> Option<&str> {
    let url = input.webhook_url.as_deref()?;
    let wanted = match &input.webhook_events {
        None => kind == EventKind::RunCompleted,
        Some(kinds) => kinds.contains(&kind),
    };
    wanted.then_some(url)
}

/// How a webhook is delivered: retried with backoff up to an hour apart, for
/// `webhook_retry_s` in all, on a cancellation token of its own.
pub(super) fn delivery_options(
    input: &RunInput,
    token: WorkflowCancellationToken,
    summary: String,
) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(input.tuning.webhook_retry_s),
        start_to_close: Duration::from_secs(30),
    })
    .cancellation_token(token)
    .retry_policy(crate::retry::backoff(
        Duration::from_secs(1),
        Duration::from_secs(3600),
        0,
    ))
    .summary(summary)
    .build()
}

/// Starts the webhook of an event the run just recorded, when the run asked for it.
pub(super) fn on_event(
    ctx: &mut WorkflowContext<AgentRunWorkflow>,
    input: &RunInput,
    kind: EventKind,
    key: &str,
    data: &serde_json::Value,
) {
    if kind == EventKind::RunCompleted {
        // The end is delivered by `ending::finish`, after the run row is final.
        return;
    }
    let Some(url) = url_for(input, kind) else {
        return;
    };
    if !ctx.patched(EVENT_WEBHOOKS) {
        return;
    }
    let request = WebhookRequest {
        run: input.run.clone(),
        url: url.to_string(),
        event: Some(WebhookEvent {
            kind,
            key: key.to_string(),
            data: data.clone(),
        }),
    };
    let options = delivery_options(
        input,
        WorkflowCancellationToken::new(),
        format!("{kind} webhook"),
    );
    // Scheduled when called; not awaited (see the module's documentation).
    drop(ctx.execute_activity(DeliverWebhook, request, options));
}

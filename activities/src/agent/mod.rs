//! The agent-run activities: everything `AgentRunWorkflow` asks of the world. Each one is
//! idempotent under retry: messages, ledger rows and events carry keys made of the run, the
//! execution, the step and the unit, so a second attempt writes nothing new, and a model turn
//! whose answer was already stored is not paid for twice.
//!
//! The activities are declared here, each a thin entry that logs and hands over to its part:
//! the run's lifecycle ([`lifecycle`]: start, statuses, the end, webhooks, rollups), the model
//! turn ([`model_turn`]) and the tool call ([`tool_call`]).

mod lifecycle;
mod model_turn;
mod tool_call;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tracing::Instrument;

use longrun_domain::{EventKind, Tiers};
use longrun_store::{NewEvent, Store};
use longrun_workflows::contracts;
use longrun_workflows::payloads::{
    EventRequest, FinishRunRequest, LlmRequest, LlmResponse, RunRef, StartRunRequest, ToolOutcome,
    ToolRequest, WebhookRequest,
};

use crate::egress::EgressPolicy;
use crate::errors::{from_store, retryable};
use crate::metering::Meter;
use crate::metrics::ActivityMetrics;
use crate::models::ModelRouter;
use crate::prices::Prices;

/// What the activities need besides the store and the models.
#[derive(Debug, Clone)]
pub struct ActivitySettings {
    /// Where outbound requests (http_fetch, webhooks, alerts) may go: caps and the
    /// operator's allowlist.
    pub egress: EgressPolicy,
    /// Root of the workspaces' file sandboxes (`<data dir>/workspaces`).
    pub sandboxes: PathBuf,
    /// How long a webhook tool call may take.
    pub webhook_timeout: Duration,
    /// Tier limits, for the hard cap and usage alerts.
    pub tiers: Tiers,
    /// What billable units cost.
    pub prices: Prices,
    /// Test knob: fail each model and tool activity's first attempt right after its ledger
    /// rows committed, to prove retries neither bill twice nor lose a row.
    pub fail_first_attempt_after_metering: bool,
}

impl ActivitySettings {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            egress: EgressPolicy::default(),
            sandboxes: data_dir.join("workspaces"),
            webhook_timeout: Duration::from_secs(30),
            tiers: Tiers::default(),
            prices: Prices::default(),
            fail_first_attempt_after_metering: false,
        }
    }
}

/// The activities' shared dependencies: passed in, never global.
pub struct AgentActivities {
    store: Store,
    models: ModelRouter,
    settings: ActivitySettings,
    /// Client for tool and webhook calls: it refuses private addresses unless allowlisted.
    guarded_http: reqwest::Client,
    meter: Meter,
    metrics: ActivityMetrics,
}

impl AgentActivities {
    pub fn new(
        store: Store,
        models: ModelRouter,
        settings: ActivitySettings,
        metrics: ActivityMetrics,
    ) -> Result<Self, reqwest::Error> {
        let guarded_http = crate::egress::guarded_client(&settings.egress)?;
        Ok(Self {
            meter: Meter::new(store.clone(), settings.prices.clone(), metrics.clone()),
            store,
            models,
            settings,
            guarded_http,
            metrics,
        })
    }

    /// The test knob of [`ActivitySettings::fail_first_attempt_after_metering`].
    fn injected_fault(&self, ctx: &ActivityContext) -> Result<(), ActivityError> {
        if self.settings.fail_first_attempt_after_metering && ctx.info().attempt == 1 {
            return Err(retryable(
                "injected_fault",
                "a fault injected after metering (test)",
                None,
            ));
        }
        Ok(())
    }

    async fn event(
        &self,
        run: &RunRef,
        kind: EventKind,
        dedupe_key: &str,
        data: Value,
    ) -> Result<(), ActivityError> {
        self.store
            .append_event(NewEvent {
                workspace_id: &run.workspace_id,
                run_id: &run.run_id,
                kind,
                dedupe_key,
                data: &data.to_string(),
            })
            .await
            .map_err(from_store)?;
        self.metrics
            .events
            .with_label_values(&[kind.as_str()])
            .inc();
        Ok(())
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Runs `work` while heartbeating every `every` (when non-zero), and gives up when Temporal
/// delivers a cancellation: dropping `work` drops its connections, so the other side sees it.
async fn heartbeating<T>(
    ctx: &ActivityContext,
    every: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ActivityError> {
    tokio::pin!(work);
    if every.is_zero() {
        return Ok(work.await);
    }
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            done = &mut work => return Ok(done),
            _ = ticks.tick() => {
                // Failing to send one heartbeat is not fatal; a dead worker is what the
                // heartbeat timeout is for.
                let _ = ctx.record_heartbeat(()).await;
            }
            _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
        }
    }
}

/// The span an activity's log lines carry: which activity, for which run, and the
/// submission's `X-Request-Id`, so they join the API's.
fn activity_span(kind: &'static str, run: &RunRef) -> tracing::Span {
    tracing::info_span!(
        "activity",
        kind,
        run_id = %run.run_id,
        workspace = %run.workspace_slug,
        request_id = run.request_id.as_deref().unwrap_or_default(),
    )
}

/// The heartbeat pace for a heartbeat timeout: several beats per timeout.
fn beat_every(timeout: Option<Duration>) -> Duration {
    timeout
        .map(|t| (t / 4).clamp(Duration::from_millis(100), Duration::from_secs(10)))
        .unwrap_or(Duration::ZERO)
}

#[activities]
impl AgentActivities {
    #[activity(definition = contracts::StartRun)]
    pub async fn start_run(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: StartRunRequest,
    ) -> Result<(), ActivityError> {
        self.record_start(&request)
            .instrument(activity_span("start_run", &request.run))
            .await
    }

    #[activity(definition = contracts::LlmCall)]
    pub async fn llm_call(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: LlmRequest,
    ) -> Result<LlmResponse, ActivityError> {
        self.model_turn(&ctx, &request)
            .instrument(activity_span("llm_call", &request.run))
            .await
    }

    #[activity(definition = contracts::RunTool)]
    pub async fn run_tool(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: ToolRequest,
    ) -> Result<ToolOutcome, ActivityError> {
        self.tool_call(&ctx, &request)
            .instrument(activity_span("run_tool", &request.run))
            .await
    }

    #[activity(definition = contracts::RecordEvent)]
    pub async fn record_event(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: EventRequest,
    ) -> Result<(), ActivityError> {
        let span = activity_span("record_event", &request.run);
        self.record_status_event(request).instrument(span).await
    }

    #[activity(definition = contracts::FinishRun)]
    pub async fn finish_run(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: FinishRunRequest,
    ) -> Result<(), ActivityError> {
        self.record_finish(&request)
            .instrument(activity_span("finish_run", &request.run))
            .await
    }

    #[activity(definition = contracts::RollupDay)]
    pub async fn rollup_day(
        self: Arc<Self>,
        _ctx: ActivityContext,
        day_start_ms: i64,
    ) -> Result<i64, ActivityError> {
        self.rollup(day_start_ms).await
    }

    #[activity(definition = contracts::DeliverWebhook)]
    pub async fn deliver_webhook(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: WebhookRequest,
    ) -> Result<(), ActivityError> {
        self.deliver(&ctx, &request)
            .instrument(activity_span("deliver_webhook", &request.run))
            .await
    }
}

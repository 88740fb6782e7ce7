//! The agent-run activities: everything `AgentRunWorkflow` asks of the world. Each one is
//! idempotent under retry: messages, ledger rows and events carry keys made of the run, the
//! execution, the step and the unit, so a second attempt writes nothing new, and a model turn
//! whose answer was already stored is not paid for twice.
//!
//! The activities are declared here, each a thin entry that logs and hands over to its part:
//! the run's lifecycle ([`lifecycle`]: start, statuses, the end, webhooks, rollups), the model
//! turn ([`model_turn`]), the tool call ([`tool_call`]) and MCP servers ([`mcp`]: their
//! tools' discovery and calls).

mod lifecycle;
mod mcp;
mod model_turn;
mod structured;
mod tool_call;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use tracing::Instrument;

use longrun_domain::{EventKind, Tiers};
use longrun_store::{NewUsageEvent, StepEvent, StepOutcome, StepWrite, Store, StoreError};
use longrun_workflows::contracts;
use longrun_workflows::payloads::{
    EventRequest, FinishRunRequest, LlmRequest, LlmResponse, McpDiscoveryOutcome,
    McpDiscoveryRequest, RunRef, StartRunRequest, ToolOutcome, ToolRequest, WebhookRequest,
};

use crate::cancel::{CancelWatch, InFlight};
use crate::egress::EgressPolicy;
use crate::enforcement::{AlertsRaised, Standing};
use crate::errors::{from_store, non_retryable, retryable};
use crate::metering::{Meter, UnitLedger};
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
    /// How long one request to an MCP server may take (each of a call's handshake, tool
    /// list and `tools/call`; the tool timeout bounds the whole call).
    pub mcp_timeout: Duration,
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
            mcp_timeout: Duration::from_secs(30),
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
    /// This worker's calls in flight, stopped when their run is cancelled.
    cancels: CancelWatch,
    /// Usage alerts this process raised (or found raised), so a workspace over a threshold
    /// is not asked about it again at every turn.
    alerts_raised: AlertsRaised,
}

impl AgentActivities {
    /// The activities; `cancels` must be run (see [`CancelWatch::run`]) for cancellations to
    /// reach calls in flight before their next heartbeat.
    pub fn new(
        store: Store,
        models: ModelRouter,
        settings: ActivitySettings,
        metrics: ActivityMetrics,
        cancels: CancelWatch,
    ) -> Result<Self, reqwest::Error> {
        let guarded_http = crate::egress::guarded_client(&settings.egress)?;
        Ok(Self {
            meter: Meter::new(settings.prices.clone(), metrics.clone()),
            store,
            models,
            settings,
            guarded_http,
            metrics,
            cancels,
            alerts_raised: AlertsRaised::default(),
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

    /// Records one event (and nothing else) of a run.
    async fn event(
        &self,
        run: &RunRef,
        kind: EventKind,
        dedupe_key: &str,
        data: Value,
    ) -> Result<(), ActivityError> {
        let event = OwnedEvent::new(kind, dedupe_key, &data);
        let events = [event.as_step()];
        let write = StepWrite {
            events: &events,
            ..StepWrite::default()
        };
        self.write_step(run, &write, &[]).await.map(|_| ())
    }

    /// Writes a step of a run in one transaction, counting its ledger rows and events.
    async fn write_step(
        &self,
        run: &RunRef,
        write: &StepWrite<'_>,
        rows: &[NewUsageEvent<'_>],
    ) -> Result<StepOutcome, ActivityError> {
        let outcome = self
            .store
            .write_step(&run.workspace_id, &run.run_id, write)
            .await;
        self.counted(run, write, rows, outcome).map_err(from_store)
    }

    /// Writes the step of work already done (an answer paid for, a tool that ran), waiting
    /// out a store outage: while the database is away the write is tried again, with capped
    /// backoff, for as long as this attempt has time, and `carry` (what the work produced)
    /// goes into the heartbeat details, so that the next attempt writes it instead of doing
    /// the work again.
    async fn write_done_step<C: serde::Serialize + Clone + Send + 'static>(
        &self,
        ctx: &ActivityContext,
        run: &RunRef,
        write: &StepWrite<'_>,
        rows: &[NewUsageEvent<'_>],
        carry: &C,
        retry_cap: Duration,
    ) -> Result<StepOutcome, ActivityError> {
        let mut tries = 0;
        loop {
            let outcome = self
                .store
                .write_step(&run.workspace_id, &run.run_id, write)
                .await;
            match self.counted(run, write, rows, outcome) {
                Ok(outcome) => return Ok(outcome),
                Err(err) if err.is_unavailable() => {
                    tries += 1;
                    let _ = ctx.record_heartbeat(carry.clone()).await;
                    let wait = backoff(tries, retry_cap);
                    let left = ctx
                        .info()
                        .deadline
                        .and_then(|d| d.duration_since(std::time::SystemTime::now()).ok());
                    if left.is_some_and(|left| left < wait + Duration::from_secs(5)) {
                        tracing::warn!(run = %run.run_id, "the store is still away; the next attempt writes this step");
                        return Err(retryable(
                            "store_unavailable",
                            "the database is unavailable",
                            Some(wait),
                        ));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
                    }
                }
                Err(err) => return Err(from_store(err)),
            }
        }
    }

    /// Counts what a step's write did (ledger rows, events) and passes its outcome on.
    fn counted(
        &self,
        run: &RunRef,
        write: &StepWrite<'_>,
        rows: &[NewUsageEvent<'_>],
        outcome: Result<StepOutcome, StoreError>,
    ) -> Result<StepOutcome, StoreError> {
        let ledger: Result<&[_], &StoreError> = match &outcome {
            Ok(StepOutcome::Written { ledger, .. }) => Ok(ledger),
            Ok(StepOutcome::AlreadyWritten { .. }) => Ok(&[]),
            Err(err) => Err(err),
        };
        self.meter.observe(run, rows, ledger);
        let outcome = outcome?;
        if matches!(outcome, StepOutcome::Written { .. }) {
            for event in write.events {
                self.metrics
                    .events
                    .with_label_values(&[event.kind.as_str()])
                    .inc();
            }
        }
        Ok(outcome)
    }

    /// Raises the usage alerts a unit's cost crossed (rare; best effort: a failure here
    /// does not fail the unit, whose step is committed, and the next turn tries again).
    async fn alerts(&self, run: &RunRef, mut standing: Standing, ledger: &UnitLedger) {
        for row in ledger.rows(run) {
            standing.used += &row.totals;
        }
        let raised = crate::enforcement::raise_alerts(
            &self.store,
            &self.guarded_http,
            &self.settings.egress,
            run,
            &standing,
            &self.alerts_raised,
        )
        .await;
        if let Err(err) = raised {
            tracing::warn!(error = %err, "cannot raise usage alerts; the next turn tries again");
        }
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Runs a model or tool call: heartbeats every `every` (when non-zero; the first after
/// `every`, so a short call sends none) for Temporal to notice a dead worker, and gives up
/// when the run is cancelled, heard through `in_flight` (at once) or through Temporal's
/// heartbeat response. Dropping `work` drops its connections, so the other side sees it.
async fn guarded<T>(
    ctx: &ActivityContext,
    mut in_flight: Option<&mut InFlight>,
    every: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ActivityError> {
    tokio::pin!(work);
    let cancelled = async {
        match in_flight.as_mut() {
            Some(in_flight) => in_flight.cancelled().await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(cancelled);
    let beats = !every.is_zero();
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + every.max(Duration::from_millis(1)),
        every.max(Duration::from_millis(1)),
    );
    loop {
        tokio::select! {
            done = &mut work => return Ok(done),
            _ = ticks.tick(), if beats => {
                // Failing to send one heartbeat is not fatal; a dead worker is what the
                // heartbeat timeout is for.
                let _ = ctx.record_heartbeat(()).await;
            }
            _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
            _ = &mut cancelled => {
                return Err(non_retryable("run_cancelled", "the run was cancelled"));
            }
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

/// An event a step writes, its data serialized and held here: [`Self::as_step`] lends it
/// to a [`StepWrite`].
struct OwnedEvent {
    kind: EventKind,
    dedupe_key: String,
    data: String,
}

impl OwnedEvent {
    fn new(kind: EventKind, dedupe_key: impl Into<String>, data: &Value) -> Self {
        Self {
            kind,
            dedupe_key: dedupe_key.into(),
            data: data.to_string(),
        }
    }

    fn as_step(&self) -> StepEvent<'_> {
        StepEvent {
            kind: self.kind,
            dedupe_key: &self.dedupe_key,
            data: &self.data,
        }
    }
}

/// What an attempt before this one left in its heartbeat details, if it left a `T`.
fn carried<T: serde::de::DeserializeOwned + 'static>(ctx: &ActivityContext) -> Option<T> {
    ctx.heartbeat_details().deserialize::<T>().ok().flatten()
}

/// The wait before try `tries + 1` of something waiting out an outage: doubling from half a
/// second, capped.
pub(crate) fn backoff(tries: u32, cap: Duration) -> Duration {
    let exponent = tries.clamp(1, 16) - 1;
    (Duration::from_millis(500) * 2u32.pow(exponent)).min(cap.max(Duration::from_millis(500)))
}

/// The heartbeat pace for a heartbeat timeout: one beat per timeout, a twentieth of it (at
/// least a second, at most half) early so it lands in time, so a waiting call costs the
/// Temporal server (and, on Temporal Cloud, the bill) about one heartbeat per timeout, and a
/// call shorter than that none. Cancellation does not wait for heartbeats (see
/// [`crate::cancel`]).
fn beat_every(timeout: Option<Duration>) -> Duration {
    timeout
        .map(|t| {
            let early = (t / 20).max(Duration::from_secs(1)).min(t / 2);
            (t - early).max(Duration::from_millis(100))
        })
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
        let response = self
            .model_turn(&ctx, &request)
            .instrument(activity_span("llm_call", &request.run))
            .await?;
        Ok(structured::check(response, request.output_schema.as_ref()))
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

    #[activity(definition = contracts::DiscoverMcpTools)]
    pub async fn discover_mcp_tools(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: McpDiscoveryRequest,
    ) -> Result<McpDiscoveryOutcome, ActivityError> {
        let span = tracing::info_span!(
            "activity",
            kind = "discover_mcp_tools",
            workspace = %request.workspace_id,
        );
        self.discover_mcp(&request).instrument(span).await
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

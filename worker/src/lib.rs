//! Builds and runs longrun's Temporal worker: which workflows and activities it registers,
//! how it polls, and how it connects to the Temporal server.
//!
//! The SDK's `Worker::run` future is not `Send`: callers drive it on their own task (with
//! `tokio::select!`/`join!`), never with `tokio::spawn`.

pub mod reconcile;
pub mod replay;
pub mod sweep;

use std::sync::Arc;
use std::time::Duration;

use temporalio_client::Client;
use temporalio_common::telemetry::TelemetryOptions;
use temporalio_sdk::runtime::RuntimeOptions;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use longrun_activities::AgentActivities;
use longrun_workflows::payloads::RollupInput;
use longrun_workflows::{AgentRunWorkflow, McpDiscoveryWorkflow, UsageRollupWorkflow};

pub use longrun_temporal::{TemporalSettings, connect, ping};

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Temporal(#[from] longrun_temporal::TemporalError),
    #[error("cannot start the Temporal runtime: {0}")]
    Runtime(String),
    #[error("cannot build the worker: {0}")]
    Build(String),
    #[error("the worker stopped with an error: {0}")]
    Run(String),
}

/// How the worker polls and how much it runs at once.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub task_queue: String,
    /// How long running activities may take to finish after shutdown starts, before they are
    /// cancelled.
    pub shutdown_grace: Duration,
    /// Workflow tasks processed at once.
    pub workflow_slots: usize,
    /// Activities (and local activities) run at once.
    pub activity_slots: usize,
}

/// The Temporal runtime for the current tokio runtime, with the SDK's logs forwarded into the
/// process's `tracing` subscriber (they are invisible otherwise). With `sdk_metrics`, the SDK's
/// own series (task latencies, slots, poll results, failures) are exported on an ephemeral
/// loopback port, returned so the process's `/metrics` can include them: the SDK's exporter
/// owns its registry, and one scrape target per process is what operators expect.
pub fn runtime(
    subscriber: Option<Arc<dyn tracing::Subscriber + Send + Sync>>,
    sdk_metrics: bool,
) -> Result<(Runtime, Option<std::net::SocketAddr>), WorkerError> {
    use temporalio_common::telemetry::{
        PrometheusExporterOptions, start_prometheus_metric_exporter,
    };
    let exporter = if sdk_metrics {
        let options = PrometheusExporterOptions::builder()
            .socket_addr(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .counters_total_suffix(true)
            .unit_suffix(true)
            .use_seconds_for_durations(true)
            .build();
        Some(
            start_prometheus_metric_exporter(options)
                .map_err(|e| WorkerError::Runtime(e.to_string()))?,
        )
    } else {
        None
    };
    let telemetry =
        TelemetryOptions::builder()
            .maybe_subscriber_override(subscriber)
            .maybe_metrics(exporter.as_ref().map(|e| {
                e.meter.clone() as Arc<dyn temporalio_common::telemetry::metrics::CoreMeter>
            }))
            .build();
    let options = RuntimeOptions::builder()
        .telemetry_options(telemetry)
        .build()
        .map_err(WorkerError::Runtime)?;
    let runtime =
        Runtime::from_current_tokio(options).map_err(|e| WorkerError::Runtime(e.to_string()))?;
    Ok((runtime, exporter.map(|e| e.bound_addr)))
}

/// A worker for `AgentRunWorkflow` and its activities on the configured task queue.
pub fn build(
    runtime: &Runtime,
    client: Client,
    settings: &WorkerSettings,
    activities: AgentActivities,
) -> Result<Worker, WorkerError> {
    let options = WorkerOptions::new(settings.task_queue.clone())
        .register_workflow::<AgentRunWorkflow>()
        .map_err(|e| WorkerError::Build(e.to_string()))?
        .register_workflow::<UsageRollupWorkflow>()
        .map_err(|e| WorkerError::Build(e.to_string()))?
        .register_workflow::<McpDiscoveryWorkflow>()
        .map_err(|e| WorkerError::Build(e.to_string()))?
        .register_activities(activities)
        .graceful_shutdown_period(settings.shutdown_grace)
        .tuner(longrun_temporal::fixed_slots(
            settings.workflow_slots,
            settings.activity_slots,
        ))
        .build();
    Worker::new(runtime, client, options).map_err(|e| WorkerError::Build(e.to_string()))
}

/// The id of the Schedule that starts the daily usage rollup.
pub const ROLLUP_SCHEDULE_ID: &str = "longrun-usage-rollup";

/// Creates the daily rollup Schedule (00:15 UTC; the last 3 days) unless it exists: every
/// worker calls this at start, and only the first creates it.
pub async fn ensure_rollup_schedule(
    client: &Client,
    task_queue: &str,
) -> Result<bool, WorkerError> {
    use temporalio_client::schedules::{
        CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleSpec,
    };
    let options = CreateScheduleOptions::builder()
        .action(ScheduleAction::start_workflow(
            UsageRollupWorkflow::run,
            RollupInput { days: 3 },
            task_queue,
            "longrun-usage-rollup",
        ))
        .spec(
            ScheduleSpec::builder()
                .cron_strings(vec!["15 0 * * *".to_string()])
                .timezone_name("UTC")
                .build(),
        )
        .note("Rolls the usage ledger up into usage_daily (longrun).")
        .build();
    match client.create_schedule(ROLLUP_SCHEDULE_ID, options).await {
        Ok(_) => Ok(true),
        Err(ScheduleError::Rpc(status))
            if status.code() == temporalio_client::tonic::Code::AlreadyExists =>
        {
            Ok(false)
        }
        Err(err) => Err(WorkerError::Build(format!(
            "cannot create the rollup schedule: {err}"
        ))),
    }
}

//! `longrun worker`: the Temporal worker against the configured database and Temporal.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use prometheus::Registry;
use tokio::sync::watch;

use longrun_activities::metrics::ActivityMetrics;
use longrun_activities::{AgentActivities, CancelWatch, ModelRouter};
use longrun_api::readiness::Readiness;
use longrun_store::Store;
use longrun_temporal::TemporalSettings;
use longrun_worker::WorkerSettings;

use super::{
    Part, activity_settings, observability, open_store, provider_settings, shutdown_signal,
    stopped, supervise, temporal_settings,
};
use crate::config::Config;
use crate::telemetry::MetricsExtras;

/// `longrun worker`: readiness and metrics on its metrics listener from the start (Temporal
/// counts as down until the first connection), then the worker and the sweep.
pub(crate) async fn worker(
    config: Config,
    subscriber: Arc<dyn tracing::Subscriber + Send + Sync>,
) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let stop = shutdown_signal();
    let registry = Registry::new();
    let temporal: Arc<OnceLock<temporalio_client::Client>> = Arc::default();
    let readiness = {
        let store = store.clone();
        let temporal = temporal.clone();
        Readiness::new(&registry)?
            .check("database", move || {
                let store = store.clone();
                async move { store.ping().await.map_err(|e| e.to_string()) }
            })
            .check("temporal", move || {
                let client = temporal.get().cloned();
                async move {
                    match client {
                        Some(client) => longrun_temporal::ping(&client).await,
                        None => Err("not connected yet".to_string()),
                    }
                }
            })
    };
    let extras = MetricsExtras {
        readiness: Some(readiness.clone()),
        ..Default::default()
    };
    let settings = temporal_settings(&config);
    let mut parts = Vec::from(observability(
        &config, &registry, &extras, &readiness, &stop,
    ));
    parts.push(Part::new("worker", async {
        let Some(client) = connect_with_retry(&settings, "longrun-worker", &stop.watch).await?
        else {
            return Ok(());
        };
        let _ = temporal.set(client.clone());
        run_worker(
            &config,
            client,
            &store,
            subscriber,
            &registry,
            &extras.sdk,
            &stop.watch,
        )
        .await
    }));
    let outcome = supervise(parts, stop.switch.clone()).await;
    store.close().await;
    outcome
}

/// The worker and the sweep of runs whose workflow closed unseen, until the process stops.
pub(super) async fn run_worker(
    config: &Config,
    client: temporalio_client::Client,
    store: &Store,
    subscriber: Arc<dyn tracing::Subscriber + Send + Sync>,
    registry: &Registry,
    sdk_metrics: &OnceLock<SocketAddr>,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    ensure_schedules(&client, &config.task_queue).await;
    let sweep = tokio::spawn(longrun_worker::sweep::run(
        store.clone(),
        client.clone(),
        Duration::from_secs(30),
    ));
    // Cancellations reach calls in flight through the store's notifications (Postgres:
    // LISTEN), not only through Temporal's heartbeats.
    let _listener = store
        .listen_for_events()
        .await
        .context("cannot LISTEN for cancellations")?;
    let cancels = CancelWatch::default();
    let watch = tokio::spawn(cancels.clone().run(store.clone(), stop.clone()));
    let (_runtime, mut worker) = build_worker(
        config,
        client,
        store.clone(),
        subscriber,
        registry,
        sdk_metrics,
        cancels,
    )?;
    tracing::info!(task_queue = %config.task_queue, "worker polling");
    let outcome = drive_worker(&mut worker, stop.clone()).await;
    sweep.abort();
    watch.abort();
    outcome
}

/// Connects to Temporal, retrying with backoff until it answers or the process is stopped:
/// a worker started before its server waits for it instead of exiting.
async fn connect_with_retry(
    settings: &TemporalSettings,
    identity: &str,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Option<temporalio_client::Client>> {
    let mut delay = Duration::from_millis(500);
    loop {
        match longrun_temporal::connect(settings, identity).await {
            Ok(client) => return Ok(Some(client)),
            Err(err) => {
                tracing::warn!(error = %err, retry_in = ?delay, "Temporal is not answering yet")
            }
        }
        let mut stop = shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|s| *s) => return Ok(None),
        }
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

/// Runs a worker until it stops or the process is asked to stop; on a stop it lets running
/// activities finish within the grace period.
async fn drive_worker(
    worker: &mut temporalio_sdk::Worker,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let begin_shutdown = worker.shutdown_handle();
    let run = worker.run();
    tokio::pin!(run);
    tokio::select! {
        result = &mut run => return result.context("the worker stopped"),
        _ = stopped(shutdown) => begin_shutdown(),
    }
    run.await.context("the worker failed while shutting down")
}

fn build_worker(
    config: &Config,
    client: temporalio_client::Client,
    store: Store,
    subscriber: Arc<dyn tracing::Subscriber + Send + Sync>,
    registry: &Registry,
    sdk_metrics: &OnceLock<SocketAddr>,
    cancels: CancelWatch,
) -> anyhow::Result<(temporalio_sdk::Runtime, temporalio_sdk::Worker)> {
    let (runtime, sdk_address) = longrun_worker::runtime(Some(subscriber), true)?;
    if let Some(address) = sdk_address {
        let _ = sdk_metrics.set(address);
    }
    let models = ModelRouter::new(provider_settings(config))
        .context("cannot build the HTTP client for model providers")?;
    let metrics = ActivityMetrics::register(registry)?;
    let activities =
        AgentActivities::new(store, models, activity_settings(config), metrics, cancels)
            .context("cannot build the HTTP client for tools")?;
    let worker = longrun_worker::build(
        &runtime,
        client,
        &WorkerSettings {
            task_queue: config.task_queue.clone(),
            shutdown_grace: config.shutdown_grace,
            workflow_slots: config.worker_workflow_slots,
            activity_slots: config.worker_activity_slots,
        },
        activities,
    )?;
    Ok((runtime, worker))
}

/// Creates the daily usage rollup Schedule if missing; a failure is logged, not fatal (the
/// next worker start tries again; quotas read the ledger meanwhile).
async fn ensure_schedules(client: &temporalio_client::Client, task_queue: &str) {
    match longrun_worker::ensure_rollup_schedule(client, task_queue).await {
        Ok(true) => tracing::info!("created the daily usage rollup schedule"),
        Ok(false) => {}
        Err(err) => tracing::warn!(error = %err, "cannot create the daily usage rollup schedule"),
    }
}

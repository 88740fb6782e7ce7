//! `longrun api`: the HTTP API against the configured database and Temporal.

use anyhow::{Context, bail};
use prometheus::Registry;

use longrun_api::scheduler::Scheduler;

use super::{
    api_server, app_state, bind_api, dispatcher, observability, open_store, shutdown_signal,
    supervise, temporal_settings,
};
use crate::config::Config;
use crate::telemetry::MetricsExtras;

/// `longrun api`: the server, its metrics listener and its readiness refresh.
pub(crate) async fn api(config: Config) -> anyhow::Result<()> {
    if config.jwt_secret.is_none() {
        bail!("LONGRUN_JWT_SECRET is required for `longrun api` (at least 32 bytes)");
    }
    let store = open_store(&config).await?;
    let _listener = store
        .listen_for_events()
        .await
        .context("cannot LISTEN for run events")?;
    let registry = Registry::new();
    let stop = shutdown_signal();
    let scheduler = Scheduler::new(
        temporal_settings(&config),
        config.task_queue.clone(),
        config.temporal_ui_url.clone(),
    );
    // Open sign-up is a development convenience; production turns it on on purpose.
    let state = app_state(
        &config,
        store.clone(),
        scheduler,
        &registry,
        stop.watch.clone(),
        false,
    )?;
    let listener = bind_api(&config).await?;
    let readiness = state.readiness.clone();
    let extras = MetricsExtras {
        readiness: Some(readiness.clone()),
        ..Default::default()
    };
    let mut parts = vec![dispatcher(&state, &stop)];
    parts.push(api_server(listener, state, &config, &stop));
    parts.extend(observability(
        &config, &registry, &extras, &readiness, &stop,
    ));
    let outcome = supervise(parts, stop.switch.clone()).await;
    store.close().await;
    outcome
}

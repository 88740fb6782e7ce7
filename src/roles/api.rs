//! `longrun api`: the HTTP API against the configured database and Temporal.

use anyhow::{Context, bail};
use prometheus::Registry;

use longrun_api::scheduler::Scheduler;

use super::{
    Part, READINESS_REFRESH, app_state, bind_api, open_store, server_limits, shutdown_signal,
    supervise, temporal_settings,
};
use crate::config::Config;
use crate::telemetry::{self, MetricsExtras};

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
    let api_metrics = state.metrics.clone();
    let parts = vec![
        Part::new("API server", async {
            longrun_api::serve(
                listener,
                longrun_api::router(state),
                server_limits(&config),
                Some(api_metrics),
                stop.stopped(),
            )
            .await
            .context("the API server failed")
        }),
        Part::new(
            "metrics listener",
            telemetry::serve_metrics(config.metrics_listen, registry, extras, stop.stopped()),
        ),
        Part::background(
            "readiness refresh",
            readiness.refresh(READINESS_REFRESH, stop.watch.clone()),
        ),
    ];
    let outcome = supervise(parts, stop.switch.clone()).await;
    store.close().await;
    outcome
}

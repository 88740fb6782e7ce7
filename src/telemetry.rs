//! Logging and the metrics endpoint.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

use crate::config::LogFormat;

/// Installs the process's `tracing` subscriber (filter from `RUST_LOG`, default `info`) and
/// returns it, so the Temporal SDK can log through it too.
pub(crate) fn init(format: LogFormat) -> Arc<dyn tracing::Subscriber + Send + Sync> {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,temporalio_sdk_core=warn,temporalio_sdk=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let subscriber: Arc<dyn tracing::Subscriber + Send + Sync> = match format {
        LogFormat::Json => Arc::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            ),
        ),
        LogFormat::Pretty => Arc::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    // A second initialisation (tests) keeps the first subscriber.
    let _ = tracing::subscriber::set_global_default(subscriber.clone());
    subscriber
}

/// Serves `/metrics` (the registry in Prometheus text format) and `/healthz` on `addr`.
pub(crate) async fn serve_metrics(
    addr: SocketAddr,
    registry: Registry,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr} (LONGRUN_METRICS_LISTEN)"))?;
    tracing::info!(address = %listener.local_addr()?, "metrics listening");
    let app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                async move {
                    let mut buffer = Vec::new();
                    let encoder = TextEncoder::new();
                    if let Err(err) = encoder.encode(&registry.gather(), &mut buffer) {
                        tracing::error!(error = %err, "cannot encode metrics");
                    }
                    (
                        [("content-type", encoder.format_type().to_string())],
                        buffer,
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("metrics server failed")
}

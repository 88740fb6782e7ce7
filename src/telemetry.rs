//! Logging and the metrics endpoint.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

use longrun_api::readiness::Readiness;

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

/// What the metrics listener serves besides the process's own registry.
#[derive(Clone, Default)]
pub(crate) struct MetricsExtras {
    /// Where the Temporal SDK exports its own series, once the worker's runtime exists.
    pub(crate) sdk: Arc<OnceLock<SocketAddr>>,
    /// The process's readiness checks, for `/readyz`.
    pub(crate) readiness: Option<Readiness>,
}

/// The SDK's series in Prometheus text format, or nothing (logged) if its exporter does not
/// answer: our own series must still be served.
async fn sdk_series(http: &reqwest::Client, address: SocketAddr) -> String {
    let fetched = async {
        http.get(format!("http://{address}/metrics"))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await
    };
    match fetched.await {
        Ok(text) => text,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the Temporal SDK's metrics");
            String::new()
        }
    }
}

/// Serves `/metrics` (the registry, then the Temporal SDK's series, in Prometheus text
/// format), `/healthz`, and `/readyz` when the process has readiness checks, on `addr`.
pub(crate) async fn serve_metrics(
    addr: SocketAddr,
    registry: Registry,
    extras: MetricsExtras,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for metrics on {addr} (LONGRUN_METRICS_LISTEN)"))?;
    tracing::info!(address = %listener.local_addr()?, "metrics listening");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .context("cannot build the HTTP client for the SDK's metrics")?;
    let sdk = extras.sdk.clone();
    let mut app = Router::new()
        .route(
            "/metrics",
            get(move || {
                let registry = registry.clone();
                let sdk = sdk.clone();
                let http = http.clone();
                async move {
                    let mut buffer = Vec::new();
                    let encoder = TextEncoder::new();
                    if let Err(err) = encoder.encode(&registry.gather(), &mut buffer) {
                        tracing::error!(error = %err, "cannot encode metrics");
                    }
                    if let Some(address) = sdk.get() {
                        buffer.extend_from_slice(sdk_series(&http, *address).await.as_bytes());
                    }
                    (
                        [("content-type", encoder.format_type().to_string())],
                        buffer,
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    if let Some(readiness) = extras.readiness {
        app = app.route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move { readiness.respond().await }
            }),
        );
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("metrics server failed")
}

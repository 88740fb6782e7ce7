//! The long-running roles: `api`, `worker`, and `dev` (both plus a Temporal dev server and a
//! demo run, in one process), and what they share: the stop switch, the settings each part
//! takes from the configuration, and [`supervise`], which runs a role's parts.

mod api;
mod dev;
mod supervise;
mod worker;

pub(crate) use api::api;
pub(crate) use dev::{DevArgs, dev, write_private};
pub(crate) use worker::worker;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use longrun_activities::{ActivitySettings, ProviderEndpoint, ProviderSettings};
use longrun_api::dispatcher::{DispatchSettings, Dispatcher};
use longrun_api::feeds::{FeedMetrics, RunFeeds};
use longrun_api::jwt::JwtKeys;
use longrun_api::metrics::ApiMetrics;
use longrun_api::ratelimit::RateLimiter;
use longrun_api::scheduler::Scheduler;
use longrun_api::{ApiSettings, AppState, AuthSettings};
use longrun_store::{Store, StoreOptions};
use longrun_temporal::TemporalSettings;
use longrun_workflows::payloads::ActivityTuning;

use crate::config::Config;
use crate::telemetry::{self, MetricsExtras};
use longrun_api::readiness::Readiness;
use supervise::{Part, supervise};

/// How often readiness is checked for `longrun_ready` when nothing asks `/readyz`.
const READINESS_REFRESH: Duration = Duration::from_secs(10);

/// The process's stop switch: set by Ctrl-C, SIGTERM or SIGHUP, or by [`supervise`] when a
/// part of the role ends; every long-running part watches it.
pub(crate) struct Stop {
    pub(crate) switch: Arc<watch::Sender<bool>>,
    pub(crate) watch: watch::Receiver<bool>,
}

impl Stop {
    /// Resolves once the process is asked to stop.
    pub(crate) fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        stopped(self.watch.clone())
    }
}

/// Installs the signal handlers and returns the stop switch.
pub(crate) fn shutdown_signal() -> Stop {
    let (tx, rx) = watch::channel(false);
    let switch = Arc::new(tx);
    let tx = switch.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut hangup = signal(SignalKind::hangup()).ok();
        let name = tokio::select! {
            _ = tokio::signal::ctrl_c() => "interrupt",
            _ = async { match term.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGTERM",
            _ = async { match hangup.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => "SIGHUP",
        };
        tracing::info!(signal = name, "shutting down");
        let _ = tx.send(true);
    });
    Stop { switch, watch: rx }
}

/// The dispatcher beside an API server: starts admitted runs and delivers queued commands.
pub(crate) fn dispatcher<'a>(state: &AppState, stop: &Stop) -> Part<'a> {
    Part::background(
        "dispatcher",
        state.dispatcher.clone().run(stop.watch.clone()),
    )
}

/// The API server, as a part of a role.
pub(crate) fn api_server<'a>(
    listener: TcpListener,
    state: AppState,
    config: &Config,
    stop: &Stop,
) -> Part<'a> {
    let limits = server_limits(config);
    let metrics = state.metrics.clone();
    let stopped = stop.stopped();
    Part::new("API server", async move {
        longrun_api::serve(
            listener,
            longrun_api::router(state),
            limits,
            Some(metrics),
            stopped,
        )
        .await
        .context("the API server failed")
    })
}

/// What every role runs beside its work: the metrics listener, and the readiness refresh
/// that keeps `longrun_ready` current when nothing asks `/readyz`.
pub(crate) fn observability<'a>(
    config: &Config,
    registry: &Registry,
    extras: &MetricsExtras,
    readiness: &Readiness,
    stop: &Stop,
) -> [Part<'a>; 2] {
    let metrics = telemetry::serve_metrics(
        config.metrics_listen,
        registry.clone(),
        extras.clone(),
        stop.stopped(),
    );
    [
        Part::new("metrics listener", metrics),
        Part::background(
            "readiness refresh",
            readiness
                .clone()
                .refresh(READINESS_REFRESH, stop.watch.clone()),
        ),
    ]
}

pub(crate) async fn stopped(mut rx: watch::Receiver<bool>) {
    // An error means the sender is gone: treat it as a stop.
    let _ = rx.wait_for(|stop| *stop).await;
}

pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url, &StoreOptions::default())
        .await
        .with_context(|| {
            format!(
                "cannot open the database {} (LONGRUN_DATABASE_URL)",
                longrun_store::redact_url(&config.database_url)
            )
        })?;
    let report = store.migrate().await.context("database migration failed")?;
    if !report.applied.is_empty() {
        tracing::info!(applied = ?report.applied, version = report.current_version, "migrated the database");
    }
    Ok(store)
}

/// Where Temporal is for the `api` and `worker` roles: the configured frontend, or the
/// default local one.
pub(crate) fn temporal_settings(config: &Config) -> TemporalSettings {
    TemporalSettings {
        gzip: config.temporal_gzip,
        ..TemporalSettings::new(
            config.temporal_address.as_deref(),
            &config.temporal_namespace,
        )
    }
}

pub(crate) fn api_settings(config: &Config) -> ApiSettings {
    ApiSettings {
        default_max_steps: config.default_max_steps,
        tuning: ActivityTuning {
            llm_timeout_s: config.llm_timeout_s,
            llm_max_attempts: config.llm_max_attempts,
            llm_heartbeat_s: config.heartbeat_timeout_s,
            tool_heartbeat_s: config.heartbeat_timeout_s,
            approval_timeout_s: config.approval_timeout_s,
            input_timeout_s: config.input_timeout_s,
            client_tool_timeout_s: config.client_tool_timeout_s,
            quota_recheck_s: config.quota_recheck_s,
            retry_cap_s: config.retry_cap_s,
            provider_outage_tolerance_s: config.provider_outage_tolerance_s,
            ..ActivityTuning::default()
        },
        idempotency_ttl: Duration::from_secs(config.idempotency_ttl_s),
    }
}

/// The API's shared state: what every handler may use.
pub(crate) fn app_state(
    config: &Config,
    store: Store,
    scheduler: Scheduler,
    registry: &Registry,
    shutdown: watch::Receiver<bool>,
    signup_default: bool,
) -> anyhow::Result<AppState> {
    let limiter = match &config.redis_url {
        Some(url) => RateLimiter::redis(url).context("LONGRUN_REDIS_URL")?,
        None => RateLimiter::in_process(),
    };
    let jwt = config
        .jwt_secret
        .clone()
        .map(|secret| JwtKeys::new(secret, config.jwt_ttl_s));
    let scheduler = Arc::new(scheduler);
    let limiter = Arc::new(limiter);
    let readiness = longrun_api::readiness::api_readiness(registry, &store, &scheduler, &limiter)?;
    let feeds = RunFeeds::new(
        store.clone(),
        config.max_streams_per_run,
        shutdown.clone(),
        FeedMetrics::register(registry)?,
    );
    let dispatcher = Dispatcher::new(
        store.clone(),
        scheduler.clone(),
        DispatchSettings {
            retry_cap: Duration::from_secs(config.retry_cap_s),
            ..DispatchSettings::default()
        },
    );
    Ok(AppState {
        dispatcher,
        store,
        scheduler,
        readiness,
        feeds,
        settings: Arc::new(api_settings(config)),
        metrics: ApiMetrics::register(registry)?,
        tiers: Arc::new(config.tiers.clone()),
        auth: Arc::new(AuthSettings {
            billing_token: config.billing_token.clone(),
            signups_per_ip_per_day: config.signups_per_ip_per_day,
            ..AuthSettings::new(jwt, config.allow_signup.unwrap_or(signup_default))?
        }),
        limiter,
        shutdown,
    })
}

pub(crate) fn provider_settings(config: &Config) -> ProviderSettings {
    let endpoint = |key: &Option<secrecy::SecretString>, base_url: &str| {
        key.as_ref().map(|api_key| ProviderEndpoint {
            base_url: base_url.to_string(),
            api_key: api_key.clone(),
        })
    };
    ProviderSettings {
        anthropic: endpoint(&config.anthropic_api_key, &config.anthropic_base_url),
        openai: endpoint(&config.openai_api_key, &config.openai_base_url),
        ..ProviderSettings::default()
    }
}

pub(crate) fn activity_settings(config: &Config) -> ActivitySettings {
    let mut settings = ActivitySettings::new(&config.data_dir);
    settings.egress.allow = config.http_fetch_allow.clone();
    settings.tiers = config.tiers.clone();
    settings.prices = config.prices.clone();
    settings
}

/// The HTTP server's caps, with the connection cap kept under the process's file
/// descriptor limit (raised to the hard limit first when that is not enough).
pub(crate) fn server_limits(config: &Config) -> longrun_api::ServerLimits {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let mut limits = longrun_api::ServerLimits {
        drain_timeout: config.shutdown_grace,
        ..config.server_limits.clone()
    };
    // Descriptors the process needs besides client connections: pools, Temporal, files.
    const RESERVED: u64 = 256;
    let wanted = limits.max_connections as u64 + RESERVED;
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        let mut usable = soft;
        if soft < wanted && setrlimit(Resource::RLIMIT_NOFILE, wanted.min(hard), hard).is_ok() {
            usable = wanted.min(hard);
        }
        if usable < wanted {
            let cap = usable.saturating_sub(RESERVED).max(16) as usize;
            tracing::warn!(
                configured = limits.max_connections,
                cap,
                "the file descriptor limit is too low for LONGRUN_HTTP_MAX_CONNECTIONS; using a lower cap"
            );
            limits.max_connections = cap;
        }
    }
    limits
}

pub(crate) async fn bind_api(config: &Config) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (LONGRUN_LISTEN)", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "API listening");
    Ok(listener)
}

//! The long-running roles: `api`, `worker`, and `dev` (both plus a Temporal dev server and a
//! demo run, in one process).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use prometheus::Registry;
use tokio::net::TcpListener;
use tokio::sync::watch;

use longrun_activities::metrics::ActivityMetrics;
use longrun_activities::{
    ActivitySettings, AgentActivities, ModelRouter, ProviderEndpoint, ProviderSettings,
};
use longrun_api::feeds::{FeedMetrics, RunFeeds};
use longrun_api::jwt::JwtKeys;
use longrun_api::metrics::ApiMetrics;
use longrun_api::ratelimit::RateLimiter;
use longrun_api::readiness::Readiness;
use longrun_api::scheduler::Scheduler;
use longrun_api::{ApiSettings, AppState, AuthSettings};
use longrun_store::{Store, StoreOptions};
use longrun_temporal::dev_server::{self, DevServer, DevServerOptions};
use longrun_worker::{TemporalSettings, WorkerSettings};
use longrun_workflows::payloads::ActivityTuning;

use crate::config::Config;
use crate::telemetry::MetricsExtras;
use crate::{demo, telemetry};

/// How often readiness is checked for `longrun_ready` when nothing asks `/readyz`.
const READINESS_REFRESH: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// Do not submit the demo run.
    #[arg(long)]
    no_demo: bool,
    /// Frontend port of the Temporal dev server started when LONGRUN_TEMPORAL_ADDRESS is unset.
    #[arg(long, default_value_t = 7233)]
    temporal_port: u16,
    /// Temporal UI port of that dev server.
    #[arg(long, default_value_t = 8233)]
    ui_port: u16,
}

/// Resolves when the process is asked to stop (Ctrl-C, SIGTERM, SIGHUP), for every holder.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
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
    rx
}

async fn stopped(mut rx: watch::Receiver<bool>) {
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

fn temporal_settings(config: &Config, address: String) -> TemporalSettings {
    TemporalSettings {
        address,
        namespace: config.temporal_namespace.clone(),
        connect_timeout: Duration::from_secs(5),
    }
}

fn api_settings(config: &Config) -> ApiSettings {
    ApiSettings {
        default_max_steps: config.default_max_steps,
        tuning: ActivityTuning {
            llm_timeout_s: config.llm_timeout_s,
            llm_max_attempts: config.llm_max_attempts,
            llm_heartbeat_s: config.heartbeat_timeout_s,
            tool_heartbeat_s: config.heartbeat_timeout_s,
            approval_timeout_s: config.approval_timeout_s,
            input_timeout_s: config.input_timeout_s,
            quota_recheck_s: config.quota_recheck_s,
            ..ActivityTuning::default()
        },
        idempotency_ttl: Duration::from_secs(config.idempotency_ttl_s),
    }
}

/// The API's shared state: what every handler may use.
fn app_state(
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
    Ok(AppState {
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

fn provider_settings(config: &Config) -> ProviderSettings {
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

fn activity_settings(config: &Config) -> ActivitySettings {
    let mut settings = ActivitySettings::new(&config.data_dir);
    settings.egress.allow = config.http_fetch_allow.clone();
    settings.tiers = config.tiers.clone();
    settings.prices = config.prices.clone();
    settings
}

/// The HTTP server's caps, with the connection cap kept under the process's file
/// descriptor limit (raised to the hard limit first when that is not enough).
fn server_limits(config: &Config) -> longrun_api::ServerLimits {
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

async fn bind_api(config: &Config) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (LONGRUN_LISTEN)", config.listen))?;
    tracing::info!(address = %listener.local_addr()?, "API listening");
    Ok(listener)
}

/// `longrun api`: the HTTP API against the configured database and Temporal.
pub(crate) async fn api(config: Config) -> anyhow::Result<()> {
    if config.jwt_secret.is_none() {
        bail!("LONGRUN_JWT_SECRET is required for `longrun api` (at least 32 bytes)");
    }
    let address = config
        .temporal_address
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:7233".into());
    let store = open_store(&config).await?;
    let _listener = store
        .listen_for_events()
        .await
        .context("cannot LISTEN for run events")?;
    let registry = Registry::new();
    let shutdown = shutdown_signal();
    let scheduler = Scheduler::new(
        temporal_settings(&config, address),
        config.task_queue.clone(),
        config.temporal_ui_url.clone(),
    );
    // Open sign-up is a development convenience; production turns it on on purpose.
    let state = app_state(
        &config,
        store.clone(),
        scheduler,
        &registry,
        shutdown.clone(),
        false,
    )?;
    let listener = bind_api(&config).await?;
    tokio::spawn(
        state
            .readiness
            .clone()
            .refresh(READINESS_REFRESH, shutdown.clone()),
    );
    let extras = MetricsExtras {
        readiness: Some(state.readiness.clone()),
        ..Default::default()
    };
    let metrics = tokio::spawn(telemetry::serve_metrics(
        config.metrics_listen,
        registry,
        extras,
        stopped(shutdown.clone()),
    ));
    let api_metrics = state.metrics.clone();
    longrun_api::serve(
        listener,
        longrun_api::router(state),
        server_limits(&config),
        Some(api_metrics),
        stopped(shutdown),
    )
    .await
    .context("API server failed")?;
    metrics.await.context("metrics task panicked")??;
    store.close().await;
    Ok(())
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
        match longrun_worker::connect(settings, identity).await {
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
) -> anyhow::Result<(temporalio_sdk::Runtime, temporalio_sdk::Worker)> {
    let (runtime, sdk_address) = longrun_worker::runtime(Some(subscriber), true)?;
    if let Some(address) = sdk_address {
        let _ = sdk_metrics.set(address);
    }
    let models = ModelRouter::new(provider_settings(config))
        .context("cannot build the HTTP client for model providers")?;
    let metrics = ActivityMetrics::register(registry)?;
    let activities = AgentActivities::new(store, models, activity_settings(config), metrics)
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

/// `longrun worker`: the Temporal worker against the configured database and Temporal.
pub(crate) async fn worker(
    config: Config,
    subscriber: Arc<dyn tracing::Subscriber + Send + Sync>,
) -> anyhow::Result<()> {
    let address = config
        .temporal_address
        .clone()
        .unwrap_or_else(|| "http://127.0.0.1:7233".into());
    let store = open_store(&config).await?;
    let shutdown = shutdown_signal();
    let registry = Registry::new();
    // The worker is ready when its database and Temporal answer; until the first connection
    // Temporal counts as down.
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
                        Some(client) => longrun_worker::ping(&client).await,
                        None => Err("not connected yet".to_string()),
                    }
                }
            })
    };
    tokio::spawn(
        readiness
            .clone()
            .refresh(READINESS_REFRESH, shutdown.clone()),
    );
    let extras = MetricsExtras {
        readiness: Some(readiness),
        ..Default::default()
    };
    let metrics = tokio::spawn(telemetry::serve_metrics(
        config.metrics_listen,
        registry.clone(),
        extras.clone(),
        stopped(shutdown.clone()),
    ));
    let settings = temporal_settings(&config, address);
    let Some(client) = connect_with_retry(&settings, "longrun-worker", &shutdown).await? else {
        return Ok(());
    };
    let _ = temporal.set(client.clone());
    ensure_schedules(&client, &config.task_queue).await;
    let sweep = tokio::spawn(longrun_worker::sweep::run(
        store.clone(),
        client.clone(),
        Duration::from_secs(30),
    ));
    let (_runtime, mut worker) = build_worker(
        &config,
        client,
        store.clone(),
        subscriber,
        &registry,
        &extras.sdk,
    )?;
    tracing::info!(task_queue = %config.task_queue, "worker polling");
    drive_worker(&mut worker, shutdown).await?;
    sweep.abort();
    metrics.await.context("metrics task panicked")??;
    store.close().await;
    Ok(())
}

/// The Temporal server `longrun dev` uses: the configured one, one already answering on the
/// dev port, or a dev server of its own (stopped when `dev` exits).
async fn dev_temporal(
    config: &Config,
    args: &DevArgs,
) -> anyhow::Result<(String, Option<String>, Option<DevServer>)> {
    if let Some(address) = &config.temporal_address {
        println!("Using the Temporal server at {address} (LONGRUN_TEMPORAL_ADDRESS).");
        return Ok((address.clone(), None, None));
    }
    let address = format!("http://127.0.0.1:{}", args.temporal_port);
    if dev_server::answers(&address).await {
        println!(
            "A Temporal server already answers at {address}: using it (it will keep running when longrun stops)."
        );
        return Ok((address, None, None));
    }
    let cli = dev_server::find_cli().context(
        "the temporal CLI is missing: run scripts/dev (it installs it into .venv), or set LONGRUN_TEMPORAL_CLI",
    )?;
    let db_file = config.data_dir.join("temporal.db");
    let log_file = config.data_dir.join("temporal.log");
    println!(
        "Starting a Temporal dev server on {address} (state in {}, log in {}) ...",
        db_file.display(),
        log_file.display()
    );
    let server = DevServer::start(DevServerOptions {
        cli,
        ip: "127.0.0.1".into(),
        port: args.temporal_port,
        ui_port: Some(args.ui_port),
        db_file: Some(db_file),
        log_file,
        search_attributes: longrun_workflows::search::ALL
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        exit_with_parent: false,
        start_timeout: Duration::from_secs(60),
    })
    .await?;
    let ui = server.ui_url.clone();
    Ok((address, ui, Some(server)))
}

/// The JWT secret of `longrun dev`: generated once and kept in the data dir.
fn dev_jwt_secret(data_dir: &Path) -> anyhow::Result<secrecy::SecretString> {
    let path = data_dir.join("jwt-secret");
    if !path.exists() {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        write_private(&path, &hex::encode(bytes))?;
    }
    let secret = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(secret.trim().to_string().into())
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// `longrun dev`: the embedded default.
pub(crate) async fn dev(
    mut config: Config,
    args: DevArgs,
    subscriber: Arc<dyn tracing::Subscriber + Send + Sync>,
) -> anyhow::Result<()> {
    longrun_store::create_private_dir(&config.data_dir)
        .with_context(|| format!("cannot create the data dir {}", config.data_dir.display()))?;
    if config.jwt_secret.is_none() {
        config.jwt_secret = Some(dev_jwt_secret(&config.data_dir)?);
    }
    let shutdown = shutdown_signal();
    let (address, ui_url, mut server) = dev_temporal(&config, &args).await?;
    if let Some(ui) = &ui_url {
        config.temporal_ui_url = ui.clone();
    }
    let result = dev_with_temporal(&config, &args, address, subscriber, shutdown).await;
    if let Some(server) = server.as_mut() {
        println!("Stopping the Temporal dev server ...");
        server.stop().await;
    }
    result
}

async fn dev_with_temporal(
    config: &Config,
    args: &DevArgs,
    address: String,
    subscriber: Arc<dyn tracing::Subscriber + Send + Sync>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let settings = temporal_settings(config, address);
    let client = longrun_worker::connect(&settings, "longrun-dev").await?;
    dev_server::ensure_search_attributes(
        &client,
        &settings.namespace,
        &longrun_workflows::search::ALL,
    )
    .await?;
    let store = open_store(config).await?;
    let demo_key = demo::seed(&store, &config.data_dir).await?;

    let registry = Registry::new();
    let scheduler = Scheduler::with_client(
        client.clone(),
        settings,
        config.task_queue.clone(),
        config.temporal_ui_url.clone(),
    );
    let state = app_state(
        config,
        store.clone(),
        scheduler,
        &registry,
        shutdown.clone(),
        true,
    )?;
    let readiness = state.readiness.clone();
    let listener = bind_api(config).await?;
    let api_address = listener.local_addr()?;
    let api_metrics = state.metrics.clone();
    let api = tokio::spawn(longrun_api::serve(
        listener,
        longrun_api::router(state),
        server_limits(config),
        Some(api_metrics),
        stopped(shutdown.clone()),
    ));
    // One listener for both roles: the API's readiness covers the worker's dependencies too.
    let extras = MetricsExtras {
        readiness: Some(readiness.clone()),
        ..Default::default()
    };
    tokio::spawn(readiness.refresh(READINESS_REFRESH, shutdown.clone()));
    let metrics = tokio::spawn(telemetry::serve_metrics(
        config.metrics_listen,
        registry.clone(),
        extras.clone(),
        stopped(shutdown.clone()),
    ));
    ensure_schedules(&client, &config.task_queue).await;
    let sweep = tokio::spawn(longrun_worker::sweep::run(
        store.clone(),
        client.clone(),
        Duration::from_secs(30),
    ));
    let (_runtime, mut worker) = build_worker(
        config,
        client,
        store.clone(),
        subscriber,
        &registry,
        &extras.sdk,
    )?;
    println!(
        "API on http://{api_address}  ·  Temporal UI {}",
        config.temporal_ui_url
    );
    println!(
        "Demo API key in {}",
        config.data_dir.join("demo-api-key").display()
    );

    let demo_task = if args.no_demo {
        None
    } else {
        let store = store.clone();
        let key = demo_key.clone();
        Some(tokio::spawn(async move {
            if let Err(err) = demo::run(&store, api_address, &key).await {
                eprintln!("demo run failed: {err:#}");
            }
            println!("longrun dev keeps serving; Ctrl-C stops it.");
        }))
    };

    let worker_result = drive_worker(&mut worker, shutdown).await;
    sweep.abort();
    if let Some(task) = demo_task {
        task.abort();
    }
    api.await
        .context("API task panicked")?
        .context("API server failed")?;
    metrics.await.context("metrics task panicked")??;
    store.close().await;
    worker_result
}

//! `longrun dev`: the embedded default. A Temporal dev server (ours, unless one is configured
//! or already answers), SQLite under the data dir, the API and the worker in one process, and
//! a demo run.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use prometheus::Registry;

use longrun_api::scheduler::Scheduler;
use longrun_temporal::TemporalSettings;
use longrun_temporal::dev_server::{self, DevServer, DevServerOptions};

use super::worker::run_worker;
use super::{
    Part, Stop, api_server, app_state, bind_api, dispatcher, observability, open_store,
    shutdown_signal, supervise,
};
use crate::config::Config;
use crate::demo;
use crate::telemetry::MetricsExtras;

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
    let in_memory = DevServerOptions::in_memory(
        cli,
        args.temporal_port,
        log_file,
        &longrun_workflows::search::ALL,
    );
    let server = DevServer::start(DevServerOptions {
        ui_port: Some(args.ui_port),
        db_file: Some(db_file),
        ..in_memory
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
    let result = dev_with_temporal(&config, &args, address, subscriber, &shutdown).await;
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
    stop: &Stop,
) -> anyhow::Result<()> {
    let settings = TemporalSettings::new(Some(&address), &config.temporal_namespace);
    let client = longrun_temporal::connect(&settings, "longrun-dev").await?;
    dev_server::ensure_search_attributes(
        &client,
        &settings.namespace,
        &longrun_workflows::search::ALL,
    )
    .await?;
    let store = open_store(config).await?;
    let demo_key = demo::seed(&store, &config.data_dir).await?;
    demo::seed_user(&store, &config.data_dir).await?;

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
        stop.watch.clone(),
        true,
    )?;
    let readiness = state.readiness.clone();
    let listener = bind_api(config).await?;
    let api_address = listener.local_addr()?;
    // One listener for both roles: the API's readiness covers the worker's dependencies too.
    let extras = MetricsExtras {
        readiness: Some(readiness.clone()),
        ..Default::default()
    };
    println!(
        "API on http://{api_address}  ·  Temporal UI {}",
        config.temporal_ui_url
    );
    println!(
        "Demo API key in {}",
        config.data_dir.join("demo-api-key").display()
    );
    println!(
        "Console on http://{api_address}/console: sign in as {} with the password in {}",
        demo::USER_EMAIL,
        config.data_dir.join("demo-password").display()
    );
    let demo_task = (!args.no_demo).then(|| {
        let store = store.clone();
        let key = demo_key.clone();
        tokio::spawn(async move {
            if let Err(err) = demo::run(&store, api_address, &key).await {
                eprintln!("demo run failed: {err:#}");
            }
            println!("longrun dev keeps serving; Ctrl-C stops it.");
        })
    });
    let mut parts = vec![dispatcher(&state, stop)];
    parts.push(api_server(listener, state, config, stop));
    parts.extend(observability(config, &registry, &extras, &readiness, stop));
    parts.push(Part::new(
        "worker",
        run_worker(
            config,
            client,
            &store,
            subscriber,
            &registry,
            &extras.sdk,
            &stop.watch,
        ),
    ));
    let outcome = supervise(parts, stop.switch.clone()).await;
    if let Some(task) = demo_task {
        task.abort();
    }
    store.close().await;
    outcome
}

//! A Temporal dev server (`temporal server start-dev`) run as a child process: for
//! `longrun dev` and for the test harness. It is started with longrun's search attributes and
//! the fairness dynamic config, waited for until it answers, and stopped with SIGTERM (then
//! SIGKILL) so that no `temporal` process outlives us.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use temporalio_client::Client;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::temporal::api::enums::v1::IndexedValueType;
use temporalio_common::protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, ListSearchAttributesRequest,
};
use tokio::process::{Child, Command};

use crate::{TemporalError, TemporalSettings, connect};

/// The dynamic config of longrun's dev servers: fairness keys honoured (docs/temporal.md),
/// and one task queue partition, so priority and fairness order dispatch across the whole
/// queue rather than within each of several partitions (a single machine gains nothing from
/// partitions).
pub const DEV_DYNAMIC_CONFIG: [&str; 4] = [
    "matching.useNewMatcher=true",
    "matching.enableFairness=true",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
];

#[derive(Debug, thiserror::Error)]
pub enum DevServerError {
    #[error(
        "the temporal CLI was not found (looked in .venv/bin and on PATH); run scripts/bootstrap \
         or set LONGRUN_TEMPORAL_CLI"
    )]
    CliMissing,
    #[error("cannot start {cli}: {source}")]
    Spawn {
        cli: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the Temporal dev server exited early ({status}); see {log}")]
    Exited { status: String, log: String },
    #[error("the Temporal dev server did not answer within {0:?}")]
    Timeout(Duration),
    #[error("port {0} is in use by something that is not a Temporal server")]
    PortTaken(u16),
    #[error(transparent)]
    Temporal(#[from] TemporalError),
    #[error("cannot register search attributes: {0}")]
    SearchAttributes(String),
}

#[derive(Debug, Clone)]
pub struct DevServerOptions {
    pub cli: PathBuf,
    pub ip: String,
    pub port: u16,
    /// `None` runs headless (no UI).
    pub ui_port: Option<u16>,
    /// `None` keeps state in memory only.
    pub db_file: Option<PathBuf>,
    /// Serve the server's Prometheus metrics (`/metrics`) on this port; `None`: on a random
    /// free port (the CLI's default), i.e. unknown to us.
    pub metrics_port: Option<u16>,
    /// Where the server's own output goes.
    pub log_file: PathBuf,
    /// Search attributes to register at start, as `(name, type)`.
    pub search_attributes: Vec<(String, String)>,
    /// Stop the server when this process dies, however it dies (for test harnesses, whose
    /// statics are never dropped).
    pub exit_with_parent: bool,
    pub start_timeout: Duration,
}

impl DevServerOptions {
    /// A headless server on 127.0.0.1:`port` keeping its state in memory, with
    /// `search_attributes` (`(name, type)`), given a minute to answer.
    pub fn in_memory(
        cli: PathBuf,
        port: u16,
        log_file: PathBuf,
        search_attributes: &[(&str, &str)],
    ) -> Self {
        Self {
            cli,
            ip: "127.0.0.1".into(),
            port,
            ui_port: None,
            db_file: None,
            metrics_port: None,
            log_file,
            search_attributes: search_attributes
                .iter()
                .map(|(name, kind)| (name.to_string(), kind.to_string()))
                .collect(),
            exit_with_parent: false,
            start_timeout: Duration::from_secs(60),
        }
    }
}

/// A running dev server.
pub struct DevServer {
    child: Child,
    pub address: String,
    pub ui_url: Option<String>,
}

/// The `temporal` CLI: `$LONGRUN_TEMPORAL_CLI`, then `.venv/bin/temporal` in the working
/// directory or beside the repository the binary was built in, then `PATH`.
pub fn find_cli() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LONGRUN_TEMPORAL_CLI") {
        return Some(PathBuf::from(path));
    }
    let mut candidates = vec![PathBuf::from(".venv/bin/temporal")];
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/longrun → repository root.
        for ancestor in exe.ancestors().skip(1).take(4) {
            candidates.push(ancestor.join(".venv/bin/temporal"));
        }
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/temporal"));
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Some(found);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("temporal"))
            .find(|p| p.is_file())
    })
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Whether something accepts TCP connections on the port.
pub fn port_in_use(ip: &str, port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &format!("{ip}:{port}")
            .parse()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], port))),
        Duration::from_millis(300),
    )
    .is_ok()
}

impl DevServer {
    pub async fn start(options: DevServerOptions) -> Result<Self, DevServerError> {
        if port_in_use(&options.ip, options.port) {
            return Err(DevServerError::PortTaken(options.port));
        }
        let mut args: Vec<String> = vec![
            "server".into(),
            "start-dev".into(),
            "--ip".into(),
            options.ip.clone(),
            "--port".into(),
            options.port.to_string(),
            "--log-level".into(),
            "error".into(),
        ];
        match options.ui_port {
            Some(port) => args.extend(["--ui-port".into(), port.to_string()]),
            None => args.push("--headless".into()),
        }
        if let Some(db) = &options.db_file {
            args.extend(["--db-filename".into(), db.display().to_string()]);
        }
        if let Some(port) = options.metrics_port {
            args.extend(["--metrics-port".into(), port.to_string()]);
        }
        for (name, kind) in &options.search_attributes {
            args.extend(["--search-attribute".into(), format!("{name}={kind}")]);
        }
        for value in DEV_DYNAMIC_CONFIG {
            args.extend(["--dynamic-config-value".into(), value.into()]);
        }
        if let Some(parent) = options.log_file.parent() {
            std::fs::create_dir_all(parent).map_err(|source| DevServerError::Spawn {
                cli: options.cli.display().to_string(),
                source,
            })?;
        }
        let log =
            std::fs::File::create(&options.log_file).map_err(|source| DevServerError::Spawn {
                cli: options.cli.display().to_string(),
                source,
            })?;
        let log_err = log.try_clone().map_err(|source| DevServerError::Spawn {
            cli: options.cli.display().to_string(),
            source,
        })?;
        let mut command = if options.exit_with_parent {
            // A shell watches our pid and stops the server when we are gone: test binaries end
            // without dropping statics, and a killed parent runs no destructor at all.
            let mut command = Command::new("sh");
            command.arg("-c").arg(
                "\"$@\" & child=$!; trap 'kill $child 2>/dev/null; exit 0' TERM INT; \
                 while kill -0 \"$LONGRUN_PARENT_PID\" 2>/dev/null && kill -0 $child 2>/dev/null; \
                 do sleep 0.5; done; kill $child 2>/dev/null; wait $child",
            );
            command.arg("sh").arg(&options.cli).args(&args);
            command.env("LONGRUN_PARENT_PID", std::process::id().to_string());
            command
        } else {
            let mut command = Command::new(&options.cli);
            command.args(&args);
            command
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_err))
            .kill_on_drop(true);
        let child = command.spawn().map_err(|source| DevServerError::Spawn {
            cli: options.cli.display().to_string(),
            source,
        })?;
        let mut server = DevServer {
            child,
            address: format!("http://{}:{}", options.ip, options.port),
            ui_url: options
                .ui_port
                .map(|port| format!("http://{}:{}", options.ip, port)),
        };
        let deadline = Instant::now() + options.start_timeout;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(DevServerError::Exited {
                    status: status.to_string(),
                    log: options.log_file.display().to_string(),
                });
            }
            if answers(&server.address).await {
                return Ok(server);
            }
            if Instant::now() > deadline {
                server.stop().await;
                return Err(DevServerError::Timeout(options.start_timeout));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The server's process id (of the watching shell with `exit_with_parent`); `None` once
    /// it has exited.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stops the server: SIGTERM, up to 10 s to exit, then SIGKILL.
    pub async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// Whether a Temporal frontend answers at `address` (a client connects within 2 s).
pub async fn answers(address: &str) -> bool {
    let settings = TemporalSettings {
        connect_timeout: Duration::from_secs(2),
        ..TemporalSettings::new(Some(address), "default")
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), connect(&settings, "longrun-probe")).await,
        Ok(Ok(_))
    )
}

/// Registers longrun's search attributes on the namespace where they are missing, so a server
/// that was not started by us (or an older dev database) can take our workflows.
pub async fn ensure_search_attributes(
    client: &Client,
    namespace: &str,
    attributes: &[(&str, &str)],
) -> Result<(), DevServerError> {
    let mut operator = client.connection().operator_service();
    let existing = operator
        .list_search_attributes(
            ListSearchAttributesRequest {
                namespace: namespace.to_string(),
            }
            .into_request(),
        )
        .await
        .map_err(|e| DevServerError::SearchAttributes(e.message().to_string()))?
        .into_inner();
    let mut missing = std::collections::HashMap::new();
    for (name, kind) in attributes {
        if existing.custom_attributes.contains_key(*name) {
            continue;
        }
        let kind = match *kind {
            "Keyword" => IndexedValueType::Keyword,
            "Text" => IndexedValueType::Text,
            "Int" => IndexedValueType::Int,
            "Double" => IndexedValueType::Double,
            "Bool" => IndexedValueType::Bool,
            "Datetime" => IndexedValueType::Datetime,
            "KeywordList" => IndexedValueType::KeywordList,
            other => {
                return Err(DevServerError::SearchAttributes(format!(
                    "unknown search attribute type {other}"
                )));
            }
        };
        missing.insert((*name).to_string(), kind as i32);
    }
    if missing.is_empty() {
        return Ok(());
    }
    operator
        .add_search_attributes(
            AddSearchAttributesRequest {
                search_attributes: missing,
                namespace: namespace.to_string(),
            }
            .into_request(),
        )
        .await
        .map_err(|e| DevServerError::SearchAttributes(e.message().to_string()))?;
    Ok(())
}

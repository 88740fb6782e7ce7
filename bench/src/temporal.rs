//! An in-memory Temporal dev server of the benchmark's own (`temporal server start-dev
//! --headless`), on a free port, with the search attributes and dynamic config that
//! `scripts/test` gives the test suite's server. One per phase: the in-memory server slows
//! down as finished workflows pile up (docs/temporal.md), so each system gets a fresh one.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, Url};
use tokio::process::{Child, Command};

use crate::processes;

/// longrun's search attributes (`workflows/src/search.rs`), registered at start.
const SEARCH_ATTRIBUTES: [&str; 4] = [
    "LongrunWorkspace=Keyword",
    "LongrunAgent=Keyword",
    "LongrunTier=Keyword",
    "LongrunStatus=Keyword",
];

/// The dynamic config of `scripts/test` and `longrun dev`: fairness keys honoured, one task
/// queue partition.
const DYNAMIC_CONFIG: [&str; 4] = [
    "matching.useNewMatcher=true",
    "matching.enableFairness=true",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
];

/// The `temporal` CLI: the flag, `$LONGRUN_TEMPORAL_CLI`, `.venv/bin/temporal` here or
/// beside the target directory the tool was built in, then `PATH`.
pub fn find_cli(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("LONGRUN_TEMPORAL_CLI") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates = vec![PathBuf::from(".venv/bin/temporal")];
    if let Ok(exe) = std::env::current_exe() {
        for ancestor in exe.ancestors().skip(1).take(4) {
            candidates.push(ancestor.join(".venv/bin/temporal"));
        }
    }
    if let Some(found) = candidates.into_iter().find(|p| p.is_file()) {
        return Ok(found);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("temporal"))
                .find(|p| p.is_file())
        })
        .context(
            "the temporal CLI was not found: run scripts/bootstrap, or pass --temporal-cli \
             (or set LONGRUN_TEMPORAL_CLI)",
        )
}

pub struct DevServer {
    child: Child,
    pub address: String,
    pub pid: u32,
}

impl DevServer {
    pub async fn start(cli: &Path, log: &Path) -> anyhow::Result<Self> {
        let port = processes::free_port()?;
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(cli);
        command.args(["server", "start-dev", "--headless", "--ip", "127.0.0.1"]);
        command.args(["--port", &port.to_string(), "--log-level", "error"]);
        for attribute in SEARCH_ATTRIBUTES {
            command.args(["--search-attribute", attribute]);
        }
        for value in DYNAMIC_CONFIG {
            command.args(["--dynamic-config-value", value]);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", cli.display()))?;
        let pid = child.id().context("the dev server exited at once")?;
        let address = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the Temporal dev server exited ({status}); see {}",
                    log.display()
                );
            }
            if let Ok(client) = connect(&address).await
                && client.count_workflows("", Default::default()).await.is_ok()
            {
                break;
            }
            if Instant::now() > deadline {
                bail!("the Temporal dev server did not answer at {address} within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Self {
            child,
            address,
            pid,
        })
    }

    pub async fn stop(mut self) {
        processes::terminate(&mut self.child).await;
    }
}

/// A client of the `default` namespace.
pub async fn connect(address: &str) -> anyhow::Result<Client> {
    let options = ConnectionOptions::new(Url::parse(address)?)
        .identity("longrun-bench".to_string())
        .connect_timeout(Duration::from_secs(5))
        .build();
    let connection = Connection::connect(options).await?;
    Ok(Client::new(
        connection,
        ClientOptions::new("default".to_string()).build(),
    )?)
}

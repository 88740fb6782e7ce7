//! An in-memory Temporal dev server of the benchmark's own (`temporal server start-dev
//! --headless`, through `longrun-temporal`, with the search attributes and dynamic config
//! that `scripts/test` gives the test suite's server), on a free port. One per phase: the
//! in-memory server slows down as finished workflows pile up (docs/temporal.md), so each
//! system gets a fresh one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use longrun_temporal::TemporalSettings;
use longrun_temporal::dev_server::{self, DevServerOptions};
use temporalio_client::Client;

/// longrun's search attributes (`workflows/src/search.rs`), registered at start; the
/// reference's workflows carry none, but both systems get the same server.
const SEARCH_ATTRIBUTES: [(&str, &str); 4] = [
    ("LongrunWorkspace", "Keyword"),
    ("LongrunAgent", "Keyword"),
    ("LongrunTier", "Keyword"),
    ("LongrunStatus", "Keyword"),
];

/// The `temporal` CLI: the flag, else where `longrun-temporal` looks for it
/// (`$LONGRUN_TEMPORAL_CLI`, `.venv/bin/temporal`, `PATH`).
pub fn find_cli(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(path) => Ok(path.to_path_buf()),
        None => dev_server::find_cli().context(
            "the temporal CLI was not found: run scripts/bootstrap, or pass --temporal-cli \
             (or set LONGRUN_TEMPORAL_CLI)",
        ),
    }
}

pub struct DevServer {
    server: dev_server::DevServer,
    pub address: String,
    /// Its process, whose CPU the phase's report counts.
    pub pid: u32,
}

impl DevServer {
    pub async fn start(cli: &Path, log: &Path) -> anyhow::Result<Self> {
        let port = dev_server::free_port()?;
        let options = DevServerOptions::in_memory(
            cli.to_path_buf(),
            port,
            log.to_path_buf(),
            &SEARCH_ATTRIBUTES,
        );
        let server = dev_server::DevServer::start(options).await?;
        let pid = server.pid().context("the dev server exited at once")?;
        Ok(Self {
            address: server.address.clone(),
            server,
            pid,
        })
    }

    pub async fn stop(mut self) {
        self.server.stop().await;
    }
}

/// A client of the `default` namespace.
pub async fn connect(address: &str) -> anyhow::Result<Client> {
    let settings = TemporalSettings::new(Some(address), "default");
    Ok(longrun_temporal::connect(&settings, "longrun-bench").await?)
}

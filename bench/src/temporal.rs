//! An in-memory Temporal dev server of the benchmark's own (`temporal server start-dev
//! --headless`, through `longrun-temporal`, with the search attributes and dynamic config
//! that `scripts/test` gives the test suite's server), on a free port. One per phase: the
//! in-memory server slows down as finished workflows pile up (docs/temporal.md), so each
//! system gets a fresh one.
//!
//! Also what the server itself says about a phase, the same way for both systems: the length
//! of finished runs' histories, and the activity heartbeats its frontend received (from its
//! Prometheus metrics, served on a port of our choosing).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use longrun_temporal::TemporalSettings;
use longrun_temporal::dev_server::{self, DevServerOptions};
use serde::Serialize;
use temporalio_client::{Client, UntypedWorkflow, WorkflowFetchHistoryOptions};

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
    /// Its Prometheus metrics.
    pub metrics_url: String,
}

impl DevServer {
    pub async fn start(cli: &Path, log: &Path) -> anyhow::Result<Self> {
        let port = dev_server::free_port()?;
        let mut metrics_port = dev_server::free_port()?;
        while metrics_port == port {
            metrics_port = dev_server::free_port()?;
        }
        let options = DevServerOptions {
            metrics_port: Some(metrics_port),
            ..DevServerOptions::in_memory(
                cli.to_path_buf(),
                port,
                log.to_path_buf(),
                &SEARCH_ATTRIBUTES,
            )
        };
        let server = dev_server::DevServer::start(options).await?;
        let pid = server.pid().context("the dev server exited at once")?;
        Ok(Self {
            address: server.address.clone(),
            server,
            pid,
            metrics_url: format!("http://127.0.0.1:{metrics_port}/metrics"),
        })
    }

    /// The server's metrics, as Prometheus text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        let response = reqwest::get(&self.metrics_url)
            .await?
            .error_for_status()
            .with_context(|| format!("cannot read {}", self.metrics_url))?;
        Ok(response.text().await?)
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

/// The frontend operations by which workers report an activity's heartbeat (by task token,
/// and by workflow and activity id). The dev server counts each request it serves in
/// `service_requests{operation=…,service_name="frontend"}`.
pub const HEARTBEAT_OPERATIONS: [&str; 2] = [
    "RecordActivityTaskHeartbeat",
    "RecordActivityTaskHeartbeatById",
];

/// The sum of the `service_requests` counters of the frontend for `operations`, in a
/// Prometheus text exposition (every namespace).
pub fn frontend_requests(metrics: &str, operations: &[&str]) -> u64 {
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix("service_requests{"))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once('}')?;
            let label = |name: &str| {
                labels.split(',').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    (key.trim() == name).then(|| value.trim().trim_matches('"'))
                })
            };
            let wanted = label("service_name") == Some("frontend")
                && label("operation").is_some_and(|op| operations.contains(&op));
            // Counters are printed as floats; they hold whole numbers.
            wanted.then(|| value.trim().parse::<f64>().ok())?
        })
        .map(|value| value as u64)
        .sum()
}

/// The history length of a sample of finished runs: the events Temporal keeps (and a
/// Temporal Cloud namespace bills) for each.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryStats {
    /// Runs whose history was read.
    pub sampled: usize,
    pub mean: Option<f64>,
    pub min: Option<usize>,
    pub max: Option<usize>,
    /// Mean events per run by event type (`ACTIVITY_TASK_SCHEDULED`, `MARKER_RECORDED`, …).
    pub mean_by_type: BTreeMap<String, f64>,
    /// Histories that could not be read.
    pub errors: Vec<String>,
}

impl HistoryStats {
    /// `mean (min–max)`, or `–`.
    pub fn cell(&self) -> String {
        match (self.mean, self.min, self.max) {
            (Some(mean), Some(min), Some(max)) => format!("{mean:.1} ({min}–{max})"),
            _ => "–".into(),
        }
    }
}

/// Reads the whole history of each workflow and counts its events.
pub async fn history_stats(client: &Client, workflow_ids: &[String]) -> HistoryStats {
    let mut lengths = Vec::new();
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for id in workflow_ids {
        let history = client
            .get_workflow_handle::<UntypedWorkflow>(id.clone())
            .fetch_history(WorkflowFetchHistoryOptions::builder().build());
        match history.into_events().await {
            Ok(events) => {
                for event in &events {
                    let name = event.event_type().as_str_name();
                    let name = name.strip_prefix("EVENT_TYPE_").unwrap_or(name);
                    *by_type.entry(name.to_string()).or_default() += 1;
                }
                lengths.push(events.len());
            }
            Err(err) => errors.push(format!("{id}: {err}")),
        }
    }
    let sampled = lengths.len();
    let per_run = |total: usize| total as f64 / sampled as f64;
    HistoryStats {
        sampled,
        mean: (sampled > 0).then(|| per_run(lengths.iter().sum())),
        min: lengths.iter().min().copied(),
        max: lengths.iter().max().copied(),
        mean_by_type: by_type
            .into_iter()
            .map(|(name, total)| (name, per_run(total)))
            .collect(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_frontend_heartbeat_requests() {
        let metrics = "\
# TYPE service_requests counter
service_requests{namespace=\"default\",operation=\"RecordActivityTaskHeartbeat\",service_name=\"frontend\"} 12
service_requests{namespace=\"default\",operation=\"RecordActivityTaskHeartbeatById\",service_name=\"frontend\"} 3
service_requests{namespace=\"default\",operation=\"RecordActivityTaskHeartbeat\",service_name=\"history\"} 12
service_requests{namespace=\"default\",operation=\"RecordWorkerHeartbeat\",service_name=\"frontend\"} 7
service_requests_total{namespace=\"default\",operation=\"RecordActivityTaskHeartbeat\",service_name=\"frontend\"} 100
";
        assert_eq!(frontend_requests(metrics, &HEARTBEAT_OPERATIONS), 15);
        assert_eq!(frontend_requests(metrics, &["RecordWorkerHeartbeat"]), 7);
        assert_eq!(frontend_requests("", &HEARTBEAT_OPERATIONS), 0);
    }
}

//! Bringing a system under test up and down for one phase: a fresh Temporal dev server, then
//! either longrun (database, workspace, `api` and `worker` processes, agent) or the raw-SDK
//! reference worker; and `perf` recordings of their processes when asked.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sqlx::{Connection, Executor};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::drive::{LongrunClient, ReferenceClient, RunClient};
use crate::processes::{self, LongrunSetup};
use crate::temporal::{self, DevServer};

/// What every phase of an invocation shares.
#[derive(Debug, Clone)]
pub struct Env {
    /// Logs, SQLite files, perf data of this invocation.
    pub work_dir: PathBuf,
    pub longrun: PathBuf,
    pub temporal_cli: PathBuf,
    /// A Postgres URL: each longrun phase gets a fresh schema in it. `None`: SQLite.
    pub database_url: Option<String>,
    /// Record the worker and the API with `perf` into this folder during measured windows.
    pub perf_dir: Option<PathBuf>,
    pub workflow_slots: usize,
    pub activity_slots: usize,
    /// `RUST_LOG` of the longrun processes.
    pub log_filter: String,
    /// The reference runs its tool as a local activity, as longrun runs built-in tools.
    pub reference_local_tools: bool,
    /// The heartbeat timeout of model calls, in seconds, in both systems
    /// (`LONGRUN_HEARTBEAT_TIMEOUT_S` for longrun, the model activity's option for the
    /// reference).
    pub heartbeat_timeout_s: u64,
    /// Finished runs per closed-loop phase whose Temporal history is counted.
    pub history_sample: usize,
}

impl Env {
    pub fn log(&self, name: &str) -> PathBuf {
        self.work_dir.join(format!("{name}.log"))
    }
}

/// A system under test, up for one phase: what the scenarios drive and measure it by.
pub trait Stack {
    type Client: RunClient;

    fn client(&self) -> Arc<Self::Client>;

    /// The processes to measure, by role (`temporal`, `api`, `worker`, `bench`).
    fn processes(&self) -> Vec<(String, u32)>;

    fn worker_pid(&self) -> Option<u32>;

    /// The phase's Temporal server.
    fn temporal(&self) -> &DevServer;

    /// The system's name in reports.
    fn system(&self) -> &'static str;

    /// The database's name in reports: `postgres`, `sqlite`, or `none`.
    fn database(&self) -> &'static str;
}

/// The Temporal server, the roles among `roles` whose process runs, and this tool (driver and
/// fake model share its cores with the systems).
fn measured_processes(temporal: &DevServer, roles: &[(&str, Option<u32>)]) -> Vec<(String, u32)> {
    let mut list = vec![("temporal".to_string(), temporal.pid)];
    list.extend(
        roles
            .iter()
            .filter_map(|(name, pid)| Some((name.to_string(), (*pid)?))),
    );
    list.push(("bench".into(), std::process::id()));
    list
}

/// longrun's database for one phase.
pub struct Database {
    pub url: Option<String>,
    /// `postgres` or `sqlite`.
    pub label: &'static str,
    postgres: Option<(String, String)>,
}

impl Database {
    /// A fresh schema in the Postgres database (via `options=-c search_path=…`), or a SQLite
    /// file in the phase's data folder.
    pub async fn fresh(env: &Env, phase: &str) -> anyhow::Result<Self> {
        let Some(base) = &env.database_url else {
            return Ok(Self {
                url: None,
                label: "sqlite",
                postgres: None,
            });
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let schema = format!("bench_{}_{stamp}", phase.replace('-', "_"));
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .with_context(|| "cannot connect to the benchmark's Postgres database")?;
        conn.execute(format!("CREATE SCHEMA {schema}").as_str())
            .await?;
        conn.close().await?;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok(Self {
            url: Some(format!(
                "{base}{separator}options=-c%20search_path%3D{schema}"
            )),
            label: "postgres",
            postgres: Some((base.clone(), schema)),
        })
    }

    /// Drops the phase's schema (SQLite files go with the work folder).
    pub async fn drop_schema(&self) {
        if let Some((base, schema)) = &self.postgres
            && let Ok(mut conn) = sqlx::PgConnection::connect(base).await
        {
            let _ = conn
                .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
                .await;
            let _ = conn.close().await;
        }
    }
}

/// longrun, up: its Temporal server, API, worker (unless the phase measures the API alone).
pub struct LongrunStack {
    pub temporal: DevServer,
    pub api: Child,
    pub worker: Option<Child>,
    pub client: Arc<LongrunClient>,
    pub database: Database,
}

impl LongrunStack {
    pub async fn start(
        env: &Env,
        phase: &str,
        llm_base_url: &str,
        with_worker: bool,
        max_steps: u32,
    ) -> anyhow::Result<Self> {
        eprintln!(
            "[{phase}] starting a Temporal dev server and longrun api{}",
            if with_worker {
                " and worker"
            } else {
                " (no worker)"
            }
        );
        let temporal =
            DevServer::start(&env.temporal_cli, &env.log(&format!("{phase}-temporal"))).await?;
        let database = Database::fresh(env, phase).await?;
        let data_dir = env.work_dir.join(format!("{phase}-data"));
        std::fs::create_dir_all(&data_dir)?;
        let setup = LongrunSetup {
            binary: env.longrun.clone(),
            data_dir,
            database_url: database.url.clone(),
            temporal_address: temporal.address.clone(),
            task_queue: format!("bench-{phase}"),
            llm_base_url: llm_base_url.to_string(),
            heartbeat_timeout_s: env.heartbeat_timeout_s,
            worker_env: vec![
                (
                    "LONGRUN_WORKER_WORKFLOW_SLOTS".into(),
                    env.workflow_slots.to_string(),
                ),
                (
                    "LONGRUN_WORKER_ACTIVITY_SLOTS".into(),
                    env.activity_slots.to_string(),
                ),
            ],
            log_filter: env.log_filter.clone(),
        };
        setup.run(&["migrate"]).await?;
        let key = setup.workspace("bench", true).await?;
        let (api, base) = setup.api(&env.log(&format!("{phase}-api"))).await?;
        let worker = if with_worker {
            Some(setup.worker(&env.log(&format!("{phase}-worker"))).await?)
        } else {
            None
        };
        let client = Arc::new(LongrunClient::new(base, key)?);
        client.create_agent(max_steps).await?;
        Ok(Self {
            temporal,
            api,
            worker,
            client,
            database,
        })
    }

    pub async fn stop(mut self) {
        if let Some(worker) = self.worker.as_mut() {
            processes::terminate(worker).await;
        }
        processes::terminate(&mut self.api).await;
        self.temporal.stop().await;
        self.database.drop_schema().await;
    }
}

/// The raw-SDK reference, up: its Temporal server and its worker process.
pub struct ReferenceStack {
    pub temporal: DevServer,
    pub worker: Child,
    pub client: Arc<ReferenceClient>,
}

impl ReferenceStack {
    pub async fn start(env: &Env, phase: &str, llm_base_url: &str) -> anyhow::Result<Self> {
        eprintln!("[{phase}] starting a Temporal dev server and the reference worker");
        let temporal =
            DevServer::start(&env.temporal_cli, &env.log(&format!("{phase}-temporal"))).await?;
        let task_queue = format!("bench-{phase}");
        let log = env.log(&format!("{phase}-worker"));
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("reference-worker")
            .args(["--temporal-address", &temporal.address])
            .args(["--task-queue", &task_queue])
            .args(["--llm-base-url", llm_base_url])
            .args(["--workflow-slots", &env.workflow_slots.to_string()])
            .args(["--activity-slots", &env.activity_slots.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log)?))
            .kill_on_drop(true);
        let mut worker = command.spawn()?;
        let stdout = worker.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let polling = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("reference worker polling") {
                    return true;
                }
            }
            false
        })
        .await;
        if !matches!(polling, Ok(true)) {
            anyhow::bail!("the reference worker did not start; see {}", log.display());
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let client = Arc::new(ReferenceClient {
            client: temporal::connect(&temporal.address).await?,
            task_queue,
            prefix: format!("ref-{phase}"),
            local_tools: env.reference_local_tools,
            heartbeat_timeout_s: env.heartbeat_timeout_s,
        });
        Ok(Self {
            temporal,
            worker,
            client,
        })
    }

    pub async fn stop(mut self) {
        processes::terminate(&mut self.worker).await;
        self.temporal.stop().await;
    }
}

impl Stack for LongrunStack {
    type Client = LongrunClient;

    fn client(&self) -> Arc<LongrunClient> {
        self.client.clone()
    }

    fn processes(&self) -> Vec<(String, u32)> {
        measured_processes(
            &self.temporal,
            &[("api", self.api.id()), ("worker", self.worker_pid())],
        )
    }

    fn worker_pid(&self) -> Option<u32> {
        self.worker.as_ref().and_then(Child::id)
    }

    fn temporal(&self) -> &DevServer {
        &self.temporal
    }

    fn system(&self) -> &'static str {
        "longrun"
    }

    fn database(&self) -> &'static str {
        self.database.label
    }
}

impl Stack for ReferenceStack {
    type Client = ReferenceClient;

    fn client(&self) -> Arc<ReferenceClient> {
        self.client.clone()
    }

    fn processes(&self) -> Vec<(String, u32)> {
        measured_processes(&self.temporal, &[("worker", self.worker_pid())])
    }

    fn worker_pid(&self) -> Option<u32> {
        self.worker.id()
    }

    fn temporal(&self) -> &DevServer {
        &self.temporal
    }

    /// `raw-sdk`, or `raw-sdk-local` when its tool runs as a local activity.
    fn system(&self) -> &'static str {
        if self.client.local_tools {
            "raw-sdk-local"
        } else {
            "raw-sdk"
        }
    }

    /// The reference keeps no database.
    fn database(&self) -> &'static str {
        "none"
    }
}

/// `perf record` of one process, while a window lasts.
pub struct PerfRecording {
    child: Child,
    pub output: PathBuf,
}

impl PerfRecording {
    /// Samples `pid` at 299 Hz with DWARF call graphs (longrun is built without frame
    /// pointers) into `<dir>/<name>.perf.data`. `None` when perf cannot start.
    pub fn start(dir: &Path, name: &str, pid: u32) -> Option<Self> {
        let output = dir.join(format!("{name}.perf.data"));
        let child = Command::new("perf")
            .args(["record", "-F", "299", "--call-graph", "dwarf,16384", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(&output)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| eprintln!("perf record could not start: {e}"))
            .ok()?;
        Some(Self { child, output })
    }

    /// Stops recording (SIGINT, so perf writes its file) and waits for it.
    pub async fn stop(mut self) -> PathBuf {
        if let Some(pid) = self.child.id() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGINT);
        }
        let _ = tokio::time::timeout(Duration::from_secs(120), self.child.wait()).await;
        self.output
    }
}

/// Starts perf on every named process of `processes` that is in `names`.
pub fn perf_start(env: &Env, phase: &str, processes: &[(String, u32)]) -> Vec<PerfRecording> {
    let Some(dir) = &env.perf_dir else {
        return Vec::new();
    };
    let _ = std::fs::create_dir_all(dir);
    processes
        .iter()
        .filter(|(name, _)| name == "worker" || name == "api")
        .filter_map(|(name, pid)| PerfRecording::start(dir, &format!("{phase}-{name}"), *pid))
        .collect()
}

pub async fn perf_stop(recordings: Vec<PerfRecording>) {
    for recording in recordings {
        let output = recording.stop().await;
        eprintln!("perf data: {}", output.display());
    }
}

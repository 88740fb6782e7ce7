//! The real binary as processes: a `longrun` command with a clean environment, `longrun api`
//! and `longrun worker` spawned with their logs kept, signals and exit codes, and the calls
//! the process tests make to the API they started.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

use crate::harness::{MINUTE, TestDb, poll, send, temporal_address};

const BINARY: &str = env!("CARGO_BIN_EXE_longrun");
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A `longrun` command with a clean environment: only what the test sets.
pub fn longrun(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    for (key, _) in std::env::vars() {
        if key.starts_with("LONGRUN_") || key.ends_with("_API_KEY") {
            command.env_remove(key);
        }
    }
    command
        .env("LONGRUN_DATA_DIR", data_dir)
        .env("LONGRUN_METRICS_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end: exit code, stdout, stderr.
pub async fn output_of(mut command: Command) -> (i32, String, String) {
    let output = command.output().await.unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn secret_from(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("API key (shown once): "))
        .unwrap_or_else(|| panic!("no key printed: {stdout}"))
        .trim()
        .to_string()
}

/// Everything a process wrote to stderr so far.
pub type Log = Arc<Mutex<String>>;

fn keep(log: &Log, line: &str) {
    eprintln!("{line}");
    let mut log = log.lock().unwrap();
    log.push_str(line);
    log.push('\n');
}

/// Starts `longrun api` on a port of its choosing and returns it with its base URL, read
/// from its log (port 0 cannot collide with another test's port).
async fn spawn_api(command: Command) -> (Child, String) {
    let (child, base, _) = spawn_api_logged(command, "info").await;
    (child, base)
}

/// Spawns `longrun <role>` logging JSON at this `RUST_LOG`: the process, its log so far,
/// and the lines still to read.
fn spawn_logged(
    mut command: Command,
    role: &str,
    rust_log: &str,
) -> (Child, Log, Lines<BufReader<ChildStderr>>) {
    command
        .env("LONGRUN_LOG_FORMAT", "json")
        .env("RUST_LOG", rust_log)
        .arg(role)
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines();
    (child, Log::default(), lines)
}

/// Keeps reading a process's log into `log`, so it never blocks on a full pipe.
fn drain(mut lines: Lines<BufReader<ChildStderr>>, log: Log) {
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep(&log, &line);
        }
    });
}

/// [`spawn_api`] with this `RUST_LOG`, keeping the log.
pub async fn spawn_api_logged(mut command: Command, rust_log: &str) -> (Child, String, Log) {
    command.env("LONGRUN_LISTEN", "127.0.0.1:0");
    let (child, log, mut lines) = spawn_logged(command, "api", rust_log);
    let address = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            keep(&log, &line);
            let Ok(entry) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if entry["fields"]["message"] == "API listening" {
                return entry["fields"]["address"].as_str().map(str::to_string);
            }
        }
        None
    })
    .await
    .expect("the API did not say where it listens")
    .expect("the API exited before listening");
    drain(lines, log.clone());
    (child, format!("http://{address}"), log)
}

/// Starts `longrun worker` with JSON logs at this `RUST_LOG`, keeping the log.
pub fn spawn_worker_logged(command: Command, rust_log: &str) -> (Child, Log) {
    let (child, log, lines) = spawn_logged(command, "worker", rust_log);
    drain(lines, log.clone());
    (child, log)
}

/// Waits until the API at `base` answers, failing if one of `processes` exits first.
pub async fn wait_until_ready(base: &str, processes: &mut [&mut Child]) {
    let http = reqwest::Client::new();
    poll(
        Duration::from_secs(90),
        Duration::from_millis(100),
        async || {
            for process in processes.iter_mut() {
                if let Ok(Some(status)) = process.try_wait() {
                    panic!("a longrun process exited before {base} answered: {status}");
                }
            }
            match http.get(format!("{base}/healthz")).send().await {
                Ok(response) if response.status() == StatusCode::OK => Ok(()),
                _ => Err(format!("{base} never answered")),
            }
        },
    )
    .await
}

/// Sends `signal` to the process.
pub fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id().unwrap() as i32), signal).unwrap();
}

/// The exit code of the process, which must exit within 30 s.
pub async fn exit_code(child: &mut Child) -> i32 {
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("process did not exit")
        .unwrap()
        .code()
        .unwrap_or(-1)
}

/// What the processes of one test share: a data dir, one database, a task queue of its own on
/// the suite's Temporal server, and the environment every `longrun` command gets.
pub struct Cluster {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    pub fn new(db: &TestDb, name: &str) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            env: vec![
                ("LONGRUN_DATABASE_URL", db.url.clone()),
                ("LONGRUN_TEMPORAL_ADDRESS", temporal_address()),
                (
                    "LONGRUN_TASK_QUEUE",
                    format!("{name}-{}", longrun_store::new_run_id()),
                ),
                ("LONGRUN_JWT_SECRET", JWT_SECRET.to_string()),
                // Off by default for `longrun api`; these tests register accounts.
                ("LONGRUN_ALLOW_SIGNUP", "true".to_string()),
            ],
        }
    }

    /// Sets a variable for every command made afterwards.
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    /// `anthropic/…` models answered by `fake` with `provider_key`; a model call silent for 2 s
    /// is presumed lost, so a killed worker's call is retried quickly.
    pub fn with_model(self, fake: &crate::fakes::FakeLlm, provider_key: &str) -> Self {
        self.with("ANTHROPIC_API_KEY", provider_key)
            .with("LONGRUN_ANTHROPIC_BASE_URL", fake.base_url.clone())
            .with("LONGRUN_HEARTBEAT_TIMEOUT_S", "2")
    }

    pub fn command(&self) -> Command {
        let mut command = longrun(self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs an operator command to its end: exit code, stdout, stderr.
    pub async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = self.command();
        command.args(args);
        output_of(command).await
    }

    /// Creates a workspace with the admin CLI and returns its first API key.
    pub async fn create_workspace(&self, slug: &str, tier: &str) -> String {
        let (code, stdout, stderr) = self
            .run(&["admin", "workspace", "create", slug, "--tier", tier])
            .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains(&format!("tier {tier}")), "{stdout}");
        secret_from(&stdout)
    }

    pub async fn spawn_api(&self) -> (Child, String) {
        spawn_api(self.command()).await
    }

    pub fn spawn_worker(&self) -> Child {
        self.command()
            .arg("worker")
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }
}

impl Cluster {
    /// Starts the API and a worker, for the workspace of `key`.
    pub async fn spawn(&self, key: String) -> Running {
        let (api, base) = self.spawn_api().await;
        let worker = self.spawn_worker();
        Running {
            api,
            worker,
            base,
            key,
        }
    }

    /// Creates workspace `slug` on `tier` with the admin CLI, starts the API and a worker,
    /// waits until they answer, and gives the workspace `agent`.
    pub async fn start(&self, slug: &str, tier: &str, agent: Value) -> Running {
        let key = self.create_workspace(slug, tier).await;
        let mut running = self.spawn(key).await;
        running.wait_until_ready().await;
        running.create_agent(agent).await;
        running
    }
}

/// `longrun api` and `longrun worker` as processes, and the key of the workspace the test
/// uses.
pub struct Running {
    pub api: Child,
    pub worker: Child,
    pub base: String,
    pub key: String,
}

impl Running {
    /// Waits until the API answers, failing if either process exits first.
    pub async fn wait_until_ready(&mut self) {
        wait_until_ready(&self.base, &mut [&mut self.api, &mut self.worker]).await;
    }

    /// `method path` with the workspace's key.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = format!("{}{path}", self.base);
        let http = reqwest::Client::new();
        let (status, _, body) = send(&http, url, method, Some(&self.key), body).await;
        (status, body)
    }

    pub async fn create_agent(&self, agent: Value) {
        let (status, body) = self.call("POST", "/v1/agents", Some(agent)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Submits a run and returns its id.
    pub async fn submit(&self, run: Value) -> String {
        let (status, body) = self.call("POST", "/v1/runs", Some(run)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Polls the run until it is neither queued nor running.
    pub async fn wait_for_run(&self, run_id: &str) -> Value {
        let path = format!("/v1/runs/{run_id}");
        poll(MINUTE, Duration::from_millis(100), async || {
            let (_, run) = self.call("GET", &path, None).await;
            if matches!(run["status"].as_str(), Some("queued" | "running")) {
                Err(format!("run never finished: {run}"))
            } else {
                Ok(run)
            }
        })
        .await
    }

    /// Waits for the run, which must succeed with `result`; returns it.
    pub async fn wait_for_success(&self, run_id: &str, result: &str) -> Value {
        let run = self.wait_for_run(run_id).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["result"], result);
        run
    }

    /// Sends SIGTERM to both; each must exit 0.
    pub async fn stop(mut self) {
        for process in [&self.api, &self.worker] {
            signal(process, Signal::SIGTERM);
        }
        for process in [&mut self.api, &mut self.worker] {
            assert_eq!(exit_code(process).await, 0, "exits cleanly on SIGTERM");
        }
    }
}

/// One ledger row per billable unit of `run_id`, by kind.
pub async fn ledger_of(db: &TestDb, slug: &str, run_id: &str) -> Vec<(String, i64)> {
    let store = longrun_store::Store::connect(&db.url, &Default::default())
        .await
        .unwrap();
    let workspace = store.workspace_by_slug(slug).await.unwrap().unwrap();
    store
        .usage_rows_of_run(&workspace.id, run_id)
        .await
        .unwrap()
}

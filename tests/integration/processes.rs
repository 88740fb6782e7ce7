//! The real binary: `longrun api` and `longrun worker` as separate processes, `longrun dev`
//! from start to Ctrl-C and back, configuration errors, the admin CLI.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{TestDb, temporal_address, temporal_settings};
use crate::on_each_backend;
use longrun_temporal::dev_server::free_port;

const BINARY: &str = env!("CARGO_BIN_EXE_longrun");
const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A `longrun` command with a clean environment: only what the test sets.
fn longrun(data_dir: &Path) -> Command {
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

async fn output_of(mut command: Command) -> (i32, String, String) {
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
type Log = Arc<Mutex<String>>;

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

/// [`spawn_api`] with this `RUST_LOG`, keeping the log.
async fn spawn_api_logged(mut command: Command, rust_log: &str) -> (Child, String, Log) {
    command
        .env("LONGRUN_LISTEN", "127.0.0.1:0")
        .env("LONGRUN_LOG_FORMAT", "json")
        .env("RUST_LOG", rust_log)
        .arg("api")
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let log = Log::default();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
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
    // Keep draining its log so it never blocks on a full pipe.
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep(&kept, &line);
        }
    });
    (child, format!("http://{address}"), log)
}

/// Starts `longrun worker` with JSON logs at this `RUST_LOG`, keeping the log.
fn spawn_worker_logged(mut command: Command, rust_log: &str) -> (Child, Log) {
    command
        .env("LONGRUN_LOG_FORMAT", "json")
        .env("RUST_LOG", rust_log)
        .arg("worker")
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let log = Log::default();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            keep(&kept, &line);
        }
    });
    (child, log)
}

async fn wait_until_ready(base: &str, processes: &mut [&mut Child]) {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        for process in processes.iter_mut() {
            if let Ok(Some(status)) = process.try_wait() {
                panic!("a longrun process exited before {base} answered: {status}");
            }
        }
        if let Ok(response) = http.get(format!("{base}/healthz")).send().await
            && response.status() == StatusCode::OK
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{base} never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.id().unwrap() as i32), signal).unwrap();
}

async fn exit_code(child: &mut Child) -> i32 {
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("process did not exit")
        .unwrap()
        .code()
        .unwrap_or(-1)
}

/// Pids of `temporal` processes whose command line mentions `needle`.
fn temporal_processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("start-dev") && cmdline.contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

async fn wait_for_run(base: &str, key: &str, run_id: &str) -> Value {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let run: Value = http
            .get(format!("{base}/v1/runs/{run_id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if !matches!(run["status"].as_str(), Some("queued" | "running")) {
            return run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run never finished: {run}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the processes of one test share: a data dir, one database, a task queue of its own on
/// the suite's Temporal server, and the environment every `longrun` command gets.
struct Cluster {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Cluster {
    fn new(db: &TestDb, name: &str) -> Self {
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
    fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.env.push((key, value.into()));
        self
    }

    /// `anthropic/…` models answered by `fake` with `provider_key`; a model call silent for 2 s
    /// is presumed lost, so a killed worker's call is retried quickly.
    fn with_model(self, fake: &crate::fakes::FakeLlm, provider_key: &str) -> Self {
        self.with("ANTHROPIC_API_KEY", provider_key)
            .with("LONGRUN_ANTHROPIC_BASE_URL", fake.base_url.clone())
            .with("LONGRUN_HEARTBEAT_TIMEOUT_S", "2")
    }

    fn command(&self) -> Command {
        let mut command = longrun(self.dir.path());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }

    /// Runs an operator command to its end: exit code, stdout, stderr.
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let mut command = self.command();
        command.args(args);
        output_of(command).await
    }

    /// Creates a workspace with the admin CLI and returns its first API key.
    async fn create_workspace(&self, slug: &str, tier: &str) -> String {
        let (code, stdout, stderr) = self
            .run(&["admin", "workspace", "create", slug, "--tier", tier])
            .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains(&format!("tier {tier}")), "{stdout}");
        secret_from(&stdout)
    }

    async fn spawn_api(&self) -> (Child, String) {
        spawn_api(self.command()).await
    }

    fn spawn_worker(&self) -> Child {
        self.command()
            .arg("worker")
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }
}

async fn create_agent(base: &str, key: &str, agent: Value) {
    let created = reqwest::Client::new()
        .post(format!("{base}/v1/agents"))
        .bearer_auth(key)
        .json(&agent)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
}

/// Submits a run and returns its id.
async fn submit(base: &str, key: &str, run: Value) -> String {
    let submitted = reqwest::Client::new()
        .post(format!("{base}/v1/runs"))
        .bearer_auth(key)
        .json(&run)
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::ACCEPTED);
    let submitted: Value = submitted.json().await.unwrap();
    submitted["id"].as_str().unwrap().to_string()
}

/// One ledger row per billable unit of `run_id`, by kind.
async fn ledger_of(db: &TestDb, slug: &str, run_id: &str) -> Vec<(String, i64)> {
    let store = longrun_store::Store::connect(&db.url, &Default::default())
        .await
        .unwrap();
    let workspace = store.workspace_by_slug(slug).await.unwrap().unwrap();
    store
        .usage_rows_of_run(&workspace.id, run_id)
        .await
        .unwrap()
}

async fn stop(processes: &mut [&mut Child]) {
    for process in processes.iter() {
        signal(process, Signal::SIGTERM);
    }
    for process in processes.iter_mut() {
        assert_eq!(exit_code(process).await, 0, "exits cleanly on SIGTERM");
    }
}

on_each_backend!(api_and_worker_processes_share_one_database);
async fn api_and_worker_processes_share_one_database(db: TestDb) {
    let cluster = Cluster::new(&db, "proc");
    let (code, stdout, stderr) = cluster.run(&["migrate"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let key = cluster.create_workspace("acme", "starter").await;

    let (mut api, base) = cluster.spawn_api().await;
    let mut worker = cluster.spawn_worker();
    wait_until_ready(&base, &mut [&mut api, &mut worker]).await;
    create_agent(
        &base,
        &key,
        json!({"name": "demo", "model": "offline/demo", "tools": [{"name": "calculator"}]}),
    )
    .await;
    let run_id = submit(
        &base,
        &key,
        json!({"agent": "demo", "input": "What is 100 / 8?"}),
    )
    .await;
    let run = wait_for_run(&base, &key, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "100 / 8 = 12.5.");
    stop(&mut [&mut api, &mut worker]).await;
}

/// Starts `longrun dev` on fresh ports and reads its output until `until` is printed;
/// returns the process, the transcript and the API's address.
async fn start_dev(
    data_dir: &Path,
    extra: &[&str],
    until: &str,
) -> (Child, String, String, u16, u16) {
    let temporal_port = free_port().unwrap();
    let ui_port = free_port().unwrap();
    let mut command = longrun(data_dir);
    command
        .env("LONGRUN_LISTEN", "127.0.0.1:0")
        .arg("dev")
        .args(["--temporal-port", &temporal_port.to_string()])
        .args(["--ui-port", &ui_port.to_string()])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut dev = command.spawn().unwrap();
    let mut lines = BufReader::new(dev.stdout.take().unwrap()).lines();
    let mut transcript = String::new();
    let mut base = String::new();
    let finished = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            transcript.push_str(&line);
            transcript.push('\n');
            if let Some(rest) = line.strip_prefix("API on ") {
                base = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            if line.starts_with(until) {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(finished, Ok(true)),
        "`{until}` never came:\n{transcript}"
    );
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (dev, transcript, base, temporal_port, ui_port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_the_demo_keeps_its_state_and_leaves_no_temporal_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let (mut dev, transcript, _, _, ui_port) =
        start_dev(&data_dir, &[], "longrun dev keeps serving").await;
    assert!(
        transcript.contains("Demo run succeeded: 12 * (3 + 4) = 84."),
        "{transcript}"
    );
    let ui_link =
        format!("Temporal UI: http://127.0.0.1:{ui_port}/namespaces/default/workflows/run-demo-");
    assert!(transcript.contains(&ui_link), "{transcript}");
    for kind in [
        "run.started",
        "llm.completed",
        "tool.started",
        "tool.completed",
        "run.completed: succeeded",
    ] {
        assert!(
            transcript.contains(kind),
            "{kind} not printed:\n{transcript}"
        );
    }
    let data_marker = data_dir.display().to_string();
    assert_eq!(
        temporal_processes_mentioning(&data_marker).len(),
        1,
        "dev runs one Temporal child"
    );
    // The data folder holds password hashes and webhook secrets: nobody else may read it.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data_dir), 0o700, "the data folder");
        for file in ["longrun.db", "longrun.db-wal", "jwt-secret", "demo-api-key"] {
            let path = data_dir.join(file);
            if path.exists() || file == "longrun.db" {
                assert_eq!(mode(&path) & 0o077, 0, "{file} is readable by others");
            }
        }
    }

    signal(&dev, Signal::SIGINT);
    assert_eq!(exit_code(&mut dev).await, 0);
    assert!(
        temporal_processes_mentioning(&data_marker).is_empty(),
        "Ctrl-C left a temporal process behind"
    );

    // A second start keeps the workspace, the key, the run and its Temporal history.
    let key = std::fs::read_to_string(data_dir.join("demo-api-key"))
        .unwrap()
        .trim()
        .to_string();
    let (mut dev, _, base, temporal_port, _) =
        start_dev(&data_dir, &["--no-demo"], "Demo API key in").await;
    let runs: Value = reqwest::Client::new()
        .get(format!("{base}/v1/runs"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "succeeded");
    let workflow_id = runs[0]["workflow_id"].as_str().unwrap();
    let client = longrun_temporal::connect(
        &temporal_settings(&format!("http://127.0.0.1:{temporal_port}")),
        "test",
    )
    .await
    .unwrap();
    let count = client
        .count_workflows(format!("WorkflowId = '{workflow_id}'"), Default::default())
        .await
        .unwrap();
    assert_eq!(
        count.count(),
        1,
        "the Temporal history survived the restart"
    );
    signal(&dev, Signal::SIGTERM);
    assert_eq!(exit_code(&mut dev).await, 0);
    assert!(temporal_processes_mentioning(&data_marker).is_empty());
}

#[tokio::test]
async fn bad_configuration_stops_with_the_variable_named() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("LONGRUN_LISTEN", "not-an-address"),
        ("LONGRUN_DATABASE_URL", "mysql://root:pw@db/x"),
        ("LONGRUN_TEMPORAL_ADDRESS", "127.0.0.1:7233"),
        ("LONGRUN_SHUTDOWN_GRACE_S", "soon"),
    ];
    for (key, value) in cases {
        let mut command = longrun(dir.path());
        command.env(key, value).arg("migrate");
        let (code, stdout, stderr) = output_of(command).await;
        assert_eq!(code, 2, "{key}={value}: {stdout}{stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert!(!stderr.contains("pw@"), "a password leaked: {stderr}");
    }
    let mut command = longrun(dir.path());
    command
        .env("LONGRUN_TEMPORAL_ADDRESS", "http://127.0.0.1:1")
        .arg("api");
    let (code, _, stderr) = output_of(command).await;
    assert_ne!(code, 0);
    assert!(stderr.contains("LONGRUN_JWT_SECRET"), "{stderr}");
}

// A worker process SIGKILLed in the middle of a model call: the run completes on a new
// worker, the model turn that had completed is not asked again, and the ledger has exactly
// one row per billable unit.
on_each_backend!(a_worker_killed_during_a_model_call_loses_nothing_and_repeats_nothing);
async fn a_worker_killed_during_a_model_call_loses_nothing_and_repeats_nothing(db: TestDb) {
    use crate::fakes::{FakeLlm, Format, Reply, Script};
    let script = Script::new()
        .turn(
            1,
            vec![Reply::Tools(vec![(
                "toolu_1",
                "calculator",
                json!({"expression": "5*5"}),
            )])],
        )
        .turn(
            2,
            vec![
                Reply::Stall(Duration::from_secs(120), "never finished"),
                Reply::Text("It is 25."),
            ],
        );
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let cluster = Cluster::new(&db, "kill").with_model(&fake, "sk-test");
    let key = cluster.create_workspace("crash", "pro").await;
    let (mut api, base) = cluster.spawn_api().await;
    let mut worker = cluster.spawn_worker();
    wait_until_ready(&base, &mut [&mut api, &mut worker]).await;
    create_agent(
        &base,
        &key,
        json!({"name": "a", "model": "anthropic/claude-test", "tools": ["calculator"]}),
    )
    .await;
    let run_id = submit(&base, &key, json!({"agent": "a", "input": "5*5?"})).await;

    // Turn 1 answered, turn 2 in flight: kill the worker.
    fake.wait_for_requests(2, Duration::from_secs(60)).await;
    signal(&worker, Signal::SIGKILL);
    let _ = worker.wait().await;
    let mut worker = cluster.spawn_worker();

    let run = wait_for_run(&base, &key, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "It is 25.");
    assert_eq!(
        fake.requests_for_turn(1),
        1,
        "the completed model turn was not repeated"
    );
    assert_eq!(
        fake.requests_for_turn(2),
        2,
        "the interrupted one was retried once"
    );
    assert!(fake.received().iter().all(|r| r.turn <= 2));
    assert_eq!(
        ledger_of(&db, "crash", &run_id).await,
        [
            ("agent_time".to_string(), 3),
            ("llm".to_string(), 2),
            ("tool".to_string(), 1)
        ],
        "one ledger row per billable unit"
    );
    assert_eq!(run["usage"]["input_tokens"], 200, "{run}");

    // The billing jobs agree: the ledger matches what Temporal executed, and the export has
    // each row once.
    let period = longrun_store::day_label(longrun_store::now_ms())[..7].to_string();
    let (code, stdout, stderr) = cluster
        .run(&["billing", "reconcile", "--period", &period])
        .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("1 finished runs checked, 0 still live skipped, 0 difference(s)"),
        "{stdout}"
    );
    let (code, stdout, stderr) = cluster
        .run(&["billing", "export", "--period", &period, "--format", "csv"])
        .await;
    assert_eq!(code, 0, "{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains(&run_id))
        .collect();
    assert_eq!(rows.len(), 6, "{stdout}");
    stop(&mut [&mut api, &mut worker]).await;
}

/// Series of a Prometheus text exposition: `(name, label names and values)`.
fn series(text: &str) -> Vec<(String, std::collections::BTreeMap<String, String>)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let mut labels = std::collections::BTreeMap::new();
            if line[name_end..].starts_with('{') {
                let body = &line[name_end + 1..line.rfind('}').unwrap()];
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once("=\"").unwrap();
                    labels.insert(
                        key.trim_start_matches(',').to_string(),
                        value.trim_end_matches('"').to_string(),
                    );
                }
            }
            (line[..name_end].to_string(), labels)
        })
        .collect()
}

/// `(name, label names)` of every series named `name`.
fn has_series(text: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    series(text).iter().any(|(n, l)| {
        n == name
            && labels
                .iter()
                .all(|(k, v)| l.get(*k).is_some_and(|got| *v == "*" || got == v))
    })
}

async fn get_text(url: &str) -> (StatusCode, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status(), response.text().await.unwrap())
}

// One full run through separate api and worker processes logging at debug level: both
// processes' metrics (ours and the Temporal SDK's) name the series operators alert on, no
// tenant id is a label, the worker answers /readyz, the request id reaches the worker's
// activity logs, and no secret reaches any log line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_is_observable_and_its_logs_hold_no_secret() {
    use crate::fakes::{FakeLlm, Format, Reply, Script};
    const PROVIDER_KEY: &str = "sk-ant-test-9f3b1c2d7e5a4b6c8d0e";
    const BILLING_TOKEN: &str = "billing-token-0b6e1f9a3c5d7e2f4a6b8c0d";
    const PASSWORD: &str = "a long and secret passphrase 7c1e";
    const REQUEST_ID: &str = "req-observe-5d2c9a";
    let script = Script::new()
        .turn(
            1,
            vec![Reply::Tools(vec![(
                "toolu_1",
                "calculator",
                json!({"expression": "6*7"}),
            )])],
        )
        .turn(2, vec![Reply::Text("It is 42.")]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    // Completion webhooks arrive here, signed with the workspace's secret.
    let (hook_tx, mut hook_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    tokio::spawn(async move {
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: String| {
                let tx = hook_tx.clone();
                async move {
                    let _ = tx.send(body);
                    "ok"
                }
            }),
        );
        axum::serve(hook_listener, app).await
    });

    let db = TestDb::sqlite();
    let cluster = Cluster::new(&db, "observe")
        .with_model(&fake, PROVIDER_KEY)
        .with("LONGRUN_BILLING_TOKEN", BILLING_TOKEN)
        .with("LONGRUN_HTTP_FETCH_ALLOW", "127.0.0.1");
    let api_metrics = free_port().unwrap();
    let worker_metrics = free_port().unwrap();
    let mut api = cluster.command();
    api.env("LONGRUN_METRICS_LISTEN", format!("127.0.0.1:{api_metrics}"));
    let (mut api, base, api_log) = spawn_api_logged(api, "debug").await;
    let mut worker = cluster.command();
    worker.env(
        "LONGRUN_METRICS_LISTEN",
        format!("127.0.0.1:{worker_metrics}"),
    );
    let (mut worker, worker_log) = spawn_worker_logged(worker, "debug");
    wait_until_ready(&base, &mut [&mut api]).await;

    let http = reqwest::Client::new();
    let registered: Value = http
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"workspace": "observed", "email": "ops@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwt = registered["token"].as_str().expect("a token").to_string();
    let login = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "ops@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let workspace: Value = http
        .get(format!("{base}/v1/workspace"))
        .bearer_auth(&jwt)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let webhook_secret = workspace["webhook_secret"].as_str().unwrap().to_string();
    let workspace_id = workspace["id"].as_str().unwrap().to_string();
    let key: Value = http
        .post(format!("{base}/v1/api-keys"))
        .bearer_auth(&jwt)
        .json(&json!({"name": "ci", "role": "admin"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let api_key = key["secret"].as_str().expect("a key secret").to_string();
    create_agent(
        &base,
        &api_key,
        json!({"name": "a", "model": "anthropic/claude-test", "tools": ["calculator"]}),
    )
    .await;
    let submitted = http
        .post(format!("{base}/v1/runs"))
        .bearer_auth(&api_key)
        .header("x-request-id", REQUEST_ID)
        .json(&json!({"agent": "a", "input": "6*7?", "webhook_url": hook_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.headers()["x-request-id"], REQUEST_ID);
    let submitted: Value = submitted.json().await.unwrap();
    let run_id = submitted["id"].as_str().unwrap().to_string();
    let run = wait_for_run(&base, &api_key, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let delivered = tokio::time::timeout(Duration::from_secs(30), hook_rx.recv())
        .await
        .expect("the completion webhook arrived")
        .unwrap();
    assert!(delivered.contains(&run_id));
    let export = http
        .get(format!(
            "{base}/v1/billing/export?period=2026-01&format=jsonl"
        ))
        .bearer_auth(BILLING_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);

    // The API's series, by route template and tier, and its readiness.
    let (status, api_text) = get_text(&format!("http://127.0.0.1:{api_metrics}/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        has_series(
            &api_text,
            "longrun_http_requests_total",
            &[("method", "POST"), ("route", "/v1/runs"), ("status", "202")]
        ),
        "{api_text}"
    );
    assert!(has_series(
        &api_text,
        "longrun_http_request_duration_seconds_bucket",
        &[
            ("method", "GET"),
            ("route", "/v1/runs/{id}"),
            ("status", "200"),
            ("le", "*")
        ]
    ));
    assert!(
        has_series(
            &api_text,
            "longrun_rate_limit_decisions_total",
            &[("tier", "free"), ("decision", "*")]
        ),
        "{api_text}"
    );
    assert!(has_series(
        &api_text,
        "longrun_ready",
        &[("check", "database")]
    ));
    assert!(has_series(
        &api_text,
        "longrun_ready",
        &[("check", "temporal")]
    ));

    // The worker's series, ours and the SDK's, and its readiness on the metrics listener. The
    // model is no entry of the price table: tenants choose model names, so it is counted as
    // `other`, never under its own name.
    let expected: &[(&str, &[(&str, &str)])] = &[
        (
            "longrun_runs_finished_total",
            &[("status", "succeeded"), ("tier", "free")][..],
        ),
        (
            "longrun_llm_call_duration_seconds_count",
            &[("provider", "anthropic"), ("model", "other")],
        ),
        (
            "longrun_llm_tokens_total",
            &[
                ("provider", "anthropic"),
                ("model", "other"),
                ("kind", "input"),
            ],
        ),
        (
            "longrun_ledger_writes_total",
            &[("kind", "llm"), ("outcome", "recorded")],
        ),
        (
            "longrun_events_published_total",
            &[("kind", "run.completed")],
        ),
        (
            "temporal_workflow_completed_total",
            &[("workflow_type", "AgentRunWorkflow")],
        ),
        (
            "temporal_workflow_task_schedule_to_start_latency_seconds_bucket",
            &[("le", "*")],
        ),
        (
            "temporal_activity_schedule_to_start_latency_seconds_bucket",
            &[("task_queue", "*")],
        ),
        (
            "temporal_worker_task_slots_available",
            &[("worker_type", "ActivityWorker")],
        ),
    ];
    // The workflow closes just after its webhook is delivered: wait for its last counters.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let worker_text = loop {
        let (status, text) = get_text(&format!("http://127.0.0.1:{worker_metrics}/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        let missing: Vec<_> = expected
            .iter()
            .filter(|(name, labels)| !has_series(&text, name, labels))
            .collect();
        if missing.is_empty() {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing:?} missing:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (status, ready) = get_text(&format!("http://127.0.0.1:{worker_metrics}/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert!(ready.contains("\"temporal\""), "{ready}");

    // Tenants are never labels: neither the workspace's id nor its slug appears in a series.
    for text in [&api_text, &worker_text] {
        for (name, labels) in series(text) {
            assert!(
                !labels
                    .keys()
                    .any(|k| k.contains("workspace") || k.contains("tenant")),
                "{name} {labels:?}"
            );
            assert!(
                !labels
                    .values()
                    .any(|v| v.contains(&workspace_id) || v == "observed"),
                "{name} {labels:?}"
            );
            assert!(
                !labels.values().any(|v| v.contains("claude-test")),
                "a tenant's model name became a label value: {name} {labels:?}"
            );
        }
    }

    stop(&mut [&mut api, &mut worker]).await;
    let api_log = api_log.lock().unwrap().clone();
    let worker_log = worker_log.lock().unwrap().clone();

    // The request id is on the API's request line and on the worker's activity spans.
    assert!(api_log.contains(REQUEST_ID));
    let activity_lines: Vec<&str> = worker_log
        .lines()
        .filter(|line| line.contains("\"name\":\"activity\""))
        .collect();
    assert!(
        !activity_lines.is_empty(),
        "no activity span in the worker's log"
    );
    assert!(
        activity_lines.iter().any(|line| line.contains(REQUEST_ID)),
        "the request id is not on the activities' spans"
    );

    for (what, secret) in [
        ("API key", api_key.as_str()),
        ("login token", jwt.as_str()),
        ("password", PASSWORD),
        ("provider key", PROVIDER_KEY),
        ("JWT secret", JWT_SECRET),
        ("billing token", BILLING_TOKEN),
        ("webhook secret", webhook_secret.as_str()),
    ] {
        for (role, log) in [("api", &api_log), ("worker", &worker_log)] {
            assert!(!log.contains(secret), "the {what} is in the {role}'s log");
        }
    }
    assert!(
        api_log.len() > 10_000 && worker_log.len() > 10_000,
        "debug logs were written"
    );
}

// SIGTERM to both processes in the middle of a model call: an open event stream ends
// cleanly, both exit 0 within the grace period, and after a restart the run completes with
// one ledger row per billable unit.
on_each_backend!(sigterm_during_a_run_loses_nothing);
async fn sigterm_during_a_run_loses_nothing(db: TestDb) {
    use crate::fakes::{FakeLlm, Format, Reply, Script};
    use futures::StreamExt;
    let script = Script::new().turn(
        1,
        vec![
            Reply::Stall(Duration::from_secs(120), "never finished"),
            Reply::Text("Done."),
        ],
    );
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let cluster = Cluster::new(&db, "term")
        .with_model(&fake, "sk-test")
        .with("LONGRUN_SHUTDOWN_GRACE_S", "1");
    let key = cluster.create_workspace("term", "pro").await;
    let (mut api, base) = cluster.spawn_api().await;
    let mut worker = cluster.spawn_worker();
    wait_until_ready(&base, &mut [&mut api, &mut worker]).await;
    create_agent(
        &base,
        &key,
        json!({"name": "a", "model": "anthropic/claude-test"}),
    )
    .await;
    let run_id = submit(
        &base,
        &key,
        json!({"agent": "a", "input": "Take your time."}),
    )
    .await;
    let http = reqwest::Client::new();
    fake.wait_for_requests(1, Duration::from_secs(60)).await;
    let events = http
        .get(format!("{base}/v1/runs/{run_id}/events"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    let mut events = events.bytes_stream();
    // The stream is open: the run has started.
    let first = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the stream sent the events so far");
    assert!(first.is_some_and(|chunk| chunk.is_ok()));

    signal(&api, Signal::SIGTERM);
    signal(&worker, Signal::SIGTERM);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = events.next().await {
            if chunk.is_err() {
                return false;
            }
        }
        true
    })
    .await
    .expect("the event stream ended when the API stopped");
    assert!(ended, "the event stream ended cleanly, not cut");
    assert_eq!(exit_code(&mut api).await, 0);
    assert_eq!(exit_code(&mut worker).await, 0);

    let (mut api, base) = cluster.spawn_api().await;
    let mut worker = cluster.spawn_worker();
    let run = wait_for_run(&base, &key, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "Done.");
    assert_eq!(
        fake.requests_for_turn(1),
        2,
        "the interrupted call was made again, once"
    );
    assert_eq!(
        ledger_of(&db, "term", &run_id).await,
        [("agent_time".to_string(), 1), ("llm".to_string(), 1)],
        "one ledger row per billable unit"
    );
    stop(&mut [&mut api, &mut worker]).await;
}

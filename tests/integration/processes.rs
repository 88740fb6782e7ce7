//! The real binary: `longrun api` and `longrun worker` as separate processes, `longrun dev`
//! from start to Ctrl-C and back, configuration errors, the admin CLI.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

use crate::cluster::{
    Cluster, JWT_SECRET, Running, exit_code, ledger_of, longrun, output_of, signal,
    spawn_api_logged, spawn_worker_logged, wait_until_ready,
};
use crate::fakes::{FakeLlm, Format, Reply, Script, claude_agent};
use crate::harness::{MINUTE, TestDb, executions, ledger_rows, send, temporal_client};
use crate::on_each_backend;
use longrun_temporal::dev_server::free_port;

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

on_each_backend!(api_and_worker_processes_share_one_database);
async fn api_and_worker_processes_share_one_database(db: TestDb) {
    let cluster = Cluster::new(&db, "proc");
    let (code, stdout, stderr) = cluster.run(&["migrate"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let demo = json!({"name": "demo", "model": "offline/demo", "tools": [{"name": "calculator"}]});
    let running = cluster.start("acme", "starter", demo).await;
    let run_id = running
        .submit(json!({"agent": "demo", "input": "What is 100 / 8?"}))
        .await;
    running.wait_for_success(&run_id, "100 / 8 = 12.5.").await;
    running.stop().await;
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
    let http = reqwest::Client::new();
    let (_, _, runs) = send(&http, format!("{base}/v1/runs"), "GET", Some(&key), None).await;
    let runs = runs["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["status"], "succeeded");
    let workflow_id = runs[0]["workflow_id"].as_str().unwrap();
    let client = temporal_client(&format!("http://127.0.0.1:{temporal_port}")).await;
    assert_eq!(
        executions(&client, workflow_id).await,
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
    let script = Script::new().calculate("toolu_1", "5*5").then(vec![
        Reply::Stall(Duration::from_secs(120), "never finished"),
        Reply::Text("It is 25."),
    ]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let cluster = Cluster::new(&db, "kill").with_model(&fake, "sk-test");
    let mut running = cluster
        .start("crash", "pro", claude_agent(&["calculator"]))
        .await;
    let run_id = running.submit(json!({"agent": "a", "input": "5*5?"})).await;

    // Turn 1 answered, turn 2 in flight: kill the worker.
    fake.wait_for_requests(2, MINUTE).await;
    signal(&running.worker, Signal::SIGKILL);
    let _ = running.worker.wait().await;
    running.worker = cluster.spawn_worker();

    let run = running.wait_for_success(&run_id, "It is 25.").await;
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
        ledger_rows(&[("agent_time", 3), ("llm", 2), ("tool", 1)]),
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
    running.stop().await;
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
    const PROVIDER_KEY: &str = "sk-ant-test-9f3b1c2d7e5a4b6c8d0e";
    const BILLING_TOKEN: &str = "billing-token-0b6e1f9a3c5d7e2f4a6b8c0d";
    const PASSWORD: &str = "a long and secret passphrase 7c1e";
    const REQUEST_ID: &str = "req-observe-5d2c9a";
    let script = Script::new()
        .calculate("toolu_1", "6*7")
        .answer("It is 42.");
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
    let (worker, worker_log) = spawn_worker_logged(worker, "debug");
    wait_until_ready(&base, &mut [&mut api]).await;

    let http = reqwest::Client::new();
    let url = |path: &str| format!("{base}{path}");
    let account =
        json!({"workspace": "observed", "email": "ops@example.com", "password": PASSWORD});
    let (_, _, registered) =
        send(&http, url("/v1/auth/register"), "POST", None, Some(account)).await;
    let jwt = registered["token"].as_str().expect("a token").to_string();
    let credentials = json!({"email": "ops@example.com", "password": PASSWORD});
    let (status, _, _) = send(
        &http,
        url("/v1/auth/login"),
        "POST",
        None,
        Some(credentials),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, workspace) = send(&http, url("/v1/workspace"), "GET", Some(&jwt), None).await;
    let webhook_secret = workspace["webhook_secret"].as_str().unwrap().to_string();
    let workspace_id = workspace["id"].as_str().unwrap().to_string();
    let ci = json!({"name": "ci", "role": "admin"});
    let (_, _, key) = send(&http, url("/v1/api-keys"), "POST", Some(&jwt), Some(ci)).await;
    let api_key = key["secret"].as_str().expect("a key secret").to_string();
    let running = Running {
        api,
        worker,
        base: base.clone(),
        key: api_key.clone(),
    };
    running.create_agent(claude_agent(&["calculator"])).await;
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
    let run = running.wait_for_run(&run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let delivered = tokio::time::timeout(Duration::from_secs(30), hook_rx.recv())
        .await
        .expect("the completion webhook arrived")
        .unwrap();
    assert!(delivered.contains(&run_id));
    let export = url("/v1/billing/export?period=2026-01&format=jsonl");
    let (status, _, _) = send(&http, export, "GET", Some(BILLING_TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);

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

    running.stop().await;
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
    use futures::StreamExt;
    let script = Script::new().then(vec![
        Reply::Stall(Duration::from_secs(120), "never finished"),
        Reply::Text("Done."),
    ]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let cluster = Cluster::new(&db, "term")
        .with_model(&fake, "sk-test")
        .with("LONGRUN_SHUTDOWN_GRACE_S", "1");
    let running = cluster.start("term", "pro", claude_agent(&[])).await;
    let run_id = running
        .submit(json!({"agent": "a", "input": "Take your time."}))
        .await;
    let Running {
        mut api,
        mut worker,
        base,
        key,
    } = running;
    let http = reqwest::Client::new();
    fake.wait_for_requests(1, MINUTE).await;
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

    let running = cluster.spawn(key).await;
    running.wait_for_success(&run_id, "Done.").await;
    assert_eq!(
        fake.requests_for_turn(1),
        2,
        "the interrupted call was made again, once"
    );
    assert_eq!(
        ledger_of(&db, "term", &run_id).await,
        ledger_rows(&[("agent_time", 1), ("llm", 1)]),
        "one ledger row per billable unit"
    );
    running.stop().await;
}

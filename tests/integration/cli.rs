//! The client CLI (`longrun runs …`, `longrun agents …`) as a process against a live API:
//! submitting and following to the end, following through a dropped connection, lists with
//! filters, agents from a file, and the exit codes.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

use crate::cluster::{exit_code, longrun, output_of, signal};
use crate::harness::{MINUTE, TestApp, TestDb, poll};

/// The CLI with a clean environment, pointed at `url` with `key` (either may be left out).
fn cli(dir: &std::path::Path, url: Option<&str>, key: Option<&str>) -> Command {
    let mut command = longrun(dir);
    // No profile file of the machine's user is read.
    command.env("LONGRUN_CLIENT_CONFIG", dir.join("no-such-client.toml"));
    if let Some(url) = url {
        command.env("LONGRUN_API_URL", url);
    }
    if let Some(key) = key {
        command.env("LONGRUN_API_KEY", key);
    }
    command
}

async fn run_cli(
    dir: &std::path::Path,
    app: &TestApp,
    key: &str,
    args: &[&str],
) -> (i32, String, String) {
    let mut command = cli(dir, Some(&app.base), Some(key));
    command.args(args);
    output_of(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_submits_follows_lists_and_applies_agents() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, key) = app.tenant("cli").await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let (code, stdout, stderr) = run_cli(
        dir,
        &app,
        &key,
        &[
            "runs",
            "submit",
            "demo",
            "What is 2 + 3?",
            "--follow",
            "--metadata",
            "team=blue",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("→ calculator"), "{stdout}");
    assert!(stdout.contains("● succeeded: 2 + 3 = 5."), "{stdout}");
    let (code, stdout, _) = run_cli(
        dir,
        &app,
        &key,
        &["runs", "submit", "demo", "hello", "--json"],
    )
    .await;
    assert_eq!(code, 0);
    let plain: Value = serde_json::from_str(stdout.trim()).unwrap();
    let plain_id = plain["id"].as_str().unwrap().to_string();
    app.wait_for_run(&key, &plain_id, MINUTE).await;

    // Lists with filters.
    let (code, stdout, stderr) = run_cli(
        dir,
        &app,
        &key,
        &[
            "runs",
            "list",
            "--agent",
            "demo",
            "--status",
            "succeeded",
            "--metadata",
            "team=blue",
            "--since",
            "1h",
            "--json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let page: Value = serde_json::from_str(stdout.trim()).unwrap();
    let runs = page["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{page}");
    assert_eq!(runs[0]["metadata"]["team"], "blue");
    let (code, stdout, _) = run_cli(
        dir,
        &app,
        &key,
        &["runs", "list", "--status", "succeeded,failed"],
    )
    .await;
    assert_eq!(code, 0);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("STATUS"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 3, "a header and two runs: {stdout}");
    assert!(lines[1].starts_with(&plain_id), "newest first: {stdout}");
    let (code, stdout, _) = run_cli(dir, &app, &key, &["runs", "get", &plain_id]).await;
    assert_eq!(code, 0);
    assert!(
        stdout.contains(&format!("id: {plain_id}")) && stdout.contains("status: succeeded"),
        "{stdout}"
    );

    // Agents from a file: created, then updated.
    let file = dir.join("gated.toml");
    std::fs::write(
        &file,
        "name = \"gated\"\nmodel = \"offline/demo\"\n\n[[tools]]\nname = \"calculator\"\nrequires_approval = true\n",
    )
    .unwrap();
    let path = file.display().to_string();
    let (code, stdout, stderr) = run_cli(dir, &app, &key, &["agents", "apply", "-f", &path]).await;
    assert_eq!(
        (code, stdout.trim()),
        (0, "agent gated created"),
        "{stderr}"
    );
    let (code, stdout, _) = run_cli(dir, &app, &key, &["agents", "apply", "-f", &path]).await;
    assert_eq!((code, stdout.trim()), (0, "agent gated updated"));
    let (_, stdout, _) = run_cli(dir, &app, &key, &["agents", "list"]).await;
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("gated") && l.contains("offline/demo")),
        "{stdout}"
    );
    let (code, stdout, _) = run_cli(dir, &app, &key, &["agents", "get", "gated", "--json"]).await;
    assert_eq!(code, 0);
    let agent: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(agent["tools"][0]["requires_approval"], true, "{agent}");

    // Completions are generated from the same command tree.
    let mut command = longrun(dir);
    command.args(["completions", "bash"]);
    let (code, stdout, _) = output_of(command).await;
    assert_eq!(code, 0);
    assert!(
        stdout.contains("runs") && stdout.contains("--api-url"),
        "bash completions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_exit_codes_say_what_went_wrong_and_how_runs_ended() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, key) = app.tenant("codes").await;
    app.create_agent(
        &key,
        json!({"name": "chat", "model": "offline/demo", "await_input": true}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // Without a URL or a key: which variable to set, exit 2.
    let mut command = cli(dir, None, Some(&key));
    command.args(["runs", "list"]);
    let (code, _, stderr) = output_of(command).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("LONGRUN_API_URL"), "{stderr}");
    let mut command = cli(dir, Some(&app.base), None);
    command.args(["runs", "list"]);
    let (code, _, stderr) = output_of(command).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("LONGRUN_API_KEY"), "{stderr}");
    // The API's code and message, exit 1.
    let (code, _, stderr) = run_cli(dir, &app, "lr_wrong", &["runs", "list"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("unauthorized"), "{stderr}");
    let (code, _, stderr) = run_cli(dir, &app, &key, &["runs", "get", &"0".repeat(32)]).await;
    assert_eq!(code, 1);
    assert!(
        stderr.contains("run_not_found: no such run in this workspace"),
        "{stderr}"
    );
    let mut command = cli(dir, Some("http://127.0.0.1:9"), Some(&key));
    command.args(["runs", "list"]);
    let (code, _, stderr) = output_of(command).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("cannot reach the API"), "{stderr}");

    // How a followed run ended.
    let (code, stdout, _) = run_cli(
        dir,
        &app,
        &key,
        &[
            "runs",
            "submit",
            "demo",
            "What is 2 * 21?",
            "--budget-max-steps",
            "1",
            "--follow",
        ],
    )
    .await;
    assert_eq!(code, 5, "budget_exhausted: {stdout}");
    let chat = app.submit_to(&key, "chat", "hello").await;
    app.wait_for_status(&key, &chat, "waiting_input", MINUTE)
        .await;

    // Ctrl-C stops following, not the run.
    let mut command = cli(dir, Some(&app.base), Some(&key));
    command
        .args(["runs", "follow", &chat])
        .stdout(Stdio::piped());
    let mut follower = command.spawn().unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let waiting = tokio::time::timeout(MINUTE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("⏸ waiting for input") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(waiting.ok(), Some(true), "the follower shows the question");
    signal(&follower, Signal::SIGINT);
    assert_eq!(exit_code(&mut follower).await, 130);
    let (_, run) = app.get(&key, &format!("/v1/runs/{chat}")).await;
    assert_eq!(run["status"], "waiting_input", "the run goes on: {run}");

    let (code, stdout, _) = run_cli(dir, &app, &key, &["runs", "cancel", &chat]).await;
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = run_cli(dir, &app, &key, &["runs", "follow", &chat]).await;
    assert_eq!(code, 4, "cancelled: {stdout}");
    assert!(stdout.contains("● cancelled"), "{stdout}");
}

/// A loopback TCP proxy that can cut every connection it carries, and keeps what clients
/// sent.
struct Proxy {
    url: String,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    sent: Arc<Mutex<String>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let sent: Arc<Mutex<String>> = Arc::default();
        let (held, log) = (connections.clone(), sent.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let log = log.clone();
                let task = tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let up = async {
                        let mut buffer = [0u8; 8192];
                        loop {
                            let n = client_read.read(&mut buffer).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            log.lock()
                                .unwrap()
                                .push_str(&String::from_utf8_lossy(&buffer[..n]));
                            if server_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = tokio::io::copy(&mut server_read, &mut client_write);
                    let _ = tokio::join!(up, down);
                });
                held.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            url,
            connections,
            sent,
        }
    }

    /// Drops every connection open now.
    fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_follows_a_run_through_a_dropped_connection() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, key) = app.tenant("resume").await;
    app.create_agent(
        &key,
        json!({"name": "gated", "model": "offline/demo",
               "tools": [{"name": "calculator", "requires_approval": true}]}),
    )
    .await;
    let proxy = Proxy::start(&app.base).await;
    let dir = tempfile::tempdir().unwrap();
    let run_id = app.submit_to(&key, "gated", "What is 6 * 7?").await;
    let mut command = cli(dir.path(), Some(&proxy.url), Some(&key));
    command
        .args(["runs", "follow", &run_id, "--json"])
        .stdout(Stdio::piped());
    let mut follower = command.spawn().unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let mut events: Vec<Value> = Vec::new();
    let call = tokio::time::timeout(MINUTE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let event: Value = serde_json::from_str(&line).unwrap();
            events.push(event.clone());
            if event["event"] == "approval.requested" {
                return event["data"]["tool_call_id"].as_str().unwrap().to_string();
            }
        }
        panic!("the stream ended before the approval request");
    })
    .await
    .expect("no approval request followed");

    // The connection drops while the run waits; the decision comes meanwhile.
    proxy.cut();
    let decision = json!({"tool_call_id": call, "approve": true});
    let (status, _) = app.act(&key, &run_id, "approvals", Some(decision)).await;
    assert_eq!(status, StatusCode::OK);
    tokio::time::timeout(MINUTE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            events.push(serde_json::from_str(&line).unwrap());
        }
    })
    .await
    .expect("the follower never finished");
    assert_eq!(exit_code(&mut follower).await, 0);

    let stored: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| {
            Some((
                e["id"].as_str()?.parse().ok()?,
                e["event"].as_str()?.to_string(),
            ))
        })
        .collect();
    let ids: Vec<u64> = stored.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "each event once, in order: {stored:?}"
    );
    assert_eq!(stored.last().unwrap().1, "run.completed", "{stored:?}");
    assert!(
        stored.iter().any(|(_, kind)| kind == "approval.decided"),
        "{stored:?}"
    );
    let sent = proxy.sent.lock().unwrap().to_lowercase();
    let requested = events
        .iter()
        .find(|e| e["event"] == "approval.requested")
        .unwrap();
    let resumed = format!("last-event-id: {}", requested["id"].as_str().unwrap());
    assert!(
        sent.contains(&resumed),
        "the follower resumed with Last-Event-ID: {sent}"
    );
    // The run's own record agrees.
    let run = poll(MINUTE, Duration::from_millis(100), async || {
        let (_, run) = app.get(&key, &format!("/v1/runs/{run_id}")).await;
        if run["status"] == "succeeded" {
            Ok(run)
        } else {
            Err(format!("{run}"))
        }
    })
    .await;
    assert_eq!(run["result"], "6 * 7 = 42.");
}

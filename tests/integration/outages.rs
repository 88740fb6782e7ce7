//! Outages pause runs, they never fail them: a provider answering 503 for a while, Temporal
//! down while runs are submitted, a Temporal server restarted mid-run, a Postgres stopped and
//! started again under real `longrun api` and `longrun worker` processes, Redis down under
//! the API. Outages are scaled down (seconds, with retry caps of a second) but each outlasts
//! the retry cap many times over, and the bounded retries that used to fail runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use longrun_activities::ProviderSettings;
use longrun_temporal::dev_server::{self, DevServer, DevServerOptions};

use crate::cluster::{Cluster, Running, ledger_of};
use crate::fakes::{FakeLlm, Format, Reply, Script, claude_agent};
use crate::harness::{MINUTE, Options, TestApp, TestDb, poll};

fn unavailable() -> Reply {
    Reply::Error {
        status: 503,
        headers: Vec::new(),
        body: json!({"type": "error", "error": {"type": "overloaded_error", "message": "down"}}),
    }
}

/// Options for a test of outages: retries capped at a second, so outages of seconds are many
/// retry caps long.
fn outage_options(providers: ProviderSettings) -> Options {
    let mut options = Options {
        providers,
        ..Options::default()
    };
    options.tuning.retry_cap_s = 1;
    options.tuning.llm_max_attempts = 0;
    options.tuning.provider_outage_tolerance_s = 120;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_outage_is_waited_out_visibly_and_billed_once() {
    // Twelve failed attempts (about ten seconds at a one-second cap): the old policy (ten
    // attempts) would have failed the run.
    let mut replies = vec![unavailable(); 12];
    replies.push(Reply::Text("back again"));
    let fake = FakeLlm::start(Format::Anthropic, Script::new().then(replies)).await;
    let app = TestApp::start_with(TestDb::sqlite(), outage_options(fake.providers())).await;
    let (workspace, key) = app.tenant_with_agent("patient", claude_agent(&[])).await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    let waiting = app
        .wait_for_status(&key, &run_id, "waiting_provider", MINUTE)
        .await;
    assert_eq!(waiting["status"], "waiting_provider");
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "back again");
    assert_eq!(fake.received().len(), 13);
    let events = app.events(&workspace.id, &run_id).await;
    let retrying: Vec<_> = events
        .iter()
        .filter(|e| e.kind.as_str() == "provider.retrying")
        .collect();
    assert!(
        retrying.len() >= 10,
        "one event per failed attempt: {}",
        retrying.len()
    );
    let first: serde_json::Value = serde_json::from_str(&retrying[0].data).unwrap();
    assert_eq!(first["attempt"], 1);
    assert!(first["error"].as_str().unwrap().contains("503"), "{first}");
    // The failed attempts cost nothing: one model call billed.
    let ledger = app.ledger(&workspace.id, &run_id).await;
    assert_eq!(
        ledger,
        vec![("agent_time".to_string(), 1), ("llm".to_string(), 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_fails_fast_fails_at_the_first_provider_error() {
    let fake = FakeLlm::start(Format::Anthropic, Script::new().then(vec![unavailable()])).await;
    let app = TestApp::start_with(TestDb::sqlite(), outage_options(fake.providers())).await;
    let mut agent = claude_agent(&[]);
    agent["provider_outage_tolerance_s"] = json!(0);
    let (_, key) = app.tenant_with_agent("hasty", agent).await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "provider_unavailable", "{run}");
    assert_eq!(fake.received().len(), 1);
}

/// A Temporal dev server of the test's own, keeping its state in a file, so it can be
/// stopped and started again on the same port with its workflows.
struct PrivateTemporal {
    server: Option<DevServer>,
    options: DevServerOptions,
    _dir: tempfile::TempDir,
}

impl PrivateTemporal {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = DevServerOptions {
            db_file: Some(dir.path().join("temporal.db")),
            ..DevServerOptions::in_memory(
                dev_server::find_cli().expect("temporal CLI missing: run scripts/bootstrap"),
                dev_server::free_port().unwrap(),
                dir.path().join("temporal.log"),
                &longrun_workflows::search::ALL,
            )
        };
        let server = DevServer::start(options.clone()).await.unwrap();
        Self {
            server: Some(server),
            options,
            _dir: dir,
        }
    }

    fn address(&self) -> String {
        format!("http://{}:{}", self.options.ip, self.options.port)
    }

    async fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop().await;
        }
    }

    async fn restart(&mut self) {
        self.stop().await;
        let (ip, port) = (self.options.ip.clone(), self.options.port);
        poll(MINUTE, Duration::from_millis(100), async || {
            if dev_server::port_in_use(&ip, port) {
                Err(format!(
                    "port {port} is still taken after the server stopped"
                ))
            } else {
                Ok(())
            }
        })
        .await;
        self.server = Some(DevServer::start(self.options.clone()).await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_submitted_while_temporal_is_down_are_admitted_and_start_when_it_returns() {
    let mut temporal = PrivateTemporal::start().await;
    let options = Options {
        temporal: Some(temporal.address()),
        ..outage_options(ProviderSettings::default())
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("patient").await;
    temporal.stop().await;
    // Admission does not wait for Temporal: 202, queued, saying why.
    let run_id = app.submit_to(&key, "demo", "What is 6 * 7?").await;
    let queued = poll(MINUTE, Duration::from_millis(100), async || {
        let (_, run) = app.get(&key, &format!("/v1/runs/{run_id}")).await;
        match run["status_reason"].as_str() {
            Some(reason) if reason.starts_with("scheduler_unavailable") => Ok(run),
            _ => Err(format!("not waiting for Temporal yet: {run}")),
        }
    })
    .await;
    assert_eq!(queued["status"], "queued");
    // A message to it waits in order too.
    let (status, body) = app
        .act(&key, &run_id, "messages", Some(json!({"text": "hurry"})))
        .await;
    assert_eq!(
        (status, body["queued"].as_bool()),
        (StatusCode::ACCEPTED, Some(true)),
        "{body}"
    );
    // The API serves meanwhile: degraded, not unready.
    let (status, ready) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["temporal"]["status"], "unavailable");
    temporal.restart().await;
    let run = app.wait_for_run(&key, &run_id, 2 * MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["status_reason"].is_null(), "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_temporal_restart_mid_run_loses_nothing() {
    let mut temporal = PrivateTemporal::start().await;
    let script = Script::new()
        .calculate("t1", "2+2")
        .then(vec![Reply::Stall(Duration::from_secs(4), "four")]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let options = Options {
        temporal: Some(temporal.address()),
        ..outage_options(fake.providers())
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (workspace, key) = app
        .tenant_with_agent("restart", claude_agent(&["calculator"]))
        .await;
    let run_id = app.submit_to(&key, "a", "2+2?").await;
    fake.wait_for_requests(2, MINUTE).await;
    // Mid model call: the server goes away and comes back with its state.
    temporal.restart().await;
    let run = app.wait_for_run(&key, &run_id, 2 * MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "four");
    let ledger = app.ledger(&workspace.id, &run_id).await;
    let llm = ledger
        .iter()
        .find(|(kind, _)| kind == "llm")
        .map(|(_, n)| *n);
    let calls = app
        .store
        .run(&workspace.id, &run_id)
        .await
        .unwrap()
        .unwrap()
        .step;
    assert_eq!(
        llm,
        Some(calls),
        "one ledger row per model call: {ledger:?}"
    );
}

/// A Postgres cluster of the test's own (`initdb` in a temporary folder, run as the
/// `postgres` user when the test runs as root), so it can be stopped and started.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    fn bin_dir() -> PathBuf {
        let root = Path::new("/usr/lib/postgresql");
        let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
            .expect("the PostgreSQL server binaries (Debian package postgresql) are missing")
            .map(|entry| entry.unwrap().path().join("bin"))
            .filter(|bin| bin.join("initdb").is_file())
            .collect();
        versions.sort();
        versions.pop().expect("no initdb under /usr/lib/postgresql")
    }

    /// Whether this process runs as root (the server refuses to).
    fn root() -> bool {
        let id = std::process::Command::new("id").arg("-u").output().unwrap();
        String::from_utf8_lossy(&id.stdout).trim() == "0"
    }

    /// Runs a server program, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if Self::root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            std::process::Command::new(&program)
        };
        let output = command.args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if Self::root() {
            let chown = std::process::Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "no postgres user to run the server as");
        }
        let data = dir.path().join("data");
        let server = Self {
            bin: Self::bin_dir(),
            port: dev_server::free_port().unwrap(),
            data,
            _dir: dir,
        };
        let data = server.data.display().to_string();
        server.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-N"],
        );
        server.up();
        server
    }

    fn up(&self) {
        let data = self.data.display().to_string();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server at once, as a crash or a failover does.
    fn down(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = std::process::Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_in_flight_wait_out_a_database_outage_on_a_private_postgres() {
    let postgres = PrivatePostgres::start();
    let db = TestDb::at(postgres.url());
    let script = Script::new()
        .calculate("t1", "6*7")
        .then(vec![Reply::Stall(Duration::from_secs(3), "42")]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let cluster = Cluster::new(&db, "pg-outage")
        .with_model(&fake, "sk-outage")
        .with("LONGRUN_RETRY_CAP_S", "1")
        .with("LONGRUN_HEARTBEAT_TIMEOUT_S", "30");
    let (code, out, err) = cluster.run(&["migrate"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let running: Running = cluster
        .start("outage", "pro", claude_agent(&["calculator"]))
        .await;
    let run_id = running.submit(json!({"agent": "a", "input": "6*7?"})).await;
    fake.wait_for_requests(2, MINUTE).await;
    // The second model call is in flight: the database goes away for longer than the store's
    // old retry budget (20 attempts) at this retry cap, and comes back. (The wait is the
    // outage itself, not a wait for something to happen.)
    postgres.down();
    let (status, _) = running.call("GET", "/readyz", None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the API cannot admit without it"
    );
    tokio::time::sleep(Duration::from_secs(25)).await;
    postgres.up();
    let run = running.wait_for_success(&run_id, "42").await;
    assert_eq!(run["usage"]["tool_calls"], 1);
    let ledger = ledger_of(&db, "outage", &run_id).await;
    assert_eq!(
        ledger,
        vec![
            ("agent_time".to_string(), 3),
            ("llm".to_string(), 2),
            ("tool".to_string(), 1)
        ],
        "every unit billed once"
    );
    running.stop().await;
}

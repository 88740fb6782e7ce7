//! longrun as an operator runs it: `longrun api` and `longrun worker` as separate processes of
//! the binary built beside this tool, against one database and the phase's Temporal server,
//! with the fake model as their Anthropic endpoint. Also the admin commands that set up the
//! benchmark's workspace, and the process plumbing every phase shares.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// Any 32+ bytes: the benchmark never logs in, it uses API keys.
const JWT_SECRET: &str = "bench-secret-bench-secret-bench-secret-0123";

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// SIGTERM, up to 15 s to exit, then SIGKILL.
pub async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
        if tokio::time::timeout(Duration::from_secs(15), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// `longrun`: the flag, else the binary beside this one (same target directory and profile).
pub fn find_longrun(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    let exe = std::env::current_exe()?;
    let beside = exe
        .parent()
        .context("the tool's own path has no directory")?
        .join("longrun");
    if !beside.is_file() {
        bail!(
            "{} does not exist: build it with the same profile (e.g. `cargo build --release \
             --bin longrun --bin longrun-bench`) or pass --longrun",
            beside.display()
        );
    }
    Ok(beside)
}

/// What every longrun process of a phase shares.
#[derive(Debug, Clone)]
pub struct LongrunSetup {
    pub binary: PathBuf,
    pub data_dir: PathBuf,
    /// `None`: longrun's default, SQLite in the data folder.
    pub database_url: Option<String>,
    pub temporal_address: String,
    pub task_queue: String,
    pub llm_base_url: String,
    /// `LONGRUN_HEARTBEAT_TIMEOUT_S` of every process (the API puts it in each run's activity
    /// options).
    pub heartbeat_timeout_s: u64,
    /// Extra environment for the worker (slots, …).
    pub worker_env: Vec<(String, String)>,
    /// `RUST_LOG` of the processes.
    pub log_filter: String,
}

impl LongrunSetup {
    /// A `longrun` command with only the environment the benchmark chooses.
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("LONGRUN_") || key.ends_with("_API_KEY") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command
            .env("LONGRUN_DATA_DIR", &self.data_dir)
            .env("LONGRUN_TEMPORAL_ADDRESS", &self.temporal_address)
            .env("LONGRUN_TASK_QUEUE", &self.task_queue)
            .env("LONGRUN_JWT_SECRET", JWT_SECRET)
            .env("LONGRUN_METRICS_LISTEN", "127.0.0.1:0")
            .env("LONGRUN_LOG_FORMAT", "json")
            .env("RUST_LOG", &self.log_filter)
            .env("ANTHROPIC_API_KEY", "bench-key")
            .env("LONGRUN_ANTHROPIC_BASE_URL", &self.llm_base_url)
            // The API puts it in each run's activity timeouts; the same as the reference's.
            .env(
                "LONGRUN_LLM_TIMEOUT_S",
                crate::reference::MODEL_TIMEOUT_S.to_string(),
            )
            .env(
                "LONGRUN_HEARTBEAT_TIMEOUT_S",
                self.heartbeat_timeout_s.to_string(),
            )
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(url) = &self.database_url {
            command.env("LONGRUN_DATABASE_URL", url);
        }
        command
    }

    /// Runs a one-shot command (`migrate`, `admin …`) and returns its stdout.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let output = self
            .command()
            .args(args)
            .output()
            .await
            .with_context(|| format!("cannot run longrun {}", args.join(" ")))?;
        if !output.status.success() {
            bail!(
                "longrun {} failed ({}): {}{}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Creates an enterprise workspace, lifts the limits that would throttle a benchmark, and
    /// returns its API key.
    pub async fn workspace(&self, slug: &str, lift_concurrency: bool) -> anyhow::Result<String> {
        let created = self
            .run(&["admin", "workspace", "create", slug, "--tier", "enterprise"])
            .await?;
        let key = created
            .lines()
            .find_map(|l| l.strip_prefix("API key (shown once): "))
            .context("`admin workspace create` printed no key")?
            .trim()
            .to_string();
        let mut fields = vec![
            "requests_per_minute",
            "tokens_per_month",
            "agent_minutes_per_month",
        ];
        if lift_concurrency {
            fields.push("concurrent_runs");
        }
        for field in fields {
            self.run(&["admin", "workspace", "set-quota", slug, field, "unlimited"])
                .await?;
        }
        Ok(key)
    }

    /// Starts `longrun api` on a free port and waits for `/healthz`.
    pub async fn api(&self, log: &Path) -> anyhow::Result<(Child, String)> {
        let port = free_port()?;
        let mut command = self.command();
        command
            .env("LONGRUN_LISTEN", format!("127.0.0.1:{port}"))
            .arg("api");
        let child = spawn_logged(command, log)?;
        let base = format!("http://127.0.0.1:{port}");
        let mut child = child;
        wait_for_http(&format!("{base}/healthz"), &mut child, log).await?;
        Ok((child, base))
    }

    /// Starts `longrun worker`; it is ready once its `/readyz` says so.
    pub async fn worker(&self, log: &Path) -> anyhow::Result<Child> {
        let port = free_port()?;
        let mut command = self.command();
        command
            .env("LONGRUN_METRICS_LISTEN", format!("127.0.0.1:{port}"))
            .envs(self.worker_env.iter().map(|(k, v)| (k, v)))
            .arg("worker");
        let mut child = spawn_logged(command, log)?;
        wait_for_http(&format!("http://127.0.0.1:{port}/readyz"), &mut child, log).await?;
        Ok(child)
    }
}

/// Spawns with stdout and stderr appended to `log`.
pub fn spawn_logged(mut command: Command, log: &Path) -> anyhow::Result<Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    command
        .stdout(Stdio::from(file.try_clone()?))
        .stderr(Stdio::from(file))
        .kill_on_drop(true);
    Ok(command.spawn()?)
}

/// Waits until `url` answers 200, failing early if the process exits.
pub async fn wait_for_http(url: &str, child: &mut Child, log: &Path) -> anyhow::Result<()> {
    let http = &reqwest::Client::new();
    let what = format!("the process behind {url}");
    wait_ready(
        child,
        &what,
        log,
        Duration::from_secs(120),
        Duration::from_millis(100),
        move || async move {
            http.get(url)
                .send()
                .await
                .is_ok_and(|response| response.status().is_success())
        },
    )
    .await
}

/// Asks `ready` every `interval` until it says yes, failing early if `child` exits, and after
/// `within`. `what` names the process in the errors; its output is in `log`.
pub async fn wait_ready<F, Fut>(
    child: &mut Child,
    what: &str,
    log: &Path,
    within: Duration,
    interval: Duration,
    mut ready: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("{what} exited ({status}); see {}", log.display());
        }
        if ready().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "{what} did not answer within {} s; see {}",
                within.as_secs(),
                log.display()
            );
        }
        tokio::time::sleep(interval).await;
    }
}

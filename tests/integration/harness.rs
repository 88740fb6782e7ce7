//! The integration harness: a real Temporal dev server (shared per test binary, or the one
//! `scripts/test` started), a real database (SQLite file, or a fresh Postgres schema), the API
//! on a real port, and the worker on a thread of its own, so a test can stop and start it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::Registry;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use temporalio_client::Client;
use tokio::sync::oneshot;

use longrun_activities::{
    ActivitySettings, AgentActivities, CancelWatch, ModelRouter, ProviderSettings,
};
use longrun_api::dispatcher::{DispatchSettings, Dispatcher};
use longrun_api::jwt::JwtKeys;
use longrun_api::metrics::ApiMetrics;
use longrun_api::ratelimit::RateLimiter;
use longrun_api::scheduler::Scheduler;
use longrun_api::{ApiSettings, AppState, AuthSettings};
use longrun_store::{RunEvent, Store, StoreOptions, Workspace};
use longrun_temporal::TemporalSettings;
use longrun_temporal::dev_server::{self, DevServer, DevServerOptions};
use longrun_worker::WorkerSettings;
use longrun_workflows::payloads::ActivityTuning;

use crate::fakes::FakeLlm;

// The store's tests make their databases the same way: one definition serves both suites.
#[path = "../../store/tests/store/db.rs"]
mod db;
pub use db::TestDb;

pub const NAMESPACE: &str = "default";
pub const TEST_JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const BILLING_TOKEN: &str = "billing-operator-token-0123456789abcdef";
/// How long a test waits for a run, a status or a request before it fails.
pub const MINUTE: Duration = Duration::from_secs(60);

/// The Temporal frontend for this test process: `LONGRUN_TEST_TEMPORAL_ADDRESS`, or an
/// in-memory dev server started once and stopped when the process ends.
pub fn temporal_address() -> String {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS
        .get_or_init(|| {
            if let Ok(address) = std::env::var("LONGRUN_TEST_TEMPORAL_ADDRESS") {
                return address;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            // The server's child handle lives on a runtime that lives as long as the process;
            // the dev server's parent watchdog stops it when the process exits.
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let server = start_dev_server().await;
                    tx.send(server.address.clone()).unwrap();
                    std::future::pending::<()>().await;
                    drop(server);
                });
            });
            rx.recv().expect("the Temporal dev server did not start")
        })
        .clone()
}

async fn start_dev_server() -> DevServer {
    let dir = std::env::temp_dir().join(format!("longrun-test-temporal-{}", std::process::id()));
    let in_memory = DevServerOptions::in_memory(
        dev_server::find_cli().expect("temporal CLI missing: run scripts/bootstrap"),
        dev_server::free_port().unwrap(),
        dir.join("temporal.log"),
        &longrun_workflows::search::ALL,
    );
    DevServer::start(DevServerOptions {
        exit_with_parent: true,
        ..in_memory
    })
    .await
    .expect("cannot start a Temporal dev server")
}

pub fn temporal_settings(address: &str) -> TemporalSettings {
    TemporalSettings::new(Some(address), NAMESPACE)
}

/// A client of the Temporal frontend at `address`, to look at workflows.
pub async fn temporal_client(address: &str) -> Client {
    longrun_temporal::connect(&temporal_settings(address), "test")
        .await
        .unwrap()
}

/// How many executions workflow `workflow_id` has had (continue-as-new starts another).
pub async fn executions(client: &Client, workflow_id: &str) -> usize {
    client
        .count_workflows(format!("WorkflowId = '{workflow_id}'"), Default::default())
        .await
        .unwrap()
        .count()
}

/// Calls `check` every `every` until it answers `Ok`, and fails with its last `Err` (what it
/// saw) once `timeout` has passed: a bounded wait on something a test can observe.
pub async fn poll<T>(
    timeout: Duration,
    every: Duration,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let state = match check().await {
            Ok(done) => return done,
            Err(state) => state,
        };
        assert!(tokio::time::Instant::now() < deadline, "{state}");
        tokio::time::sleep(every).await;
    }
}

/// Waits until `done` holds, failing with `what` after `timeout`.
pub async fn wait_until(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let every = Duration::from_millis(20);
    poll(timeout, every, async || {
        done().then_some(()).ok_or_else(|| what.to_string())
    })
    .await
}

/// Ledger rows by kind, as [`TestApp::ledger`] answers them: `(kind, rows)`.
pub fn ledger_rows(rows: &[(&str, i64)]) -> Vec<(String, i64)> {
    rows.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

/// Sends a request with an optional bearer key and JSON body, and answers its status,
/// headers and body (JSON, or else the text as a JSON string).
pub async fn send(
    http: &reqwest::Client,
    url: String,
    method: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = http.request(method.parse().unwrap(), url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    exchange(request).await
}

/// Sends a request and answers its status, headers and body (JSON, or else the text as a
/// JSON string).
pub async fn exchange(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, value)
}

/// The Redis of `LONGRUN_TEST_REDIS_URL`. Tests that need one have `redis` in their name:
/// `scripts/test` leaves them out of the run (reported as skipped) when it is unset.
pub fn test_redis_url() -> String {
    std::env::var("LONGRUN_TEST_REDIS_URL").expect(
        "LONGRUN_TEST_REDIS_URL is unset: run the suite with scripts/test, which leaves the \
         Redis tests out, or set it",
    )
}

/// Runs a test body once per backend (the Postgres variant is named `…::postgres`).
#[macro_export]
macro_rules! on_each_backend {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::harness::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::harness::TestDb::postgres().await).await;
            }
        }
    };
}

/// What a test worker runs with.
#[derive(Clone)]
pub struct WorkerSetup {
    /// Workflow tasks at once (1 makes dispatch order visible).
    pub workflow_slots: usize,
    /// The API's store: the worker keeps a pool of its own but shares its live channel, as
    /// `longrun dev` does.
    pub api_store: Store,
    pub database_url: String,
    pub temporal: String,
    pub task_queue: String,
    pub providers: ProviderSettings,
    pub activities: ActivitySettings,
}

/// A worker on a thread of its own, with its own runtime, pool and Temporal client, like a
/// separate process that can be stopped and started.
pub struct TestWorker {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestWorker {
    pub fn start(setup: WorkerSetup) -> Self {
        let WorkerSetup {
            workflow_slots,
            api_store,
            database_url,
            temporal,
            task_queue,
            providers,
            activities,
        } = setup;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let store = Store::connect(&database_url, &StoreOptions::default())
                    .await
                    .unwrap()
                    .sharing_live_events_with(&api_store);
                let client =
                    longrun_temporal::connect(&temporal_settings(&temporal), "test-worker")
                        .await
                        .unwrap();
                let temporal_runtime = longrun_worker::runtime(None, false).unwrap().0;
                let cancels = CancelWatch::default();
                // Held until the worker stops: dropping it would stop the watch at once.
                let (_watch_stop, watch_stopped) = tokio::sync::watch::channel(false);
                tokio::spawn(cancels.clone().run(store.clone(), watch_stopped));
                let mut worker = longrun_worker::build(
                    &temporal_runtime,
                    client,
                    &WorkerSettings {
                        task_queue,
                        shutdown_grace: Duration::from_secs(5),
                        workflow_slots,
                        activity_slots: workflow_slots.max(4),
                    },
                    AgentActivities::new(
                        store,
                        ModelRouter::new(providers).unwrap(),
                        activities,
                        longrun_activities::metrics::ActivityMetrics::unregistered(),
                        cancels,
                    )
                    .unwrap(),
                )
                .unwrap();
                let shutdown = worker.shutdown_handle();
                let _ = ready_tx.send(());
                let run = worker.run();
                tokio::pin!(run);
                tokio::select! {
                    result = &mut run => { result.unwrap(); return; }
                    _ = stop_rx => shutdown(),
                }
                run.await.unwrap();
            });
        });
        ready_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("worker did not start");
        Self {
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        // Stop polling before the test's server-side task queue is abandoned.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take()
            && !std::thread::panicking()
        {
            let _ = thread.join();
        }
    }
}

/// An API on a real port (in this test's runtime) plus, optionally, a worker.
pub struct TestApp {
    pub base: String,
    pub store: Store,
    /// The API's event feeds, to look at its streams and followers.
    pub feeds: Arc<longrun_api::feeds::RunFeeds>,
    /// The API's metrics registry.
    pub registry: Registry,
    pub http: reqwest::Client,
    pub temporal: String,
    pub worker: Option<TestWorker>,
    pub setup: WorkerSetup,
    // Held for their lifetime: the database file and the sandboxes live in them.
    _db: TestDb,
    _data_dir: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

pub struct Options {
    pub with_worker: bool,
    /// Temporal address the API uses (an unreachable one tests 503s).
    pub api_temporal: Option<String>,
    /// The Temporal frontend of both the API and the worker (default: the suite's).
    pub temporal: Option<String>,
    /// Timeouts handed to every run: short, so tests about waits and crashes are quick.
    pub tuning: ActivityTuning,
    pub providers: ProviderSettings,
    /// `LONGRUN_HTTP_FETCH_ALLOW` of the worker (loopback fakes need it).
    pub allow: &'static str,
    pub tiers: longrun_domain::Tiers,
    /// `LONGRUN_REDIS_URL` of the API.
    pub redis: Option<String>,
    pub allow_signup: bool,
    pub workflow_slots: usize,
    pub prices: longrun_activities::prices::Prices,
    /// Fail each model and tool activity's first attempt right after metering.
    pub fail_after_metering: bool,
    pub server_limits: longrun_api::ServerLimits,
    pub max_streams_per_run: usize,
    pub signups_per_ip_per_day: u64,
}

impl Options {
    /// The API alone: runs are admitted but none is executed.
    pub fn no_worker() -> Self {
        Self {
            with_worker: false,
            ..Self::default()
        }
    }

    /// Models (`anthropic/…` and `openai/…`) answered by `fake`.
    pub fn answered_by(fake: &FakeLlm) -> Self {
        Self {
            providers: fake.providers(),
            ..Self::default()
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            with_worker: true,
            api_temporal: None,
            temporal: None,
            tuning: ActivityTuning {
                llm_max_attempts: 5,
                llm_heartbeat_s: 2,
                tool_heartbeat_s: 2,
                approval_timeout_s: 60,
                input_timeout_s: 60,
                ..ActivityTuning::default()
            },
            providers: ProviderSettings::default(),
            allow: "",
            tiers: longrun_domain::Tiers::default(),
            redis: None,
            allow_signup: true,
            workflow_slots: 100,
            prices: longrun_activities::prices::Prices::default(),
            fail_after_metering: false,
            server_limits: longrun_api::ServerLimits::default(),
            max_streams_per_run: 10,
            signups_per_ip_per_day: 1000,
        }
    }
}

impl TestApp {
    pub async fn start(db: TestDb) -> Self {
        Self::start_with(db, Options::default()).await
    }

    pub async fn start_with(db: TestDb, options: Options) -> Self {
        let temporal = options.temporal.clone().unwrap_or_else(temporal_address);
        let store = db.open().await;
        let task_queue = format!("test-{}", longrun_store::new_run_id());
        let api_temporal = options.api_temporal.unwrap_or_else(|| temporal.clone());
        let _listener = store.listen_for_events().await.unwrap();
        let (shutdown_tx, shutdown) = tokio::sync::watch::channel(false);
        let scheduler = Arc::new(Scheduler::new(
            temporal_settings(&api_temporal),
            task_queue.clone(),
            "http://ui.test".into(),
        ));
        let limiter = Arc::new(match &options.redis {
            Some(url) => RateLimiter::redis(url).unwrap(),
            None => RateLimiter::in_process(),
        });
        let registry = Registry::new();
        let feeds = longrun_api::feeds::RunFeeds::new(
            store.clone(),
            options.max_streams_per_run,
            shutdown.clone(),
            longrun_api::feeds::FeedMetrics::register(&registry).unwrap(),
        );
        let metrics = ApiMetrics::register(&registry).unwrap();
        let state = AppState {
            feeds: feeds.clone(),
            store: store.clone(),
            scheduler: scheduler.clone(),
            settings: Arc::new(ApiSettings {
                tuning: options.tuning.clone(),
                ..ApiSettings::default()
            }),
            metrics: metrics.clone(),
            tiers: Arc::new(options.tiers.clone()),
            auth: Arc::new(AuthSettings {
                billing_token: Some(BILLING_TOKEN.to_string().into()),
                signups_per_ip_per_day: options.signups_per_ip_per_day,
                ..AuthSettings::new(
                    Some(JwtKeys::new(TEST_JWT_SECRET.to_string().into(), 3600)),
                    options.allow_signup,
                )
                .unwrap()
            }),
            limiter: limiter.clone(),
            readiness: longrun_api::readiness::api_readiness(
                &registry, &store, &scheduler, &limiter,
            )
            .unwrap(),
            dispatcher: Dispatcher::new(
                store.clone(),
                scheduler.clone(),
                DispatchSettings {
                    retry_cap: Duration::from_millis(500),
                    poll: Duration::from_millis(200),
                },
            ),
            shutdown: shutdown.clone(),
        };
        tokio::spawn(state.dispatcher.clone().run(shutdown));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(longrun_api::serve(
            listener,
            longrun_api::router(state),
            options.server_limits.clone(),
            Some(metrics),
            std::future::pending(),
        ));
        let data_dir = tempfile::tempdir().unwrap();
        let mut activities = ActivitySettings::new(data_dir.path());
        activities.tiers = options.tiers.clone();
        activities.prices = options.prices.clone();
        activities.fail_first_attempt_after_metering = options.fail_after_metering;
        activities.egress.allow =
            longrun_activities::egress::parse_allowlist(options.allow).unwrap();
        let setup = WorkerSetup {
            workflow_slots: options.workflow_slots,
            api_store: store.clone(),
            database_url: db.url.clone(),
            temporal: temporal.clone(),
            task_queue: task_queue.clone(),
            providers: options.providers,
            activities,
        };
        let mut app = Self {
            base: format!("http://{address}"),
            feeds,
            registry,
            store,
            http: reqwest::Client::new(),
            temporal,
            worker: None,
            setup,
            _db: db,
            _data_dir: data_dir,
            _shutdown: shutdown_tx,
        };
        if options.with_worker {
            app.start_worker();
        }
        app
    }

    pub fn start_worker(&mut self) {
        self.worker = Some(TestWorker::start(self.setup.clone()));
    }

    /// A workspace with an admin key and a `demo` agent (offline model, calculator).
    pub async fn tenant(&self, slug: &str) -> (Workspace, String) {
        let demo = json!({
            "name": "demo",
            "model": "offline/demo",
            "system_prompt": "Use the calculator.",
            "tools": ["calculator"],
        });
        self.tenant_with_agent(slug, demo).await
    }

    /// A workspace with an admin key and an agent of the given definition.
    pub async fn tenant_with_agent(&self, slug: &str, agent: Value) -> (Workspace, String) {
        let workspace = self
            .store
            .create_workspace(slug, slug, longrun_domain::Tier::Pro)
            .await
            .unwrap();
        let (_, key) = longrun_api::issue_api_key(&self.store, &workspace.id, "test", "admin")
            .await
            .unwrap();
        self.create_agent(&key, agent).await;
        (workspace, key)
    }

    /// A workspace of `tier`, with `overrides` applied, and a key of each role (in
    /// [`longrun_api::auth::Role::ALL`] order: admin, member, billing).
    pub async fn workspace(
        &self,
        slug: &str,
        tier: &str,
        overrides: &[(&str, &str)],
    ) -> (Workspace, [String; 3]) {
        let tier = longrun_domain::Tier::parse(tier).unwrap();
        let workspace = self.store.create_workspace(slug, slug, tier).await.unwrap();
        if !overrides.is_empty() {
            self.set_quota(&workspace, overrides).await;
        }
        let mut keys = Vec::new();
        for role in longrun_api::auth::Role::ALL {
            let (_, key) = longrun_api::issue_api_key(
                &self.store,
                &workspace.id,
                role.as_str(),
                role.as_str(),
            )
            .await
            .unwrap();
            keys.push(key);
        }
        let workspace = self.store.workspace(&workspace.id).await.unwrap().unwrap();
        (workspace, keys.try_into().unwrap())
    }

    /// Sets quota overrides of `workspace` (on top of those it has), as an operator does.
    pub async fn set_quota(&self, workspace: &Workspace, overrides: &[(&str, &str)]) {
        let mut quota = workspace.quota_overrides.clone();
        for (field, value) in overrides {
            quota = quota.with(field, value).unwrap();
        }
        self.store
            .set_quota_overrides(&workspace.id, &quota)
            .await
            .unwrap();
    }

    /// Creates an agent with `key`, which must succeed.
    pub async fn create_agent(&self, key: &str, agent: Value) {
        let (status, body) = self.post(key, "/v1/agents", agent).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Gives the workspace of `key` a plain `demo` agent (offline model, calculator).
    pub async fn demo_agent(&self, key: &str) {
        let demo = json!({"name": "demo", "model": "offline/demo", "tools": ["calculator"]});
        self.create_agent(key, demo).await;
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, body) = self.exchange(method, path, key, body).await;
        (status, body)
    }

    /// [`Self::request`], with the answer's headers.
    pub async fn exchange(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        send(&self.http, self.url(path), method, key, body).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with `key`.
    pub async fn get(&self, key: &str, path: &str) -> (StatusCode, Value) {
        self.request("GET", path, Some(key), None).await
    }

    /// `POST path` of `body` with `key`.
    pub async fn post(&self, key: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.request("POST", path, Some(key), Some(body)).await
    }

    /// `POST path` of `body` without a credential (sign-up, login).
    pub async fn post_public(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request("POST", path, None, Some(body)).await
    }

    /// The entries of the workspace's audit log (`query`: `?limit=…`), newest first.
    pub async fn audit(&self, key: &str, query: &str) -> Vec<Value> {
        let (status, audit) = self.get(key, &format!("/v1/audit{query}")).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        audit["entries"].as_array().unwrap().clone()
    }

    /// `POST /v1/runs/{run_id}/{action}` (cancel, approvals, messages, complete…).
    pub async fn act(
        &self,
        key: &str,
        run_id: &str,
        action: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let path = format!("/v1/runs/{run_id}/{action}");
        self.request("POST", &path, Some(key), body).await
    }

    /// Like [`Self::request`], but a streaming answer (SSE) is not read to its end: its status
    /// and a note stand in for the body.
    pub async fn request_or_stream(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        if !path.ends_with("/events") {
            return self.request(method, path, Some(key), body).await;
        }
        let request = self.http.request(method.parse().unwrap(), self.url(path));
        let response = request.bearer_auth(key).send().await.unwrap();
        let status = response.status();
        if status == StatusCode::OK {
            return (status, Value::String("(an event stream)".into()));
        }
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Submits a run (`POST /v1/runs` of `run`), which must be accepted; returns the answer.
    pub async fn submit_run(&self, key: &str, run: Value) -> Value {
        let (status, body) = self.post(key, "/v1/runs", run).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    /// Submits `input` to the `demo` agent; returns the answer.
    pub async fn submit(&self, key: &str, input: &str) -> Value {
        self.submit_run(key, json!({ "agent": "demo", "input": input }))
            .await
    }

    /// Submits a run of `agent` and returns its id.
    pub async fn submit_to(&self, key: &str, agent: &str, input: &str) -> String {
        let body = self
            .submit_run(key, json!({"agent": agent, "input": input}))
            .await;
        body["id"].as_str().unwrap().to_string()
    }

    /// Submits a run of `agent` and waits (a minute at most) until it ends: its id and the
    /// finished run.
    pub async fn run_to_end(&self, key: &str, agent: &str, input: &str) -> (String, Value) {
        let run_id = self.submit_to(key, agent, input).await;
        let run = self.wait_for_run(key, &run_id, MINUTE).await;
        (run_id, run)
    }

    /// Waits until every one of the workspace's `runs` has its workflow started in Temporal:
    /// admission answers before the dispatcher's start reaches Temporal, so a test of the
    /// order in which queued runs are handed out waits for this before it starts a worker.
    pub async fn wait_dispatched(&self, workspace_id: &str, runs: &[&str]) {
        poll(MINUTE, Duration::from_millis(50), async || {
            for run_id in runs {
                if !self.store.is_started(workspace_id, run_id).await.unwrap() {
                    return Err(format!(
                        "run {run_id} not started in Temporal after a minute"
                    ));
                }
            }
            Ok(())
        })
        .await
    }

    /// Polls the run until it is terminal (or the deadline passes) and returns it.
    pub async fn wait_for_run(&self, key: &str, run_id: &str, timeout: Duration) -> Value {
        let path = format!("/v1/runs/{run_id}");
        poll(timeout, Duration::from_millis(100), async || {
            let (status, run) = self.get(key, &path).await;
            assert_eq!(status, StatusCode::OK, "{run}");
            let terminal = longrun_workflows::payloads::RunStatus::parse(
                run["status"].as_str().unwrap_or_default(),
            )
            .is_some_and(|s| s.is_terminal());
            if terminal {
                Ok(run)
            } else {
                Err(format!(
                    "run {run_id} not finished after {timeout:?}: {run}"
                ))
            }
        })
        .await
    }

    /// Polls the run until its status is `status`.
    pub async fn wait_for_status(
        &self,
        key: &str,
        run_id: &str,
        status: &str,
        timeout: Duration,
    ) -> Value {
        let path = format!("/v1/runs/{run_id}");
        poll(timeout, Duration::from_millis(50), async || {
            let (_, run) = self.get(key, &path).await;
            if run["status"] == status {
                Ok(run)
            } else {
                Err(format!("run {run_id} never reached {status}: {run}"))
            }
        })
        .await
    }

    /// The stored events of a run, oldest first.
    pub async fn events(&self, workspace_id: &str, run_id: &str) -> Vec<RunEvent> {
        self.store
            .events_after(workspace_id, run_id, 0, 1000)
            .await
            .unwrap()
    }

    /// The kinds of the stored events of a run, oldest first.
    pub async fn event_kinds(&self, workspace_id: &str, run_id: &str) -> Vec<String> {
        let events = self.events(workspace_id, run_id).await;
        events.into_iter().map(|e| e.kind.to_string()).collect()
    }

    /// The data of the first stored event of `kind` of a run, if there is one.
    pub async fn event_data(&self, workspace_id: &str, run_id: &str, kind: &str) -> Option<Value> {
        let events = self.events(workspace_id, run_id).await;
        let event = events.iter().find(|e| e.kind == kind)?;
        Some(serde_json::from_str(&event.data).unwrap())
    }

    /// The run's ledger: rows by kind.
    pub async fn ledger(&self, workspace_id: &str, run_id: &str) -> Vec<(String, i64)> {
        self.store
            .usage_rows_of_run(workspace_id, run_id)
            .await
            .unwrap()
    }

    /// A client of this test's Temporal server.
    pub async fn temporal_client(&self) -> Client {
        temporal_client(&self.temporal).await
    }
}

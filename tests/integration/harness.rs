//! The integration harness: a real Temporal dev server (shared per test binary, or the one
//! `scripts/test` started), a real database (SQLite file, or a fresh Postgres schema), the API
//! on a real port, and the worker on a thread of its own, so a test can stop and start it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus::Registry;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

use longrun_activities::{ActivitySettings, AgentActivities, ModelRouter, ProviderSettings};
use longrun_api::jwt::JwtKeys;
use longrun_api::metrics::ApiMetrics;
use longrun_api::ratelimit::RateLimiter;
use longrun_api::scheduler::Scheduler;
use longrun_api::{ApiSettings, AppState, AuthSettings};
use longrun_store::{Store, StoreOptions, Workspace};
use longrun_temporal::TemporalSettings;
use longrun_temporal::dev_server::{self, DevServer, DevServerOptions};
use longrun_worker::WorkerSettings;
use longrun_workflows::payloads::ActivityTuning;

pub const NAMESPACE: &str = "default";
pub const TEST_JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const BILLING_TOKEN: &str = "billing-operator-token-0123456789abcdef";

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
    DevServer::start(DevServerOptions {
        cli: dev_server::find_cli().expect("temporal CLI missing: run scripts/bootstrap"),
        ip: "127.0.0.1".into(),
        port: dev_server::free_port().unwrap(),
        ui_port: None,
        db_file: None,
        log_file: dir.join("temporal.log"),
        search_attributes: longrun_workflows::search::ALL
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        exit_with_parent: true,
        start_timeout: Duration::from_secs(60),
    })
    .await
    .expect("cannot start a Temporal dev server")
}

pub fn temporal_settings(address: &str) -> TemporalSettings {
    TemporalSettings::new(Some(address), NAMESPACE)
}

/// A test database.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: format!("sqlite://{}", dir.path().join("longrun.db").display()),
            _dir: Some(dir),
        }
    }

    /// A fresh schema in `LONGRUN_TEST_DATABASE_URL`. Without one this test cannot run, and
    /// fails saying so: `scripts/test` leaves every test named `…postgres…` out of the run
    /// (reported as skipped) when the variable is unset, so none passes without running.
    pub async fn postgres() -> Self {
        let base = std::env::var("LONGRUN_TEST_DATABASE_URL").expect(
            "LONGRUN_TEST_DATABASE_URL is unset: run the suite with scripts/test, which leaves \
             the Postgres tests out, or set it",
        );
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&base).await.unwrap();
        let schema = format!("lr_test_{}", longrun_store::new_run_id());
        conn.execute(format!("CREATE SCHEMA {schema}").as_str())
            .await
            .unwrap();
        conn.close().await.unwrap();
        let separator = if base.contains('?') { '&' } else { '?' };
        Self {
            url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
            _dir: None,
        }
    }

    /// The same database again, for a second instance (the first keeps the files alive).
    pub fn same_as(other: &TestDb) -> Self {
        Self {
            url: other.url.clone(),
            _dir: None,
        }
    }

    pub async fn open(&self) -> Store {
        let store = Store::connect(&self.url, &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }
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

impl Default for Options {
    fn default() -> Self {
        Self {
            with_worker: true,
            api_temporal: None,
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
        let temporal = temporal_address();
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
            shutdown,
        };
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
        let workspace = self
            .store
            .create_workspace(slug, slug, longrun_domain::Tier::Pro)
            .await
            .unwrap();
        let (_, key) = longrun_api::issue_api_key(&self.store, &workspace.id, "test", "admin")
            .await
            .unwrap();
        let (status, body) = self
            .request(
                "POST",
                "/v1/agents",
                Some(&key),
                Some(serde_json::json!({
                    "name": "demo",
                    "model": "offline/demo",
                    "system_prompt": "Use the calculator.",
                    "tools": ["calculator"],
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (workspace, key)
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Like [`Self::request`], but a streaming answer (SSE) is not read to its end: its status
    /// and a note stand in for the body.
    pub async fn request_or_stream(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        if !path.ends_with("/events") {
            return self.request(method, path, key, body).await;
        }
        let mut request = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
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

    pub async fn submit(&self, key: &str, input: &str) -> Value {
        let (status, body) = self
            .request(
                "POST",
                "/v1/runs",
                Some(key),
                Some(serde_json::json!({ "agent": "demo", "input": input })),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body
    }

    /// Polls the run until it is terminal (or the deadline passes) and returns it.
    pub async fn wait_for_run(&self, key: &str, run_id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, run) = self
                .request("GET", &format!("/v1/runs/{run_id}"), Some(key), None)
                .await;
            assert_eq!(status, StatusCode::OK, "{run}");
            let terminal = longrun_workflows::payloads::RunStatus::parse(
                run["status"].as_str().unwrap_or_default(),
            )
            .is_some_and(|s| s.is_terminal());
            if terminal {
                return run;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run_id} not finished after {timeout:?}: {run}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A Server-Sent Events reader over a live HTTP response.
pub struct SseReader {
    response: reqwest::Response,
    decoder: longrun_activities::models::sse::SseDecoder,
    ready: std::collections::VecDeque<longrun_activities::models::sse::SseEvent>,
}

impl SseReader {
    /// Opens `GET /v1/runs/{id}/events`, optionally resuming after `last_event_id`.
    pub async fn open(app: &TestApp, key: &str, run_id: &str, last_event_id: Option<i64>) -> Self {
        let mut request = app
            .http
            .get(format!("{}/v1/runs/{run_id}/events", app.base))
            .bearer_auth(key);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            decoder: Default::default(),
            ready: Default::default(),
        }
    }

    /// The next event, or `None` when the server ended the stream.
    pub async fn next(
        &mut self,
        timeout: Duration,
    ) -> Option<longrun_activities::models::sse::SseEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let chunk = tokio::time::timeout(timeout, self.response.chunk())
                .await
                .expect("no event in time")
                .unwrap()?;
            self.ready.extend(self.decoder.push(&chunk).unwrap());
        }
    }
}

impl TestApp {
    /// Polls the run until its status is `status`.
    pub async fn wait_for_status(
        &self,
        key: &str,
        run_id: &str,
        status: &str,
        timeout: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, run) = self
                .request("GET", &format!("/v1/runs/{run_id}"), Some(key), None)
                .await;
            if run["status"] == status {
                return run;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run_id} never reached {status}: {run}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
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
        let (status, body) = self
            .request("POST", "/v1/agents", Some(&key), Some(agent))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (workspace, key)
    }

    /// Submits a run of `agent` and returns its id.
    pub async fn submit_to(&self, key: &str, agent: &str, input: &str) -> String {
        let (status, body) = self
            .request(
                "POST",
                "/v1/runs",
                Some(key),
                Some(serde_json::json!({"agent": agent, "input": input})),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }
}

//! The load: runs submitted and followed the way a client does it, each checked against the
//! answer it must end with.
//!
//! longrun runs are submitted with `POST /v1/runs` and followed on their event stream
//! (`GET /v1/runs/{id}/events`) until `run.completed`. The stream, not polling, because it
//! costs the API work per event written (a wake-up and one read of the run's new events) rather
//! than per client per poll interval: polling 100 runs every 100 ms would add 1,000 requests/s
//! to the process being measured, and would still blur completion times by up to an interval.
//! It is also what longrun's clients are meant to do. Reference runs are started with the
//! Temporal client and awaited with `get_result` (a long poll on the server), the SDK's way.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use temporalio_client::errors::WorkflowGetResultError;
use temporalio_client::{
    Client, WorkflowCancelOptions, WorkflowGetResultOptions, WorkflowStartOptions,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::fake_llm;
use crate::reference::{AgentInput, ReferenceAgentWorkflow};
use crate::sse::SseReader;

/// What happened to one run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub seed: u64,
    pub run_id: Option<String>,
    pub admission_ms: Option<f64>,
    pub end_to_end_ms: Option<f64>,
    /// `None` when the run succeeded with the expected answer.
    pub error: Option<String>,
}

impl RunRecord {
    fn failed(seed: u64, error: String) -> Self {
        Self {
            seed,
            run_id: None,
            admission_ms: None,
            end_to_end_ms: None,
            error: Some(error),
        }
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Runs `run(seed)` for every seed with at most `concurrency` at once; returns the records in
/// completion order.
pub async fn closed_loop<F, Fut>(
    seeds: impl IntoIterator<Item = u64>,
    concurrency: usize,
    run: F,
) -> Vec<RunRecord>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = RunRecord> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for seed in seeds {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let future = run(seed);
        tasks.spawn(async move {
            let record = future.await;
            drop(permit);
            record
        });
    }
    let mut records = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        if let Ok(record) = joined {
            records.push(record);
        }
    }
    records
}

/// How a run ended: its status and result.
pub type Outcome = (String, Option<String>);

/// A system's client, as the load drives it: both systems' runs are started, followed,
/// timed and checked by the same code, so their figures differ only by the system.
pub trait RunClient: Send + Sync + 'static {
    /// Starts run `seed`: its id, or why it was not started.
    fn start(
        &self,
        seed: u64,
        tool_turns: u32,
    ) -> impl Future<Output = Result<String, String>> + Send;

    /// Follows a run just started until it ends (scenarios a and b).
    fn follow(&self, id: &str) -> impl Future<Output = Result<Outcome, String>> + Send;

    /// Waits for a run started a while ago, which may have ended already (scenario c).
    fn collect(&self, id: &str) -> impl Future<Output = Result<Outcome, String>> + Send;

    /// Starts a run as scenario (d) counts it: its id, or the HTTP status (0 for a transport
    /// error) and why not.
    fn admit(&self, seed: u64) -> impl Future<Output = Result<String, (u16, String)>> + Send;

    /// Asks for a run in flight to be cancelled (scenario c).
    fn cancel(&self, id: &str) -> impl Future<Output = Result<(), String>> + Send;

    /// The id of the Temporal workflow behind a run.
    fn workflow_id(&self, id: &str) -> impl Future<Output = Result<String, String>> + Send;
}

/// longrun's HTTP API, as one workspace's client.
pub struct LongrunClient {
    pub http: reqwest::Client,
    pub base: String,
    pub key: String,
    pub agent: String,
}

impl LongrunClient {
    pub fn new(base: String, key: String) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1024)
                .build()?,
            base,
            key,
            agent: "bench".into(),
        })
    }

    /// A request to `path` of the API, as the workspace.
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// The benchmark's agent: the fake model and the calculator.
    pub async fn create_agent(&self, max_steps: u32) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::POST, "/v1/agents")
            .json(&json!({
                "name": self.agent,
                "model": format!("anthropic/{}", fake_llm::MODEL),
                "system_prompt": "Use the calculator for every computation.",
                "tools": ["calculator"],
                "limits": {"max_steps": max_steps},
            }))
            .send()
            .await?;
        if !response.status().is_success() {
            anyhow::bail!(
                "creating the agent failed: {} {}",
                response.status(),
                response.text().await.unwrap_or_default()
            );
        }
        Ok(())
    }

    /// `POST /v1/runs`: the run's id, or the HTTP status (0 for a transport error) and body.
    pub async fn submit(&self, seed: u64) -> Result<String, (u16, String)> {
        let response = self
            .request(reqwest::Method::POST, "/v1/runs")
            .json(&json!({"agent": self.agent, "input": fake_llm::prompt(seed)}))
            .send()
            .await
            .map_err(|e| (0, e.to_string()))?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(|e| (status, e.to_string()))?;
        if status != 202 {
            return Err((status, body));
        }
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
            .ok_or((status, body))
    }

    /// `GET /v1/runs/{id}`: the HTTP status and the run.
    pub async fn read(&self, id: &str) -> Result<Value, (u16, String)> {
        let response = self
            .request(reqwest::Method::GET, &format!("/v1/runs/{id}"))
            .send()
            .await
            .map_err(|e| (0, e.to_string()))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err((status, response.text().await.unwrap_or_default()));
        }
        response.json().await.map_err(|e| (status, e.to_string()))
    }

    /// Follows the run's events until `run.completed`; returns its status and result. If the
    /// stream ends early, falls back to reading the run until it is terminal.
    pub async fn follow(&self, id: &str) -> Result<(String, Option<String>), String> {
        let response = self
            .request(reqwest::Method::GET, &format!("/v1/runs/{id}/events"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            let mut reader = SseReader::default();
            let mut body = response.bytes_stream();
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else { break };
                for event in reader.push(&chunk) {
                    if event.event == "run.completed" {
                        let data: Value =
                            serde_json::from_str(&event.data).map_err(|e| e.to_string())?;
                        return Ok(outcome_of(&data));
                    }
                }
            }
        }
        self.wait_terminal(id, Duration::from_millis(500)).await
    }

    /// Reads the run every `interval` until it is terminal.
    pub async fn wait_terminal(
        &self,
        id: &str,
        interval: Duration,
    ) -> Result<(String, Option<String>), String> {
        loop {
            match self.read(id).await {
                Ok(run) => {
                    let status = run["status"].as_str().unwrap_or_default();
                    if !matches!(
                        status,
                        "queued" | "running" | "waiting_input" | "waiting_approval"
                    ) {
                        return Ok(outcome_of(&run));
                    }
                }
                Err((status, body)) if status != 0 && status < 500 => {
                    return Err(format!("reading the run: {status} {body}"));
                }
                Err(_) => {}
            }
            tokio::time::sleep(interval).await;
        }
    }
}

fn outcome_of(run: &Value) -> Outcome {
    (
        run["status"].as_str().unwrap_or_default().to_string(),
        run["result"].as_str().map(str::to_string),
    )
}

impl RunClient for LongrunClient {
    async fn start(&self, seed: u64, _tool_turns: u32) -> Result<String, String> {
        self.submit(seed)
            .await
            .map_err(|(status, body)| format!("POST /v1/runs: {status} {body}"))
    }

    async fn follow(&self, id: &str) -> Result<Outcome, String> {
        LongrunClient::follow(self, id).await
    }

    async fn collect(&self, id: &str) -> Result<Outcome, String> {
        self.wait_terminal(id, Duration::from_secs(1)).await
    }

    async fn admit(&self, seed: u64) -> Result<String, (u16, String)> {
        self.submit(seed).await
    }

    /// `POST /v1/runs/{id}/cancel`.
    async fn cancel(&self, id: &str) -> Result<(), String> {
        let response = self
            .request(reqwest::Method::POST, &format!("/v1/runs/{id}/cancel"))
            .send()
            .await
            .map_err(|e| format!("POST /v1/runs/{id}/cancel: {e}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(format!("POST /v1/runs/{id}/cancel: {status} {body}"))
    }

    /// The run's `workflow_id`, as `GET /v1/runs/{id}` gives it.
    async fn workflow_id(&self, id: &str) -> Result<String, String> {
        let run = self
            .read(id)
            .await
            .map_err(|(status, body)| format!("GET /v1/runs/{id}: {status} {body}"))?;
        run["workflow_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("GET /v1/runs/{id}: no workflow_id"))
    }
}

fn check(seed: u64, tool_turns: u32, status: &str, result: Option<&str>) -> Option<String> {
    let expected = fake_llm::expected_answer(seed, tool_turns);
    match (status, result) {
        ("succeeded", Some(result)) if result == expected => None,
        _ => Some(format!(
            "run {seed}: {status} with {result:?}, expected succeeded with {expected:?}"
        )),
    }
}

/// The status a run that was cancelled in flight ends with, in both systems' reports.
pub const CANCELLED: &str = "cancelled";

fn check_cancelled(seed: u64, status: &str) -> Option<String> {
    (status != CANCELLED).then(|| format!("run {seed}: {status}, expected {CANCELLED}"))
}

/// One run, started (at most `submissions` at once) and followed to its end.
pub async fn run<C: RunClient>(
    client: Arc<C>,
    submissions: Arc<Semaphore>,
    seed: u64,
    tool_turns: u32,
    timeout: Duration,
) -> RunRecord {
    let started = Instant::now();
    let id = {
        let _permit = submissions.acquire().await;
        client.start(seed, tool_turns).await
    };
    let id = match id {
        Ok(id) => id,
        Err(err) => return RunRecord::failed(seed, err),
    };
    let admission_ms = elapsed_ms(started);
    let error = match tokio::time::timeout(timeout, client.follow(&id)).await {
        Ok(Ok((status, result))) => check(seed, tool_turns, &status, result.as_deref()),
        Ok(Err(err)) => Some(format!("run {seed}: {err}")),
        Err(_) => Some(format!("run {seed}: not finished after {timeout:?}")),
    };
    RunRecord {
        seed,
        run_id: Some(id),
        admission_ms: Some(admission_ms),
        end_to_end_ms: Some(elapsed_ms(started)),
        error,
    }
}

/// Starts without following (scenario c): the record holds the run id and admission time.
pub async fn submit<C: RunClient>(
    client: Arc<C>,
    submissions: Arc<Semaphore>,
    seed: u64,
    tool_turns: u32,
) -> RunRecord {
    let _permit = submissions.acquire().await;
    let started = Instant::now();
    match client.start(seed, tool_turns).await {
        Ok(id) => RunRecord {
            seed,
            run_id: Some(id),
            admission_ms: Some(elapsed_ms(started)),
            end_to_end_ms: None,
            error: None,
        },
        Err(err) => RunRecord::failed(seed, err),
    }
}

/// Waits for every started run, `concurrency` at once, and checks how it ended: cancelled for
/// the seeds in `cancelled`, else succeeded with its answer.
pub async fn collect<C: RunClient>(
    client: Arc<C>,
    records: Vec<RunRecord>,
    tool_turns: u32,
    concurrency: usize,
    cancelled: Arc<HashSet<u64>>,
) -> Vec<RunRecord> {
    closed_loop(0..records.len() as u64, concurrency, |index| {
        let client = client.clone();
        let cancelled = cancelled.clone();
        let mut record = records[index as usize].clone();
        async move {
            if let (Some(id), None) = (record.run_id.clone(), &record.error) {
                record.error = match client.collect(&id).await {
                    Ok((status, _)) if cancelled.contains(&record.seed) => {
                        check_cancelled(record.seed, &status)
                    }
                    Ok((status, result)) => {
                        check(record.seed, tool_turns, &status, result.as_deref())
                    }
                    Err(err) => Some(err),
                };
            }
            record
        }
    })
    .await
}

/// The raw-SDK reference's client side.
pub struct ReferenceClient {
    pub client: Client,
    pub task_queue: String,
    /// Distinguishes workflow ids of separate phases on one server.
    pub prefix: String,
    /// Run the tool as a local activity (`--reference-local-tools`).
    pub local_tools: bool,
    /// The model call's heartbeat timeout, in seconds (longrun's, for a fair comparison).
    pub heartbeat_timeout_s: u64,
}

impl ReferenceClient {
    fn input(&self, seed: u64, tool_turns: u32) -> AgentInput {
        AgentInput {
            model: fake_llm::MODEL.to_string(),
            prompt: fake_llm::prompt(seed),
            max_turns: tool_turns + 2,
            local_tools: self.local_tools,
            heartbeat_timeout_s: self.heartbeat_timeout_s,
        }
    }

    fn workflow_id(&self, seed: u64) -> String {
        format!("{}-{seed}", self.prefix)
    }

    /// `get_result`: a long poll on the server, the SDK's way to await a workflow.
    async fn result(&self, id: &str) -> Result<Outcome, String> {
        match self
            .client
            .get_workflow_handle::<ReferenceAgentWorkflow>(id)
            .get_result(WorkflowGetResultOptions::default())
            .await
        {
            Ok(result) => Ok(("succeeded".to_string(), Some(result))),
            Err(WorkflowGetResultError::Cancelled { .. }) => Ok((CANCELLED.to_string(), None)),
            Err(e) => Err(format!("workflow failed: {e}")),
        }
    }
}

impl RunClient for ReferenceClient {
    async fn start(&self, seed: u64, tool_turns: u32) -> Result<String, String> {
        let id = self.workflow_id(seed);
        let options = WorkflowStartOptions::new(self.task_queue.clone(), id.clone()).build();
        self.client
            .start_workflow(
                ReferenceAgentWorkflow::run,
                self.input(seed, tool_turns),
                options,
            )
            .await
            .map(|_| id)
            .map_err(|e| format!("start_workflow: {e}"))
    }

    async fn follow(&self, id: &str) -> Result<Outcome, String> {
        self.result(id).await
    }

    async fn collect(&self, id: &str) -> Result<Outcome, String> {
        self.result(id).await
    }

    /// `start_workflow` with longrun's admission rules: a failure is `503` (what longrun
    /// answers for a start that failed or timed out), and so is a start slower than longrun's
    /// 5 s deadline.
    async fn admit(&self, seed: u64) -> Result<String, (u16, String)> {
        match tokio::time::timeout(Duration::from_secs(5), self.start(seed, 0)).await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(err)) => Err((503, err)),
            Err(_) => Err((503, "start_workflow took over 5 s".to_string())),
        }
    }

    /// The SDK's workflow cancel: the server records the request and the workflow's next task
    /// cancels its activities; a running activity learns of it at its next heartbeat.
    async fn cancel(&self, id: &str) -> Result<(), String> {
        self.client
            .get_workflow_handle::<ReferenceAgentWorkflow>(id)
            .cancel(WorkflowCancelOptions::default())
            .await
            .map_err(|e| format!("cancel {id}: {e}"))
    }

    /// The reference's run ids are its workflow ids.
    async fn workflow_id(&self, id: &str) -> Result<String, String> {
        Ok(id.to_string())
    }
}

/// Responses of an open- or closed-loop request series: latencies and status counts.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RequestSeries {
    pub requests: usize,
    /// From when the request was due to its answer (open loop: includes waiting to be sent).
    pub latency_ms: Vec<f64>,
    /// From when it was sent to its answer.
    pub service_ms: Vec<f64>,
    /// By HTTP status; `transport` for connection errors.
    pub statuses: BTreeMap<String, usize>,
    pub run_ids: Vec<String>,
    pub seconds: f64,
}

impl RequestSeries {
    /// One request's latencies, and its answer counted by status (`ok` for a success).
    fn count<T>(
        &mut self,
        latency_ms: f64,
        service_ms: f64,
        ok: &str,
        outcome: &Result<T, (u16, String)>,
    ) {
        self.latency_ms.push(latency_ms);
        self.service_ms.push(service_ms);
        let status = match outcome {
            Ok(_) => ok.to_string(),
            Err((0, _)) => "transport".to_string(),
            Err((status, _)) => status.to_string(),
        };
        *self.statuses.entry(status).or_default() += 1;
    }
}

/// Admissions at a fixed rate for `duration`, whatever the answers take (open loop: a slow
/// answer does not delay the next request, so queueing shows in the latency).
pub async fn admit_at_rate<C: RunClient>(
    client: Arc<C>,
    rate: f64,
    duration: Duration,
    first_seed: u64,
) -> RequestSeries {
    at_rate(rate, duration, first_seed, move |seed| {
        let client = client.clone();
        async move { client.admit(seed).await }
    })
    .await
}

/// Calls `submit` at a fixed rate for `duration`, whatever the answers take (open loop).
async fn at_rate<F, Fut>(rate: f64, duration: Duration, first_seed: u64, submit: F) -> RequestSeries
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<String, (u16, String)>> + Send + 'static,
{
    let count = (rate * duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let began = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let due = began + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due).await;
        let call = submit(first_seed + i);
        tasks.spawn(async move {
            let sent = Instant::now();
            let outcome = call.await;
            let latency = due.elapsed().as_secs_f64() * 1000.0;
            (latency, elapsed_ms(sent), outcome)
        });
    }
    let mut series = RequestSeries {
        requests: count as usize,
        ..Default::default()
    };
    while let Some(joined) = tasks.join_next().await {
        let Ok((latency, service, outcome)) = joined else {
            continue;
        };
        series.count(latency, service, "202", &outcome);
        if let Ok(id) = outcome {
            series.run_ids.push(id);
        }
    }
    series.seconds = began.elapsed().as_secs_f64();
    series
}

/// `GET /v1/runs/{id}` as fast as `connections` clients can go, for `duration`.
pub async fn read_at_full_speed(
    client: Arc<LongrunClient>,
    ids: Arc<Vec<String>>,
    connections: usize,
    duration: Duration,
) -> RequestSeries {
    let began = Instant::now();
    let mut tasks = JoinSet::new();
    for worker in 0..connections {
        let client = client.clone();
        let ids = ids.clone();
        tasks.spawn(async move {
            let mut series = RequestSeries::default();
            let mut i = worker;
            while began.elapsed() < duration && !ids.is_empty() {
                let sent = Instant::now();
                let outcome = client.read(&ids[i % ids.len()]).await;
                let ms = elapsed_ms(sent);
                series.count(ms, ms, "200", &outcome);
                i += connections;
            }
            series
        });
    }
    let mut total = RequestSeries::default();
    while let Some(joined) = tasks.join_next().await {
        let Ok(series) = joined else { continue };
        total.latency_ms.extend(series.latency_ms);
        total.service_ms.extend(series.service_ms);
        for (status, n) in series.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
    }
    total.requests = total.latency_ms.len();
    total.seconds = began.elapsed().as_secs_f64();
    total
}

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

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use temporalio_client::{Client, WorkflowGetResultOptions, WorkflowStartOptions};
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

    /// The benchmark's agent: the fake model and the calculator.
    pub async fn create_agent(&self, max_steps: u32) -> anyhow::Result<()> {
        let response = self
            .http
            .post(format!("{}/v1/agents", self.base))
            .bearer_auth(&self.key)
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
            .http
            .post(format!("{}/v1/runs", self.base))
            .bearer_auth(&self.key)
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
            .http
            .get(format!("{}/v1/runs/{id}", self.base))
            .bearer_auth(&self.key)
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
            .http
            .get(format!("{}/v1/runs/{id}/events", self.base))
            .bearer_auth(&self.key)
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

fn outcome_of(run: &Value) -> (String, Option<String>) {
    (
        run["status"].as_str().unwrap_or_default().to_string(),
        run["result"].as_str().map(str::to_string),
    )
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

/// One longrun run, submitted (at most `submissions` at once) and followed to its end.
pub async fn longrun_run(
    client: Arc<LongrunClient>,
    submissions: Arc<Semaphore>,
    seed: u64,
    tool_turns: u32,
    timeout: Duration,
) -> RunRecord {
    let started = Instant::now();
    let id = {
        let _permit = submissions.acquire().await;
        client.submit(seed).await
    };
    let id = match id {
        Ok(id) => id,
        Err((status, body)) => {
            return RunRecord::failed(seed, format!("POST /v1/runs: {status} {body}"));
        }
    };
    let admission_ms = elapsed_ms(started);
    let followed = tokio::time::timeout(timeout, client.follow(&id)).await;
    let error = match followed {
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

/// Submits without following (scenario c): the record holds the run id and admission time.
pub async fn longrun_submit(
    client: Arc<LongrunClient>,
    submissions: Arc<Semaphore>,
    seed: u64,
) -> RunRecord {
    let _permit = submissions.acquire().await;
    let started = Instant::now();
    match client.submit(seed).await {
        Ok(id) => RunRecord {
            seed,
            run_id: Some(id),
            admission_ms: Some(elapsed_ms(started)),
            end_to_end_ms: None,
            error: None,
        },
        Err((status, body)) => RunRecord::failed(seed, format!("POST /v1/runs: {status} {body}")),
    }
}

/// Reads every submitted run until it is terminal and checks its answer.
pub async fn longrun_collect(
    client: Arc<LongrunClient>,
    records: Vec<RunRecord>,
    tool_turns: u32,
    concurrency: usize,
) -> Vec<RunRecord> {
    closed_loop(0..records.len() as u64, concurrency, |index| {
        let client = client.clone();
        let mut record = records[index as usize].clone();
        async move {
            if let (Some(id), None) = (record.run_id.clone(), &record.error) {
                record.error = match client.wait_terminal(&id, Duration::from_secs(1)).await {
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
}

impl ReferenceClient {
    fn input(&self, seed: u64, tool_turns: u32) -> AgentInput {
        AgentInput {
            model: fake_llm::MODEL.to_string(),
            prompt: fake_llm::prompt(seed),
            max_turns: tool_turns + 2,
            local_tools: self.local_tools,
        }
    }

    pub(crate) fn workflow_id(&self, seed: u64) -> String {
        format!("{}-{seed}", self.prefix)
    }

    pub(crate) async fn start(&self, seed: u64, tool_turns: u32) -> Result<(), String> {
        let options =
            WorkflowStartOptions::new(self.task_queue.clone(), self.workflow_id(seed)).build();
        self.client
            .start_workflow(
                ReferenceAgentWorkflow::run,
                self.input(seed, tool_turns),
                options,
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("start_workflow: {e}"))
    }

    async fn result(&self, seed: u64) -> Result<String, String> {
        self.client
            .get_workflow_handle::<ReferenceAgentWorkflow>(self.workflow_id(seed))
            .get_result(WorkflowGetResultOptions::default())
            .await
            .map_err(|e| format!("workflow failed: {e}"))
    }
}

/// One reference run, started (at most `submissions` at once) and awaited.
pub async fn reference_run(
    client: Arc<ReferenceClient>,
    submissions: Arc<Semaphore>,
    seed: u64,
    tool_turns: u32,
    timeout: Duration,
) -> RunRecord {
    let started = Instant::now();
    let start = {
        let _permit = submissions.acquire().await;
        client.start(seed, tool_turns).await
    };
    if let Err(err) = start {
        return RunRecord::failed(seed, err);
    }
    let admission_ms = elapsed_ms(started);
    let error = match tokio::time::timeout(timeout, client.result(seed)).await {
        Ok(Ok(result)) => check(seed, tool_turns, "succeeded", Some(&result)),
        Ok(Err(err)) => Some(format!("run {seed}: {err}")),
        Err(_) => Some(format!("run {seed}: not finished after {timeout:?}")),
    };
    RunRecord {
        seed,
        run_id: Some(client.workflow_id(seed)),
        admission_ms: Some(admission_ms),
        end_to_end_ms: Some(elapsed_ms(started)),
        error,
    }
}

/// Starts without awaiting (scenario c).
pub async fn reference_submit(
    client: Arc<ReferenceClient>,
    submissions: Arc<Semaphore>,
    seed: u64,
    tool_turns: u32,
) -> RunRecord {
    let _permit = submissions.acquire().await;
    let started = Instant::now();
    match client.start(seed, tool_turns).await {
        Ok(()) => RunRecord {
            seed,
            run_id: Some(client.workflow_id(seed)),
            admission_ms: Some(elapsed_ms(started)),
            end_to_end_ms: None,
            error: None,
        },
        Err(err) => RunRecord::failed(seed, err),
    }
}

/// Awaits every started reference run and checks its answer.
pub async fn reference_collect(
    client: Arc<ReferenceClient>,
    records: Vec<RunRecord>,
    tool_turns: u32,
    concurrency: usize,
) -> Vec<RunRecord> {
    closed_loop(0..records.len() as u64, concurrency, |index| {
        let client = client.clone();
        let mut record = records[index as usize].clone();
        async move {
            if record.error.is_none() {
                record.error = match client.result(record.seed).await {
                    Ok(result) => check(record.seed, tool_turns, "succeeded", Some(&result)),
                    Err(err) => Some(err),
                };
            }
            record
        }
    })
    .await
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

/// `POST /v1/runs` at a fixed rate for `duration`, whatever the answers take (open loop:
/// a slow answer does not delay the next request, so queueing shows in the latency).
pub async fn submit_at_rate(
    client: Arc<LongrunClient>,
    rate: f64,
    duration: Duration,
    first_seed: u64,
) -> RequestSeries {
    at_rate(rate, duration, first_seed, move |seed| {
        let client = client.clone();
        async move { client.submit(seed).await }
    })
    .await
}

/// `start_workflow` of the reference workflow at a fixed rate on a task queue nobody polls:
/// the raw SDK's admission, to set longrun's against. A failure is `503` (what longrun
/// answers for a start that failed or timed out), a start slower than longrun's 5 s deadline
/// is counted as such too.
pub async fn start_at_rate(
    client: Arc<ReferenceClient>,
    rate: f64,
    duration: Duration,
    first_seed: u64,
) -> RequestSeries {
    at_rate(rate, duration, first_seed, move |seed| {
        let client = client.clone();
        async move {
            match tokio::time::timeout(Duration::from_secs(5), client.start(seed, 0)).await {
                Ok(Ok(())) => Ok(client.workflow_id(seed)),
                Ok(Err(err)) => Err((503, err)),
                Err(_) => Err((503, "start_workflow took over 5 s".to_string())),
            }
        }
    })
    .await
}

/// Calls `submit` at a fixed rate for `duration`, whatever the answers take (open loop).
async fn at_rate<F, Fut>(rate: f64, duration: Duration, first_seed: u64, submit: F) -> RequestSeries
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = Result<String, (u16, String)>> + Send + 'static,
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
        series.latency_ms.push(latency);
        series.service_ms.push(service);
        let status = match outcome {
            Ok(id) => {
                series.run_ids.push(id);
                "202".to_string()
            }
            Err((0, _)) => "transport".to_string(),
            Err((status, _)) => status.to_string(),
        };
        *series.statuses.entry(status).or_default() += 1;
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
                series.latency_ms.push(ms);
                series.service_ms.push(ms);
                let status = match outcome {
                    Ok(_) => "200".to_string(),
                    Err((0, _)) => "transport".to_string(),
                    Err((status, _)) => status.to_string(),
                };
                *series.statuses.entry(status).or_default() += 1;
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

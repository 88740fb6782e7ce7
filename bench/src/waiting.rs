//! Scenario (c): many runs in flight at once, each held in a slow model call. While they all
//! wait, a window measures what waiting costs: the worker's memory and CPU, the Temporal
//! server's CPU, and the activity heartbeats the server receives (from its own metrics). Then
//! some of the waiting runs are cancelled and each cancellation is timed until the fake model
//! sees that run's call dropped; then the gate opens and every run is awaited: cancelled runs
//! must end `cancelled`, the others with their answer.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::drive::{self, RunClient, RunRecord};
use crate::fake_llm::FakeLlm;
use crate::procstat::{self, WindowReport};
use crate::report::{self, Outcome, Percentiles, ProcessCosts};
use crate::scenarios::{Load, Systems, measure, seeds};
use crate::stack::{Env, LongrunStack, ReferenceStack, Stack};
use crate::temporal::{self, HEARTBEAT_OPERATIONS};

/// How many of the waiting runs are cancelled after the window, and how.
#[derive(Debug, Clone, Serialize)]
pub struct CancelPlan {
    /// Runs to cancel (capped at the runs whose call is held).
    pub runs: usize,
    /// Cancel requests per second (open loop), so each is timed alone rather than queued
    /// behind a burst.
    pub rate_per_s: f64,
    /// How long to wait, after the last request, for the calls to be dropped, in seconds.
    pub wait_s: u64,
}

/// The activity heartbeats the Temporal server received while every run waited.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Heartbeats {
    /// The model calls' heartbeat timeout, in seconds (the same in both systems).
    pub heartbeat_timeout_s: u64,
    /// Requests the frontend served for `HEARTBEAT_OPERATIONS` during the window.
    pub in_window: Option<u64>,
    /// `in_window / calls waiting / (window / heartbeat timeout)`.
    pub per_call_per_timeout: Option<f64>,
    /// Why the server's metrics could not be read.
    pub error: Option<String>,
}

impl Heartbeats {
    fn between(
        before: anyhow::Result<String>,
        after: anyhow::Result<String>,
        calls: usize,
        window_s: f64,
        heartbeat_timeout_s: u64,
    ) -> Self {
        let (before, after) = match (before, after) {
            (Ok(before), Ok(after)) => (before, after),
            (Err(err), _) | (_, Err(err)) => {
                return Self {
                    heartbeat_timeout_s,
                    error: Some(format!("{err:#}")),
                    ..Self::default()
                };
            }
        };
        let count = |metrics: &str| temporal::frontend_requests(metrics, &HEARTBEAT_OPERATIONS);
        let in_window = count(&after).saturating_sub(count(&before));
        let timeouts = window_s / heartbeat_timeout_s as f64;
        Self {
            heartbeat_timeout_s,
            in_window: Some(in_window),
            per_call_per_timeout: (calls > 0 && timeouts > 0.0)
                .then(|| in_window as f64 / calls as f64 / timeouts),
            error: None,
        }
    }
}

/// Cancellations of waiting runs, each timed from its request to the fake model seeing the
/// run's held call dropped.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CancelReport {
    /// Runs asked to be cancelled.
    pub requested: usize,
    /// Requests the system accepted.
    pub accepted: usize,
    /// Accepted cancellations whose held model call was dropped within the wait.
    pub observed: usize,
    /// From sending the cancel request to the fake seeing the call's connection go.
    pub latency_ms: Percentiles,
    pub wait_s: f64,
    /// Refused requests (a few).
    pub errors: Vec<String>,
}

impl CancelReport {
    /// `observed/requested`, or `–` when nothing was cancelled.
    fn observed_cell(&self) -> String {
        if self.requested == 0 {
            "–".into()
        } else {
            format!("{}/{}", self.observed, self.requested)
        }
    }

    /// `p50 / p95 / p99 / max` in ms.
    fn latency_cell(&self) -> String {
        match self.latency_ms.max {
            Some(max) => format!(
                "{} / {}",
                self.latency_ms.cell(),
                report::cell(Some(max), 0)
            ),
            None => "–".into(),
        }
    }
}

/// Scenario (c): every run waits in its model call for a while, all at once.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingReport {
    pub system: String,
    pub database: String,
    pub runs: usize,
    /// Model calls open at once when the window started (should equal `runs`).
    pub waiting: usize,
    pub seconds_until_all_waiting: f64,
    pub admission_ms: Percentiles,
    /// The window in which every run waits; worker figures are for it.
    pub window: WindowReport,
    pub worker_rss_mb_max: Option<f64>,
    pub worker_cpu_pct_of_core: Option<f64>,
    #[serde(flatten)]
    pub costs: ProcessCosts,
    pub heartbeats: Heartbeats,
    pub cancel: CancelReport,
    /// From opening the gate until every run was terminal.
    pub drain_s: f64,
    /// `succeeded`: the runs that ended with their answer, or `cancelled` when cancelled.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Of the runs that ended as expected, those that ended `cancelled`.
    pub cancelled: usize,
}

impl WaitingReport {
    pub const TABLE_HEADER: &'static str = "| system | DB | runs | waiting at once | s to all waiting | worker RSS max in window MB | worker CPU % of a core in window | worker peak RSS MB | API peak RSS MB | Temporal CPU % of a core in window | Postgres CPU % of a core in window | others' load % of a core | drain s | ok/failed | heartbeat timeout s | heartbeats in window | heartbeats per call per timeout | cancels observed | cancel to call dropped p50/p95/p99/max ms |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

    pub fn markdown_row(&self) -> String {
        let opt = |v: Option<f64>| report::cell(v, 0);
        format!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.0} | {} | {:.0} | {}/{} | {} | {} | {} | {} | {} |",
            self.system,
            self.database,
            self.runs,
            self.waiting,
            self.seconds_until_all_waiting,
            opt(self.worker_rss_mb_max),
            report::cell(self.worker_cpu_pct_of_core, 1),
            opt(self.costs.worker_peak_rss_mb),
            opt(self.costs.api_peak_rss_mb),
            opt(self.costs.temporal_cpu_pct_of_core),
            self.window.postgres_cpu_pct_of_core,
            opt(self.window.other_cpu_pct_of_core),
            self.drain_s,
            self.outcome.succeeded,
            self.outcome.failed,
            self.heartbeats.heartbeat_timeout_s,
            self.heartbeats
                .in_window
                .map_or("–".to_string(), |n| n.to_string()),
            report::cell(self.heartbeats.per_call_per_timeout, 2),
            self.cancel.observed_cell(),
            self.cancel.latency_cell(),
        )
    }
}

/// Waits until the fake holds `want` calls (or nothing changed for `stall`, or 15 minutes
/// passed: calls that time out and are retried keep the count moving), reporting progress.
async fn until_waiting(fake: &FakeLlm, want: usize, stall: Duration) -> usize {
    let give_up = Instant::now() + Duration::from_secs(900);
    let mut last = (0, Instant::now());
    let mut said = Instant::now();
    loop {
        let now = fake.in_flight();
        if now >= want {
            return now;
        }
        if Instant::now() > give_up {
            eprintln!("gave up after 15 minutes: {now} of {want} are waiting");
            return now;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > stall {
            eprintln!("no new model call for {stall:?}: {now} of {want} are waiting");
            return now;
        }
        if said.elapsed() > Duration::from_secs(5) {
            eprintln!("{now} of {want} runs waiting on the model");
            said = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Samples the worker's RSS every second while the window lasts.
async fn watch_window(pid: Option<u32>, length: Duration) -> Option<f64> {
    let until = Instant::now() + length;
    let mut max: Option<u64> = None;
    while Instant::now() < until {
        if let Some(rss) = pid.and_then(procstat::rss) {
            max = Some(max.map_or(rss, |m| m.max(rss)));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    max.map(|b| b as f64 / (1024.0 * 1024.0))
}

/// The server's metrics, also kept in the work folder (`<phase>-temporal-metrics-<when>.txt`)
/// to check the count against.
async fn metrics<S: Stack>(
    env: &Env,
    stack: &S,
    phase: &str,
    when: &str,
) -> anyhow::Result<String> {
    let text = stack.temporal().metrics().await?;
    let _ = std::fs::write(
        env.work_dir
            .join(format!("{phase}-temporal-metrics-{when}.txt")),
        &text,
    );
    Ok(text)
}

/// Cancels the first `plan.runs` runs (by seed) whose model call the fake holds, at
/// `plan.rate_per_s`, and times each until the fake sees that call dropped. Returns the
/// report and the seeds of the accepted cancellations.
async fn cancel_some<C: RunClient>(
    client: Arc<C>,
    fake: &FakeLlm,
    submitted: &[RunRecord],
    plan: &CancelPlan,
) -> (CancelReport, HashSet<u64>) {
    let mut candidates: Vec<(u64, String)> = submitted
        .iter()
        .filter(|r| r.error.is_none() && fake.holds(r.seed))
        .filter_map(|r| Some((r.seed, r.run_id.clone()?)))
        .collect();
    candidates.sort();
    candidates.truncate(plan.runs);
    if candidates.is_empty() {
        return (CancelReport::default(), HashSet::new());
    }
    let interval = Duration::from_secs_f64(1.0 / plan.rate_per_s.max(0.001));
    let began = tokio::time::Instant::now();
    let mut tasks = JoinSet::new();
    for (i, (seed, id)) in candidates.iter().cloned().enumerate() {
        tokio::time::sleep_until(began + interval.mul_f64(i as f64)).await;
        let client = client.clone();
        tasks.spawn(async move {
            let sent = Instant::now();
            (seed, sent, client.cancel(&id).await)
        });
    }
    let mut issued = Vec::new();
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((seed, sent, Ok(()))) => issued.push((seed, sent)),
            Ok((_, _, Err(err))) => errors.push(err),
            Err(err) => errors.push(err.to_string()),
        }
    }
    let accepted: HashSet<u64> = issued.iter().map(|(seed, _)| *seed).collect();
    // The first drop of each cancelled seed's call after its request was sent.
    let observed = |dropped: &[(u64, Instant)]| -> Vec<f64> {
        issued
            .iter()
            .filter_map(|(seed, sent)| {
                dropped
                    .iter()
                    .filter(|(s, at)| s == seed && at >= sent)
                    .map(|(_, at)| at.duration_since(*sent).as_secs_f64() * 1000.0)
                    .reduce(f64::min)
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(plan.wait_s);
    let waited = Instant::now();
    let latencies = loop {
        let latencies = observed(&fake.dropped());
        if latencies.len() == issued.len() || Instant::now() > deadline {
            break latencies;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let report = CancelReport {
        requested: candidates.len(),
        accepted: issued.len(),
        observed: latencies.len(),
        latency_ms: Percentiles::of(&latencies),
        wait_s: waited.elapsed().as_secs_f64(),
        errors: errors.into_iter().take(5).collect(),
    };
    (report, accepted)
}

/// One system in scenario (c): every run submitted and held in its model call, the window
/// measured, some runs cancelled, then the gate opened and every run awaited
/// (`collect_concurrency` at once).
#[allow(clippy::too_many_arguments)]
async fn waiting_phase<S: Stack>(
    env: &Env,
    phase: &str,
    load: &Load,
    fake: &FakeLlm,
    stack: &S,
    window_length: Duration,
    cancel: &CancelPlan,
    collect_concurrency: usize,
) -> WaitingReport {
    let stall = Duration::from_secs(120);
    let client = stack.client();
    fake.close_gate();
    let began = Instant::now();
    let submissions = Arc::new(Semaphore::new(load.submit_concurrency));
    let submitted = drive::closed_loop(seeds(1, load.runs), load.runs, |seed| {
        drive::submit(client.clone(), submissions.clone(), seed, load.tool_turns)
    })
    .await;
    let waiting = until_waiting(fake, load.runs, stall).await;
    let until_all = began.elapsed().as_secs_f64();
    eprintln!("[{phase}] {waiting} runs waiting; measuring {window_length:?}");
    let before = metrics(env, stack, phase, "before").await;
    let (rss, measured) = measure(
        env,
        phase,
        &stack.processes(),
        watch_window(stack.worker_pid(), window_length),
    )
    .await;
    let after = metrics(env, stack, phase, "after").await;
    let heartbeats = Heartbeats::between(
        before,
        after,
        waiting,
        measured.seconds,
        env.heartbeat_timeout_s,
    );
    eprintln!("[{phase}] cancelling up to {} waiting runs", cancel.runs);
    let (cancel_report, cancelled) = cancel_some(client.clone(), fake, &submitted, cancel).await;
    fake.open_gate();
    let drain = Instant::now();
    let cancelled = Arc::new(cancelled);
    let finished = drive::collect(
        client,
        submitted.clone(),
        load.tool_turns,
        collect_concurrency,
        cancelled.clone(),
    )
    .await;
    let admission: Vec<f64> = submitted.iter().filter_map(|r| r.admission_ms).collect();
    let report = WaitingReport {
        system: stack.system().into(),
        database: stack.database().into(),
        runs: submitted.len(),
        waiting,
        seconds_until_all_waiting: until_all,
        admission_ms: Percentiles::of(&admission),
        worker_rss_mb_max: rss,
        worker_cpu_pct_of_core: measured.cpu_pct_of_core("worker"),
        costs: ProcessCosts::of(&measured),
        window: measured,
        heartbeats,
        cancel: cancel_report,
        drain_s: drain.elapsed().as_secs_f64(),
        outcome: Outcome::of(&finished),
        cancelled: finished
            .iter()
            .filter(|r| r.error.is_none() && cancelled.contains(&r.seed))
            .count(),
    };
    eprintln!("{}", report.markdown_row());
    report
}

/// Scenario (c): `load.runs` runs in flight, each held in its model call until all of them are
/// and then `window` longer (every call lasts at least `load.latency_ms` too); then `cancel`.
pub async fn waiting(
    env: &Env,
    load: &Load,
    window_length: Duration,
    cancel: &CancelPlan,
    systems: Systems,
) -> anyhow::Result<Vec<WaitingReport>> {
    let fake = FakeLlm::start(load.behaviour()).await?;
    let mut reports = Vec::new();
    if systems.reference() {
        let phase = "waiting-raw-sdk";
        let stack = ReferenceStack::start(env, phase, &fake.base_url).await?;
        reports
            .push(waiting_phase(env, phase, load, &fake, &stack, window_length, cancel, 500).await);
        stack.stop().await;
    }
    if systems.longrun() {
        let phase = "waiting-longrun";
        let stack = LongrunStack::start(env, phase, &fake.base_url, true, load.max_steps()).await?;
        reports
            .push(waiting_phase(env, phase, load, &fake, &stack, window_length, cancel, 32).await);
        stack.stop().await;
    }
    Ok(reports)
}

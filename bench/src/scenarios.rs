//! The scenarios of issue 7: closed-loop runs (a: overhead, b: throughput, and the smoke
//! check), many runs waiting on slow model calls (c), and the API's admission path alone (d).
//! Each system gets a fresh Temporal server; the fake model is shared by the phases of a
//! scenario. Progress goes to stderr; figures are returned for the caller to print.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::drive::{self, RunRecord};
use crate::fake_llm::{Behaviour, FakeLlm};
use crate::procstat::{self, Window, WindowReport};
use crate::report::{self, Percentiles, PhaseReport, Ratios};
use crate::stack::{self, Env, LongrunStack, ReferenceStack};

/// Which systems a scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Systems {
    Both,
    Longrun,
    Reference,
}

impl Systems {
    fn reference(self) -> bool {
        self != Systems::Longrun
    }

    fn longrun(self) -> bool {
        self != Systems::Reference
    }
}

/// A closed-loop load: N runs, at most C in flight.
#[derive(Debug, Clone, Serialize)]
pub struct Load {
    pub runs: usize,
    /// Runs before the measured ones (connections, caches, the JIT of the server's tables).
    pub warmup: usize,
    pub concurrency: usize,
    /// Submissions in flight at once (≤ concurrency).
    pub submit_concurrency: usize,
    pub tool_turns: u32,
    pub latency_ms: u64,
    /// A run not finished after this long counts as failed.
    pub run_timeout_s: u64,
}

impl Load {
    fn behaviour(&self) -> Behaviour {
        Behaviour {
            tool_turns: self.tool_turns,
            latency: Duration::from_millis(self.latency_ms),
        }
    }

    fn max_steps(&self) -> u32 {
        self.tool_turns + 2
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClosedReport {
    pub load: Load,
    pub phases: Vec<PhaseReport>,
    pub ratios: Option<Ratios>,
    /// Requests the fake model refused as malformed (must be 0).
    pub llm_rejected: u64,
}

fn seeds(first: usize, count: usize) -> std::ops::Range<u64> {
    first as u64..(first + count) as u64
}

fn failures(records: &[RunRecord]) -> (usize, Vec<String>) {
    let failed: Vec<String> = records.iter().filter_map(|r| r.error.clone()).collect();
    let examples = failed.iter().take(5).cloned().collect();
    (failed.len(), examples)
}

#[allow(clippy::too_many_arguments)]
fn phase_report(
    scenario: &str,
    system: &str,
    database: &str,
    load: &Load,
    records: &[RunRecord],
    window: WindowReport,
    cores: usize,
) -> PhaseReport {
    let (failed, failure_examples) = failures(records);
    let succeeded = records.len() - failed;
    let steps = succeeded as u64 * u64::from(load.tool_turns + 1);
    let (worker_cpu_ms_per_step, temporal_cpu_pct_of_core, temporal_share_of_busy_pct) =
        report::cpu_figures(&window, steps, cores);
    let admission: Vec<f64> = records.iter().filter_map(|r| r.admission_ms).collect();
    let end_to_end: Vec<f64> = records
        .iter()
        .filter(|r| r.error.is_none())
        .filter_map(|r| r.end_to_end_ms)
        .collect();
    PhaseReport {
        scenario: scenario.to_string(),
        system: system.to_string(),
        database: database.to_string(),
        runs: records.len(),
        concurrency: load.concurrency,
        tool_turns: load.tool_turns,
        llm_latency_ms: load.latency_ms,
        succeeded,
        failed,
        failure_examples,
        steps,
        wall_s: window.seconds,
        runs_per_s: succeeded as f64 / window.seconds,
        steps_per_s: steps as f64 / window.seconds,
        admission_ms: Percentiles::of(&admission),
        end_to_end_ms: Percentiles::of(&end_to_end),
        worker_cpu_ms_per_step,
        worker_peak_rss_mb: window.process("worker").and_then(|p| p.peak_rss_mb),
        api_peak_rss_mb: window.process("api").and_then(|p| p.peak_rss_mb),
        temporal_cpu_pct_of_core,
        temporal_share_of_busy_pct,
        window,
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The reference's name in reports: `raw-sdk`, or `raw-sdk-local` when its tool runs as a
/// local activity.
fn reference_label(env: &Env) -> &'static str {
    if env.reference_local_tools {
        "raw-sdk-local"
    } else {
        "raw-sdk"
    }
}

/// One system's closed loop: the warm-up runs, then the measured ones with the processes'
/// CPU and memory (and `perf`, when asked) recorded over exactly that window.
async fn measure_closed<F, Fut>(
    env: &Env,
    phase: &str,
    load: &Load,
    processes: &[(String, u32)],
    run: F,
) -> (Vec<RunRecord>, WindowReport)
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = RunRecord> + Send + 'static,
{
    if load.warmup > 0 {
        eprintln!("[{phase}] {} warm-up runs", load.warmup);
        drive::closed_loop(seeds(1, load.warmup), load.concurrency, &run).await;
    }
    eprintln!(
        "[{phase}] {} measured runs, {} at once",
        load.runs, load.concurrency
    );
    let perf = stack::perf_start(env, phase, processes);
    let window = Window::start(processes);
    let records =
        drive::closed_loop(seeds(1 + load.warmup, load.runs), load.concurrency, run).await;
    let measured = window.finish();
    stack::perf_stop(perf).await;
    (records, measured)
}

/// Closed-loop runs on each system: the raw-SDK reference first, then longrun.
pub async fn closed(
    env: &Env,
    scenario: &str,
    load: &Load,
    systems: Systems,
) -> anyhow::Result<ClosedReport> {
    let fake = FakeLlm::start(load.behaviour()).await?;
    let timeout = Duration::from_secs(load.run_timeout_s);
    let mut phases = Vec::new();
    if systems.reference() {
        let phase = format!("{scenario}-raw-sdk");
        eprintln!("[{phase}] starting a Temporal dev server and the reference worker");
        let stack = ReferenceStack::start(env, &phase, &fake.base_url).await?;
        let submissions = Arc::new(Semaphore::new(load.submit_concurrency));
        let run = |seed| {
            drive::reference_run(
                stack.client.clone(),
                submissions.clone(),
                seed,
                load.tool_turns,
                timeout,
            )
        };
        let (records, measured) = measure_closed(env, &phase, load, &stack.processes(), run).await;
        let phase_report = phase_report(
            scenario,
            reference_label(env),
            "none",
            load,
            &records,
            measured,
            cores(),
        );
        eprintln!("{}", phase_report.markdown_row());
        phases.push(phase_report);
        stack.stop().await;
    }
    if systems.longrun() {
        let phase = format!("{scenario}-longrun");
        eprintln!("[{phase}] starting a Temporal dev server, longrun api and worker");
        let stack =
            LongrunStack::start(env, &phase, &fake.base_url, true, load.max_steps()).await?;
        let submissions = Arc::new(Semaphore::new(load.submit_concurrency));
        let run = |seed| {
            drive::longrun_run(
                stack.client.clone(),
                submissions.clone(),
                seed,
                load.tool_turns,
                timeout,
            )
        };
        let (records, measured) = measure_closed(env, &phase, load, &stack.processes(), run).await;
        let phase_report = phase_report(
            scenario,
            "longrun",
            stack.database.label,
            load,
            &records,
            measured,
            cores(),
        );
        eprintln!("{}", phase_report.markdown_row());
        phases.push(phase_report);
        stack.stop().await;
    }
    let ratios = match phases.as_slice() {
        [reference, longrun] => Some(report::ratios(longrun, reference)),
        _ => None,
    };
    Ok(ClosedReport {
        load: load.clone(),
        phases,
        ratios,
        llm_rejected: fake.rejected(),
    })
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
    pub worker_peak_rss_mb: Option<f64>,
    pub api_peak_rss_mb: Option<f64>,
    pub temporal_cpu_pct_of_core: Option<f64>,
    /// From opening the gate until every run was terminal.
    pub drain_s: f64,
    pub succeeded: usize,
    pub failed: usize,
    pub failure_examples: Vec<String>,
}

impl WaitingReport {
    pub const TABLE_HEADER: &'static str = "| system | DB | runs | waiting at once | s to all waiting | worker RSS max in window MB | worker CPU % of a core in window | worker peak RSS MB | API peak RSS MB | Temporal CPU % of a core in window | Postgres CPU % of a core in window | others' load % of a core | drain s | ok/failed |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

    pub fn markdown_row(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
        format!(
            "| {} | {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {:.0} | {} | {:.0} | {}/{} |",
            self.system,
            self.database,
            self.runs,
            self.waiting,
            self.seconds_until_all_waiting,
            opt(self.worker_rss_mb_max),
            self.worker_cpu_pct_of_core
                .map_or("–".to_string(), |v| format!("{v:.1}")),
            opt(self.worker_peak_rss_mb),
            opt(self.api_peak_rss_mb),
            opt(self.temporal_cpu_pct_of_core),
            self.window.postgres_cpu_pct_of_core,
            opt(self.window.other_cpu_pct_of_core),
            self.drain_s,
            self.succeeded,
            self.failed,
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

#[allow(clippy::too_many_arguments)]
fn waiting_report(
    system: &str,
    database: &str,
    submitted: &[RunRecord],
    finished: &[RunRecord],
    waiting: usize,
    seconds_until_all_waiting: f64,
    window: WindowReport,
    worker_rss_mb_max: Option<f64>,
    drain_s: f64,
) -> WaitingReport {
    let (failed, failure_examples) = failures(finished);
    let admission: Vec<f64> = submitted.iter().filter_map(|r| r.admission_ms).collect();
    WaitingReport {
        system: system.into(),
        database: database.into(),
        runs: submitted.len(),
        waiting,
        seconds_until_all_waiting,
        admission_ms: Percentiles::of(&admission),
        worker_rss_mb_max,
        worker_cpu_pct_of_core: window.process("worker").and_then(|p| p.cpu_pct_of_core),
        worker_peak_rss_mb: window.process("worker").and_then(|p| p.peak_rss_mb),
        api_peak_rss_mb: window.process("api").and_then(|p| p.peak_rss_mb),
        temporal_cpu_pct_of_core: window.process("temporal").and_then(|p| p.cpu_pct_of_core),
        window,
        drain_s,
        succeeded: finished.len() - failed,
        failed,
        failure_examples,
    }
}

/// Scenario (c): `load.runs` runs in flight, each held in its model call until all of them are
/// and then `window` longer (every call lasts at least `load.latency_ms` too).
pub async fn waiting(
    env: &Env,
    load: &Load,
    window_length: Duration,
    systems: Systems,
) -> anyhow::Result<Vec<WaitingReport>> {
    let fake = FakeLlm::start(load.behaviour()).await?;
    let stall = Duration::from_secs(120);
    let mut reports = Vec::new();
    if systems.reference() {
        let phase = "waiting-raw-sdk";
        eprintln!("[{phase}] starting a Temporal dev server and the reference worker");
        let stack = ReferenceStack::start(env, phase, &fake.base_url).await?;
        fake.close_gate();
        let began = Instant::now();
        let submissions = Arc::new(Semaphore::new(load.submit_concurrency));
        let submitted = drive::closed_loop(seeds(1, load.runs), load.runs, |seed| {
            drive::reference_submit(
                stack.client.clone(),
                submissions.clone(),
                seed,
                load.tool_turns,
            )
        })
        .await;
        let waiting = until_waiting(&fake, load.runs, stall).await;
        let until_all = began.elapsed().as_secs_f64();
        eprintln!("[{phase}] {waiting} runs waiting; measuring {window_length:?}");
        let processes = stack.processes();
        let perf = stack::perf_start(env, phase, &processes);
        let window = Window::start(&processes);
        let rss = watch_window(stack.worker.id(), window_length).await;
        let measured = window.finish();
        stack::perf_stop(perf).await;
        fake.open_gate();
        let drain = Instant::now();
        let finished = drive::reference_collect(
            stack.client.clone(),
            submitted.clone(),
            load.tool_turns,
            500,
        )
        .await;
        let report = waiting_report(
            reference_label(env),
            "none",
            &submitted,
            &finished,
            waiting,
            until_all,
            measured,
            rss,
            drain.elapsed().as_secs_f64(),
        );
        eprintln!("{}", report.markdown_row());
        reports.push(report);
        stack.stop().await;
    }
    if systems.longrun() {
        let phase = "waiting-longrun";
        eprintln!("[{phase}] starting a Temporal dev server, longrun api and worker");
        let stack = LongrunStack::start(env, phase, &fake.base_url, true, load.max_steps()).await?;
        fake.close_gate();
        let began = Instant::now();
        let submissions = Arc::new(Semaphore::new(load.submit_concurrency));
        let submitted = drive::closed_loop(seeds(1, load.runs), load.runs, |seed| {
            drive::longrun_submit(stack.client.clone(), submissions.clone(), seed)
        })
        .await;
        let waiting = until_waiting(&fake, load.runs, stall).await;
        let until_all = began.elapsed().as_secs_f64();
        eprintln!("[{phase}] {waiting} runs waiting; measuring {window_length:?}");
        let processes = stack.processes();
        let perf = stack::perf_start(env, phase, &processes);
        let window = Window::start(&processes);
        let worker_pid = stack.worker.as_ref().and_then(|w| w.id());
        let rss = watch_window(worker_pid, window_length).await;
        let measured = window.finish();
        stack::perf_stop(perf).await;
        fake.open_gate();
        let drain = Instant::now();
        let finished =
            drive::longrun_collect(stack.client.clone(), submitted.clone(), load.tool_turns, 32)
                .await;
        let report = waiting_report(
            "longrun",
            stack.database.label,
            &submitted,
            &finished,
            waiting,
            until_all,
            measured,
            rss,
            drain.elapsed().as_secs_f64(),
        );
        eprintln!("{}", report.markdown_row());
        reports.push(report);
        stack.stop().await;
    }
    Ok(reports)
}

/// Scenario (d): the API's admission path without a worker.
#[derive(Debug, Clone, Serialize)]
pub struct AdmissionReport {
    pub database: String,
    pub rate_per_s: f64,
    pub duration_s: f64,
    pub submitted: usize,
    pub achieved_per_s: f64,
    /// From when each request was due (open loop).
    pub submit_latency_ms: Percentiles,
    /// From when each request was sent.
    pub submit_service_ms: Percentiles,
    pub submit_statuses: std::collections::BTreeMap<String, usize>,
    pub submit_window: WindowReport,
    pub read_connections: usize,
    pub reads: usize,
    pub reads_per_s: f64,
    pub read_latency_ms: Percentiles,
    pub read_statuses: std::collections::BTreeMap<String, usize>,
    pub read_window: WindowReport,
    /// The same rate of `start_workflow` on the raw SDK, against a dev server of its own.
    pub reference: Option<ReferenceAdmission>,
}

/// The raw SDK's admission: `start_workflow` at the same rate, nobody polling the queue.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceAdmission {
    pub achieved_per_s: f64,
    pub start_latency_ms: Percentiles,
    pub statuses: std::collections::BTreeMap<String, usize>,
    pub window: WindowReport,
}

impl AdmissionReport {
    pub const TABLE_HEADER: &'static str = "| DB | request | load | requests | achieved /s | latency p50/p95/p99 ms | max ms | errors | API CPU % of a core | Temporal CPU % of a core | Postgres CPU % of a core | others' load % of a core | API peak RSS MB |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

    pub fn markdown_rows(&self) -> String {
        let errors = |statuses: &std::collections::BTreeMap<String, usize>, ok: &str| {
            let bad: Vec<String> = statuses
                .iter()
                .filter(|(s, _)| s.as_str() != ok)
                .map(|(s, n)| format!("{n}× {s}"))
                .collect();
            if bad.is_empty() {
                "0".to_string()
            } else {
                bad.join(", ")
            }
        };
        let cpu = |w: &WindowReport, name: &str| {
            w.process(name)
                .and_then(|p| p.cpu_pct_of_core)
                .map_or("–".to_string(), |v| format!("{v:.0}"))
        };
        let peak = |w: &WindowReport| {
            w.process("api")
                .and_then(|p| p.peak_rss_mb)
                .map_or("–".to_string(), |v| format!("{v:.0}"))
        };
        let extra = |w: &WindowReport| {
            format!(
                "{:.0} | {}",
                w.postgres_cpu_pct_of_core,
                w.other_cpu_pct_of_core
                    .map_or("–".to_string(), |v| format!("{v:.0}"))
            )
        };
        let max = |p: &Percentiles| p.max.map_or("–".to_string(), |v| format!("{v:.0}"));
        let reference = self.reference.as_ref().map_or(String::new(), |r| {
            format!(
                "| none | raw SDK start_workflow | {:.0}/s open loop, {:.0} s | {} | {:.1} | {} | {} | {} | – | {} | {} | – |\n",
                self.rate_per_s,
                self.duration_s,
                r.start_latency_ms.count,
                r.achieved_per_s,
                r.start_latency_ms.cell(),
                max(&r.start_latency_ms),
                errors(&r.statuses, "202"),
                cpu(&r.window, "temporal"),
                extra(&r.window),
            )
        });
        format!(
            "{reference}| {} | POST /v1/runs | {:.0}/s open loop, {:.0} s | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} |\n| {} | GET /v1/runs/{{id}} | {} connections, closed loop, {:.0} s | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            self.database,
            self.rate_per_s,
            self.duration_s,
            self.submitted,
            self.achieved_per_s,
            self.submit_latency_ms.cell(),
            max(&self.submit_latency_ms),
            errors(&self.submit_statuses, "202"),
            cpu(&self.submit_window, "api"),
            cpu(&self.submit_window, "temporal"),
            extra(&self.submit_window),
            peak(&self.submit_window),
            self.database,
            self.read_connections,
            self.read_window.seconds,
            self.reads,
            self.reads_per_s,
            self.read_latency_ms.cell(),
            max(&self.read_latency_ms),
            errors(&self.read_statuses, "200"),
            cpu(&self.read_window, "api"),
            cpu(&self.read_window, "temporal"),
            extra(&self.read_window),
            peak(&self.read_window),
        )
    }
}

/// Scenario (d): submissions at a fixed rate, then reads as fast as they go. No worker runs:
/// the runs stay queued, and only the API, the database and Temporal's start path are measured.
pub async fn admission(
    env: &Env,
    systems: Systems,
    rate: f64,
    duration: Duration,
    read_connections: usize,
    read_duration: Duration,
) -> anyhow::Result<AdmissionReport> {
    let fake = FakeLlm::start(Behaviour {
        tool_turns: 0,
        latency: Duration::ZERO,
    })
    .await?;
    let reference = if systems.reference() {
        let phase = "admission-raw-sdk";
        eprintln!("[{phase}] starting a Temporal dev server; start_workflow at {rate}/s");
        let stack = ReferenceStack::start(env, phase, &fake.base_url).await?;
        // A queue nobody polls: the runs stay scheduled, as longrun's do without a worker.
        let client = Arc::new(drive::ReferenceClient {
            client: crate::temporal::connect(&stack.temporal.address).await?,
            task_queue: format!("{phase}-unpolled"),
            prefix: phase.to_string(),
            local_tools: false,
        });
        let _ =
            drive::start_at_rate(client.clone(), rate, Duration::from_secs(1), 1_000_000_000).await;
        let processes = vec![("temporal".to_string(), stack.temporal.pid)];
        let window = Window::start(&processes);
        let started = drive::start_at_rate(client, rate, duration, 1).await;
        let window = window.finish();
        stack.stop().await;
        Some(ReferenceAdmission {
            achieved_per_s: started.requests as f64 / started.seconds,
            start_latency_ms: Percentiles::of(&started.latency_ms),
            statuses: started.statuses,
            window,
        })
    } else {
        None
    };
    if !systems.longrun() {
        anyhow::bail!("admission measures longrun's API; --system reference is not enough");
    }
    let phase = "admission-longrun";
    eprintln!("[{phase}] starting a Temporal dev server and longrun api (no worker)");
    let stack = LongrunStack::start(env, phase, &fake.base_url, false, 2).await?;
    // Warm the connection pools and caches: a second of submissions at the same rate.
    let _ = drive::submit_at_rate(
        stack.client.clone(),
        rate,
        Duration::from_secs(1),
        1_000_000_000,
    )
    .await;
    eprintln!("[{phase}] POST /v1/runs at {rate}/s for {duration:?}");
    let processes = stack.processes();
    let perf = stack::perf_start(env, &format!("{phase}-post"), &processes);
    let window = Window::start(&processes);
    let submitted = drive::submit_at_rate(stack.client.clone(), rate, duration, 1).await;
    let submit_window = window.finish();
    stack::perf_stop(perf).await;
    eprintln!(
        "[{phase}] GET /v1/runs/{{id}} on {read_connections} connections for {read_duration:?}"
    );
    let ids = Arc::new(submitted.run_ids.clone());
    let perf = stack::perf_start(env, &format!("{phase}-get"), &processes);
    let window = Window::start(&processes);
    let reads =
        drive::read_at_full_speed(stack.client.clone(), ids, read_connections, read_duration).await;
    let read_window = window.finish();
    stack::perf_stop(perf).await;
    let report = AdmissionReport {
        database: stack.database.label.to_string(),
        rate_per_s: rate,
        duration_s: duration.as_secs_f64(),
        submitted: submitted.requests,
        achieved_per_s: submitted.requests as f64 / submitted.seconds,
        submit_latency_ms: Percentiles::of(&submitted.latency_ms),
        submit_service_ms: Percentiles::of(&submitted.service_ms),
        submit_statuses: submitted.statuses,
        submit_window,
        read_connections,
        reads: reads.requests,
        reads_per_s: reads.requests as f64 / reads.seconds,
        read_latency_ms: Percentiles::of(&reads.latency_ms),
        read_statuses: reads.statuses,
        read_window,
        reference,
    };
    eprintln!("{}", report.markdown_rows());
    stack.stop().await;
    Ok(report)
}

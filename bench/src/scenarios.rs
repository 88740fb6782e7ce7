//! The scenarios of issue 7: closed-loop runs (a: overhead, b: throughput, and the smoke
//! check) and the API's admission path alone (d); many runs waiting on slow model calls (c)
//! are in [`crate::waiting`]. Each system gets a fresh Temporal server; the fake model is
//! shared by the phases of a scenario. Progress goes to stderr; figures are returned for the
//! caller to print.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Semaphore;

use crate::drive::{self, RunClient, RunRecord};
use crate::fake_llm::{Behaviour, FakeLlm};
use crate::procstat::{Window, WindowReport};
use crate::report::{self, Outcome, Percentiles, PhaseReport, ProcessCosts, Ratios};
use crate::stack::{self, Env, LongrunStack, ReferenceStack, Stack};
use crate::temporal::{self, HistoryStats};

/// Which systems a scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
pub enum Systems {
    Both,
    Longrun,
    Reference,
}

impl Systems {
    pub(crate) fn reference(self) -> bool {
        self != Systems::Longrun
    }

    pub(crate) fn longrun(self) -> bool {
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
    /// `runs` measured runs after `warmup` unmeasured ones, `concurrency` in flight and as many
    /// submissions at once.
    pub fn new(
        runs: usize,
        warmup: usize,
        concurrency: usize,
        tool_turns: u32,
        latency_ms: u64,
        run_timeout_s: u64,
    ) -> Self {
        Self {
            runs,
            warmup,
            concurrency,
            submit_concurrency: concurrency,
            tool_turns,
            latency_ms,
            run_timeout_s,
        }
    }

    pub(crate) fn behaviour(&self) -> Behaviour {
        Behaviour {
            tool_turns: self.tool_turns,
            latency: Duration::from_millis(self.latency_ms),
        }
    }

    pub(crate) fn max_steps(&self) -> u32 {
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

pub(crate) fn seeds(first: usize, count: usize) -> std::ops::Range<u64> {
    first as u64..(first + count) as u64
}

#[allow(clippy::too_many_arguments)]
fn phase_report(
    scenario: &str,
    system: &str,
    database: &str,
    load: &Load,
    records: &[RunRecord],
    window: WindowReport,
    history: HistoryStats,
    cores: usize,
) -> PhaseReport {
    let outcome = Outcome::of(records);
    let steps = outcome.succeeded as u64 * u64::from(load.tool_turns + 1);
    let (worker_cpu_ms_per_step, temporal_share_of_busy_pct) =
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
        steps,
        wall_s: window.seconds,
        runs_per_s: outcome.succeeded as f64 / window.seconds,
        outcome,
        steps_per_s: steps as f64 / window.seconds,
        admission_ms: Percentiles::of(&admission),
        end_to_end_ms: Percentiles::of(&end_to_end),
        worker_cpu_ms_per_step,
        costs: ProcessCosts::of(&window),
        temporal_share_of_busy_pct,
        history,
        window,
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work` while the processes' CPU and memory (and `perf`, when asked) are recorded,
/// over exactly its duration.
pub(crate) async fn measure<T>(
    env: &Env,
    name: &str,
    processes: &[(String, u32)],
    work: impl Future<Output = T>,
) -> (T, WindowReport) {
    let perf = stack::perf_start(env, name, processes);
    let window = Window::start(processes);
    let outcome = work.await;
    let measured = window.finish();
    stack::perf_stop(perf).await;
    (outcome, measured)
}

/// The Temporal history of up to `sample` of the runs that succeeded, spread over their seeds,
/// read from the phase's server once the runs are over.
async fn history_of<S: Stack>(stack: &S, records: &[RunRecord], sample: usize) -> HistoryStats {
    let mut succeeded: Vec<&RunRecord> = records
        .iter()
        .filter(|r| r.error.is_none() && r.run_id.is_some())
        .collect();
    if sample == 0 || succeeded.is_empty() {
        return HistoryStats::default();
    }
    succeeded.sort_by_key(|r| r.seed);
    let step = (succeeded.len() / sample).max(1);
    let client = stack.client();
    let mut workflow_ids = Vec::new();
    let mut errors = Vec::new();
    for record in succeeded.into_iter().step_by(step).take(sample) {
        let run_id = record.run_id.as_deref().unwrap_or_default();
        match client.workflow_id(run_id).await {
            Ok(id) => workflow_ids.push(id),
            Err(err) => errors.push(err),
        }
    }
    let mut stats = match temporal::connect(&stack.temporal().address).await {
        Ok(temporal) => temporal::history_stats(&temporal, &workflow_ids).await,
        Err(err) => HistoryStats {
            errors: vec![format!(
                "cannot connect to the phase's Temporal server: {err:#}"
            )],
            ..HistoryStats::default()
        },
    };
    stats.errors.extend(errors);
    stats
}

/// One system's closed loop: the warm-up runs, then the measured ones.
async fn closed_phase<S: Stack>(
    env: &Env,
    scenario: &str,
    phase: &str,
    load: &Load,
    stack: &S,
) -> PhaseReport {
    let client = stack.client();
    let submissions = Arc::new(Semaphore::new(load.submit_concurrency));
    let timeout = Duration::from_secs(load.run_timeout_s);
    let run = |seed| {
        drive::run(
            client.clone(),
            submissions.clone(),
            seed,
            load.tool_turns,
            timeout,
        )
    };
    if load.warmup > 0 {
        eprintln!("[{phase}] {} warm-up runs", load.warmup);
        drive::closed_loop(seeds(1, load.warmup), load.concurrency, &run).await;
    }
    eprintln!(
        "[{phase}] {} measured runs, {} at once",
        load.runs, load.concurrency
    );
    let measured_runs = seeds(1 + load.warmup, load.runs);
    let (records, window) = measure(
        env,
        phase,
        &stack.processes(),
        drive::closed_loop(measured_runs, load.concurrency, run),
    )
    .await;
    let history = history_of(stack, &records, env.history_sample).await;
    let report = phase_report(
        scenario,
        stack.system(),
        stack.database(),
        load,
        &records,
        window,
        history,
        cores(),
    );
    eprintln!("{}", report.markdown_row());
    report
}

/// Closed-loop runs on each system: the raw-SDK reference first, then longrun.
pub async fn closed(
    env: &Env,
    scenario: &str,
    load: &Load,
    systems: Systems,
) -> anyhow::Result<ClosedReport> {
    let fake = FakeLlm::start(load.behaviour()).await?;
    let mut phases = Vec::new();
    if systems.reference() {
        let phase = format!("{scenario}-raw-sdk");
        let stack = ReferenceStack::start(env, &phase, &fake.base_url).await?;
        phases.push(closed_phase(env, scenario, &phase, load, &stack).await);
        stack.stop().await;
    }
    if systems.longrun() {
        let phase = format!("{scenario}-longrun");
        let stack =
            LongrunStack::start(env, &phase, &fake.base_url, true, load.max_steps()).await?;
        phases.push(closed_phase(env, scenario, &phase, load, &stack).await);
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
        let cpu = |w: &WindowReport, name: &str| report::cell(w.cpu_pct_of_core(name), 0);
        // The columns from the latency on; the raw SDK's row has no API to measure.
        let measured = |latency: &Percentiles, errors: String, w: &WindowReport, api: bool| {
            let api_only = |cell: String| if api { cell } else { "–".to_string() };
            format!(
                "{} | {} | {errors} | {} | {} | {:.0} | {} | {}",
                latency.cell(),
                report::cell(latency.max, 0),
                api_only(cpu(w, "api")),
                cpu(w, "temporal"),
                w.postgres_cpu_pct_of_core,
                report::cell(w.other_cpu_pct_of_core, 0),
                api_only(report::cell(w.peak_rss_mb("api"), 0)),
            )
        };
        let open_loop = format!(
            "{:.0}/s open loop, {:.0} s",
            self.rate_per_s, self.duration_s
        );
        let reference = self.reference.as_ref().map_or(String::new(), |r| {
            format!(
                "| none | raw SDK start_workflow | {open_loop} | {} | {:.1} | {} |\n",
                r.start_latency_ms.count,
                r.achieved_per_s,
                measured(
                    &r.start_latency_ms,
                    errors(&r.statuses, "202"),
                    &r.window,
                    false
                ),
            )
        });
        let post = measured(
            &self.submit_latency_ms,
            errors(&self.submit_statuses, "202"),
            &self.submit_window,
            true,
        );
        let get = measured(
            &self.read_latency_ms,
            errors(&self.read_statuses, "200"),
            &self.read_window,
            true,
        );
        format!(
            "{reference}| {db} | POST /v1/runs | {open_loop} | {} | {:.1} | {post} |\n| {db} | GET /v1/runs/{{id}} | {} connections, closed loop, {:.0} s | {} | {:.0} | {get} |",
            self.submitted,
            self.achieved_per_s,
            self.read_connections,
            self.read_window.seconds,
            self.reads,
            self.reads_per_s,
            db = self.database,
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
        let stack = ReferenceStack::start(env, phase, &fake.base_url).await?;
        eprintln!("[{phase}] start_workflow at {rate}/s");
        // A queue nobody polls: the runs stay scheduled, as longrun's do without a worker.
        let client = Arc::new(drive::ReferenceClient {
            client: crate::temporal::connect(&stack.temporal.address).await?,
            task_queue: format!("{phase}-unpolled"),
            prefix: phase.to_string(),
            local_tools: false,
            heartbeat_timeout_s: env.heartbeat_timeout_s,
        });
        let _ =
            drive::admit_at_rate(client.clone(), rate, Duration::from_secs(1), 1_000_000_000).await;
        let processes = [("temporal".to_string(), stack.temporal.pid)];
        let (started, window) = measure(
            env,
            phase,
            &processes,
            drive::admit_at_rate(client, rate, duration, 1),
        )
        .await;
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
    let stack = LongrunStack::start(env, phase, &fake.base_url, false, 2).await?;
    // Warm the connection pools and caches: a second of submissions at the same rate.
    let _ = drive::admit_at_rate(
        stack.client.clone(),
        rate,
        Duration::from_secs(1),
        1_000_000_000,
    )
    .await;
    eprintln!("[{phase}] POST /v1/runs at {rate}/s for {duration:?}");
    let processes = stack.processes();
    let (submitted, submit_window) = measure(
        env,
        &format!("{phase}-post"),
        &processes,
        drive::admit_at_rate(stack.client.clone(), rate, duration, 1),
    )
    .await;
    eprintln!(
        "[{phase}] GET /v1/runs/{{id}} on {read_connections} connections for {read_duration:?}"
    );
    let ids = Arc::new(submitted.run_ids.clone());
    let (reads, read_window) = measure(
        env,
        &format!("{phase}-get"),
        &processes,
        drive::read_at_full_speed(stack.client.clone(), ids, read_connections, read_duration),
    )
    .await;
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

//! Figures: latency percentiles, one phase's results (JSON), and the markdown rows
//! `bench/RESULTS.md` is made of.

use serde::Serialize;

use crate::drive::RunRecord;
use crate::procstat::WindowReport;
use crate::temporal::HistoryStats;

/// Nearest-rank percentiles of a sample, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

impl Percentiles {
    pub fn of(sample: &[f64]) -> Self {
        let mut sorted: Vec<f64> = sample.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| -> Option<f64> {
            if sorted.is_empty() {
                return None;
            }
            let index = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
            Some(sorted[index.clamp(1, sorted.len()) - 1])
        };
        Self {
            count: sorted.len(),
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: sorted.last().copied(),
            mean: (!sorted.is_empty()).then(|| sorted.iter().sum::<f64>() / sorted.len() as f64),
        }
    }

    /// `p50 / p95 / p99` in ms.
    pub fn cell(&self) -> String {
        match (self.p50, self.p95, self.p99) {
            (Some(a), Some(b), Some(c)) => format!("{} / {} / {}", ms(a), ms(b), ms(c)),
            _ => "–".into(),
        }
    }
}

/// A figure with `digits` decimals, or `–` when there is none.
pub fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.digits$}"))
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// How a phase's runs ended.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    /// Runs that ended as expected.
    pub succeeded: usize,
    pub failed: usize,
    /// A few failures, to start debugging from.
    pub failure_examples: Vec<String>,
}

impl Outcome {
    pub fn of(records: &[RunRecord]) -> Self {
        let failed: Vec<&String> = records.iter().filter_map(|r| r.error.as_ref()).collect();
        Self {
            succeeded: records.len() - failed.len(),
            failed: failed.len(),
            failure_examples: failed.into_iter().take(5).cloned().collect(),
        }
    }
}

/// What the worker, the API and the Temporal server cost over a measured window, as every
/// scenario that runs both reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcessCosts {
    pub worker_peak_rss_mb: Option<f64>,
    pub api_peak_rss_mb: Option<f64>,
    /// The Temporal server's CPU over the window, in % of one core.
    pub temporal_cpu_pct_of_core: Option<f64>,
}

impl ProcessCosts {
    pub fn of(window: &WindowReport) -> Self {
        Self {
            worker_peak_rss_mb: window.peak_rss_mb("worker"),
            api_peak_rss_mb: window.peak_rss_mb("api"),
            temporal_cpu_pct_of_core: window.cpu_pct_of_core("temporal"),
        }
    }
}

/// One system under one load: what the driver saw and what the processes cost.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub scenario: String,
    /// `longrun` or `raw-sdk`.
    pub system: String,
    /// `postgres`, `sqlite`, or `none` (the reference keeps no database).
    pub database: String,
    pub runs: usize,
    pub concurrency: usize,
    pub tool_turns: u32,
    pub llm_latency_ms: u64,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Model turns of the measured runs (K + 1 each).
    pub steps: u64,
    pub wall_s: f64,
    pub runs_per_s: f64,
    pub steps_per_s: f64,
    /// `POST /v1/runs` (longrun) or `start_workflow` (raw SDK).
    pub admission_ms: Percentiles,
    /// Submission to the terminal result as a client sees it.
    pub end_to_end_ms: Percentiles,
    pub worker_cpu_ms_per_step: Option<f64>,
    #[serde(flatten)]
    pub costs: ProcessCosts,
    /// The Temporal server's share of all CPU the machine spent in the window.
    pub temporal_share_of_busy_pct: Option<f64>,
    /// History events per run, over a sample of the measured runs that succeeded.
    pub history: HistoryStats,
    pub window: WindowReport,
}

impl PhaseReport {
    pub const TABLE_HEADER: &'static str = "| scenario | system | DB | N | C | K | L ms | ok/failed | runs/s | steps/s | admission p50/p95/p99 ms | end-to-end p50/p95/p99 ms | worker CPU ms/step | worker peak RSS MB | API peak RSS MB | Temporal CPU % of a core (share of busy) | Postgres CPU % of a core | machine busy % (others' load, % of a core) | history events per run mean (min–max) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {}/{} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} ({}) | {:.0} | {} ({}) | {} |",
            self.scenario,
            self.system,
            self.database,
            self.runs,
            self.concurrency,
            self.tool_turns,
            self.llm_latency_ms,
            self.outcome.succeeded,
            self.outcome.failed,
            self.runs_per_s,
            self.steps_per_s,
            self.admission_ms.cell(),
            self.end_to_end_ms.cell(),
            cell(self.worker_cpu_ms_per_step, 2),
            cell(self.costs.worker_peak_rss_mb, 0),
            cell(self.costs.api_peak_rss_mb, 0),
            cell(self.costs.temporal_cpu_pct_of_core, 0),
            cell(self.temporal_share_of_busy_pct, 0),
            self.window.postgres_cpu_pct_of_core,
            cell(self.window.machine_busy_pct, 0),
            cell(self.window.other_cpu_pct_of_core, 0),
            self.history.cell(),
        )
    }
}

/// Fills the CPU-derived fields of a closed-loop phase from its window: the worker's CPU per
/// step and the Temporal server's share of all CPU spent.
pub fn cpu_figures(window: &WindowReport, steps: u64, cores: usize) -> (Option<f64>, Option<f64>) {
    let worker_ms_per_step = window
        .process("worker")
        .and_then(|w| w.cpu_ms)
        .filter(|_| steps > 0)
        .map(|ms| ms / steps as f64);
    let temporal_ms = window.process("temporal").and_then(|t| t.cpu_ms);
    let share = match (temporal_ms, window.machine_busy_pct) {
        (Some(ms), Some(busy)) if busy > 0.0 => {
            let busy_ms = busy / 100.0 * window.seconds * 1000.0 * cores as f64;
            Some(100.0 * ms / busy_ms)
        }
        _ => None,
    };
    (worker_ms_per_step, share)
}

/// The comparison `bench/RESULTS.md` states: longrun over the raw SDK.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    pub throughput: Option<f64>,
    pub end_to_end_p50: Option<f64>,
    pub worker_cpu_per_step: Option<f64>,
    /// longrun's mean history events per run minus the reference's (a difference: the
    /// target is longrun's ≤ the reference's + 2).
    pub history_events_extra: Option<f64>,
}

pub fn ratios(longrun: &PhaseReport, reference: &PhaseReport) -> Ratios {
    let div = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    Ratios {
        throughput: div(Some(longrun.runs_per_s), Some(reference.runs_per_s)),
        end_to_end_p50: div(longrun.end_to_end_ms.p50, reference.end_to_end_ms.p50),
        worker_cpu_per_step: div(
            longrun.worker_cpu_ms_per_step,
            reference.worker_cpu_ms_per_step,
        ),
        history_events_extra: match (longrun.history.mean, reference.history.mean) {
            (Some(a), Some(b)) => Some(a - b),
            _ => None,
        },
    }
}

impl Ratios {
    pub fn line(&self) -> String {
        let f = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}×"));
        format!(
            "longrun / raw SDK: throughput {}, end-to-end p50 {}, worker CPU per step {}; \
             longrun - raw SDK: history events per run {}",
            f(self.throughput),
            f(self.end_to_end_p50),
            f(self.worker_cpu_per_step),
            self.history_events_extra
                .map_or("–".to_string(), |d| format!("{d:+.1}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let sample: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&sample);
        assert_eq!(
            (p.p50, p.p95, p.p99, p.max),
            (Some(50.0), Some(95.0), Some(99.0), Some(100.0))
        );
        assert_eq!(Percentiles::of(&[7.0]).p99, Some(7.0));
        assert_eq!(Percentiles::of(&[]).p50, None);
    }

    /// The shared groups are flattened: the JSON keeps every figure at the phase's top level,
    /// under the names `bench/RESULTS.md`'s figures were read by.
    #[test]
    fn a_phase_serializes_its_figures_flat() {
        let process = |name: &str, peak| crate::procstat::ProcessReport {
            name: name.into(),
            pid: 1,
            cpu_ms: Some(500.0),
            cpu_pct_of_core: Some(50.0),
            rss_mb: None,
            peak_rss_mb: Some(peak),
        };
        let window = WindowReport {
            seconds: 1.0,
            machine_busy_pct: None,
            processes: vec![process("worker", 40.0), process("api", 30.0)],
            postgres_cpu_pct_of_core: 0.0,
            other_cpu_pct_of_core: None,
        };
        let record = |error: Option<&str>| RunRecord {
            seed: 1,
            run_id: None,
            admission_ms: None,
            end_to_end_ms: None,
            error: error.map(String::from),
        };
        let outcome = Outcome::of(&[record(None), record(Some("late")), record(None)]);
        assert_eq!((outcome.succeeded, outcome.failed), (2, 1));
        let costs = ProcessCosts::of(&window);
        assert_eq!(
            (costs.worker_peak_rss_mb, costs.api_peak_rss_mb),
            (Some(40.0), Some(30.0))
        );
        let phase = PhaseReport {
            scenario: "smoke".into(),
            system: "longrun".into(),
            database: "postgres".into(),
            runs: 3,
            concurrency: 1,
            tool_turns: 0,
            llm_latency_ms: 0,
            outcome,
            steps: 2,
            wall_s: 1.0,
            runs_per_s: 2.0,
            steps_per_s: 2.0,
            admission_ms: Percentiles::default(),
            end_to_end_ms: Percentiles::default(),
            worker_cpu_ms_per_step: None,
            costs,
            temporal_share_of_busy_pct: None,
            history: HistoryStats::default(),
            window,
        };
        let json = serde_json::to_value(&phase).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "scenario",
            "system",
            "database",
            "runs",
            "concurrency",
            "tool_turns",
            "llm_latency_ms",
            "succeeded",
            "failed",
            "failure_examples",
            "steps",
            "wall_s",
            "runs_per_s",
            "steps_per_s",
            "admission_ms",
            "end_to_end_ms",
            "worker_cpu_ms_per_step",
            "worker_peak_rss_mb",
            "api_peak_rss_mb",
            "temporal_cpu_pct_of_core",
            "temporal_share_of_busy_pct",
            "history",
            "window",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["failure_examples"], serde_json::json!(["late"]));
    }
}

//! `longrun-bench`: parses the command line, prepares the environment, runs one scenario, and
//! prints its figures (markdown rows, then JSON). See `bench/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use longrun_bench::reference::{self, ReferenceWorkerSettings};
use longrun_bench::report::PhaseReport;
use longrun_bench::scenarios::{self, AdmissionReport, ClosedReport, Load, Systems};
use longrun_bench::stack::Env;
use longrun_bench::waiting::{self, CancelPlan, WaitingReport};
use longrun_bench::{processes, temporal};

#[derive(Debug, Parser)]
#[command(
    name = "longrun-bench",
    about = "Measures longrun against a raw Temporal SDK agent loop on this machine."
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Common {
    /// Postgres for longrun (a fresh schema per phase); default: $LONGRUN_BENCH_DATABASE_URL,
    /// else SQLite in the work folder.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// The longrun binary; default: the one beside this tool.
    #[arg(long, global = true)]
    longrun: Option<PathBuf>,
    /// The temporal CLI; default: $LONGRUN_TEMPORAL_CLI, .venv/bin/temporal, PATH.
    #[arg(long, global = true)]
    temporal_cli: Option<PathBuf>,
    /// Which systems to measure.
    #[arg(long, global = true, value_enum, default_value = "both")]
    system: Systems,
    /// Logs and data go here (kept); default: a temporary folder, removed at the end.
    #[arg(long, global = true)]
    work_dir: Option<PathBuf>,
    /// Also write the JSON report to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
    /// Record the worker and API processes with `perf` during measured windows, into DIR.
    #[arg(long, global = true, value_name = "DIR")]
    perf: Option<PathBuf>,
    /// Workflow task slots of both workers (default: longrun's, 100; scenario c: 1000).
    #[arg(long, global = true)]
    workflow_slots: Option<usize>,
    /// Activity slots of both workers (default: longrun's, 100; scenario c: runs + 100).
    #[arg(long, global = true)]
    activity_slots: Option<usize>,
    /// RUST_LOG of the longrun processes.
    #[arg(long, global = true, default_value = "warn")]
    log_filter: String,
    /// The reference runs its tool as a local activity (longrun runs built-in tools so), not
    /// as a regular one.
    #[arg(long, global = true)]
    reference_local_tools: bool,
    /// Heartbeat timeout of model calls in both systems, in seconds
    /// (`LONGRUN_HEARTBEAT_TIMEOUT_S` for longrun; the model activity's option for the
    /// reference). Default: longrun's default.
    #[arg(long, global = true, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    heartbeat_timeout_s: u64,
    /// Finished runs per closed-loop phase whose Temporal history is read and counted.
    #[arg(long, global = true, default_value_t = 20)]
    history_sample: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// (a) Overhead: one run at a time.
    Overhead {
        #[arg(long, default_value_t = 100)]
        runs: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        tool_turns: u32,
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
    /// (b) Throughput: N runs, C in flight.
    Throughput {
        #[arg(long, default_value_t = 1000)]
        runs: usize,
        #[arg(long, default_value_t = 100)]
        concurrency: usize,
        #[arg(long, default_value_t = 100)]
        warmup: usize,
        #[arg(long, default_value_t = 3)]
        tool_turns: u32,
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
    /// (c) Waiting runs: all in flight at once, each held in a slow model call.
    Waiting {
        #[arg(long, default_value_t = 5000)]
        runs: usize,
        /// Every model call lasts at least this long.
        #[arg(long, default_value_t = 30_000)]
        latency_ms: u64,
        /// How long all runs wait together while the worker is measured.
        #[arg(long, default_value_t = 30)]
        window_s: u64,
        #[arg(long, default_value_t = 50)]
        submit_concurrency: usize,
        #[arg(long, default_value_t = 0)]
        tool_turns: u32,
        /// After the window, cancel this many of the waiting runs (at most the runs waiting).
        #[arg(long, default_value_t = 100)]
        cancel: usize,
        /// Cancel requests per second.
        #[arg(long, default_value_t = 20.0)]
        cancel_rate: f64,
        /// How long to wait for cancelled calls to be dropped, after the last request;
        /// default: the heartbeat timeout + 30 s (the raw SDK learns of a cancellation only
        /// from a heartbeat, sent at most every min(0.8 × timeout, 60 s)).
        #[arg(long)]
        cancel_wait_s: Option<u64>,
    },
    /// (d) API admission alone: POST /v1/runs at a fixed rate, then GET /v1/runs/{id} flat out.
    Admission {
        #[arg(long, default_value_t = 200.0)]
        rate: f64,
        #[arg(long, default_value_t = 30)]
        duration_s: u64,
        #[arg(long, default_value_t = 16)]
        read_connections: usize,
        #[arg(long, default_value_t = 10)]
        read_duration_s: u64,
    },
    /// A small correctness check for CI: every run must succeed with the right answer.
    Smoke {
        #[arg(long, default_value_t = 20)]
        runs: usize,
        #[arg(long, default_value_t = 5)]
        concurrency: usize,
        #[arg(long, default_value_t = 3)]
        tool_turns: u32,
    },
    /// The raw-SDK reference worker (started by the tool itself).
    #[command(hide = true)]
    ReferenceWorker {
        #[arg(long)]
        temporal_address: String,
        #[arg(long)]
        task_queue: String,
        #[arg(long)]
        llm_base_url: String,
        #[arg(long)]
        workflow_slots: usize,
        #[arg(long)]
        activity_slots: usize,
    },
}

impl Command {
    /// The closed-loop scenarios: their name and load.
    fn closed_load(&self) -> Option<(&'static str, Load)> {
        match *self {
            Command::Overhead {
                runs,
                warmup,
                tool_turns,
                latency_ms,
            } => Some((
                "overhead",
                Load::new(runs, warmup, 1, tool_turns, latency_ms, 600),
            )),
            Command::Throughput {
                runs,
                concurrency,
                warmup,
                tool_turns,
                latency_ms,
            } => Some((
                "throughput",
                Load::new(runs, warmup, concurrency, tool_turns, latency_ms, 600),
            )),
            Command::Smoke {
                runs,
                concurrency,
                tool_turns,
            } => Some(("smoke", Load::new(runs, 0, concurrency, tool_turns, 0, 120))),
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("longrun-bench: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(cli) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("longrun-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn machine() -> serde_json::Value {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let memory_kib: f64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    json!({
        "cores": scenarios::cores(),
        "memory_gib": (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "cpu": cpu,
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
    })
}

/// The soft limit on open files; scenario (c) needs two sockets per waiting run.
fn open_files_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let common = cli.common;
    if let Command::ReferenceWorker {
        temporal_address,
        task_queue,
        llm_base_url,
        workflow_slots,
        activity_slots,
    } = cli.command
    {
        reference::run_worker(ReferenceWorkerSettings {
            temporal_address,
            task_queue,
            llm_base_url,
            workflow_slots,
            activity_slots,
        })
        .await?;
        return Ok(ExitCode::SUCCESS);
    }

    let (work_dir, temporary) = match &common.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (dir.clone(), None)
        }
        None => {
            let dir = tempfile::Builder::new()
                .prefix("longrun-bench-")
                .tempdir()?;
            (dir.path().to_path_buf(), Some(dir))
        }
    };
    let (default_workflow_slots, default_activity_slots) = match &cli.command {
        Command::Waiting { runs, .. } => (1000, runs + 100),
        _ => (100, 100),
    };
    let env = Env {
        work_dir: work_dir.clone(),
        longrun: processes::find_longrun(common.longrun.as_deref())?,
        temporal_cli: temporal::find_cli(common.temporal_cli.as_deref())?,
        database_url: common
            .database_url
            .clone()
            .or_else(|| std::env::var("LONGRUN_BENCH_DATABASE_URL").ok())
            .filter(|url| !url.is_empty()),
        perf_dir: common.perf.clone(),
        workflow_slots: common.workflow_slots.unwrap_or(default_workflow_slots),
        activity_slots: common.activity_slots.unwrap_or(default_activity_slots),
        log_filter: common.log_filter.clone(),
        reference_local_tools: common.reference_local_tools,
        heartbeat_timeout_s: common.heartbeat_timeout_s,
        history_sample: common.history_sample,
    };
    eprintln!(
        "longrun-bench: work folder {}{}",
        work_dir.display(),
        if temporary.is_some() {
            " (removed at the end; --work-dir keeps it)"
        } else {
            ""
        }
    );

    let mut code = ExitCode::SUCCESS;
    let (scenario, markdown, report) = if let Some((scenario, load)) = cli.command.closed_load() {
        let report = scenarios::closed(&env, scenario, &load, common.system).await?;
        if scenario == "smoke" {
            code = smoke_verdict(&report, load.runs);
        }
        (
            scenario,
            closed_markdown(&report),
            serde_json::to_value(&report)?,
        )
    } else {
        match cli.command {
            Command::Waiting {
                runs,
                latency_ms,
                window_s,
                submit_concurrency,
                tool_turns,
                cancel,
                cancel_rate,
                cancel_wait_s,
            } => {
                if let Some(limit) = open_files_limit()
                    && limit < (runs as u64) * 2 + 1024
                {
                    eprintln!(
                        "warning: the open-files limit ({limit}) is low for {runs} waiting runs; \
                         raise it with `ulimit -n`"
                    );
                }
                let load = Load {
                    submit_concurrency,
                    ..Load::new(runs, 0, runs, tool_turns, latency_ms, 3600)
                };
                let cancel = CancelPlan {
                    runs: cancel,
                    rate_per_s: cancel_rate,
                    wait_s: cancel_wait_s.unwrap_or(common.heartbeat_timeout_s + 30),
                };
                let reports = waiting::waiting(
                    &env,
                    &load,
                    Duration::from_secs(window_s),
                    &cancel,
                    common.system,
                )
                .await?;
                let mut markdown = WaitingReport::TABLE_HEADER.to_string();
                for report in &reports {
                    markdown.push('\n');
                    markdown.push_str(&report.markdown_row());
                }
                (
                    "waiting",
                    markdown,
                    json!({"load": load, "cancel": cancel, "phases": reports}),
                )
            }
            Command::Admission {
                rate,
                duration_s,
                read_connections,
                read_duration_s,
            } => {
                let report: AdmissionReport = scenarios::admission(
                    &env,
                    common.system,
                    rate,
                    Duration::from_secs(duration_s),
                    read_connections,
                    Duration::from_secs(read_duration_s),
                )
                .await?;
                let markdown = format!(
                    "{}\n{}",
                    AdmissionReport::TABLE_HEADER,
                    report.markdown_rows()
                );
                ("admission", markdown, serde_json::to_value(&report)?)
            }
            _ => unreachable!("closed loops and the reference worker are handled above"),
        }
    };

    let document = json!({
        "scenario": scenario,
        "date": chrono::Utc::now().to_rfc3339(),
        "machine": machine(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "database": if env.database_url.is_some() { "postgres" } else { "sqlite" },
        "report": report,
    });
    println!("{markdown}\n");
    let text = serde_json::to_string_pretty(&document)?;
    println!("{text}");
    if let Some(path) = &common.json {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    drop(temporary);
    Ok(code)
}

fn closed_markdown(report: &ClosedReport) -> String {
    let mut markdown = PhaseReport::TABLE_HEADER.to_string();
    for phase in &report.phases {
        markdown.push('\n');
        markdown.push_str(&phase.markdown_row());
    }
    if let Some(ratios) = &report.ratios {
        markdown.push_str("\n\n");
        markdown.push_str(&ratios.line());
    }
    markdown
}

/// The smoke check's verdict, said on stderr: every run of every system must have ended with
/// the expected answer, the fake model must have refused no request, and the history of the
/// sampled runs must have been read.
fn smoke_verdict(report: &ClosedReport, runs: usize) -> ExitCode {
    let mut code = ExitCode::SUCCESS;
    let mut verdicts = Vec::new();
    for phase in &report.phases {
        verdicts.push(format!(
            "{}: {}/{} runs ended with the expected answer",
            phase.system, phase.outcome.succeeded, phase.runs
        ));
        if phase.outcome.failed > 0 || phase.outcome.succeeded != runs {
            code = ExitCode::FAILURE;
            for example in &phase.outcome.failure_examples {
                eprintln!("smoke: {}: {example}", phase.system);
            }
        }
        if phase.history.mean.is_none() || !phase.history.errors.is_empty() {
            code = ExitCode::FAILURE;
            verdicts.push(format!(
                "{}: the runs' Temporal histories could not be read ({})",
                phase.system,
                phase.history.errors.join("; ")
            ));
        }
    }
    if report.llm_rejected > 0 {
        code = ExitCode::FAILURE;
        verdicts.push(format!(
            "the fake model refused {} malformed requests",
            report.llm_rejected
        ));
    }
    let verdict = if code == ExitCode::SUCCESS {
        "smoke: ok"
    } else {
        "smoke: FAILED"
    };
    eprintln!("{verdict}: {}", verdicts.join("; "));
    code
}

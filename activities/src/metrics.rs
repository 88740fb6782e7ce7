//! The worker's Prometheus metrics, named and described once. Labels are providers, models,
//! tools, statuses and tiers, never tenant ids.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

pub const RUNS_FINISHED_TOTAL: &str = "longrun_runs_finished_total";
pub const LLM_CALL_DURATION_SECONDS: &str = "longrun_llm_call_duration_seconds";
pub const LLM_TOKENS_TOTAL: &str = "longrun_llm_tokens_total";
pub const LLM_ERRORS_TOTAL: &str = "longrun_llm_errors_total";
pub const TOOL_CALL_DURATION_SECONDS: &str = "longrun_tool_call_duration_seconds";
pub const TOOL_ERRORS_TOTAL: &str = "longrun_tool_errors_total";
pub const LEDGER_WRITES_TOTAL: &str = "longrun_ledger_writes_total";
pub const LEDGER_WRITE_FAILURES_TOTAL: &str = "longrun_ledger_write_failures_total";
pub const UNPRICED_USAGE_TOTAL: &str = "longrun_unpriced_usage_total";
pub const EVENTS_PUBLISHED_TOTAL: &str = "longrun_events_published_total";
pub const COST_MICRO_USD_TOTAL: &str = "longrun_cost_micro_usd_total";

#[derive(Clone)]
pub struct ActivityMetrics {
    pub(crate) runs_finished: IntCounterVec,
    pub(crate) llm_duration: HistogramVec,
    pub(crate) llm_tokens: IntCounterVec,
    pub(crate) llm_errors: IntCounterVec,
    pub(crate) tool_duration: HistogramVec,
    pub(crate) tool_errors: IntCounterVec,
    pub(crate) ledger_writes: IntCounterVec,
    pub(crate) ledger_failures: IntCounterVec,
    pub(crate) unpriced: IntCounterVec,
    pub(crate) events: IntCounterVec,
    pub(crate) cost: IntCounterVec,
}

fn counter(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(counter.clone()))?;
    Ok(counter)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<HistogramVec, prometheus::Error> {
    let histogram = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(vec![
            0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
        ]),
        labels,
    )?;
    registry.register(Box::new(histogram.clone()))?;
    Ok(histogram)
}

/// What a tool is called in metric labels: a built-in tool's name (a closed set), or
/// `webhook` or `mcp` for a workspace's own tools, whose names tenants choose.
pub(crate) fn tool_label(tool: &longrun_workflows::payloads::ToolSpec) -> &str {
    match tool.kind {
        longrun_workflows::payloads::ToolKind::Builtin => tool.name.as_str(),
        longrun_workflows::payloads::ToolKind::Webhook => "webhook",
        longrun_workflows::payloads::ToolKind::Client => "client",
        longrun_workflows::payloads::ToolKind::Mcp => "mcp",
    }
}

impl ActivityMetrics {
    /// Creates the worker's metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        Ok(Self {
            runs_finished: counter(
                registry,
                RUNS_FINISHED_TOTAL,
                "Runs finished, by status and tier.",
                &["status", "tier"],
            )?,
            llm_duration: histogram(
                registry,
                LLM_CALL_DURATION_SECONDS,
                "Model call latency in seconds, by provider and model.",
                &["provider", "model"],
            )?,
            llm_tokens: counter(
                registry,
                LLM_TOKENS_TOTAL,
                "Tokens of model calls, by provider, model and kind.",
                &["provider", "model", "kind"],
            )?,
            llm_errors: counter(
                registry,
                LLM_ERRORS_TOTAL,
                "Failed model calls, by provider, model and class.",
                &["provider", "model", "class"],
            )?,
            tool_duration: histogram(
                registry,
                TOOL_CALL_DURATION_SECONDS,
                "Tool call latency in seconds, by tool.",
                &["tool"],
            )?,
            tool_errors: counter(
                registry,
                TOOL_ERRORS_TOTAL,
                "Tool calls that returned an error result, by tool.",
                &["tool"],
            )?,
            ledger_writes: counter(
                registry,
                LEDGER_WRITES_TOTAL,
                "Ledger rows written (recorded) or found already there (duplicate), by kind.",
                &["kind", "outcome"],
            )?,
            ledger_failures: counter(
                registry,
                LEDGER_WRITE_FAILURES_TOTAL,
                "Ledger writes that failed (the activity retries).",
                &["kind"],
            )?,
            unpriced: counter(
                registry,
                UNPRICED_USAGE_TOTAL,
                "Billable units with no price in the price table (billed at 0), by kind and model.",
                &["kind", "model"],
            )?,
            events: counter(
                registry,
                EVENTS_PUBLISHED_TOTAL,
                "Run events written, by kind.",
                &["kind"],
            )?,
            cost: counter(
                registry,
                COST_MICRO_USD_TOTAL,
                "Cost recorded in the ledger, micro-USD, by tier.",
                &["tier"],
            )?,
        })
    }

    /// Metrics in a registry of their own: for tests and tools that do not serve them.
    pub fn unregistered() -> Self {
        // Registration only fails on duplicate names, which a fresh registry cannot have.
        Self::register(&Registry::new()).expect("a fresh registry accepts every metric")
    }
}

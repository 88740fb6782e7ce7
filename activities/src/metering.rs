//! Metering: the ledger rows of each billable unit, priced by the table in effect when the
//! unit occurred, and written with the rest of the unit's step (see
//! `longrun_store::StepWrite`) by the activity that did the work. Keys are
//! `<workflow id>/<temporal run id>/<step>/<unit>`, so a retried or replayed activity finds its
//! rows already there and adds nothing.

use longrun_store::{LedgerOutcome, NewUsageEvent, StoreError, UsageKind, UsageTotals};
use longrun_workflows::payloads::{LlmRequest, RunRef, TokenUsage, ToolRequest};

use crate::metrics::ActivityMetrics;
use crate::prices::{Cost, Prices, TokenCounts};

pub(crate) struct Meter {
    prices: Prices,
    metrics: ActivityMetrics,
}

/// The cost of one model turn: its tokens, and the agent time it took.
pub(crate) struct TurnCost {
    pub(crate) tokens: Cost,
    pub(crate) time: Cost,
}

impl TurnCost {
    pub(crate) fn total(&self) -> u64 {
        (self.tokens.micro_usd + self.time.micro_usd).max(0) as u64
    }
}

/// A unit's two ledger rows (the work, and the agent time it took), owned until they are
/// written with the unit's step.
pub(crate) struct UnitLedger {
    work_key: String,
    time_key: String,
    kind: UsageKind,
    provider: Option<&'static str>,
    model: Option<String>,
    tool_name: Option<String>,
    work: UsageTotals,
    work_price: Option<String>,
    time: UsageTotals,
    time_price: Option<String>,
    step: u32,
    occurred_at: i64,
}

impl UnitLedger {
    /// The rows, as the store writes them.
    pub(crate) fn rows<'a>(&'a self, run: &'a RunRef) -> [NewUsageEvent<'a>; 2] {
        let row =
            |key: &'a str, kind, totals: UsageTotals, price: &'a Option<String>| NewUsageEvent {
                idempotency_key: key,
                workspace_id: &run.workspace_id,
                run_id: &run.run_id,
                agent_name: &run.agent_name,
                step: i64::from(self.step),
                kind,
                provider: self.provider,
                model: self.model.as_deref(),
                tool_name: self.tool_name.as_deref(),
                totals,
                price_version: price.as_deref(),
                occurred_at: self.occurred_at,
            };
        [
            row(&self.work_key, self.kind, self.work, &self.work_price),
            row(
                &self.time_key,
                UsageKind::AgentTime,
                self.time,
                &self.time_price,
            ),
        ]
    }
}

fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Meter {
    pub(crate) fn new(prices: Prices, metrics: ActivityMetrics) -> Self {
        Self { prices, metrics }
    }

    /// The price of a model turn that happened at `occurred_at`.
    pub(crate) fn price_turn(
        &self,
        model: &str,
        usage: &TokenUsage,
        agent_ms: i64,
        occurred_at: i64,
    ) -> TurnCost {
        let counts = TokenCounts {
            input: tokens(usage.input_tokens),
            output: tokens(usage.output_tokens),
            cache_read: tokens(usage.cache_read_tokens),
            cache_write: tokens(usage.cache_write_tokens),
        };
        TurnCost {
            tokens: self.prices.llm(model, counts, occurred_at),
            time: self.prices.agent_time(agent_ms, occurred_at),
        }
    }

    /// One model turn: its tokens, and the time it took.
    pub(crate) fn llm(
        &self,
        request: &LlmRequest,
        usage: &TokenUsage,
        agent_ms: i64,
        occurred_at: i64,
    ) -> UnitLedger {
        let (provider, model) = match longrun_domain::ModelRef::split(&request.model) {
            Ok(model) => (model.provider.as_str(), model.name.to_string()),
            Err(_) => ("unknown", "unknown".to_string()),
        };
        let cost = self.price_turn(&request.model, usage, agent_ms, occurred_at);
        if cost.tokens.version.is_none() {
            self.metrics
                .unpriced
                .with_label_values(&["llm", self.prices.model_label(&request.model)])
                .inc();
        }
        self.unpriced_time(&cost.time, agent_ms);
        UnitLedger {
            work_key: request.execution.ledger_key(request.step, "llm"),
            time_key: request.execution.ledger_key(request.step, "agent_time:llm"),
            kind: UsageKind::Llm,
            provider: Some(provider),
            model: Some(model),
            tool_name: None,
            work: UsageTotals {
                input_tokens: tokens(usage.input_tokens),
                output_tokens: tokens(usage.output_tokens),
                cache_read_tokens: tokens(usage.cache_read_tokens),
                cache_write_tokens: tokens(usage.cache_write_tokens),
                cost_micro_usd: cost.tokens.micro_usd,
                ..UsageTotals::default()
            },
            work_price: cost.tokens.version,
            time: time_totals(agent_ms, &cost.time),
            time_price: cost.time.version,
            step: request.step,
            occurred_at,
        }
    }

    /// One tool call, and the time it took.
    pub(crate) fn tool(
        &self,
        request: &ToolRequest,
        agent_ms: i64,
        occurred_at: i64,
    ) -> UnitLedger {
        let unit = format!("tool:{}", request.call_index);
        let call_cost = self.prices.tool_call(&request.tool.name, occurred_at);
        let time_cost = self.prices.agent_time(agent_ms, occurred_at);
        if call_cost.version.is_none() {
            self.metrics
                .unpriced
                .with_label_values(&["tool", crate::metrics::tool_label(&request.tool)])
                .inc();
        }
        self.unpriced_time(&time_cost, agent_ms);
        UnitLedger {
            work_key: request.execution.ledger_key(request.step, &unit),
            time_key: request
                .execution
                .ledger_key(request.step, &format!("agent_time:{unit}")),
            kind: UsageKind::Tool,
            provider: None,
            model: None,
            tool_name: Some(request.tool.name.clone()),
            work: UsageTotals {
                tool_calls: 1,
                cost_micro_usd: call_cost.micro_usd,
                ..UsageTotals::default()
            },
            work_price: call_cost.version,
            time: time_totals(agent_ms, &time_cost),
            time_price: time_cost.version,
            step: request.step,
            occurred_at,
        }
    }

    fn unpriced_time(&self, cost: &Cost, agent_ms: i64) {
        if cost.version.is_none() && agent_ms > 0 {
            self.metrics
                .unpriced
                .with_label_values(&["agent_time", ""])
                .inc();
        }
    }

    /// Counts what writing a unit's rows did: rows recorded (and their cost) or found, or the
    /// failure.
    pub(crate) fn observe(
        &self,
        run: &RunRef,
        rows: &[NewUsageEvent<'_>],
        outcome: Result<&[LedgerOutcome], &StoreError>,
    ) {
        match outcome {
            Ok(outcomes) => {
                for (row, outcome) in rows.iter().zip(outcomes) {
                    let label = match outcome {
                        LedgerOutcome::Recorded => {
                            self.metrics
                                .cost
                                .with_label_values(&[run.tier.as_str()])
                                .inc_by(row.totals.cost_micro_usd.max(0) as u64);
                            "recorded"
                        }
                        LedgerOutcome::Duplicate => "duplicate",
                    };
                    self.metrics
                        .ledger_writes
                        .with_label_values(&[row.kind.as_str(), label])
                        .inc();
                }
            }
            Err(_) => {
                for row in rows {
                    self.metrics
                        .ledger_failures
                        .with_label_values(&[row.kind.as_str()])
                        .inc();
                }
            }
        }
    }
}

fn time_totals(agent_ms: i64, cost: &Cost) -> UsageTotals {
    UsageTotals {
        agent_ms,
        cost_micro_usd: cost.micro_usd,
        ..UsageTotals::default()
    }
}

//! Metering: the ledger rows of each billable unit, written by the activity that did the work,
//! priced by the table in effect when the unit occurred. Keys are
//! `<workflow id>/<temporal run id>/<step>/<unit>`, so a retried or replayed activity finds its
//! rows already there and adds nothing.

use longrun_store::{LedgerOutcome, NewUsageEvent, Store, StoreError, UsageKind, UsageTotals};
use longrun_workflows::payloads::{LlmRequest, RunRef, TokenUsage, ToolRequest};

use crate::metrics::ActivityMetrics;
use crate::prices::{Cost, Prices, TokenCounts};

pub(crate) struct Meter {
    store: Store,
    prices: Prices,
    metrics: ActivityMetrics,
}

/// A ledger row with everything but the unit-specific fields filled in.
fn row<'a>(
    run: &'a RunRef,
    key: &'a str,
    step: u32,
    kind: UsageKind,
    occurred_at: i64,
) -> NewUsageEvent<'a> {
    NewUsageEvent {
        idempotency_key: key,
        workspace_id: &run.workspace_id,
        run_id: &run.run_id,
        agent_name: &run.agent_name,
        step: i64::from(step),
        kind,
        provider: None,
        model: None,
        tool_name: None,
        totals: UsageTotals::default(),
        price_version: None,
        occurred_at,
    }
}

/// The agent-time row of a unit: how long its activity ran, and that time's price.
fn time_row<'a>(
    run: &'a RunRef,
    key: &'a str,
    step: u32,
    agent_ms: i64,
    cost: &'a Cost,
    occurred_at: i64,
) -> NewUsageEvent<'a> {
    NewUsageEvent {
        totals: UsageTotals {
            agent_ms,
            cost_micro_usd: cost.micro_usd,
            ..UsageTotals::default()
        },
        price_version: cost.version.as_deref(),
        ..row(run, key, step, UsageKind::AgentTime, occurred_at)
    }
}

fn tokens(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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

impl Meter {
    pub(crate) fn new(store: Store, prices: Prices, metrics: ActivityMetrics) -> Self {
        Self {
            store,
            prices,
            metrics,
        }
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
    pub(crate) async fn llm(
        &self,
        request: &LlmRequest,
        usage: &TokenUsage,
        agent_ms: i64,
        occurred_at: i64,
    ) -> Result<(), StoreError> {
        let (provider, model) = longrun_domain::ModelRef::split(&request.model)
            .map(|model| (model.provider.as_str(), model.name))
            .unwrap_or(("unknown", "unknown"));
        let cost = self.price_turn(&request.model, usage, agent_ms, occurred_at);
        let llm_key = request.execution.ledger_key(request.step, "llm");
        let time_key = request.execution.ledger_key(request.step, "agent_time:llm");
        let llm = NewUsageEvent {
            provider: Some(provider),
            model: Some(model),
            totals: UsageTotals {
                input_tokens: tokens(usage.input_tokens),
                output_tokens: tokens(usage.output_tokens),
                cache_read_tokens: tokens(usage.cache_read_tokens),
                cache_write_tokens: tokens(usage.cache_write_tokens),
                cost_micro_usd: cost.tokens.micro_usd,
                ..UsageTotals::default()
            },
            price_version: cost.tokens.version.as_deref(),
            ..row(
                &request.run,
                &llm_key,
                request.step,
                UsageKind::Llm,
                occurred_at,
            )
        };
        let time = NewUsageEvent {
            provider: Some(provider),
            model: Some(model),
            ..time_row(
                &request.run,
                &time_key,
                request.step,
                agent_ms,
                &cost.time,
                occurred_at,
            )
        };
        if cost.tokens.version.is_none() {
            self.metrics
                .unpriced
                .with_label_values(&["llm", self.prices.model_label(&request.model)])
                .inc();
        }
        if cost.time.version.is_none() && agent_ms > 0 {
            self.metrics
                .unpriced
                .with_label_values(&["agent_time", ""])
                .inc();
        }
        self.record(&request.run, &[llm, time]).await
    }

    /// One tool call, and the time it took.
    pub(crate) async fn tool(
        &self,
        request: &ToolRequest,
        agent_ms: i64,
        occurred_at: i64,
    ) -> Result<(), StoreError> {
        let unit = format!("tool:{}", request.call_index);
        let tool_key = request.execution.ledger_key(request.step, &unit);
        let time_key = request
            .execution
            .ledger_key(request.step, &format!("agent_time:{unit}"));
        let call_cost = self.prices.tool_call(&request.tool.name, occurred_at);
        let time_cost = self.prices.agent_time(agent_ms, occurred_at);
        if call_cost.version.is_none() {
            self.metrics
                .unpriced
                .with_label_values(&["tool", crate::metrics::tool_label(&request.tool)])
                .inc();
        }
        let tool = NewUsageEvent {
            tool_name: Some(&request.tool.name),
            totals: UsageTotals {
                tool_calls: 1,
                cost_micro_usd: call_cost.micro_usd,
                ..UsageTotals::default()
            },
            price_version: call_cost.version.as_deref(),
            ..row(
                &request.run,
                &tool_key,
                request.step,
                UsageKind::Tool,
                occurred_at,
            )
        };
        let time = NewUsageEvent {
            tool_name: Some(&request.tool.name),
            ..time_row(
                &request.run,
                &time_key,
                request.step,
                agent_ms,
                &time_cost,
                occurred_at,
            )
        };
        self.record(&request.run, &[tool, time]).await
    }

    async fn record(&self, run: &RunRef, rows: &[NewUsageEvent<'_>]) -> Result<(), StoreError> {
        match self.store.record_usage(rows).await {
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
                Ok(())
            }
            Err(err) => {
                for row in rows {
                    self.metrics
                        .ledger_failures
                        .with_label_values(&[row.kind.as_str()])
                        .inc();
                }
                Err(err)
            }
        }
    }
}

//! The agent-run activities: everything `AgentRunWorkflow` asks of the world. Each one is
//! idempotent under retry: messages, ledger rows and events carry keys made of the run, the
//! execution, the step and the unit, so a second attempt writes nothing new, and a model turn
//! whose answer was already stored is not paid for twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use longrun_store::{LiveEvent, NewEvent, NewMessage, RunFinish, Store, StoredMessage, now_ms};
use longrun_workflows::contracts;
use longrun_workflows::payloads::{
    ContentBlock, EventRequest, FinishRunRequest, LlmRequest, LlmResponse, Message, Role, RunRef,
    RunStatus, StartRunRequest, StopReason, TokenUsage, ToolKind, ToolOutcome, ToolRequest,
    WebhookRequest,
};

use crate::enforcement;
use crate::errors::{from_store, non_retryable, retryable};
use crate::metering::Meter;
use crate::metrics::ActivityMetrics;
use crate::models::{ModelError, ModelRouter, ProviderError, ToolDeclaration, Turn};
use crate::prices::Prices;
use crate::quota::Tiers;
use crate::tools::{self, http_fetch::HttpFetchSettings};

/// What the activities need besides the store and the models.
#[derive(Debug, Clone)]
pub struct ActivitySettings {
    /// `http_fetch` and webhook targets: caps and the operator's allowlist.
    pub http_fetch: HttpFetchSettings,
    /// Root of the workspaces' file sandboxes (`<data dir>/workspaces`).
    pub sandboxes: PathBuf,
    /// How long a webhook tool call may take.
    pub webhook_timeout: Duration,
    /// Tier limits, for the hard cap and usage alerts.
    pub tiers: Tiers,
    /// What billable units cost.
    pub prices: Prices,
    /// Test knob: fail each model and tool activity's first attempt right after its ledger
    /// rows committed, to prove retries neither bill twice nor lose a row.
    pub fail_first_attempt_after_metering: bool,
}

impl ActivitySettings {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            http_fetch: HttpFetchSettings::default(),
            sandboxes: data_dir.join("workspaces"),
            webhook_timeout: Duration::from_secs(30),
            tiers: Tiers::default(),
            prices: Prices::default(),
            fail_first_attempt_after_metering: false,
        }
    }
}

/// The activities' shared dependencies: passed in, never global.
pub struct AgentActivities {
    store: Store,
    models: ModelRouter,
    settings: ActivitySettings,
    /// Client for tool and webhook calls: it refuses private addresses unless allowlisted.
    guarded_http: reqwest::Client,
    meter: Meter,
    metrics: ActivityMetrics,
}

impl AgentActivities {
    pub fn new(
        store: Store,
        models: ModelRouter,
        settings: ActivitySettings,
        metrics: ActivityMetrics,
    ) -> Result<Self, reqwest::Error> {
        let guarded_http = tools::http_fetch::guarded_client(&settings.http_fetch)?;
        Ok(Self {
            meter: Meter::new(store.clone(), settings.prices.clone(), metrics.clone()),
            store,
            models,
            settings,
            guarded_http,
            metrics,
        })
    }

    /// The test knob of [`ActivitySettings::fail_first_attempt_after_metering`].
    fn injected_fault(&self, ctx: &ActivityContext) -> Result<(), ActivityError> {
        if self.settings.fail_first_attempt_after_metering && ctx.info().attempt == 1 {
            return Err(retryable(
                "injected_fault",
                "a fault injected after metering (test)",
                None,
            ));
        }
        Ok(())
    }

    async fn event(
        &self,
        run: &RunRef,
        kind: &str,
        dedupe_key: &str,
        data: Value,
    ) -> Result<(), ActivityError> {
        self.store
            .append_event(NewEvent {
                workspace_id: &run.workspace_id,
                run_id: &run.run_id,
                kind,
                dedupe_key,
                data: &data.to_string(),
            })
            .await
            .map_err(from_store)?;
        self.metrics.events.with_label_values(&[kind]).inc();
        Ok(())
    }
}

fn elapsed_ms(since: Instant) -> i64 {
    i64::try_from(since.elapsed().as_millis()).unwrap_or(i64::MAX)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Assistant => "assistant",
    }
}

/// What is stored beside a model turn's message, so a retry can return it without calling
/// the provider again.
#[derive(serde::Serialize, serde::Deserialize)]
struct TurnMeta {
    stop_reason: StopReason,
    usage: TokenUsage,
    cost_micro_usd: u64,
    agent_ms: i64,
    /// When the call ended (epoch ms): its ledger rows' time, and the price table's date.
    #[serde(default)]
    occurred_at: i64,
}

fn parse_message(stored: &StoredMessage) -> Result<Message, ActivityError> {
    let role = match stored.role.as_str() {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(non_retryable(
                "conversation_corrupt",
                format!("message {} has role {other:?}", stored.seq),
            ));
        }
    };
    let content: Vec<ContentBlock> = serde_json::from_str(&stored.content).map_err(|e| {
        non_retryable(
            "conversation_corrupt",
            format!("message {} is unreadable: {e}", stored.seq),
        )
    })?;
    Ok(Message { role, content })
}

/// Collects streamed text and publishes it in pieces of a reasonable size and pace: one
/// live event per token would flood subscribers and, on Postgres, the NOTIFY channel.
struct DeltaBatcher<'a> {
    store: &'a Store,
    run: &'a RunRef,
    step: u32,
    buffer: String,
    last_flush: Instant,
}

impl DeltaBatcher<'_> {
    const MAX_BYTES: usize = 512;
    const MAX_WAIT: Duration = Duration::from_millis(100);

    fn push(&mut self, text: &str) {
        self.buffer.push_str(text);
        if self.buffer.len() >= Self::MAX_BYTES || self.last_flush.elapsed() >= Self::MAX_WAIT {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.buffer.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.buffer);
        self.store.publish_ephemeral(LiveEvent {
            workspace_id: self.run.workspace_id.clone(),
            run_id: self.run.run_id.clone(),
            seq: None,
            kind: "llm.delta".into(),
            data: json!({ "step": self.step, "text": text }).to_string(),
        });
    }
}

/// Runs `work` while heartbeating every `every` (when non-zero), and gives up when Temporal
/// delivers a cancellation: dropping `work` drops its connections, so the other side sees it.
async fn heartbeating<T>(
    ctx: &ActivityContext,
    every: Duration,
    work: impl std::future::Future<Output = T>,
) -> Result<T, ActivityError> {
    tokio::pin!(work);
    if every.is_zero() {
        return Ok(work.await);
    }
    let mut ticks = tokio::time::interval(every);
    loop {
        tokio::select! {
            done = &mut work => return Ok(done),
            _ = ticks.tick() => {
                // Failing to send one heartbeat is not fatal; a dead worker is what the
                // heartbeat timeout is for.
                let _ = ctx.record_heartbeat(()).await;
            }
            _ = ctx.cancelled() => return Err(ActivityError::cancelled()),
        }
    }
}

/// The heartbeat pace for a heartbeat timeout: several beats per timeout.
fn beat_every(timeout: Option<Duration>) -> Duration {
    timeout
        .map(|t| (t / 4).clamp(Duration::from_millis(100), Duration::from_secs(10)))
        .unwrap_or(Duration::ZERO)
}

#[activities]
impl AgentActivities {
    #[activity(definition = contracts::StartRun)]
    #[tracing::instrument(name = "activity", skip_all, fields(
        kind = %"start_run",
        run_id = %request.run.run_id,
        workspace = %request.run.workspace_slug,
        request_id = request.run.request_id.as_deref().unwrap_or_default(),
    ))]
    pub async fn start_run(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: StartRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        self.store
            .set_run_status(
                &run.workspace_id,
                &run.run_id,
                RunStatus::Running.as_str(),
                0,
            )
            .await
            .map_err(from_store)?;
        self.event(
            run,
            "run.started",
            "run.started",
            json!({ "agent": run.agent_name, "workflow_id": request.execution.workflow_id }),
        )
        .await
    }

    #[activity(definition = contracts::LlmCall)]
    #[tracing::instrument(name = "activity", skip_all, fields(
        kind = %"llm_call",
        run_id = %request.run.run_id,
        workspace = %request.run.workspace_slug,
        request_id = request.run.request_id.as_deref().unwrap_or_default(),
    ))]
    pub async fn llm_call(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: LlmRequest,
    ) -> Result<LlmResponse, ActivityError> {
        let run = &request.run;
        let fresh: Vec<(i64, &'static str, String)> = request
            .new_messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let content = serde_json::to_string(&m.content).unwrap_or_default();
                (
                    i64::from(request.first_seq) + i as i64,
                    role_name(m.role),
                    content,
                )
            })
            .collect();
        let fresh: Vec<NewMessage<'_>> = fresh
            .iter()
            .map(|(seq, role, content)| NewMessage {
                seq: *seq,
                role,
                content,
                meta: None,
            })
            .collect();
        self.store
            .put_messages(&run.workspace_id, &run.run_id, &fresh)
            .await
            .map_err(from_store)?;

        let answer_seq = i64::from(request.response_seq);
        let (response, agent_ms, occurred_at) = match self
            .store
            .message_at(&run.workspace_id, &run.run_id, answer_seq)
            .await
            .map_err(from_store)?
        {
            // An earlier attempt got the answer and stored it, then failed to report it.
            Some(stored) => stored_turn(&stored)?,
            None => {
                let standing = enforcement::standing(&self.store, &self.settings.tiers, run)
                    .await
                    .map_err(from_store)?;
                if let Some(pause) = standing.as_ref().and_then(enforcement::over_hard_cap) {
                    // Nothing is spent over the hard cap: the workflow pauses the run.
                    return Ok(LlmResponse {
                        content: Vec::new(),
                        stop_reason: StopReason::EndTurn,
                        usage: TokenUsage::default(),
                        cost_micro_usd: 0,
                        paused: Some(pause),
                    });
                }
                let (mut response, agent_ms) = self.call_model(&ctx, &request).await?;
                let occurred_at = now_ms();
                response.cost_micro_usd = self
                    .meter
                    .price_turn(&request.model, &response.usage, agent_ms, occurred_at)
                    .total();
                let meta = TurnMeta {
                    stop_reason: response.stop_reason,
                    usage: response.usage,
                    cost_micro_usd: response.cost_micro_usd,
                    agent_ms,
                    occurred_at,
                };
                let content = serde_json::to_string(&response.content).unwrap_or_default();
                let meta = serde_json::to_string(&meta).unwrap_or_default();
                self.store
                    .put_messages(
                        &run.workspace_id,
                        &run.run_id,
                        &[NewMessage {
                            seq: answer_seq,
                            role: "assistant",
                            content: &content,
                            meta: Some(&meta),
                        }],
                    )
                    .await
                    .map_err(from_store)?;
                // A concurrent attempt may have stored its answer first: the stored one wins.
                match self
                    .store
                    .message_at(&run.workspace_id, &run.run_id, answer_seq)
                    .await
                    .map_err(from_store)?
                {
                    Some(stored) => stored_turn(&stored)?,
                    None => (response, agent_ms, occurred_at),
                }
            }
        };
        self.meter
            .llm(&request, &response.usage, agent_ms, occurred_at)
            .await
            .map_err(from_store)?;
        self.injected_fault(&ctx)?;
        if let Some(standing) = enforcement::standing(&self.store, &self.settings.tiers, run)
            .await
            .map_err(from_store)?
        {
            enforcement::raise_alerts(
                &self.store,
                &self.guarded_http,
                &self.settings.http_fetch,
                run,
                &standing,
            )
            .await
            .map_err(from_store)?;
        }
        self.event(
            run,
            "llm.completed",
            &format!("step-{}/llm.completed", request.step),
            json!({
                "step": request.step,
                "content": response.content,
                "stop_reason": response.stop_reason,
                "usage": response.usage,
            }),
        )
        .await?;
        Ok(response)
    }

    #[activity(definition = contracts::RunTool)]
    #[tracing::instrument(name = "activity", skip_all, fields(
        kind = %"run_tool",
        run_id = %request.run.run_id,
        workspace = %request.run.workspace_slug,
        request_id = request.run.request_id.as_deref().unwrap_or_default(),
    ))]
    pub async fn run_tool(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: ToolRequest,
    ) -> Result<ToolOutcome, ActivityError> {
        let unit = format!("step-{}/tool-{}", request.step, request.call_index);
        self.event(
            &request.run,
            "tool.started",
            &format!("{unit}/started"),
            json!({
                "step": request.step,
                "tool_call_id": request.call_id,
                "tool": request.tool.name,
                "input": request.input,
            }),
        )
        .await?;
        let started = Instant::now();
        let every = if request.heartbeat_s == 0 {
            Duration::ZERO
        } else {
            beat_every(Some(Duration::from_secs(request.heartbeat_s)))
        };
        let outcome = heartbeating(&ctx, every, self.dispatch_tool(&request)).await?;
        let outcome = ToolOutcome {
            content: tools::cap_output(outcome.content),
            is_error: outcome.is_error,
        };
        let agent_ms = elapsed_ms(started);
        let tool_label = crate::metrics::tool_label(&request.tool);
        self.metrics
            .tool_duration
            .with_label_values(&[tool_label])
            .observe(started.elapsed().as_secs_f64());
        if outcome.is_error {
            self.metrics
                .tool_errors
                .with_label_values(&[tool_label])
                .inc();
        }
        // A retried tool call meters under the same keys; its time is that of the attempt
        // that first committed.
        self.meter
            .tool(&request, agent_ms, now_ms())
            .await
            .map_err(from_store)?;
        self.injected_fault(&ctx)?;
        self.event(
            &request.run,
            "tool.completed",
            &format!("{unit}/completed"),
            json!({
                "step": request.step,
                "tool_call_id": request.call_id,
                "tool": request.tool.name,
                "content": outcome.content,
                "is_error": outcome.is_error,
            }),
        )
        .await?;
        Ok(outcome)
    }

    #[activity(definition = contracts::RecordEvent)]
    #[tracing::instrument(name = "activity", skip_all, fields(
        kind = %"record_event",
        run_id = %request.run.run_id,
        workspace = %request.run.workspace_slug,
        request_id = request.run.request_id.as_deref().unwrap_or_default(),
    ))]
    pub async fn record_event(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: EventRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        if let Some(status) = request.status {
            self.store
                .set_run_status(
                    &run.workspace_id,
                    &run.run_id,
                    status.as_str(),
                    i64::from(request.step),
                )
                .await
                .map_err(from_store)?;
        }
        self.event(run, &request.kind, &request.dedupe_key, request.data)
            .await
    }

    #[activity(definition = contracts::FinishRun)]
    #[tracing::instrument(name = "activity", skip_all, fields(
        kind = %"finish_run",
        run_id = %request.run.run_id,
        workspace = %request.run.workspace_slug,
        request_id = request.run.request_id.as_deref().unwrap_or_default(),
    ))]
    pub async fn finish_run(
        self: Arc<Self>,
        _ctx: ActivityContext,
        request: FinishRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        let outcome = &request.outcome;
        let error = outcome.error.as_ref();
        self.store
            .finish_run(
                &run.workspace_id,
                &run.run_id,
                RunFinish {
                    status: outcome.status.as_str(),
                    result: outcome.result.as_deref(),
                    error_code: error.map(|e| e.code.as_str()),
                    error_message: error.map(|e| e.message.as_str()),
                    step: i64::from(outcome.steps),
                },
            )
            .await
            .map_err(from_store)
            .map(|finished| {
                if finished {
                    self.metrics
                        .runs_finished
                        .with_label_values(&[outcome.status.as_str(), run.tier.as_str()])
                        .inc();
                }
            })?;
        self.event(
            run,
            "run.completed",
            "run.completed",
            json!({
                "status": outcome.status,
                "result": outcome.result,
                "error": error,
                "steps": outcome.steps,
                "usage": outcome.usage,
            }),
        )
        .await
    }

    #[activity(definition = contracts::RollupDay)]
    pub async fn rollup_day(
        self: Arc<Self>,
        _ctx: ActivityContext,
        day_start_ms: i64,
    ) -> Result<i64, ActivityError> {
        self.store
            .rollup_day(day_start_ms)
            .await
            .map_err(|err| match err {
                longrun_store::StoreError::Corrupt(message) => {
                    non_retryable("invalid_day", message)
                }
                other => from_store(other),
            })
    }

    #[activity(definition = contracts::DeliverWebhook)]
    #[tracing::instrument(name = "activity", skip_all, fields(
        kind = %"deliver_webhook",
        run_id = %request.run.run_id,
        workspace = %request.run.workspace_slug,
        request_id = request.run.request_id.as_deref().unwrap_or_default(),
    ))]
    pub async fn deliver_webhook(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: WebhookRequest,
    ) -> Result<(), ActivityError> {
        crate::delivery::deliver_run(
            &self.store,
            &self.guarded_http,
            &self.settings.http_fetch,
            &request,
            ctx.info().attempt,
        )
        .await
    }
}

/// A stored model turn, as the activity returns it, with its time and when it happened.
fn stored_turn(stored: &StoredMessage) -> Result<(LlmResponse, i64, i64), ActivityError> {
    let message = parse_message(stored)?;
    let meta: TurnMeta = stored
        .meta
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| {
            non_retryable(
                "conversation_corrupt",
                format!("message {} has no turn metadata", stored.seq),
            )
        })?;
    Ok((
        LlmResponse {
            content: message.content,
            stop_reason: meta.stop_reason,
            usage: meta.usage,
            cost_micro_usd: meta.cost_micro_usd,
            paused: None,
        },
        meta.agent_ms,
        meta.occurred_at,
    ))
}

impl AgentActivities {
    /// Calls the model over the stored conversation, streaming deltas, heartbeating, and
    /// classing failures for the retry policy.
    async fn call_model(
        &self,
        ctx: &ActivityContext,
        request: &LlmRequest,
    ) -> Result<(LlmResponse, i64), ActivityError> {
        let run = &request.run;
        let stored = self
            .store
            .messages_before(
                &run.workspace_id,
                &run.run_id,
                i64::from(request.response_seq),
            )
            .await
            .map_err(from_store)?;
        if stored.len() != request.response_seq as usize
            || stored.iter().enumerate().any(|(i, m)| m.seq != i as i64)
        {
            return Err(non_retryable(
                "conversation_corrupt",
                format!(
                    "expected messages 0..{} of run {}, found {}",
                    request.response_seq,
                    run.run_id,
                    stored.len()
                ),
            ));
        }
        let messages = stored
            .iter()
            .map(parse_message)
            .collect::<Result<Vec<_>, _>>()?;
        let declarations: Vec<ToolDeclaration> =
            request.tools.iter().map(tools::declaration).collect();
        let mut batcher = DeltaBatcher {
            store: &self.store,
            run,
            step: request.step,
            buffer: String::new(),
            last_flush: Instant::now(),
        };
        let started = Instant::now();
        let every = beat_every(ctx.info().heartbeat_timeout);
        let result = {
            let mut on_delta = |text: &str| batcher.push(text);
            let turn = Turn {
                model: &request.model,
                system: &request.system,
                messages: &messages,
                tools: &declarations,
                max_tokens: request.max_output_tokens,
                step: request.step,
            };
            let call = self.models.complete(&turn, &mut on_delta);
            heartbeating(ctx, every, call).await?
        };
        batcher.flush();
        let agent_ms = elapsed_ms(started);
        // The provider is one of a closed set; the model name only when the operator's price
        // table names it (see `Prices::model_label`).
        let (provider, model) = match crate::models::split_model(&request.model) {
            Ok((provider, name)) => match self.settings.prices.model_label(&request.model) {
                "other" => (provider, "other"),
                _ => (provider, name),
            },
            Err(_) => ("unknown", "unknown"),
        };
        self.metrics
            .llm_duration
            .with_label_values(&[provider, model])
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(response) => {
                let usage = &response.usage;
                for (kind, n) in [
                    ("input", usage.input_tokens),
                    ("output", usage.output_tokens),
                    ("cache_read", usage.cache_read_tokens),
                    ("cache_write", usage.cache_write_tokens),
                ] {
                    self.metrics
                        .llm_tokens
                        .with_label_values(&[provider, model, kind])
                        .inc_by(n);
                }
                Ok((response, agent_ms))
            }
            Err(err) => {
                let class = match &err {
                    ModelError::Provider(ProviderError::Retryable { .. }) => "retryable",
                    ModelError::Provider(ProviderError::Rejected { .. }) => "rejected",
                    ModelError::Provider(ProviderError::BadResponse { .. }) => "bad_response",
                    _ => "not_configured",
                };
                self.metrics
                    .llm_errors
                    .with_label_values(&[provider, model, class])
                    .inc();
                Err(self.model_failure(request, err).await)
            }
        }
    }

    /// Classes a model failure: transient ones retry (after the provider's `retry-after`),
    /// the provider's refusals and unreadable answers do not.
    async fn model_failure(&self, request: &LlmRequest, err: ModelError) -> ActivityError {
        match err {
            ModelError::NotConfigured(_) => {
                non_retryable("provider_not_configured", err.to_string())
            }
            ModelError::Provider(ProviderError::Retryable {
                message,
                retry_after,
            }) => {
                tracing::warn!(step = request.step, %message, "model call failed; it will be retried");
                retryable("provider_unavailable", message, retry_after)
            }
            ModelError::Provider(ProviderError::Rejected { status, message }) => non_retryable(
                "provider_rejected",
                format!("the provider rejected the request ({status}): {message}"),
            ),
            ModelError::Provider(ProviderError::BadResponse { reason, excerpt }) => {
                // The excerpt goes to the run's events, where the client can see what came.
                let recorded = self
                    .event(
                        &request.run,
                        "llm.error",
                        &format!("step-{}/llm.error", request.step),
                        json!({ "step": request.step, "reason": reason, "excerpt": excerpt }),
                    )
                    .await;
                if let Err(err) = recorded {
                    return err;
                }
                non_retryable(
                    "provider_bad_response",
                    format!("the provider's answer could not be read: {reason}"),
                )
            }
            other => non_retryable("invalid_model", other.to_string()),
        }
    }

    async fn dispatch_tool(&self, request: &ToolRequest) -> ToolOutcome {
        let tool = &request.tool;
        match tool.kind {
            ToolKind::Webhook => self.webhook_tool(request).await,
            ToolKind::Builtin => match tool.name.as_str() {
                "http_fetch" => {
                    tools::http_fetch::run(&self.settings.http_fetch, &request.input).await
                }
                "read_file" | "write_file" | "list_files" => {
                    let root = self
                        .settings
                        .sandboxes
                        .join(&request.run.workspace_id)
                        .join("files");
                    let sandbox = match tools::files::Sandbox::new(root) {
                        Ok(sandbox) => sandbox,
                        Err(err) => {
                            tracing::error!(error = %err, "cannot prepare the workspace sandbox");
                            return ToolOutcome {
                                content: "the workspace's file area is unavailable".into(),
                                is_error: true,
                            };
                        }
                    };
                    match tool.name.as_str() {
                        "read_file" => tools::files::read_file(&sandbox, &request.input).await,
                        "write_file" => tools::files::write_file(&sandbox, &request.input).await,
                        _ => tools::files::list_files(&sandbox, &request.input).await,
                    }
                }
                name => tools::run_builtin(name, &request.input).unwrap_or_else(|| ToolOutcome {
                    content: format!("tool {name:?} is not available on this worker"),
                    is_error: true,
                }),
            },
        }
    }

    /// A webhook tool: its URL and secret come from the agent as stored now (secrets never
    /// travel through workflow history).
    async fn webhook_tool(&self, request: &ToolRequest) -> ToolOutcome {
        let run = &request.run;
        let agent = match self.store.agent(&run.workspace_id, &run.agent_name).await {
            Ok(Some(agent)) => agent,
            Ok(None) => {
                return ToolOutcome {
                    content: "the agent of this run no longer exists".into(),
                    is_error: true,
                };
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the agent for a webhook tool");
                return ToolOutcome {
                    content: "the tool is unavailable right now".into(),
                    is_error: true,
                };
            }
        };
        let declared: Vec<Value> = serde_json::from_str(&agent.tools).unwrap_or_default();
        let stored = declared
            .iter()
            .find(|t| t["name"].as_str() == Some(request.tool.name.as_str()));
        let Some(url) = stored
            .and_then(|t| t["url"].as_str())
            .or(request.tool.url.as_deref())
        else {
            return ToolOutcome {
                content: format!("webhook tool {:?} has no URL", request.tool.name),
                is_error: true,
            };
        };
        // IP literals never reach the guarded client's resolver: check the URL first.
        if let Err(refused) = tools::http_fetch::check_url(&self.settings.http_fetch, url) {
            return ToolOutcome {
                content: refused.to_string(),
                is_error: true,
            };
        }
        // The model's input must match the schema the tool declared (checked when the agent
        // was saved): a mismatch goes back to the model as an error result, never out.
        let schema = stored
            .and_then(|t| t.get("input_schema"))
            .cloned()
            .or_else(|| request.tool.input_schema.clone())
            .unwrap_or_else(|| json!({"type": "object"}));
        let checked = longrun_store::ToolSchema::compile(&schema)
            .map_err(|problem| format!("the tool's input_schema is invalid: {problem}"))
            .and_then(|compiled| {
                compiled.validate(&request.input).map_err(|problem| {
                    format!("the input does not match the tool's input_schema: {problem}")
                })
            });
        if let Err(content) = checked {
            return ToolOutcome {
                content,
                is_error: true,
            };
        }
        let secret = stored.and_then(|t| t["secret"].as_str());
        let message_id = format!("{}-{}", run.run_id, request.call_id);
        tools::webhook::call(
            &self.guarded_http,
            url,
            secret,
            &message_id,
            &request.input,
            self.settings.webhook_timeout,
            tools::MAX_OUTPUT_BYTES,
        )
        .await
    }
}

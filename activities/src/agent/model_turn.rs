//! One model turn: the conversation stored, the provider called (streaming its text live,
//! heartbeating), the answer stored before it is billed, metered, alerts raised, and the
//! `llm.completed` event recorded. A retry finds a stored answer and does not pay again.

use std::time::{Duration, Instant};

use serde_json::json;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use longrun_domain::{EventKind, RunStatus};
use longrun_store::{
    LiveEvent, NewMessage, RunStart, StepOutcome, StepWrite, Store, StoredMessage, now_ms,
};
use longrun_workflows::payloads::{
    ContentBlock, LlmRequest, LlmResponse, Message, Role, RunRef, StopReason, TokenUsage,
};

use super::{AgentActivities, OwnedEvent, beat_every, carried, elapsed_ms, guarded};
use crate::enforcement;
use crate::errors::{from_store, non_retryable, retryable};
use crate::models::{ModelError, ProviderCall, ProviderError, ToolDeclaration};
use crate::tools;

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
            kind: EventKind::LlmDelta,
            data: json!({ "step": self.step, "text": text }).to_string(),
        });
    }
}

/// The conversation the model is given: the stored messages before the turn's new ones
/// (exactly `0..first_seq`), then those.
fn conversation(
    request: &LlmRequest,
    stored: &[StoredMessage],
) -> Result<Vec<Message>, ActivityError> {
    if stored.len() != request.first_seq as usize
        || stored.iter().enumerate().any(|(i, m)| m.seq != i as i64)
    {
        return Err(non_retryable(
            "conversation_corrupt",
            format!(
                "expected messages 0..{} of run {}, found {}",
                request.first_seq,
                request.run.run_id,
                stored.len()
            ),
        ));
    }
    let mut messages = stored
        .iter()
        .map(parse_message)
        .collect::<Result<Vec<_>, _>>()?;
    messages.extend(request.new_messages.iter().cloned());
    Ok(messages)
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
            output: None,
        },
        meta.agent_ms,
        meta.occurred_at,
    ))
}

/// A turn's answer, paid for but not yet written (the store was away): kept in the heartbeat
/// details, so the next attempt writes it instead of calling the provider again.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct TurnCarry {
    step: u32,
    response: LlmResponse,
    agent_ms: i64,
    occurred_at: i64,
}

impl AgentActivities {
    pub(super) async fn model_turn(
        &self,
        ctx: &ActivityContext,
        request: &LlmRequest,
    ) -> Result<LlmResponse, ActivityError> {
        let run = &request.run;
        let carried = carried::<TurnCarry>(ctx).filter(|carry| carry.step == request.step);
        if let Some(carry) = carried {
            // The previous attempt got the answer, and the store was away when it wrote it.
            return self
                .write_turn(
                    ctx,
                    request,
                    carry.response,
                    carry.agent_ms,
                    carry.occurred_at,
                )
                .await;
        }
        let started = OwnedEvent::new(
            EventKind::RunStarted,
            EventKind::RunStarted.as_str(),
            &json!({"agent": run.agent_name, "workflow_id": request.execution.workflow_id}),
        );
        let start = request.starts_run.then(|| RunStart {
            event: started.as_step(),
        });
        let tiers = &self.settings.tiers;
        let read = self
            .store
            .read_turn(
                &run.workspace_id,
                &run.run_id,
                i64::from(request.first_seq),
                i64::from(request.response_seq),
                start,
                |workspace| enforcement::quota_period(tiers, workspace),
            )
            .await
            .map_err(from_store)?;
        if let Some(stored) = &read.answer {
            // An earlier attempt got the answer and committed its whole step (the answer, its
            // ledger rows, its event), then failed to report it.
            return Ok(stored_turn(stored)?.0);
        }
        let standing = enforcement::Standing::of(tiers, read.workspace, read.used);
        if let Some(pause) = standing.as_ref().and_then(enforcement::over_hard_cap) {
            // Nothing is spent over the hard cap: the workflow pauses the run.
            return Ok(LlmResponse {
                content: Vec::new(),
                stop_reason: StopReason::EndTurn,
                usage: TokenUsage::default(),
                cost_micro_usd: 0,
                paused: Some(pause),
                output: None,
            });
        }
        let messages = conversation(request, &read.conversation)?;
        let (mut response, agent_ms) = self.call_model(ctx, request, &messages).await?;
        let occurred_at = now_ms();
        response.cost_micro_usd = self
            .meter
            .price_turn(&request.model, &response.usage, agent_ms, occurred_at)
            .total();
        let response = self
            .write_turn(ctx, request, response, agent_ms, occurred_at)
            .await?;
        self.injected_fault(ctx)?;
        if let Some(standing) = standing {
            let ledger = self
                .meter
                .llm(request, &response.usage, agent_ms, occurred_at);
            self.alerts(run, standing, &ledger).await;
        }
        Ok(response)
    }

    /// Writes the turn's step: the messages new to it, the answer, its ledger rows, the run's
    /// totals and `llm.completed`, in one transaction. When an attempt that raced this one
    /// committed first, its answer is the turn's.
    async fn write_turn(
        &self,
        ctx: &ActivityContext,
        request: &LlmRequest,
        response: LlmResponse,
        agent_ms: i64,
        occurred_at: i64,
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
        let meta = serde_json::to_string(&TurnMeta {
            stop_reason: response.stop_reason,
            usage: response.usage,
            cost_micro_usd: response.cost_micro_usd,
            agent_ms,
            occurred_at,
        })
        .unwrap_or_default();
        let content = serde_json::to_string(&response.content).unwrap_or_default();
        let ledger = self
            .meter
            .llm(request, &response.usage, agent_ms, occurred_at);
        let rows = ledger.rows(run);
        let completed = OwnedEvent::new(
            EventKind::LlmCompleted,
            format!("step-{}/llm.completed", request.step),
            &json!({
                "step": request.step,
                "content": response.content,
                "stop_reason": response.stop_reason,
                "usage": response.usage,
            }),
        );
        let events = [completed.as_step()];
        let write = StepWrite {
            messages: &fresh,
            answer: Some(NewMessage {
                seq: i64::from(request.response_seq),
                role: "assistant",
                content: &content,
                meta: Some(&meta),
            }),
            usage: &rows,
            status: Some((RunStatus::Running, i64::from(request.step))),
            finish: None,
            events: &events,
        };
        let carry = TurnCarry {
            step: request.step,
            response: response.clone(),
            agent_ms,
            occurred_at,
        };
        let cap = Duration::from_secs(request.retry_cap_s.max(1));
        match self
            .write_done_step(ctx, run, &write, &rows, &carry, cap)
            .await?
        {
            StepOutcome::Written { .. } => Ok(response),
            StepOutcome::AlreadyWritten {
                answer: Some(stored),
            } => Ok(stored_turn(&stored)?.0),
            StepOutcome::AlreadyWritten { answer: None } => Err(non_retryable(
                "conversation_corrupt",
                format!("the answer of step {} vanished", request.step),
            )),
        }
    }

    /// Calls the model over the stored conversation, streaming deltas, heartbeating, and
    /// classing failures for the retry policy.
    async fn call_model(
        &self,
        ctx: &ActivityContext,
        request: &LlmRequest,
        messages: &[Message],
    ) -> Result<(LlmResponse, i64), ActivityError> {
        let run = &request.run;
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
        let mut in_flight = self.cancels.register(&run.run_id);
        let result = {
            let mut on_delta = |text: &str| batcher.push(text);
            let turn = ProviderCall {
                model: &request.model,
                system: &request.system,
                messages,
                tools: &declarations,
                max_tokens: request.max_output_tokens,
                output_schema: request.output_schema.as_ref(),
            };
            let call = self.models.complete(&turn, request.step, &mut on_delta);
            guarded(ctx, Some(&mut in_flight), every, call).await?
        };
        batcher.flush();
        let agent_ms = elapsed_ms(started);
        // The provider is one of a closed set; the model name only when the operator's price
        // table names it (see `Prices::model_label`).
        let (provider, model) = match longrun_domain::ModelRef::split(&request.model) {
            Ok(model) => match self.settings.prices.model_label(&request.model) {
                "other" => (model.provider.as_str(), "other"),
                _ => (model.provider.as_str(), model.name),
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
                Err(self.model_failure(ctx, request, err).await)
            }
        }
    }

    /// A provider outage (429, 5xx, a timeout, a dropped stream): waited out, visibly (the
    /// run moves to `waiting_provider` with a `provider.retrying` event), until the agent's
    /// tolerance runs out from the step's first attempt; then the run fails. Retries are not
    /// billed: nothing was.
    async fn provider_outage(
        &self,
        ctx: &ActivityContext,
        request: &LlmRequest,
        message: String,
        retry_after: Option<Duration>,
    ) -> ActivityError {
        let info = ctx.info();
        let Some(tolerance) = request.provider_outage_tolerance_s else {
            // Runs started before tolerances: the retry policy's attempts bound the tries.
            tracing::warn!(step = request.step, %message, "model call failed; it will be retried");
            return retryable("provider_unavailable", message, retry_after);
        };
        let failing_for = info
            .scheduled_time
            .and_then(|first| std::time::SystemTime::now().duration_since(first).ok())
            .unwrap_or_default();
        if failing_for >= Duration::from_secs(tolerance) {
            return non_retryable(
                "provider_unavailable",
                format!(
                    "the provider has failed for {} s, longer than the agent waits ({tolerance} s): \
                     {message}",
                    failing_for.as_secs()
                ),
            );
        }
        let wait = retry_after.unwrap_or_else(|| {
            super::backoff(
                info.attempt,
                Duration::from_secs(request.retry_cap_s.max(1)),
            )
        });
        tracing::warn!(step = request.step, attempt = info.attempt, %message, retry_in = ?wait, "the provider failed; the call will be tried again");
        let retrying = OwnedEvent::new(
            EventKind::ProviderRetrying,
            format!("step-{}/provider.retrying/{}", request.step, info.attempt),
            &json!({
                "step": request.step,
                "attempt": info.attempt,
                "error": message,
                "retry_in_s": wait.as_secs_f64(),
                "failing_for_s": failing_for.as_secs(),
                "tolerance_s": tolerance,
            }),
        );
        let events = [retrying.as_step()];
        let write = StepWrite {
            status: Some((RunStatus::WaitingProvider, i64::from(request.step))),
            events: &events,
            ..StepWrite::default()
        };
        // Best effort: the retry does not depend on the run showing it.
        if let Err(err) = self.write_step(&request.run, &write, &[]).await {
            tracing::warn!(error = ?err, "cannot record that the run waits for its provider");
        }
        retryable("provider_unavailable", message, Some(wait))
    }

    /// Classes a model failure: transient ones retry (after the provider's `retry-after`),
    /// the provider's refusals and unreadable answers do not.
    async fn model_failure(
        &self,
        ctx: &ActivityContext,
        request: &LlmRequest,
        err: ModelError,
    ) -> ActivityError {
        match err {
            ModelError::NotConfigured(_) => {
                non_retryable("provider_not_configured", err.to_string())
            }
            ModelError::Provider(ProviderError::Retryable {
                message,
                retry_after,
            }) => {
                self.provider_outage(ctx, request, message, retry_after)
                    .await
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
                        EventKind::LlmError,
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
}

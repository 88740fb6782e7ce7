//! The dispatcher: what the API asks of Temporal, made durable. Admission commits a run with
//! what its workflow starts with and answers at once; the dispatcher starts the workflow,
//! retrying with capped backoff while Temporal does not answer. Signals, approvals,
//! cancellations and messages that Temporal could not take at once wait in the store and are
//! delivered in order when it answers. So a Temporal outage delays runs, and never refuses or
//! loses them; and admission's latency no longer follows Temporal's.
//!
//! Every API process runs one ([`Dispatcher::run`]). Work is claimed with a lease in the store
//! (`longrun_store::PendingStart`), so dispatchers share it; a start twice is harmless (the
//! workflow id is the run's), a command twice too (each carries what makes it idempotent).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use longrun_store::{PendingCommand, PendingStart, Store, now_ms};
use longrun_workflows::payloads::{ApprovalDecision, ClientToolResult, HumanMessage, RunInput};

use crate::error::ApiError;
use crate::scheduler::{Scheduler, StartPlan};

/// How long a claim keeps other dispatchers away: longer than a start or a delivery takes.
pub(crate) const LEASE: Duration = Duration::from_secs(30);

/// How many starts or commands one pass takes.
const BATCH: i64 = 32;

/// What a queued run's workflow starts with (`runs.dispatch`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StartRequest {
    pub(crate) plan: StartPlan,
    pub(crate) input: RunInput,
}

/// A command for a run's workflow, as queued (`run_commands`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Command {
    Message { message: HumanMessage },
    Approval { decision: ApprovalDecision },
    ToolResult { result: ClientToolResult },
    Cancel,
    Complete,
    Resume,
}

impl Command {
    fn kind(&self) -> &'static str {
        match self {
            Command::Message { .. } => "message",
            Command::Approval { .. } => "approval",
            Command::ToolResult { .. } => "tool_result",
            Command::Cancel => "cancel",
            Command::Complete => "complete",
            Command::Resume => "resume",
        }
    }
}

/// What became of a command handed to [`Dispatcher::command`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Sent {
    /// The workflow has it (for an approval: whether it took the decision as an approval).
    Delivered { approved: Option<bool> },
    /// Temporal did not answer, or the run waits for its start or behind earlier commands:
    /// it is stored and delivered in order when Temporal answers.
    Queued,
}

/// Tuning of the retries (tests shorten them).
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// Longest wait between two tries of one start or command.
    pub retry_cap: Duration,
    /// How often the dispatcher looks for due work when nothing wakes it.
    pub poll: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            retry_cap: Duration::from_secs(30),
            poll: Duration::from_secs(1),
        }
    }
}

/// The dispatcher's handle: cheap to clone, shared by the API's handlers.
#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    scheduler: Arc<Scheduler>,
    wake: Arc<Notify>,
    settings: DispatchSettings,
}

impl Dispatcher {
    pub fn new(store: Store, scheduler: Arc<Scheduler>, settings: DispatchSettings) -> Self {
        Self {
            store,
            scheduler,
            wake: Arc::new(Notify::new()),
            settings,
        }
    }

    /// Tries a newly admitted run's start at once, off the request's path (its start request
    /// is queued with the row, under this process's lease: any dispatcher takes it after).
    pub(crate) fn try_now(
        &self,
        workspace_id: &str,
        run_id: &str,
        workflow_id: &str,
        dispatch: &str,
    ) {
        let pending = PendingStart {
            run_id: run_id.to_string(),
            workspace_id: workspace_id.to_string(),
            workflow_id: workflow_id.to_string(),
            dispatch: dispatch.to_string(),
            attempts: 1,
        };
        let this = self.clone();
        tokio::spawn(async move { this.try_start(&pending).await });
    }

    /// Sends a command to a started run's workflow now, or queues it (see [`Sent`]).
    pub(crate) async fn command(
        &self,
        workspace_id: &str,
        run_id: &str,
        workflow_id: &str,
        command: Command,
    ) -> Result<Sent, ApiError> {
        let waits = !self.store.is_started(workspace_id, run_id).await?
            || self.store.has_queued_commands(workspace_id, run_id).await?;
        if !waits {
            match self.send(workflow_id, &command).await {
                Ok(sent) => return Ok(sent),
                Err(ApiError::SchedulerUnavailable) => {}
                Err(err) => return Err(err),
            }
        }
        let payload =
            serde_json::to_string(&command).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.store
            .queue_command(workspace_id, run_id, command.kind(), &payload)
            .await?;
        self.wake.notify_one();
        Ok(Sent::Queued)
    }

    async fn send(&self, workflow_id: &str, command: &Command) -> Result<Sent, ApiError> {
        let scheduler = &self.scheduler;
        let approved = match command {
            Command::Message { message } => {
                scheduler.send_message(workflow_id, message.clone()).await?;
                None
            }
            Command::Approval { decision } => {
                Some(scheduler.decide(workflow_id, decision.clone()).await?)
            }
            Command::ToolResult { result } => {
                scheduler.tool_result(workflow_id, result.clone()).await?;
                None
            }
            Command::Cancel => {
                scheduler.cancel(workflow_id).await?;
                None
            }
            Command::Complete => {
                scheduler.complete(workflow_id).await?;
                None
            }
            Command::Resume => {
                scheduler.resume(workflow_id).await?;
                None
            }
        };
        Ok(Sent::Delivered { approved })
    }

    /// Starts a claimed run; on failure, backs off (capped) and says why.
    async fn try_start(&self, pending: &PendingStart) {
        let request: StartRequest = match serde_json::from_str(&pending.dispatch) {
            Ok(request) => request,
            Err(err) => {
                // Not retryable: left pending with the reason, for an operator to see.
                tracing::error!(run = %pending.run_id, error = %err, "unreadable start request");
                self.defer(
                    pending,
                    Duration::from_secs(3600),
                    "unreadable start request",
                )
                .await;
                return;
            }
        };
        let started = self
            .scheduler
            .start_run(&pending.workflow_id, &request.plan, request.input)
            .await;
        match started {
            Ok(()) => match self
                .store
                .mark_started(&pending.workspace_id, &pending.run_id)
                .await
            {
                Ok(true) => {}
                // Cancelled before it started: the workflow just started goes too.
                Ok(false) => {
                    if let Err(err) = self.scheduler.cancel(&pending.workflow_id).await {
                        tracing::warn!(run = %pending.run_id, error = %err, "cannot cancel a withdrawn run's workflow");
                    }
                }
                // The lease runs out and another pass starts it again, harmlessly.
                Err(err) => {
                    tracing::warn!(run = %pending.run_id, error = %err, "cannot mark a run started")
                }
            },
            Err(err) => {
                let wait = backoff(pending.attempts, self.settings.retry_cap);
                tracing::warn!(run = %pending.run_id, error = %err, retry_in = ?wait, "cannot start a run's workflow yet");
                self.defer(pending, wait, err.code()).await;
            }
        }
    }

    async fn defer(&self, pending: &PendingStart, wait: Duration, reason: &str) {
        let retry_at = now_ms() + wait.as_millis() as i64;
        if let Err(err) = self
            .store
            .defer_start(&pending.workspace_id, &pending.run_id, retry_at, reason)
            .await
        {
            tracing::warn!(run = %pending.run_id, error = %err, "cannot defer a run's start");
        }
    }

    /// Delivers a claimed command; on failure, backs off (capped).
    async fn deliver(&self, command: &PendingCommand) {
        let parsed: Command = match serde_json::from_str(&command.payload) {
            Ok(parsed) => parsed,
            Err(err) => {
                let outcome = format!("unreadable: {err}");
                self.delivered(command, Some(&outcome)).await;
                return;
            }
        };
        match self.send(&command.workflow_id, &parsed).await {
            Ok(Sent::Delivered {
                approved: Some(false),
            }) => {
                self.delivered(command, Some("not approved")).await;
            }
            Ok(_) => self.delivered(command, None).await,
            Err(ApiError::SchedulerUnavailable) => {
                let wait = backoff(command.attempts, self.settings.retry_cap);
                let retry_at = now_ms() + wait.as_millis() as i64;
                if let Err(err) = self
                    .store
                    .defer_command(&command.workspace_id, &command.id, retry_at)
                    .await
                {
                    tracing::warn!(command = %command.id, error = %err, "cannot defer a command");
                }
            }
            // The workflow refused it (the run ended, or no such tool call waits): recorded
            // as its outcome, never retried.
            Err(err) => {
                let outcome = format!("refused: {}", err.code());
                self.delivered(command, Some(&outcome)).await;
            }
        }
    }

    async fn delivered(&self, command: &PendingCommand, outcome: Option<&str>) {
        if let Err(err) = self
            .store
            .command_delivered(&command.workspace_id, &command.id, outcome)
            .await
        {
            tracing::warn!(command = %command.id, error = %err, "cannot mark a command delivered");
        }
    }

    /// One pass: the due starts, then the due commands; whether there was work.
    async fn pass(&self) -> bool {
        let lease = LEASE.as_millis() as i64;
        let starts = claimed(self.store.claim_starts(BATCH, lease).await, "starts");
        for pending in &starts {
            self.try_start(pending).await;
        }
        let commands = claimed(self.store.claim_commands(BATCH, lease).await, "commands");
        for command in &commands {
            self.deliver(command).await;
        }
        !(starts.is_empty() && commands.is_empty())
    }

    /// Dispatches until `stop` is set: a pass whenever a handler queues work, and every
    /// `poll` for work that came due (a retry, another process's claim that ran out).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            let busy = self.pass().await;
            if busy {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
                _ = async { let _ = stop.wait_for(|stop| *stop).await; } => return,
            }
        }
    }
}

/// What a claim returned, or nothing when the store failed (logged): the next pass claims
/// again.
fn claimed<T>(claim: longrun_store::Result<Vec<T>>, what: &str) -> Vec<T> {
    claim.unwrap_or_else(|err| {
        tracing::warn!(error = %err, "dispatcher: cannot claim {what}");
        Vec::new()
    })
}

/// The wait before try `attempts + 1`: doubling from half a second, capped.
fn backoff(attempts: i64, cap: Duration) -> Duration {
    let exponent = attempts.clamp(1, 16) as u32 - 1;
    (Duration::from_millis(500) * 2u32.pow(exponent)).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let cap = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=8)
            .map(|n| backoff(n, cap).as_millis() as u64)
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
        assert_eq!(backoff(1_000, cap), cap);
    }
}

//! Starting runs on Temporal. The client connects lazily, so the API serves (and answers 503
//! `scheduler_unavailable` for submissions) while Temporal is down, and recovers by itself.

use std::time::Duration;

use temporalio_client::errors::{
    WorkflowInteractionError, WorkflowStartError, WorkflowUpdateError,
};
use temporalio_client::{
    Client, Priority, WorkflowCancelOptions, WorkflowExecuteUpdateOptions, WorkflowHandle,
    WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::search_attributes::SearchAttributes;
use temporalio_common::{HasWorkflowDefinition, MemoValues, SignalDefinition, UpdateDefinition};
use tokio::sync::OnceCell;

use longrun_temporal::TemporalSettings;
use longrun_workflows::payloads::{
    ApprovalDecision, ClientToolResult, HumanMessage, McpDiscoveryOutcome, McpDiscoveryRequest,
    RunInput, WorkflowShape,
};
use longrun_workflows::search;
use longrun_workflows::{AgentRunWorkflow, McpDiscoveryWorkflow};

use crate::error::ApiError;
use longrun_domain::Limits;

/// How long a submission waits for Temporal before answering 503.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// An update waits for a worker to run the handler: allow for a busy one.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(30);

/// `future`'s output, or 503 `scheduler_unavailable` when Temporal takes longer than `limit`.
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> Result<T, ApiError> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| ApiError::SchedulerUnavailable)
}

/// Maps the outcome of a signal or cancel: a closed workflow is a finished run.
fn interaction(
    outcome: Result<Result<(), WorkflowInteractionError>, tokio::time::error::Elapsed>,
) -> Result<(), ApiError> {
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(WorkflowInteractionError::NotFound(_))) => Err(ApiError::run_finished("closed")),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "workflow interaction failed");
            Err(ApiError::SchedulerUnavailable)
        }
        Err(_) => Err(ApiError::SchedulerUnavailable),
    }
}

/// How a run's workflow is started: its tier's priority, fairness weight and longest run,
/// fixed at admission (and kept with a run that waits for its start).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StartPlan {
    pub priority: u32,
    pub fairness_weight: f32,
    pub max_run_s: u64,
}

impl StartPlan {
    pub fn of(limits: &Limits) -> Self {
        Self {
            priority: limits.priority,
            fairness_weight: limits.fairness_weight,
            max_run_s: limits.max_run_s,
        }
    }
}

pub struct Scheduler {
    temporal: TemporalSettings,
    task_queue: String,
    ui_url: String,
    client: OnceCell<Client>,
}

impl Scheduler {
    pub fn new(temporal: TemporalSettings, task_queue: String, ui_url: String) -> Self {
        Self {
            temporal,
            task_queue,
            ui_url: ui_url.trim_end_matches('/').to_string(),
            client: OnceCell::new(),
        }
    }

    /// A scheduler around an already connected client.
    pub fn with_client(
        client: Client,
        temporal: TemporalSettings,
        task_queue: String,
        ui_url: String,
    ) -> Self {
        let scheduler = Self::new(temporal, task_queue, ui_url);
        // A fresh cell cannot be full, so this cannot fail.
        let _ = scheduler.client.set(client);
        scheduler
    }

    pub fn namespace(&self) -> &str {
        &self.temporal.namespace
    }

    /// The run's page in the Temporal UI.
    pub fn ui_link(&self, workflow_id: &str) -> String {
        format!(
            "{}/namespaces/{}/workflows/{}",
            self.ui_url, self.temporal.namespace, workflow_id
        )
    }

    pub async fn client(&self) -> Result<Client, ApiError> {
        self.client
            .get_or_try_init(|| async {
                longrun_temporal::connect(&self.temporal, "longrun-api").await
            })
            .await
            .cloned()
            .map_err(|err| {
                tracing::warn!(error = %err, "Temporal is unreachable");
                ApiError::SchedulerUnavailable
            })
    }

    /// Starts the run's workflow. Starting one that already exists (a retried submission) is
    /// success: the conflict policy returns the running execution and the reuse policy never
    /// starts a second one after it closed.
    pub async fn start_run(
        &self,
        workflow_id: &str,
        limits: &StartPlan,
        input: RunInput,
    ) -> Result<(), ApiError> {
        let attributes = SearchAttributes::new([
            search::WORKSPACE.value_set(input.run.workspace_slug.clone()),
            search::AGENT.value_set(input.run.agent_name.clone()),
            search::TIER.value_set(input.run.tier.clone()),
            // Running from its start: the first model turn records `run.started` (and the
            // workflow does not spend a task and a history event saying so).
            search::STATUS.value_set(initial_status(&input).to_string()),
        ]);
        let summary = format!(
            "agent {} · workspace {}",
            input.run.agent_name, input.run.workspace_slug
        );
        let priority = Priority::builder()
            .priority_key(limits.priority)
            .fairness_key(input.run.workspace_id.clone())
            .fairness_weight(limits.fairness_weight)
            .build();
        // Shown in the Temporal UI beside the run: what it may spend, and on what model.
        let mut memo = MemoValues::new();
        memo.insert("model", input.agent.model.clone());
        if let Some(request_id) = &input.run.request_id {
            memo.insert("request_id", request_id.clone());
        }
        memo.insert(
            "budget",
            serde_json::to_value(&input.budget).unwrap_or(serde_json::Value::Null),
        );
        let options = WorkflowStartOptions::new(self.task_queue.clone(), workflow_id.to_string())
            .memo(memo)
            .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
            .id_reuse_policy(WorkflowIdReusePolicy::RejectDuplicate)
            .execution_timeout(Duration::from_secs(limits.max_run_s))
            .search_attributes(attributes)
            .static_summary(summary)
            .priority(priority)
            .build();
        match self.start(AgentRunWorkflow::run, input, options).await? {
            Ok(_) | Err(WorkflowStartError::AlreadyStarted { .. }) => Ok(()),
            Err(WorkflowStartError::Rpc(status)) => {
                tracing::warn!(code = ?status.code(), message = status.message(), "workflow start failed");
                Err(ApiError::SchedulerUnavailable)
            }
            Err(other) => Err(ApiError::Internal(other.to_string())),
        }
    }

    /// Starts a workflow on the task queue, giving Temporal `START_TIMEOUT` to connect and as
    /// long again to take it; what it answers is the caller's to read.
    async fn start<W>(
        &self,
        workflow: W,
        input: W::Input,
        options: WorkflowStartOptions,
    ) -> Result<Result<WorkflowHandle<Client, W>, WorkflowStartError>, ApiError>
    where
        W: HasWorkflowDefinition,
        W::Input: Send,
    {
        let client = within(START_TIMEOUT, self.client()).await??;
        within(
            START_TIMEOUT,
            client.start_workflow(workflow, input, options),
        )
        .await
    }

    async fn handle(
        &self,
        workflow_id: &str,
    ) -> Result<temporalio_client::WorkflowHandle<Client, AgentRunWorkflow>, ApiError> {
        let client = within(START_TIMEOUT, self.client()).await??;
        Ok(client.get_workflow_handle::<AgentRunWorkflow>(workflow_id.to_string()))
    }

    /// Sends a signal to a run's workflow.
    async fn signal<S>(&self, workflow_id: &str, signal: S, input: S::Input) -> Result<(), ApiError>
    where
        S: SignalDefinition<Workflow = <AgentRunWorkflow as HasWorkflowDefinition>::Run>,
        S::Input: Send,
    {
        let handle = self.handle(workflow_id).await?;
        let sent = handle.signal(signal, input, WorkflowSignalOptions::default());
        interaction(tokio::time::timeout(START_TIMEOUT, sent).await)
    }

    /// Requests cancellation of a run's workflow.
    pub async fn cancel(&self, workflow_id: &str) -> Result<(), ApiError> {
        let handle = self.handle(workflow_id).await?;
        let options = WorkflowCancelOptions::builder()
            .reason("cancelled through the API".to_string())
            .build();
        interaction(tokio::time::timeout(START_TIMEOUT, handle.cancel(options)).await)
    }

    /// Signals human input to a run.
    pub async fn send_message(
        &self,
        workflow_id: &str,
        message: HumanMessage,
    ) -> Result<(), ApiError> {
        self.signal(workflow_id, AgentRunWorkflow::message, message)
            .await
    }

    /// Signals a run paused at the quota's hard cap to check again.
    pub async fn resume(&self, workflow_id: &str) -> Result<(), ApiError> {
        self.signal(workflow_id, AgentRunWorkflow::resume, ()).await
    }

    /// Signals a run waiting for input to end with the answer it has.
    pub async fn complete(&self, workflow_id: &str) -> Result<(), ApiError> {
        self.signal(workflow_id, AgentRunWorkflow::complete, ())
            .await
    }

    /// Delivers an approval decision (an update: the workflow's validator may refuse it).
    pub async fn decide(
        &self,
        workflow_id: &str,
        decision: ApprovalDecision,
    ) -> Result<bool, ApiError> {
        self.update(
            workflow_id,
            AgentRunWorkflow::decide,
            decision,
            "approval_conflict",
        )
        .await
    }

    /// Delivers a client tool's result (an update: the workflow's validator refuses unknown
    /// and already answered calls).
    pub async fn tool_result(
        &self,
        workflow_id: &str,
        result: ClientToolResult,
    ) -> Result<(), ApiError> {
        self.update(
            workflow_id,
            AgentRunWorkflow::tool_result,
            result,
            "tool_result_conflict",
        )
        .await
    }

    /// Runs an update; a refusal by its validator is a 409 with `conflict` as its code.
    async fn update<U>(
        &self,
        workflow_id: &str,
        update: U,
        input: U::Input,
        conflict: &'static str,
    ) -> Result<U::Output, ApiError>
    where
        U: UpdateDefinition<Workflow = <AgentRunWorkflow as HasWorkflowDefinition>::Run>,
        U::Input: Send,
        U::Output: 'static,
    {
        let handle = self.handle(workflow_id).await?;
        let outcome = within(
            UPDATE_TIMEOUT,
            handle.execute_update(update, input, WorkflowExecuteUpdateOptions::default()),
        )
        .await?;
        match outcome {
            Ok(output) => Ok(output),
            Err(WorkflowUpdateError::Failed(failure)) => Err(ApiError::Conflict {
                code: conflict,
                message: failure.message.clone(),
            }),
            Err(WorkflowUpdateError::NotFound(_)) => Err(ApiError::run_finished("closed")),
            Err(other) => {
                tracing::warn!(error = %other, code = conflict, "update failed");
                Err(ApiError::SchedulerUnavailable)
            }
        }
    }

    /// Discovers an MCP server's tools on a worker (the API itself talks to no MCP server)
    /// and waits for the outcome; the tools are stored with the server.
    pub async fn discover_mcp(
        &self,
        request: McpDiscoveryRequest,
    ) -> Result<McpDiscoveryOutcome, ApiError> {
        // A worker must pick it up and the server answer: the discovery's own time, plus room.
        let wait = Duration::from_secs(request.timeout_s) + START_TIMEOUT * 2;
        let workflow_id = format!(
            "mcp-discovery-{}-{}-{}",
            request.workspace_id,
            request.server,
            longrun_store::new_id("d")
        );
        let summary = format!("discover the tools of MCP server {}", request.server);
        let options = WorkflowStartOptions::new(self.task_queue.clone(), workflow_id)
            .execution_timeout(wait)
            .static_summary(summary)
            .build();
        let started = self
            .start(McpDiscoveryWorkflow::run, request, options)
            .await?
            .map_err(|err| {
                tracing::warn!(error = %err, "MCP discovery could not start");
                ApiError::SchedulerUnavailable
            })?;
        let outcome = within(wait, started.get_result(Default::default())).await?;
        outcome.map_err(|err| {
            tracing::warn!(error = %err, "MCP discovery failed");
            ApiError::SchedulerUnavailable
        })
    }

    /// Whether Temporal answers, for readiness probes.
    pub async fn ping(&self) -> Result<(), ApiError> {
        let client = within(START_TIMEOUT, self.client()).await??;
        within(
            START_TIMEOUT,
            client.count_workflows("", Default::default()),
        )
        .await?
        .map(|_| ())
        .map_err(|_| ApiError::SchedulerUnavailable)
    }
}

/// The status search attribute a run's workflow starts with: `running` for the shapes whose
/// workflow does not set it itself when it starts.
fn initial_status(input: &RunInput) -> &'static str {
    match WorkflowShape::of(input) {
        WorkflowShape::First => "queued",
        _ => "running",
    }
}

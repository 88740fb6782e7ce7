//! Every type that crosses the Temporal boundary: workflow input and output, activity inputs
//! and outputs, query results. These are a wire format stored in workflow histories, so a
//! change here is a compatibility decision: add fields with `#[serde(default)]`, never rename
//! or remove one while runs that carry it may still be replayed.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use longrun_domain::{Budget, EventKind, RunStatus};

/// Who a run belongs to: carried by every activity so that every store write is scoped to the
/// workspace and every ledger key names the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub run_id: String,
    pub workspace_id: String,
    pub workspace_slug: String,
    pub agent_name: String,
    pub tier: String,
    /// The `X-Request-Id` of the submission, so an activity's log lines can be joined to the
    /// API's. Absent in runs started before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The Temporal execution an activity runs for. Activity ids repeat across executions, so
/// idempotency keys are built from this plus our own step numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionRef {
    pub workflow_id: String,
    pub temporal_run_id: String,
}

impl ExecutionRef {
    /// `<workflow id>/<temporal run id>/<step>/<kind>`: the ledger's idempotency key.
    pub fn ledger_key(&self, step: u32, kind: &str) -> String {
        format!(
            "{}/{}/{}/{}",
            self.workflow_id, self.temporal_run_id, step, kind
        )
    }
}

/// Where a tool runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// One of longrun's own tools, by name.
    #[default]
    Builtin,
    /// A POST to the workspace's URL, signed with the tool's secret (kept in the store, never
    /// in workflow history).
    Webhook,
    /// Run by the API's client: the run waits (`requires_action`) for the result it posts.
    Client,
    /// A `tools/call` to one of the workspace's MCP servers (its URL and headers kept in the
    /// store, never in workflow history).
    Mcp,
}

/// A tool an agent may call. `requires_approval` gates each call on a human decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    #[serde(default)]
    pub requires_approval: bool,
    #[serde(default)]
    pub kind: ToolKind,
    /// Declared to the model (webhook tools; built-ins have their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the input (webhook tools; built-ins have their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// Webhook tools: where the call is POSTed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Client tools: how long the run waits for the result; `None`: the operator's default
    /// (`ActivityTuning::client_tool_timeout_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    /// MCP tools: the workspace's server (by name) the tool lives on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// MCP tools: the tool's name on its server (`name` is the model-facing one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_name: Option<String>,
    /// MCP tools: the hash of the tool's definition when the agent was saved; a call whose
    /// tool the server now defines otherwise is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition_hash: Option<String>,
}

impl ToolSpec {
    pub fn builtin(name: &str) -> Self {
        Self {
            name: name.to_string(),
            requires_approval: false,
            kind: ToolKind::Builtin,
            description: None,
            input_schema: None,
            url: None,
            timeout_s: None,
            server: None,
            remote_name: None,
            definition_hash: None,
        }
    }
}

/// The agent as it was when the run was submitted: later edits do not change a running run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    pub name: String,
    /// `provider/model-name`.
    pub model: String,
    pub system_prompt: String,
    pub tools: Vec<ToolSpec>,
    /// When the model ends its turn with a question, wait for a human answer.
    #[serde(default)]
    pub await_input: bool,
    /// Largest answer of one model turn, in tokens.
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u32,
    /// How long a model call waits out its provider's outage; `None`: the operator's default
    /// (`ActivityTuning::provider_outage_tolerance_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_outage_tolerance_s: Option<u64>,
    /// The final answer must be JSON valid for this schema (the run's own schema, when it
    /// set one, replaces the agent's at admission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// The same tool called with the same input this many times in a row gets an error
    /// result, once more ends the run `no_progress`; `None`: 3; 0: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_repeated_tool_calls: Option<u32>,
}

/// How many identical tool calls in a row an agent allows unless it says otherwise.
pub const DEFAULT_MAX_REPEATED_TOOL_CALLS: u32 = 3;

fn default_max_output_tokens() -> u32 {
    4096
}

/// Activity timeouts, retry limits and waits, decided by the operator's configuration and
/// carried in the input because workflow code may not read configuration itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityTuning {
    pub llm_timeout_s: u64,
    pub llm_max_attempts: u32,
    /// A model call that stops heartbeating this long is presumed dead (a crashed worker) and
    /// retried elsewhere; cancellation also reaches it through heartbeats.
    #[serde(default = "default_heartbeat_s")]
    pub llm_heartbeat_s: u64,
    pub tool_timeout_s: u64,
    #[serde(default = "default_heartbeat_s")]
    pub tool_heartbeat_s: u64,
    pub store_timeout_s: u64,
    /// How long a gated tool call waits for a decision before it is denied.
    #[serde(default = "default_approval_timeout_s")]
    pub approval_timeout_s: u64,
    /// How long a run waits for human input before it ends with the answer it has.
    #[serde(default = "default_input_timeout_s")]
    pub input_timeout_s: u64,
    /// Continue-as-new after this many steps in one execution (0: only when Temporal suggests).
    #[serde(default = "default_continue_as_new_every")]
    pub continue_as_new_every: u32,
    /// How long a completion webhook is retried.
    #[serde(default = "default_webhook_retry_s")]
    pub webhook_retry_s: u64,
    /// How often a run paused at the quota's hard cap checks again by itself (it also checks
    /// on a `resume` signal).
    #[serde(default = "default_quota_recheck_s")]
    pub quota_recheck_s: u64,
    /// Longest wait between two tries of a step that waits out an outage (store, provider).
    #[serde(default = "default_retry_cap_s")]
    pub retry_cap_s: u64,
    /// How long a model call waits out its provider's outage (429, 5xx, timeouts) before the
    /// run fails, unless its agent says otherwise; 0 fails at the first such error.
    #[serde(default = "default_provider_outage_tolerance_s")]
    pub provider_outage_tolerance_s: u64,
    /// How long a run waits for a client-executed tool's result before the model gets an
    /// error result instead.
    #[serde(default = "default_client_tool_timeout_s")]
    pub client_tool_timeout_s: u64,
}

fn default_client_tool_timeout_s() -> u64 {
    3600
}

fn default_retry_cap_s() -> u64 {
    60
}

fn default_provider_outage_tolerance_s() -> u64 {
    3600
}

fn default_quota_recheck_s() -> u64 {
    300
}

fn default_heartbeat_s() -> u64 {
    30
}
fn default_approval_timeout_s() -> u64 {
    24 * 3600
}
fn default_input_timeout_s() -> u64 {
    24 * 3600
}
fn default_continue_as_new_every() -> u32 {
    100
}
fn default_webhook_retry_s() -> u64 {
    24 * 3600
}

impl Default for ActivityTuning {
    fn default() -> Self {
        Self {
            llm_timeout_s: 300,
            llm_max_attempts: 10,
            llm_heartbeat_s: default_heartbeat_s(),
            tool_timeout_s: 60,
            tool_heartbeat_s: default_heartbeat_s(),
            store_timeout_s: 30,
            approval_timeout_s: default_approval_timeout_s(),
            input_timeout_s: default_input_timeout_s(),
            continue_as_new_every: default_continue_as_new_every(),
            webhook_retry_s: default_webhook_retry_s(),
            quota_recheck_s: default_quota_recheck_s(),
            retry_cap_s: default_retry_cap_s(),
            provider_outage_tolerance_s: default_provider_outage_tolerance_s(),
            client_tool_timeout_s: default_client_tool_timeout_s(),
        }
    }
}

/// Input of `AgentRunWorkflow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInput {
    pub run: RunRef,
    pub agent: AgentSnapshot,
    pub input: String,
    #[serde(default)]
    pub budget: Budget,
    #[serde(default)]
    pub tuning: ActivityTuning,
    /// Where to POST the finished run.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Set when this execution continues an earlier one (continue-as-new).
    #[serde(default)]
    pub resume: Option<ResumeState>,
    /// Which shape of the workflow runs this input: runs started before a shape existed
    /// carry 0 and keep the shape they began with, so their histories replay. See
    /// [`WorkflowShape`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shape: u32,
    /// Messages the conversation starts with, copied at admission from the finished run this
    /// one continues (`previous_run_id`): the input is message number `prior_messages`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prior_messages: u32,
    /// The events POSTed to `webhook_url`; absent: `run.completed` only (as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_events: Option<Vec<EventKind>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The shapes of `AgentRunWorkflow`, chosen by the run's input (a version gate without a
/// history marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkflowShape {
    /// A `start_run` local activity first, `finish_run` as a regular activity.
    First = 0,
    /// The first model turn starts the run, `finish_run` is a local activity, and the
    /// workflow starts with its status search attribute set: two fewer workflow tasks and
    /// five fewer history events per run.
    OneTransactionPerStep = 1,
    /// Steps are retried until the run's own deadline (a store or provider outage delays a
    /// run, it does not fail it), and a run whose deadline passes while it waits ends
    /// `timed_out`.
    OutagesWaited = 2,
    /// Client-executed tools, structured output, and no-progress detection (the same tool
    /// with the same input called too many times in a row).
    AgentTools = 3,
}

impl WorkflowShape {
    /// The shape new runs get.
    pub const CURRENT: WorkflowShape = WorkflowShape::AgentTools;

    pub fn of(input: &RunInput) -> WorkflowShape {
        match input.shape {
            0 => WorkflowShape::First,
            1 => WorkflowShape::OneTransactionPerStep,
            2 => WorkflowShape::OutagesWaited,
            _ => WorkflowShape::AgentTools,
        }
    }
}

/// What a continued execution needs of the one before it. The conversation itself stays in
/// the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeState {
    pub step: u32,
    /// Sequence number of the next message of the conversation.
    pub next_seq: u32,
    pub usage: TokenUsage,
    pub cost_micro_usd: u64,
    /// When the run started (workflow time, epoch milliseconds).
    pub started_at_ms: u64,
    /// Messages not yet handed to the model (tool results, human input).
    pub pending: Vec<Message>,
    pub last_text: String,
    /// The last tool call and how many times in a row it was made (no-progress detection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeated: Option<RepeatedCall>,
    /// The corrective turn for an invalid structured answer was used.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub output_corrected: bool,
}

/// The last tool call of a run and how many times in a row it was made with that input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepeatedCall {
    pub tool: String,
    pub input: Value,
    pub times: u32,
}

/// How a run ended, as returned by the workflow and stored on the run row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutcome {
    pub status: RunStatus,
    pub result: Option<String>,
    pub error: Option<RunFailure>,
    pub steps: u32,
    pub usage: TokenUsage,
    #[serde(default)]
    pub cost_micro_usd: u64,
    /// The answer as JSON, valid for the run's `output_schema` (structured output only;
    /// `result` then holds the same JSON as text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_json: Option<Value>,
}

/// A machine-readable failure: `code` is a stable snake_case name (`provider_rejected`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    pub code: String,
    pub message: String,
}

/// What the `status` query answers while a run is live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunProgress {
    pub status: RunStatus,
    pub step: u32,
    pub usage: TokenUsage,
    pub cost_micro_usd: u64,
    /// Tool calls waiting for a decision.
    pub pending_approvals: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// One block of a message, in a provider-neutral shape. Providers translate to and from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        #[serde(default)]
        is_error: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<ContentBlock>,
}

impl Message {
    pub fn user_text(text: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: vec![ContentBlock::Text { text: text.into() }],
        }
    }

    /// The concatenated text blocks.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for block in &self.content {
            if let ContentBlock::Text { text } = block {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(text);
            }
        }
        out
    }
}

/// Tokens of one model call, or summed over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cache_read_tokens: u64,
    #[serde(default)]
    pub cache_write_tokens: u64,
}

impl TokenUsage {
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
    }

    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    StopSequence,
    Refusal,
}

/// Input of the `start_run` activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRunRequest {
    pub run: RunRef,
    pub execution: ExecutionRef,
    pub input: String,
}

/// Input of the `llm_call` activity: one model turn. Carries only the messages new since the
/// previous turn; the activity stores them and reads the conversation from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmRequest {
    pub run: RunRef,
    pub execution: ExecutionRef,
    pub step: u32,
    pub model: String,
    pub system: String,
    pub tools: Vec<ToolSpec>,
    pub max_output_tokens: u32,
    /// Messages to store first, at `first_seq`, `first_seq + 1`, …
    pub new_messages: Vec<Message>,
    pub first_seq: u32,
    /// Where the model's answer is stored. If an earlier attempt already stored it, the
    /// provider is not called again.
    pub response_seq: u32,
    /// This turn is the run's first, and marks it started (`run.started`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub starts_run: bool,
    /// How long the call waits out its provider's outage (from its first attempt) before it
    /// fails for good; `None` (runs started before this existed): as many attempts as the
    /// retry policy allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_outage_tolerance_s: Option<u64>,
    /// Longest wait between two tries while waiting out an outage.
    #[serde(default = "default_retry_cap_s")]
    pub retry_cap_s: u64,
    /// The final answer must be JSON valid for this schema: the provider is asked for it
    /// (Anthropic: the forced `final_answer` tool; OpenAI-compatible: `response_format`), and
    /// the answer is checked ([`LlmResponse::output`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
}

/// Output of the `llm_call` activity: the complete assistant message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmResponse {
    pub content: Vec<ContentBlock>,
    pub stop_reason: StopReason,
    pub usage: TokenUsage,
    /// What this turn cost, in micro-USD (0 when the model has no price).
    #[serde(default)]
    pub cost_micro_usd: u64,
    /// Set instead of an answer when the workspace is over its hard cap: the provider was not
    /// called, and the run should pause.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<QuotaPause>,
    /// With an `output_schema`: the turn's final answer, checked against it (`None`: the
    /// turn gave none, it called tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<StructuredOutput>,
}

/// A structured final answer, as the `llm_call` activity found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum StructuredOutput {
    Valid {
        value: Value,
    },
    Invalid {
        /// What is wrong, told to the model in the corrective turn.
        problem: String,
        /// The `final_answer` call that carried it (Anthropic), answered with an error
        /// result; `None`: the answer was text (OpenAI-compatible), answered with a message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tool_use_id: Option<String>,
    },
}

/// Why a model turn did not happen: the workspace's usage is over its hard cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaPause {
    /// `tokens` or `agent_minutes`.
    pub metric: String,
    pub used: u64,
    pub cap: u64,
}

impl LlmResponse {
    pub fn tool_calls(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.content.iter().filter_map(|block| match block {
            ContentBlock::ToolUse { id, name, input } => Some((id.as_str(), name.as_str(), input)),
            _ => None,
        })
    }

    pub fn text(&self) -> String {
        Message {
            role: Role::Assistant,
            content: self.content.clone(),
        }
        .text()
    }
}

/// Input of the `run_tool` activity: one tool call of one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRequest {
    pub run: RunRef,
    pub execution: ExecutionRef,
    pub step: u32,
    /// Position of this call among the step's tool calls (ledger keys need it).
    pub call_index: u32,
    pub call_id: String,
    pub tool: ToolSpec,
    pub input: Value,
    /// Heartbeat interval for long tools (0 for local activities, which cannot heartbeat).
    #[serde(default)]
    pub heartbeat_s: u64,
    /// Longest wait between two tries while waiting out a store outage.
    #[serde(default = "default_retry_cap_s")]
    pub retry_cap_s: u64,
}

/// Output of the `run_tool` activity: what the model sees as the tool result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolOutcome {
    pub content: String,
    pub is_error: bool,
}

/// Input of `McpDiscoveryWorkflow` and of its `discover_mcp_tools` activity: discover the
/// tools of one MCP server of a workspace (its URL and headers are read from the store, so
/// secrets never enter workflow history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpDiscoveryRequest {
    pub workspace_id: String,
    /// The server's name in the workspace.
    pub server: String,
    /// Time allowed for the whole discovery (connection, handshake, every page).
    pub timeout_s: u64,
}

/// Output of `McpDiscoveryWorkflow`: the discovered tools are stored with the server; this
/// says only whether it worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpDiscoveryOutcome {
    /// Why the discovery failed; `None` when the tools were stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The egress guard refused the server's address (a private, loopback or metadata
    /// target not on the operator's allowlist).
    #[serde(default)]
    pub refused: bool,
    /// No such server (deleted meanwhile).
    #[serde(default)]
    pub missing: bool,
}

/// Input of the `record_event` activity: a status change and the event that explains it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRequest {
    pub run: RunRef,
    pub status: Option<RunStatus>,
    pub step: u32,
    /// Serialised as its name (`approval.requested`, …), as it always was.
    pub kind: EventKind,
    /// Unique per run: the same key twice is the same event.
    pub dedupe_key: String,
    pub data: Value,
}

/// Input of the `finish_run` activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinishRunRequest {
    pub run: RunRef,
    pub execution: ExecutionRef,
    pub outcome: RunOutcome,
}

/// Input of the `deliver_webhook` activity: POST the finished run (or, with `event`, an
/// event a person should act on) to the client's URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRequest {
    pub run: RunRef,
    pub url: String,
    /// An event of the run instead of its end. Absent in older histories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<WebhookEvent>,
}

/// An event delivered as a webhook: `approval.requested`, `input.requested`, `quota.paused`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub kind: EventKind,
    /// The event's dedupe key in the run: the webhook's id is made of it, so receivers
    /// deduplicate retries.
    pub key: String,
    pub data: Value,
}

/// Input of `UsageRollupWorkflow`: how many past days to roll up (again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupInput {
    pub days: u32,
}

/// Output of `UsageRollupWorkflow`: each day rolled up (its start) and its ledger rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollupOutcome {
    pub days: Vec<(i64, i64)>,
}

/// A human's decision on a gated tool call (the `decide` update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    pub tool_call_id: String,
    pub approve: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A client's result for a client-executed tool call (the `tool_result` update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientToolResult {
    pub tool_call_id: String,
    pub content: String,
    #[serde(default)]
    pub is_error: bool,
}

/// Human input to a run waiting for it (the `message` signal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanMessage {
    pub text: String,
    /// The request's `Idempotency-Key`, when it had one: a message whose id the run already
    /// has is dropped, so a retried request never delivers twice. Absent in older histories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_blocks_use_tagged_snake_case() {
        let block = ContentBlock::ToolUse {
            id: "t1".into(),
            name: "calculator".into(),
            input: serde_json::json!({"expression": "1+1"}),
        };
        let json = serde_json::to_value(&block).unwrap();
        assert_eq!(json["type"], "tool_use");
        let back: ContentBlock = serde_json::from_value(json).unwrap();
        assert_eq!(back, block);
    }

    #[test]
    fn ledger_keys_name_execution_step_and_kind() {
        let exec = ExecutionRef {
            workflow_id: "run-acme-1".into(),
            temporal_run_id: "abc".into(),
        };
        assert_eq!(exec.ledger_key(3, "llm"), "run-acme-1/abc/3/llm");
    }
}

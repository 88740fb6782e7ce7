//! An agent's definition as clients write and read it (the request and view DTOs, with their
//! OpenAPI schemas), checked field by field into the store's agent document.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use longrun_domain::{AgentName, BuiltinTool, FINAL_ANSWER_TOOL, ModelRef, RunLimits};
use longrun_store::{
    Agent, AgentSettings, AgentTool, ClientTool, McpSelection, McpToolSet, ToolSchema, WebhookTool,
};

use crate::error::ApiError;
use crate::routes::rfc3339;

pub(crate) const MAX_SYSTEM_PROMPT_BYTES: usize = 64 * 1024;
const MAX_TOOLS: usize = 32;
const MAX_WEBHOOK_SCHEMA_BYTES: usize = 16 * 1024;
const MAX_DESCRIPTION_BYTES: usize = 4 * 1024;

/// An agent's definition (`POST /v1/agents`, `PUT /v1/agents/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAgent {
    /// 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit. In
    /// `PUT`, the name in the path (agents cannot be renamed).
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "helper")]
    pub(crate) name: String,
    /// `provider/model-name`: `anthropic/…`, `openai/…` (any OpenAI-compatible server) or
    /// `offline/demo`.
    #[schema(
        pattern = r"^((anthropic|openai)/[A-Za-z0-9._:@+/-]+|offline/demo)$",
        max_length = 128,
        example = "offline/demo"
    )]
    model: String,
    /// At most 64 KiB.
    #[serde(default)]
    #[schema(max_length = 65536, example = "Be exact.")]
    system_prompt: String,
    /// At most 32, each named once: a built-in tool's name, or an object.
    #[serde(default)]
    #[schema(max_items = 32, example = json!(["calculator"]))]
    tools: Vec<ToolItem>,
    /// Defaults for each run's budget; a run's `budget` may only tighten them.
    #[serde(default)]
    #[serde(deserialize_with = "crate::extract::object")]
    limits: AgentLimits,
    /// When the model ends its turn with a question, wait for a human answer.
    #[serde(default)]
    await_input: bool,
    /// The model's output limit per call, 1 to 200000 (default 4096).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 200000)]
    max_output_tokens: Option<u32>,
    /// Seconds a model call waits out its provider's outage (429, 5xx, timeouts, retried
    /// with backoff; the run shows `waiting_provider` meanwhile) before the run fails; 0
    /// fails at the first such error; up to 604800 (7 days). Default: the operator's
    /// (`LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S`, an hour).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 604800)]
    provider_outage_tolerance_s: Option<u64>,
    /// Structured output: the final answer must be JSON valid for this JSON Schema object
    /// (at most 16 KiB); the run's view then carries it as `result_json`. A run may set its
    /// own. See `docs/agent-runs.md`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    output_schema: Option<Value>,
    /// The same tool called with the same input this many times in a row gets an error
    /// result; once more ends the run `failed` (`no_progress`). 0 to 100; default 3; 0: never.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100)]
    max_repeated_tool_calls: Option<u32>,
}

/// Largest `output_schema`, in bytes of JSON.
pub(crate) const MAX_OUTPUT_SCHEMA_BYTES: usize = 16 * 1024;
/// Longest a client tool may make a run wait for its result: the longest run.
const MAX_CLIENT_TOOL_TIMEOUT_S: u64 = 7 * 24 * 3600;

/// Checks an `output_schema` (an agent's or a run's): an object that compiles, not too big.
pub(crate) fn validate_output_schema(field: &str, schema: &Value) -> Result<(), ApiError> {
    if !schema.is_object() || schema.to_string().len() > MAX_OUTPUT_SCHEMA_BYTES {
        return Err(ApiError::invalid(
            field,
            format!("a JSON schema object of at most {MAX_OUTPUT_SCHEMA_BYTES} bytes"),
        ));
    }
    ToolSchema::compile(schema)
        .map(|_| ())
        .map_err(|problem| ApiError::invalid(field, format!("not a valid JSON Schema: {problem}")))
}

/// Longest provider outage an agent may wait out: the longest run.
const MAX_PROVIDER_OUTAGE_TOLERANCE_S: u64 = 7 * 24 * 3600;

/// A tool as written in a request: a built-in tool's name (`calculator`, `http_fetch`,
/// `read_file`, `write_file`, `list_files`), or an object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum ToolItem {
    Name(String),
    Spec(#[serde(deserialize_with = "crate::extract::object")] Box<ToolObject>),
}

/// A tool declared as an object: a built-in tool (with `requires_approval`), a webhook tool
/// (`"type": "webhook"`) that POSTs the model's input to `url`, signed with `secret`, a client
/// tool (`"type": "client"`) that the API's client runs (the run waits, `requires_action`,
/// for `POST /v1/runs/{id}/tool-results`), or the tools of one of the workspace's MCP servers
/// (`"type": "mcp"`, `server`, `tools`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ToolObject {
    /// A built-in tool's name; for a webhook or client tool, 1 to 64 characters of a-z, A-Z,
    /// 0-9, '_' and '-' that no built-in tool has (nor `final_answer`, reserved). Not used by
    /// MCP items.
    #[serde(default)]
    name: String,
    /// Each call waits for a human decision (`POST /v1/runs/{id}/approvals`).
    #[serde(default)]
    requires_approval: bool,
    /// `builtin` (the default), `webhook`, `client` or `mcp`.
    #[serde(default, rename = "type")]
    #[schema(pattern = "^(builtin|webhook|client|mcp)$")]
    kind: Option<String>,
    /// MCP items: the name of one of the workspace's MCP servers (`/v1/mcp-servers`).
    #[serde(default)]
    server: Option<String>,
    /// MCP items: `"*"` (every tool of the server) or the server's tool names (at most
    /// 128). Each becomes a tool named `<server>__<tool>` for the model, with the description
    /// and input schema the server declares (discovered when the agent is saved).
    #[serde(default)]
    #[schema(value_type = Option<McpSelectionSchema>, example = json!(["add", "lookup"]))]
    tools: Option<Value>,
    /// Webhook tools: an http(s) URL of at most 2048 bytes.
    #[serde(default)]
    url: Option<String>,
    /// Webhook and client tools: declared to the model; at most 4 KiB.
    #[serde(default)]
    description: Option<String>,
    /// Webhook and client tools: a JSON Schema object for the input, at most 16 KiB (default
    /// `{"type":"object"}`); declared to the model (webhook calls are validated against it
    /// before they leave).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    input_schema: Option<Value>,
    /// Webhook tools: signs each call (Standard Webhooks); 1 to 256 characters. Never shown
    /// again.
    #[serde(default)]
    secret: Option<String>,
    /// Client tools: seconds a run waits for the result before the model gets an error
    /// result instead, 1 to 604800; default the operator's (`LONGRUN_CLIENT_TOOL_TIMEOUT_S`,
    /// an hour).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 604800)]
    timeout_s: Option<u64>,
}

/// Limits of a run: an agent's defaults, or a run's tighter budget.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentLimits {
    /// Model calls, 1 to 200.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 200)]
    max_steps: Option<u32>,
    /// Tokens of every kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, format = Int64)]
    max_tokens: Option<u64>,
    /// Dollars, up to 1000000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    max_cost_usd: Option<f64>,
    /// Seconds; the tier's longest run bounds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, format = Int64)]
    max_duration_s: Option<u64>,
}

impl From<AgentLimits> for RunLimits {
    fn from(limits: AgentLimits) -> Self {
        RunLimits {
            max_steps: limits.max_steps,
            max_tokens: limits.max_tokens,
            max_cost_usd: limits.max_cost_usd,
            max_duration_s: limits.max_duration_s,
        }
    }
}

impl From<RunLimits> for AgentLimits {
    fn from(limits: RunLimits) -> Self {
        AgentLimits {
            max_steps: limits.max_steps,
            max_tokens: limits.max_tokens,
            max_cost_usd: limits.max_cost_usd,
            max_duration_s: limits.max_duration_s,
        }
    }
}

impl From<longrun_domain::LimitError> for ApiError {
    fn from(error: longrun_domain::LimitError) -> Self {
        ApiError::invalid(&error.field, error.problem)
    }
}

/// A checked agent, ready to store.
pub(crate) struct ValidAgent {
    pub(crate) name: AgentName,
    pub(crate) model: String,
    pub(crate) system_prompt: String,
    pub(crate) tools: Vec<AgentTool>,
    pub(crate) limits: RunLimits,
    pub(crate) settings: AgentSettings,
}

impl ValidAgent {
    pub(crate) fn document(&self) -> longrun_store::NewAgent<'_> {
        longrun_store::NewAgent {
            name: &self.name,
            model: &self.model,
            system_prompt: &self.system_prompt,
            tools: &self.tools,
            limits: &self.limits,
            settings: &self.settings,
        }
    }
}

/// Tool names as providers accept them.
fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn validate_tool(index: usize, item: ToolItem) -> Result<AgentTool, ApiError> {
    let field = format!("tools[{index}]");
    let object = match item {
        ToolItem::Name(name) => ToolObject {
            name,
            ..ToolObject::default()
        },
        ToolItem::Spec(object) => *object,
    };
    match object.kind.as_deref().unwrap_or("builtin") {
        "builtin" => {
            let tool = BuiltinTool::parse(&object.name).ok_or_else(|| {
                ApiError::invalid(
                    &field,
                    format!(
                        "unknown tool {:?}; built-in tools are: {}",
                        object.name,
                        BuiltinTool::names()
                    ),
                )
            })?;
            if object.server.is_some() || object.tools.is_some() {
                return Err(ApiError::invalid(
                    &field,
                    "server and tools belong to MCP items (\"type\": \"mcp\")",
                ));
            }
            if object.url.is_some()
                || object.secret.is_some()
                || object.input_schema.is_some()
                || object.timeout_s.is_some()
            {
                return Err(ApiError::invalid(
                    &field,
                    "url, secret, input_schema and timeout_s belong to webhook and client tools",
                ));
            }
            Ok(AgentTool::Builtin {
                tool,
                requires_approval: object.requires_approval,
            })
        }
        "webhook" => validate_webhook(&field, object).map(AgentTool::Webhook),
        "client" => validate_client(&field, object).map(AgentTool::Client),
        "mcp" => validate_mcp(&field, object).map(AgentTool::Mcp),
        other => Err(ApiError::invalid(
            &format!("{field}.type"),
            format!("{other:?} is not builtin, webhook, client or mcp"),
        )),
    }
}

/// An MCP item as written; its tools are filled in when the agent is saved (discovery).
fn validate_mcp(field: &str, object: ToolObject) -> Result<McpToolSet, ApiError> {
    let stray = !object.name.is_empty()
        || object.url.is_some()
        || object.secret.is_some()
        || object.input_schema.is_some()
        || object.description.is_some();
    if stray {
        return Err(ApiError::invalid(
            field,
            "an MCP item takes server, tools and requires_approval only",
        ));
    }
    let server = object
        .server
        .filter(|s| !s.is_empty() && s.len() <= 64)
        .ok_or_else(|| {
            ApiError::invalid(
                &format!("{field}.server"),
                "an MCP server's name is required",
            )
        })?;
    let tools_field = format!("{field}.tools");
    let selection = match object.tools {
        Some(Value::String(star)) if star == "*" => McpSelection::All,
        Some(Value::Array(items)) => {
            if items.is_empty() || items.len() > crate::routes::mcp_servers::MAX_SELECTED_TOOLS {
                return Err(ApiError::invalid(
                    &tools_field,
                    "1 to 128 tool names, or \"*\"",
                ));
            }
            let mut names: Vec<String> = Vec::with_capacity(items.len());
            for (at, item) in items.into_iter().enumerate() {
                let name = match item {
                    Value::String(name) if !name.is_empty() && name.len() <= 128 => name,
                    _ => {
                        return Err(ApiError::invalid(
                            &format!("{tools_field}[{at}]"),
                            "a tool name of 1 to 128 bytes",
                        ));
                    }
                };
                if names.contains(&name) {
                    return Err(ApiError::invalid(
                        &format!("{tools_field}[{at}]"),
                        "listed twice",
                    ));
                }
                names.push(name);
            }
            McpSelection::Names(names)
        }
        _ => {
            return Err(ApiError::invalid(
                &tools_field,
                "\"*\" or a list of the server's tool names",
            ));
        }
    };
    Ok(McpToolSet {
        server,
        selection,
        requires_approval: object.requires_approval,
        tools: Vec::new(),
    })
}

fn validate_client(field: &str, object: ToolObject) -> Result<ClientTool, ApiError> {
    if object.url.is_some() || object.secret.is_some() {
        return Err(ApiError::invalid(
            field,
            "url and secret belong to webhook tools: a client tool runs at the client",
        ));
    }
    if let Some(timeout) = object.timeout_s
        && !(1..=MAX_CLIENT_TOOL_TIMEOUT_S).contains(&timeout)
    {
        return Err(ApiError::invalid(
            &format!("{field}.timeout_s"),
            format!("1 to {MAX_CLIENT_TOOL_TIMEOUT_S} seconds"),
        ));
    }
    let (description, input_schema) = declared(field, &object)?;
    Ok(ClientTool {
        name: object.name,
        requires_approval: object.requires_approval,
        description,
        input_schema,
        timeout_s: object.timeout_s,
    })
}

/// A workspace's own tool as the model sees it: its name checked, its description and input
/// schema.
fn declared(field: &str, object: &ToolObject) -> Result<(String, Value), ApiError> {
    if object.server.is_some() || object.tools.is_some() {
        return Err(ApiError::invalid(
            field,
            "server and tools belong to MCP items (\"type\": \"mcp\")",
        ));
    }
    if !valid_tool_name(&object.name)
        || BuiltinTool::parse(&object.name).is_some()
        || object.name == FINAL_ANSWER_TOOL
    {
        return Err(ApiError::invalid(
            &format!("{field}.name"),
            "1 to 64 characters of a-z, A-Z, 0-9, '_' and '-', not a built-in tool's name \
             nor final_answer",
        ));
    }
    let input_schema = object
        .input_schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object"}));
    if !input_schema.is_object() || input_schema.to_string().len() > MAX_WEBHOOK_SCHEMA_BYTES {
        return Err(ApiError::invalid(
            &format!("{field}.input_schema"),
            format!("a JSON schema object of at most {MAX_WEBHOOK_SCHEMA_BYTES} bytes"),
        ));
    }
    // Every input the model sends is validated against it before the call leaves; a schema
    // that does not compile would refuse them all.
    ToolSchema::compile(&input_schema).map_err(|problem| {
        ApiError::invalid(
            &format!("{field}.input_schema"),
            format!("not a valid JSON Schema: {problem}"),
        )
    })?;
    let description = object.description.clone().unwrap_or_default();
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(ApiError::invalid(
            &format!("{field}.description"),
            "too long",
        ));
    }
    Ok((description, input_schema))
}

fn validate_webhook(field: &str, object: ToolObject) -> Result<WebhookTool, ApiError> {
    if object.timeout_s.is_some() {
        return Err(ApiError::invalid(
            &format!("{field}.timeout_s"),
            "belongs to client tools (webhook calls have the operator's tool timeout)",
        ));
    }
    let (description, input_schema) = declared(field, &object)?;
    let url = object
        .url
        .filter(|u| (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048)
        .ok_or_else(|| ApiError::invalid(&format!("{field}.url"), "an http(s) URL is required"))?;
    if let Some(secret) = &object.secret
        && (secret.is_empty() || secret.len() > 256)
    {
        return Err(ApiError::invalid(
            &format!("{field}.secret"),
            "1 to 256 characters",
        ));
    }
    Ok(WebhookTool {
        name: object.name,
        requires_approval: object.requires_approval,
        url,
        description,
        input_schema,
        secret: object.secret,
    })
}

impl TryFrom<CreateAgent> for ValidAgent {
    type Error = ApiError;

    fn try_from(agent: CreateAgent) -> Result<Self, ApiError> {
        let name = AgentName::parse(&agent.name).map_err(|e| ApiError::invalid("name", e))?;
        ModelRef::parse(&agent.model).map_err(|e| ApiError::invalid("model", e))?;
        if agent.system_prompt.len() > MAX_SYSTEM_PROMPT_BYTES {
            return Err(ApiError::invalid(
                "system_prompt",
                format!("longer than {MAX_SYSTEM_PROMPT_BYTES} bytes"),
            ));
        }
        if agent.tools.len() > MAX_TOOLS {
            return Err(ApiError::invalid(
                "tools",
                format!("more than {MAX_TOOLS} tools"),
            ));
        }
        let mut tools: Vec<AgentTool> = Vec::with_capacity(agent.tools.len());
        for (index, item) in agent.tools.into_iter().enumerate() {
            let tool = validate_tool(index, item)?;
            // MCP items are told apart by server; their tools' names are checked once
            // expanded (`mcp_servers::expand_agent_tools`).
            let is_mcp = |t: &AgentTool| matches!(t, AgentTool::Mcp(_));
            if tools
                .iter()
                .any(|t| t.name() == tool.name() && is_mcp(t) == is_mcp(&tool))
            {
                return Err(ApiError::invalid(
                    &format!("tools[{index}]"),
                    format!("tool {:?} is listed twice", tool.name()),
                ));
            }
            tools.push(tool);
        }
        let limits = RunLimits::from(agent.limits);
        limits.validate("limits")?;
        if agent
            .provider_outage_tolerance_s
            .is_some_and(|s| s > MAX_PROVIDER_OUTAGE_TOLERANCE_S)
        {
            return Err(ApiError::invalid(
                "provider_outage_tolerance_s",
                format!("at most {MAX_PROVIDER_OUTAGE_TOLERANCE_S} seconds"),
            ));
        }
        if let Some(n) = agent.max_output_tokens
            && !(1..=200_000).contains(&n)
        {
            return Err(ApiError::invalid(
                "max_output_tokens",
                "must be between 1 and 200000",
            ));
        }
        if let Some(schema) = &agent.output_schema {
            validate_output_schema("output_schema", schema)?;
        }
        if agent.max_repeated_tool_calls.is_some_and(|n| n > 100) {
            return Err(ApiError::invalid(
                "max_repeated_tool_calls",
                "must be between 0 and 100",
            ));
        }
        Ok(ValidAgent {
            name,
            model: agent.model,
            system_prompt: agent.system_prompt,
            tools,
            limits,
            settings: AgentSettings {
                await_input: agent.await_input,
                max_output_tokens: agent.max_output_tokens,
                provider_outage_tolerance_s: agent.provider_outage_tolerance_s,
                output_schema: agent.output_schema,
                max_repeated_tool_calls: agent.max_repeated_tool_calls,
            },
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ToolType {
    #[default]
    Builtin,
    Webhook,
    Client,
    Mcp,
}

/// A tool of an agent as clients see it: webhook secrets are write-only.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ToolView {
    name: String,
    requires_approval: bool,
    #[serde(rename = "type")]
    kind: ToolType,
    /// Webhook tools only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    url: Option<String>,
    /// Webhook and client tools only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    description: Option<String>,
    /// Webhook and client tools only: the input's JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false)]
    input_schema: Option<Value>,
    /// Webhook tools only: whether calls are signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    has_secret: Option<bool>,
    /// Client tools only, when set: seconds a run waits for the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    timeout_s: Option<u64>,
    /// MCP items only: the server (also in `name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    server: Option<String>,
    /// MCP items only: the selection as written (`"*"` or tool names).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = McpSelectionSchema, nullable = false)]
    tools: Option<Value>,
    /// MCP items only: the tools the model gets, as discovered when the agent was saved.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    mcp_tools: Option<Vec<McpToolUseView>>,
}

/// Which tools of an MCP server an agent uses: `"*"` (all) or their names on the server.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum McpSelectionSchema {
    /// `"*"`: every tool of the server (no other string is accepted).
    All(String),
    /// The tools' names on the server.
    Names(Vec<String>),
}

/// One MCP tool of an agent: the model's name for it and the server's.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpToolUseView {
    /// What the model calls it (`<server>__<tool>`).
    name: String,
    /// The tool's name on the server.
    tool: String,
    description: String,
    /// SHA-256 of the definition the agent was saved with.
    hash: String,
}

impl From<&AgentTool> for ToolView {
    fn from(tool: &AgentTool) -> Self {
        match tool {
            AgentTool::Builtin {
                tool,
                requires_approval,
            } => ToolView {
                name: tool.name().to_string(),
                requires_approval: *requires_approval,
                kind: ToolType::Builtin,
                url: None,
                description: None,
                input_schema: None,
                has_secret: None,
                timeout_s: None,
                server: None,
                tools: None,
                mcp_tools: None,
            },
            AgentTool::Webhook(webhook) => ToolView {
                name: webhook.name.clone(),
                requires_approval: webhook.requires_approval,
                kind: ToolType::Webhook,
                url: Some(webhook.url.clone()),
                description: Some(webhook.description.clone()),
                input_schema: Some(webhook.input_schema.clone()),
                // Secrets are write-only: a webhook tool shows only whether it has one.
                has_secret: Some(webhook.secret.is_some()),
                timeout_s: None,
                server: None,
                tools: None,
                mcp_tools: None,
            },
            AgentTool::Client(client) => ToolView {
                name: client.name.clone(),
                requires_approval: client.requires_approval,
                kind: ToolType::Client,
                url: None,
                description: Some(client.description.clone()),
                input_schema: Some(client.input_schema.clone()),
                has_secret: None,
                timeout_s: client.timeout_s,
                server: None,
                tools: None,
                mcp_tools: None,
            },
            AgentTool::Mcp(set) => ToolView {
                name: set.server.clone(),
                requires_approval: set.requires_approval,
                kind: ToolType::Mcp,
                url: None,
                description: None,
                input_schema: None,
                has_secret: None,
                timeout_s: None,
                server: Some(set.server.clone()),
                tools: Some(match &set.selection {
                    McpSelection::All => json!("*"),
                    McpSelection::Names(names) => json!(names),
                }),
                mcp_tools: Some(
                    set.tools
                        .iter()
                        .map(|tool| McpToolUseView {
                            name: tool.name.clone(),
                            tool: tool.tool.clone(),
                            description: tool.description.clone(),
                            hash: tool.hash.clone(),
                        })
                        .collect(),
                ),
            },
        }
    }
}

/// An agent as clients see it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentView {
    name: String,
    model: String,
    system_prompt: String,
    tools: Vec<ToolView>,
    /// Only the limits that were set.
    limits: AgentLimits,
    await_input: bool,
    #[schema(required = true)]
    max_output_tokens: Option<u32>,
    /// `null`: the operator's default (`LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S`).
    #[schema(required = true)]
    provider_outage_tolerance_s: Option<u64>,
    /// Structured output's schema, when set.
    #[schema(value_type = Option<Object>, required = true)]
    output_schema: Option<Value>,
    /// `null`: 3.
    #[schema(required = true)]
    max_repeated_tool_calls: Option<u32>,
    created_at: String,
    updated_at: String,
}

impl From<&Agent> for AgentView {
    fn from(agent: &Agent) -> Self {
        AgentView {
            name: agent.name.to_string(),
            model: agent.model.clone(),
            system_prompt: agent.system_prompt.clone(),
            tools: agent.tools.iter().map(ToolView::from).collect(),
            limits: agent.limits.into(),
            await_input: agent.settings.await_input,
            max_output_tokens: agent.settings.max_output_tokens,
            provider_outage_tolerance_s: agent.settings.provider_outage_tolerance_s,
            output_schema: agent.settings.output_schema.clone(),
            max_repeated_tool_calls: agent.settings.max_repeated_tool_calls,
            created_at: rfc3339(agent.created_at),
            updated_at: rfc3339(agent.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_are_checked_against_the_catalog_and_webhook_rules() {
        let builtin = validate_tool(0, ToolItem::Name("calculator".into())).unwrap();
        assert_eq!(builtin.name(), "calculator");
        let unknown = validate_tool(1, ToolItem::Name("rm_rf".into())).unwrap_err();
        assert!(unknown.to_string().starts_with("tools[1]: unknown tool"));
        let shadowing = ToolObject {
            name: "calculator".into(),
            kind: Some("webhook".into()),
            url: Some("https://x.example".into()),
            ..ToolObject::default()
        };
        let error = validate_tool(2, ToolItem::Spec(Box::new(shadowing))).unwrap_err();
        assert!(error.to_string().starts_with("tools[2].name"), "{error}");
    }
}

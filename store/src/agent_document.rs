//! The agent document: an agent's tools, limits and settings as one set of types, read and
//! written here, used alike by the API (which validates and shows them) and the activities
//! (which call webhook tools with their stored URL and secret). Stored as JSON text in the
//! `agents` table, in the shape it always had.

use longrun_domain::{BuiltinTool, RunLimits};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One tool of an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StoredTool", into = "StoredTool")]
pub enum AgentTool {
    /// One of longrun's own tools.
    Builtin {
        tool: BuiltinTool,
        requires_approval: bool,
    },
    /// A POST to the workspace's URL, signed with the tool's secret.
    Webhook(WebhookTool),
    /// Run by the API's client, which posts the result.
    Client(ClientTool),
    /// Tools of one of the workspace's MCP servers, as discovered when the agent was saved.
    Mcp(McpToolSet),
}

/// A client-executed tool: what the model sees, and how long a run waits for its result.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientTool {
    pub name: String,
    pub requires_approval: bool,
    pub description: String,
    /// JSON Schema of the input (an object).
    pub input_schema: Value,
    /// `None`: the operator's default.
    pub timeout_s: Option<u64>,
}

/// Which tools of an MCP server an agent uses: all of them (`"*"`) or those named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "StoredSelection", into = "StoredSelection")]
pub enum McpSelection {
    All,
    Names(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum StoredSelection {
    Star(String),
    Names(Vec<String>),
}

impl TryFrom<StoredSelection> for McpSelection {
    type Error = String;

    fn try_from(stored: StoredSelection) -> Result<Self, String> {
        match stored {
            StoredSelection::Star(star) if star == "*" => Ok(McpSelection::All),
            StoredSelection::Star(other) => Err(format!("{other:?} is not \"*\" or a list")),
            StoredSelection::Names(names) => Ok(McpSelection::Names(names)),
        }
    }
}

impl From<McpSelection> for StoredSelection {
    fn from(selection: McpSelection) -> Self {
        match selection {
            McpSelection::All => StoredSelection::Star("*".into()),
            McpSelection::Names(names) => StoredSelection::Names(names),
        }
    }
}

/// An agent's use of an MCP server: the selection as written, and the tools it expanded to
/// when the agent was saved (what runs declare to the model).
#[derive(Debug, Clone, PartialEq)]
pub struct McpToolSet {
    /// The server's name in the workspace.
    pub server: String,
    pub selection: McpSelection,
    pub requires_approval: bool,
    pub tools: Vec<McpToolUse>,
}

/// One MCP tool as an agent exposes it to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct McpToolUse {
    /// The name the model calls it by (`<server>__<tool>`, within providers' name rules).
    pub name: String,
    /// The tool's name on the server.
    pub tool: String,
    pub description: String,
    pub input_schema: Value,
    /// The definition's hash when the agent was saved: a call whose tool now has another
    /// definition is refused.
    pub hash: String,
}

/// A webhook tool: what the model sees (name, description, schema) and where calls go.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTool {
    pub name: String,
    pub requires_approval: bool,
    pub url: String,
    pub description: String,
    /// JSON Schema of the input (an object).
    pub input_schema: Value,
    /// Signs each call (Standard Webhooks); write-only: never shown, never in histories.
    pub secret: Option<String>,
}

impl AgentTool {
    /// The name the model calls the tool by.
    pub fn name(&self) -> &str {
        match self {
            AgentTool::Builtin { tool, .. } => tool.name(),
            AgentTool::Webhook(webhook) => &webhook.name,
            AgentTool::Client(client) => &client.name,
            AgentTool::Mcp(set) => &set.server,
        }
    }

    /// The names the model calls this item's tools by.
    pub fn model_names(&self) -> Vec<&str> {
        match self {
            AgentTool::Mcp(set) => set.tools.iter().map(|t| t.name.as_str()).collect(),
            other => vec![other.name()],
        }
    }

    pub fn requires_approval(&self) -> bool {
        match self {
            AgentTool::Builtin {
                requires_approval, ..
            } => *requires_approval,
            AgentTool::Webhook(webhook) => webhook.requires_approval,
            AgentTool::Client(client) => client.requires_approval,
            AgentTool::Mcp(set) => set.requires_approval,
        }
    }
}

/// Agent settings that are neither tools nor limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentSettings {
    /// When the model ends its turn with a question, wait for a human answer.
    #[serde(default)]
    pub await_input: bool,
    /// The model's output limit per call (tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Seconds a model call waits out its provider's outage; `None`: the operator's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_outage_tolerance_s: Option<u64>,
    /// The final answer must be JSON valid for this schema (structured output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// Identical tool calls in a row before the model is told so (then the run ends);
    /// `None`: 3; 0: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_repeated_tool_calls: Option<u32>,
}

/// Limits and settings, stored together as one JSON object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StoredLimits {
    #[serde(flatten)]
    pub(crate) limits: RunLimits,
    #[serde(flatten)]
    pub(crate) settings: AgentSettings,
}

/// A tool as the JSON column holds it (secrets included).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredTool {
    name: String,
    #[serde(default)]
    requires_approval: bool,
    #[serde(default)]
    kind: StoredKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    input_schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_s: Option<u64>,
    /// MCP tools: which of the server's tools (`name` is the server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    select: Option<McpSelection>,
    /// MCP tools: what the selection expanded to when the agent was saved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mcp_tools: Option<Vec<McpToolUse>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredKind {
    #[default]
    Builtin,
    Webhook,
    Client,
    Mcp,
}

/// A declared input schema, or any object when none was given.
fn object_schema(schema: Option<Value>) -> Value {
    schema.unwrap_or_else(|| json!({"type": "object"}))
}

impl TryFrom<StoredTool> for AgentTool {
    type Error = String;

    fn try_from(stored: StoredTool) -> Result<Self, String> {
        Ok(match stored.kind {
            StoredKind::Builtin => AgentTool::Builtin {
                tool: BuiltinTool::parse(&stored.name)
                    .ok_or_else(|| format!("unknown built-in tool {:?}", stored.name))?,
                requires_approval: stored.requires_approval,
            },
            StoredKind::Webhook => AgentTool::Webhook(WebhookTool {
                url: stored
                    .url
                    .ok_or_else(|| format!("webhook tool {:?} has no url", stored.name))?,
                name: stored.name,
                requires_approval: stored.requires_approval,
                description: stored.description.unwrap_or_default(),
                input_schema: object_schema(stored.input_schema),
                secret: stored.secret,
            }),
            StoredKind::Client => AgentTool::Client(ClientTool {
                name: stored.name,
                requires_approval: stored.requires_approval,
                description: stored.description.unwrap_or_default(),
                input_schema: object_schema(stored.input_schema),
                timeout_s: stored.timeout_s,
            }),
            StoredKind::Mcp => AgentTool::Mcp(McpToolSet {
                server: stored.name,
                selection: stored.select.unwrap_or(McpSelection::All),
                requires_approval: stored.requires_approval,
                tools: stored.mcp_tools.unwrap_or_default(),
            }),
        })
    }
}

impl From<AgentTool> for StoredTool {
    fn from(tool: AgentTool) -> Self {
        match tool {
            AgentTool::Builtin {
                tool,
                requires_approval,
            } => StoredTool {
                name: tool.name().to_string(),
                requires_approval,
                kind: StoredKind::Builtin,
                url: None,
                description: None,
                input_schema: None,
                secret: None,
                timeout_s: None,
                select: None,
                mcp_tools: None,
            },
            AgentTool::Webhook(webhook) => StoredTool {
                name: webhook.name,
                requires_approval: webhook.requires_approval,
                kind: StoredKind::Webhook,
                url: Some(webhook.url),
                description: Some(webhook.description),
                input_schema: Some(webhook.input_schema),
                secret: webhook.secret,
                timeout_s: None,
                select: None,
                mcp_tools: None,
            },
            AgentTool::Client(client) => StoredTool {
                name: client.name,
                requires_approval: client.requires_approval,
                kind: StoredKind::Client,
                url: None,
                description: Some(client.description),
                input_schema: Some(client.input_schema),
                secret: None,
                timeout_s: client.timeout_s,
                select: None,
                mcp_tools: None,
            },
            AgentTool::Mcp(set) => StoredTool {
                name: set.server,
                requires_approval: set.requires_approval,
                kind: StoredKind::Mcp,
                url: None,
                description: None,
                input_schema: None,
                secret: None,
                timeout_s: None,
                select: Some(set.selection),
                mcp_tools: Some(set.tools),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_documents_read_back_as_they_were_written() {
        // The shape rows already hold (older ones without `kind`).
        let stored = r#"[{"name":"calculator"},
            {"name":"write_file","requires_approval":true,"kind":"builtin"},
            {"name":"lookup","requires_approval":false,"kind":"webhook","url":"https://x.example/h",
             "description":"Looks up.","input_schema":{"type":"object"},"secret":"s3"}]"#;
        let tools: Vec<AgentTool> = serde_json::from_str(stored).unwrap();
        assert_eq!(tools[0].name(), "calculator");
        assert!(tools[1].requires_approval());
        let AgentTool::Webhook(webhook) = &tools[2] else {
            panic!("{:?}", tools[2]);
        };
        assert_eq!(webhook.secret.as_deref(), Some("s3"));
        let again: Vec<AgentTool> =
            serde_json::from_str(&serde_json::to_string(&tools).unwrap()).unwrap();
        assert_eq!(again, tools);
        assert!(serde_json::from_str::<Vec<AgentTool>>(r#"[{"name":"rm_rf"}]"#).is_err());
        let limits: StoredLimits =
            serde_json::from_str(r#"{"max_steps":3,"await_input":true}"#).unwrap();
        assert_eq!(limits.limits.max_steps, Some(3));
        assert!(limits.settings.await_input);
    }
}

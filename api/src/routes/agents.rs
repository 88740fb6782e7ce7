//! `/v1/agents`: a workspace's agent profiles.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use longrun_activities::models::split_model;
use longrun_activities::tools::BUILTIN_TOOLS;
use longrun_store::{Agent, NewAgent, NewAudit, StoreError};
use longrun_workflows::payloads::ToolSpec;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::page::{CursorShape, Page, PageRules};
use crate::routes::rfc3339;

pub(crate) const MAX_SYSTEM_PROMPT_BYTES: usize = 64 * 1024;
const MAX_TOOLS: usize = 32;
pub(crate) const MAX_STEPS_LIMIT: u32 = 200;
/// The largest integer a limit may be: the document says `int64`, and larger ones survive
/// neither many JSON parsers nor a BIGINT column.
const MAX_INTEGER: u64 = i64::MAX as u64;

/// An agent's definition (`POST /v1/agents`, `PUT /v1/agents/{name}`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAgent {
    /// 1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit. In
    /// `PUT`, the name in the path (agents cannot be renamed).
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$", example = "helper")]
    name: String,
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
    /// Defaults for each run's budget; a run's `budget` overrides them.
    #[serde(default)]
    limits: AgentLimits,
    /// When the model ends its turn with a question, wait for a human answer.
    #[serde(default)]
    await_input: bool,
    /// The model's output limit per call, 1 to 200000 (default 4096).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 200000)]
    max_output_tokens: Option<u32>,
}

/// A tool as written in a request: a built-in tool's name (`calculator`, `http_fetch`,
/// `read_file`, `write_file`, `list_files`), or an object.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
enum ToolItem {
    Name(String),
    Spec(ToolObject),
}

/// A tool declared as an object: a built-in tool (with `requires_approval`), or a webhook tool
/// (`"type": "webhook"`) that POSTs the model's input to `url`, signed with `secret`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ToolObject {
    /// A built-in tool's name; for a webhook tool, 1 to 64 characters of a-z, A-Z, 0-9, '_'
    /// and '-' that no built-in tool has.
    name: String,
    /// Each call waits for a human decision (`POST /v1/runs/{id}/approvals`).
    #[serde(default)]
    requires_approval: bool,
    /// `builtin` (the default) or `webhook`.
    #[serde(default, rename = "type")]
    #[schema(pattern = "^(builtin|webhook)$")]
    kind: Option<String>,
    /// Webhook tools: an http(s) URL of at most 2048 bytes.
    #[serde(default)]
    url: Option<String>,
    /// Webhook tools: declared to the model; at most 4 KiB.
    #[serde(default)]
    description: Option<String>,
    /// Webhook tools: a JSON schema object for the input, at most 16 KiB (default
    /// `{"type":"object"}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    input_schema: Option<Value>,
    /// Webhook tools: signs each call (Standard Webhooks); 1 to 256 characters. Never shown
    /// again.
    #[serde(default)]
    secret: Option<String>,
}

/// Per-agent defaults for a run's budget.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentLimits {
    /// Model calls, 1 to 200.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 200)]
    pub(crate) max_steps: Option<u32>,
    /// Tokens of every kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, format = Int64)]
    pub(crate) max_tokens: Option<u64>,
    /// Dollars, up to 1000000.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(exclusive_minimum = 0, maximum = 1000000)]
    pub(crate) max_cost_usd: Option<f64>,
    /// Seconds; the tier's longest run bounds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, format = Int64)]
    pub(crate) max_duration_s: Option<u64>,
}

impl AgentLimits {
    /// Checks each limit, naming it under `prefix` (`limits` or `budget`).
    pub(crate) fn validate(&self, prefix: &str) -> Result<(), ApiError> {
        if let Some(steps) = self.max_steps
            && !(1..=MAX_STEPS_LIMIT).contains(&steps)
        {
            return Err(ApiError::invalid(
                &format!("{prefix}.max_steps"),
                format!("must be between 1 and {MAX_STEPS_LIMIT}"),
            ));
        }
        if let Some(tokens) = self.max_tokens
            && !(1..=MAX_INTEGER).contains(&tokens)
        {
            return Err(ApiError::invalid(
                &format!("{prefix}.max_tokens"),
                format!("must be between 1 and {MAX_INTEGER}"),
            ));
        }
        if let Some(cost) = self.max_cost_usd
            && !(cost.is_finite() && cost > 0.0 && cost <= 1_000_000.0)
        {
            return Err(ApiError::invalid(
                &format!("{prefix}.max_cost_usd"),
                "must be a positive number of dollars up to 1000000",
            ));
        }
        if let Some(seconds) = self.max_duration_s
            && !(1..=MAX_INTEGER).contains(&seconds)
        {
            return Err(ApiError::invalid(
                &format!("{prefix}.max_duration_s"),
                format!("must be between 1 and {MAX_INTEGER}"),
            ));
        }
        Ok(())
    }
}

impl AgentLimits {
    /// Checks that these limits (a run's budget) only tighten `agent`'s: an admin's limit on
    /// an agent binds every run of it, whoever submits it.
    pub(crate) fn within(&self, agent: &AgentLimits, prefix: &str) -> Result<(), ApiError> {
        fn check<T: PartialOrd + std::fmt::Display>(
            prefix: &str,
            field: &str,
            requested: Option<T>,
            allowed: Option<T>,
        ) -> Result<(), ApiError> {
            match (requested, allowed) {
                (Some(requested), Some(allowed)) if requested > allowed => Err(ApiError::invalid(
                    &format!("{prefix}.{field}"),
                    format!(
                        "{requested} is above the agent's limit of {allowed}; a run's budget may only tighten it"
                    ),
                )),
                _ => Ok(()),
            }
        }
        check(prefix, "max_steps", self.max_steps, agent.max_steps)?;
        check(prefix, "max_tokens", self.max_tokens, agent.max_tokens)?;
        check(
            prefix,
            "max_cost_usd",
            self.max_cost_usd,
            agent.max_cost_usd,
        )?;
        check(
            prefix,
            "max_duration_s",
            self.max_duration_s,
            agent.max_duration_s,
        )
    }
}

/// A validated agent, ready to store.
pub(crate) struct ValidAgent {
    name: String,
    model: String,
    system_prompt: String,
    /// Tool declarations as stored: webhook secrets included (never shown again).
    tools: Vec<Value>,
    limits: AgentLimits,
    settings: AgentSettings,
}

/// Agent settings that are neither tools nor limits, stored with the limits.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub(crate) struct AgentSettings {
    #[serde(default)]
    pub(crate) await_input: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_output_tokens: Option<u32>,
}

const MAX_WEBHOOK_SCHEMA_BYTES: usize = 16 * 1024;
const MAX_DESCRIPTION_BYTES: usize = 4 * 1024;

/// Tool names as providers accept them.
fn valid_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn validate_tool(index: usize, item: ToolItem) -> Result<Value, ApiError> {
    let field = format!("tools[{index}]");
    let object = match item {
        ToolItem::Name(name) => ToolObject {
            name,
            requires_approval: false,
            kind: None,
            url: None,
            description: None,
            input_schema: None,
            secret: None,
        },
        ToolItem::Spec(object) => object,
    };
    match object.kind.as_deref().unwrap_or("builtin") {
        "builtin" => {
            if !BUILTIN_TOOLS.contains(&object.name.as_str()) {
                return Err(ApiError::invalid(
                    &field,
                    format!(
                        "unknown tool {:?}; built-in tools are: {}",
                        object.name,
                        BUILTIN_TOOLS.join(", ")
                    ),
                ));
            }
            if object.url.is_some() || object.secret.is_some() || object.input_schema.is_some() {
                return Err(ApiError::invalid(
                    &field,
                    "url, secret and input_schema belong to webhook tools (\"type\": \"webhook\")",
                ));
            }
            Ok(
                json!({ "name": object.name, "requires_approval": object.requires_approval, "kind": "builtin" }),
            )
        }
        "webhook" => {
            if !valid_tool_name(&object.name) || BUILTIN_TOOLS.contains(&object.name.as_str()) {
                return Err(ApiError::invalid(
                    &format!("{field}.name"),
                    "1 to 64 characters of a-z, A-Z, 0-9, '_' and '-', not a built-in tool's name",
                ));
            }
            let url = object
                .url
                .filter(|u| {
                    (u.starts_with("https://") || u.starts_with("http://")) && u.len() <= 2048
                })
                .ok_or_else(|| {
                    ApiError::invalid(&format!("{field}.url"), "an http(s) URL is required")
                })?;
            let schema = object
                .input_schema
                .unwrap_or_else(|| json!({"type": "object"}));
            if !schema.is_object() || schema.to_string().len() > MAX_WEBHOOK_SCHEMA_BYTES {
                return Err(ApiError::invalid(
                    &format!("{field}.input_schema"),
                    format!("a JSON schema object of at most {MAX_WEBHOOK_SCHEMA_BYTES} bytes"),
                ));
            }
            // Every input the model sends is validated against it before the call leaves;
            // a schema that does not compile would refuse them all.
            longrun_store::ToolSchema::compile(&schema).map_err(|problem| {
                ApiError::invalid(
                    &format!("{field}.input_schema"),
                    format!("not a valid JSON Schema: {problem}"),
                )
            })?;
            let description = object.description.unwrap_or_default();
            if description.len() > MAX_DESCRIPTION_BYTES {
                return Err(ApiError::invalid(
                    &format!("{field}.description"),
                    "too long",
                ));
            }
            if let Some(secret) = &object.secret
                && (secret.is_empty() || secret.len() > 256)
            {
                return Err(ApiError::invalid(
                    &format!("{field}.secret"),
                    "1 to 256 characters",
                ));
            }
            Ok(json!({
                "name": object.name, "requires_approval": object.requires_approval, "kind": "webhook",
                "url": url, "description": description, "input_schema": schema, "secret": object.secret,
            }))
        }
        other => Err(ApiError::invalid(
            &format!("{field}.type"),
            format!("{other:?} is not builtin or webhook"),
        )),
    }
}

impl CreateAgent {
    fn validate(self) -> Result<ValidAgent, ApiError> {
        if !valid_name(&self.name) {
            return Err(ApiError::invalid(
                "name",
                "1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ));
        }
        validate_model(&self.model)?;
        if self.system_prompt.len() > MAX_SYSTEM_PROMPT_BYTES {
            return Err(ApiError::invalid(
                "system_prompt",
                format!("longer than {MAX_SYSTEM_PROMPT_BYTES} bytes"),
            ));
        }
        if self.tools.len() > MAX_TOOLS {
            return Err(ApiError::invalid(
                "tools",
                format!("more than {MAX_TOOLS} tools"),
            ));
        }
        let mut tools: Vec<Value> = Vec::with_capacity(self.tools.len());
        for (index, item) in self.tools.into_iter().enumerate() {
            let tool = validate_tool(index, item)?;
            if tools.iter().any(|t| t["name"] == tool["name"]) {
                return Err(ApiError::invalid(
                    &format!("tools[{index}]"),
                    format!("tool {} is listed twice", tool["name"]),
                ));
            }
            tools.push(tool);
        }
        self.limits.validate("limits")?;
        if let Some(n) = self.max_output_tokens
            && !(1..=200_000).contains(&n)
        {
            return Err(ApiError::invalid(
                "max_output_tokens",
                "must be between 1 and 200000",
            ));
        }
        Ok(ValidAgent {
            name: self.name,
            model: self.model,
            system_prompt: self.system_prompt,
            tools,
            limits: self.limits,
            settings: AgentSettings {
                await_input: self.await_input,
                max_output_tokens: self.max_output_tokens,
            },
        })
    }
}

/// Longest model name accepted, `provider/` included.
pub(crate) const MAX_MODEL_BYTES: usize = 128;

/// A model is `provider/name` of a known provider, at most [`MAX_MODEL_BYTES`], in the
/// characters model names use (letters, digits, `.`, `_`, `-`, `:`, `/`, `@`, `+`): it is
/// shown in the Temporal UI and logs, and must never carry markup or control characters.
pub(crate) fn validate_model(model: &str) -> Result<(), ApiError> {
    if model.len() > MAX_MODEL_BYTES {
        return Err(ApiError::invalid(
            "model",
            format!("longer than {MAX_MODEL_BYTES} bytes"),
        ));
    }
    if let Some(bad) = model
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._-:/@+".contains(*c)))
    {
        return Err(ApiError::invalid(
            "model",
            format!("{bad:?} is not allowed; use letters, digits and . _ - : / @ +"),
        ));
    }
    split_model(model).map_err(|e| ApiError::invalid("model", e))?;
    Ok(())
}

/// Agent names and workspace slugs appear in URLs, workflow ids, search attributes and logs:
/// keep them plain.
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

/// The stored tools of an agent, as the workflow sees them (no secrets: `ToolSpec` has no
/// field for them, so they never enter workflow history).
pub(crate) fn stored_tools(agent: &Agent) -> Result<Vec<ToolSpec>, ApiError> {
    serde_json::from_str(&agent.tools)
        .map_err(|e| ApiError::Internal(format!("agent {} has corrupt tools: {e}", agent.id)))
}

/// Limits and settings, stored together as one JSON object.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct StoredLimits {
    #[serde(flatten)]
    limits: AgentLimits,
    #[serde(flatten)]
    settings: AgentSettings,
}

fn stored(agent: &Agent) -> Result<StoredLimits, ApiError> {
    serde_json::from_str(&agent.limits)
        .map_err(|e| ApiError::Internal(format!("agent {} has corrupt limits: {e}", agent.id)))
}

pub(crate) fn stored_limits(agent: &Agent) -> Result<AgentLimits, ApiError> {
    Ok(stored(agent)?.limits)
}

pub(crate) fn stored_settings(agent: &Agent) -> Result<AgentSettings, ApiError> {
    Ok(stored(agent)?.settings)
}

/// A tool as stored: webhook secrets included.
#[derive(Debug, Deserialize)]
struct StoredTool {
    name: String,
    #[serde(default)]
    requires_approval: bool,
    #[serde(default)]
    kind: ToolType,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    input_schema: Option<Value>,
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ToolType {
    #[default]
    Builtin,
    Webhook,
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
    /// Webhook tools only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    description: Option<String>,
    /// Webhook tools only: the input's JSON schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, nullable = false)]
    input_schema: Option<Value>,
    /// Webhook tools only: whether calls are signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    has_secret: Option<bool>,
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
    created_at: String,
    updated_at: String,
}

/// A page of agents, by name.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentList {
    agents: Vec<AgentView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AgentListQuery {
    /// Agents per page, 1 to 100 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    cursor: Option<String>,
}

fn view(agent: &Agent) -> Result<AgentView, ApiError> {
    let tools: Vec<StoredTool> = serde_json::from_str(&agent.tools)
        .map_err(|e| ApiError::Internal(format!("agent {} has corrupt tools: {e}", agent.id)))?;
    let tools = tools
        .into_iter()
        .map(|tool| ToolView {
            // Secrets are write-only: a webhook tool shows only whether it has one.
            has_secret: (tool.kind == ToolType::Webhook).then_some(tool.secret.is_some()),
            name: tool.name,
            requires_approval: tool.requires_approval,
            kind: tool.kind,
            url: tool.url,
            description: tool.description,
            input_schema: tool.input_schema,
        })
        .collect();
    let StoredLimits { limits, settings } = stored(agent)?;
    Ok(AgentView {
        name: agent.name.clone(),
        model: agent.model.clone(),
        system_prompt: agent.system_prompt.clone(),
        tools,
        limits,
        await_input: settings.await_input,
        max_output_tokens: settings.max_output_tokens,
        created_at: rfc3339(agent.created_at),
        updated_at: rfc3339(agent.updated_at),
    })
}

/// Creates an agent.
#[utoipa::path(
    post,
    path = "/v1/agents",
    tag = "agents",
    operation_id = "create_agent",
    security(("bearer" = [])),
    request_body = CreateAgent,
    responses(
        (status = 201, description = "The agent.", body = AgentView,
            links(
                ("GetAgent" = (operation_id = "get_agent", parameters(("name" = "$response.body#/name")))),
                ("UpdateAgent" = (operation_id = "update_agent", parameters(("name" = "$response.body#/name")))),
            )),
        (status = 400, description = "`invalid_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only.", body = ErrorBody),
        (status = 409, description = "`agent_exists`: the workspace has an agent of this name; `agent_limit`: it has its tier's number of agents.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named (an unknown provider or tool included).", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<CreateAgent>,
) -> Result<impl IntoResponse, ApiError> {
    let ValidAgent {
        name,
        model,
        system_prompt,
        tools,
        limits,
        settings,
    } = body.validate()?;
    let tools_json =
        serde_json::to_string(&tools).map_err(|e| ApiError::Internal(e.to_string()))?;
    let limits_json = serde_json::to_string(&StoredLimits { limits, settings })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let max_agents = state
        .tiers
        .limits(
            &tenant.workspace.tier,
            tenant.workspace.quota_overrides.as_deref(),
        )
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .agents
        .map(|n| n.min(i64::MAX as u64) as i64);
    let agent = state
        .store
        .create_agent(
            &tenant.workspace.id,
            NewAgent {
                name: &name,
                model: &model,
                system_prompt: &system_prompt,
                tools: &tools_json,
                limits: &limits_json,
            },
            max_agents,
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: "agent_exists",
                message: format!("an agent named {name:?} already exists in this workspace"),
            },
            StoreError::LimitReached { limit, .. } => ApiError::Conflict {
                code: "agent_limit",
                message: format!(
                    "the workspace already has its tier's {limit} agents; delete one first"
                ),
            },
            other => other.into(),
        })?;
    audit_agent(&state, &tenant, "agent.create", &agent).await?;
    Ok((StatusCode::CREATED, axum::Json(view(&agent)?)))
}

async fn audit_agent(
    state: &AppState,
    tenant: &Tenant,
    action: &str,
    agent: &Agent,
) -> Result<(), ApiError> {
    state
        .store
        .audit(NewAudit {
            workspace_id: Some(&tenant.workspace.id),
            actor: &tenant.actor,
            action,
            target: Some(&agent.name),
            data: &json!({ "model": agent.model }).to_string(),
            ip: None,
        })
        .await?;
    Ok(())
}

/// `PUT /v1/agents/{name}`: replaces the agent's definition. Runs already submitted keep the
/// snapshot they started with.
#[utoipa::path(
    put,
    path = "/v1/agents/{name}",
    tag = "agents",
    operation_id = "update_agent",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The agent's name.")),
    request_body = CreateAgent,
    responses(
        (status = 200, description = "The agent as it is now.", body = AgentView),
        (status = 400, description = "`invalid_json`: the body is not JSON.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only.", body = ErrorBody),
        (status = 404, description = "`agent_not_found`.", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over 1 MiB.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named (an unknown provider or tool included).", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(path_name): Path<String>,
    Json(body): Json<CreateAgent>,
) -> Result<impl IntoResponse, ApiError> {
    if body.name != path_name {
        return Err(ApiError::invalid(
            "name",
            "must be the agent's name in the path (agents cannot be renamed)",
        ));
    }
    let ValidAgent {
        name,
        model,
        system_prompt,
        tools,
        limits,
        settings,
    } = body.validate()?;
    let tools_json =
        serde_json::to_string(&tools).map_err(|e| ApiError::Internal(e.to_string()))?;
    let limits_json = serde_json::to_string(&StoredLimits { limits, settings })
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let agent = state
        .store
        .update_agent(
            &tenant.workspace.id,
            NewAgent {
                name: &name,
                model: &model,
                system_prompt: &system_prompt,
                tools: &tools_json,
                limits: &limits_json,
            },
        )
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&name))?;
    audit_agent(&state, &tenant, "agent.update", &agent).await?;
    Ok(axum::Json(view(&agent)?))
}

/// `DELETE /v1/agents/{name}`: runs already submitted keep the snapshot they started with.
#[utoipa::path(
    delete,
    path = "/v1/agents/{name}",
    tag = "agents",
    operation_id = "delete_agent",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The agent's name.")),
    responses(
        (status = 204, description = "The agent is deleted."),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins only.", body = ErrorBody),
        (status = 404, description = "`agent_not_found`.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let agent = state
        .store
        .agent(&tenant.workspace.id, &name)
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&name))?;
    if !state
        .store
        .delete_agent(&tenant.workspace.id, &name)
        .await?
    {
        return Err(ApiError::agent_not_found(&name));
    }
    audit_agent(&state, &tenant, "agent.delete", &agent).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the workspace's agents by name, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/agents",
    tag = "agents",
    operation_id = "list_agents",
    security(("bearer" = [])),
    params(AgentListQuery),
    responses(
        (status = 200, description = "A page of agents.", body = AgentList),
        (status = 422, description = "`invalid_request`: a bad or unknown query parameter, named.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<AgentListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let page = Page::parse(
        query.limit.as_deref(),
        query.cursor.as_deref(),
        PageRules {
            default: 50,
            max: 100,
            cursor: CursorShape::Name,
        },
    )?;
    let agents = state
        .store
        .list_agents(&tenant.workspace.id, page.cursor.as_deref(), page.limit)
        .await?;
    let next_cursor = page.next_cursor(&agents, |a| a.name.clone());
    let agents = agents.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(AgentList {
        agents,
        next_cursor,
    }))
}

/// Reads an agent.
#[utoipa::path(
    get,
    path = "/v1/agents/{name}",
    tag = "agents",
    operation_id = "get_agent",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The agent's name.")),
    responses(
        (status = 200, description = "The agent.", body = AgentView),
        (status = 401, description = "`unauthorized`: missing or invalid credentials.", body = ErrorBody),
        (status = 403, description = "`forbidden`: admins and members only.", body = ErrorBody),
        (status = 404, description = "`agent_not_found`.", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the workspace's request limit.", body = ErrorBody),
        (status = 500, description = "`internal`.", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let agent = state
        .store
        .agent(&tenant.workspace.id, &name)
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&name))?;
    Ok(axum::Json(view(&agent)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_are_plain() {
        for good in ["demo", "a", "support-bot_2", "0x"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "Demo", "-x", "a b", "a/b", &"a".repeat(65), "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

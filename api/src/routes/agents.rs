//! `/v1/agents`: a workspace's agent profiles.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use longrun_activities::models::split_model;
use longrun_activities::tools::BUILTIN_TOOLS;
use longrun_store::{Agent, NewAgent, StoreError};
use longrun_workflows::payloads::ToolSpec;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::rfc3339;

pub(crate) const MAX_SYSTEM_PROMPT_BYTES: usize = 64 * 1024;
const MAX_TOOLS: usize = 32;
pub(crate) const MAX_STEPS_LIMIT: u32 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateAgent {
    name: String,
    model: String,
    #[serde(default)]
    system_prompt: String,
    #[serde(default)]
    tools: Vec<ToolItem>,
    #[serde(default)]
    limits: AgentLimits,
}

/// A tool as written in a request: a bare name, or an object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ToolItem {
    Name(String),
    Spec(ToolObject),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToolObject {
    name: String,
    #[serde(default)]
    requires_approval: bool,
}

/// Per-agent defaults for a run's budget.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AgentLimits {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_steps: Option<u32>,
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

impl CreateAgent {
    fn validate(self) -> Result<(String, String, String, Vec<ToolSpec>, AgentLimits), ApiError> {
        if !valid_name(&self.name) {
            return Err(ApiError::invalid(
                "name",
                "1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ));
        }
        split_model(&self.model).map_err(|e| ApiError::invalid("model", e))?;
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
        let mut tools: Vec<ToolSpec> = Vec::with_capacity(self.tools.len());
        for (index, item) in self.tools.into_iter().enumerate() {
            let spec = match item {
                ToolItem::Name(name) => ToolSpec {
                    name,
                    requires_approval: false,
                },
                ToolItem::Spec(object) => ToolSpec {
                    name: object.name,
                    requires_approval: object.requires_approval,
                },
            };
            if !BUILTIN_TOOLS.contains(&spec.name.as_str()) {
                return Err(ApiError::invalid(
                    &format!("tools[{index}]"),
                    format!(
                        "unknown tool {:?}; built-in tools are: {}",
                        spec.name,
                        BUILTIN_TOOLS.join(", ")
                    ),
                ));
            }
            if tools.iter().any(|t| t.name == spec.name) {
                return Err(ApiError::invalid(
                    &format!("tools[{index}]"),
                    format!("tool {:?} is listed twice", spec.name),
                ));
            }
            tools.push(spec);
        }
        if let Some(steps) = self.limits.max_steps
            && !(1..=MAX_STEPS_LIMIT).contains(&steps)
        {
            return Err(ApiError::invalid(
                "limits.max_steps",
                format!("must be between 1 and {MAX_STEPS_LIMIT}"),
            ));
        }
        Ok((
            self.name,
            self.model,
            self.system_prompt,
            tools,
            self.limits,
        ))
    }
}

/// The stored tools of an agent, as the workflow sees them.
pub(crate) fn stored_tools(agent: &Agent) -> Result<Vec<ToolSpec>, ApiError> {
    serde_json::from_str(&agent.tools)
        .map_err(|e| ApiError::Internal(format!("agent {} has corrupt tools: {e}", agent.id)))
}

pub(crate) fn stored_limits(agent: &Agent) -> Result<AgentLimits, ApiError> {
    serde_json::from_str(&agent.limits)
        .map_err(|e| ApiError::Internal(format!("agent {} has corrupt limits: {e}", agent.id)))
}

fn view(agent: &Agent) -> Result<Value, ApiError> {
    Ok(json!({
        "name": agent.name,
        "model": agent.model,
        "system_prompt": agent.system_prompt,
        "tools": stored_tools(agent)?,
        "limits": stored_limits(agent)?,
        "created_at": rfc3339(agent.created_at),
        "updated_at": rfc3339(agent.updated_at),
    }))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<CreateAgent>,
) -> Result<impl IntoResponse, ApiError> {
    let (name, model, system_prompt, tools, limits) = body.validate()?;
    let tools_json =
        serde_json::to_string(&tools).map_err(|e| ApiError::Internal(e.to_string()))?;
    let limits_json =
        serde_json::to_string(&limits).map_err(|e| ApiError::Internal(e.to_string()))?;
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
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: "agent_exists",
                message: format!("an agent named {name:?} already exists in this workspace"),
            },
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, axum::Json(view(&agent)?)))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let agents = state.store.list_agents(&tenant.workspace.id).await?;
    let views = agents.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(axum::Json(json!({ "agents": views })))
}

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

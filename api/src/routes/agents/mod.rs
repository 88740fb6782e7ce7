//! `/v1/agents`: a workspace's agent profiles. What a client writes and reads, and how it is
//! checked, is in [`document`]; the handlers here store, list and audit.

pub(crate) mod document;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use longrun_store::Agent;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::page::{CursorShape, Paged, listing};

pub(crate) use document::{
    AgentLimits, AgentView, CreateAgent, ValidAgent, validate_output_schema,
};

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
listing!(AgentListQuery, default 50, max 100, CursorShape::Name);

/// Creates an agent.
#[utoipa::path(
    post,
    path = "/v1/agents",
    operation_id = "create_agent",
    request_body = CreateAgent,
    responses(
        (status = 201, description = "The agent.", body = AgentView,
            links(
                ("GetAgent" = (operation_id = "get_agent", parameters(("name" = "$response.body#/name")))),
                ("UpdateAgent" = (operation_id = "update_agent", parameters(("name" = "$response.body#/name")))),
            )),
        (status = 409, description = "`agent_exists`: the workspace has an agent of this name; `agent_limit`: it has its tier's number of agents.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named (an unknown provider or tool included).", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<CreateAgent>,
) -> Result<impl IntoResponse, ApiError> {
    let mut agent = ValidAgent::try_from(body)?;
    crate::routes::mcp_servers::expand_agent_tools(&state, &tenant.workspace.id, &mut agent.tools)
        .await?;
    let max_agents = tenant
        .limits(&state)?
        .agents
        .map(|n| n.min(i64::MAX as u64) as i64);
    let name = agent.name.clone();
    let agent = state
        .store
        .create_agent(&tenant.workspace.id, agent.document(), max_agents)
        .await
        .map_err(|e| {
            let taken = format!("an agent named {name:?} already exists in this workspace");
            ApiError::creation(
                e,
                ("agent_exists", taken),
                ("agent_limit", |limit| {
                    format!("the workspace already has its tier's {limit} agents; delete one first")
                }),
            )
        })?;
    audit_agent(&state, &tenant, "agent.create", &agent).await?;
    Ok((StatusCode::CREATED, axum::Json(AgentView::from(&agent))))
}

/// The workspace's agent of this name, or 404 `agent_not_found`.
async fn find(state: &AppState, tenant: &Tenant, name: &str) -> Result<Agent, ApiError> {
    state
        .store
        .agent(&tenant.workspace.id, name)
        .await?
        .ok_or_else(|| ApiError::agent_not_found(name))
}

async fn audit_agent(
    state: &AppState,
    tenant: &Tenant,
    action: &str,
    agent: &Agent,
) -> Result<(), ApiError> {
    tenant
        .audit(
            state,
            action,
            Some(agent.name.as_str()),
            &json!({ "model": agent.model }).to_string(),
        )
        .await?;
    Ok(())
}

/// `PUT /v1/agents/{name}`: replaces the agent's definition. Runs already submitted keep the
/// snapshot they started with.
#[utoipa::path(
    put,
    path = "/v1/agents/{name}",
    operation_id = "update_agent",
    params(("name" = String, Path, description = "The agent's name.")),
    request_body = CreateAgent,
    responses(
        (status = 200, description = "The agent as it is now.", body = AgentView),
        (status = 422, description = "`invalid_request`: a missing, unknown, mistyped or invalid field, named (an unknown provider or tool included).", body = ErrorBody),
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
    let mut agent = ValidAgent::try_from(body)?;
    crate::routes::mcp_servers::expand_agent_tools(&state, &tenant.workspace.id, &mut agent.tools)
        .await?;
    let agent = state
        .store
        .update_agent(&tenant.workspace.id, agent.document())
        .await?
        .ok_or_else(|| ApiError::agent_not_found(&path_name))?;
    audit_agent(&state, &tenant, "agent.update", &agent).await?;
    Ok(axum::Json(AgentView::from(&agent)))
}

/// `DELETE /v1/agents/{name}`: runs already submitted keep the snapshot they started with.
#[utoipa::path(
    delete,
    path = "/v1/agents/{name}",
    operation_id = "delete_agent",
    params(("name" = String, Path, description = "The agent's name.")),
    responses((status = 204, description = "The agent is deleted.")),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let agent = find(&state, &tenant, &name).await?;
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
    operation_id = "list_agents",
    params(AgentListQuery),
    responses((status = 200, description = "A page of agents.", body = AgentList)),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Paged { page, .. }: Paged<AgentListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let agents = state
        .store
        .list_agents(&tenant.workspace.id, page.cursor.as_deref(), page.limit)
        .await?;
    let next_cursor = page.next_cursor(&agents, |a| a.name.to_string());
    let agents = agents.iter().map(AgentView::from).collect();
    Ok(axum::Json(AgentList {
        agents,
        next_cursor,
    }))
}

/// Reads an agent.
#[utoipa::path(
    get,
    path = "/v1/agents/{name}",
    operation_id = "get_agent",
    params(("name" = String, Path, description = "The agent's name.")),
    responses((status = 200, description = "The agent.", body = AgentView)),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let agent = find(&state, &tenant, &name).await?;
    Ok(axum::Json(AgentView::from(&agent)))
}

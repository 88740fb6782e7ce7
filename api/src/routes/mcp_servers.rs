//! `/v1/mcp-servers`: a workspace's MCP servers (streamable HTTP) and the tools discovered on
//! them, and the expansion of agents' `{"type": "mcp"}` tool items into those tools.
//!
//! The API talks to no MCP server itself (it links no HTTP client): discovery runs on a worker
//! through `McpDiscoveryWorkflow`, behind the same egress guard as the `http_fetch` tool.
//! Header values are write-only: stored, sent to the server, never shown (views list header
//! names only), never put in workflow history.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use longrun_store::{AgentTool, McpSelection, McpServer, McpToolUse, NewMcpServer};
use longrun_workflows::payloads::McpDiscoveryRequest;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::routes::rfc3339;

/// Most MCP servers of one workspace.
pub(crate) const MAX_SERVERS_PER_WORKSPACE: i64 = 20;
/// Longest server name: `<server>__<tool>` must fit providers' 64-character tool names.
const MAX_SERVER_NAME: usize = 32;
const MAX_URL_BYTES: usize = 2048;
const MAX_HEADERS: usize = 16;
const MAX_HEADER_NAME_BYTES: usize = 128;
const MAX_HEADER_VALUE_BYTES: usize = 4096;
/// Most tools one agent declares to the model, MCP tools included.
pub(crate) const MAX_AGENT_TOOLS: usize = 128;
/// Most tool names in one item's `tools` list.
pub(crate) const MAX_SELECTED_TOOLS: usize = 128;
/// Time a discovery may take on the worker (handshake and every page).
const DISCOVERY_TIMEOUT_S: u64 = 20;
/// Headers the transport sets itself.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "host",
    "connection",
    "transfer-encoding",
    "mcp-session-id",
    "mcp-protocol-version",
];

/// An MCP server to register (`POST /v1/mcp-servers`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateMcpServer {
    /// 1 to 32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit.
    #[schema(pattern = "^[a-z0-9][a-z0-9_-]{0,31}$", example = "tickets")]
    name: String,
    /// The server's streamable HTTP endpoint: an http(s) URL of at most 2048 bytes. The
    /// same egress rules as the `http_fetch` tool apply (private, loopback, link-local and
    /// metadata addresses are refused unless the operator allowlisted them).
    #[schema(max_length = 2048, example = "https://mcp.example.com/mcp")]
    url: String,
    /// Sent with every request (e.g. `Authorization`): at most 16, names of at most 128
    /// bytes, values of at most 4096. Write-only: never shown again.
    #[serde(default)]
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    headers: Option<BTreeMap<String, String>>,
}

/// A tool discovered on an MCP server.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpToolView {
    /// The tool's name on the server.
    name: String,
    description: String,
    #[schema(value_type = Object)]
    input_schema: Value,
    /// SHA-256 of the definition (name, description, input schema), hex.
    hash: String,
}

/// An MCP server as clients see it: header names only, never their values.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpServerView {
    name: String,
    url: String,
    /// Names of the headers sent with each request (their values are write-only).
    header_names: Vec<String>,
    /// The tools of the last successful discovery.
    tools: Vec<McpToolView>,
    /// Counts the discoveries that changed the tool list.
    tools_version: i64,
    /// A run found a tool's definition changed (or gone) since its agent was saved: refresh
    /// the server and save the agents that use it again.
    needs_refresh: bool,
    /// Why the last discovery failed, if it did.
    #[schema(required = true)]
    last_error: Option<String>,
    #[schema(required = true)]
    discovered_at: Option<String>,
    created_at: String,
    updated_at: String,
}

/// The workspace's MCP servers, by name.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct McpServerList {
    mcp_servers: Vec<McpServerView>,
}

impl From<&McpServer> for McpServerView {
    fn from(server: &McpServer) -> Self {
        McpServerView {
            name: server.name.clone(),
            url: server.url.clone(),
            header_names: server
                .headers
                .iter()
                .map(|(name, _)| name.clone())
                .collect(),
            tools: server
                .tools
                .iter()
                .map(|tool| McpToolView {
                    name: tool.name.clone(),
                    description: tool.description.clone(),
                    input_schema: tool.input_schema.clone(),
                    hash: tool.hash.clone(),
                })
                .collect(),
            tools_version: server.tools_version,
            needs_refresh: server.needs_refresh,
            last_error: server.last_error.clone(),
            discovered_at: server.discovered_at.map(rfc3339),
            created_at: rfc3339(server.created_at),
            updated_at: rfc3339(server.updated_at),
        }
    }
}

fn valid_server_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_SERVER_NAME
        && bytes[0].is_ascii_alphanumeric()
        && !bytes[0].is_ascii_uppercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_' || *b == b'-')
}

/// A header name as RFC 9110 allows it (a token).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_HEADER_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A registration that passed its checks.
struct ValidServer {
    name: String,
    url: String,
    headers: Vec<(String, String)>,
}

fn validate(body: CreateMcpServer) -> Result<ValidServer, ApiError> {
    if !valid_server_name(&body.name) {
        return Err(ApiError::invalid(
            "name",
            "1 to 32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
        ));
    }
    let url = body.url.trim();
    let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
    if !scheme_ok || url.len() > MAX_URL_BYTES || url.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid(
            "url",
            format!("an http(s) URL of at most {MAX_URL_BYTES} bytes"),
        ));
    }
    let headers = body.headers.unwrap_or_default();
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid(
            "headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut checked = Vec::with_capacity(headers.len());
    let mut seen = Vec::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        // The name may be echoed; the value never is.
        let field = format!("headers.{}", name.chars().take(64).collect::<String>());
        if !valid_header_name(&name) {
            return Err(ApiError::invalid(
                &field,
                format!("a header name (token) of 1 to {MAX_HEADER_NAME_BYTES} bytes"),
            ));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(ApiError::invalid(&field, "set by the transport itself"));
        }
        if seen.contains(&lower) {
            return Err(ApiError::invalid(&field, "given twice"));
        }
        let value_ok = value.len() <= MAX_HEADER_VALUE_BYTES
            && value
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
        if !value_ok {
            return Err(ApiError::invalid(
                &field,
                format!("a value of at most {MAX_HEADER_VALUE_BYTES} visible ASCII characters"),
            ));
        }
        seen.push(lower);
        checked.push((name, value));
    }
    Ok(ValidServer {
        name: body.name,
        url: url.to_string(),
        headers: checked,
    })
}

fn server_not_found(name: &str) -> ApiError {
    ApiError::NotFound {
        code: "mcp_server_not_found",
        message: format!("no MCP server named {name:?} in this workspace"),
    }
}

/// How a discovery went.
enum Discovery {
    /// The tools are stored with the server.
    Done,
    /// The egress guard refused the server's address.
    Refused(String),
    /// The server could not be reached or did not answer as an MCP server.
    Failed(String),
}

/// Runs a discovery on a worker.
async fn discover(
    state: &AppState,
    workspace_id: &str,
    server: &str,
) -> Result<Discovery, ApiError> {
    let outcome = state
        .scheduler
        .discover_mcp(McpDiscoveryRequest {
            workspace_id: workspace_id.to_string(),
            server: server.to_string(),
            timeout_s: DISCOVERY_TIMEOUT_S,
        })
        .await?;
    if outcome.missing {
        return Err(server_not_found(server));
    }
    Ok(match outcome.error {
        None => Discovery::Done,
        Some(error) if outcome.refused => Discovery::Refused(error),
        Some(error) => Discovery::Failed(error),
    })
}

async fn find(state: &AppState, tenant: &Tenant, name: &str) -> Result<McpServer, ApiError> {
    state
        .store
        .mcp_server(&tenant.workspace.id, name)
        .await?
        .ok_or_else(|| server_not_found(name))
}

/// Registers an MCP server and discovers its tools.
#[utoipa::path(
    post,
    path = "/v1/mcp-servers",
    operation_id = "create_mcp_server",
    request_body = CreateMcpServer,
    responses(
        (status = 201, description = "The server with its discovered tools.", body = McpServerView),
        (status = 409, description = "`mcp_server_exists`: the name is taken; `mcp_server_limit`: the workspace has its 20 servers.", body = ErrorBody),
        (status = 422, description = "`invalid_request`: a missing or invalid field, named; `url` also when the egress rules refuse the address or the server does not answer as an MCP server.", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`: discovery runs on a worker, through Temporal.", body = ErrorBody),
    ),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<CreateMcpServer>,
) -> Result<impl IntoResponse, ApiError> {
    let ValidServer { name, url, headers } = validate(body)?;
    let workspace_id = &tenant.workspace.id;
    let new = NewMcpServer {
        name: &name,
        url: &url,
        headers: &headers,
    };
    state
        .store
        .create_mcp_server(workspace_id, new, MAX_SERVERS_PER_WORKSPACE)
        .await
        .map_err(|e| {
            let taken = format!("an MCP server named {name:?} already exists in this workspace");
            ApiError::creation(
                e,
                ("mcp_server_exists", taken),
                ("mcp_server_limit", |limit| {
                    format!("the workspace already has its {limit} MCP servers")
                }),
            )
        })?;
    // A server is kept only if it answers: its tools are what agents are checked against.
    let discovered = discover(&state, workspace_id, &name).await;
    let problem = match discovered {
        Ok(Discovery::Done) => None,
        Ok(Discovery::Refused(error)) => Some(ApiError::invalid("url", error)),
        Ok(Discovery::Failed(error)) => Some(ApiError::invalid(
            "url",
            format!("the MCP server could not be used: {error}"),
        )),
        Err(err) => Some(err),
    };
    if let Some(problem) = problem {
        state.store.delete_mcp_server(workspace_id, &name).await?;
        return Err(problem);
    }
    let server = find(&state, &tenant, &name).await?;
    tenant
        .audit(
            &state,
            "mcp_server.create",
            Some(name.as_str()),
            &json!({ "url": server.url, "header_names": McpServerView::from(&server).header_names })
                .to_string(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(McpServerView::from(&server)),
    ))
}

/// Lists the workspace's MCP servers (never their header values).
#[utoipa::path(
    get,
    path = "/v1/mcp-servers",
    operation_id = "list_mcp_servers",
    responses((status = 200, description = "Every MCP server of the workspace (at most 20).", body = McpServerList)),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let servers = state
        .store
        .list_mcp_servers(&tenant.workspace.id, MAX_SERVERS_PER_WORKSPACE)
        .await?;
    Ok(axum::Json(McpServerList {
        mcp_servers: servers.iter().map(McpServerView::from).collect(),
    }))
}

/// One MCP server with its discovered tools.
#[utoipa::path(
    get,
    path = "/v1/mcp-servers/{name}",
    operation_id = "get_mcp_server",
    params(("name" = String, Path, description = "The server's name.")),
    responses((status = 200, description = "The server.", body = McpServerView)),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let server = find(&state, &tenant, &name).await?;
    Ok(axum::Json(McpServerView::from(&server)))
}

/// Removes an MCP server. Agents saved with its tools keep them; their calls become error
/// results until the agents are saved without them.
#[utoipa::path(
    delete,
    path = "/v1/mcp-servers/{name}",
    operation_id = "delete_mcp_server",
    params(("name" = String, Path, description = "The server's name.")),
    responses((status = 204, description = "Removed.")),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if !state
        .store
        .delete_mcp_server(&tenant.workspace.id, &name)
        .await?
    {
        return Err(server_not_found(&name));
    }
    tenant
        .audit(&state, "mcp_server.delete", Some(name.as_str()), "{}")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Discovers the server's tools again (clearing `needs_refresh`). Agents keep the tools they
/// were saved with until they are saved again.
#[utoipa::path(
    post,
    path = "/v1/mcp-servers/{name}/refresh",
    operation_id = "refresh_mcp_server",
    params(("name" = String, Path, description = "The server's name.")),
    responses(
        (status = 200, description = "The server with its tools as discovered now.", body = McpServerView),
        (status = 502, description = "`mcp_server_failed`: the server could not be reached or did not answer as an MCP server (the message says why; `last_error` keeps it).", body = ErrorBody),
        (status = 503, description = "`scheduler_unavailable`.", body = ErrorBody),
    ),
)]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    find(&state, &tenant, &name).await?;
    match discover(&state, &tenant.workspace.id, &name).await? {
        Discovery::Done => {}
        Discovery::Refused(error) | Discovery::Failed(error) => {
            return Err(ApiError::BadGateway {
                code: "mcp_server_failed",
                message: error,
            });
        }
    }
    let server = find(&state, &tenant, &name).await?;
    Ok(axum::Json(McpServerView::from(&server)))
}

/// The name the model calls an MCP tool by: `<server>__<tool>`, with characters providers
/// refuse replaced by `_`; when that changed the name or made it longer than 64 characters,
/// it is shortened and keeps the first 8 hex digits of the remote name's SHA-256, so distinct
/// remote names stay distinct and the same one always maps to the same name.
pub(crate) fn model_name(server: &str, tool: &str) -> String {
    let clean: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let plain = format!("{server}__{clean}");
    if clean == tool && plain.len() <= 64 {
        return plain;
    }
    let digest = hex::encode(Sha256::digest(tool.as_bytes()));
    let room = 64 - server.len() - 2 - 9;
    let kept: String = clean.chars().take(room).collect();
    format!("{server}__{kept}_{}", &digest[..8])
}

/// Expands an agent's MCP items into the tools they name, discovering each server they use
/// first. Unknown servers and tools, and names that collide, are 422s naming the field.
pub(crate) async fn expand_agent_tools(
    state: &AppState,
    workspace_id: &str,
    tools: &mut [AgentTool],
) -> Result<(), ApiError> {
    let mut servers: BTreeMap<String, McpServer> = BTreeMap::new();
    for (index, tool) in tools.iter_mut().enumerate() {
        let AgentTool::Mcp(set) = tool else {
            continue;
        };
        let field = format!("tools[{index}].server");
        if !servers.contains_key(&set.server) {
            let unknown = || {
                ApiError::invalid(
                    &field,
                    format!("no MCP server named {:?} in this workspace", set.server),
                )
            };
            if state
                .store
                .mcp_server(workspace_id, &set.server)
                .await?
                .is_none()
            {
                return Err(unknown());
            }
            match discover(state, workspace_id, &set.server).await {
                Ok(Discovery::Done) => {}
                Ok(Discovery::Refused(error) | Discovery::Failed(error)) => {
                    return Err(ApiError::invalid(
                        &field,
                        format!("the MCP server {:?} could not be used: {error}", set.server),
                    ));
                }
                Err(ApiError::NotFound { .. }) => return Err(unknown()),
                Err(other) => return Err(other),
            }
            let server = state
                .store
                .mcp_server(workspace_id, &set.server)
                .await?
                .ok_or_else(unknown)?;
            servers.insert(set.server.clone(), server);
        }
        let server = &servers[&set.server];
        let chosen: Vec<&longrun_store::McpToolDefinition> = match &set.selection {
            McpSelection::All => server.tools.iter().collect(),
            McpSelection::Names(names) => {
                let mut chosen = Vec::with_capacity(names.len());
                for (at, name) in names.iter().enumerate() {
                    let found = server
                        .tools
                        .iter()
                        .find(|t| &t.name == name)
                        .ok_or_else(|| {
                            ApiError::invalid(
                                &format!("tools[{index}].tools[{at}]"),
                                format!("the MCP server {:?} has no tool {name:?}", set.server),
                            )
                        })?;
                    chosen.push(found);
                }
                chosen
            }
        };
        set.tools = chosen
            .into_iter()
            .map(|definition| McpToolUse {
                name: model_name(&set.server, &definition.name),
                tool: definition.name.clone(),
                description: definition.description.clone(),
                input_schema: definition.input_schema.clone(),
                hash: definition.hash.clone(),
            })
            .collect();
    }
    let mut names: Vec<&str> = Vec::new();
    for (index, tool) in tools.iter().enumerate() {
        for name in tool.model_names() {
            if names.contains(&name) {
                return Err(ApiError::invalid(
                    &format!("tools[{index}]"),
                    format!("a tool named {name:?} is declared twice"),
                ));
            }
            names.push(name);
        }
    }
    if names.len() > MAX_AGENT_TOOLS {
        return Err(ApiError::invalid(
            "tools",
            format!("more than {MAX_AGENT_TOOLS} tools once MCP servers' tools are counted"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_fit_provider_rules_and_stay_distinct() {
        assert_eq!(model_name("calc", "add"), "calc__add");
        let dotted = model_name("calc", "math.add");
        let slashed = model_name("calc", "math/add");
        assert_ne!(dotted, slashed);
        let long = model_name(&"s".repeat(32), &"t".repeat(100));
        for name in [&dotted, &slashed, &long] {
            assert!(name.len() <= 64, "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                "{name}"
            );
        }
        assert_eq!(long, model_name(&"s".repeat(32), &"t".repeat(100)));
    }

    #[test]
    fn registrations_are_checked_field_by_field() {
        let body = |name: &str, url: &str, headers: &[(&str, &str)]| CreateMcpServer {
            name: name.into(),
            url: url.into(),
            headers: Some(
                headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        };
        let error = |b| validate(b).err().expect("refused").to_string();
        assert!(error(body("Bad", "https://x.example", &[])).starts_with("name:"));
        assert!(error(body("ok", "ftp://x.example", &[])).starts_with("url:"));
        assert!(error(body("ok", "https://x", &[("Accept", "x")])).starts_with("headers.Accept:"));
        let bad_value = error(body("ok", "https://x", &[("X-Key", "a\r\nb")]));
        assert!(bad_value.starts_with("headers.X-Key:"), "{bad_value}");
        assert!(!bad_value.contains("a\r\nb"));
        let ValidServer { headers, .. } = validate(body(
            "ok",
            "https://x.example/mcp",
            &[("Authorization", "Bearer s")],
        ))
        .unwrap();
        assert_eq!(headers, vec![("Authorization".into(), "Bearer s".into())]);
    }
}

//! MCP servers' side of the activities: discovering a server's tools (for the API, through
//! `McpDiscoveryWorkflow`) and calling one of them in a run. The server's URL and headers
//! are read from the store at each use, so its secrets never travel through workflow history.
//!
//! A call opens a session, lists the server's tools and compares the called tool's definition
//! with the hash the agent was saved with: a tool that changed or vanished is not called (the
//! model would be sending input shaped for another definition), the server is flagged
//! `needs_refresh`, and the model gets an error result saying so.

use std::time::Duration;

use temporalio_sdk::activities::ActivityError;

use longrun_workflows::payloads::{
    McpDiscoveryOutcome, McpDiscoveryRequest, ToolOutcome, ToolRequest,
};

use super::AgentActivities;
use crate::errors::from_store;
use crate::tools::mcp::{Endpoint, McpError, Session};

/// What a call found instead of a result.
enum CallFailure {
    Mcp(McpError),
    /// The tool's definition differs from the agent's snapshot (or it is gone).
    Changed(String),
}

impl From<McpError> for CallFailure {
    fn from(err: McpError) -> Self {
        CallFailure::Mcp(err)
    }
}

impl AgentActivities {
    /// Discovers a server's tools and stores them; an unreachable or misbehaving server is an
    /// outcome with its error (also stored on the server), only a store fault fails.
    pub(super) async fn discover_mcp(
        &self,
        request: &McpDiscoveryRequest,
    ) -> Result<McpDiscoveryOutcome, ActivityError> {
        let workspace = &request.workspace_id;
        let Some(server) = self
            .store
            .mcp_server(workspace, &request.server)
            .await
            .map_err(from_store)?
        else {
            return Ok(McpDiscoveryOutcome {
                error: Some(format!("no MCP server {:?}", request.server)),
                refused: false,
                missing: true,
            });
        };
        let endpoint = Endpoint {
            url: &server.url,
            headers: &server.headers,
        };
        let timeout = Duration::from_secs(request.timeout_s.max(1));
        let discovered = tokio::time::timeout(timeout, async {
            let mut session = Session::open(
                &self.guarded_http,
                &self.settings.egress,
                endpoint,
                self.settings.mcp_timeout.min(timeout),
            )
            .await?;
            let tools = session.list_tools().await;
            session.close().await;
            tools
        })
        .await
        .unwrap_or_else(|_| {
            Err(McpError::Unreachable(format!(
                "no complete answer within {} s",
                timeout.as_secs()
            )))
        });
        match discovered {
            Ok(tools) => {
                let stored = self
                    .store
                    .record_mcp_discovery(workspace, &server.name, &tools)
                    .await
                    .map_err(from_store)?;
                Ok(McpDiscoveryOutcome {
                    error: None,
                    refused: false,
                    missing: stored.is_none(),
                })
            }
            Err(err) => {
                let message = err.to_string();
                tracing::info!(server = %server.name, error = %message, "MCP discovery failed");
                self.store
                    .record_mcp_failure(workspace, &server.name, &message)
                    .await
                    .map_err(from_store)?;
                Ok(McpDiscoveryOutcome {
                    error: Some(message),
                    refused: matches!(err, McpError::Refused(_)),
                    missing: false,
                })
            }
        }
    }

    /// One call of an MCP tool; every failure is an error result for the model.
    pub(super) async fn mcp_tool(&self, request: &ToolRequest) -> ToolOutcome {
        let run = &request.run;
        let tool = &request.tool;
        let (Some(server_name), Some(remote)) = (&tool.server, &tool.remote_name) else {
            return failed(format!("MCP tool {:?} names no server", tool.name));
        };
        let server = match self.store.mcp_server(&run.workspace_id, server_name).await {
            Ok(Some(server)) => server,
            Ok(None) => {
                return failed(format!(
                    "the MCP server {server_name:?} no longer exists in this workspace"
                ));
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot read an MCP server");
                return failed("the tool is unavailable right now".into());
            }
        };
        let endpoint = Endpoint {
            url: &server.url,
            headers: &server.headers,
        };
        let called = async {
            let mut session = Session::open(
                &self.guarded_http,
                &self.settings.egress,
                endpoint,
                self.settings.mcp_timeout,
            )
            .await?;
            let outcome = check_and_call(
                &mut session,
                remote,
                tool.definition_hash.as_deref(),
                &request.input,
            )
            .await;
            session.close().await;
            outcome
        }
        .await;
        match called {
            Ok(result) => ToolOutcome {
                content: result.content,
                is_error: result.is_error,
            },
            Err(CallFailure::Mcp(err)) => failed(err.to_string()),
            Err(CallFailure::Changed(why)) => {
                if let Err(err) = self
                    .store
                    .flag_mcp_refresh(&run.workspace_id, server_name)
                    .await
                {
                    tracing::warn!(error = %err, "cannot flag an MCP server for refresh");
                }
                failed(format!(
                    "{why}; the call was not made. The MCP server {server_name:?} needs a \
                     refresh (POST /v1/mcp-servers/{server_name}/refresh) and the agent must be \
                     saved again to use the new definition"
                ))
            }
        }
    }
}

/// Lists the server's tools, refuses a tool whose definition is not the snapshot's, calls it.
async fn check_and_call(
    session: &mut Session<'_>,
    remote: &str,
    hash: Option<&str>,
    input: &serde_json::Value,
) -> Result<crate::tools::mcp::CallResult, CallFailure> {
    let tools = session.list_tools().await?;
    match tools.iter().find(|t| t.name == remote) {
        None => {
            return Err(CallFailure::Changed(format!(
                "the MCP server no longer offers the tool {remote:?}"
            )));
        }
        Some(current) if hash.is_some_and(|hash| hash != current.hash) => {
            return Err(CallFailure::Changed(format!(
                "the MCP server's tool {remote:?} changed since the agent was saved"
            )));
        }
        Some(_) => {}
    }
    Ok(session.call_tool(remote, input).await?)
}

fn failed(content: String) -> ToolOutcome {
    ToolOutcome {
        content,
        is_error: true,
    }
}

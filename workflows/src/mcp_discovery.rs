//! `McpDiscoveryWorkflow`: discovers the tools of one MCP server of a workspace, for the API
//! (which links no HTTP client and so never talks to MCP servers itself) when a server is
//! registered or refreshed and when an agent that uses it is saved. One activity; the API
//! waits for the result.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{ActivityOptions, RetryPolicy, WorkflowContext, WorkflowResult};

use crate::contracts::DiscoverMcpTools;
use crate::payloads::{McpDiscoveryOutcome, McpDiscoveryRequest};

#[workflow]
#[derive(Default)]
pub struct McpDiscoveryWorkflow;

#[workflow_methods]
impl McpDiscoveryWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: McpDiscoveryRequest,
    ) -> WorkflowResult<McpDiscoveryOutcome> {
        // The activity answers an unreachable server with an outcome; only a store fault
        // fails an attempt, and a second one is worth a try while the API still waits.
        let timeout = Duration::from_secs(input.timeout_s.max(1) + 5);
        let summary = format!("discover the tools of MCP server {}", input.server);
        let outcome = ctx
            .execute_activity(
                DiscoverMcpTools,
                input,
                ActivityOptions::with_start_to_close_timeout(timeout)
                    .retry_policy(RetryPolicy::builder().maximum_attempts(2).build())
                    .summary(summary)
                    .build(),
            )
            .await?;
        Ok(outcome)
    }
}

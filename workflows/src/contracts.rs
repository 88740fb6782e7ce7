//! The activities the workflow calls, declared by name and payload types only. The
//! `activities` crate implements them (`#[activity(definition = …)]` checks that the types
//! match), so this crate never depends on code that does I/O.

use temporalio_workflow::common::ActivityDefinition;

use crate::payloads::{
    EventRequest, FinishRunRequest, LlmRequest, LlmResponse, McpDiscoveryOutcome,
    McpDiscoveryRequest, StartRunRequest, ToolOutcome, ToolRequest, WebhookRequest,
};

macro_rules! activity_contract {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $input:ty => $output:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $marker;

        impl $marker {
            pub const NAME: &'static str = $name;
        }

        impl ActivityDefinition for $marker {
            type Input = $input;
            type Output = $output;

            fn name(&self) -> &str {
                $name
            }
        }
    };
}

activity_contract!(
    /// Marks the run `running` and records `run.started` (a local activity: cheap, no server
    /// round trip of its own).
    StartRun, "start_run", StartRunRequest => ()
);
activity_contract!(
    /// One model turn: calls the provider, meters the tokens and the time, records
    /// `llm.completed`, and returns the complete message.
    LlmCall, "llm_call", LlmRequest => LlmResponse
);
activity_contract!(
    /// One tool call: validates, runs, meters, records `tool.started`/`tool.completed`.
    RunTool, "run_tool", ToolRequest => ToolOutcome
);
activity_contract!(
    /// Moves the run to a status and records the event that explains it (approval and input
    /// waits); a local activity.
    RecordEvent, "record_event", EventRequest => ()
);
activity_contract!(
    /// POSTs the finished run to the client's webhook URL, signed; retried with backoff.
    DeliverWebhook, "deliver_webhook", WebhookRequest => ()
);
activity_contract!(
    /// Aggregates one UTC day of the ledger (its start, epoch ms) into the daily rollup;
    /// returns the day's ledger rows.
    RollupDay, "rollup_day", i64 => i64
);
activity_contract!(
    /// Writes the run's end (status, result, error) and the terminal `run.completed` event.
    FinishRun, "finish_run", FinishRunRequest => ()
);
activity_contract!(
    /// Discovers an MCP server's tools (`initialize`, `tools/list`) and stores them with the
    /// server; a server that cannot be reached is an outcome with an error, not a failure.
    DiscoverMcpTools, "discover_mcp_tools", McpDiscoveryRequest => McpDiscoveryOutcome
);

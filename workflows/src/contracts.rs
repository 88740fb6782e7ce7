//! The activities the workflow calls, declared by name and payload types only. The
//! `activities` crate implements them (`#[activity(definition = …)]` checks that the types
//! match), so this crate never depends on code that does I/O.

use temporalio_workflow::common::ActivityDefinition;

use crate::payloads::{
    FinishRunRequest, LlmRequest, LlmResponse, StartRunRequest, ToolOutcome, ToolRequest,
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
    /// Writes the run's end (status, result, error) and the terminal `run.completed` event.
    FinishRun, "finish_run", FinishRunRequest => ()
);

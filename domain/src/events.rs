//! The kinds of run events: what `GET /v1/runs/{id}/events` sends as `event:`, what the
//! `run_events` table stores, what metrics count. One enum, so no kind is spelled twice.

use serde::{Deserialize, Serialize};

use crate::names::named_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "run.started")]
    RunStarted,
    /// Streaming text of a model turn: live only, never stored.
    #[serde(rename = "llm.delta")]
    LlmDelta,
    #[serde(rename = "llm.completed")]
    LlmCompleted,
    #[serde(rename = "llm.error")]
    LlmError,
    #[serde(rename = "tool.started")]
    ToolStarted,
    #[serde(rename = "tool.completed")]
    ToolCompleted,
    /// The model called a client-executed tool: the client runs it and posts the result.
    #[serde(rename = "tool.requested")]
    ToolRequested,
    #[serde(rename = "approval.requested")]
    ApprovalRequested,
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
    #[serde(rename = "input.requested")]
    InputRequested,
    #[serde(rename = "input.received")]
    InputReceived,
    #[serde(rename = "quota.alert")]
    QuotaAlert,
    #[serde(rename = "quota.paused")]
    QuotaPaused,
    #[serde(rename = "quota.resumed")]
    QuotaResumed,
    /// The model's provider failed (429, 5xx, a timeout): the call is tried again, and the run
    /// waits (`waiting_provider`) until it answers or the agent's outage tolerance runs out.
    #[serde(rename = "provider.retrying")]
    ProviderRetrying,
    /// The last event of every run.
    #[serde(rename = "run.completed")]
    RunCompleted,
}

named_enum!(EventKind::as_str {
    RunStarted => "run.started",
    LlmDelta => "llm.delta",
    LlmCompleted => "llm.completed",
    LlmError => "llm.error",
    ToolStarted => "tool.started",
    ToolCompleted => "tool.completed",
    ToolRequested => "tool.requested",
    ApprovalRequested => "approval.requested",
    ApprovalDecided => "approval.decided",
    InputRequested => "input.requested",
    InputReceived => "input.received",
    QuotaAlert => "quota.alert",
    QuotaPaused => "quota.paused",
    QuotaResumed => "quota.resumed",
    ProviderRetrying => "provider.retrying",
    RunCompleted => "run.completed",
} serde);

impl EventKind {
    /// The kinds a run's webhook may receive: the run's end, and the events after which it
    /// waits for a person (or for its quota).
    pub const WEBHOOK: [EventKind; 5] = [
        EventKind::ApprovalRequested,
        EventKind::ToolRequested,
        EventKind::InputRequested,
        EventKind::QuotaPaused,
        EventKind::RunCompleted,
    ];

    /// Whether events of this kind are stored (and replayable); `llm.delta` is live only.
    pub fn is_stored(self) -> bool {
        self != EventKind::LlmDelta
    }
}

/// Compares with a kind's wire name (`"run.completed"`).
impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_deltas_are_live_only() {
        assert!(!EventKind::LlmDelta.is_stored());
        assert!(EventKind::RunCompleted.is_stored());
    }
}

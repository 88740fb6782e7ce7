//! The kinds of run events: what `GET /v1/runs/{id}/events` sends as `event:`, what the
//! `run_events` table stores, what metrics count. One enum, so no kind is spelled twice.

use serde::{Deserialize, Serialize};

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

impl EventKind {
    pub const ALL: [EventKind; 16] = [
        EventKind::RunStarted,
        EventKind::LlmDelta,
        EventKind::LlmCompleted,
        EventKind::LlmError,
        EventKind::ToolStarted,
        EventKind::ToolCompleted,
        EventKind::ToolRequested,
        EventKind::ApprovalRequested,
        EventKind::ApprovalDecided,
        EventKind::InputRequested,
        EventKind::InputReceived,
        EventKind::QuotaAlert,
        EventKind::QuotaPaused,
        EventKind::QuotaResumed,
        EventKind::ProviderRetrying,
        EventKind::RunCompleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::RunStarted => "run.started",
            EventKind::LlmDelta => "llm.delta",
            EventKind::LlmCompleted => "llm.completed",
            EventKind::LlmError => "llm.error",
            EventKind::ToolStarted => "tool.started",
            EventKind::ToolCompleted => "tool.completed",
            EventKind::ToolRequested => "tool.requested",
            EventKind::ApprovalRequested => "approval.requested",
            EventKind::ApprovalDecided => "approval.decided",
            EventKind::InputRequested => "input.requested",
            EventKind::InputReceived => "input.received",
            EventKind::QuotaAlert => "quota.alert",
            EventKind::QuotaPaused => "quota.paused",
            EventKind::QuotaResumed => "quota.resumed",
            EventKind::ProviderRetrying => "provider.retrying",
            EventKind::RunCompleted => "run.completed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }

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

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names_and_serde_agrees() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!(!EventKind::LlmDelta.is_stored());
        assert!(EventKind::RunCompleted.is_stored());
    }
}

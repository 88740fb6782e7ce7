//! Run status: one enum that knows its names, which statuses hold a concurrency slot and
//! which never change again. The store derives its SQL lists from it; the API its schema.

use serde::{Deserialize, Serialize};

/// Run status, as stored, as shown to API clients, and as carried in workflow histories
/// (snake case: the serialised form is a wire format and never changes).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    #[default]
    Queued,
    Running,
    WaitingInput,
    WaitingApproval,
    PausedQuota,
    /// The model's provider is failing; the run waits it out (see `provider.retrying`).
    WaitingProvider,
    /// The model called a client-executed tool: the run waits for its result
    /// (`POST /v1/runs/{id}/tool-results`, see `tool.requested`).
    RequiresAction,
    Succeeded,
    Failed,
    Cancelled,
    BudgetExhausted,
    TimedOut,
}

impl RunStatus {
    pub const ALL: [RunStatus; 12] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::WaitingInput,
        RunStatus::WaitingApproval,
        RunStatus::PausedQuota,
        RunStatus::WaitingProvider,
        RunStatus::RequiresAction,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::BudgetExhausted,
        RunStatus::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::WaitingInput => "waiting_input",
            RunStatus::WaitingApproval => "waiting_approval",
            RunStatus::PausedQuota => "paused_quota",
            RunStatus::WaitingProvider => "waiting_provider",
            RunStatus::RequiresAction => "requires_action",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::BudgetExhausted => "budget_exhausted",
            RunStatus::TimedOut => "timed_out",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A terminal run never changes again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded
                | RunStatus::Failed
                | RunStatus::Cancelled
                | RunStatus::BudgetExhausted
                | RunStatus::TimedOut
        )
    }

    /// A run that is not terminal holds one of its workspace's concurrent-run slots.
    pub fn is_active(self) -> bool {
        !self.is_terminal()
    }

    /// The statuses for which `keep` holds, as an SQL list: `('a', 'b')`.
    pub fn sql_list(keep: fn(RunStatus) -> bool) -> String {
        let names: Vec<String> = Self::ALL
            .into_iter()
            .filter(|s| keep(*s))
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", names.join(", "))
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(RunStatus::parse("nope"), None);
    }

    #[test]
    fn sql_lists_derive_from_the_enum() {
        assert_eq!(
            RunStatus::sql_list(RunStatus::is_terminal),
            "('succeeded', 'failed', 'cancelled', 'budget_exhausted', 'timed_out')"
        );
        assert_eq!(
            RunStatus::sql_list(RunStatus::is_active),
            "('queued', 'running', 'waiting_input', 'waiting_approval', 'paused_quota', \
             'waiting_provider', 'requires_action')"
        );
    }
}

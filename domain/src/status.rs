//! Run status: one enum that knows its names, which statuses hold a concurrency slot and
//! which never change again. The store derives its SQL lists from it; the API its schema.

use serde::{Deserialize, Serialize};

use crate::names::named_enum;

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

named_enum!(RunStatus::as_str {
    Queued => "queued",
    Running => "running",
    WaitingInput => "waiting_input",
    WaitingApproval => "waiting_approval",
    PausedQuota => "paused_quota",
    WaitingProvider => "waiting_provider",
    RequiresAction => "requires_action",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
    BudgetExhausted => "budget_exhausted",
    TimedOut => "timed_out",
} serde);

impl RunStatus {
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

#[cfg(test)]
mod tests {
    use super::*;

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

//! Tiers and what they grant. The defaults are DESIGN.md's table.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Free,
    Starter,
    Pro,
    Enterprise,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Starter, Tier::Pro, Tier::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Starter => "starter",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(text: &str) -> Option<Tier> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// Temporal priority key: 1 is dispatched first.
    pub fn priority_key(self) -> u32 {
        match self {
            Tier::Free => 5,
            Tier::Starter => 4,
            Tier::Pro => 2,
            Tier::Enterprise => 1,
        }
    }

    /// Longest a run may last; it becomes the workflow's execution timeout.
    pub fn max_run(self) -> Duration {
        match self {
            Tier::Free => Duration::from_secs(10 * 60),
            Tier::Starter => Duration::from_secs(60 * 60),
            Tier::Pro => Duration::from_secs(24 * 60 * 60),
            Tier::Enterprise => Duration::from_secs(7 * 24 * 60 * 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_parse_by_name_and_rank_by_priority() {
        for tier in Tier::ALL {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
        }
        assert_eq!(Tier::parse("gold"), None);
        assert!(Tier::Enterprise.priority_key() < Tier::Free.priority_key());
        assert!(Tier::Free.max_run() < Tier::Pro.max_run());
    }
}

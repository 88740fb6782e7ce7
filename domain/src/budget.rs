//! Run budgets: the limits an agent sets, the tighter ones a run may ask for, and the budget
//! a run gets from both, the operator's default and its tier.

use serde::{Deserialize, Serialize};

/// Most model calls a run may be allowed.
pub const MAX_STEPS_LIMIT: u32 = 200;
/// The largest integer a limit may be: larger ones survive neither many JSON parsers nor a
/// BIGINT column.
pub const MAX_INTEGER: u64 = i64::MAX as u64;
/// The largest cost limit, in dollars.
pub const MAX_COST_USD: f64 = 1_000_000.0;

/// Limits on one run, as an agent sets them or a run asks for them; `None`: not set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RunLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_s: Option<u64>,
}

/// A limit that is out of range, or looser than the agent's: which field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    /// `limits.max_steps`, `budget.max_cost_usd`, …
    pub field: String,
    pub problem: String,
}

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

impl std::error::Error for LimitError {}

impl RunLimits {
    /// Checks each limit's range, naming it under `prefix` (`limits` or `budget`).
    pub fn validate(&self, prefix: &str) -> Result<(), LimitError> {
        let error = |field: &str, problem: String| LimitError {
            field: format!("{prefix}.{field}"),
            problem,
        };
        if let Some(steps) = self.max_steps
            && !(1..=MAX_STEPS_LIMIT).contains(&steps)
        {
            return Err(error(
                "max_steps",
                format!("must be between 1 and {MAX_STEPS_LIMIT}"),
            ));
        }
        if let Some(tokens) = self.max_tokens
            && !(1..=MAX_INTEGER).contains(&tokens)
        {
            return Err(error(
                "max_tokens",
                format!("must be between 1 and {MAX_INTEGER}"),
            ));
        }
        if let Some(cost) = self.max_cost_usd
            && !(cost.is_finite() && cost > 0.0 && cost <= MAX_COST_USD)
        {
            return Err(error(
                "max_cost_usd",
                "must be a positive number of dollars up to 1000000".into(),
            ));
        }
        if let Some(seconds) = self.max_duration_s
            && !(1..=MAX_INTEGER).contains(&seconds)
        {
            return Err(error(
                "max_duration_s",
                format!("must be between 1 and {MAX_INTEGER}"),
            ));
        }
        Ok(())
    }

    /// Checks that these limits (a run's budget) only tighten `agent`'s: an admin's limit on
    /// an agent binds every run of it, whoever submits it.
    pub fn within(&self, agent: &RunLimits, prefix: &str) -> Result<(), LimitError> {
        fn check<T: PartialOrd + std::fmt::Display>(
            prefix: &str,
            field: &str,
            requested: Option<T>,
            allowed: Option<T>,
        ) -> Result<(), LimitError> {
            match (requested, allowed) {
                (Some(requested), Some(allowed)) if requested > allowed => Err(LimitError {
                    field: format!("{prefix}.{field}"),
                    problem: format!(
                        "{requested} is above the agent's limit of {allowed}; a run's budget may only tighten it"
                    ),
                }),
                _ => Ok(()),
            }
        }
        check(prefix, "max_steps", self.max_steps, agent.max_steps)?;
        check(prefix, "max_tokens", self.max_tokens, agent.max_tokens)?;
        check(
            prefix,
            "max_cost_usd",
            self.max_cost_usd,
            agent.max_cost_usd,
        )?;
        check(
            prefix,
            "max_duration_s",
            self.max_duration_s,
            agent.max_duration_s,
        )
    }
}

/// Spending limits of one run, checked before each model call. (A wire format: it travels in
/// the workflow's input.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    /// Model calls allowed, the first included.
    pub max_steps: u32,
    /// Tokens (input, output and cache) the run may use in all.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// What the run may cost, in micro-USD.
    #[serde(default)]
    pub max_cost_micro_usd: Option<u64>,
    /// Seconds from the run's start after which no new model call starts.
    #[serde(default)]
    pub max_duration_s: Option<u64>,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            max_steps: 20,
            max_tokens: None,
            max_cost_micro_usd: None,
            max_duration_s: None,
        }
    }
}

impl Budget {
    /// A run's budget: what it asked for (checked to only tighten the agent's limits), else
    /// the agent's limits, else the operator's default steps; the tier's longest run bounds
    /// every run (it is also the workflow's timeout).
    pub fn resolve(
        requested: &RunLimits,
        agent: &RunLimits,
        default_max_steps: u32,
        tier_max_run_s: u64,
    ) -> Result<Self, LimitError> {
        requested.validate("budget")?;
        requested.within(agent, "budget")?;
        Ok(Self {
            max_steps: requested
                .max_steps
                .or(agent.max_steps)
                .unwrap_or(default_max_steps),
            max_tokens: requested.max_tokens.or(agent.max_tokens),
            max_cost_micro_usd: requested
                .max_cost_usd
                .or(agent.max_cost_usd)
                .map(|usd| (usd * 1e6).round() as u64),
            max_duration_s: Some(
                requested
                    .max_duration_s
                    .or(agent.max_duration_s)
                    .map_or(tier_max_run_s, |s| s.min(tier_max_run_s)),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(steps: Option<u32>, cost: Option<f64>) -> RunLimits {
        RunLimits {
            max_steps: steps,
            max_cost_usd: cost,
            ..RunLimits::default()
        }
    }

    #[test]
    fn a_budget_takes_the_request_then_the_agent_then_the_default() {
        let agent = limits(Some(10), Some(0.5));
        let budget = Budget::resolve(&limits(Some(4), None), &agent, 20, 600).unwrap();
        assert_eq!(budget.max_steps, 4);
        assert_eq!(budget.max_cost_micro_usd, Some(500_000));
        assert_eq!(
            budget.max_duration_s,
            Some(600),
            "the tier bounds every run"
        );
        let budget = Budget::resolve(&RunLimits::default(), &RunLimits::default(), 20, 60).unwrap();
        assert_eq!((budget.max_steps, budget.max_cost_micro_usd), (20, None));
    }

    #[test]
    fn a_budget_only_tightens_and_errors_name_the_field() {
        let agent = limits(Some(3), Some(0.1));
        let error = Budget::resolve(&limits(Some(4), None), &agent, 20, 600).unwrap_err();
        assert_eq!(error.field, "budget.max_steps");
        let error = Budget::resolve(&limits(None, Some(0.2)), &agent, 20, 600).unwrap_err();
        assert_eq!(error.field, "budget.max_cost_usd");
        // Without an agent limit, the request sets it (within range).
        assert!(Budget::resolve(&limits(Some(50), None), &RunLimits::default(), 20, 600).is_ok());
        let error =
            Budget::resolve(&limits(Some(500), None), &RunLimits::default(), 20, 600).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("budget.max_steps: must be between")
        );
    }

    #[test]
    fn budgets_serialise_as_before() {
        let json = serde_json::to_value(Budget::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"max_steps": 20, "max_tokens": null, "max_cost_micro_usd": null, "max_duration_s": null})
        );
    }
}

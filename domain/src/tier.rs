//! Tiers and quotas: what each tier grants, a workspace's overrides, and the hard cap at
//! which running runs pause. The API (admission, rate limits, caps) and the model activity
//! (mid-run enforcement) read the same table.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A workspace's tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
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

    pub fn parse(text: &str) -> Result<Self, QuotaError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| QuotaError::UnknownTier(text.to_string()))
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum QuotaError {
    UnknownTier(String),
    UnknownField(String),
    BadValue {
        field: String,
        value: String,
        min: u64,
        max: u64,
    },
}

impl fmt::Display for QuotaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuotaError::UnknownTier(tier) => write!(
                f,
                "unknown tier {tier:?}: expected free, starter, pro or enterprise"
            ),
            QuotaError::UnknownField(field) => write!(
                f,
                "unknown quota field {field:?}: expected one of {}",
                OVERRIDABLE.join(", ")
            ),
            QuotaError::BadValue {
                field,
                value,
                min,
                max,
            } => write!(
                f,
                "{field}: {value:?} is not a whole number from {min} to {max}, or \"unlimited\""
            ),
        }
    }
}

impl std::error::Error for QuotaError {}

/// Fields a workspace may override.
pub const OVERRIDABLE: [&str; 7] = [
    "requests_per_minute",
    "concurrent_runs",
    "agent_minutes_per_month",
    "tokens_per_month",
    "max_run_s",
    "event_streams",
    "agents",
];

/// The values a field accepts.
fn bounds(field: &str) -> Option<(u64, u64)> {
    Some(match field {
        "requests_per_minute" => (1, 1_000_000),
        "concurrent_runs" => (1, 100_000),
        "agent_minutes_per_month" => (1, 1_000_000_000),
        "tokens_per_month" => (1, 1_000_000_000_000),
        // Temporal's own limits are far above; a month is a sane ceiling for one run.
        "max_run_s" => (60, 31 * 86_400),
        "event_streams" => (1, 1_000_000),
        "agents" => (1, 1_000_000),
        _ => return None,
    })
}

/// What a workspace may use. `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub requests_per_minute: Option<u64>,
    pub concurrent_runs: Option<u64>,
    pub agent_minutes_per_month: Option<u64>,
    pub tokens_per_month: Option<u64>,
    /// Longest run, in seconds: the workflow's execution timeout.
    pub max_run_s: u64,
    /// Temporal priority key: 1 is dispatched first.
    pub priority: u32,
    /// Share of dispatch among tenants of one priority (Temporal fairness weight).
    pub fairness_weight: f32,
    /// Multiple of the monthly quotas at which running runs pause.
    pub hard_cap_factor: u64,
    /// Event streams (`GET /v1/runs/{id}/events`) open at once, per API process.
    #[serde(default)]
    pub event_streams: Option<u64>,
    /// Agents a workspace may define.
    #[serde(default)]
    pub agents: Option<u64>,
}

impl Limits {
    /// The hard cap of tokens, if tokens are limited.
    pub fn token_cap(&self) -> Option<u64> {
        self.tokens_per_month
            .map(|n| n.saturating_mul(self.hard_cap_factor))
    }

    /// The hard cap of agent time in milliseconds, if limited.
    pub fn agent_ms_cap(&self) -> Option<u64> {
        self.agent_minutes_per_month.map(|m| {
            m.saturating_mul(60_000)
                .saturating_mul(self.hard_cap_factor)
        })
    }

    fn set(&mut self, field: &str, value: Option<u64>) -> Result<(), QuotaError> {
        match field {
            "requests_per_minute" => self.requests_per_minute = value,
            "concurrent_runs" => self.concurrent_runs = value,
            "agent_minutes_per_month" => self.agent_minutes_per_month = value,
            "tokens_per_month" => self.tokens_per_month = value,
            "event_streams" => self.event_streams = value,
            "agents" => self.agents = value,
            "max_run_s" => {
                self.max_run_s = value.ok_or_else(|| QuotaError::BadValue {
                    field: field.into(),
                    value: "unlimited".into(),
                    min: 60,
                    max: 31 * 86_400,
                })?
            }
            other => return Err(QuotaError::UnknownField(other.into())),
        }
        Ok(())
    }
}

/// A workspace's overrides of its tier's limits (stored as a JSON object; `null`: unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaOverrides(BTreeMap<String, Option<u64>>);

impl QuotaOverrides {
    /// These overrides with one field set from text: a number within the field's bounds, or
    /// `unlimited`.
    pub fn with(mut self, field: &str, text: &str) -> Result<Self, QuotaError> {
        let value = parse_limit(field, text)?;
        self.0.insert(field.to_string(), value);
        Ok(self)
    }
}

/// A value of the configuration file's `[tiers.<name>]` tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TierValue {
    Whole(u64),
    Number(f64),
    Text(String),
}

impl fmt::Display for TierValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierValue::Whole(n) => write!(f, "{n}"),
            TierValue::Number(n) => write!(f, "{n}"),
            TierValue::Text(text) => f.write_str(text),
        }
    }
}

/// The configuration's `[tiers.<name>]` tables: field → value, by tier name.
pub type TierConfig = BTreeMap<String, BTreeMap<String, TierValue>>;

/// The tier table. Defaults are the product's; the configuration file may replace any value.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiers {
    by_tier: BTreeMap<Tier, Limits>,
}

impl Default for Tiers {
    fn default() -> Self {
        // (requests/min, concurrent runs, agent-minutes, tokens, max run s, priority, hard
        // cap factor, event streams, agents). Streams and agents: what a tier's people and
        // programs plausibly hold at once, so no tier is unbounded.
        type Row = (
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            u64,
            u32,
            u64,
            u64,
            u64,
        );
        let rows: [(Tier, Row); 4] = [
            (
                Tier::Free,
                (Some(10), Some(1), Some(60), Some(200_000), 600, 5, 1, 5, 10),
            ),
            (
                Tier::Starter,
                (
                    Some(100),
                    Some(5),
                    Some(1_000),
                    Some(5_000_000),
                    3_600,
                    4,
                    2,
                    25,
                    50,
                ),
            ),
            (
                Tier::Pro,
                (
                    Some(1_000),
                    Some(25),
                    Some(10_000),
                    Some(50_000_000),
                    86_400,
                    2,
                    2,
                    100,
                    200,
                ),
            ),
            (
                Tier::Enterprise,
                (None, Some(200), None, None, 7 * 86_400, 1, 2, 500, 1_000),
            ),
        ];
        let by_tier = rows
            .into_iter()
            .map(
                |(
                    tier,
                    (rpm, runs, minutes, tokens, max_run_s, priority, cap, streams, agents),
                )| {
                    let limits = Limits {
                        requests_per_minute: rpm,
                        concurrent_runs: runs,
                        agent_minutes_per_month: minutes,
                        tokens_per_month: tokens,
                        max_run_s,
                        priority,
                        fairness_weight: 1.0,
                        hard_cap_factor: cap,
                        event_streams: Some(streams),
                        agents: Some(agents),
                    };
                    (tier, limits)
                },
            )
            .collect();
        Self { by_tier }
    }
}

impl Tiers {
    /// The table with the configuration's `[tiers.<name>]` entries applied.
    pub fn with_config(config: &TierConfig) -> Result<Self, QuotaError> {
        let mut tiers = Self::default();
        for (name, fields) in config {
            let tier = Tier::parse(name)?;
            let limits = tiers.by_tier.get_mut(&tier).expect("every tier has a row");
            for (field, value) in fields {
                let bad = |min, max| QuotaError::BadValue {
                    field: field.clone(),
                    value: value.to_string(),
                    min,
                    max,
                };
                match (field.as_str(), value) {
                    ("priority", TierValue::Whole(p)) if (1..=5).contains(p) => {
                        limits.priority = *p as u32
                    }
                    ("priority", _) => return Err(bad(1, 5)),
                    ("fairness_weight", TierValue::Whole(w)) if (1..=1000).contains(w) => {
                        limits.fairness_weight = *w as f32
                    }
                    ("fairness_weight", TierValue::Number(w)) if *w > 0.0 && *w <= 1000.0 => {
                        limits.fairness_weight = *w as f32
                    }
                    ("fairness_weight", _) => return Err(bad(1, 1000)),
                    ("hard_cap_factor", TierValue::Whole(f)) if (1..=10).contains(f) => {
                        limits.hard_cap_factor = *f
                    }
                    ("hard_cap_factor", _) => return Err(bad(1, 10)),
                    (other, value) => limits.set(other, parse_limit(other, &value.to_string())?)?,
                }
            }
        }
        Ok(tiers)
    }

    /// The limits of a workspace: its tier's, with its overrides applied.
    pub fn limits(&self, tier: Tier, overrides: &QuotaOverrides) -> Result<Limits, QuotaError> {
        let mut limits = self.by_tier[&tier].clone();
        for (field, value) in &overrides.0 {
            limits.set(field, *value)?;
        }
        Ok(limits)
    }
}

/// Parses a limit's value: a number within the field's bounds, or `unlimited`.
pub fn parse_limit(field: &str, text: &str) -> Result<Option<u64>, QuotaError> {
    let (min, max) = bounds(field).ok_or_else(|| QuotaError::UnknownField(field.into()))?;
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    let value = text
        .parse::<u64>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| QuotaError::BadValue {
            field: field.into(),
            value: text.into(),
            min,
            max,
        })?;
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_is_the_products() {
        let tiers = Tiers::default();
        let none = QuotaOverrides::default();
        let free = tiers.limits(Tier::Free, &none).unwrap();
        assert_eq!(
            (
                free.requests_per_minute,
                free.concurrent_runs,
                free.max_run_s,
                free.priority
            ),
            (Some(10), Some(1), 600, 5)
        );
        assert_eq!(
            free.token_cap(),
            Some(200_000),
            "free: the hard cap is the quota"
        );
        let pro = tiers.limits(Tier::Pro, &none).unwrap();
        assert_eq!(
            pro.token_cap(),
            Some(100_000_000),
            "others: twice the quota"
        );
        let enterprise = tiers.limits(Tier::Enterprise, &none).unwrap();
        assert_eq!(
            (enterprise.requests_per_minute, enterprise.tokens_per_month),
            (None, None)
        );
        for tier in Tier::ALL {
            let limits = tiers.limits(tier, &none).unwrap();
            assert!(
                limits.event_streams.is_some() && limits.agents.is_some(),
                "{tier}"
            );
        }
        assert!(Tier::parse("gold").is_err());
    }

    #[test]
    fn overrides_replace_tier_values_and_bad_ones_are_refused() {
        let tiers = Tiers::default();
        let overrides = QuotaOverrides::default()
            .with("concurrent_runs", "5")
            .unwrap()
            .with("tokens_per_month", "unlimited")
            .unwrap();
        let limits = tiers.limits(Tier::Free, &overrides).unwrap();
        assert_eq!(
            (limits.concurrent_runs, limits.tokens_per_month),
            (Some(5), None)
        );
        let json = serde_json::to_string(&overrides).unwrap();
        assert_eq!(json, r#"{"concurrent_runs":5,"tokens_per_month":null}"#);
        for (field, value) in [
            ("concurrent_runs", "-1"),
            ("concurrent_runs", "0"),
            ("tokens_per_month", "1e99"),
            ("max_run_s", "unlimited"),
            ("max_run_s", "10"),
            ("requests_per_minute", "99999999999"),
        ] {
            let result = QuotaOverrides::default()
                .with(field, value)
                .and_then(|o| tiers.limits(Tier::Pro, &o));
            assert!(result.is_err(), "{field}={value}");
        }
        assert!(matches!(
            QuotaOverrides::default().with("colour", "1"),
            Err(QuotaError::UnknownField(_))
        ));
    }

    #[test]
    fn configuration_replaces_defaults() {
        let config: TierConfig = serde_json::from_value(serde_json::json!({
            "free": {"concurrent_runs": 3, "tokens_per_month": "unlimited", "priority": 4},
            "pro": {"fairness_weight": 2.5}
        }))
        .unwrap();
        let tiers = Tiers::with_config(&config).unwrap();
        let none = QuotaOverrides::default();
        let free = tiers.limits(Tier::Free, &none).unwrap();
        assert_eq!(
            (free.concurrent_runs, free.tokens_per_month, free.priority),
            (Some(3), None, 4)
        );
        assert_eq!(tiers.limits(Tier::Pro, &none).unwrap().fairness_weight, 2.5);
        let unknown: TierConfig = serde_json::from_value(serde_json::json!({"gold": {}})).unwrap();
        assert!(Tiers::with_config(&unknown).is_err());
        let bad: TierConfig =
            serde_json::from_value(serde_json::json!({"free": {"priority": 9}})).unwrap();
        assert!(Tiers::with_config(&bad).is_err());
    }
}

//! Tiers and quotas: what each tier grants, per-workspace overrides, the monthly period, and
//! the hard cap at which running runs pause. Used by the API (admission, rate limits) and by
//! the model activity (mid-run enforcement), so both read the same table.

use std::collections::BTreeMap;

use chrono::{Datelike, TimeZone, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuotaError {
    #[error("unknown tier {0:?}: expected free, starter, pro or enterprise")]
    UnknownTier(String),
    #[error("unknown quota field {0:?}: expected one of {fields}", fields = OVERRIDABLE.join(", "))]
    UnknownField(String),
    #[error("{field}: {value:?} is not a whole number from {min} to {max}, or \"unlimited\"")]
    BadValue {
        field: String,
        value: String,
        min: u64,
        max: u64,
    },
    #[error("stored quota overrides are unreadable: {0}")]
    Corrupt(String),
}

pub const TIERS: [&str; 4] = ["free", "starter", "pro", "enterprise"];

/// Fields a workspace may override, with the largest value accepted for each.
pub const OVERRIDABLE: [&str; 7] = [
    "requests_per_minute",
    "concurrent_runs",
    "agent_minutes_per_month",
    "tokens_per_month",
    "max_run_s",
    "event_streams",
    "agents",
];

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

/// The tier table. Defaults are DESIGN.md's; the configuration file may replace any value.
#[derive(Debug, Clone, PartialEq)]
pub struct Tiers {
    by_name: BTreeMap<String, Limits>,
}

impl Default for Tiers {
    fn default() -> Self {
        let tier = |rpm, runs, minutes, tokens, max_run_s, priority, weight, cap| Limits {
            requests_per_minute: rpm,
            concurrent_runs: runs,
            agent_minutes_per_month: minutes,
            tokens_per_month: tokens,
            max_run_s,
            priority,
            fairness_weight: weight,
            hard_cap_factor: cap,
            event_streams: None,
            agents: None,
        };
        // Streams and agents: what a tier's people and programs plausibly hold at once, so
        // no tier is unbounded.
        let bounded = |limits: Limits, streams: u64, agents: u64| Limits {
            event_streams: Some(streams),
            agents: Some(agents),
            ..limits
        };
        let by_name = BTreeMap::from([
            (
                "free".to_string(),
                bounded(
                    tier(Some(10), Some(1), Some(60), Some(200_000), 600, 5, 1.0, 1),
                    5,
                    10,
                ),
            ),
            (
                "starter".to_string(),
                bounded(
                    tier(
                        Some(100),
                        Some(5),
                        Some(1_000),
                        Some(5_000_000),
                        3_600,
                        4,
                        1.0,
                        2,
                    ),
                    25,
                    50,
                ),
            ),
            (
                "pro".to_string(),
                bounded(
                    tier(
                        Some(1_000),
                        Some(25),
                        Some(10_000),
                        Some(50_000_000),
                        86_400,
                        2,
                        1.0,
                        2,
                    ),
                    100,
                    200,
                ),
            ),
            (
                "enterprise".to_string(),
                bounded(
                    tier(None, Some(200), None, None, 7 * 86_400, 1, 1.0, 2),
                    500,
                    1_000,
                ),
            ),
        ]);
        Self { by_name }
    }
}

impl Tiers {
    /// The table with the configuration's `[tiers.<name>]` entries applied.
    pub fn with_config(
        config: &BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    ) -> Result<Self, QuotaError> {
        let mut tiers = Self::default();
        for (name, fields) in config {
            let limits = tiers
                .by_name
                .get_mut(name)
                .ok_or_else(|| QuotaError::UnknownTier(name.clone()))?;
            for (field, value) in fields {
                match field.as_str() {
                    "priority" => {
                        limits.priority = value
                            .as_u64()
                            .filter(|p| (1..=5).contains(p))
                            .ok_or_else(|| bad(field, value, 1, 5))?
                            as u32
                    }
                    "fairness_weight" => {
                        limits.fairness_weight = value
                            .as_f64()
                            .filter(|w| *w > 0.0 && *w <= 1000.0)
                            .ok_or_else(|| bad(field, value, 1, 1000))?
                            as f32
                    }
                    "hard_cap_factor" => {
                        limits.hard_cap_factor = value
                            .as_u64()
                            .filter(|f| (1..=10).contains(f))
                            .ok_or_else(|| bad(field, value, 1, 10))?
                    }
                    other => {
                        let text = match value {
                            serde_json::Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        limits.set(other, parse_limit(other, &text)?)?;
                    }
                }
            }
        }
        Ok(tiers)
    }

    /// The limits of a workspace: its tier's, with its overrides (a JSON object) applied.
    pub fn limits(&self, tier: &str, overrides: Option<&str>) -> Result<Limits, QuotaError> {
        let mut limits = self
            .by_name
            .get(tier)
            .cloned()
            .ok_or_else(|| QuotaError::UnknownTier(tier.to_string()))?;
        if let Some(json) = overrides {
            let map: BTreeMap<String, Option<u64>> =
                serde_json::from_str(json).map_err(|e| QuotaError::Corrupt(e.to_string()))?;
            for (field, value) in map {
                limits.set(&field, value)?;
            }
        }
        Ok(limits)
    }
}

fn bad(field: &str, value: &serde_json::Value, min: u64, max: u64) -> QuotaError {
    QuotaError::BadValue {
        field: field.into(),
        value: value.to_string(),
        min,
        max,
    }
}

/// Parses an override's value: a number within the field's bounds, or `unlimited`.
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

/// Sets one override in a workspace's overrides (a JSON object), returning the new object.
pub fn with_override(current: Option<&str>, field: &str, text: &str) -> Result<String, QuotaError> {
    let value = parse_limit(field, text)?;
    let mut map: BTreeMap<String, Option<u64>> = match current {
        Some(json) => serde_json::from_str(json).map_err(|e| QuotaError::Corrupt(e.to_string()))?,
        None => BTreeMap::new(),
    };
    map.insert(field.to_string(), value);
    serde_json::to_string(&map).map_err(|e| QuotaError::Corrupt(e.to_string()))
}

/// A quota period: a calendar month, UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// `YYYY-MM`.
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// The period containing `now_ms`.
pub fn period_of(now_ms: i64) -> Period {
    let now = Utc
        .timestamp_millis_opt(now_ms)
        .single()
        .unwrap_or_default();
    let start = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let (year, month) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    let end = Utc
        .with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or_default();
    Period {
        label: format!("{:04}-{:02}", now.year(), now.month()),
        start_ms: start.timestamp_millis(),
        end_ms: end.timestamp_millis(),
    }
}

/// The thresholds at which usage alerts are raised, in percent of a monthly quota.
pub const ALERT_THRESHOLDS: [u64; 3] = [80, 100, 200];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_table_is_designs() {
        let tiers = Tiers::default();
        let free = tiers.limits("free", None).unwrap();
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
        let pro = tiers.limits("pro", None).unwrap();
        assert_eq!(
            pro.token_cap(),
            Some(100_000_000),
            "others: twice the quota"
        );
        let enterprise = tiers.limits("enterprise", None).unwrap();
        assert_eq!(
            (enterprise.requests_per_minute, enterprise.tokens_per_month),
            (None, None)
        );
        assert!(tiers.limits("gold", None).is_err());
    }

    #[test]
    fn overrides_replace_tier_values_and_bad_ones_are_refused() {
        let tiers = Tiers::default();
        let json = with_override(None, "concurrent_runs", "5").unwrap();
        let json = with_override(Some(&json), "tokens_per_month", "unlimited").unwrap();
        let limits = tiers.limits("free", Some(&json)).unwrap();
        assert_eq!(
            (limits.concurrent_runs, limits.tokens_per_month),
            (Some(5), None)
        );
        for (field, value) in [
            ("concurrent_runs", "-1"),
            ("concurrent_runs", "0"),
            ("tokens_per_month", "1e99"),
            ("max_run_s", "unlimited"),
            ("max_run_s", "10"),
            ("requests_per_minute", "99999999999"),
        ] {
            let result =
                with_override(None, field, value).and_then(|j| tiers.limits("pro", Some(&j)));
            assert!(result.is_err(), "{field}={value}");
        }
        assert!(matches!(
            with_override(None, "colour", "1"),
            Err(QuotaError::UnknownField(_))
        ));
    }

    #[test]
    fn configuration_replaces_defaults() {
        let config: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
            serde_json::from_value(serde_json::json!({
                "free": {"concurrent_runs": 3, "tokens_per_month": "unlimited", "priority": 4},
                "pro": {"fairness_weight": 2.5}
            }))
            .unwrap();
        let tiers = Tiers::with_config(&config).unwrap();
        let free = tiers.limits("free", None).unwrap();
        assert_eq!(
            (free.concurrent_runs, free.tokens_per_month, free.priority),
            (Some(3), None, 4)
        );
        assert_eq!(tiers.limits("pro", None).unwrap().fairness_weight, 2.5);
        let unknown: BTreeMap<String, BTreeMap<String, serde_json::Value>> =
            serde_json::from_value(serde_json::json!({"gold": {}})).unwrap();
        assert!(Tiers::with_config(&unknown).is_err());
    }

    #[test]
    fn periods_are_calendar_months() {
        // 2026-12-15T12:00:00Z
        let period = period_of(1_797_336_000_000);
        assert_eq!(period.label, "2026-12");
        assert_eq!(period.start_ms, 1_796_083_200_000);
        assert_eq!(period.end_ms, 1_798_761_600_000);
    }
}

//! Prices: what each billable unit costs, by date. A model's price is per million tokens of
//! each kind; agent time is priced per minute; tool calls per call. Each entry has an
//! effective date, and a unit is priced with the entry in effect when it occurred, so a price
//! change in the middle of a month bills each day at its own price. A unit with no price
//! costs 0 (and is counted, so an operator notices), never fails a run.

use chrono::NaiveDate;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    #[error("prices: {0}")]
    Invalid(String),
}

/// A model's price from a date on, in USD per million tokens.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    /// `provider/model-name`, or `provider/*` for every model of a provider.
    pub model: String,
    pub effective_from: NaiveDate,
    #[serde(default)]
    pub input_per_mtok: f64,
    #[serde(default)]
    pub output_per_mtok: f64,
    #[serde(default)]
    pub cache_read_per_mtok: f64,
    #[serde(default)]
    pub cache_write_per_mtok: f64,
}

/// A flat price from a date on, in USD per unit (an agent-minute, a tool call).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitPrice {
    pub effective_from: NaiveDate,
    pub usd: f64,
    /// Tool prices: the tool, or `*` for every tool.
    #[serde(default)]
    pub tool: Option<String>,
}

/// The price table (`[[prices.models]]`, `[[prices.agent_minute]]`, `[[prices.tool_call]]`
/// in the configuration file).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    #[serde(default)]
    pub models: Vec<ModelPrice>,
    #[serde(default)]
    pub agent_minute: Vec<UnitPrice>,
    #[serde(default)]
    pub tool_call: Vec<UnitPrice>,
}

/// A computed cost and the price entry it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub micro_usd: i64,
    /// `<what>@<effective date>`, stored with the ledger row; `None` when unpriced.
    pub version: Option<String>,
}

impl Cost {
    fn unpriced() -> Self {
        Self {
            micro_usd: 0,
            version: None,
        }
    }
}

/// Tokens of one model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCounts {
    pub input: i64,
    pub output: i64,
    pub cache_read: i64,
    pub cache_write: i64,
}

fn check(value: f64, what: &str) -> Result<(), PriceError> {
    if value.is_finite() && (0.0..=1_000_000.0).contains(&value) {
        Ok(())
    } else {
        Err(PriceError::Invalid(format!(
            "{what}: {value} is not a price from 0 to 1000000"
        )))
    }
}

/// The entry in effect on `day`: the latest whose date is not after it.
fn in_effect<'a, T>(
    entries: impl Iterator<Item = &'a T>,
    date: impl Fn(&T) -> NaiveDate,
    day: NaiveDate,
) -> Option<&'a T>
where
    T: 'a,
{
    entries.filter(|e| date(e) <= day).max_by_key(|e| date(e))
}

fn day_of(epoch_ms: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_millis(epoch_ms)
        .unwrap_or_default()
        .date_naive()
}

impl Prices {
    /// Checks every entry; the same model may not have two prices from one date.
    pub fn validate(&self) -> Result<(), PriceError> {
        for (i, price) in self.models.iter().enumerate() {
            if !price.model.contains('/') {
                return Err(PriceError::Invalid(format!(
                    "models[{i}].model {:?} is not provider/model",
                    price.model
                )));
            }
            for (value, field) in [
                (price.input_per_mtok, "input_per_mtok"),
                (price.output_per_mtok, "output_per_mtok"),
                (price.cache_read_per_mtok, "cache_read_per_mtok"),
                (price.cache_write_per_mtok, "cache_write_per_mtok"),
            ] {
                check(value, &format!("models[{i}].{field}"))?;
            }
            if self.models[..i]
                .iter()
                .any(|p| p.model == price.model && p.effective_from == price.effective_from)
            {
                return Err(PriceError::Invalid(format!(
                    "{} has two prices from {}",
                    price.model, price.effective_from
                )));
            }
        }
        for (i, price) in self.agent_minute.iter().chain(&self.tool_call).enumerate() {
            check(price.usd, &format!("unit price {i}"))?;
        }
        Ok(())
    }

    /// What a model is called in metric labels: its own name when the operator's price
    /// table names it (or it is the built-in offline model), else `other`. Tenants choose
    /// model names, so their text never becomes a label value by itself.
    pub fn model_label<'a>(&self, model: &'a str) -> &'a str {
        if model == "offline/demo" || self.models.iter().any(|p| p.model == model) {
            model
        } else {
            "other"
        }
    }

    /// A model call's cost: `model` is `provider/model-name`.
    pub fn llm(&self, model: &str, tokens: TokenCounts, occurred_at_ms: i64) -> Cost {
        let day = day_of(occurred_at_ms);
        let provider_wildcard = model
            .split_once('/')
            .map(|(provider, _)| format!("{provider}/*"))
            .unwrap_or_default();
        let exact = in_effect(
            self.models.iter().filter(|p| p.model == model),
            |p| p.effective_from,
            day,
        );
        let price = exact.or_else(|| {
            in_effect(
                self.models.iter().filter(|p| p.model == provider_wildcard),
                |p| p.effective_from,
                day,
            )
        });
        let Some(price) = price else {
            return Cost::unpriced();
        };
        // USD per million tokens × tokens = micro-USD.
        let micro = price.input_per_mtok * tokens.input as f64
            + price.output_per_mtok * tokens.output as f64
            + price.cache_read_per_mtok * tokens.cache_read as f64
            + price.cache_write_per_mtok * tokens.cache_write as f64;
        Cost {
            micro_usd: micro.round() as i64,
            version: Some(format!("{}@{}", price.model, price.effective_from)),
        }
    }

    /// Agent time's cost.
    pub fn agent_time(&self, agent_ms: i64, occurred_at_ms: i64) -> Cost {
        let day = day_of(occurred_at_ms);
        match in_effect(self.agent_minute.iter(), |p| p.effective_from, day) {
            Some(price) => Cost {
                micro_usd: (price.usd * 1e6 * agent_ms as f64 / 60_000.0).round() as i64,
                version: Some(format!("agent_minute@{}", price.effective_from)),
            },
            None => Cost::unpriced(),
        }
    }

    /// A tool call's cost.
    pub fn tool_call(&self, tool: &str, occurred_at_ms: i64) -> Cost {
        let day = day_of(occurred_at_ms);
        let for_tool = |name: &str| {
            in_effect(
                self.tool_call
                    .iter()
                    .filter(|p| p.tool.as_deref() == Some(name)),
                |p| p.effective_from,
                day,
            )
        };
        match for_tool(tool).or_else(|| for_tool("*")) {
            Some(price) => Cost {
                micro_usd: (price.usd * 1e6).round() as i64,
                version: Some(format!(
                    "tool:{}@{}",
                    price.tool.as_deref().unwrap_or("*"),
                    price.effective_from
                )),
            },
            None => Cost::unpriced(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn ms(day: &str) -> i64 {
        date(day)
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    fn prices() -> Prices {
        Prices {
            models: vec![
                ModelPrice {
                    model: "anthropic/claude-x".into(),
                    effective_from: date("2026-01-01"),
                    input_per_mtok: 3.0,
                    output_per_mtok: 15.0,
                    cache_read_per_mtok: 0.3,
                    cache_write_per_mtok: 3.75,
                },
                ModelPrice {
                    model: "anthropic/claude-x".into(),
                    effective_from: date("2026-11-15"),
                    input_per_mtok: 2.0,
                    output_per_mtok: 10.0,
                    cache_read_per_mtok: 0.2,
                    cache_write_per_mtok: 2.5,
                },
                ModelPrice {
                    model: "openai/*".into(),
                    effective_from: date("2026-01-01"),
                    input_per_mtok: 1.0,
                    output_per_mtok: 2.0,
                    ..ModelPrice {
                        model: String::new(),
                        effective_from: date("2026-01-01"),
                        input_per_mtok: 0.0,
                        output_per_mtok: 0.0,
                        cache_read_per_mtok: 0.0,
                        cache_write_per_mtok: 0.0,
                    }
                },
            ],
            agent_minute: vec![UnitPrice {
                effective_from: date("2026-01-01"),
                usd: 0.01,
                tool: None,
            }],
            tool_call: vec![
                UnitPrice {
                    effective_from: date("2026-01-01"),
                    usd: 0.001,
                    tool: Some("*".into()),
                },
                UnitPrice {
                    effective_from: date("2026-01-01"),
                    usd: 0.005,
                    tool: Some("http_fetch".into()),
                },
            ],
        }
    }

    #[test]
    fn a_price_change_applies_from_its_date() {
        let tokens = TokenCounts {
            input: 1_000,
            output: 100,
            cache_read: 10_000,
            cache_write: 1_000,
        };
        let before = prices().llm("anthropic/claude-x", tokens, ms("2026-11-14"));
        // 1000×3 + 100×15 + 10000×0.3 + 1000×3.75 micro-USD
        assert_eq!(before.micro_usd, 3_000 + 1_500 + 3_000 + 3_750);
        assert_eq!(
            before.version.as_deref(),
            Some("anthropic/claude-x@2026-01-01")
        );
        let after = prices().llm("anthropic/claude-x", tokens, ms("2026-11-15"));
        assert_eq!(after.micro_usd, 2_000 + 1_000 + 2_000 + 2_500);
        assert_eq!(
            after.version.as_deref(),
            Some("anthropic/claude-x@2026-11-15")
        );
        let too_early = prices().llm("anthropic/claude-x", tokens, ms("2025-12-31"));
        assert_eq!(too_early, Cost::unpriced());
    }

    #[test]
    fn wildcards_units_and_unknowns() {
        let tokens = TokenCounts {
            input: 1_000_000,
            output: 0,
            ..TokenCounts::default()
        };
        assert_eq!(
            prices()
                .llm("openai/gpt-x", tokens, ms("2026-06-01"))
                .micro_usd,
            1_000_000
        );
        assert_eq!(
            prices().llm("mystery/model", tokens, ms("2026-06-01")),
            Cost::unpriced()
        );
        assert_eq!(
            prices().agent_time(90_000, ms("2026-06-01")).micro_usd,
            15_000,
            "1.5 minutes at $0.01"
        );
        assert_eq!(
            prices().tool_call("calculator", ms("2026-06-01")).micro_usd,
            1_000
        );
        assert_eq!(
            prices().tool_call("http_fetch", ms("2026-06-01")).micro_usd,
            5_000
        );
    }

    #[test]
    fn bad_tables_are_refused() {
        let mut duplicate = prices();
        duplicate.models.push(duplicate.models[0].clone());
        assert!(duplicate.validate().is_err());
        let mut negative = prices();
        negative.models[0].input_per_mtok = -1.0;
        assert!(negative.validate().is_err());
        assert!(prices().validate().is_ok());
    }
}

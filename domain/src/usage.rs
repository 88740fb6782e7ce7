//! Usage totals: what a run, a day or a period used, summed once here (`+=`) wherever totals
//! are added up.

/// Totals of ledger rows (or of a run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UsageTotals {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub tool_calls: i64,
    /// Agent time: milliseconds of model and tool activity.
    pub agent_ms: i64,
    pub cost_micro_usd: i64,
}

impl UsageTotals {
    /// Tokens of every kind.
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
    }
}

impl std::ops::AddAssign<&UsageTotals> for UsageTotals {
    fn add_assign(&mut self, other: &UsageTotals) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.cache_read_tokens += other.cache_read_tokens;
        self.cache_write_tokens += other.cache_write_tokens;
        self.tool_calls += other.tool_calls;
        self.agent_ms += other.agent_ms;
        self.cost_micro_usd += other.cost_micro_usd;
    }
}

impl std::iter::Sum for UsageTotals {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        let mut total = Self::default();
        for item in iter {
            total += &item;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_field_by_field() {
        let one = UsageTotals {
            input_tokens: 1,
            output_tokens: 2,
            cache_read_tokens: 3,
            cache_write_tokens: 4,
            tool_calls: 5,
            agent_ms: 6,
            cost_micro_usd: 7,
        };
        let two: UsageTotals = [one, one].into_iter().sum();
        assert_eq!(two.tokens(), 20);
        assert_eq!(
            (two.tool_calls, two.agent_ms, two.cost_micro_usd),
            (10, 12, 14)
        );
    }
}

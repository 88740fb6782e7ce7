//! The billing export's formats, shared by `GET /v1/billing/export` and
//! `longrun billing export`: every ledger row of a period once, in stable, documented columns.
//!
//! Columns (CSV header, JSON keys): `idempotency_key, workspace_id, workspace, run_id, agent,
//! step, kind, provider, model, tool, input_tokens, output_tokens, cache_read_tokens,
//! cache_write_tokens, tool_calls, agent_ms, cost_micro_usd, price_version, occurred_at`
//! (RFC 3339, UTC). JSON Lines end with a summary line a job can check; CloudEvents are JSON
//! Lines of CloudEvents 1.0 envelopes of type `longrun.usage.v1`.

use serde_json::{Value, json};

use longrun_store::{ExportRow, UsageTotals};

pub const COLUMNS: [&str; 19] = [
    "idempotency_key",
    "workspace_id",
    "workspace",
    "run_id",
    "agent",
    "step",
    "kind",
    "provider",
    "model",
    "tool",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "tool_calls",
    "agent_ms",
    "cost_micro_usd",
    "price_version",
    "occurred_at",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
    CloudEvents,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "csv" => Some(Self::Csv),
            "jsonl" => Some(Self::Jsonl),
            "cloudevents" => Some(Self::CloudEvents),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Jsonl | Self::CloudEvents => "application/x-ndjson",
        }
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn object(row: &ExportRow) -> Value {
    json!({
        "idempotency_key": row.idempotency_key,
        "workspace_id": row.workspace_id,
        "workspace": row.workspace_slug,
        "run_id": row.run_id,
        "agent": row.agent_name,
        "step": row.step,
        "kind": row.kind,
        "provider": row.provider,
        "model": row.model,
        "tool": row.tool_name,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "tool_calls": row.tool_calls,
        "agent_ms": row.agent_ms,
        "cost_micro_usd": row.cost_micro_usd,
        "price_version": row.price_version,
        "occurred_at": rfc3339(row.occurred_at),
    })
}

/// One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The first line of an export, if the format has one.
pub fn header(format: ExportFormat) -> Option<String> {
    (format == ExportFormat::Csv).then(|| format!("{}\n", COLUMNS.join(",")))
}

/// One row, as a line.
pub fn line(format: ExportFormat, row: &ExportRow) -> String {
    match format {
        ExportFormat::Csv => {
            let value = object(row);
            let fields: Vec<String> = COLUMNS
                .iter()
                .map(|column| match &value[*column] {
                    Value::Null => String::new(),
                    Value::String(s) => csv_field(s),
                    other => other.to_string(),
                })
                .collect();
            format!("{}\n", fields.join(","))
        }
        ExportFormat::Jsonl => format!("{}\n", object(row)),
        ExportFormat::CloudEvents => format!(
            "{}\n",
            json!({
                "specversion": "1.0",
                "type": "longrun.usage.v1",
                "source": format!("longrun/workspaces/{}", row.workspace_slug),
                "id": row.idempotency_key,
                "time": rfc3339(row.occurred_at),
                "subject": row.run_id,
                "datacontenttype": "application/json",
                "data": object(row),
            })
        ),
    }
}

/// Running totals of an export, for its summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub rows: u64,
    pub totals: UsageTotals,
}

impl Summary {
    pub fn add(&mut self, row: &ExportRow) {
        self.rows += 1;
        let t = &mut self.totals;
        t.input_tokens += row.input_tokens;
        t.output_tokens += row.output_tokens;
        t.cache_read_tokens += row.cache_read_tokens;
        t.cache_write_tokens += row.cache_write_tokens;
        t.tool_calls += row.tool_calls;
        t.agent_ms += row.agent_ms;
        t.cost_micro_usd += row.cost_micro_usd;
    }

    /// The last line of a JSON Lines export (the other formats have none).
    pub fn footer(&self, format: ExportFormat, period: &str) -> Option<String> {
        (format == ExportFormat::Jsonl).then(|| {
            format!(
                "{}\n",
                json!({ "summary": {
                    "period": period,
                    "rows": self.rows,
                    "totals": totals_json(&self.totals),
                }})
            )
        })
    }
}

/// Totals as the API shows them.
pub fn totals_json(t: &UsageTotals) -> Value {
    json!({
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "tool_calls": t.tool_calls,
        "agent_ms": t.agent_ms,
        "cost_micro_usd": t.cost_micro_usd,
        "cost_usd": t.cost_micro_usd as f64 / 1e6,
    })
}

/// A billing period `YYYY-MM`: its bounds in epoch milliseconds.
pub fn parse_period(text: &str) -> Option<(i64, i64)> {
    let (year, month) = text.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let year: i32 = year.parse().ok()?;
    let month: u32 = month.parse().ok()?;
    let start = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
    let end = if month == 12 {
        chrono::NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        chrono::NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let ms = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
    };
    Some((ms(start)?, ms(end)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> ExportRow {
        ExportRow {
            id: "use_1".into(),
            idempotency_key: "run-a-1/r/1/llm".into(),
            workspace_id: "ws_1".into(),
            workspace_slug: "a".into(),
            run_id: "r1".into(),
            agent_name: "agent, \"quoted\"".into(),
            step: 1,
            kind: "llm".into(),
            provider: Some("anthropic".into()),
            model: Some("claude".into()),
            tool_name: None,
            input_tokens: 10,
            output_tokens: 5,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            tool_calls: 0,
            agent_ms: 0,
            cost_micro_usd: 123,
            price_version: None,
            occurred_at: 0,
        }
    }

    #[test]
    fn csv_lines_quote_what_needs_it_and_keep_the_column_order() {
        assert_eq!(
            header(ExportFormat::Csv).unwrap().split(',').next(),
            Some("idempotency_key")
        );
        let line = line(ExportFormat::Csv, &row());
        assert!(
            line.starts_with(
                "run-a-1/r/1/llm,ws_1,a,r1,\"agent, \"\"quoted\"\"\",1,llm,anthropic,claude,,10,5,"
            ),
            "{line}"
        );
        assert!(line.ends_with(",123,,1970-01-01T00:00:00.000Z\n"), "{line}");
    }

    #[test]
    fn cloud_events_carry_the_row_as_data() {
        let event: Value = serde_json::from_str(&line(ExportFormat::CloudEvents, &row())).unwrap();
        assert_eq!(event["specversion"], "1.0");
        assert_eq!(event["type"], "longrun.usage.v1");
        assert_eq!(event["id"], "run-a-1/r/1/llm");
        assert_eq!(event["data"]["cost_micro_usd"], 123);
    }

    #[test]
    fn periods_are_calendar_months() {
        assert_eq!(
            parse_period("2026-12"),
            Some((1_796_083_200_000, 1_798_761_600_000))
        );
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", ""] {
            assert_eq!(parse_period(bad), None, "{bad}");
        }
    }
}

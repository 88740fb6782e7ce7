//! The billing export's formats, shared by `GET /v1/billing/export` and
//! `longrun billing export`: every ledger row of a period once, in stable, documented columns.
//!
//! Columns (CSV header, JSON keys): `idempotency_key, workspace_id, workspace, run_id, agent,
//! step, kind, provider, model, tool, input_tokens, output_tokens, cache_read_tokens,
//! cache_write_tokens, tool_calls, agent_ms, cost_micro_usd, price_version, occurred_at`
//! (RFC 3339, UTC). JSON Lines end with a summary line a job can check; CloudEvents are JSON
//! Lines of CloudEvents 1.0 envelopes of type `longrun.usage.v1`.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

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

/// One ledger row as exported: a line of JSON Lines, the `data` of a CloudEvent, or a CSV row
/// (its fields in [`COLUMNS`] order, `null` as an empty field).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportRecord {
    /// Unique per billable unit: a retry never bills twice.
    pub idempotency_key: String,
    pub workspace_id: String,
    /// The workspace's slug.
    pub workspace: String,
    pub run_id: String,
    pub agent: String,
    pub step: i64,
    /// `llm`, `tool` or `agent_time`.
    pub kind: String,
    #[schema(required = true)]
    pub provider: Option<String>,
    #[schema(required = true)]
    pub model: Option<String>,
    #[schema(required = true)]
    pub tool: Option<String>,
    #[serde(flatten)]
    pub usage: UsageFigures,
    #[schema(required = true)]
    pub price_version: Option<String>,
    /// RFC 3339, UTC.
    pub occurred_at: String,
}

/// A ledger row as a CloudEvents 1.0 envelope (`format=cloudevents`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportCloudEvent {
    /// `1.0`.
    #[schema(value_type = String, example = "1.0")]
    pub specversion: &'static str,
    /// `longrun.usage.v1`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "longrun.usage.v1")]
    pub kind: &'static str,
    /// `longrun/workspaces/<slug>`.
    pub source: String,
    /// The row's idempotency key.
    pub id: String,
    /// When it happened (RFC 3339).
    pub time: String,
    /// The run's id.
    pub subject: String,
    /// `application/json`.
    #[schema(value_type = String, example = "application/json")]
    pub datacontenttype: &'static str,
    pub data: ExportRecord,
}

/// One line of a JSON Lines export: a row (`jsonl`), the summary that ends it (`jsonl`), or
/// a row as a CloudEvent (`cloudevents`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ExportLine {
    Record(ExportRecord),
    Summary(ExportSummaryLine),
    CloudEvent(ExportCloudEvent),
}

/// The last line of a JSON Lines export, for a job to check what it read.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportSummaryLine {
    pub summary: ExportSummary,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExportSummary {
    /// `YYYY-MM`.
    pub period: String,
    /// Rows exported.
    pub rows: u64,
    pub totals: UsageTotalsView,
}

/// Usage figures as the API shows them: a ledger row's, or totals over many rows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageFigures {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cache_read_tokens: i64,
    pub cache_write_tokens: i64,
    pub tool_calls: i64,
    /// Agent time: milliseconds of model and tool activity.
    pub agent_ms: i64,
    pub cost_micro_usd: i64,
}

impl From<&UsageTotals> for UsageFigures {
    fn from(t: &UsageTotals) -> Self {
        Self {
            input_tokens: t.input_tokens,
            output_tokens: t.output_tokens,
            cache_read_tokens: t.cache_read_tokens,
            cache_write_tokens: t.cache_write_tokens,
            tool_calls: t.tool_calls,
            agent_ms: t.agent_ms,
            cost_micro_usd: t.cost_micro_usd,
        }
    }
}

/// Usage totals as the API shows them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UsageTotalsView {
    #[serde(flatten)]
    pub usage: UsageFigures,
    /// `cost_micro_usd` in dollars.
    pub cost_usd: f64,
}

fn record(row: &ExportRow) -> ExportRecord {
    ExportRecord {
        idempotency_key: row.idempotency_key.clone(),
        workspace_id: row.workspace_id.clone(),
        workspace: row.workspace_slug.clone(),
        run_id: row.run_id.clone(),
        agent: row.agent_name.clone(),
        step: row.step,
        kind: row.kind.clone(),
        provider: row.provider.clone(),
        model: row.model.clone(),
        tool: row.tool_name.clone(),
        usage: UsageFigures::from(&row.totals),
        price_version: row.price_version.clone(),
        occurred_at: rfc3339(row.occurred_at),
    }
}

fn object(row: &ExportRow) -> Value {
    json!(record(row))
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
        ExportFormat::Jsonl => format!("{}\n", json!(record(row))),
        ExportFormat::CloudEvents => format!(
            "{}\n",
            json!(ExportCloudEvent {
                specversion: "1.0",
                kind: "longrun.usage.v1",
                source: format!("longrun/workspaces/{}", row.workspace_slug),
                id: row.idempotency_key.clone(),
                time: rfc3339(row.occurred_at),
                subject: row.run_id.clone(),
                datacontenttype: "application/json",
                data: record(row),
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
        self.totals += &row.totals;
    }

    /// The last line of a JSON Lines export (the other formats have none).
    pub fn footer(&self, format: ExportFormat, period: &str) -> Option<String> {
        (format == ExportFormat::Jsonl).then(|| {
            format!(
                "{}\n",
                json!(ExportSummaryLine {
                    summary: ExportSummary {
                        period: period.to_string(),
                        rows: self.rows,
                        totals: totals_view(&self.totals),
                    }
                })
            )
        })
    }
}

/// Totals as the API shows them.
pub fn totals_view(t: &UsageTotals) -> UsageTotalsView {
    UsageTotalsView {
        usage: UsageFigures::from(t),
        cost_usd: t.cost_micro_usd as f64 / 1e6,
    }
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
            totals: UsageTotals {
                input_tokens: 10,
                output_tokens: 5,
                cost_micro_usd: 123,
                ..UsageTotals::default()
            },
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
    fn export_records_have_the_columns_in_order() {
        let value = object(&row());
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns = COLUMNS.to_vec();
        // serde_json orders object keys; the CSV follows COLUMNS.
        columns.sort_unstable();
        assert_eq!(keys, columns);
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

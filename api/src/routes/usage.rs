//! `GET /v1/usage`: the workspace's metered usage over a span of days, grouped by day, agent,
//! model or run, with totals.

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

use longrun_store::{DAY_MS, GroupBy, UsageTotals};

use crate::AppState;
use crate::auth::Tenant;
use crate::billing::totals_json;
use crate::error::ApiError;
use crate::extract::Query;

/// Longest span one request may cover.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

fn day(field: &str, text: &str) -> Result<i64, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| ApiError::invalid(field, "a date YYYY-MM-DD"))
}

pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<UsageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let now = longrun_store::now_ms();
    let from = match query.from.as_deref() {
        Some(text) => day("from", text)?,
        None => longrun_activities::quota::period_of(now).start_ms,
    };
    // `to` is inclusive: the whole of that day.
    let to = match query.to.as_deref() {
        Some(text) => day("to", text)? + DAY_MS,
        None => now.div_euclid(DAY_MS) * DAY_MS + DAY_MS,
    };
    if to <= from {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    if (to - from) / DAY_MS > MAX_DAYS {
        return Err(ApiError::invalid(
            "to",
            format!("at most {MAX_DAYS} days after from"),
        ));
    }
    let (group_by, name) = match query.group_by.as_deref().unwrap_or("day") {
        "day" => (GroupBy::Day, "day"),
        "agent" => (GroupBy::Agent, "agent"),
        "model" => (GroupBy::Model, "model"),
        "run" => (GroupBy::Run, "run"),
        _ => return Err(ApiError::invalid("group_by", "day, agent, model or run")),
    };
    let groups = state
        .store
        .usage_grouped(&tenant.workspace.id, from, to, group_by)
        .await?;
    let mut totals = UsageTotals::default();
    let rows: Vec<Value> = groups
        .iter()
        .map(|g| {
            let t = &g.totals;
            totals.input_tokens += t.input_tokens;
            totals.output_tokens += t.output_tokens;
            totals.cache_read_tokens += t.cache_read_tokens;
            totals.cache_write_tokens += t.cache_write_tokens;
            totals.tool_calls += t.tool_calls;
            totals.agent_ms += t.agent_ms;
            totals.cost_micro_usd += t.cost_micro_usd;
            let mut row = totals_json(t);
            row[name] = json!(g.key);
            row
        })
        .collect();
    Ok(axum::Json(json!({
        "from": longrun_store::day_label(from),
        "to": longrun_store::day_label(to - DAY_MS),
        "group_by": name,
        "rows": rows,
        "totals": totals_json(&totals),
    })))
}

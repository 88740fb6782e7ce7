//! `GET /v1/usage`: the workspace's metered usage over a span of days, grouped by day, agent,
//! model or run, with totals.

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use longrun_store::{DAY_MS, GroupBy};

use crate::AppState;
use crate::auth::Tenant;
use crate::billing::{UsageTotalsView, totals_view};
use crate::error::ApiError;

use crate::page::{CursorShape, Paged, listing};

/// Longest span one request may cover.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UsageQuery {
    /// First day, `YYYY-MM-DD` (default: the first of this month).
    #[param(value_type = Option<String>, format = Date)]
    from: Option<String>,
    /// Last day, included, `YYYY-MM-DD` (default: today); at most 366 days after `from`.
    #[param(value_type = Option<String>, format = Date)]
    to: Option<String>,
    /// `day` (the default), `agent`, `model` or `run`.
    #[param(pattern = "^(day|agent|model|run)$")]
    group_by: Option<String>,
    /// Rows per page, 1 to 1000 (default 400: a year of days fits one page).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-f]{2,512}$")]
    cursor: Option<String>,
}
listing!(UsageQuery, default 400, max 1000, CursorShape::Opaque);

/// The workspace's usage over a span of days, grouped, with totals.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageReport {
    /// First day, `YYYY-MM-DD`.
    from: String,
    /// Last day, included.
    to: String,
    /// `day`, `agent`, `model` or `run`: the key each row carries.
    group_by: &'static str,
    /// A page of groups, in key order.
    rows: Vec<UsageRow>,
    /// Pass as `cursor` for the next page of rows; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
    /// Over the whole span, whatever the page.
    totals: UsageTotalsView,
}

/// One group's totals, with its key under the name of the grouping.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsageRow {
    #[serde(flatten)]
    totals: UsageTotalsView,
    /// `group_by=day`: the day, `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    day: Option<String>,
    /// `group_by=agent`: the agent's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    agent: Option<String>,
    /// `group_by=model`: `provider/model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    model: Option<String>,
    /// `group_by=run`: the run's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    run: Option<String>,
}

fn day(field: &str, text: &str) -> Result<i64, ApiError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp_millis())
        .ok_or_else(|| ApiError::invalid(field, "a date YYYY-MM-DD"))
}

/// The workspace's metered usage over a span of days, grouped by day, agent, model or run.
#[utoipa::path(
    get,
    path = "/v1/usage",
    operation_id = "get_usage",
    params(UsageQuery),
    responses((status = 200, description = "The usage.", body = UsageReport)),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Paged { query, page }: Paged<UsageQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let now = longrun_store::now_ms();
    let from = match query.from.as_deref() {
        Some(text) => day("from", text)?,
        None => longrun_domain::period_of(now).start_ms,
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
    let after = page
        .cursor
        .as_deref()
        .map(|cursor| {
            hex::decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| ApiError::invalid("cursor", "not a cursor this API returned"))
        })
        .transpose()?;
    let groups = state
        .store
        .usage_grouped(
            &tenant.workspace.id,
            from,
            to,
            group_by,
            after.as_deref(),
            page.limit,
        )
        .await
        .map_err(|err| match err {
            longrun_store::StoreError::Corrupt(_) => {
                ApiError::invalid("cursor", "not a cursor this API returned")
            }
            other => other.into(),
        })?;
    let next_cursor = page.next_cursor(&groups, |g| hex::encode(&g.key));
    let totals = state
        .store
        .usage_between(&tenant.workspace.id, from, to)
        .await?;
    let rows = groups
        .into_iter()
        .map(|g| {
            let key = Some(g.key);
            let mut row = UsageRow {
                totals: totals_view(&g.totals),
                day: None,
                agent: None,
                model: None,
                run: None,
            };
            match group_by {
                GroupBy::Day => row.day = key,
                GroupBy::Agent => row.agent = key,
                GroupBy::Model => row.model = key,
                GroupBy::Run => row.run = key,
            }
            row
        })
        .collect();
    Ok(axum::Json(UsageReport {
        from: longrun_store::day_label(from),
        to: longrun_store::day_label(to - DAY_MS),
        group_by: name,
        rows,
        next_cursor,
        totals: totals_view(&totals),
    }))
}

//! `GET /v1/quota`: the tier's limits, what this period used, what is left, and the alerts
//! raised.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use longrun_domain::period_of;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::routes::rfc3339;

/// The workspace's limits, this period's usage, what is left, and the alerts raised.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QuotaView {
    /// `free`, `starter`, `pro` or `enterprise`.
    tier: String,
    period: PeriodView,
    limits: LimitsView,
    used: UsedView,
    remaining: RemainingView,
    alerts: Vec<AlertView>,
}

/// The calendar month (UTC) quotas count in.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PeriodView {
    /// `YYYY-MM`.
    label: String,
    start: String,
    end: String,
}

/// The tier's limits with the workspace's overrides; `null`: unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LimitsView {
    #[schema(required = true)]
    requests_per_minute: Option<u64>,
    #[schema(required = true)]
    concurrent_runs: Option<u64>,
    #[schema(required = true)]
    agent_minutes_per_month: Option<u64>,
    #[schema(required = true)]
    tokens_per_month: Option<u64>,
    /// Longest run, in seconds.
    max_run_s: u64,
    /// Multiple of the monthly quotas at which running runs pause.
    hard_cap_factor: u64,
    /// Event streams open at once (per API process).
    #[schema(required = true)]
    event_streams: Option<u64>,
    /// Agents the workspace may define.
    #[schema(required = true)]
    agents: Option<u64>,
}

/// This period's usage.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UsedView {
    tokens: u64,
    /// Agent time, rounded up to whole minutes.
    agent_minutes: u64,
    agent_ms: i64,
    /// Runs active now.
    concurrent_runs: i64,
    cost_usd: f64,
}

/// What is left; `null`: unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RemainingView {
    #[schema(required = true)]
    tokens: Option<u64>,
    #[schema(required = true)]
    agent_minutes: Option<u64>,
    #[schema(required = true)]
    concurrent_runs: Option<u64>,
}

/// A usage alert raised this period.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AlertView {
    /// `tokens` or `agent_minutes`.
    metric: String,
    /// 80, 100 or 200.
    threshold_percent: i64,
    raised_at: String,
}

fn remaining(limit: Option<u64>, used: u64) -> Option<u64> {
    limit.map(|limit| limit.saturating_sub(used))
}

/// The tier's limits, this period's usage, what is left and the alerts raised.
#[utoipa::path(
    get,
    path = "/v1/quota",
    operation_id = "get_quota",
    responses((status = 200, description = "The quota.", body = QuotaView)),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = &tenant.workspace;
    let limits = tenant.limits(&state)?;
    let period = period_of(longrun_store::now_ms());
    let used = state
        .store
        .usage_since(&workspace.id, period.start_ms)
        .await?;
    let active = state.store.active_runs(&workspace.id).await?;
    let alerts = state.store.alerts(&workspace.id, &period.label).await?;
    let tokens = used.tokens().max(0) as u64;
    let agent_minutes = (used.agent_ms.max(0) as u64).div_ceil(60_000);
    Ok(axum::Json(QuotaView {
        tier: workspace.tier.to_string(),
        period: PeriodView {
            start: rfc3339(period.start_ms),
            end: rfc3339(period.end_ms),
            label: period.label,
        },
        limits: LimitsView {
            requests_per_minute: limits.requests_per_minute,
            concurrent_runs: limits.concurrent_runs,
            agent_minutes_per_month: limits.agent_minutes_per_month,
            tokens_per_month: limits.tokens_per_month,
            max_run_s: limits.max_run_s,
            hard_cap_factor: limits.hard_cap_factor,
            event_streams: limits.event_streams,
            agents: limits.agents,
        },
        used: UsedView {
            tokens,
            agent_minutes,
            agent_ms: used.agent_ms,
            concurrent_runs: active,
            cost_usd: used.cost_micro_usd as f64 / 1e6,
        },
        remaining: RemainingView {
            tokens: remaining(limits.tokens_per_month, tokens),
            agent_minutes: remaining(limits.agent_minutes_per_month, agent_minutes),
            concurrent_runs: remaining(limits.concurrent_runs, active.max(0) as u64),
        },
        alerts: alerts
            .into_iter()
            .map(|(metric, threshold_percent, at)| AlertView {
                metric,
                threshold_percent,
                raised_at: rfc3339(at),
            })
            .collect(),
    }))
}

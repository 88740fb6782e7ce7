//! `GET /v1/quota`: the tier's limits, what this period used, what is left, and the alerts
//! raised.

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use longrun_activities::quota::period_of;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::routes::rfc3339;

fn remaining(limit: Option<u64>, used: u64) -> Value {
    match limit {
        Some(limit) => json!(limit.saturating_sub(used)),
        None => Value::Null,
    }
}

pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = &tenant.workspace;
    let limits = state
        .tiers
        .limits(&workspace.tier, workspace.quota_overrides.as_deref())
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let period = period_of(longrun_store::now_ms());
    let used = state
        .store
        .usage_since(&workspace.id, period.start_ms)
        .await?;
    let active = state.store.active_runs(&workspace.id).await?;
    let alerts = state.store.alerts(&workspace.id, &period.label).await?;
    let tokens = used.tokens().max(0) as u64;
    let agent_minutes = (used.agent_ms.max(0) as u64).div_ceil(60_000);
    Ok(axum::Json(json!({
        "tier": workspace.tier,
        "period": {
            "label": period.label,
            "start": rfc3339(period.start_ms),
            "end": rfc3339(period.end_ms),
        },
        "limits": {
            "requests_per_minute": limits.requests_per_minute,
            "concurrent_runs": limits.concurrent_runs,
            "agent_minutes_per_month": limits.agent_minutes_per_month,
            "tokens_per_month": limits.tokens_per_month,
            "max_run_s": limits.max_run_s,
            "hard_cap_factor": limits.hard_cap_factor,
        },
        "used": {
            "tokens": tokens,
            "agent_minutes": agent_minutes,
            "agent_ms": used.agent_ms,
            "concurrent_runs": active,
            "cost_usd": used.cost_micro_usd as f64 / 1e6,
        },
        "remaining": {
            "tokens": remaining(limits.tokens_per_month, tokens),
            "agent_minutes": remaining(limits.agent_minutes_per_month, agent_minutes),
            "concurrent_runs": remaining(limits.concurrent_runs, active.max(0) as u64),
        },
        "alerts": alerts.iter().map(|(metric, threshold, at)| json!({
            "metric": metric, "threshold_percent": threshold, "raised_at": rfc3339(*at),
        })).collect::<Vec<_>>(),
    })))
}

//! Quotas while runs run: the hard cap checked before each model call (over it, the run
//! pauses instead of spending), and usage alerts at 80 %, 100 % and 200 % of each monthly
//! quota, raised once per threshold and period as an audit entry, a run event and a signed
//! POST to the workspace's `alert_webhook_url`.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use longrun_store::{NewAudit, NewEvent, Store, UsageTotals, Workspace};
use longrun_workflows::payloads::{QuotaPause, RunRef};

use longrun_domain::period::ALERT_THRESHOLDS;
use longrun_domain::{Limits, Period, Tiers, period_of};

use crate::egress::{EgressPolicy, check_url};
use crate::tools::webhook::message_request;

/// The workspace, its limits, the period and what it used so far.
pub(crate) struct Standing {
    pub(crate) workspace: Workspace,
    pub(crate) limits: Limits,
    pub(crate) period: Period,
    pub(crate) used: UsageTotals,
}

/// The start of the workspace's quota period (epoch ms), when it has monthly quotas to
/// enforce: from then on its usage is read with each model turn.
pub(crate) fn quota_period(tiers: &Tiers, workspace: &Workspace) -> Option<i64> {
    let limits = limits(tiers, workspace)?;
    if limits.tokens_per_month.is_none() && limits.agent_minutes_per_month.is_none() {
        return None;
    }
    Some(period_of(longrun_store::now_ms()).start_ms)
}

fn limits(tiers: &Tiers, workspace: &Workspace) -> Option<Limits> {
    match tiers.limits(workspace.tier, &workspace.quota_overrides) {
        Ok(limits) => Some(limits),
        Err(err) => {
            // A broken override must not stop a run: enforce nothing, and say so.
            tracing::error!(workspace = %workspace.id, error = %err, "cannot read the workspace's limits");
            None
        }
    }
}

impl Standing {
    /// The standing of a workspace whose usage was read (see [`quota_period`]).
    pub(crate) fn of(
        tiers: &Tiers,
        workspace: Option<Workspace>,
        used: Option<UsageTotals>,
    ) -> Option<Standing> {
        let (workspace, used) = (workspace?, used?);
        Some(Standing {
            limits: limits(tiers, &workspace)?,
            period: period_of(longrun_store::now_ms()),
            workspace,
            used,
        })
    }
}

/// The alerts this process raised or found raised: `(workspace, period, metric, threshold)`.
/// Bounded: it forgets everything past [`AlertsRaised::MAX`] entries (asking the store again
/// is only a little slower).
#[derive(Default)]
pub(crate) struct AlertsRaised {
    seen: Mutex<BTreeSet<(String, String, &'static str, u64)>>,
}

impl AlertsRaised {
    const MAX: usize = 10_000;

    fn contains(&self, key: &(String, String, &'static str, u64)) -> bool {
        self.lock().contains(key)
    }

    fn insert(&self, key: (String, String, &'static str, u64)) {
        let mut seen = self.lock();
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        seen.insert(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<(String, String, &'static str, u64)>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whether the workspace is over its hard cap (2× the monthly quota; 1× on free).
pub(crate) fn over_hard_cap(standing: &Standing) -> Option<QuotaPause> {
    let tokens = standing.used.tokens().max(0) as u64;
    if let Some(cap) = standing.limits.token_cap()
        && tokens >= cap
    {
        return Some(QuotaPause {
            metric: "tokens".into(),
            used: tokens,
            cap,
        });
    }
    let agent_ms = standing.used.agent_ms.max(0) as u64;
    if let Some(cap) = standing.limits.agent_ms_cap()
        && agent_ms >= cap
    {
        return Some(QuotaPause {
            metric: "agent_minutes".into(),
            used: agent_ms / 60_000,
            cap: cap / 60_000,
        });
    }
    None
}

/// Raises the alerts `standing` has crossed that were not raised yet this period.
pub(crate) async fn raise_alerts(
    store: &Store,
    http: &reqwest::Client,
    http_settings: &EgressPolicy,
    run: &RunRef,
    standing: &Standing,
    raised: &AlertsRaised,
) -> Result<(), longrun_store::StoreError> {
    let metrics = [
        (
            "tokens",
            standing.used.tokens().max(0) as u64,
            standing.limits.tokens_per_month,
        ),
        (
            "agent_minutes",
            (standing.used.agent_ms.max(0) as u64) / 60_000,
            standing.limits.agent_minutes_per_month,
        ),
    ];
    for (metric, used, limit) in metrics {
        let Some(limit) = limit.filter(|l| *l > 0) else {
            continue;
        };
        for threshold in ALERT_THRESHOLDS {
            if used.saturating_mul(100) < limit.saturating_mul(threshold) {
                continue;
            }
            let workspace = &standing.workspace;
            let period = &standing.period.label;
            let key = (workspace.id.to_string(), period.clone(), metric, threshold);
            if raised.contains(&key) {
                continue;
            }
            let first = store
                .raise_alert(&workspace.id, period, metric, threshold as i64)
                .await?;
            raised.insert(key);
            if !first {
                continue;
            }
            let data = json!({
                "metric": metric, "threshold_percent": threshold, "used": used, "limit": limit,
                "period": period, "run_id": run.run_id,
            });
            store
                .audit(NewAudit {
                    workspace_id: Some(&workspace.id),
                    actor: "system",
                    action: "quota.alert",
                    target: Some(metric),
                    data: &data.to_string(),
                    ip: None,
                })
                .await?;
            store
                .append_event(NewEvent {
                    workspace_id: &workspace.id,
                    run_id: &run.run_id,
                    kind: longrun_domain::EventKind::QuotaAlert,
                    dedupe_key: &format!("quota.alert/{period}/{metric}/{threshold}"),
                    data: &data.to_string(),
                })
                .await?;
            if let Some(url) = &workspace.alert_webhook_url {
                notify(store, http, http_settings, workspace, url, &data).await;
            }
        }
    }
    Ok(())
}

/// POSTs an alert to the workspace's URL, signed; best effort (the audit log has it anyway).
async fn notify(
    store: &Store,
    http: &reqwest::Client,
    http_settings: &EgressPolicy,
    workspace: &Workspace,
    url: &str,
    data: &serde_json::Value,
) {
    let Ok(url) = check_url(http_settings, url) else {
        tracing::warn!(workspace = %workspace.id, "the alert webhook URL is refused");
        return;
    };
    let Ok(secret) = store.webhook_secret(&workspace.id).await else {
        return;
    };
    let body = json!({ "type": "quota.alert", "alert": data }).to_string();
    let id = format!(
        "msg_alert_{}_{}_{}_{}",
        workspace.id,
        data["period"].as_str().unwrap_or_default(),
        data["metric"].as_str().unwrap_or_default(),
        data["threshold_percent"]
    );
    let timestamp = longrun_store::now_ms() / 1000;
    let sent = message_request(http, url, &id, timestamp, Some(&secret), body)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            tracing::warn!(workspace = %workspace.id, status = %response.status(), "the alert webhook refused the alert")
        }
        Err(_) => tracing::warn!(workspace = %workspace.id, "the alert webhook is unreachable"),
    }
}

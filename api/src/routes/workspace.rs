//! `GET /v1/workspace`: the caller's workspace, with the secret that signs its completion
//! webhooks (created on first read).

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use longrun_store::NewAudit;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::rfc3339;

pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = &tenant.workspace;
    let candidate = longrun_activities::new_webhook_secret()
        .map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    let secret = state
        .store
        .webhook_secret(&workspace.id, &candidate)
        .await?;
    Ok(axum::Json(json!({
        "id": workspace.id,
        "slug": workspace.slug,
        "name": workspace.name,
        "tier": workspace.tier,
        "created_at": rfc3339(workspace.created_at),
        "webhook_secret": secret,
        "alert_webhook_url": workspace.alert_webhook_url,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWorkspace {
    /// Where usage alerts are POSTed; `null` stops them.
    alert_webhook_url: Option<String>,
}

/// `PUT /v1/workspace`: the workspace's own settings.
pub(crate) async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<UpdateWorkspace>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(url) = &body.alert_webhook_url
        && (!(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048)
    {
        return Err(ApiError::invalid(
            "alert_webhook_url",
            "an http(s) URL of at most 2048 bytes",
        ));
    }
    state
        .store
        .set_alert_webhook_url(&tenant.workspace.id, body.alert_webhook_url.as_deref())
        .await?;
    state
        .store
        .audit(NewAudit {
            workspace_id: Some(&tenant.workspace.id),
            actor: &tenant.actor,
            action: "workspace.update",
            target: None,
            data: &json!({ "alert_webhook_url": body.alert_webhook_url }).to_string(),
            ip: None,
        })
        .await?;
    Ok(axum::Json(
        json!({ "alert_webhook_url": body.alert_webhook_url }),
    ))
}

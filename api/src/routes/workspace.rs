//! `GET /v1/workspace`: the caller's workspace, with the secret that signs its completion
//! webhooks (created on first read).

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::rfc3339;
use crate::routes::runs::create::{check_run_webhook, check_webhook_url};

/// The caller's workspace.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkspaceView {
    id: String,
    slug: String,
    name: String,
    /// `free`, `starter`, `pro` or `enterprise`.
    tier: String,
    created_at: String,
    /// Signs the workspace's completion webhooks (Standard Webhooks, `whsec_…`).
    webhook_secret: String,
    /// Where usage alerts are POSTed; `null`: nowhere.
    #[schema(required = true)]
    alert_webhook_url: Option<String>,
    /// The webhook of runs that name none; `null`: none.
    #[schema(required = true)]
    webhook_url: Option<String>,
    /// The events POSTed to `webhook_url` (`null`: `run.completed` alone).
    #[schema(required = true)]
    webhook_events: Option<Vec<String>>,
}

/// The workspace's settings after an update.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkspaceSettings {
    #[schema(required = true)]
    alert_webhook_url: Option<String>,
    #[schema(required = true)]
    webhook_url: Option<String>,
    #[schema(required = true)]
    webhook_events: Option<Vec<String>>,
}

fn event_names(json: Option<&str>) -> Option<Vec<String>> {
    json.and_then(|events| serde_json::from_str(events).ok())
}

/// Reads the workspace, with the secret that signs its webhooks (created on first read).
#[utoipa::path(
    get,
    path = "/v1/workspace",
    operation_id = "get_workspace",
    responses((status = 200, description = "The workspace.", body = WorkspaceView)),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let workspace = &tenant.workspace;
    let secret = state.store.webhook_secret(&workspace.id).await?;
    Ok(axum::Json(WorkspaceView {
        id: workspace.id.to_string(),
        slug: workspace.slug.to_string(),
        name: workspace.name.clone(),
        tier: workspace.tier.to_string(),
        created_at: rfc3339(workspace.created_at),
        webhook_secret: secret,
        alert_webhook_url: workspace.alert_webhook_url.clone(),
        webhook_url: workspace.webhook_url.clone(),
        webhook_events: event_names(workspace.webhook_events.as_deref()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWorkspace {
    /// Where usage alerts are POSTed: an http(s) URL of at most 2048 bytes; `null` (or leaving
    /// it out) stops them.
    #[schema(pattern = "^https?://", max_length = 2048)]
    alert_webhook_url: Option<String>,
    /// The webhook of runs that name none (Standard Webhooks, signed with `webhook_secret`):
    /// an http(s) URL of at most 2048 bytes; `null` (or leaving it out): none.
    #[serde(default)]
    #[schema(pattern = "^https?://", max_length = 2048)]
    webhook_url: Option<String>,
    /// The events POSTed to `webhook_url`: `approval.requested`, `input.requested`,
    /// `quota.paused`, `run.completed` (`null`: `run.completed` alone).
    #[serde(default)]
    #[schema(max_items = 4)]
    webhook_events: Option<Vec<String>>,
}

/// `PUT /v1/workspace`: the workspace's own settings.
#[utoipa::path(
    put,
    path = "/v1/workspace",
    operation_id = "update_workspace",
    request_body = UpdateWorkspace,
    responses((status = 200, description = "The settings now in force.", body = WorkspaceSettings)),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<UpdateWorkspace>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(url) = &body.alert_webhook_url {
        check_webhook_url("alert_webhook_url", url)?;
    }
    let events = check_run_webhook(body.webhook_url.as_deref(), body.webhook_events.as_deref())?;
    if events.is_some() && body.webhook_url.is_none() {
        return Err(ApiError::invalid("webhook_events", "needs a webhook_url"));
    }
    let events = events.map(|kinds| json!(kinds).to_string());
    let workspace_id = &tenant.workspace.id;
    state
        .store
        .set_alert_webhook_url(workspace_id, body.alert_webhook_url.as_deref())
        .await?;
    state
        .store
        .set_run_webhook(workspace_id, body.webhook_url.as_deref(), events.as_deref())
        .await?;
    let settings = WorkspaceSettings {
        alert_webhook_url: body.alert_webhook_url,
        webhook_url: body.webhook_url,
        webhook_events: event_names(events.as_deref()),
    };
    tenant
        .audit(
            &state,
            "workspace.update",
            None,
            &serde_json::to_string(&settings).map_err(|e| ApiError::Internal(e.to_string()))?,
        )
        .await?;
    Ok(axum::Json(settings))
}

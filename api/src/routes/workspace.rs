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
}

/// The workspace's settings after an update.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WorkspaceSettings {
    #[schema(required = true)]
    alert_webhook_url: Option<String>,
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
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateWorkspace {
    /// Where usage alerts are POSTed: an http(s) URL of at most 2048 bytes; `null` (or leaving
    /// it out) stops them.
    #[schema(pattern = "^https?://", max_length = 2048)]
    alert_webhook_url: Option<String>,
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
    tenant
        .audit(
            &state,
            "workspace.update",
            None,
            &json!({ "alert_webhook_url": body.alert_webhook_url }).to_string(),
        )
        .await?;
    Ok(axum::Json(WorkspaceSettings {
        alert_webhook_url: body.alert_webhook_url,
    }))
}

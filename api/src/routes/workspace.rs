//! `GET /v1/workspace`: the caller's workspace, with the secret that signs its completion
//! webhooks (created on first read).

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
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
    })))
}

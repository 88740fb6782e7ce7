//! `/v1/api-keys`: a workspace's API keys. The secret is shown once, at creation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use longrun_store::{ApiKey, NewAudit};

use crate::AppState;
use crate::auth::{Role, Tenant};
use crate::error::ApiError;
use crate::extract::Json;
use crate::routes::rfc3339;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    name: String,
    role: String,
}

fn view(key: &ApiKey) -> Value {
    json!({
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "prefix": key.prefix,
        "created_at": rfc3339(key.created_at),
        "last_used_at": key.last_used_at.map(rfc3339),
    })
}

pub(crate) async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    Json(body): Json<CreateKey>,
) -> Result<impl IntoResponse, ApiError> {
    if body.name.trim().is_empty() || body.name.len() > 100 {
        return Err(ApiError::invalid("name", "1 to 100 characters"));
    }
    let role = Role::parse(&body.role)
        .ok_or_else(|| ApiError::invalid("role", "admin, member or billing"))?;
    let (key, secret) = crate::issue_api_key(
        &state.store,
        &tenant.workspace.id,
        &body.name,
        role.as_str(),
    )
    .await?;
    state
        .store
        .audit(NewAudit {
            workspace_id: Some(&tenant.workspace.id),
            actor: &tenant.actor,
            action: "api_key.create",
            target: Some(&key.id),
            data: &json!({ "name": key.name, "role": key.role, "prefix": key.prefix }).to_string(),
            ip: None,
        })
        .await?;
    let mut body = view(&key);
    body["secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, axum::Json(body)))
}

pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
) -> Result<impl IntoResponse, ApiError> {
    let keys = state.store.list_api_keys(&tenant.workspace.id).await?;
    Ok(axum::Json(
        json!({ "api_keys": keys.iter().map(view).collect::<Vec<_>>() }),
    ))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(key_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    if !state
        .store
        .revoke_api_key(&tenant.workspace.id, &key_id)
        .await?
    {
        return Err(ApiError::NotFound {
            code: "api_key_not_found",
            message: "no such live API key in this workspace".into(),
        });
    }
    state
        .store
        .audit(NewAudit {
            workspace_id: Some(&tenant.workspace.id),
            actor: &tenant.actor,
            action: "api_key.revoke",
            target: Some(&key_id),
            data: "{}",
            ip: None,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

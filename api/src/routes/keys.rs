//! `/v1/api-keys`: a workspace's API keys. The secret is shown once, at creation.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use longrun_store::ApiKey;

use crate::AppState;
use crate::auth::{Role, Tenant};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::page::{CursorShape, Paged, listing};
use crate::routes::rfc3339;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKey {
    /// 1 to 100 bytes, not only spaces.
    #[schema(min_length = 1, max_length = 100, example = "ci")]
    name: String,
    /// `admin`, `member` or `billing`.
    #[schema(pattern = "^(admin|member|billing)$", example = "member")]
    role: String,
}

/// An API key; its secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    id: String,
    name: String,
    /// `admin`, `member` or `billing`.
    role: String,
    /// The key's first characters, to recognise it.
    prefix: String,
    created_at: String,
    #[schema(required = true)]
    last_used_at: Option<String>,
}

/// A new API key with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The key itself (`lr_…`): `Authorization: Bearer <secret>`.
    secret: String,
}

/// A page of live keys, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiKeyList {
    /// Live keys.
    api_keys: Vec<ApiKeyView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyListQuery {
    /// Keys per page, 1 to 100 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^key_[0-9a-f]{32}$")]
    cursor: Option<String>,
}
listing!(KeyListQuery, default 50, max 100, CursorShape::Prefixed("key"));

fn view(key: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: key.id.to_string(),
        name: key.name.clone(),
        role: key.role.clone(),
        prefix: key.prefix.clone(),
        created_at: rfc3339(key.created_at),
        last_used_at: key.last_used_at.map(rfc3339),
    }
}

/// Creates an API key; its secret is in this answer only.
#[utoipa::path(
    post,
    path = "/v1/api-keys",
    operation_id = "create_api_key",
    request_body = CreateKey,
    responses(
        (status = 201, description = "The key, with its secret.", body = CreatedApiKey),
        (status = 409, description = "`api_key_limit`: the workspace has its 100 live keys; revoke one first.", body = ErrorBody),
    ),
)]
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
    .await
    .map_err(|err| match err {
        ApiError::Conflict {
            code: "limit_reached",
            message,
        } => ApiError::Conflict {
            code: "api_key_limit",
            message,
        },
        other => other,
    })?;
    tenant
        .audit(
            &state,
            "api_key.create",
            Some(key.id.as_str()),
            &json!({ "name": key.name, "role": key.role, "prefix": key.prefix }).to_string(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedApiKey {
            key: view(&key),
            secret,
        }),
    ))
}

/// Lists the workspace's live keys (never their secrets).
#[utoipa::path(
    get,
    path = "/v1/api-keys",
    operation_id = "list_api_keys",
    params(KeyListQuery),
    responses((status = 200, description = "A page of live keys.", body = ApiKeyList)),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Paged { page, .. }: Paged<KeyListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let keys = state
        .store
        .list_api_keys(&tenant.workspace.id, page.cursor.as_deref(), page.limit)
        .await?;
    Ok(axum::Json(ApiKeyList {
        next_cursor: page.next_cursor(&keys, |k| k.id.to_string()),
        api_keys: keys.iter().map(view).collect(),
    }))
}

/// Revokes a key, at once.
#[utoipa::path(
    delete,
    path = "/v1/api-keys/{id}",
    operation_id = "revoke_api_key",
    params(("id" = String, Path, description = "The key's id.")),
    responses((status = 204, description = "The key is revoked.")),
)]
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
    tenant
        .audit(&state, "api_key.revoke", Some(&key_id), "{}")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

//! `GET /v1/audit`: the workspace's audit log, newest first, cursor-paged.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::page::{CursorShape, Paged, listing};
use crate::routes::rfc3339;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Entries per page, 1 to 200 (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^aud_[0-9a-f]{32}$")]
    cursor: Option<String>,
}
listing!(AuditQuery, default 50, max 200, CursorShape::Prefixed("aud"));

/// One audited action.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditEntryView {
    id: String,
    /// Who acted: `key:<id>`, `user:<id>`, `operator`, `system`, or `email:<hash>` for a
    /// failed login.
    actor: String,
    /// What happened: `auth.register`, `auth.login`, `api_key.create`, `agent.update`, …
    action: String,
    #[schema(required = true)]
    target: Option<String>,
    /// Details of the action (a JSON object), or `null`.
    #[schema(value_type = Option<Object>, required = true)]
    data: Value,
    /// The client's address, where known.
    #[schema(required = true)]
    ip: Option<String>,
    created_at: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    entries: Vec<AuditEntryView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// The workspace's audit log, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "list_audit",
    params(AuditQuery),
    responses((status = 200, description = "A page of entries.", body = AuditPage)),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Paged { page, .. }: Paged<AuditQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let entries = state
        .store
        .audit_log(&tenant.workspace.id, page.cursor.as_deref(), page.limit)
        .await?;
    let next_cursor = page.next_cursor(&entries, |e| e.id.clone());
    let entries = entries
        .into_iter()
        .map(|e| AuditEntryView {
            data: serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null),
            created_at: rfc3339(e.created_at),
            id: e.id,
            actor: e.actor,
            action: e.action,
            target: e.target,
            ip: e.ip,
        })
        .collect();
    Ok(axum::Json(AuditPage {
        entries,
        next_cursor,
    }))
}

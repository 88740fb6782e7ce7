//! `GET /v1/audit`: the workspace's audit log, newest first, cursor-paged.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::extract::Query;
use crate::routes::rfc3339;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Query(query): Query<AuditQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = match query.limit.as_deref() {
        None => 50,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| ApiError::invalid("limit", "an integer from 1 to 200"))?,
    };
    if let Some(cursor) = query.cursor.as_deref()
        && (!cursor.starts_with("aud_") || cursor.len() > 64)
    {
        return Err(ApiError::invalid(
            "cursor",
            "not a cursor this API returned",
        ));
    }
    let entries = state
        .store
        .audit_log(&tenant.workspace.id, query.cursor.as_deref(), limit)
        .await?;
    let next_cursor = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "data": serde_json::from_str::<Value>(&e.data).unwrap_or(Value::Null),
                "ip": e.ip,
                "created_at": rfc3339(e.created_at),
            })
        })
        .collect();
    Ok(axum::Json(
        json!({ "entries": entries, "next_cursor": next_cursor }),
    ))
}

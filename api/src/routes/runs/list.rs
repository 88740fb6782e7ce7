//! `GET /v1/runs`: the workspace's runs, newest first, cursor-paged, filtered by agent,
//! statuses, metadata pairs and a creation window. The same filter (without the window)
//! selects the runs of a bulk cancellation.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::IntoResponse;
use chrono::DateTime;
use serde::Deserialize;
use utoipa::IntoParams;

use longrun_domain::{AgentName, RunStatus};
use longrun_store::{
    MAX_INDEXED_KEY_BYTES, MAX_INDEXED_VALUE_BYTES, MAX_METADATA_FILTERS, RunListFilter,
};

use super::view::{RunPage, views};
use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiError;
use crate::page::{CursorShape, Paged, listing};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Runs per page, 1 to 100 (default 20).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(pattern = "^[0-9a-fA-F]{32}$")]
    cursor: Option<String>,
    /// Only runs in one of these statuses, comma-separated (`waiting_input,waiting_approval`).
    #[param(value_type = Option<String>, pattern = "^[a-z_]+(,[a-z_]+)*$", example = "succeeded,failed")]
    status: Option<String>,
    /// Only runs of this agent.
    #[param(pattern = "^[a-z0-9][a-z0-9_-]{0,63}$")]
    agent: Option<String>,
    /// Only runs created at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    created_after: Option<String>,
    /// Only runs created before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    created_before: Option<String>,
    /// `metadata.<key>=<value>`: only runs whose metadata has this key with this value
    /// (strings as they are, numbers and booleans as JSON writes them); up to 8.
    #[serde(flatten)]
    #[param(ignore)]
    metadata: BTreeMap<String, String>,
}
listing!(ListQuery, default 20, max 100, CursorShape::Hex32);

/// Statuses named in a comma-separated list, each checked.
pub(crate) fn parse_statuses(field: &str, names: &[&str]) -> Result<Vec<RunStatus>, ApiError> {
    names
        .iter()
        .map(|name| {
            RunStatus::parse(name.trim()).ok_or_else(|| {
                let names: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
                ApiError::invalid(
                    field,
                    format!(
                        "unknown status {name:?}; expected one of {}",
                        names.join(", ")
                    ),
                )
            })
        })
        .collect()
}

pub(crate) fn parse_agent(agent: Option<&str>) -> Result<Option<&str>, ApiError> {
    agent
        .map(|name| {
            AgentName::parse(name)
                .map(|_| name)
                .map_err(|_| ApiError::invalid("agent", "not an agent name"))
        })
        .transpose()
}

/// Checks one metadata condition: a short key and a short value.
pub(crate) fn metadata_pair(
    field: &str,
    key: &str,
    value: String,
) -> Result<(String, String), ApiError> {
    if key.is_empty() || key.len() > MAX_INDEXED_KEY_BYTES {
        return Err(ApiError::invalid(
            field,
            format!("a key of 1 to {MAX_INDEXED_KEY_BYTES} bytes"),
        ));
    }
    if value.len() > MAX_INDEXED_VALUE_BYTES {
        return Err(ApiError::invalid(
            field,
            format!("values longer than {MAX_INDEXED_VALUE_BYTES} bytes are not indexed"),
        ));
    }
    Ok((key.to_string(), value))
}

fn parse_time(field: &str, text: Option<&str>) -> Result<Option<i64>, ApiError> {
    text.map(|text| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|_| ApiError::invalid(field, "an RFC 3339 time, like 2025-01-31T12:00:00Z"))
    })
    .transpose()
}

/// Lists the workspace's runs, newest first, without their input. Filters combine: `agent`,
/// `status` (several, comma-separated), `created_after`, `created_before`, and any number
/// (up to 8) of `metadata.<key>=<value>`.
#[utoipa::path(
    get,
    path = "/v1/runs",
    operation_id = "list_runs",
    params(ListQuery),
    responses((status = 200, description = "A page of runs.", body = RunPage)),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    Paged { query, page }: Paged<ListQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let statuses = match query.status.as_deref() {
        Some(list) => parse_statuses("status", &list.split(',').collect::<Vec<_>>())?,
        None => Vec::new(),
    };
    let mut metadata = Vec::new();
    for (name, value) in query.metadata {
        let Some(key) = name.strip_prefix("metadata.") else {
            return Err(ApiError::invalid(&name, "unknown query parameter"));
        };
        metadata.push(metadata_pair(&name, key, value)?);
    }
    if metadata.len() > MAX_METADATA_FILTERS {
        return Err(ApiError::invalid(
            "metadata",
            format!("at most {MAX_METADATA_FILTERS} conditions"),
        ));
    }
    let filter = RunListFilter {
        statuses,
        agent: parse_agent(query.agent.as_deref())?,
        metadata,
        created_after: parse_time("created_after", query.created_after.as_deref())?,
        created_before: parse_time("created_before", query.created_before.as_deref())?,
        before: page.cursor.as_deref(),
        limit: page.limit,
    };
    let workspace_id = &tenant.workspace.id;
    let runs = state.store.list_runs(workspace_id, filter).await?;
    let next_cursor = page.next_cursor(&runs, |r| r.id.to_string());
    let runs = views(&state, workspace_id, &runs, false).await?;
    Ok(axum::Json(RunPage { runs, next_cursor }))
}

//! What the runs list (and bulk cancellation) filters on: agent, several statuses, metadata
//! pairs and a creation window, newest first and cursor-paged.
//!
//! Metadata is stored as JSON text on the run; its short scalar pairs are also written to
//! `run_metadata` at admission, so `metadata.<key>=<value>` is an index lookup instead of a
//! JSON scan. Run ids are UUIDv7, whose first 48 bits are the creation time in milliseconds:
//! a creation window becomes a range of ids, which the `(workspace_id, id)` index serves;
//! the exact `created_at` condition is kept beside it.

use longrun_domain::RunStatus;
use sqlx::Row;

use crate::runs::{COLUMNS, NewRun, Run};
use crate::{Backend, Result, Store, Tx};

/// Longest metadata key that is indexed (and may be filtered on), in bytes.
pub const MAX_INDEXED_KEY_BYTES: usize = 64;
/// Longest metadata value (as text) that is indexed, in bytes.
pub const MAX_INDEXED_VALUE_BYTES: usize = 256;
/// Most `metadata.<key>` conditions one list may have.
pub const MAX_METADATA_FILTERS: usize = 8;

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunListFilter<'a> {
    /// Any of these statuses; empty: any status.
    pub statuses: Vec<RunStatus>,
    pub agent: Option<&'a str>,
    /// Every pair must match: key and value as text (strings as they are, numbers and
    /// booleans as JSON writes them).
    pub metadata: Vec<(String, String)>,
    /// Created at or after (epoch ms).
    pub created_after: Option<i64>,
    /// Created before (epoch ms).
    pub created_before: Option<i64>,
    /// Only runs older than this run id (ids sort by creation time).
    pub before: Option<&'a str>,
    pub limit: i64,
}

/// A run id's text that sorts before every id created at `ms` or later.
fn id_floor(ms: i64) -> String {
    format!("{:012x}{}", ms.clamp(0, 0xffff_ffff_ffff), "0".repeat(20))
}

/// How far a run's `created_at` may trail the time in its id (the id is made first).
const ID_CLOCK_SLACK_MS: i64 = 60_000;

/// The metadata pairs of a run that are indexed: scalar values, short keys and values.
pub fn indexed_pairs(metadata_json: &str) -> Vec<(String, String)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(metadata_json) else {
        return Vec::new();
    };
    map.into_iter()
        .filter_map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(text) => text,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            (key.len() <= MAX_INDEXED_KEY_BYTES && text.len() <= MAX_INDEXED_VALUE_BYTES)
                .then_some((key, text))
        })
        .collect()
}

/// Writes the indexed metadata pairs of a run being inserted.
pub(crate) async fn index_metadata(tx: &mut Tx, new: &NewRun<'_>) -> Result<()> {
    let Some(metadata) = new.metadata else {
        return Ok(());
    };
    for (key, value) in indexed_pairs(metadata) {
        sqlx::query(
            "INSERT INTO run_metadata (run_id, workspace_id, key, value) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (run_id, key) DO NOTHING",
        )
        .bind(new.id)
        .bind(new.workspace_id)
        .bind(key)
        .bind(value)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The statement of a list: its text and binds.
fn list_statement(workspace_id: &str, filter: &RunListFilter<'_>) -> (String, Vec<Bind>) {
    // Only the conditions asked for are written, each with placeholders: Postgres plans each
    // shape on its own (a `$n IS NULL OR …` would hide the index from a generic plan), and
    // the number of shapes stays small (the filters are bounded).
    let mut sql = format!("SELECT {COLUMNS} FROM runs r WHERE r.workspace_id = $1");
    let mut binds: Vec<Bind> = vec![Bind::Text(workspace_id.to_string())];
    let next = |binds: &mut Vec<Bind>, value: Bind| {
        binds.push(value);
        format!("${}", binds.len())
    };
    let mut statuses = filter.statuses.clone();
    statuses.sort();
    statuses.dedup();
    if !statuses.is_empty() {
        let list: Vec<String> = statuses
            .iter()
            .map(|s| next(&mut binds, Bind::Text(s.as_str().to_string())))
            .collect();
        sql.push_str(&format!(" AND r.status IN ({})", list.join(", ")));
    }
    if let Some(agent) = filter.agent {
        let p = next(&mut binds, Bind::Text(agent.to_string()));
        sql.push_str(&format!(" AND r.agent_name = {p}"));
    }
    if let Some(after) = filter.created_after {
        let floor = next(&mut binds, Bind::Text(id_floor(after - ID_CLOCK_SLACK_MS)));
        let p = next(&mut binds, Bind::Int(after));
        sql.push_str(&format!(" AND r.id >= {floor} AND r.created_at >= {p}"));
    }
    if let Some(before) = filter.created_before {
        let ceiling = next(&mut binds, Bind::Text(id_floor(before + 1)));
        let p = next(&mut binds, Bind::Int(before));
        sql.push_str(&format!(" AND r.id < {ceiling} AND r.created_at < {p}"));
    }
    if let Some(cursor) = filter.before {
        let p = next(&mut binds, Bind::Text(cursor.to_string()));
        sql.push_str(&format!(" AND r.id < {p}"));
    }
    for (key, value) in filter.metadata.iter().take(MAX_METADATA_FILTERS) {
        let k = next(&mut binds, Bind::Text(key.clone()));
        let v = next(&mut binds, Bind::Text(value.clone()));
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM run_metadata m WHERE m.workspace_id = $1 \
               AND m.key = {k} AND m.value = {v} AND m.run_id = r.id)"
        ));
    }
    let p = next(&mut binds, Bind::Int(filter.limit));
    sql.push_str(&format!(" ORDER BY r.id DESC LIMIT {p}"));
    (sql, binds)
}

fn bound(sql: &str, binds: Vec<Bind>) -> crate::Statement<'_> {
    let mut statement = sqlx::query(sql);
    for bind in binds {
        statement = match bind {
            Bind::Text(text) => statement.bind(text),
            Bind::Int(n) => statement.bind(n),
        };
    }
    statement
}

impl Store {
    /// Runs matching `filter`, newest first; `filter.before` continues a previous page.
    pub async fn list_runs(
        &self,
        workspace_id: &str,
        filter: RunListFilter<'_>,
    ) -> Result<Vec<Run>> {
        let (sql, binds) = list_statement(workspace_id, &filter);
        let rows = self.tenant_all(workspace_id, bound(&sql, binds)).await?;
        rows.iter().map(Run::from_row).collect()
    }

    /// The plan the database chooses for a list with `filter`: Postgres's `EXPLAIN`, SQLite's
    /// `EXPLAIN QUERY PLAN`, one line per node (see docs/runs-api.md).
    pub async fn explain_list_runs(
        &self,
        workspace_id: &str,
        filter: RunListFilter<'_>,
    ) -> Result<Vec<String>> {
        let (sql, binds) = list_statement(workspace_id, &filter);
        let (explain, column) = match self.backend {
            Backend::Postgres => (format!("EXPLAIN {sql}"), 0),
            Backend::Sqlite => (format!("EXPLAIN QUERY PLAN {sql}"), 3),
        };
        let rows = self
            .tenant_all(workspace_id, bound(&explain, binds))
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>(column)?))
            .collect()
    }
}

enum Bind {
    Text(String),
    Int(i64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_scalar_pairs_are_indexed() {
        let long = "x".repeat(MAX_INDEXED_VALUE_BYTES + 1);
        let json = serde_json::json!({
            "team": "blue", "n": 3, "ok": true, "nested": {"a": 1}, "list": [1], "long": long,
        })
        .to_string();
        let mut pairs = indexed_pairs(&json);
        pairs.sort();
        assert_eq!(
            pairs,
            [("n", "3"), ("ok", "true"), ("team", "blue")]
                .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(indexed_pairs("not json").is_empty());
    }

    #[test]
    fn an_id_floor_sorts_like_the_ids_made_at_that_time() {
        let id = uuid::Uuid::now_v7().simple().to_string();
        let ms = i64::from_str_radix(&id[..12], 16).unwrap();
        assert!(id_floor(ms).as_str() <= id.as_str());
        assert!(id_floor(ms + 1).as_str() > id.as_str());
        assert_eq!(id_floor(ms).len(), 32);
    }
}

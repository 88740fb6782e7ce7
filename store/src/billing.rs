//! Billing reads of the ledger: daily rollups (what quota checks read for past days), usage
//! grouped for a workspace, the cross-tenant export (paged by `(occurred_at, id)` so it runs in
//! constant memory at any size), and what reconciliation compares.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{DAY_MS, Result, Statement, Store, StoreError, Tx, UsageTotals, day_label, now_ms};

const SUMS: &str = "CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT), \
    CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT), \
    CAST(COALESCE(SUM(cache_read_tokens), 0) AS BIGINT), \
    CAST(COALESCE(SUM(cache_write_tokens), 0) AS BIGINT), \
    CAST(COALESCE(SUM(tool_calls), 0) AS BIGINT), \
    CAST(COALESCE(SUM(agent_ms), 0) AS BIGINT), \
    CAST(COALESCE(SUM(cost_micro_usd), 0) AS BIGINT)";

/// The ledger's and the daily rollup's totals columns, in the order `totals_at` reads them.
const TOTAL_COLUMNS: &str = "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, tool_calls, agent_ms, \
     cost_micro_usd";

/// Binds totals to the next seven placeholders, in [`TOTAL_COLUMNS`] order.
pub(crate) fn bind_totals<'q>(statement: Statement<'q>, totals: &UsageTotals) -> Statement<'q> {
    statement
        .bind(totals.input_tokens)
        .bind(totals.output_tokens)
        .bind(totals.cache_read_tokens)
        .bind(totals.cache_write_tokens)
        .bind(totals.tool_calls)
        .bind(totals.agent_ms)
        .bind(totals.cost_micro_usd)
}

fn totals_at(row: &AnyRow, first: usize) -> Result<UsageTotals> {
    Ok(UsageTotals {
        input_tokens: row.try_get(first)?,
        output_tokens: row.try_get(first + 1)?,
        cache_read_tokens: row.try_get(first + 2)?,
        cache_write_tokens: row.try_get(first + 3)?,
        tool_calls: row.try_get(first + 4)?,
        agent_ms: row.try_get(first + 5)?,
        cost_micro_usd: row.try_get(first + 6)?,
    })
}

/// Usage of a workspace since `from_ms`: past days from the rollups where they exist,
/// the rest from the ledger, so the cost stays bounded however large the ledger grows.
pub(crate) async fn usage_since(
    tx: &mut Tx,
    workspace_id: &str,
    from_ms: i64,
) -> Result<UsageTotals> {
    let mut raw_from = from_ms;
    let mut rolled = UsageTotals::default();
    if from_ms % DAY_MS == 0 {
        let today_start = now_ms().div_euclid(DAY_MS) * DAY_MS;
        // Days rolled up, in order; only an unbroken run from the first day can stand in
        // for the ledger.
        let days: Vec<String> =
            sqlx::query("SELECT day FROM usage_rollups WHERE day >= $1 AND day < $2 ORDER BY day")
                .bind(day_label(from_ms))
                .bind(day_label(today_start))
                .fetch_all(&mut **tx)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<std::result::Result<_, _>>()?;
        let mut covered_until = from_ms;
        for day in &days {
            if *day != day_label(covered_until) {
                break;
            }
            covered_until += DAY_MS;
        }
        if covered_until > from_ms {
            let row = sqlx::query(&format!(
                "SELECT {SUMS} FROM usage_daily WHERE workspace_id = $1 AND day >= $2 AND day < $3"
            ))
            .bind(workspace_id)
            .bind(day_label(from_ms))
            .bind(day_label(covered_until))
            .fetch_one(&mut **tx)
            .await?;
            rolled = totals_at(&row, 0)?;
            raw_from = covered_until;
        }
    }
    let row = sqlx::query(&format!(
        "SELECT {SUMS} FROM usage_events WHERE workspace_id = $1 AND occurred_at >= $2"
    ))
    .bind(workspace_id)
    .bind(raw_from)
    .fetch_one(&mut **tx)
    .await?;
    rolled += &totals_at(&row, 0)?;
    Ok(rolled)
}

/// How `/v1/usage` groups rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Day,
    Agent,
    Model,
    Run,
}

/// One group of usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGroup {
    pub key: String,
    pub totals: UsageTotals,
}

/// One ledger row as billing jobs read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub id: String,
    pub idempotency_key: String,
    pub workspace_id: String,
    pub workspace_slug: String,
    pub run_id: String,
    pub agent_name: String,
    pub step: i64,
    pub kind: String,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub tool_name: Option<String>,
    pub totals: UsageTotals,
    pub price_version: Option<String>,
    pub occurred_at: i64,
}

/// Where a page of the export starts: after this `(occurred_at, id)`.
pub type ExportCursor = (i64, String);

/// The day number of a `YYYY-MM-DD` label (a cursor this module handed out).
fn day_number(label: &str) -> Result<i64> {
    longrun_domain::day_number(label)
        .ok_or_else(|| StoreError::Corrupt(format!("{label:?} is not a day")))
}

impl Store {
    /// Aggregates one UTC day of the ledger into `usage_daily`, replacing what was there: run it
    /// twice, get the same rows. Returns the number of ledger rows of the day.
    pub async fn rollup_day(&self, day_start_ms: i64) -> Result<i64> {
        if day_start_ms % DAY_MS != 0 {
            return Err(StoreError::Corrupt(format!(
                "{day_start_ms} is not the start of a day"
            )));
        }
        let day = day_label(day_start_ms);
        let mut tx = self.system().await?;
        sqlx::query("DELETE FROM usage_daily WHERE day = $1")
            .bind(&day)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!(
            "INSERT INTO usage_daily (workspace_id, day, agent_name, model, input_tokens, \
                 output_tokens, cache_read_tokens, cache_write_tokens, tool_calls, agent_ms, \
                 cost_micro_usd, ledger_rows) \
             SELECT workspace_id, $1, agent_name, COALESCE(model, ''), {SUMS}, \
                 CAST(COUNT(*) AS BIGINT) \
             FROM usage_events WHERE occurred_at >= $2 AND occurred_at < $3 \
             GROUP BY workspace_id, agent_name, COALESCE(model, '')"
        ))
        .bind(&day)
        .bind(day_start_ms)
        .bind(day_start_ms + DAY_MS)
        .execute(&mut *tx)
        .await?;
        let rows: i64 = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM usage_events WHERE occurred_at >= $1 AND occurred_at < $2",
        )
        .bind(day_start_ms)
        .bind(day_start_ms + DAY_MS)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        sqlx::query(
            "INSERT INTO usage_rollups (day, ledger_rows, rolled_at) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO UPDATE SET ledger_rows = excluded.ledger_rows, rolled_at = excluded.rolled_at",
        )
        .bind(&day)
        .bind(rows)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Rows of `sql` (a workspace's, selected by `$1` the workspace and `$2` the key) as
    /// `(text, text, totals)`.
    async fn keyed_totals(
        &self,
        workspace_id: &str,
        sql: &str,
        key: &str,
    ) -> Result<Vec<(String, String, UsageTotals)>> {
        let statement = sqlx::query(sql).bind(workspace_id).bind(key);
        let rows = self.tenant_all(workspace_id, statement).await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, totals_at(r, 2)?)))
            .collect()
    }

    /// A workspace's rolled-up rows of a day: `(agent, model, totals)`.
    pub async fn daily_usage(
        &self,
        workspace_id: &str,
        day: &str,
    ) -> Result<Vec<(String, String, UsageTotals)>> {
        let sql = format!(
            "SELECT agent_name, model, {TOTAL_COLUMNS} \
             FROM usage_daily WHERE workspace_id = $1 AND day = $2 ORDER BY agent_name, model"
        );
        self.keyed_totals(workspace_id, &sql, day).await
    }

    /// A page of a workspace's usage in `[from_ms, to_ms)`, grouped, in key order after the
    /// key `after` (a day as `YYYY-MM-DD` when grouped by day).
    pub async fn usage_grouped(
        &self,
        workspace_id: &str,
        from_ms: i64,
        to_ms: i64,
        group_by: GroupBy,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<UsageGroup>> {
        // Days are computed in SQL portably from epoch milliseconds: both dialects divide
        // integers; the label is built in Rust.
        let key = match group_by {
            GroupBy::Day => "CAST(occurred_at / 86400000 AS BIGINT)",
            GroupBy::Agent => "agent_name",
            GroupBy::Model => "COALESCE(provider || '/' || model, '')",
            GroupBy::Run => "run_id",
        };
        let sql = format!(
            "SELECT {key} AS k, {SUMS} FROM usage_events \
             WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3 AND {key} > $4 \
             GROUP BY {key} ORDER BY {key} LIMIT $5"
        );
        let query = sqlx::query(&sql)
            .bind(workspace_id)
            .bind(from_ms)
            .bind(to_ms);
        let query = match (group_by, after) {
            (GroupBy::Day, Some(day)) => query.bind(day_number(day)?),
            (GroupBy::Day, None) => query.bind(i64::MIN),
            (_, after) => query.bind(after.unwrap_or("").to_string()),
        };
        let mut tx = self.tenant(workspace_id).await?;
        let rows = query.bind(limit).fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let key = match group_by {
                    GroupBy::Day => day_label(row.try_get::<i64, _>(0)? * DAY_MS),
                    _ => row.try_get::<String, _>(0)?,
                };
                Ok(UsageGroup {
                    key,
                    totals: totals_at(row, 1)?,
                })
            })
            .collect()
    }

    /// A workspace's usage totals in `[from_ms, to_ms)`.
    pub async fn usage_between(
        &self,
        workspace_id: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<UsageTotals> {
        let sql = format!(
            "SELECT {SUMS} FROM usage_events \
             WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3"
        );
        let statement = sqlx::query(&sql)
            .bind(workspace_id)
            .bind(from_ms)
            .bind(to_ms);
        let row = self.tenant_one(workspace_id, statement).await?;
        totals_at(&row, 0)
    }

    /// One page of the ledger rows of `[from_ms, to_ms)` across workspaces (or of one), in
    /// `(occurred_at, id)` order: the billing export.
    pub async fn export_page(
        &self,
        from_ms: i64,
        to_ms: i64,
        workspace_id: Option<&str>,
        after: Option<&ExportCursor>,
        limit: i64,
    ) -> Result<Vec<ExportRow>> {
        let (after_time, after_id) = match after {
            Some((time, id)) => (*time, id.as_str()),
            None => (i64::MIN, ""),
        };
        let statement = sqlx::query(
            "SELECT u.id, u.idempotency_key, u.workspace_id, w.slug, u.run_id, u.agent_name, u.step, \
                 u.kind, u.provider, u.model, u.tool_name, u.input_tokens, u.output_tokens, \
                 u.cache_read_tokens, u.cache_write_tokens, u.tool_calls, u.agent_ms, \
                 u.cost_micro_usd, u.price_version, u.occurred_at \
             FROM usage_events u JOIN workspaces w ON w.id = u.workspace_id \
             WHERE u.occurred_at >= $1 AND u.occurred_at < $2 \
               AND ($3 IS NULL OR u.workspace_id = $3) \
               AND (u.occurred_at > $4 OR (u.occurred_at = $4 AND u.id > $5)) \
             ORDER BY u.occurred_at, u.id LIMIT $6",
        )
        .bind(from_ms)
        .bind(to_ms)
        .bind(workspace_id)
        .bind(after_time)
        .bind(after_id)
        .bind(limit);
        let rows = self.system_all(statement).await?;
        rows.iter()
            .map(|r| {
                Ok(ExportRow {
                    id: r.try_get(0)?,
                    idempotency_key: r.try_get(1)?,
                    workspace_id: r.try_get(2)?,
                    workspace_slug: r.try_get(3)?,
                    run_id: r.try_get(4)?,
                    agent_name: r.try_get(5)?,
                    step: r.try_get(6)?,
                    kind: r.try_get(7)?,
                    provider: r.try_get(8)?,
                    model: r.try_get(9)?,
                    tool_name: r.try_get(10)?,
                    totals: totals_at(r, 11)?,
                    price_version: r.try_get(18)?,
                    occurred_at: r.try_get(19)?,
                })
            })
            .collect()
    }

    /// Runs of every workspace created in `[from_ms, to_ms)`: what reconciliation checks.
    pub async fn runs_created_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<crate::Run>> {
        let sql = format!(
            "SELECT {} FROM runs WHERE created_at >= $1 AND created_at < $2 ORDER BY id",
            crate::runs::COLUMNS
        );
        let statement = sqlx::query(&sql).bind(from_ms).bind(to_ms);
        let rows = self.system_all(statement).await?;
        rows.iter().map(crate::Run::from_row).collect()
    }

    /// The ledger rows of a run: `(idempotency key, kind, totals of the row)`.
    pub async fn ledger_of_run(
        &self,
        workspace_id: &str,
        run_id: &str,
    ) -> Result<Vec<(String, String, UsageTotals)>> {
        let sql = format!(
            "SELECT idempotency_key, kind, {TOTAL_COLUMNS} \
             FROM usage_events WHERE workspace_id = $1 AND run_id = $2 ORDER BY idempotency_key"
        );
        self.keyed_totals(workspace_id, &sql, run_id).await
    }

    /// The query plans of the ledger's hot reads (the quota's sum since a date, an export
    /// page), with sequential scans ruled out: whether an index path exists. Postgres only.
    pub async fn explain_ledger_reads_for_tests(&self) -> Result<Vec<(&'static str, String)>> {
        let mut tx = self.system().await?;
        sqlx::query("SET LOCAL enable_seqscan = off")
            .execute(&mut *tx)
            .await?;
        let mut plans = Vec::new();
        for (name, query) in [
            (
                "quota sum",
                format!("EXPLAIN SELECT {SUMS} FROM usage_events WHERE workspace_id = 'ws_x' AND occurred_at >= 0"),
            ),
            (
                "export page",
                "EXPLAIN SELECT id FROM usage_events WHERE occurred_at >= 0 AND occurred_at < 10 \
                 AND (occurred_at > 0 OR (occurred_at = 0 AND id > '')) ORDER BY occurred_at, id LIMIT 1000"
                    .to_string(),
            ),
        ] {
            let lines: Vec<String> = sqlx::query(&query)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<std::result::Result<_, _>>()?;
            plans.push((name, lines.join("\n")));
        }
        tx.rollback().await?;
        Ok(plans)
    }

    /// Deletes a ledger row: only for tests that prove reconciliation notices.
    pub async fn delete_ledger_row_for_tests(
        &self,
        workspace_id: &str,
        idempotency_key: &str,
    ) -> Result<bool> {
        let statement = sqlx::query(
            "DELETE FROM usage_events WHERE workspace_id = $1 AND idempotency_key = $2",
        )
        .bind(workspace_id)
        .bind(idempotency_key);
        let deleted = self.tenant_execute(workspace_id, statement).await?;
        Ok(deleted == 1)
    }
}

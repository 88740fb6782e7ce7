//! Idempotency keys of the state-changing run routes (messages, approvals, cancel, complete,
//! resume): the first request with a key runs and its answer is kept; a retry with the same
//! key and body gets that answer again instead of acting twice; the same key with another
//! body is refused; a retry while the first request still runs is told so. Keys expire.
//!
//! A request that died mid-way leaves its key `in_flight`; after [`IdempotencyPolicy::stale`]
//! a retry takes the key over and runs again (what it does must then be safe to repeat: the
//! run routes pass the key on to the workflow, which drops a message it already has).

use sqlx::Row;

use crate::{Result, Store, now_ms};

/// How long keys live and when an unfinished one is presumed abandoned.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyPolicy {
    /// Milliseconds a key is remembered after its first use.
    pub ttl_ms: i64,
    /// Milliseconds after which an `in_flight` key may be taken over by a retry.
    pub stale_ms: i64,
}

/// What [`Store::begin_idempotent`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is new (or expired, or abandoned): run the request, then finish or abandon.
    Run,
    /// The first request with this key finished: its answer.
    Replay { status: u16, body: String },
    /// The first request with this key is still running.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

impl Store {
    /// Claims `key` for a request whose hash is `request_hash`, or says what became of the
    /// request that claimed it first. Also forgets the workspace's expired keys.
    pub async fn begin_idempotent(
        &self,
        workspace_id: &str,
        key: &str,
        request_hash: &str,
        policy: IdempotencyPolicy,
    ) -> Result<IdempotencyBegin> {
        let now = now_ms();
        let mut tx = self.tenant(workspace_id).await?;
        sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND expires_at < $2")
            .bind(workspace_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let claimed = sqlx::query(
            "INSERT INTO idempotency_keys \
                 (workspace_id, idem_key, request_hash, state, created_at, expires_at) \
             VALUES ($1, $2, $3, 'in_flight', $4, $5) \
             ON CONFLICT (workspace_id, idem_key) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(key)
        .bind(request_hash)
        .bind(now)
        .bind(now + policy.ttl_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 1 {
            tx.commit().await?;
            return Ok(IdempotencyBegin::Run);
        }
        let row = sqlx::query(
            "SELECT request_hash, state, response_status, response_body, created_at \
             FROM idempotency_keys WHERE workspace_id = $1 AND idem_key = $2",
        )
        .bind(workspace_id)
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let stored_hash: String = row.try_get(0)?;
        let state: String = row.try_get(1)?;
        let outcome = if stored_hash != request_hash {
            IdempotencyBegin::Mismatch
        } else if state == "done" {
            let status: i64 = row.try_get::<Option<i64>, _>(2)?.unwrap_or(200);
            IdempotencyBegin::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body: row.try_get::<Option<String>, _>(3)?.unwrap_or_default(),
            }
        } else if row.try_get::<i64, _>(4)? < now - policy.stale_ms {
            sqlx::query(
                "UPDATE idempotency_keys SET created_at = $1, expires_at = $2 \
                 WHERE workspace_id = $3 AND idem_key = $4",
            )
            .bind(now)
            .bind(now + policy.ttl_ms)
            .bind(workspace_id)
            .bind(key)
            .execute(&mut *tx)
            .await?;
            IdempotencyBegin::Run
        } else {
            IdempotencyBegin::InFlight
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Keeps the answer of the request that claimed `key`, for its retries.
    pub async fn finish_idempotent(
        &self,
        workspace_id: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<()> {
        let statement = sqlx::query(
            "UPDATE idempotency_keys SET state = 'done', response_status = $1, response_body = $2 \
             WHERE workspace_id = $3 AND idem_key = $4",
        )
        .bind(i64::from(status))
        .bind(body)
        .bind(workspace_id)
        .bind(key);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }

    /// Forgets `key`: the request failed in a way a retry should not be told about again
    /// (a 5xx, a 429), so the retry runs afresh.
    pub async fn abandon_idempotent(&self, workspace_id: &str, key: &str) -> Result<()> {
        let statement =
            sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = $1 AND idem_key = $2")
                .bind(workspace_id)
                .bind(key);
        self.tenant_execute(workspace_id, statement).await?;
        Ok(())
    }
}

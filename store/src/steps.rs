//! What one step of a run reads and writes, each in one transaction: the hot path of the
//! agent loop.
//!
//! A model turn reads its conversation, the answer an earlier attempt may have stored, and
//! the workspace's quota standing in one read transaction ([`Store::read_turn`]); after the
//! provider answered, it writes the new messages, the answer, its ledger rows, the run's
//! totals, its events and one NOTIFY in one write transaction ([`Store::write_step`]). A tool
//! call, a status change and the run's end write through the same function.
//!
//! Exactly once: everything a step writes commits together, so a retried activity finds
//! either nothing of its step or all of it. The answer's sequence number, the ledger's
//! idempotency keys and the events' dedupe keys stay unique in the database: a second attempt
//! that races the first stops at the first conflict and writes nothing.

use sqlx::Row;
use sqlx::any::AnyRow;

use longrun_domain::{EventKind, RunStatus};

use crate::messages::select_messages;
use crate::runs::TERMINAL_SQL;
use crate::usage::{LEDGER_ARITY, LEDGER_COLUMNS, bind_ledger_row};
use crate::{
    Backend, LedgerOutcome, LiveEvent, NewMessage, NewUsageEvent, Result, RunFinish, Store,
    StoreError, StoredMessage, Tx, UsageTotals, Workspace, now_ms, value_rows,
};

/// One event a step writes.
#[derive(Debug, Clone)]
pub struct StepEvent<'a> {
    pub kind: EventKind,
    /// Unique per run: the same key twice is the same event.
    pub dedupe_key: &'a str,
    /// JSON document.
    pub data: &'a str,
}

/// What one step writes. Every part is optional; what is given commits together.
#[derive(Debug, Clone, Default)]
pub struct StepWrite<'a> {
    /// Messages at their sequence numbers; a number already taken keeps its first message
    /// (the workflow produces the same messages on every replay and retry).
    pub messages: &'a [NewMessage<'a>],
    /// The model's answer. When a message is stored at its number already, an earlier attempt
    /// committed this whole step: nothing is written and the stored answer is returned.
    pub answer: Option<NewMessage<'a>>,
    /// Ledger rows (all of the run's workspace). When every one is in the ledger already, an
    /// earlier attempt committed this step: nothing is written.
    pub usage: &'a [NewUsageEvent<'a>],
    /// Moves a live run to this status at this step (a terminal run keeps its status).
    pub status: Option<(RunStatus, i64)>,
    /// Ends the run. When it has ended already, nothing is written.
    pub finish: Option<RunFinish<'a>>,
    pub events: &'a [StepEvent<'a>],
}

/// What [`Store::write_step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The step is written; one outcome per ledger row, and whether this write ended the
    /// run (with [`StepWrite::finish`]).
    Written {
        ledger: Vec<LedgerOutcome>,
        finished: bool,
    },
    /// An earlier attempt wrote this step (or ended the run): nothing changed. Carries the
    /// stored answer when the step had one.
    AlreadyWritten { answer: Option<StoredMessage> },
}

/// What a model turn reads before it calls the provider.
#[derive(Debug, Clone)]
pub struct TurnRead {
    /// Messages `0..first_seq`, in order (the workflow carries the newer ones).
    pub conversation: Vec<StoredMessage>,
    /// The answer an earlier attempt stored at the answer's sequence number.
    pub answer: Option<StoredMessage>,
    /// The workspace, and its usage since the start of its quota period when it has quotas.
    pub workspace: Option<Workspace>,
    pub used: Option<UsageTotals>,
}

/// The start of a run, written by the read of its first model turn: the run moves to
/// `running` and `run.started` is recorded.
#[derive(Debug, Clone)]
pub struct RunStart<'a> {
    pub event: StepEvent<'a>,
}

impl Store {
    /// Reads what a model turn needs in one transaction: the stored conversation before
    /// `first_seq`, the answer at `answer_seq` if stored, the workspace, and (when `period`
    /// says from when, given the workspace) its usage since then. With `start`, the run is
    /// marked started in the same transaction.
    pub async fn read_turn(
        &self,
        workspace_id: &str,
        run_id: &str,
        first_seq: i64,
        answer_seq: i64,
        start: Option<RunStart<'_>>,
        period: impl FnOnce(&Workspace) -> Option<i64>,
    ) -> Result<TurnRead> {
        let mut tx = self.tenant(workspace_id).await?;
        let mut started = None;
        if let Some(start) = &start {
            let status = Some((RunStatus::Running, 0));
            let events = std::slice::from_ref(&start.event);
            let seq = bump_run(
                &mut tx,
                workspace_id,
                run_id,
                &UsageTotals::default(),
                status,
                1,
            )
            .await?;
            if insert_events(&mut tx, self.backend, workspace_id, run_id, seq, events).await? == 1 {
                started = Some(seq);
            } else {
                // Started by an earlier attempt: nothing to record again.
                tx.rollback().await?;
                tx = self.tenant(workspace_id).await?;
            }
        }
        let rows = sqlx::query(&select_messages("(seq < $3 OR seq = $4)"))
            .bind(workspace_id)
            .bind(run_id)
            .bind(first_seq)
            .bind(answer_seq)
            .fetch_all(&mut *tx)
            .await?;
        let mut conversation = rows
            .iter()
            .map(StoredMessage::from_row)
            .collect::<Result<Vec<_>>>()?;
        let answer = match conversation.last() {
            Some(last) if last.seq == answer_seq => conversation.pop(),
            _ => None,
        };
        let workspace = crate::workspaces::read(&mut tx, workspace_id).await?;
        let used = match workspace.as_ref().and_then(period) {
            Some(from_ms) => Some(crate::usage::usage_since(&mut tx, workspace_id, from_ms).await?),
            None => None,
        };
        tx.commit().await?;
        if let (Some(start), Some(seq)) = (start, started) {
            self.publish_stored(LiveEvent {
                workspace_id: workspace_id.to_string(),
                run_id: run_id.to_string(),
                seq: Some(seq),
                kind: start.event.kind,
                data: String::new(),
            });
        }
        Ok(TurnRead {
            conversation,
            answer,
            workspace,
            used,
        })
    }

    /// Writes one step of a run in one transaction (see the module's documentation).
    pub async fn write_step(
        &self,
        workspace_id: &str,
        run_id: &str,
        step: &StepWrite<'_>,
    ) -> Result<StepOutcome> {
        if step
            .usage
            .iter()
            .any(|row| row.workspace_id != workspace_id)
        {
            return Err(StoreError::Corrupt(
                "a step's ledger rows span several workspaces".into(),
            ));
        }
        // Events an earlier write stored already (a status event retried after it committed,
        // or a step half-written by a version that wrote events apart): skipped on the second
        // pass, so sequence numbers stay without gaps.
        let mut stored_keys: Vec<String> = Vec::new();
        for _ in 0..2 {
            let events: Vec<StepEvent<'_>> = step
                .events
                .iter()
                .filter(|e| !stored_keys.iter().any(|k| k == e.dedupe_key))
                .cloned()
                .collect();
            let mut tx = self.tenant(workspace_id).await?;
            match self
                .try_write(&mut tx, workspace_id, run_id, step, &events)
                .await?
            {
                Attempt::Done(outcome, last) => {
                    tx.commit().await?;
                    if let Some(live) = last {
                        self.publish_stored(live);
                    }
                    return Ok(outcome);
                }
                Attempt::Already => {
                    tx.rollback().await?;
                    let answer = match &step.answer {
                        Some(answer) => self.message_at(workspace_id, run_id, answer.seq).await?,
                        None => None,
                    };
                    return Ok(StepOutcome::AlreadyWritten { answer });
                }
                Attempt::EventsExist => {
                    tx.rollback().await?;
                    stored_keys = self
                        .stored_dedupe_keys(workspace_id, run_id, step.events)
                        .await?;
                }
            }
        }
        Err(StoreError::Corrupt(format!(
            "the events of a step of run {run_id} could not be written"
        )))
    }

    async fn try_write(
        &self,
        tx: &mut Tx,
        workspace_id: &str,
        run_id: &str,
        step: &StepWrite<'_>,
        events: &[StepEvent<'_>],
    ) -> Result<Attempt> {
        let now = now_ms();
        insert_messages(tx, workspace_id, run_id, step.messages, now).await?;
        if let Some(answer) = &step.answer
            && insert_messages(tx, workspace_id, run_id, std::slice::from_ref(answer), now).await?
                == 0
        {
            return Ok(Attempt::Already);
        }
        let (ledger, totals) = insert_ledger(tx, step.usage).await?;
        if step.answer.is_none()
            && !step.usage.is_empty()
            && ledger.iter().all(|o| *o == LedgerOutcome::Duplicate)
        {
            return Ok(Attempt::Already);
        }
        let finished = match &step.finish {
            Some(finish) => finish_run(tx, workspace_id, run_id, finish, now).await?,
            None => false,
        };
        // Ended already, by an earlier attempt: its event may still be missing (written
        // apart by an older version), which the events' dedupe keys sort out.
        if step.finish.is_some() && !finished && events.is_empty() {
            return Ok(Attempt::Already);
        }
        let seq = bump_run(tx, workspace_id, run_id, &totals, step.status, events.len()).await?;
        let inserted = insert_events(tx, self.backend, workspace_id, run_id, seq, events).await?;
        if inserted < events.len() {
            return Ok(Attempt::EventsExist);
        }
        let last = events.last().map(|event| LiveEvent {
            workspace_id: workspace_id.to_string(),
            run_id: run_id.to_string(),
            seq: Some(seq),
            kind: event.kind,
            data: String::new(),
        });
        Ok(Attempt::Done(
            StepOutcome::Written { ledger, finished },
            last,
        ))
    }

    async fn stored_dedupe_keys(
        &self,
        workspace_id: &str,
        run_id: &str,
        events: &[StepEvent<'_>],
    ) -> Result<Vec<String>> {
        let mut found = Vec::new();
        for event in events {
            let statement = sqlx::query(
                "SELECT 1 FROM run_events WHERE workspace_id = $1 AND run_id = $2 AND dedupe_key = $3",
            )
            .bind(workspace_id)
            .bind(run_id)
            .bind(event.dedupe_key);
            if self
                .tenant_optional(workspace_id, statement)
                .await?
                .is_some()
            {
                found.push(event.dedupe_key.to_string());
            }
        }
        Ok(found)
    }
}

enum Attempt {
    /// Written; the last event, to publish after commit.
    Done(StepOutcome, Option<LiveEvent>),
    /// An earlier attempt wrote this step.
    Already,
    /// Some of the events are stored already: write again without them.
    EventsExist,
}

/// Inserts messages, each unless its sequence number is taken (the workflow produces the same
/// messages on every replay and retry); the rows inserted.
pub(crate) async fn insert_messages(
    tx: &mut Tx,
    workspace_id: &str,
    run_id: &str,
    messages: &[NewMessage<'_>],
    now: i64,
) -> Result<u64> {
    let mut inserted = 0;
    for message in messages {
        inserted += sqlx::query(
            "INSERT INTO run_messages (run_id, seq, workspace_id, role, content, meta, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (run_id, seq) DO NOTHING",
        )
        .bind(run_id)
        .bind(message.seq)
        .bind(workspace_id)
        .bind(message.role)
        .bind(message.content)
        .bind(message.meta)
        .bind(now)
        .execute(&mut **tx)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

/// Inserts ledger rows in one statement, skipping keys already in the ledger; each row's
/// outcome, and the totals of the rows inserted.
async fn insert_ledger(
    tx: &mut Tx,
    rows: &[NewUsageEvent<'_>],
) -> Result<(Vec<LedgerOutcome>, UsageTotals)> {
    if rows.is_empty() {
        return Ok((Vec::new(), UsageTotals::default()));
    }
    let sql = format!(
        "INSERT INTO usage_events ({LEDGER_COLUMNS}) VALUES {} \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key",
        value_rows(rows.len(), LEDGER_ARITY, "")
    );
    let mut statement = sqlx::query(&sql);
    for row in rows {
        statement = bind_ledger_row(statement, row);
    }
    let inserted: Vec<String> = statement
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
    let mut totals = UsageTotals::default();
    let outcomes = rows
        .iter()
        .map(|row| {
            if inserted.iter().any(|key| key == row.idempotency_key) {
                totals += &row.totals;
                LedgerOutcome::Recorded
            } else {
                LedgerOutcome::Duplicate
            }
        })
        .collect();
    Ok((outcomes, totals))
}

/// Ends a live run; whether this call ended it.
async fn finish_run(
    tx: &mut Tx,
    workspace_id: &str,
    run_id: &str,
    finish: &RunFinish<'_>,
    now: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE runs SET status = $1, result = $2, error_code = $3, error_message = $4, \
             step = $5, finished_at = $6, updated_at = $6, started_at = COALESCE(started_at, $6), \
             result_json = $9 \
         WHERE workspace_id = $7 AND id = $8 AND status NOT IN {}",
        *TERMINAL_SQL
    );
    Ok(sqlx::query(&sql)
        .bind(finish.status.as_str())
        .bind(finish.result)
        .bind(finish.error_code)
        .bind(finish.error_message)
        .bind(finish.step)
        .bind(now)
        .bind(workspace_id)
        .bind(run_id)
        .bind(finish.result_json)
        .execute(&mut **tx)
        .await?
        .rows_affected()
        == 1)
}

/// Adds `totals` to the run, reserves `events` sequence numbers and, for a live run, moves it
/// to `status`; the last sequence number reserved. Taking the run row's lock first makes
/// concurrent writers of one run queue up instead of racing for sequence numbers.
async fn bump_run(
    tx: &mut Tx,
    workspace_id: &str,
    run_id: &str,
    totals: &UsageTotals,
    status: Option<(RunStatus, i64)>,
    events: usize,
) -> Result<i64> {
    let sql = format!(
        "UPDATE runs SET input_tokens = input_tokens + $1, output_tokens = output_tokens + $2, \
             cache_read_tokens = cache_read_tokens + $3, cache_write_tokens = cache_write_tokens + $4, \
             tool_calls = tool_calls + $5, agent_ms = agent_ms + $6, \
             cost_micro_usd = cost_micro_usd + $7, last_event_seq = last_event_seq + $8, \
             updated_at = $9, \
             status = CASE WHEN $10 = '' OR status IN {terminal} THEN status ELSE $10 END, \
             step = CASE WHEN $10 = '' OR status IN {terminal} THEN step ELSE $11 END, \
             started_at = CASE WHEN $10 = '' THEN started_at ELSE COALESCE(started_at, $9) END \
         WHERE workspace_id = $12 AND id = $13 RETURNING last_event_seq",
        terminal = *TERMINAL_SQL
    );
    let (status, step) = match status {
        Some((status, step)) => (status.as_str(), step),
        None => ("", 0),
    };
    let statement = crate::billing::bind_totals(sqlx::query(&sql), totals)
        .bind(events as i64)
        .bind(now_ms())
        .bind(status)
        .bind(step)
        .bind(workspace_id)
        .bind(run_id);
    let row: AnyRow = statement
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound("run"))?;
    Ok(row.try_get(0)?)
}

/// Inserts events numbered up to `last` and, on Postgres, sends one NOTIFY for the last one
/// (delivered on commit); the rows inserted (fewer than given when some are stored already).
async fn insert_events(
    tx: &mut Tx,
    backend: Backend,
    workspace_id: &str,
    run_id: &str,
    last: i64,
    events: &[StepEvent<'_>],
) -> Result<usize> {
    if events.is_empty() {
        return Ok(0);
    }
    const COLUMNS: usize = 6;
    // Each row's six placeholders, then the shared creation time after all of them.
    let time = events.len() * COLUMNS + 1;
    let created = now_ms();
    let insert = format!(
        "INSERT INTO run_events (run_id, seq, workspace_id, kind, dedupe_key, data, created_at) \
         VALUES {} ON CONFLICT (run_id, dedupe_key) DO NOTHING RETURNING seq",
        value_rows(events.len(), COLUMNS, &format!(", ${time}"))
    );
    let first = last - events.len() as i64 + 1;
    let sql = match backend {
        // One round trip: the notification goes with the rows (and only on commit).
        Backend::Postgres => format!(
            "WITH inserted AS ({insert}) \
             SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM inserted), pg_notify(${}, ${})",
            time + 1,
            time + 2
        ),
        Backend::Sqlite => insert,
    };
    let mut statement = sqlx::query(&sql);
    for (i, event) in events.iter().enumerate() {
        statement = statement
            .bind(run_id)
            .bind(first + i as i64)
            .bind(workspace_id)
            .bind(event.kind.as_str())
            .bind(event.dedupe_key)
            .bind(event.data);
    }
    statement = statement.bind(created);
    match backend {
        Backend::Postgres => {
            let payload = crate::live::notify_payload(&LiveEvent {
                workspace_id: workspace_id.to_string(),
                run_id: run_id.to_string(),
                seq: Some(last),
                kind: events[events.len() - 1].kind,
                data: String::new(),
            });
            let row = statement
                .bind(crate::live::CHANNEL)
                .bind(payload)
                .fetch_one(&mut **tx)
                .await?;
            let count: i64 = row.try_get(0)?;
            Ok(count as usize)
        }
        Backend::Sqlite => Ok(statement.fetch_all(&mut **tx).await?.len()),
    }
}

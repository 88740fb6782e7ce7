//! A step of a run in one transaction: whole or not at all, once however often it is retried
//! or raced, with event numbers that never skip; the turn's read; cancellation stamps.

use longrun_domain::{EventKind, RunStatus};
use longrun_store::{
    LedgerOutcome, NewMessage, RunStart, StepEvent, StepOutcome, StepWrite, Store, UsageTotals,
};

use crate::fixtures::{
    concurrently, concurrently_on_run, finish, insert_run, terminate_connections, usage, workspace,
    workspace_with_run,
};

fn step_event(kind: EventKind, key: &str) -> StepEvent<'_> {
    StepEvent {
        kind,
        dedupe_key: key,
        data: "{}",
    }
}

fn message(seq: i64, content: &str) -> NewMessage<'_> {
    NewMessage {
        seq,
        role: if seq % 2 == 0 { "user" } else { "assistant" },
        content,
        meta: None,
    }
}

/// The run's event numbers, in order.
async fn event_seqs(store: &Store, ws: &str, run: &str) -> Vec<i64> {
    let events = store.events_after(ws, run, 0, 100).await.unwrap();
    events.iter().map(|e| e.seq).collect()
}

async fn totals(store: &Store, ws: &str, run: &str) -> UsageTotals {
    store.run(ws, run).await.unwrap().unwrap().usage
}

on_each_backend!(a_model_turn_commits_whole_and_its_retry_writes_nothing);
async fn a_model_turn_commits_whole_and_its_retry_writes_nothing(store: Store) {
    let (ws, run) = workspace_with_run(&store, "steps").await;
    let rows = [
        usage(&ws, &run, "k/1/llm", 10),
        usage(&ws, &run, "k/1/time", 0),
    ];
    let fresh = [message(0, "[\"question\"]")];
    let events = [step_event(EventKind::LlmCompleted, "step-1/llm.completed")];
    let write = StepWrite {
        messages: &fresh,
        answer: Some(message(1, "[\"first answer\"]")),
        usage: &rows,
        status: Some((RunStatus::Running, 1)),
        events: &events,
        ..StepWrite::default()
    };
    let outcome = store.write_step(&ws, &run, &write).await.unwrap();
    assert_eq!(
        outcome,
        StepOutcome::Written {
            ledger: vec![LedgerOutcome::Recorded, LedgerOutcome::Recorded],
            finished: false
        }
    );
    let after_first = totals(&store, &ws, &run).await;
    assert_eq!(after_first.input_tokens, 10);
    let stored = store.run(&ws, &run).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.step), (RunStatus::Running, 1));

    // A retry with another answer (the provider answered again) writes nothing at all.
    let retry = StepWrite {
        answer: Some(message(1, "[\"second answer\"]")),
        ..write.clone()
    };
    match store.write_step(&ws, &run, &retry).await.unwrap() {
        StepOutcome::AlreadyWritten {
            answer: Some(answer),
        } => assert_eq!(answer.content, "[\"first answer\"]"),
        other => panic!("expected the stored answer, got {other:?}"),
    }
    assert_eq!(totals(&store, &ws, &run).await, after_first);
    assert_eq!(event_seqs(&store, &ws, &run).await, vec![1]);
    assert_eq!(
        store.usage_rows_of_run(&ws, &run).await.unwrap(),
        vec![("llm".to_string(), 2)]
    );
}

on_each_backend!(racing_attempts_of_one_turn_commit_once);
async fn racing_attempts_of_one_turn_commit_once(store: Store) {
    let (ws, run) = workspace_with_run(&store, "race").await;
    let outcomes = concurrently_on_run(&store, &ws, &run, 6, |store, ws, run, n| async move {
        let rows = [usage(&ws, &run, "r/1/llm", 3)];
        let answer = format!("[\"answer {n}\"]");
        let events = [step_event(EventKind::LlmCompleted, "step-1/llm.completed")];
        let write = StepWrite {
            answer: Some(message(1, &answer)),
            usage: &rows,
            events: &events,
            ..StepWrite::default()
        };
        store.write_step(&ws, &run, &write).await.unwrap()
    })
    .await;
    let written = outcomes
        .iter()
        .filter(|o| matches!(o, StepOutcome::Written { .. }))
        .count();
    assert_eq!(written, 1, "{outcomes:?}");
    let answers: std::collections::BTreeSet<String> = outcomes
        .iter()
        .filter_map(|o| match o {
            StepOutcome::AlreadyWritten { answer: Some(a) } => Some(a.content.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1, "every loser sees the one stored answer");
    assert_eq!(totals(&store, &ws, &run).await.input_tokens, 3);
    assert_eq!(event_seqs(&store, &ws, &run).await, vec![1]);
}

on_each_backend!(a_retried_event_leaves_no_gap_and_a_tool_step_bills_once);
async fn a_retried_event_leaves_no_gap_and_a_tool_step_bills_once(store: Store) {
    let (ws, run) = workspace_with_run(&store, "gaps").await;
    let waiting = [step_event(
        EventKind::ApprovalRequested,
        "step-1/approval.requested/t",
    )];
    let status = StepWrite {
        status: Some((RunStatus::WaitingApproval, 1)),
        events: &waiting,
        ..StepWrite::default()
    };
    store.write_step(&ws, &run, &status).await.unwrap();
    // The same event again (a local activity retried after it committed): nothing new, and
    // no number is used up.
    store.write_step(&ws, &run, &status).await.unwrap();
    let rows = [usage(&ws, &run, "t/1/tool:0", 1)];
    let tool_events = [
        step_event(EventKind::ToolStarted, "step-1/tool-0/started"),
        step_event(EventKind::ToolCompleted, "step-1/tool-0/completed"),
    ];
    let tool = StepWrite {
        usage: &rows,
        events: &tool_events,
        ..StepWrite::default()
    };
    assert!(matches!(
        store.write_step(&ws, &run, &tool).await.unwrap(),
        StepOutcome::Written { .. }
    ));
    assert_eq!(
        store.write_step(&ws, &run, &tool).await.unwrap(),
        StepOutcome::AlreadyWritten { answer: None }
    );
    assert_eq!(event_seqs(&store, &ws, &run).await, vec![1, 2, 3]);
    assert_eq!(totals(&store, &ws, &run).await.input_tokens, 1);
    let stored = store.run(&ws, &run).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        RunStatus::WaitingApproval,
        "a tool step keeps the status"
    );
}

on_each_backend!(a_run_ends_once_and_still_bills_what_comes_after);
async fn a_run_ends_once_and_still_bills_what_comes_after(store: Store) {
    let (ws, run) = workspace_with_run(&store, "ends").await;
    let events = [step_event(EventKind::RunCompleted, "run.completed")];
    let end = StepWrite {
        finish: Some(finish(RunStatus::Succeeded, Some("done"), 2)),
        events: &events,
        ..StepWrite::default()
    };
    assert!(matches!(
        store.write_step(&ws, &run, &end).await.unwrap(),
        StepOutcome::Written { finished: true, .. }
    ));
    assert_eq!(
        store.write_step(&ws, &run, &end).await.unwrap(),
        StepOutcome::AlreadyWritten { answer: None }
    );
    // Units that finished after the run ended are still billed; the status stays.
    let rows = [usage(&ws, &run, "late/llm", 4)];
    let late = StepWrite {
        usage: &rows,
        status: Some((RunStatus::Running, 3)),
        ..StepWrite::default()
    };
    store.write_step(&ws, &run, &late).await.unwrap();
    let stored = store.run(&ws, &run).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.step), (RunStatus::Succeeded, 2));
    assert_eq!(stored.usage.input_tokens, 4);
    assert_eq!(event_seqs(&store, &ws, &run).await, vec![1]);
}

on_each_backend!(a_turn_reads_its_conversation_answer_and_usage_and_starts_the_run_once);
async fn a_turn_reads_its_conversation_answer_and_usage_and_starts_the_run_once(store: Store) {
    let (ws, run) = workspace_with_run(&store, "reads").await;
    let start = || RunStart {
        event: step_event(EventKind::RunStarted, "run.started"),
    };
    for _ in 0..2 {
        let read = store
            .read_turn(&ws, &run, 0, 1, Some(start()), |_| Some(0))
            .await
            .unwrap();
        assert!(read.conversation.is_empty() && read.answer.is_none());
        assert_eq!(read.used, Some(UsageTotals::default()));
        assert!(read.workspace.is_some());
    }
    assert_eq!(event_seqs(&store, &ws, &run).await, vec![1], "started once");
    let stored = store.run(&ws, &run).await.unwrap().unwrap();
    assert_eq!(stored.status, RunStatus::Running);

    let rows = [usage(&ws, &run, "u/1/llm", 6)];
    let fresh = [message(0, "[\"q\"]")];
    let write = StepWrite {
        messages: &fresh,
        answer: Some(message(1, "[\"a\"]")),
        usage: &rows,
        ..StepWrite::default()
    };
    store.write_step(&ws, &run, &write).await.unwrap();
    // The next turn: messages before its first new one, no answer yet; a retry of the
    // first turn finds its answer.
    let next = store
        .read_turn(&ws, &run, 2, 3, None, |_| None)
        .await
        .unwrap();
    let seqs: Vec<i64> = next.conversation.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![0, 1]);
    assert!(next.answer.is_none() && next.used.is_none());
    let again = store
        .read_turn(&ws, &run, 0, 1, None, |_| Some(0))
        .await
        .unwrap();
    assert_eq!(again.answer.map(|a| a.content), Some("[\"a\"]".to_string()));
    assert_eq!(again.used.map(|u| u.input_tokens), Some(6));
}

on_each_backend!(a_cancellation_is_stamped_once_told_and_found_by_polling);
async fn a_cancellation_is_stamped_once_told_and_found_by_polling(store: Store) {
    let ws = workspace(&store, "cancels").await;
    let live = insert_run(&store, &ws).await;
    let other = insert_run(&store, &ws).await;
    let mut told = store.subscribe_cancellations();
    assert!(store.request_cancel(&ws, &live).await.unwrap());
    assert_eq!(told.recv().await.unwrap(), live);
    let found = store
        .cancel_requests_among(&[live.clone(), other.clone()])
        .await
        .unwrap();
    assert_eq!(found, vec![live.clone()]);
    // Another workspace cannot stamp this one's runs.
    let stranger = workspace(&store, "stranger").await;
    assert!(!store.request_cancel(&stranger, &other).await.unwrap());
    // A finished run is left as it is.
    store
        .finish_run(&ws, &other, finish(RunStatus::Succeeded, None, 1))
        .await
        .unwrap();
    assert!(!store.request_cancel(&ws, &other).await.unwrap());
}

/// Pooled connections are not pinged before use: those the server dropped (a restart, a
/// failover) fail their first statement and are replaced, and the caller never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_pooled_connections_are_replaced_unseen_on_postgres() {
    let db = crate::db::TestDb::postgres().await;
    let name = format!("lr_pool_{}", longrun_store::new_run_id());
    let migrated = db.open().await;
    let url = format!("{}&application_name={name}", db.url);
    let store = Store::connect(&url, &longrun_store::StoreOptions::default())
        .await
        .unwrap();
    let ws = workspace(&migrated, "pooled").await;
    // Several connections in the pool at once, then idle.
    let runs = concurrently(4, |_| {
        let (store, ws) = (store.clone(), ws.clone());
        async move { insert_run(&store, &ws).await }
    })
    .await;
    let killed = terminate_connections(&db.url, &name).await;
    assert!(!killed.is_empty(), "the pool held connections");
    for run in &runs {
        assert!(store.run(&ws, run).await.unwrap().is_some());
    }
}

on_each_backend!(a_run_is_committed_with_its_start_request);
async fn a_run_is_committed_with_its_start_request(store: Store) {
    let ws = workspace(&store, "queued").await;
    let limits = longrun_store::Admission::default();
    let id = longrun_store::new_run_id();
    let far = i64::MAX / 4;
    let outcome = store
        .admit_and_queue(crate::fixtures::new_run(&ws, &id, None), &limits, |run| {
            Some((format!("{{\"run\":\"{}\"}}", run.id), far))
        })
        .await
        .unwrap();
    let longrun_store::AdmitOutcome::Created(run) = outcome else {
        panic!("{outcome:?}");
    };
    assert!(run.start_pending, "the row is born waiting for its start");
    let stored = store.run(&ws, &id).await.unwrap().unwrap();
    assert!(stored.start_pending);
    // Its lease is this process's: no other dispatcher claims it before the lease ends.
    assert!(store.claim_starts(10, 30_000).await.unwrap().is_empty());
}

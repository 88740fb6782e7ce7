//! The store against real databases: SQLite always, Postgres when
//! `LONGRUN_TEST_DATABASE_URL` is set (each test in a fresh schema).

// Items of a test binary are public to its modules only.
#![allow(unreachable_pub)]

mod db;
mod fixtures;

use std::collections::BTreeSet;

use longrun_domain::{AgentName, RunStatus};
use longrun_store::{
    InsertRunOutcome, LedgerOutcome, RunListFilter, Store, StoreError, hash_secret, new_run_id,
    now_ms,
};

use fixtures::{
    admit, authenticates, concurrently, concurrently_on_run, create_key, event, finish, insert_run,
    new_run, newest, plain_agent, queued_run, terminate_connections, try_create_key, usage,
    workspace, workspace_with_run,
};

/// Runs a test body once per available backend.
macro_rules! on_each_backend {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = crate::db::TestDb::sqlite();
                super::$name(db.open().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let db = crate::db::TestDb::postgres().await;
                super::$name(db.open().await).await;
            }
        }
    };
}

mod filters;
mod mcp_servers;
mod steps;

on_each_backend!(migrations_are_idempotent);
async fn migrations_are_idempotent(store: Store) {
    let again = store.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(
        again.current_version,
        longrun_store::latest_migration_version()
    );
    assert!(again.current_version >= 2);
}

on_each_backend!(workspace_slugs_are_unique);
async fn workspace_slugs_are_unique(store: Store) {
    workspace(&store, "acme").await;
    let err = store
        .create_workspace("acme", "x", longrun_domain::Tier::Free)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.workspace_by_slug("acme").await.unwrap().unwrap().slug,
        "acme"
    );
    assert!(store.workspace_by_slug("nope").await.unwrap().is_none());
}

on_each_backend!(api_keys_authenticate_by_prefix_and_hash);
async fn api_keys_authenticate_by_prefix_and_hash(store: Store) {
    let ws = workspace(&store, "acme").await;
    let secret = "lr_abcdefgh_rest_of_the_secret";
    let key = create_key(&store, &ws, "admin", "lr_abcdefgh", secret).await;
    let found = store
        .authenticate_api_key("lr_abcdefgh", &hash_secret(secret))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.key.id, key.id);
    assert_eq!(found.workspace.id, ws);
    assert!(found.key.last_used_at.is_none());
    let listed = store.list_api_keys(&ws, None, 100).await.unwrap();
    assert!(
        listed[0].last_used_at.is_some(),
        "authentication records last use"
    );
    assert!(!authenticates(&store, "lr_abcdefgh", "lr_abcdefgh_wrong").await);
    assert!(!authenticates(&store, "lr_zzzzzzzz", secret).await);
}

on_each_backend!(agents_are_scoped_to_their_workspace);
async fn agents_are_scoped_to_their_workspace(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let bot = AgentName::parse("bot").unwrap();
    let agent = plain_agent(&bot);
    store.create_agent(&a, agent.clone(), None).await.unwrap();
    store.create_agent(&b, agent.clone(), None).await.unwrap();
    assert!(matches!(
        store.create_agent(&a, agent, None).await.unwrap_err(),
        StoreError::Conflict(_)
    ));
    assert_eq!(store.list_agents(&a, None, 100).await.unwrap().len(), 1);
    assert_eq!(
        store.agent(&a, "bot").await.unwrap().unwrap().workspace_id,
        a
    );
    assert!(store.agent(&a, "other").await.unwrap().is_none());
}

on_each_backend!(runs_are_invisible_to_other_workspaces);
async fn runs_are_invisible_to_other_workspaces(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    let id = insert_run(&store, &a).await;
    assert!(store.run(&a, &id).await.unwrap().is_some());
    assert!(store.run(&b, &id).await.unwrap().is_none());
    assert!(store.list_runs(&b, newest(10)).await.unwrap().is_empty());
    assert!(
        !store
            .set_run_status(&b, &id, RunStatus::parse("running").unwrap(), 0)
            .await
            .unwrap()
    );
    assert!(store.append_event(event(&b, &id, "x")).await.is_err());
    assert_eq!(
        store.run(&a, &id).await.unwrap().unwrap().status,
        RunStatus::Queued
    );
}

on_each_backend!(idempotency_keys_admit_one_run_under_concurrency);
async fn idempotency_keys_admit_one_run_under_concurrency(store: Store) {
    let ws = workspace(&store, "acme").await;
    let outcomes = concurrently(16, |_| {
        let (store, ws) = (store.clone(), ws.clone());
        async move {
            let id = new_run_id();
            match store
                .insert_run(new_run(&ws, &id, Some("same-key")))
                .await
                .unwrap()
            {
                InsertRunOutcome::Created(run) => (true, run.id),
                InsertRunOutcome::Existing(run) => (false, run.id),
            }
        }
    })
    .await;
    let mut created = 0;
    let mut ids = BTreeSet::new();
    for (was_created, id) in outcomes {
        created += usize::from(was_created);
        ids.insert(id);
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1, "every caller sees the one run");
    // Without a key, every submission is its own run.
    let id = new_run_id();
    assert!(matches!(
        store.insert_run(new_run(&ws, &id, None)).await.unwrap(),
        InsertRunOutcome::Created(_)
    ));
}

on_each_backend!(runs_page_newest_first_with_status_filter);
async fn runs_page_newest_first_with_status_filter(store: Store) {
    let ws = workspace(&store, "acme").await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(insert_run(&store, &ws).await);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    store
        .set_run_status(&ws, &ids[1], RunStatus::parse("running").unwrap(), 1)
        .await
        .unwrap();
    let page = |before: Option<String>, status: Option<RunStatus>| {
        let store = store.clone();
        let ws = ws.clone();
        async move {
            store
                .list_runs(
                    &ws,
                    RunListFilter {
                        statuses: status.into_iter().collect(),
                        before: before.as_deref(),
                        limit: 2,
                        ..RunListFilter::default()
                    },
                )
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id.into_string())
                .collect::<Vec<_>>()
        }
    };
    let first = page(None, None).await;
    assert_eq!(first, vec![ids[4].clone(), ids[3].clone()]);
    let second = page(Some(first[1].clone()), None).await;
    assert_eq!(second, vec![ids[2].clone(), ids[1].clone()]);
    let third = page(Some(second[1].clone()), None).await;
    assert_eq!(third, vec![ids[0].clone()]);
    assert_eq!(
        page(None, Some(RunStatus::Running)).await,
        vec![ids[1].clone()]
    );
}

on_each_backend!(terminal_runs_never_move_again);
async fn terminal_runs_never_move_again(store: Store) {
    let (ws, id) = workspace_with_run(&store, "acme").await;
    assert!(
        store
            .set_run_status(&ws, &id, RunStatus::parse("running").unwrap(), 0)
            .await
            .unwrap()
    );
    let done = |status| finish(status, Some("done"), 2);
    assert!(
        store
            .finish_run(&ws, &id, done(RunStatus::parse("succeeded").unwrap()))
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_run(&ws, &id, done(RunStatus::parse("failed").unwrap()))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_run_status(&ws, &id, RunStatus::parse("running").unwrap(), 3)
            .await
            .unwrap()
    );
    let run = store.run(&ws, &id).await.unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(run.step, 2);
    assert!(run.finished_at.is_some() && run.started_at.is_some());
    assert!(!store.delete_unstarted_run(&ws, &id).await.unwrap());
}

on_each_backend!(unstarted_runs_can_be_withdrawn);
async fn unstarted_runs_can_be_withdrawn(store: Store) {
    let ws = workspace(&store, "acme").await;
    let id = new_run_id();
    store
        .insert_run(new_run(&ws, &id, Some("k")))
        .await
        .unwrap();
    assert!(store.delete_unstarted_run(&ws, &id).await.unwrap());
    assert!(store.run(&ws, &id).await.unwrap().is_none());
    // The key is free again.
    let again = new_run_id();
    assert!(matches!(
        store
            .insert_run(new_run(&ws, &again, Some("k")))
            .await
            .unwrap(),
        InsertRunOutcome::Created(_)
    ));
}

on_each_backend!(events_are_ordered_and_deduplicated_under_concurrency);
async fn events_are_ordered_and_deduplicated_under_concurrency(store: Store) {
    let (ws, id) = workspace_with_run(&store, "acme").await;
    let _listener = store.listen_for_events().await.unwrap();
    let mut live = store.subscribe_live();
    // 20 distinct events, each written twice concurrently (a retried activity).
    concurrently_on_run(&store, &ws, &id, 40, |store, ws, id, n| async move {
        let key = format!("e{}", n % 20);
        store.append_event(event(&ws, &id, &key)).await.unwrap().seq
    })
    .await;
    let events = store.events_after(&ws, &id, 0, 1000).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(events.len(), 20, "{seqs:?}");
    // Sequence numbers are strictly increasing; gaps may appear where a duplicate was
    // refused, never repeats.
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let after = store.events_after(&ws, &id, seqs[9], 1000).await.unwrap();
    assert_eq!(after.len(), 10);
    // Live deliveries (in-process on SQLite, through LISTEN/NOTIFY on Postgres): one per new
    // event, none for refused duplicates. (The NOTIFY channel is the database's: other tests'
    // runs are heard too, as a listener hears every run in production.)
    let mut published = BTreeSet::new();
    let mut next = async || loop {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), live.recv())
            .await?
            .unwrap();
        if event.run_id == id {
            return Ok::<_, tokio::time::error::Elapsed>(event);
        }
    };
    while published.len() < 20 {
        let event = next().await.expect("a live delivery is missing");
        assert!(
            published.insert(event.seq.unwrap()),
            "delivered twice: {event:?}"
        );
    }
    let extra = tokio::time::timeout(std::time::Duration::from_millis(300), next()).await;
    assert!(extra.is_err(), "only new events are published: {extra:?}");
}

on_each_backend!(the_ledger_bills_each_key_once_and_totals_follow);
async fn the_ledger_bills_each_key_once_and_totals_follow(store: Store) {
    let (ws, id) = workspace_with_run(&store, "acme").await;
    let outcomes = concurrently_on_run(&store, &ws, &id, 30, |store, ws, id, n| async move {
        let key = format!("wf/run/{}/llm", n % 10);
        store
            .record_usage(&[usage(&ws, &id, &key, 10)])
            .await
            .unwrap()[0]
    })
    .await;
    let recorded = outcomes
        .iter()
        .filter(|o| **o == LedgerOutcome::Recorded)
        .count();
    assert_eq!(recorded, 10);
    assert_eq!(
        store.usage_rows_of_run(&ws, &id).await.unwrap(),
        vec![("llm".to_string(), 10)]
    );
    let run = store.run(&ws, &id).await.unwrap().unwrap();
    assert_eq!(run.usage.input_tokens, 100);
    assert_eq!(run.usage.output_tokens, 200);
    assert_eq!(run.usage.agent_ms, 50);
    assert_eq!(run.usage.cost_micro_usd, 70);
}

on_each_backend!(row_level_security_hides_other_tenants_from_unscoped_queries);
async fn row_level_security_hides_other_tenants_from_unscoped_queries(store: Store) {
    let a = workspace(&store, "a").await;
    let b = workspace(&store, "b").await;
    for ws in [&a, &b] {
        insert_run(&store, ws).await;
    }
    let visible = store.rows_visible_to(&a, "runs").await.unwrap();
    match store.backend() {
        // The second wall: a query with no WHERE at all, inside A's transaction, sees only A.
        longrun_store::Backend::Postgres => {
            assert_eq!(visible, 1);
            assert_eq!(store.rows_visible_to(&a, "workspaces").await.unwrap(), 1);
            assert_eq!(store.rows_visible_to("ws_nobody", "runs").await.unwrap(), 0);
        }
        // SQLite has no row-level security: the workspace id in every query is the wall.
        longrun_store::Backend::Sqlite => assert_eq!(visible, 2),
    }
    assert!(
        store.rows_visible_to(&a, "pg_authid").await.is_err(),
        "only tenant tables"
    );
}

on_each_backend!(admission_holds_the_concurrency_cap_under_a_burst);
async fn admission_holds_the_concurrency_cap_under_a_burst(store: Store) {
    let ws = workspace(&store, "burst").await;
    let limits = longrun_store::Admission {
        max_active_runs: Some(5),
        ..Default::default()
    };
    let outcomes = concurrently(100, |_| {
        let (store, ws, limits) = (store.clone(), ws.clone(), limits.clone());
        async move { admit(&store, &ws, &limits).await }
    })
    .await;
    let mut admitted = 0;
    let mut refused = 0;
    for outcome in outcomes {
        match outcome {
            longrun_store::AdmitOutcome::Created(_) => admitted += 1,
            longrun_store::AdmitOutcome::ConcurrencyLimit { limit, .. } => {
                assert_eq!(limit, 5);
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((admitted, refused), (5, 95));
    // A finished run frees its slot.
    let runs = store.list_runs(&ws, newest(10)).await.unwrap();
    let done = finish(RunStatus::Succeeded, None, 1);
    store.finish_run(&ws, &runs[0].id, done).await.unwrap();
    assert!(matches!(
        admit(&store, &ws, &limits).await,
        longrun_store::AdmitOutcome::Created(_)
    ));
}

on_each_backend!(admission_refuses_a_spent_quota_and_counts_usage_by_period);
async fn admission_refuses_a_spent_quota_and_counts_usage_by_period(store: Store) {
    let (ws, id) = workspace_with_run(&store, "quota").await;
    let mut old = usage(&ws, &id, "k-old", 1000);
    old.occurred_at = now_ms() - 40 * 86_400_000;
    store.record_usage(&[old]).await.unwrap();
    store
        .record_usage(&[usage(&ws, &id, "k-new", 10)])
        .await
        .unwrap();
    let period_start = now_ms() - 86_400_000;
    let used = store.usage_since(&ws, period_start).await.unwrap();
    assert_eq!(used.tokens(), 30, "only this period's usage counts");
    let limits = |max_tokens| longrun_store::Admission {
        period_start_ms: period_start,
        max_tokens: Some(max_tokens),
        ..Default::default()
    };
    match admit(&store, &ws, &limits(30)).await {
        longrun_store::AdmitOutcome::QuotaExhausted {
            metric,
            used,
            limit,
        } => {
            assert_eq!((metric, used, limit), ("tokens", 30, 30));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        admit(&store, &ws, &limits(31)).await,
        longrun_store::AdmitOutcome::Created(_)
    ));
}

on_each_backend!(revoked_keys_stop_authenticating_at_once);
async fn revoked_keys_stop_authenticating_at_once(store: Store) {
    let ws = workspace(&store, "revoke").await;
    let secret = "lr_revokeme_secret";
    let key = create_key(&store, &ws, "member", "lr_revokeme", secret).await;
    let other = workspace(&store, "other").await;
    assert!(
        !store.revoke_api_key(&other, &key.id).await.unwrap(),
        "another workspace cannot revoke it"
    );
    assert!(store.revoke_api_key(&ws, &key.id).await.unwrap());
    assert!(!authenticates(&store, "lr_revokeme", secret).await);
    assert!(
        store
            .list_api_keys(&ws, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.revoke_api_key(&ws, &key.id).await.unwrap());
}

on_each_backend!(conversations_keep_the_first_message_at_each_sequence_number);
async fn conversations_keep_the_first_message_at_each_sequence_number(store: Store) {
    let (ws, id) = workspace_with_run(&store, "conv").await;
    let message = |seq, content| longrun_store::NewMessage {
        seq,
        role: "user",
        content,
        meta: None,
    };
    store
        .put_messages(&ws, &id, &[message(0, "[1]"), message(1, "[2]")])
        .await
        .unwrap();
    store
        .put_messages(&ws, &id, &[message(1, "[changed]"), message(2, "[3]")])
        .await
        .unwrap();
    let stored = store.messages_before(&ws, &id, 10).await.unwrap();
    let contents: Vec<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["[1]", "[2]", "[3]"]);
    let third = store.message_at(&ws, &id, 2).await.unwrap().unwrap();
    assert_eq!(third.content, "[3]");
    let other = workspace(&store, "other").await;
    let intruding = store.put_messages(&other, &id, &[message(5, "[x]")]).await;
    assert!(intruding.is_err());
    let seen = store.messages_before(&other, &id, 10).await.unwrap();
    assert!(seen.is_empty());
    let secret = store.webhook_secret(&ws).await.unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(
        store.webhook_secret(&ws).await.unwrap(),
        secret,
        "created once"
    );
}

on_each_backend!(the_daily_rollup_is_idempotent_and_quota_reads_use_it);
async fn the_daily_rollup_is_idempotent_and_quota_reads_use_it(store: Store) {
    use longrun_store::{DAY_MS, day_label};
    let (ws, id) = workspace_with_run(&store, "rolled").await;
    let today = now_ms().div_euclid(DAY_MS) * DAY_MS;
    let yesterday = today - DAY_MS;
    let mut rows = Vec::new();
    for n in 0..5 {
        let mut row = usage(&ws, &id, Box::leak(format!("k-y-{n}").into_boxed_str()), 10);
        row.occurred_at = yesterday + 1000 * n;
        rows.push(row);
    }
    let mut today_row = usage(&ws, &id, "k-today", 7);
    today_row.occurred_at = today + 5;
    rows.push(today_row);
    store.record_usage(&rows).await.unwrap();
    let before = store.usage_since(&ws, yesterday).await.unwrap();
    assert_eq!(before.tokens(), 5 * 30 + 21);

    assert_eq!(store.rollup_day(yesterday).await.unwrap(), 5);
    let first = store.daily_usage(&ws, &day_label(yesterday)).await.unwrap();
    assert_eq!(store.rollup_day(yesterday).await.unwrap(), 5);
    let second = store.daily_usage(&ws, &day_label(yesterday)).await.unwrap();
    assert_eq!(first, second, "rolling a day up twice gives the same rows");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].2.input_tokens, 50);
    assert_eq!(
        store.usage_since(&ws, yesterday).await.unwrap(),
        before,
        "the same totals"
    );
    // Quota reads take yesterday from the rollup: a ledger row of yesterday removed behind
    // its back does not change them until the day is rolled up again.
    assert!(
        store
            .delete_ledger_row_for_tests(&ws, "k-y-0")
            .await
            .unwrap()
    );
    assert_eq!(store.usage_since(&ws, yesterday).await.unwrap(), before);
    store.rollup_day(yesterday).await.unwrap();
    assert_eq!(
        store.usage_since(&ws, yesterday).await.unwrap().tokens(),
        before.tokens() - 30
    );
    assert!(
        store.rollup_day(yesterday + 1).await.is_err(),
        "only whole days"
    );
}

on_each_backend!(usage_groups_and_the_export_pages_through_every_row_once);
async fn usage_groups_and_the_export_pages_through_every_row_once(store: Store) {
    use longrun_store::GroupBy;
    let a = workspace(&store, "export-a").await;
    let b = workspace(&store, "export-b").await;
    let base = now_ms() - 10_000;
    let mut keys = BTreeSet::new();
    for (ws, n) in [(&a, 7), (&b, 5)] {
        let id = insert_run(&store, ws).await;
        for i in 0..n {
            let key = format!("{ws}/{i}");
            let mut row = usage(ws, &id, Box::leak(key.clone().into_boxed_str()), 1);
            // Several rows share a millisecond: the id breaks ties.
            row.occurred_at = base + i / 2;
            store.record_usage(&[row]).await.unwrap();
            keys.insert(key);
        }
    }
    let mut seen = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = store
            .export_page(base - 1, base + 1000, None, cursor.as_ref(), 3)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        for row in &page {
            assert!(
                seen.insert(row.idempotency_key.clone()),
                "{} twice",
                row.idempotency_key
            );
        }
        let last = page.last().unwrap();
        cursor = Some((last.occurred_at, last.id.clone()));
    }
    assert_eq!(seen, keys, "every row once across pages");
    let only_b = store
        .export_page(base - 1, base + 1000, Some(&b), None, 100)
        .await
        .unwrap();
    assert_eq!(only_b.len(), 5);
    assert!(only_b.iter().all(|r| r.workspace_slug == "export-b"));

    let by_model = store
        .usage_grouped(&a, base - 1, base + 1000, GroupBy::Model, None, 100)
        .await
        .unwrap();
    assert_eq!(by_model.len(), 1);
    assert_eq!(by_model[0].key, "offline/demo");
    assert_eq!(by_model[0].totals.input_tokens, 7);
    let by_day = store
        .usage_grouped(&a, base - 1, base + 1000, GroupBy::Day, None, 100)
        .await
        .unwrap();
    assert_eq!(by_day.iter().map(|g| g.totals.input_tokens).sum::<i64>(), 7);
    assert!(by_day[0].key.len() == 10 && by_day[0].key.starts_with("20"));
    assert!(
        store
            .usage_grouped(&b, base - 1, base + 1000, GroupBy::Run, None, 100)
            .await
            .unwrap()[0]
            .totals
            .input_tokens
            == 5
    );
    // Pages of groups: every group once, in key order, across pages; totals of the span.
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .usage_grouped(&b, base - 1, base + 1000, GroupBy::Day, after.as_deref(), 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        keys.push(last.key.clone());
    }
    assert_eq!(keys, {
        let all = store
            .usage_grouped(&b, base - 1, base + 1000, GroupBy::Day, None, 100)
            .await
            .unwrap();
        all.into_iter().map(|g| g.key).collect::<Vec<_>>()
    });
    let span = store
        .usage_between(&b, base - 1, base + 1000)
        .await
        .unwrap();
    assert_eq!(span.input_tokens, 5);
}

/// The quota read and the export use indexes, not scans, at any ledger size (checked on
/// Postgres with sequential scans ruled out: an index path must exist).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_reads_have_an_index_plan_on_postgres() {
    let db = crate::db::TestDb::postgres().await;
    let store = db.open().await;
    let plans = store.explain_ledger_reads_for_tests().await.unwrap();
    for (query, plan) in plans {
        assert!(plan.contains("Index"), "{query} has no index plan:\n{plan}");
        assert!(
            !plan.contains("Seq Scan on usage_events"),
            "{query} scans the ledger:\n{plan}"
        );
    }
}

/// Faults that a retry may cure are "unavailable"; others are not.
#[test]
fn unavailability_is_told_from_refusal() {
    let refused = StoreError::Database(sqlx::Error::RowNotFound);
    assert!(!refused.is_unavailable());
    assert!(!StoreError::Conflict("agent").is_unavailable());
    assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_unavailable());
}

/// A connection the server drops under a query (a restart, a failover,
/// `pg_terminate_backend`) is "unavailable", which the API answers with a 503 to retry; a
/// query the database refuses is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_unavailable_and_a_refused_query_is_not_on_postgres() {
    use sqlx::Connection;
    let db = db::TestDb::postgres().await;
    let name = format!("lr_dropped_{}", new_run_id());
    let mut victim = sqlx::PgConnection::connect(&format!("{}&application_name={name}", db.url))
        .await
        .unwrap();
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let syntax = sqlx::query("SELEC 1")
        .execute(&mut admin)
        .await
        .unwrap_err();
    assert!(!StoreError::Database(syntax).is_unavailable());
    assert_eq!(terminate_connections(&db.url, &name).await, [true]);
    let dropped = sqlx::query("SELECT 1")
        .execute(&mut victim)
        .await
        .unwrap_err();
    let dropped = StoreError::Database(dropped);
    assert!(dropped.is_unavailable(), "{dropped:?}");
}

on_each_backend!(idempotency_keys_replay_refuse_and_expire);
async fn idempotency_keys_replay_refuse_and_expire(store: Store) {
    use longrun_store::{IdempotencyBegin, IdempotencyPolicy};
    let a = workspace(&store, "idem-a").await;
    let b = workspace(&store, "idem-b").await;
    let policy = IdempotencyPolicy {
        ttl_ms: 60_000,
        stale_ms: 30_000,
    };
    let begin = async |ws: &str, key: &str, hash: &str, policy: IdempotencyPolicy| {
        store.begin_idempotent(ws, key, hash, policy).await.unwrap()
    };
    for (ws, hash, expected) in [
        (&a, "h1", IdempotencyBegin::Run),
        (&a, "h1", IdempotencyBegin::InFlight),
        (&a, "h2", IdempotencyBegin::Mismatch),
        // Keys are per workspace.
        (&b, "h2", IdempotencyBegin::Run),
    ] {
        assert_eq!(begin(ws, "k1", hash, policy).await, expected, "{ws} {hash}");
    }
    store
        .finish_idempotent(&a, "k1", 202, "{\"accepted\":true}")
        .await
        .unwrap();
    assert_eq!(
        begin(&a, "k1", "h1", policy).await,
        IdempotencyBegin::Replay {
            status: 202,
            body: "{\"accepted\":true}".into()
        }
    );
    assert_eq!(
        begin(&a, "k1", "h9", policy).await,
        IdempotencyBegin::Mismatch
    );
    // An abandoned key runs again.
    store.abandon_idempotent(&a, "k1").await.unwrap();
    assert_eq!(begin(&a, "k1", "h9", policy).await, IdempotencyBegin::Run);
    // An unfinished key older than `stale` is taken over; an expired one is forgotten.
    let at_once = IdempotencyPolicy {
        ttl_ms: 60_000,
        stale_ms: -1,
    };
    assert_eq!(begin(&a, "k1", "h9", at_once).await, IdempotencyBegin::Run);
    let expired = IdempotencyPolicy {
        ttl_ms: -1,
        stale_ms: 30_000,
    };
    assert_eq!(begin(&a, "k2", "h1", expired).await, IdempotencyBegin::Run);
    store.finish_idempotent(&a, "k2", 200, "{}").await.unwrap();
    assert_eq!(
        begin(&a, "k2", "h2", policy).await,
        IdempotencyBegin::Run,
        "an expired key may be used for another request"
    );
}

on_each_backend!(agents_and_keys_are_paged_and_capped);
async fn agents_and_keys_are_paged_and_capped(store: Store) {
    let ws = workspace(&store, "paged").await;
    for n in 0..5 {
        let name = AgentName::parse(&format!("agent-{n}")).unwrap();
        store
            .create_agent(&ws, plain_agent(&name), Some(5))
            .await
            .unwrap();
    }
    let name = AgentName::parse("agent-5").unwrap();
    let sixth = plain_agent(&name);
    assert!(matches!(
        store.create_agent(&ws, sixth, Some(5)).await,
        Err(StoreError::LimitReached { limit: 5, .. })
    ));
    let first = store.list_agents(&ws, None, 2).await.unwrap();
    let names: Vec<&str> = first.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["agent-0", "agent-1"]);
    let rest = store.list_agents(&ws, Some("agent-1"), 10).await.unwrap();
    assert_eq!(rest.len(), 3);
    assert_eq!(rest[0].name, "agent-2");

    let mut ids = Vec::new();
    for n in 0..longrun_store::MAX_LIVE_KEYS {
        let (prefix, secret) = (format!("lr_p{n:04}"), format!("s{n}"));
        let key = create_key(&store, &ws, "member", &prefix, &secret).await;
        ids.push(key.id);
    }
    let over = try_create_key(&store, &ws, "member", "lr_over", "over").await;
    assert!(
        matches!(over, Err(StoreError::LimitReached { .. })),
        "{over:?}"
    );
    let page = store.list_api_keys(&ws, None, 40).await.unwrap();
    assert_eq!(page.len(), 40);
    let next = store
        .list_api_keys(&ws, Some(&page[39].id), 100)
        .await
        .unwrap();
    assert_eq!(next.len(), ids.len() - 40);
    // A revoked key frees its place.
    assert!(store.revoke_api_key(&ws, &ids[0]).await.unwrap());
    create_key(&store, &ws, "member", "lr_after", "after").await;
}

on_each_backend!(a_run_started_twice_stays_started_and_a_withdrawn_one_does_not);
async fn a_run_started_twice_stays_started_and_a_withdrawn_one_does_not(store: Store) {
    let ws = workspace(&store, "acme").await;
    // Two dispatchers start one run: the first one's lease ran out while its start was slow
    // (Temporal away), the next claim started the same workflow id and marked it first.
    let run = queued_run(&store, &ws).await;
    assert_eq!(store.claim_starts(10, 0).await.unwrap().len(), 1);
    assert_eq!(store.claim_starts(10, 0).await.unwrap().len(), 1);
    assert!(store.mark_started(&ws, &run).await.unwrap());
    assert!(
        store.mark_started(&ws, &run).await.unwrap(),
        "a run another dispatcher marked started is started, not withdrawn"
    );
    assert!(!store.withdraw_start(&ws, &run).await.unwrap());
    // Withdrawn (cancelled before it started): the start just made must be undone.
    let withdrawn = queued_run(&store, &ws).await;
    assert!(store.withdraw_start(&ws, &withdrawn).await.unwrap());
    assert!(!store.mark_started(&ws, &withdrawn).await.unwrap());
}

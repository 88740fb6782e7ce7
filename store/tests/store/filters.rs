//! The runs list's filters on both backends, and the plans Postgres chooses for them on a
//! table of realistic size (docs/runs-api.md quotes them).

use longrun_domain::RunStatus;
use longrun_store::{NewRun, RunListFilter, Store, new_run_id, now_ms};

use crate::fixtures::{new_run, workspace};

async fn submit(store: &Store, ws: &str, agent: &str, metadata: &str) -> String {
    let id = new_run_id();
    let run = NewRun {
        agent_name: agent,
        metadata: Some(metadata),
        ..new_run(ws, &id, None)
    };
    store.insert_run(run).await.unwrap();
    id
}

async fn listed(store: &Store, ws: &str, filter: RunListFilter<'_>) -> Vec<String> {
    let runs = store.list_runs(ws, filter).await.unwrap();
    runs.into_iter().map(|r| r.id.into_string()).collect()
}

on_each_backend!(filters_combine_and_stay_within_the_workspace);
async fn filters_combine_and_stay_within_the_workspace(store: Store) {
    let ws = workspace(&store, "acme").await;
    let other = workspace(&store, "other").await;
    let a = submit(&store, &ws, "a", r#"{"team":"blue","n":1}"#).await;
    let b = submit(&store, &ws, "b", r#"{"team":"blue"}"#).await;
    let c = submit(&store, &ws, "a", r#"{"team":"red","flag":true}"#).await;
    submit(&store, &other, "a", r#"{"team":"blue"}"#).await;
    store
        .set_run_status(&ws, &b, RunStatus::Running, 1)
        .await
        .unwrap();
    let all = |f: RunListFilter<'static>| RunListFilter { limit: 10, ..f };
    let pair = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    assert_eq!(
        listed(
            &store,
            &ws,
            all(RunListFilter {
                agent: Some("a"),
                ..Default::default()
            })
        )
        .await,
        [c.clone(), a.clone()]
    );
    let blue = all(RunListFilter {
        metadata: pair("team", "blue"),
        ..Default::default()
    });
    assert_eq!(listed(&store, &ws, blue).await, [b.clone(), a.clone()]);
    let flag = all(RunListFilter {
        metadata: pair("flag", "true"),
        ..Default::default()
    });
    assert_eq!(listed(&store, &ws, flag).await, vec![c.clone()]);
    let statuses = all(RunListFilter {
        statuses: vec![RunStatus::Running, RunStatus::Queued, RunStatus::Running],
        agent: Some("b"),
        ..Default::default()
    });
    assert_eq!(listed(&store, &ws, statuses).await, vec![b.clone()]);
    let window = all(RunListFilter {
        created_after: Some(now_ms() - 60_000),
        created_before: Some(now_ms() + 1_000),
        ..Default::default()
    });
    assert_eq!(listed(&store, &ws, window).await.len(), 3);
    let future = all(RunListFilter {
        created_after: Some(now_ms() + 60_000),
        ..Default::default()
    });
    assert!(listed(&store, &ws, future).await.is_empty());
    // An unstarted run that is removed takes its metadata rows with it.
    assert!(store.delete_unstarted_run(&ws, &a).await.unwrap());
    let blue = all(RunListFilter {
        metadata: pair("team", "blue"),
        ..Default::default()
    });
    assert_eq!(listed(&store, &ws, blue).await, vec![b.clone()]);
}

/// On 60,000 runs of 30 workspaces, each filter shape is served by an index of `runs` (and
/// `run_metadata`), never by a scan of the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_plans_use_the_indexes_postgres() {
    use sqlx::{Connection, Executor};
    let db = crate::db::TestDb::postgres().await;
    let store = db.open().await;
    let ws = workspace(&store, "big").await;
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    conn.execute(
        "INSERT INTO workspaces (id, slug, name, tier, created_at) \
         SELECT 'ws_' || n, 'w' || n, 'w', 'pro', 0 FROM generate_series(1, 29) n",
    )
    .await
    .unwrap();
    let now = now_ms();
    // Ids as the API makes them: the creation time in the first 48 bits.
    let insert = format!(
        "INSERT INTO runs (id, workspace_id, agent_name, status, input, metadata, workflow_id, \
             created_at, updated_at) \
         SELECT lpad(to_hex({now} - 60000000 + n * 1000), 12, '0') || lpad(to_hex(n), 20, '0'), \
                CASE WHEN n % 30 = 0 THEN '{ws}' ELSE 'ws_' || (n % 30) END, \
                'agent-' || (n % 7), \
                (ARRAY['queued','running','waiting_input','succeeded','failed','cancelled'])[1 + n % 6], \
                'input', '{{\"team\":\"t' || (n % 10) || '\"}}', 'wf', \
                {now} - 60000000 + n * 1000, {now} \
         FROM generate_series(1, 60000) n"
    );
    conn.execute(insert.as_str()).await.unwrap();
    conn.execute(
        "INSERT INTO run_metadata (run_id, workspace_id, key, value) \
         SELECT id, workspace_id, 'team', metadata::json ->> 'team' FROM runs",
    )
    .await
    .unwrap();
    conn.execute("ANALYZE").await.unwrap();
    conn.close().await.unwrap();
    let pair = vec![("team".to_string(), "t3".to_string())];
    let cursor = format!("{:012x}{}", now - 30_000_000, "0".repeat(20));
    let shapes: Vec<(&str, RunListFilter<'_>)> = vec![
        ("newest", RunListFilter::default()),
        (
            "agent",
            RunListFilter {
                agent: Some("agent-3"),
                ..Default::default()
            },
        ),
        (
            "statuses",
            RunListFilter {
                statuses: vec![RunStatus::Failed, RunStatus::Cancelled],
                ..Default::default()
            },
        ),
        (
            "metadata",
            RunListFilter {
                metadata: pair.clone(),
                ..Default::default()
            },
        ),
        (
            "window",
            RunListFilter {
                created_after: Some(now - 40_000_000),
                created_before: Some(now - 39_000_000),
                ..Default::default()
            },
        ),
        (
            "everything",
            RunListFilter {
                agent: Some("agent-3"),
                statuses: vec![RunStatus::Succeeded, RunStatus::Failed],
                metadata: pair,
                created_after: Some(now - 50_000_000),
                before: Some(&cursor),
                ..Default::default()
            },
        ),
    ];
    for (name, filter) in shapes {
        let filter = RunListFilter {
            limit: 20,
            ..filter
        };
        let plan = store
            .explain_list_runs(&ws, filter)
            .await
            .unwrap()
            .join("\n");
        eprintln!("-- {name}\n{plan}\n");
        assert!(
            !plan.contains("Seq Scan on runs"),
            "{name}: a scan of runs:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on run_metadata"),
            "{name}:\n{plan}"
        );
        assert!(plan.contains("Index"), "{name}: no index:\n{plan}");
    }
}

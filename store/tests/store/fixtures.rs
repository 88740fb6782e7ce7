//! What the store tests build their cases from: workspaces, runs, keys, events and ledger rows
//! with plain values, and a way to race many writers at once.

use longrun_domain::{AgentName, RunStatus};
use longrun_store::{
    Admission, AdmitOutcome, ApiKey, NewAgent, NewApiKey, NewEvent, NewRun, NewUsageEvent,
    RunFinish, RunListFilter, Store, StoreError, UsageKind, hash_secret, new_run_id, now_ms,
};

/// A Pro workspace; returns its id.
pub async fn workspace(store: &Store, slug: &str) -> String {
    store
        .create_workspace(slug, slug, longrun_domain::Tier::Pro)
        .await
        .unwrap()
        .id
        .into_string()
}

/// An agent document with no tools, limits or settings.
pub fn plain_agent(name: &AgentName) -> NewAgent<'_> {
    NewAgent {
        name,
        model: "offline/demo",
        system_prompt: "",
        tools: &[],
        limits: &NO_LIMITS,
        settings: &NO_SETTINGS,
    }
}

static NO_LIMITS: longrun_domain::RunLimits = longrun_domain::RunLimits {
    max_steps: None,
    max_tokens: None,
    max_cost_usd: None,
    max_duration_s: None,
};
static NO_SETTINGS: longrun_store::AgentSettings = longrun_store::AgentSettings {
    await_input: false,
    max_output_tokens: None,
    provider_outage_tolerance_s: None,
    output_schema: None,
    max_repeated_tool_calls: None,
};

pub fn new_run<'a>(workspace_id: &'a str, id: &'a str, key: Option<&'a str>) -> NewRun<'a> {
    NewRun {
        id,
        workspace_id,
        agent_name: "a",
        input: "hi",
        metadata: None,
        idempotency_key: key,
        request_hash: Some("h"),
        workflow_id: "wf",
        ..NewRun::default()
    }
}

/// Inserts a run without an idempotency key; returns its id.
pub async fn insert_run(store: &Store, workspace_id: &str) -> String {
    let id = new_run_id();
    store
        .insert_run(new_run(workspace_id, &id, None))
        .await
        .unwrap();
    id
}

/// A new workspace of `slug` with one run in it: their ids.
pub async fn workspace_with_run(store: &Store, slug: &str) -> (String, String) {
    let ws = workspace(store, slug).await;
    let run = insert_run(store, &ws).await;
    (ws, run)
}

/// Admits a run with its start request queued and due at once (no lease); returns its id.
pub async fn queued_run(store: &Store, workspace_id: &str) -> String {
    let id = new_run_id();
    let queued = store
        .admit_and_queue(
            new_run(workspace_id, &id, None),
            &Admission::default(),
            |_| Some(("{}".to_string(), 0)),
        )
        .await
        .unwrap();
    assert!(matches!(queued, AdmitOutcome::Created(ref run) if run.start_pending));
    id
}

/// Submits a run (with a fresh id) through admission under `limits`.
pub async fn admit(store: &Store, workspace_id: &str, limits: &Admission) -> AdmitOutcome {
    let id = new_run_id();
    store
        .admit_run(new_run(workspace_id, &id, None), limits)
        .await
        .unwrap()
}

/// The newest `limit` runs, whatever their status.
pub fn newest(limit: i64) -> RunListFilter<'static> {
    RunListFilter {
        limit,
        ..RunListFilter::default()
    }
}

/// The end of a run with no error.
pub fn finish(status: RunStatus, result: Option<&str>, step: i64) -> RunFinish<'_> {
    RunFinish {
        status,
        result,
        result_json: None,
        error_code: None,
        error_message: None,
        step,
    }
}

/// Creates a key of `role` whose secret is `secret`.
pub async fn create_key(
    store: &Store,
    workspace_id: &str,
    role: &str,
    prefix: &str,
    secret: &str,
) -> ApiKey {
    try_create_key(store, workspace_id, role, prefix, secret)
        .await
        .unwrap()
}

/// [`create_key`], for a key the store may refuse.
pub async fn try_create_key(
    store: &Store,
    workspace_id: &str,
    role: &str,
    prefix: &str,
    secret: &str,
) -> Result<ApiKey, StoreError> {
    store
        .create_api_key(NewApiKey {
            workspace_id,
            name: "k",
            role,
            prefix,
            secret_hash: &hash_secret(secret),
        })
        .await
}

/// Whether `prefix` with `secret` authenticates a key.
pub async fn authenticates(store: &Store, prefix: &str, secret: &str) -> bool {
    store
        .authenticate_api_key(prefix, &hash_secret(secret))
        .await
        .unwrap()
        .is_some()
}

pub fn event<'a>(workspace_id: &'a str, run_id: &'a str, key: &'a str) -> NewEvent<'a> {
    NewEvent {
        workspace_id,
        run_id,
        kind: longrun_domain::EventKind::ToolStarted,
        dedupe_key: key,
        data: "{}",
    }
}

/// A model call's ledger row: `tokens` in, twice as many out, 5 ms, 7 micro-USD.
pub fn usage<'a>(ws: &'a str, run: &'a str, key: &'a str, tokens: i64) -> NewUsageEvent<'a> {
    NewUsageEvent {
        idempotency_key: key,
        workspace_id: ws,
        run_id: run,
        agent_name: "a",
        step: 1,
        kind: UsageKind::Llm,
        provider: Some("offline"),
        model: Some("demo"),
        tool_name: None,
        totals: longrun_store::UsageTotals {
            input_tokens: tokens,
            output_tokens: 2 * tokens,
            agent_ms: 5,
            cost_micro_usd: 7,
            ..Default::default()
        },
        price_version: None,
        occurred_at: now_ms(),
    }
}

/// [`concurrently`], each task given its own handle on the store and the ids of a workspace
/// and its run.
pub async fn concurrently_on_run<T, F, Fut>(
    store: &Store,
    ws: &str,
    run: &str,
    count: usize,
    task: F,
) -> Vec<T>
where
    F: Fn(Store, String, String, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    concurrently(count, |n| {
        task(store.clone(), ws.to_string(), run.to_string(), n)
    })
    .await
}

/// Runs `task(n)` for each `n` below `count` on tasks of their own, all at once, and returns
/// their results in order: concurrent writers, as retried activities and parallel requests are.
pub async fn concurrently<T, F, Fut>(count: usize, task: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = (0..count).map(|n| tokio::spawn(task(n))).collect();
    let mut results = Vec::with_capacity(count);
    for handle in handles {
        results.push(handle.await.unwrap());
    }
    results
}

/// Terminates every connection named `application_name` on the Postgres server at `url`, as a
/// restart or a failover would; whether each one went.
pub async fn terminate_connections(url: &str, application_name: &str) -> Vec<bool> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(application_name)
    .fetch_all(&mut admin)
    .await
    .unwrap()
}

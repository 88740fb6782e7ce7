//! Agent runs end to end: the workflow, its activities, the store and the ledger.

use std::time::Duration;

use serde_json::json;

use crate::harness::{MINUTE, Options, TestApp, TestDb, ledger_rows, poll};
use crate::on_each_backend;

on_each_backend!(a_run_calls_the_calculator_and_succeeds);
async fn a_run_calls_the_calculator_and_succeeds(db: TestDb) {
    let app = TestApp::start(db).await;
    let (workspace, key) = app.tenant("calc").await;
    let submitted = app.submit(&key, "What is 12 * (3 + 4)?").await;
    assert_eq!(submitted["status"], "queued");
    let run_id = submitted["id"].as_str().unwrap();
    let workflow_id = submitted["workflow_id"].as_str().unwrap();
    assert_eq!(workflow_id, format!("run-calc-{run_id}"));
    assert!(
        submitted["temporal_ui_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/namespaces/default/workflows/{workflow_id}"))
    );

    let run = app.wait_for_run(&key, run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "12 * (3 + 4) = 84.");
    assert_eq!(run["step"], 2);
    assert_eq!(run["usage"]["tool_calls"], 1);
    assert!(run["usage"]["input_tokens"].as_i64().unwrap() > 0);
    assert!(run["usage"]["output_tokens"].as_i64().unwrap() > 0);
    assert!(run["started_at"].is_string() && run["finished_at"].is_string());

    let events = app.events(&workspace.id, run_id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "run.started",
            "llm.completed",
            "tool.started",
            "tool.completed",
            "llm.completed",
            "run.completed"
        ]
    );
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(
        app.ledger(&workspace.id, run_id).await,
        ledger_rows(&[("agent_time", 3), ("llm", 2), ("tool", 1)]),
        "one row per billable unit"
    );

    // Operators find the run in Temporal by tenant, agent and final status.
    let client = app.temporal_client().await;
    let query = format!(
        "WorkflowId = '{workflow_id}' AND LongrunWorkspace = 'calc' AND LongrunAgent = 'demo' \
         AND LongrunTier = 'pro' AND LongrunStatus = 'succeeded'"
    );
    // Visibility is eventually consistent.
    poll(
        Duration::from_secs(20),
        Duration::from_millis(200),
        async || {
            let count = client
                .count_workflows(query.clone(), Default::default())
                .await
                .unwrap();
            match count.count() {
                1 => Ok(()),
                _ => Err("workflow not visible by its search attributes".to_string()),
            }
        },
    )
    .await;
}

on_each_backend!(a_run_submitted_while_the_worker_is_down_completes_when_it_starts);
async fn a_run_submitted_while_the_worker_is_down_completes_when_it_starts(db: TestDb) {
    let mut app = TestApp::start_with(db, Options::no_worker()).await;
    let (_, key) = app.tenant("later").await;
    let submitted = app.submit(&key, "What is 9 - 3?").await;
    let run_id = submitted["id"].as_str().unwrap();
    // The workflow exists and its first task waits in the queue, taken by no worker: the run
    // is queued, and stays so until one starts.
    let client = app.temporal_client().await;
    let handle = client.get_workflow_handle::<longrun_workflows::AgentRunWorkflow>(
        submitted["workflow_id"].as_str().unwrap().to_string(),
    );
    // The dispatcher starts the workflow right after the answer: until it exists, poll.
    let started = async || {
        let history = handle
            .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
            .to_json()
            .await
            .map_err(|e| format!("the workflow does not exist yet: {e}"))?;
        let history: serde_json::Value = serde_json::from_slice(&history).unwrap();
        let types: Vec<i64> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_i64().unwrap())
            .collect();
        // 5: workflow task scheduled (the history's second event, written with the start).
        if types.contains(&5) {
            Ok(types)
        } else {
            Err("the workflow never started".to_string())
        }
    };
    let event_types = poll(Duration::from_secs(20), Duration::from_millis(50), started).await;
    assert!(
        !event_types.contains(&6),
        "a workflow task started without a worker: {event_types:?}"
    );
    let (_, run) = app.get(&key, &format!("/v1/runs/{run_id}")).await;
    assert_eq!(
        run["status"], "queued",
        "nothing runs without a worker: {run}"
    );
    app.start_worker();
    let run = app.wait_for_run(&key, run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "9 - 3 = 6.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_needs_more_steps_than_its_budget_is_budget_exhausted() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (workspace, key) = app.tenant("budget").await;
    let run = json!({"agent": "demo", "input": "What is 2 * 21?", "budget": {"max_steps": 1}});
    let body = app.submit_run(&key, run).await;
    let run_id = body["id"].as_str().unwrap();
    let run = app.wait_for_run(&key, run_id, MINUTE).await;
    assert_eq!(run["status"], "budget_exhausted", "{run}");
    assert_eq!(run["error"]["code"], "budget_exhausted");
    assert_eq!(run["step"], 1);
    let ledger = app.ledger(&workspace.id, run_id).await;
    assert!(ledger.contains(&("llm".to_string(), 1)), "{ledger:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_all_finish_and_list_newest_first() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, key) = app.tenant("many").await;
    let mut ids = Vec::new();
    for n in 1..=12 {
        let run = app.submit(&key, &format!("What is {n} + {n}?")).await;
        ids.push((n, run["id"].as_str().unwrap().to_string()));
    }
    for (n, id) in &ids {
        let run = app.wait_for_run(&key, id, Duration::from_secs(120)).await;
        assert_eq!(run["result"], format!("{n} + {n} = {}.", 2 * n), "{run}");
    }
    let (_, page) = app.get(&key, "/v1/runs?limit=5").await;
    let runs = page["runs"].as_array().unwrap();
    let first: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let newest: Vec<&str> = ids
        .iter()
        .rev()
        .take(5)
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(first, newest);
    assert!(
        page["runs"][0].get("input").is_none(),
        "lists leave the input out"
    );
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app
        .get(&key, &format!("/v1/runs?limit=5&cursor={cursor}"))
        .await;
    assert_eq!(next["runs"][0]["id"], ids[6].1.as_str());
    let (_, succeeded) = app.get(&key, "/v1/runs?status=succeeded&limit=100").await;
    assert_eq!(succeeded["runs"].as_array().unwrap().len(), 12);
    assert!(succeeded["next_cursor"].is_null());
}

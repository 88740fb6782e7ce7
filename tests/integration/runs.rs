//! Agent runs end to end: the workflow, its activities, the store and the ledger.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{Options, TestApp, TestDb};
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

    let run = app
        .wait_for_run(&key, run_id, Duration::from_secs(60))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "12 * (3 + 4) = 84.");
    assert_eq!(run["step"], 2);
    assert_eq!(run["usage"]["tool_calls"], 1);
    assert!(run["usage"]["input_tokens"].as_i64().unwrap() > 0);
    assert!(run["usage"]["output_tokens"].as_i64().unwrap() > 0);
    assert!(run["started_at"].is_string() && run["finished_at"].is_string());

    let events = app
        .store
        .events_after(&workspace.id, run_id, 0, 100)
        .await
        .unwrap();
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
    let ledger = app
        .store
        .usage_rows_of_run(&workspace.id, run_id)
        .await
        .unwrap();
    assert_eq!(
        ledger,
        [
            ("agent_time".to_string(), 3),
            ("llm".to_string(), 2),
            ("tool".to_string(), 1)
        ],
        "one row per billable unit"
    );

    // Operators find the run in Temporal by tenant, agent and final status.
    let client =
        longrun_temporal::connect(&crate::harness::temporal_settings(&app.temporal), "test")
            .await
            .unwrap();
    let query = format!(
        "WorkflowId = '{workflow_id}' AND LongrunWorkspace = 'calc' AND LongrunAgent = 'demo' \
         AND LongrunTier = 'pro' AND LongrunStatus = 'succeeded'"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // Visibility is eventually consistent.
        let count = client
            .count_workflows(query.clone(), Default::default())
            .await
            .unwrap();
        if count.count() == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "workflow not visible by its search attributes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

on_each_backend!(a_run_submitted_while_the_worker_is_down_completes_when_it_starts);
async fn a_run_submitted_while_the_worker_is_down_completes_when_it_starts(db: TestDb) {
    let mut app = TestApp::start_with(
        db,
        Options {
            with_worker: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key) = app.tenant("later").await;
    let submitted = app.submit(&key, "What is 9 - 3?").await;
    let run_id = submitted["id"].as_str().unwrap();
    // The workflow exists and its first task waits in the queue, taken by no worker: the run
    // is queued, and stays so until one starts.
    let client =
        longrun_temporal::connect(&crate::harness::temporal_settings(&app.temporal), "test")
            .await
            .unwrap();
    let handle = client.get_workflow_handle::<longrun_workflows::AgentRunWorkflow>(
        submitted["workflow_id"].as_str().unwrap().to_string(),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let event_types = loop {
        let history = handle
            .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
            .to_json()
            .await
            .unwrap();
        let history: serde_json::Value = serde_json::from_slice(&history).unwrap();
        let types: Vec<i64> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_i64().unwrap())
            .collect();
        // 5: workflow task scheduled (the history's second event, written with the start).
        if types.contains(&5) {
            break types;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the workflow never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        !event_types.contains(&6),
        "a workflow task started without a worker: {event_types:?}"
    );
    let (_, run) = app
        .request("GET", &format!("/v1/runs/{run_id}"), Some(&key), None)
        .await;
    assert_eq!(
        run["status"], "queued",
        "nothing runs without a worker: {run}"
    );
    app.start_worker();
    let run = app
        .wait_for_run(&key, run_id, Duration::from_secs(60))
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "9 - 3 = 6.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_needs_more_steps_than_its_budget_is_budget_exhausted() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (workspace, key) = app.tenant("budget").await;
    let (status, body) = app
        .request(
            "POST",
            "/v1/runs",
            Some(&key),
            Some(json!({"agent": "demo", "input": "What is 2 * 21?", "budget": {"max_steps": 1}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run_id = body["id"].as_str().unwrap();
    let run = app
        .wait_for_run(&key, run_id, Duration::from_secs(60))
        .await;
    assert_eq!(run["status"], "budget_exhausted", "{run}");
    assert_eq!(run["error"]["code"], "budget_exhausted");
    assert_eq!(run["step"], 1);
    let ledger = app
        .store
        .usage_rows_of_run(&workspace.id, run_id)
        .await
        .unwrap();
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
    let (_, page) = app
        .request("GET", "/v1/runs?limit=5", Some(&key), None)
        .await;
    let first: Vec<&str> = page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
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
        .request(
            "GET",
            &format!("/v1/runs?limit=5&cursor={cursor}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(next["runs"][0]["id"], ids[6].1.as_str());
    let (_, succeeded) = app
        .request(
            "GET",
            "/v1/runs?status=succeeded&limit=100",
            Some(&key),
            None,
        )
        .await;
    assert_eq!(succeeded["runs"].as_array().unwrap().len(), 12);
    assert!(succeeded["next_cursor"].is_null());
}

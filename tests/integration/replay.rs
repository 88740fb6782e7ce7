//! Histories of every kind of run, recorded from real executions and replayed against the
//! current workflow code. With `LONGRUN_RECORD_HISTORIES=<dir>` the histories are also written
//! there: that is how the fixtures under `workflows/tests/histories/` were made (see
//! docs/upgrades.md).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use temporalio_client::WorkflowFetchHistoryOptions;

use longrun_activities::{ProviderEndpoint, ProviderSettings};
use longrun_workflows::AgentRunWorkflow;

use crate::fakes::{FakeLlm, Format, Reply, Script};
use crate::harness::{Options, TestApp, TestDb, temporal_settings};

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_of_every_kind_of_run_replay_against_the_current_code() {
    let script = Script::new()
        // approval scenario: a gated call, then an answer
        .turn(
            1,
            vec![Reply::Tools(vec![(
                "toolu_gate",
                "calculator",
                json!({"expression": "6*7"}),
            )])],
        )
        .turn(2, vec![Reply::Text("42, approved.")]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let stall = FakeLlm::start(
        Format::Anthropic,
        Script::new().turn(1, vec![Reply::Stall(Duration::from_secs(60), "late")]),
    )
    .await;
    let mut options = Options {
        providers: ProviderSettings {
            anthropic: Some(ProviderEndpoint {
                base_url: fake.base_url.clone(),
                api_key: "k".to_string().into(),
            }),
            openai: Some(ProviderEndpoint {
                base_url: stall.base_url.clone(),
                api_key: "k".to_string().into(),
            }),
            ..ProviderSettings::default()
        },
        ..Default::default()
    };
    options.tuning.continue_as_new_every = 1;
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("replay").await;
    let agents = [
        json!({"name": "gated", "model": "anthropic/claude-test", "tools": [{"name": "calculator", "requires_approval": true}]}),
        json!({"name": "chat", "model": "offline/demo", "tools": ["calculator"], "await_input": true}),
        json!({"name": "slow", "model": "openai/gpt-test"}),
    ];
    for agent in agents {
        let (status, body) = app
            .request("POST", "/v1/agents", Some(&key), Some(agent))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let mut runs: Vec<(&str, String)> = Vec::new();
    // calculator: offline model, a local tool activity, continue-as-new after each step
    let id = app.submit_to(&key, "demo", "What is 12 * (3 + 4)?").await;
    assert_eq!(
        app.wait_for_run(&key, &id, MINUTE).await["status"],
        "succeeded"
    );
    runs.push(("calculator", id));
    // budget exhausted
    let (_, body) = app
        .request(
            "POST",
            "/v1/runs",
            Some(&key),
            Some(json!({"agent": "demo", "input": "What is 2 * 2?", "budget": {"max_steps": 1}})),
        )
        .await;
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.wait_for_run(&key, &id, MINUTE).await["status"],
        "budget_exhausted"
    );
    runs.push(("budget_exhausted", id));
    // approval
    let id = app.submit_to(&key, "gated", "6*7?").await;
    app.wait_for_status(&key, &id, "waiting_approval", MINUTE)
        .await;
    let (status, _) = app
        .request(
            "POST",
            &format!("/v1/runs/{id}/approvals"),
            Some(&key),
            Some(json!({"tool_call_id": "toolu_gate", "approve": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.wait_for_run(&key, &id, MINUTE).await["status"],
        "succeeded"
    );
    runs.push(("approval", id));
    // human input
    let id = app.submit_to(&key, "chat", "hello").await;
    app.wait_for_status(&key, &id, "waiting_input", MINUTE)
        .await;
    app.request(
        "POST",
        &format!("/v1/runs/{id}/messages"),
        Some(&key),
        Some(json!({"text": "What is 5 + 5?"})),
    )
    .await;
    assert_eq!(
        app.wait_for_run(&key, &id, MINUTE).await["status"],
        "succeeded"
    );
    runs.push(("human_input", id));
    // cancelled during a model call
    let id = app.submit_to(&key, "slow", "hi").await;
    stall.wait_for_requests(1, MINUTE).await;
    app.request("POST", &format!("/v1/runs/{id}/cancel"), Some(&key), None)
        .await;
    app.wait_for_status(&key, &id, "cancelled", MINUTE).await;
    runs.push(("cancelled", id));

    let client = longrun_temporal::connect(&temporal_settings(&app.temporal), "test")
        .await
        .unwrap();
    let mut histories = Vec::new();
    for (name, run_id) in &runs {
        let workflow_id = format!("run-replay-{run_id}");
        let handle = client.get_workflow_handle::<AgentRunWorkflow>(workflow_id.clone());
        // The run row turns terminal before the workflow closes: wait for the close.
        let deadline = tokio::time::Instant::now() + MINUTE;
        loop {
            let description = handle.describe(Default::default()).await.unwrap();
            if description.close_time().is_some() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{workflow_id} never closed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let json = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .to_json()
            .await
            .unwrap();
        histories.push((name.to_string(), json));
    }
    let bytes: Vec<Vec<u8>> = histories.iter().map(|(_, b)| b.clone()).collect();
    let outcomes = longrun_worker::replay::replay_histories(&bytes)
        .await
        .unwrap();
    for ((name, _), outcome) in histories.iter().zip(&outcomes) {
        assert!(
            outcome.is_ok(),
            "the {name} history does not replay: {outcome:?}"
        );
    }
    if let Ok(dir) = std::env::var("LONGRUN_RECORD_HISTORIES") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, json) in &histories {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("{name}.json")),
                json,
            )
            .unwrap();
        }
    }
}

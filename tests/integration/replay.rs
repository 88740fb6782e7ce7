//! Histories of every kind of run, recorded from real executions and replayed against the
//! current workflow code. With `LONGRUN_RECORD_HISTORIES=<dir>` the histories are also written
//! there: that is how the fixtures under `workflows/tests/histories/` were made (see
//! docs/upgrades.md).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use temporalio_client::WorkflowFetchHistoryOptions;

use longrun_activities::ProviderSettings;
use longrun_workflows::AgentRunWorkflow;
use longrun_workflows::payloads::WorkflowShape;

use crate::fakes::{FakeLlm, Format, Reply, Script};
use crate::harness::{MINUTE, Options, TestApp, TestDb, poll};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_of_every_kind_of_run_replay_against_the_current_code() {
    // approval scenario: a gated call, then an answer
    let script = Script::new()
        .calculate("toolu_gate", "6*7")
        .answer("42, approved.");
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let stalling = Script::new().then(vec![Reply::Stall(Duration::from_secs(60), "late")]);
    let stall = FakeLlm::start(Format::Anthropic, stalling).await;
    // Claude models answered by `fake`, OpenAI ones by `stall`.
    let providers = ProviderSettings {
        openai: stall.providers().openai,
        ..fake.providers()
    };
    let mut options = Options {
        providers,
        ..Options::default()
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
        app.create_agent(&key, agent).await;
    }
    let ends = async |id: &str| app.wait_for_run(&key, id, MINUTE).await["status"].clone();

    let mut runs: Vec<(&str, String)> = Vec::new();
    // calculator: offline model, a local tool activity, continue-as-new after each step
    let id = app.submit_to(&key, "demo", "What is 12 * (3 + 4)?").await;
    assert_eq!(ends(&id).await, "succeeded");
    runs.push(("calculator", id));
    // budget exhausted
    let run = json!({"agent": "demo", "input": "What is 2 * 2?", "budget": {"max_steps": 1}});
    let (_, body) = app.post(&key, "/v1/runs", run).await;
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(ends(&id).await, "budget_exhausted");
    runs.push(("budget_exhausted", id));
    // approval
    let id = app.submit_to(&key, "gated", "6*7?").await;
    app.wait_for_status(&key, &id, "waiting_approval", MINUTE)
        .await;
    let approval = json!({"tool_call_id": "toolu_gate", "approve": true});
    let (status, _) = app.act(&key, &id, "approvals", Some(approval)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ends(&id).await, "succeeded");
    runs.push(("approval", id));
    // human input
    let id = app.submit_to(&key, "chat", "hello").await;
    app.wait_for_status(&key, &id, "waiting_input", MINUTE)
        .await;
    let message = json!({"text": "What is 5 + 5?"});
    app.act(&key, &id, "messages", Some(message)).await;
    assert_eq!(ends(&id).await, "succeeded");
    runs.push(("human_input", id));
    // cancelled during a model call
    let id = app.submit_to(&key, "slow", "hi").await;
    stall.wait_for_requests(1, MINUTE).await;
    app.act(&key, &id, "cancel", None).await;
    app.wait_for_status(&key, &id, "cancelled", MINUTE).await;
    runs.push(("cancelled", id));

    replay_and_record(&app, "replay", &runs).await;
}

/// The runs of [`WorkflowShape::AgentTools`]: a client-executed tool answered through the
/// API, a structured answer after one correction, and a model stopped for repeating itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histories_of_agent_tool_runs_replay_against_the_current_code() {
    let looping = Script::new()
        .call("toolu_c1", "get_location", json!({}))
        .answer("Oslo, then.")
        .calculate("toolu_1", "1+1")
        .calculate("toolu_2", "1+1")
        .calculate("toolu_3", "1+1")
        .calculate("toolu_4", "1+1");
    let claude = FakeLlm::start(Format::Anthropic, looping).await;
    let shaped = Script::new().answer("forty-two").answer("{\"n\": 42}");
    let gpt = FakeLlm::start(Format::OpenAi, shaped).await;
    let options = Options {
        providers: ProviderSettings {
            openai: gpt.providers().openai,
            ..claude.providers()
        },
        ..Options::default()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("tools").await;
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}},
                        "required": ["n"]});
    let agents = [
        json!({"name": "client", "model": "anthropic/claude-test",
               "tools": ["calculator", {"type": "client", "name": "get_location"}]}),
        json!({"name": "shaped", "model": "openai/gpt-test", "output_schema": schema}),
    ];
    for agent in agents {
        app.create_agent(&key, agent).await;
    }
    let mut runs: Vec<(&str, String)> = Vec::new();
    // a client tool: turns 1 and 2 of the Claude script
    let id = app.submit_to(&key, "client", "Where am I?").await;
    app.wait_for_status(&key, &id, "requires_action", MINUTE)
        .await;
    let result = json!({"tool_call_id": "toolu_c1", "content": "Oslo"});
    let (status, body) = app.act(&key, &id, "tool-results", Some(result)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = app.wait_for_run(&key, &id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    runs.push(("client_tool", id.clone()));
    // no progress: the conversation goes on (turns 3 to 6) with the same call four times
    let next = json!({"previous_run_id": id, "input": "And 1+1?"});
    let (_, body) = app.post(&key, "/v1/runs", next).await;
    let id = body["id"].as_str().unwrap().to_string();
    let run = app.wait_for_run(&key, &id, MINUTE).await;
    assert_eq!(run["error"]["code"], "no_progress", "{run}");
    runs.push(("no_progress", id));
    // structured output, corrected once
    let id = app.submit_to(&key, "shaped", "What is 6 * 7?").await;
    let run = app.wait_for_run(&key, &id, MINUTE).await;
    assert_eq!(run["result_json"], json!({"n": 42}), "{run}");
    runs.push(("structured_output", id));

    replay_and_record(&app, "tools", &runs).await;
}

/// What a run costs Temporal: a calculator run (2 model turns, 1 local tool call) writes 20
/// history events, 2 more than the same loop on the bare SDK writes (18: the start, a
/// workflow task, then per turn an activity and a workflow task, a marker for the tool, the
/// completion) — the marker of the run's end and its final status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_writes_two_history_events_more_than_a_bare_sdk_loop() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::default()).await;
    let (_, key) = app.tenant("history").await;
    let (run_id, run) = app.run_to_end(&key, "demo", "What is 12 * (3 + 4)?").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let client = app.temporal_client().await;
    let handle = client.get_workflow_handle::<AgentRunWorkflow>(format!("run-history-{run_id}"));
    let events = poll(MINUTE, Duration::from_millis(100), async || {
        let description = handle
            .describe(Default::default())
            .await
            .map_err(|e| e.to_string())?;
        match description.close_time() {
            Some(_) => Ok(description.history_length()),
            None => Err("the workflow never closed".to_string()),
        }
    })
    .await;
    assert!(events <= 20, "the run wrote {events} history events");
}

/// Fetches the histories of `runs` (of workspace `slug`) once their workflows closed, replays
/// them against the current code, and writes them to `LONGRUN_RECORD_HISTORIES` when set.
async fn replay_and_record(app: &TestApp, slug: &str, runs: &[(&str, String)]) {
    let client = app.temporal_client().await;
    let mut histories = Vec::new();
    for (name, run_id) in runs {
        let workflow_id = format!("run-{slug}-{run_id}");
        let handle = client.get_workflow_handle::<AgentRunWorkflow>(workflow_id.clone());
        // The run row turns terminal before the workflow closes: wait for the close.
        poll(MINUTE, Duration::from_millis(100), async || {
            let description = handle.describe(Default::default()).await.unwrap();
            if description.close_time().is_some() {
                Ok(())
            } else {
                Err(format!("{workflow_id} never closed"))
            }
        })
        .await;
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
        // Named after the workflow's shape, so fixtures of every shape stay side by side.
        let shape = WorkflowShape::CURRENT as u32;
        for (name, json) in &histories {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("{name}.shape{shape}.json")),
                json,
            )
            .unwrap();
        }
    }
}

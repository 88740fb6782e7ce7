//! The durable agent loop against fake providers on loopback: real wire formats, tool calls,
//! provider errors, cancellation, approvals, human input, live events.

use std::time::Duration;

use longrun_activities::{ProviderEndpoint, ProviderSettings};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::{FakeLlm, Format, Reply, Script};
use crate::harness::{Options, SseReader, TestApp, TestDb};
use crate::on_each_backend;

const MINUTE: Duration = Duration::from_secs(60);

fn providers(fake: &FakeLlm) -> ProviderSettings {
    let endpoint = ProviderEndpoint {
        base_url: fake.base_url.clone(),
        api_key: "sk-test-provider-key".to_string().into(),
    };
    ProviderSettings {
        anthropic: Some(endpoint.clone()),
        openai: Some(endpoint),
        ..ProviderSettings::default()
    }
}

async fn app_with(fake: &FakeLlm, db: TestDb) -> TestApp {
    TestApp::start_with(
        db,
        Options {
            providers: providers(fake),
            ..Default::default()
        },
    )
    .await
}

fn two_calculations() -> Script {
    Script::new()
        .turn(
            1,
            vec![Reply::Tools(vec![
                ("toolu_1", "calculator", json!({"expression": "2+3"})),
                ("toolu_2", "calculator", json!({"expression": "4*5"})),
            ])],
        )
        .turn(2, vec![Reply::Text("2+3 is 5 and 4*5 is 20.")])
}

on_each_backend!(an_anthropic_model_drives_two_tool_calls_to_success);
async fn an_anthropic_model_drives_two_tool_calls_to_success(db: TestDb) {
    let fake = FakeLlm::start(Format::Anthropic, two_calculations()).await;
    let app = app_with(&fake, db).await;
    let (workspace, key) = app
        .tenant_with_agent("claude", json!({"name": "math", "model": "anthropic/claude-test", "system_prompt": "Use tools.", "tools": ["calculator"]}))
        .await;
    let run_id = app.submit_to(&key, "math", "Compute 2+3 and 4*5").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "2+3 is 5 and 4*5 is 20.");

    let received = fake.received();
    assert_eq!(received.len(), 2);
    let first = &received[0];
    assert_eq!(first.headers["x-api-key"], "sk-test-provider-key");
    assert_eq!(first.headers["anthropic-version"], "2023-06-01");
    assert_eq!(first.body["model"], "claude-test");
    assert_eq!(first.body["stream"], true);
    assert_eq!(first.body["system"], "Use tools.");
    assert_eq!(first.body["tools"][0]["name"], "calculator");
    assert_eq!(
        first.body["tools"][0]["input_schema"]["required"],
        json!(["expression"])
    );
    let second = &received[1].body["messages"];
    assert_eq!(second[1]["content"][0]["type"], "tool_use");
    assert_eq!(
        second[1]["content"][1]["input"],
        json!({"expression": "4*5"})
    );
    let results = &second[2]["content"];
    assert_eq!(
        results[0],
        json!({"type": "tool_result", "tool_use_id": "toolu_1", "content": "5", "is_error": false})
    );
    assert_eq!(
        results[1],
        json!({"type": "tool_result", "tool_use_id": "toolu_2", "content": "20", "is_error": false})
    );

    assert_eq!(run["usage"]["input_tokens"], 200);
    assert_eq!(run["usage"]["output_tokens"], 40);
    assert_eq!(run["usage"]["cache_read_tokens"], 20);
    assert_eq!(run["usage"]["cache_write_tokens"], 10);
    assert_eq!(run["usage"]["tool_calls"], 2);
    let ledger = app
        .store
        .usage_rows_of_run(&workspace.id, &run_id)
        .await
        .unwrap();
    assert_eq!(
        ledger,
        [
            ("agent_time".to_string(), 4),
            ("llm".to_string(), 2),
            ("tool".to_string(), 2)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_compatible_model_drives_two_tool_calls_to_success() {
    let fake = FakeLlm::start(Format::OpenAi, two_calculations()).await;
    let app = app_with(&fake, TestDb::sqlite()).await;
    let (_, key) = app
        .tenant_with_agent("gpt", json!({"name": "math", "model": "openai/gpt-test", "system_prompt": "Use tools.", "tools": ["calculator"]}))
        .await;
    let run_id = app.submit_to(&key, "math", "Compute 2+3 and 4*5").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "2+3 is 5 and 4*5 is 20.");
    let received = fake.received();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].headers["authorization"],
        "Bearer sk-test-provider-key"
    );
    let first = &received[0].body;
    assert_eq!(first["stream_options"]["include_usage"], true);
    assert_eq!(
        first["messages"][0],
        json!({"role": "system", "content": "Use tools."})
    );
    assert_eq!(first["tools"][0]["function"]["name"], "calculator");
    let messages = received[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(
        messages[2]["tool_calls"][1]["function"]["arguments"],
        "{\"expression\":\"4*5\"}"
    );
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "toolu_1", "content": "5"})
    );
    assert_eq!(
        messages[4],
        json!({"role": "tool", "tool_call_id": "toolu_2", "content": "20"})
    );
    assert_eq!(
        run["usage"]["input_tokens"], 180,
        "cached prompt tokens are counted apart"
    );
    assert_eq!(run["usage"]["cache_read_tokens"], 20);
    assert_eq!(run["usage"]["output_tokens"], 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after_and_a_400_is_not() {
    let script = Script::new()
        .turn(1, vec![
            Reply::Error { status: 429, headers: vec![("retry-after", "1".into())], body: json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}) },
            Reply::Text("made it"),
        ]);
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let app = app_with(&fake, TestDb::sqlite()).await;
    let (_, key) = app
        .tenant_with_agent(
            "retry",
            json!({"name": "a", "model": "anthropic/claude-test"}),
        )
        .await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let received = fake.received();
    assert_eq!(received.len(), 2, "exactly one retry");
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "the retry came {gap:?} after the 429"
    );

    let rejecting = FakeLlm::start(
        Format::Anthropic,
        Script::new().turn(1, vec![Reply::Error { status: 400, headers: vec![], body: json!({"type": "error", "error": {"type": "invalid_request_error", "message": "messages: bad things"}}) }]),
    )
    .await;
    let app = app_with(&rejecting, TestDb::sqlite()).await;
    let (_, key) = app
        .tenant_with_agent(
            "reject",
            json!({"name": "a", "model": "anthropic/claude-test"}),
        )
        .await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "provider_rejected");
    assert!(
        run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bad things"),
        "{run}"
    );
    assert!(
        !run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sk-test"),
        "no secrets in errors"
    );
    // The run's row turns terminal only after its workflow saw the activity fail for good and
    // recorded the end: no retry can follow, so the count is final.
    assert_eq!(rejecting.received().len(), 1, "a 400 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_answer_fails_the_run_with_an_excerpt_in_its_events() {
    let fake = FakeLlm::start(
        Format::Anthropic,
        Script::new().turn(1, vec![Reply::Garbage]),
    )
    .await;
    let app = app_with(&fake, TestDb::sqlite()).await;
    let (workspace, key) = app
        .tenant_with_agent(
            "garbage",
            json!({"name": "a", "model": "anthropic/claude-test"}),
        )
        .await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "provider_bad_response");
    let events = app
        .store
        .events_after(&workspace.id, &run_id, 0, 100)
        .await
        .unwrap();
    let error = events
        .iter()
        .find(|e| e.kind == "llm.error")
        .expect("an llm.error event");
    let data: Value = serde_json::from_str(&error.data).unwrap();
    assert!(
        data["excerpt"].as_str().unwrap().contains("not json"),
        "{data}"
    );
    assert_eq!(fake.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_without_a_key_fails_fast() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, key) = app
        .tenant_with_agent("nokey", json!({"name": "a", "model": "openai/gpt-4o-mini"}))
        .await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    let run = app
        .wait_for_run(&key, &run_id, Duration::from_secs(20))
        .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "provider_not_configured");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_slow_model_call_stops_it() {
    let fake = FakeLlm::start(
        Format::Anthropic,
        Script::new().turn(1, vec![Reply::Stall(Duration::from_secs(60), "too late")]),
    )
    .await;
    let app = app_with(&fake, TestDb::sqlite()).await;
    let (_, key) = app
        .tenant_with_agent(
            "cancel",
            json!({"name": "a", "model": "anthropic/claude-test"}),
        )
        .await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    fake.wait_for_requests(1, MINUTE).await;
    let started = std::time::Instant::now();
    let (status, body) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/cancel"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = app
        .wait_for_status(&key, &run_id, "cancelled", Duration::from_secs(15))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancelled after {:?}",
        started.elapsed()
    );
    assert_eq!(run["error"]["code"], "cancelled");
    assert!(
        fake.abandoned(),
        "the model call saw the cancellation (its stream was dropped)"
    );
    // `cancelled` is recorded after the workflow saw the model call end cancelled: it calls
    // no model again, so the count is final.
    assert_eq!(
        fake.received().len(),
        1,
        "no provider call after cancellation"
    );
    let (status, body) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/cancel"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_finished"))
    );
}

/// A loopback server that accepts connections and never answers, recording that a client
/// connected and whether it went away.
async fn silent_server() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/slow", listener.local_addr().unwrap());
    let connected = std::sync::Arc::new(AtomicUsize::new(0));
    let closed = std::sync::Arc::new(AtomicBool::new(false));
    let (c, d) = (connected.clone(), closed.clone());
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            let d = d.clone();
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                loop {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => {
                            d.store(true, Ordering::SeqCst);
                            return;
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (url, connected, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_slow_tool_stops_it() {
    use std::sync::atomic::Ordering;
    let (url, connected, closed) = silent_server().await;
    let url: &'static str = Box::leak(url.into_boxed_str());
    let script = Script::new().turn(
        1,
        vec![Reply::Tools(vec![(
            "toolu_slow",
            "http_fetch",
            json!({"url": url}),
        )])],
    );
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let app = TestApp::start_with(
        TestDb::sqlite(),
        Options {
            providers: providers(&fake),
            allow: "127.0.0.1",
            ..Default::default()
        },
    )
    .await;
    let (_, key) = app
        .tenant_with_agent(
            "slowtool",
            json!({"name": "a", "model": "anthropic/claude-test", "tools": ["http_fetch"]}),
        )
        .await;
    let run_id = app.submit_to(&key, "a", "fetch it").await;
    let deadline = tokio::time::Instant::now() + MINUTE;
    while connected.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tool never connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    let (status, _) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/cancel"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.wait_for_status(&key, &run_id, "cancelled", Duration::from_secs(15))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancelled after {:?}",
        started.elapsed()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !closed.load(Ordering::SeqCst) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tool's connection was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.received().len(), 1, "no model call after cancellation");
}

fn gated_script() -> Script {
    Script::new()
        .turn(
            1,
            vec![Reply::Tools(vec![(
                "toolu_gate",
                "calculator",
                json!({"expression": "6*7"}),
            )])],
        )
        .turn(2, vec![Reply::Text("All done.")])
}

async fn approval_requested(app: &TestApp, workspace_id: &str, run_id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + MINUTE;
    loop {
        let events = app
            .store
            .events_after(workspace_id, run_id, 0, 100)
            .await
            .unwrap();
        if let Some(event) = events.iter().find(|e| e.kind == "approval.requested") {
            return serde_json::from_str(&event.data).unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no approval.requested"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_each_backend!(a_gated_tool_waits_for_approval);
async fn a_gated_tool_waits_for_approval(db: TestDb) {
    let fake = FakeLlm::start(Format::Anthropic, gated_script()).await;
    let app = app_with(&fake, db).await;
    let agent = json!({"name": "gated", "model": "anthropic/claude-test", "tools": [{"name": "calculator", "requires_approval": true}]});
    let (workspace, key) = app.tenant_with_agent("gate", agent).await;
    let run_id = app.submit_to(&key, "gated", "6*7 please").await;
    app.wait_for_status(&key, &run_id, "waiting_approval", MINUTE)
        .await;
    let requested = approval_requested(&app, &workspace.id, &run_id).await;
    assert_eq!(requested["tool_call_id"], "toolu_gate");
    assert_eq!(requested["tool"], "calculator");
    assert_eq!(requested["input"], json!({"expression": "6*7"}));

    let path = format!("/v1/runs/{run_id}/approvals");
    let (status, body) = app
        .request(
            "POST",
            &path,
            Some(&key),
            Some(json!({"tool_call_id": "nope", "approve": true})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("approval_conflict")),
        "{body}"
    );
    let (status, body) = app
        .request(
            "POST",
            &path,
            Some(&key),
            Some(json!({"tool_call_id": "toolu_gate", "approve": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approve"], true);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let (status, body) = app
        .request(
            "POST",
            &path,
            Some(&key),
            Some(json!({"tool_call_id": "toolu_gate", "approve": false})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_finished")),
        "{body}"
    );
    let result = &fake.received()[1].body["messages"][2]["content"][0];
    assert_eq!(result["content"], "42");
    assert_eq!(result["is_error"], false);
    let kinds: Vec<String> = app
        .store
        .events_after(&workspace.id, &run_id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    let position = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("{k} missing: {kinds:?}"))
    };
    assert!(position("approval.requested") < position("approval.decided"));
    assert!(position("approval.decided") < position("tool.started"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_or_unanswered_approval_reaches_the_model_as_an_error() {
    let fake = FakeLlm::start(Format::Anthropic, gated_script()).await;
    let app = app_with(&fake, TestDb::sqlite()).await;
    let agent = json!({"name": "gated", "model": "anthropic/claude-test", "tools": [{"name": "calculator", "requires_approval": true}]});
    let (workspace, key) = app.tenant_with_agent("deny", agent).await;
    let run_id = app.submit_to(&key, "gated", "6*7 please").await;
    app.wait_for_status(&key, &run_id, "waiting_approval", MINUTE)
        .await;
    approval_requested(&app, &workspace.id, &run_id).await;
    let (status, _) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/approvals"),
            Some(&key),
            Some(json!({"tool_call_id": "toolu_gate", "approve": false, "reason": "not today"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let result = &fake.received()[1].body["messages"][2]["content"][0];
    assert_eq!(result["is_error"], true);
    assert!(
        result["content"].as_str().unwrap().contains("not today"),
        "{result}"
    );
    assert_eq!(
        run["usage"]["tool_calls"], 0,
        "a denied call is not run, nor billed"
    );

    // No decision before the timeout is a denial.
    let fake = FakeLlm::start(Format::Anthropic, gated_script()).await;
    let mut options = Options {
        providers: providers(&fake),
        ..Default::default()
    };
    options.tuning.approval_timeout_s = 1;
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let agent = json!({"name": "gated", "model": "anthropic/claude-test", "tools": [{"name": "calculator", "requires_approval": true}]});
    let (workspace, key) = app.tenant_with_agent("timeout", agent).await;
    let run_id = app.submit_to(&key, "gated", "6*7 please").await;
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let events = app
        .store
        .events_after(&workspace.id, &run_id, 0, 100)
        .await
        .unwrap();
    let decided = events
        .iter()
        .find(|e| e.kind == "approval.decided")
        .unwrap();
    let decided: Value = serde_json::from_str(&decided.data).unwrap();
    assert_eq!(
        (decided["approve"].as_bool(), decided["by"].as_str()),
        (Some(false), Some("timeout"))
    );
    assert_eq!(
        fake.received()[1].body["messages"][2]["content"][0]["is_error"],
        true
    );
}

on_each_backend!(a_question_waits_for_human_input_and_the_conversation_goes_on);
async fn a_question_waits_for_human_input_and_the_conversation_goes_on(db: TestDb) {
    let app = TestApp::start(db).await;
    let agent = json!({"name": "chat", "model": "offline/demo", "tools": ["calculator"], "await_input": true});
    let (workspace, key) = app.tenant_with_agent("human", agent).await;
    let run_id = app.submit_to(&key, "chat", "hello").await;
    let waiting = app
        .wait_for_status(&key, &run_id, "waiting_input", MINUTE)
        .await;
    assert!(waiting["finished_at"].is_null());
    let (status, body) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/messages"),
            Some(&key),
            Some(json!({"text": "What is 6 * 7?"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "6 * 7 = 42.");
    let kinds: Vec<String> = app
        .store
        .events_after(&workspace.id, &run_id, 0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.to_string())
        .collect();
    for kind in [
        "input.requested",
        "input.received",
        "tool.completed",
        "run.completed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    let (status, body) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/messages"),
            Some(&key),
            Some(json!({"text": "more?"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_finished"))
    );

    // `complete` ends a waiting run with the answer it has.
    let run_id = app.submit_to(&key, "chat", "hello again").await;
    app.wait_for_status(&key, &run_id, "waiting_input", MINUTE)
        .await;
    let (status, _) = app
        .request(
            "POST",
            &format!("/v1/runs/{run_id}/complete"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["result"].as_str().unwrap().ends_with('?'));
}

on_each_backend!(events_stream_live_and_resume_after_last_event_id);
async fn events_stream_live_and_resume_after_last_event_id(db: TestDb) {
    let script = Script::new()
        .turn(
            1,
            vec![Reply::Tools(vec![(
                "toolu_1",
                "calculator",
                json!({"expression": "1+1"}),
            )])],
        )
        .turn(
            2,
            vec![Reply::Stall(
                Duration::from_millis(600),
                "The answer is two.",
            )],
        );
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let app = app_with(&fake, db).await;
    let (workspace, key) = app
        .tenant_with_agent(
            "sse",
            json!({"name": "a", "model": "anthropic/claude-test", "tools": ["calculator"]}),
        )
        .await;
    let run_id = app.submit_to(&key, "a", "1+1?").await;

    // First connection: read two stored events, then go away.
    let mut reader = SseReader::open(&app, &key, &run_id, None).await;
    let mut seen: Vec<(i64, String)> = Vec::new();
    let mut deltas = Vec::new();
    while seen.len() < 2 {
        let event = reader.next(MINUTE).await.expect("stream ended early");
        match event.id {
            Some(id) => seen.push((id.parse().unwrap(), event.event)),
            None => deltas.push(event.data),
        }
    }
    drop(reader);

    // Reconnect after the last id seen: the rest, each once, in order, then the end.
    let mut reader = SseReader::open(&app, &key, &run_id, Some(seen.last().unwrap().0)).await;
    while let Some(event) = reader.next(MINUTE).await {
        match event.id {
            Some(id) => seen.push((id.parse().unwrap(), event.event.clone())),
            None => {
                assert_eq!(event.event, "llm.delta");
                deltas.push(event.data);
            }
        }
        if event.event == "run.completed" {
            assert!(
                reader.next(Duration::from_secs(5)).await.is_none(),
                "the stream ends after run.completed"
            );
            break;
        }
    }
    let stored = app
        .store
        .events_after(&workspace.id, &run_id, 0, 100)
        .await
        .unwrap();
    let expected: Vec<(i64, String)> = stored.iter().map(|e| (e.seq, e.kind.to_string())).collect();
    assert_eq!(seen, expected, "every stored event exactly once, in order");
    let streamed: String = deltas
        .iter()
        .map(|d| {
            serde_json::from_str::<Value>(d).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        streamed.contains("two."),
        "text deltas arrive live: {deltas:?}"
    );

    // A finished run's stream replays everything and ends.
    let mut reader = SseReader::open(&app, &key, &run_id, None).await;
    let mut replayed = 0;
    while let Some(event) = reader.next(MINUTE).await {
        assert!(event.id.is_some(), "replays carry no deltas");
        replayed += 1;
    }
    assert_eq!(replayed, stored.len());
    let (status, _) = app
        .request(
            "GET",
            &format!("/v1/runs/{run_id}/events?after=-1"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

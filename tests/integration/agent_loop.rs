//! The durable agent loop against fake providers on loopback: real wire formats, tool calls,
//! provider errors, cancellation, approvals, human input, live events.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use longrun_store::Workspace;

use crate::fakes::{FakeLlm, Format, PROVIDER_KEY, Reply, Script, claude_agent};
use crate::harness::{MINUTE, Options, TestApp, TestDb, ledger_rows, poll, wait_until};
use crate::on_each_backend;
use crate::sse::SseReader;

/// A fake provider, an app whose models it answers, and a workspace with an agent.
struct Setup {
    fake: FakeLlm,
    app: TestApp,
    workspace: Workspace,
    key: String,
}

impl Setup {
    /// A fake of `format` answering with `script`, an app of `options` (its models answered
    /// by the fake), and workspace `slug` whose agent is `agent`.
    async fn start(
        format: Format,
        script: Script,
        options: Options,
        db: TestDb,
        slug: &str,
        agent: Value,
    ) -> Self {
        let fake = FakeLlm::start(format, script).await;
        let options = Options {
            providers: fake.providers(),
            ..options
        };
        let app = TestApp::start_with(db, options).await;
        let (workspace, key) = app.tenant_with_agent(slug, agent).await;
        Self {
            fake,
            app,
            workspace,
            key,
        }
    }

    /// [`Self::start`] with a fake speaking Anthropic's format, default options, SQLite and
    /// agent `a` without tools.
    async fn claude(script: Script, slug: &str) -> Self {
        let (db, agent) = (TestDb::sqlite(), claude_agent(&[]));
        Self::start(
            Format::Anthropic,
            script,
            Options::default(),
            db,
            slug,
            agent,
        )
        .await
    }

    /// Submits `input` to `agent` and waits until the run ends: its id and the run.
    async fn run(&self, agent: &str, input: &str) -> (String, Value) {
        self.app.run_to_end(&self.key, agent, input).await
    }
}

/// Agent `gated`, whose calculator calls wait for approval.
fn gated() -> Value {
    json!({"name": "gated", "model": "anthropic/claude-test", "tools": [{"name": "calculator", "requires_approval": true}]})
}

/// Agent `math` on `model` in workspace `slug`, with the calculator: the model asks for two
/// calculations at once and answers; the run succeeds after two model calls.
async fn calculate(format: Format, db: TestDb, slug: &str, model: &str) -> (Setup, String, Value) {
    let script = Script::new()
        .then(vec![Reply::Tools(vec![
            ("toolu_1", "calculator", json!({"expression": "2+3"})),
            ("toolu_2", "calculator", json!({"expression": "4*5"})),
        ])])
        .answer("2+3 is 5 and 4*5 is 20.");
    let agent = json!({"name": "math", "model": model, "system_prompt": "Use tools.", "tools": ["calculator"]});
    let setup = Setup::start(format, script, Options::default(), db, slug, agent).await;
    let (run_id, run) = setup.run("math", "Compute 2+3 and 4*5").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "2+3 is 5 and 4*5 is 20.");
    assert_eq!(setup.fake.received().len(), 2);
    (setup, run_id, run)
}

on_each_backend!(an_anthropic_model_drives_two_tool_calls_to_success);
async fn an_anthropic_model_drives_two_tool_calls_to_success(db: TestDb) {
    let (setup, run_id, run) =
        calculate(Format::Anthropic, db, "claude", "anthropic/claude-test").await;
    let received = setup.fake.received();
    let first = &received[0];
    assert_eq!(first.headers["x-api-key"], PROVIDER_KEY);
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
    assert_eq!(
        setup.app.ledger(&setup.workspace.id, &run_id).await,
        ledger_rows(&[("agent_time", 4), ("llm", 2), ("tool", 2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_compatible_model_drives_two_tool_calls_to_success() {
    let (setup, _, run) =
        calculate(Format::OpenAi, TestDb::sqlite(), "gpt", "openai/gpt-test").await;
    let received = setup.fake.received();
    assert_eq!(
        received[0].headers["authorization"],
        format!("Bearer {PROVIDER_KEY}").as_str()
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
    // Each result goes back as a `tool` message, in the order of the calls.
    for (at, id, content) in [(3, "toolu_1", "5"), (4, "toolu_2", "20")] {
        let result = json!({"role": "tool", "tool_call_id": id, "content": content});
        assert_eq!(messages[at], result);
    }
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
        .then(vec![
            Reply::Error { status: 429, headers: vec![("retry-after", "1".into())], body: json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}) },
            Reply::Text("made it"),
        ]);
    let retried = Setup::claude(script, "retry").await;
    let (_, run) = retried.run("a", "hi").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let received = retried.fake.received();
    assert_eq!(received.len(), 2, "exactly one retry");
    let gap = received[1].at - received[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "the retry came {gap:?} after the 429"
    );

    let script = Script::new().then(vec![Reply::Error { status: 400, headers: vec![], body: json!({"type": "error", "error": {"type": "invalid_request_error", "message": "messages: bad things"}}) }]);
    let rejecting = Setup::claude(script, "reject").await;
    let (_, run) = rejecting.run("a", "hi").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "provider_rejected");
    let message = run["error"]["message"].as_str().unwrap();
    assert!(message.contains("bad things"), "{run}");
    assert!(!message.contains("sk-test"), "no secrets in errors");
    // The run's row turns terminal only after its workflow saw the activity fail for good and
    // recorded the end: no retry can follow, so the count is final.
    assert_eq!(rejecting.fake.received().len(), 1, "a 400 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_answer_fails_the_run_with_an_excerpt_in_its_events() {
    let script = Script::new().then(vec![Reply::Garbage]);
    let setup = Setup::claude(script, "garbage").await;
    let (run_id, run) = setup.run("a", "hi").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "provider_bad_response");
    let data = setup
        .app
        .event_data(&setup.workspace.id, &run_id, "llm.error")
        .await
        .expect("an llm.error event");
    assert!(
        data["excerpt"].as_str().unwrap().contains("not json"),
        "{data}"
    );
    assert_eq!(setup.fake.received().len(), 1);
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

/// Cancels the run, which must end `cancelled` within 10 s; returns it.
async fn cancel_promptly(app: &TestApp, key: &str, run_id: &str) -> Value {
    let started = std::time::Instant::now();
    let (status, body) = app.act(key, run_id, "cancel", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = app
        .wait_for_status(key, run_id, "cancelled", Duration::from_secs(15))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "cancelled after {:?}",
        started.elapsed()
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_slow_model_call_stops_it() {
    let script = Script::new().then(vec![Reply::Stall(Duration::from_secs(60), "too late")]);
    let Setup { fake, app, key, .. } = Setup::claude(script, "cancel").await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    fake.wait_for_requests(1, MINUTE).await;
    let run = cancel_promptly(&app, &key, &run_id).await;
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
    let (status, body) = app.act(&key, &run_id, "cancel", None).await;
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

/// The cancellation reaches the model call through the workers' notification, not its
/// heartbeat: with a heartbeat timeout of ten minutes the call still stops at once, on
/// SQLite (the in-process channel and the poll) and on Postgres (`NOTIFY`).
async fn a_cancellation_stops_a_model_call_that_never_heartbeats(db: TestDb) {
    let script = Script::new().then(vec![Reply::Stall(Duration::from_secs(120), "too late")]);
    let mut options = Options::default();
    options.tuning.llm_heartbeat_s = 600;
    let Setup { fake, app, key, .. } = Setup::start(
        Format::Anthropic,
        script,
        options,
        db,
        "quiet",
        claude_agent(&[]),
    )
    .await;
    let run_id = app.submit_to(&key, "a", "hi").await;
    fake.wait_for_requests(1, MINUTE).await;
    let run = cancel_promptly(&app, &key, &run_id).await;
    assert_eq!(run["error"]["code"], "cancelled");
    assert!(fake.abandoned(), "the model call's stream was dropped");
    assert_eq!(
        fake.received().len(),
        1,
        "no provider call after cancellation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_needs_no_heartbeat_on_sqlite() {
    a_cancellation_stops_a_model_call_that_never_heartbeats(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_needs_no_heartbeat_on_postgres() {
    a_cancellation_stops_a_model_call_that_never_heartbeats(TestDb::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_during_a_slow_tool_stops_it() {
    use std::sync::atomic::Ordering;
    let (url, connected, closed) = silent_server().await;
    let script = Script::new().call("toolu_slow", "http_fetch", json!({ "url": url }));
    let options = Options {
        allow: "127.0.0.1",
        ..Options::default()
    };
    let agent = claude_agent(&["http_fetch"]);
    let Setup { fake, app, key, .. } = Setup::start(
        Format::Anthropic,
        script,
        options,
        TestDb::sqlite(),
        "slowtool",
        agent,
    )
    .await;
    let run_id = app.submit_to(&key, "a", "fetch it").await;
    wait_until(MINUTE, "the tool never connected", || {
        connected.load(Ordering::SeqCst) > 0
    })
    .await;
    cancel_promptly(&app, &key, &run_id).await;
    let dropped = "the tool's connection was not dropped";
    wait_until(Duration::from_secs(5), dropped, || {
        closed.load(Ordering::SeqCst)
    })
    .await;
    assert_eq!(fake.received().len(), 1, "no model call after cancellation");
}

/// A calculator call that needs approval, then an answer.
fn gated_script() -> Script {
    Script::new()
        .calculate("toolu_gate", "6*7")
        .answer("All done.")
}

/// A fresh app of `options` with agent `gated` in workspace `slug`, and a run of it that
/// waits for approval: the setup and the run's id.
async fn awaiting_approval(options: Options, db: TestDb, slug: &str) -> (Setup, String) {
    let setup = Setup::start(
        Format::Anthropic,
        gated_script(),
        options,
        db,
        slug,
        gated(),
    )
    .await;
    let run_id = setup.app.submit_to(&setup.key, "gated", "6*7 please").await;
    setup
        .app
        .wait_for_status(&setup.key, &run_id, "waiting_approval", MINUTE)
        .await;
    (setup, run_id)
}

/// The `approval.requested` event of a run, once it is stored.
async fn approval_requested(app: &TestApp, workspace_id: &str, run_id: &str) -> Value {
    poll(MINUTE, Duration::from_millis(50), async || {
        let requested = app
            .event_data(workspace_id, run_id, "approval.requested")
            .await;
        requested.ok_or_else(|| "no approval.requested".to_string())
    })
    .await
}

on_each_backend!(a_gated_tool_waits_for_approval);
async fn a_gated_tool_waits_for_approval(db: TestDb) {
    let (setup, run_id) = awaiting_approval(Options::default(), db, "gate").await;
    let Setup {
        fake,
        app,
        workspace,
        key,
    } = setup;
    let requested = approval_requested(&app, &workspace.id, &run_id).await;
    assert_eq!(requested["tool_call_id"], "toolu_gate");
    assert_eq!(requested["tool"], "calculator");
    assert_eq!(requested["input"], json!({"expression": "6*7"}));

    let decide = async |tool_call_id: &str, approve: bool| {
        let decision = json!({"tool_call_id": tool_call_id, "approve": approve});
        app.act(&key, &run_id, "approvals", Some(decision)).await
    };
    let (status, body) = decide("nope", true).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("approval_conflict")),
        "{body}"
    );
    let (status, body) = decide("toolu_gate", true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["approve"], true);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let (status, body) = decide("toolu_gate", false).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_finished")),
        "{body}"
    );
    let result = &fake.received()[1].body["messages"][2]["content"][0];
    assert_eq!(result["content"], "42");
    assert_eq!(result["is_error"], false);
    let kinds = app.event_kinds(&workspace.id, &run_id).await;
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
    let (
        Setup {
            fake,
            app,
            workspace,
            key,
        },
        run_id,
    ) = awaiting_approval(Options::default(), TestDb::sqlite(), "deny").await;
    approval_requested(&app, &workspace.id, &run_id).await;
    let denial = json!({"tool_call_id": "toolu_gate", "approve": false, "reason": "not today"});
    let (status, _) = app.act(&key, &run_id, "approvals", Some(denial)).await;
    assert_eq!(status, StatusCode::OK);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    fake.first_tool_result(true, "not today");
    assert_eq!(
        run["usage"]["tool_calls"], 0,
        "a denied call is not run, nor billed"
    );

    // No decision before the timeout is a denial.
    let mut options = Options::default();
    options.tuning.approval_timeout_s = 1;
    let setup = Setup::start(
        Format::Anthropic,
        gated_script(),
        options,
        TestDb::sqlite(),
        "timeout",
        gated(),
    )
    .await;
    let (run_id, run) = setup.run("gated", "6*7 please").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let decided = setup
        .app
        .event_data(&setup.workspace.id, &run_id, "approval.decided")
        .await
        .unwrap();
    assert_eq!(
        (decided["approve"].as_bool(), decided["by"].as_str()),
        (Some(false), Some("timeout"))
    );
    assert_eq!(
        setup.fake.received()[1].body["messages"][2]["content"][0]["is_error"],
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
    let question = json!({"text": "What is 6 * 7?"});
    let (status, body) = app.act(&key, &run_id, "messages", Some(question)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "6 * 7 = 42.");
    let kinds = app.event_kinds(&workspace.id, &run_id).await;
    for kind in [
        "input.requested",
        "input.received",
        "tool.completed",
        "run.completed",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} missing: {kinds:?}");
    }
    let more = json!({"text": "more?"});
    let (status, body) = app.act(&key, &run_id, "messages", Some(more)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_finished"))
    );

    // `complete` ends a waiting run with the answer it has.
    let run_id = app.submit_to(&key, "chat", "hello again").await;
    app.wait_for_status(&key, &run_id, "waiting_input", MINUTE)
        .await;
    let (status, _) = app.act(&key, &run_id, "complete", None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["result"].as_str().unwrap().ends_with('?'));
}

on_each_backend!(events_stream_live_and_resume_after_last_event_id);
async fn events_stream_live_and_resume_after_last_event_id(db: TestDb) {
    let script = Script::new()
        .calculate("toolu_1", "1+1")
        .then(vec![Reply::Stall(
            Duration::from_millis(600),
            "The answer is two.",
        )]);
    let options = Options::default();
    let agent = claude_agent(&["calculator"]);
    let Setup {
        app,
        workspace,
        key,
        ..
    } = Setup::start(Format::Anthropic, script, options, db, "sse", agent).await;
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
    let stored = app.events(&workspace.id, &run_id).await;
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
        .get(&key, &format!("/v1/runs/{run_id}/events?after=-1"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

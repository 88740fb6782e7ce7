//! Agent tools beyond the built-ins, against fake providers on loopback: client-executed
//! tools (`requires_action`, `POST /v1/runs/{id}/tool-results`), structured output on both
//! provider formats (one corrective turn, then `invalid_output`), and no-progress detection
//! with a model that loops.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{assert_invalid, error_message};
use crate::fakes::{FakeLlm, Format, Script};
use crate::harness::{MINUTE, Options, TestApp, TestDb, ledger_rows};
use crate::on_each_backend;

/// A fake of `format` answering `script`, an app whose models it answers, and workspace
/// `slug` with `agent`: the fake, the app and the workspace's id and key.
async fn setup(
    format: Format,
    script: Script,
    db: TestDb,
    slug: &str,
    agent: Value,
) -> (FakeLlm, TestApp, String, String) {
    let fake = FakeLlm::start(format, script).await;
    let options = Options {
        providers: fake.providers(),
        ..Options::default()
    };
    let app = TestApp::start_with(db, options).await;
    let (workspace, key) = app.tenant_with_agent(slug, agent).await;
    (fake, app, workspace.id.to_string(), key)
}

fn locator(timeout_s: Option<u64>) -> Value {
    let mut tool = json!({
        "type": "client", "name": "get_location", "description": "Where the user is.",
        "input_schema": {"type": "object", "properties": {"precision": {"type": "string"}}},
    });
    if let Some(timeout) = timeout_s {
        tool["timeout_s"] = json!(timeout);
    }
    json!({"name": "a", "model": "anthropic/claude-test", "tools": ["calculator", tool]})
}

/// A client tool's result: `content` for call `call_id`.
fn tool_result(call_id: &str, content: &str) -> Value {
    json!({"tool_call_id": call_id, "content": content})
}

on_each_backend!(a_client_tool_waits_for_the_clients_result);
async fn a_client_tool_waits_for_the_clients_result(db: TestDb) {
    let script = Script::new()
        .call("toolu_c1", "get_location", json!({"precision": "city"}))
        .answer("You are in Oslo.");
    let (fake, app, workspace_id, key) =
        setup(Format::Anthropic, script, db, "client", locator(None)).await;
    let run_id = app.submit_to(&key, "a", "Where am I?").await;
    let waiting = app
        .wait_for_status(&key, &run_id, "requires_action", MINUTE)
        .await;
    let pending = &waiting["pending_tool_calls"];
    assert_eq!(pending.as_array().map(Vec::len), Some(1), "{waiting}");
    assert_eq!(pending[0]["tool_call_id"], "toolu_c1");
    assert_eq!(pending[0]["tool"], "get_location");
    assert_eq!(pending[0]["input"], json!({"precision": "city"}));
    // The model saw the client tool declared like any other.
    let declared = &fake.received()[0].body["tools"];
    assert_eq!(declared[1]["name"], "get_location", "{declared}");
    assert_eq!(declared[1]["input_schema"]["type"], "object");

    let path = format!("/v1/runs/{run_id}/tool-results");
    let (status, answer) = app.post(&key, &path, tool_result("toolu_nope", "x")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["error"]["code"], "tool_result_conflict", "{answer}");
    let big = "x".repeat(64 * 1024 + 1);
    let (status, answer) = app.post(&key, &path, tool_result("toolu_c1", &big)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(error_message(&answer).contains("content"), "{answer}");
    // Another workspace cannot see the run, let alone answer for it.
    let (_, stranger) = app.tenant("stranger").await;
    let (status, _) = app
        .post(&stranger, &path, tool_result("toolu_c1", "Paris"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, answer) = app
        .post(&key, &path, tool_result("toolu_c1", "Oslo, Norway"))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(answer["queued"], false, "{answer}");
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "You are in Oslo.");
    let second = &fake.received()[1].body["messages"];
    assert_eq!(
        second[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "toolu_c1", "content": "Oslo, Norway",
               "is_error": false}),
        "{second}"
    );
    let kinds = app.event_kinds(&workspace_id, &run_id).await;
    let requested = kinds.iter().position(|k| k == "tool.requested");
    let completed = kinds.iter().position(|k| k == "tool.completed");
    assert!(requested.is_some() && completed > requested, "{kinds:?}");
    // The client ran the tool: nothing is metered for it.
    assert_eq!(
        app.ledger(&workspace_id, &run_id).await,
        ledger_rows(&[("agent_time", 2), ("llm", 2)])
    );
    let (status, answer) = app
        .post(&key, &path, tool_result("toolu_c1", "again"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_tool_without_a_result_in_time_is_an_error_for_the_model() {
    let script = Script::new()
        .call("toolu_c1", "get_location", json!({}))
        .answer("I could not tell where you are.");
    let (fake, app, _, key) = setup(
        Format::Anthropic,
        script,
        TestDb::sqlite(),
        "late",
        locator(Some(1)),
    )
    .await;
    let (run_id, run) = app.run_to_end(&key, "a", "Where am I?").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    fake.first_tool_result(true, "did not return a result");
    let path = format!("/v1/runs/{run_id}/tool-results");
    let (status, answer) = app.post(&key, &path, tool_result("toolu_c1", "late")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
           "additionalProperties": false})
}

on_each_backend!(an_anthropic_answer_is_checked_against_the_output_schema_once_corrected);
async fn an_anthropic_answer_is_checked_against_the_output_schema_once_corrected(db: TestDb) {
    let script = Script::new()
        .call("toolu_f1", "final_answer", json!({"n": "forty-two"}))
        .call("toolu_f2", "final_answer", json!({"n": 42}));
    let agent = json!({"name": "a", "model": "anthropic/claude-test", "output_schema": schema()});
    let (fake, app, _, key) = setup(Format::Anthropic, script, db, "shaped", agent).await;
    let (_, run) = app.run_to_end(&key, "a", "What is 6 * 7?").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result_json"], json!({"n": 42}), "{run}");
    assert_eq!(
        serde_json::from_str::<Value>(run["result"].as_str().unwrap()).unwrap(),
        json!({"n": 42})
    );
    let received = fake.received();
    let first = &received[0].body;
    assert_eq!(first["tools"][0]["name"], "final_answer", "{first}");
    assert_eq!(first["tools"][0]["input_schema"], schema());
    assert_eq!(
        first["tool_choice"],
        json!({"type": "tool", "name": "final_answer"})
    );
    // The model is told where its answer is wrong.
    let corrective = fake.first_tool_result(true, "/n");
    assert_eq!(corrective["tool_use_id"], "toolu_f1", "{corrective}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_answer_follows_the_runs_schema_and_fails_after_one_correction() {
    let script = Script::new()
        .answer("forty-two")
        .answer("{\"n\": 42}")
        .answer("still not JSON")
        .answer("nor this");
    let agent = json!({"name": "a", "model": "openai/gpt-test"});
    let (fake, app, _, key) = setup(Format::OpenAi, script, TestDb::sqlite(), "gpt", agent).await;
    let run = app
        .submit_run(
            &key,
            json!({"agent": "a", "input": "What is 6 * 7?", "output_schema": schema()}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap().to_string();
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result_json"], json!({"n": 42}), "{run}");
    let received = fake.received();
    assert_eq!(
        received[0].body["response_format"],
        json!({"type": "json_schema",
               "json_schema": {"name": "final_answer", "schema": schema(), "strict": true}})
    );
    let told = received[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(told["role"], "user", "{told}");
    assert!(
        told["content"].as_str().unwrap().contains("not JSON"),
        "{told}"
    );

    // A continuation of that conversation gets one correction, then fails.
    let next = app
        .submit_run(
            &key,
            json!({"previous_run_id": run_id, "input": "And 6 * 8?", "output_schema": schema()}),
        )
        .await;
    let next_id = next["id"].as_str().unwrap().to_string();
    let next = app.wait_for_run(&key, &next_id, MINUTE).await;
    assert_eq!(next["status"], "failed", "{next}");
    assert_eq!(next["error"]["code"], "invalid_output", "{next}");
    assert_eq!(next["result_json"], Value::Null);
    assert_eq!(fake.received().len(), 4, "one corrective turn, no more");
}

on_each_backend!(a_model_that_repeats_a_call_is_told_then_stopped);
async fn a_model_that_repeats_a_call_is_told_then_stopped(db: TestDb) {
    let script = Script::new()
        .calculate("toolu_1", "2+2")
        .calculate("toolu_2", "2+2")
        .calculate("toolu_3", "2+2")
        .calculate("toolu_4", "2+2");
    let agent = json!({"name": "a", "model": "anthropic/claude-test", "tools": ["calculator"]});
    let (fake, app, workspace_id, key) = setup(Format::Anthropic, script, db, "loop", agent).await;
    let (run_id, run) = app.run_to_end(&key, "a", "What is 2+2?").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "no_progress", "{run}");
    let received = fake.received();
    assert_eq!(received.len(), 4, "the fourth identical call ends the run");
    let third = received[3].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let refused = &third["content"][0];
    assert_eq!(refused["tool_use_id"], "toolu_3", "{third}");
    assert_eq!(refused["is_error"], true);
    assert!(
        refused["content"]
            .as_str()
            .unwrap()
            .contains("3 times in a row")
    );
    // Two calls ran; the third was refused, the fourth never ran.
    assert_eq!(run["usage"]["tool_calls"], 2, "{run}");
    assert_eq!(
        app.ledger(&workspace_id, &run_id).await,
        ledger_rows(&[("agent_time", 6), ("llm", 4), ("tool", 2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_tool_settings_are_checked_field_by_field() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, key) = app.tenant("checks").await;
    let client = |extra: Value| {
        let mut tool = json!({"type": "client", "name": "pick"});
        for (k, v) in extra.as_object().unwrap() {
            tool[k] = v.clone();
        }
        json!({"name": "x", "model": "offline/demo", "tools": [tool]})
    };
    for (agent, field) in [
        (client(json!({"url": "https://x.example"})), "tools[0]"),
        (client(json!({"timeout_s": 0})), "tools[0].timeout_s"),
        (client(json!({"name": "final_answer"})), "tools[0].name"),
        (
            client(json!({"input_schema": {"type": "strnig"}})),
            "tools[0].input_schema",
        ),
        (
            json!({"name": "x", "model": "offline/demo", "output_schema": {"type": 5}}),
            "output_schema",
        ),
        (
            json!({"name": "x", "model": "offline/demo", "output_schema": [1]}),
            "output_schema",
        ),
        (
            json!({"name": "x", "model": "offline/demo", "max_repeated_tool_calls": 101}),
            "max_repeated_tool_calls",
        ),
    ] {
        let (status, answer) = app.post(&key, "/v1/agents", agent.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{agent}: {answer}"
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{agent}: {message}");
    }
    let good = json!({"name": "x", "model": "offline/demo", "output_schema": schema(),
                      "max_repeated_tool_calls": 0,
                      "tools": [{"type": "client", "name": "pick", "timeout_s": 30}]});
    let (status, agent) = app.post(&key, "/v1/agents", good).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["output_schema"], schema());
    assert_eq!(agent["max_repeated_tool_calls"], 0);
    assert_eq!(agent["tools"][0]["type"], "client");
    assert_eq!(agent["tools"][0]["timeout_s"], 30);
    let (status, answer) = app
        .post(
            &key,
            "/v1/runs",
            json!({"agent": "x", "input": "hi", "output_schema": {"type": "strnig"}}),
        )
        .await;
    assert_invalid(status, &answer, "output_schema");
}

//! The run API features clients rely on: list filters, conversation continuation, reruns,
//! batches, bulk cancellation, waiting states in the run view, and event webhooks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::answers::{assert_invalid, error_message};
use crate::durability::{receiver, verify};
use crate::fakes::{FakeLlm, Format, Script, claude_agent};
use crate::harness::{MINUTE, Options, TestApp, TestDb, wait_until};
use crate::on_each_backend;

fn gated() -> Value {
    json!({"name": "gated", "model": "offline/demo",
           "tools": [{"name": "calculator", "requires_approval": true}]})
}

fn chat() -> Value {
    json!({"name": "chat", "model": "offline/demo", "tools": ["calculator"], "await_input": true})
}

fn ids(page: &Value) -> Vec<String> {
    page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn list(app: &TestApp, key: &str, query: &str) -> Value {
    let (status, page) = app.get(key, &format!("/v1/runs?{query}")).await;
    assert_eq!(status, StatusCode::OK, "{query}: {page}");
    page
}

on_each_backend!(the_runs_list_filters_by_agent_statuses_metadata_and_time);
async fn the_runs_list_filters_by_agent_statuses_metadata_and_time(db: TestDb) {
    let app = TestApp::start(db).await;
    let (_, key) = app.tenant("filters").await;
    app.create_agent(&key, gated()).await;
    let mut demo = Vec::new();
    for (n, team) in [(1, "blue"), (2, "red"), (3, "blue")] {
        let run = json!({"agent": "demo", "input": format!("What is {n} + {n}?"),
                         "metadata": {"team": team, "n": n, "nested": {"x": 1}}});
        let id = app.submit_run(&key, run).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        app.wait_for_run(&key, &id, MINUTE).await;
        demo.push(id);
    }
    let waiting = app
        .submit_run(
            &key,
            json!({"agent": "gated", "input": "What is 6 * 7?", "metadata": {"team": "blue"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = app
        .wait_for_status(&key, &waiting, "waiting_approval", MINUTE)
        .await;
    // The waiting state is visible without a stream.
    let pending = &run["pending_approvals"];
    assert_eq!(pending.as_array().unwrap().len(), 1, "{run}");
    assert_eq!(pending[0]["tool"], "calculator");
    assert!(pending[0]["input"]["expression"].is_string(), "{run}");
    assert!(
        pending[0]["tool_call_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(pending[0]["requested_at"].is_string());
    assert_eq!(run["awaiting_input"], false);

    let newest_first = |mut v: Vec<String>| {
        v.reverse();
        v
    };
    assert_eq!(
        ids(&list(&app, &key, "agent=demo").await),
        newest_first(demo.clone())
    );
    assert_eq!(
        ids(&list(&app, &key, "agent=gated").await),
        vec![waiting.clone()]
    );
    let page = list(&app, &key, "status=waiting_approval").await;
    assert_eq!(ids(&page), vec![waiting.clone()]);
    assert_eq!(
        page["runs"][0]["pending_approvals"][0]["tool"], "calculator",
        "lists carry pending approvals too"
    );
    assert_eq!(
        ids(&list(&app, &key, "status=succeeded,waiting_approval").await).len(),
        4
    );
    assert_eq!(
        ids(&list(&app, &key, "status=failed,cancelled").await).len(),
        0
    );
    assert_eq!(
        ids(&list(&app, &key, "metadata.team=blue").await),
        [waiting.clone(), demo[2].clone(), demo[0].clone()]
    );
    assert_eq!(
        ids(&list(&app, &key, "metadata.team=blue&agent=demo&metadata.n=3").await),
        vec![demo[2].clone()]
    );
    assert!(ids(&list(&app, &key, "metadata.nested=x").await).is_empty());
    // Pages under a filter.
    let first = list(&app, &key, "metadata.team=blue&limit=2").await;
    assert_eq!(ids(&first), [waiting.clone(), demo[2].clone()]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = list(
        &app,
        &key,
        &format!("metadata.team=blue&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(ids(&second), vec![demo[0].clone()]);
    assert!(second["next_cursor"].is_null());
    // A creation window.
    let (_, second_run) = app.get(&key, &format!("/v1/runs/{}", demo[1])).await;
    let at = second_run["created_at"]
        .as_str()
        .unwrap()
        .replace('+', "%2B");
    assert_eq!(
        ids(&list(&app, &key, &format!("agent=demo&created_before={at}")).await),
        vec![demo[0].clone()]
    );
    assert_eq!(
        ids(&list(&app, &key, &format!("agent=demo&created_after={at}")).await),
        [demo[2].clone(), demo[1].clone()]
    );
    // Bad filters are named.
    for (query, field) in [
        ("status=done", "status"),
        ("status=queued,nope", "status"),
        ("agent=Not%20A%20Name", "agent"),
        ("created_after=yesterday", "created_after"),
        ("colour=blue", "colour"),
        (&format!("metadata.k={}", "v".repeat(257)), "metadata.k"),
    ] {
        let (status, body) = app.get(&key, &format!("/v1/runs?{query}")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{query}: {message}");
    }
}

/// A run that continues run `previous` with `input` (the agent is that run's).
fn continuation(previous: &str, input: &str) -> Value {
    json!({"previous_run_id": previous, "input": input})
}

on_each_backend!(a_run_continues_the_conversation_of_a_finished_run);
async fn a_run_continues_the_conversation_of_a_finished_run(db: TestDb) {
    let script = Script::new()
        .answer("Hello Ada.")
        .answer("Your name is Ada.");
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let app = TestApp::start_with(db, Options::answered_by(&fake)).await;
    let (_, key) = app.tenant_with_agent("convo", claude_agent(&[])).await;
    app.create_agent(&key, chat()).await;
    let (first, run) = app.run_to_end(&key, "a", "My name is Ada.").await;
    assert_eq!(run["status"], "succeeded", "{run}");

    // No agent: the previous run's.
    let body = app
        .submit_run(
            &key,
            json!({"previous_run_id": first, "input": "What is my name?"}),
        )
        .await;
    assert_eq!(body["previous_run_id"], first.as_str());
    assert_eq!(body["agent"], "a");
    let second = body["id"].as_str().unwrap();
    let run = app.wait_for_run(&key, second, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "Your name is Ada.");
    let messages = &fake.received()[1].body["messages"];
    let texts: Vec<(&str, &str)> = messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let content = &m["content"];
            let text = content
                .as_str()
                .or_else(|| content[0]["text"].as_str())
                .unwrap_or_default();
            (m["role"].as_str().unwrap(), text)
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("user", "My name is Ada."),
            ("assistant", "Hello Ada."),
            ("user", "What is my name?")
        ],
        "the model saw the previous conversation, then the new input"
    );

    // Only a finished run of this workspace.
    let unknown = "0".repeat(32);
    let (status, body) = app
        .post(&key, "/v1/runs", continuation(&unknown, "hi"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "run_not_found");
    let (_, other_key) = app.tenant_with_agent("other", claude_agent(&[])).await;
    let (status, _) = app
        .post(&other_key, "/v1/runs", continuation(&first, "hi"))
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another workspace's run is not found"
    );
    let live = app.submit_to(&key, "chat", "hello").await;
    app.wait_for_status(&key, &live, "waiting_input", MINUTE)
        .await;
    let (_, run) = app.get(&key, &format!("/v1/runs/{live}")).await;
    assert_eq!(run["awaiting_input"], true, "{run}");
    let (status, body) = app
        .post(&key, "/v1/runs", continuation(&live, "more"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "run_not_finished");
    let (status, body) = app.post(&key, "/v1/runs", json!({"input": "hi"})).await;
    assert_invalid(status, &body, "agent");
}

on_each_backend!(reruns_batches_and_bulk_cancellation);
async fn reruns_batches_and_bulk_cancellation(db: TestDb) {
    let app = TestApp::start(db).await;
    let (workspace, keys) = app
        .workspace("bulk", "pro", &[("concurrent_runs", "2")])
        .await;
    let key = &keys[0];
    app.demo_agent(key).await;
    app.create_agent(key, chat()).await;

    // A rerun: same agent, input and metadata; linked to the original.
    let original = app
        .submit_run(
            key,
            json!({"agent": "demo", "input": "What is 4 * 4?", "metadata": {"k": "v"}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_for_run(key, &original, MINUTE).await;
    let (status, body) = app.act(key, &original, "rerun", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["rerun_of"], original.as_str());
    assert_eq!(body["input"], "What is 4 * 4?");
    assert_eq!(body["metadata"], json!({"k": "v"}));
    let rerun = body["id"].as_str().unwrap().to_string();
    assert_ne!(rerun, original);
    let run = app.wait_for_run(key, &rerun, MINUTE).await;
    assert_eq!(run["result"], "4 * 4 = 16.", "{run}");
    let (status, _) = app.act(key, &"0".repeat(32), "rerun", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A batch: one answer per item, admission per item, idempotency per item.
    let batch = json!({"runs": [
        {"agent": "chat", "input": "hello", "idempotency_key": "item-1", "metadata": {"wave": 1}},
        {"agent": "nobody", "input": "hello"},
        {"agent": "chat", "input": "hello", "metadata": {"wave": 1}},
        {"agent": "chat", "input": "hello", "metadata": {"wave": 1}},
    ]});
    let (status, body) = app.post(key, "/v1/runs/batch", batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    let statuses: Vec<i64> = results
        .iter()
        .map(|r| r["status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [202, 404, 202, 429], "{body}");
    assert_eq!(results[1]["error"]["code"], "agent_not_found");
    assert_eq!(results[3]["error"]["code"], "concurrency_limit");
    assert_eq!(results[3]["error"]["limit"], 2);
    assert_eq!(
        (body["accepted"].as_i64(), body["failed"].as_i64()),
        (Some(2), Some(2))
    );
    let first = results[0]["run"]["id"].as_str().unwrap().to_string();
    let again = json!({"runs": [{"agent": "chat", "input": "hello", "idempotency_key": "item-1", "metadata": {"wave": 1}}]});
    let (_, body) = app.post(key, "/v1/runs/batch", again).await;
    assert_eq!(body["results"][0]["status"], 200, "{body}");
    assert_eq!(body["results"][0]["run"]["id"], first.as_str());
    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"agent": "demo", "input": "1+1"}))
        .collect();
    let (status, body) = app
        .post(key, "/v1/runs/batch", json!({"runs": too_many}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_message(&body).contains("100"), "{body}");
    // A malformed item refuses the whole batch, naming it; nothing is admitted.
    let malformed = json!({"runs": [
        {"agent": "demo", "input": "1+1"},
        {"agent": "demo", "input": "1+1", "webhook_url": "ftp://x.example"},
    ]});
    let (status, body) = app.post(key, "/v1/runs/batch", malformed).await;
    assert_invalid(status, &body, "runs[1].webhook_url");
    let malformed = json!({"runs": [{"agent": "demo", "input": "1+1", "previous_run_id": "x"}]});
    let (status, body) = app.post(key, "/v1/runs/batch", malformed).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Cancellation by filter, counted.
    for run in [&results[0], &results[2]] {
        let id = run["run"]["id"].as_str().unwrap();
        app.wait_for_status(key, id, "waiting_input", MINUTE).await;
    }
    for (body, field) in [
        (json!({}), "give at least one"),
        (json!({"status": ["succeeded"]}), "status"),
        (json!({"status": ["queued", "queued"]}), "status[1]"),
        (json!({"metadata": {"wave": [1]}}), "metadata.wave"),
    ] {
        let (status, answer) = app.post(key, "/v1/runs/cancel", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field),
            "{answer}"
        );
    }
    let (status, body) = app
        .post(
            key,
            "/v1/runs/cancel",
            json!({"agent": "demo", "status": ["running"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"matched": 0, "cancelled": 0, "more": false}));
    let (status, body) = app
        .post(
            key,
            "/v1/runs/cancel",
            json!({"agent": "chat", "metadata": {"wave": 1}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"matched": 2, "cancelled": 2, "more": false}));
    for run in [&results[0], &results[2]] {
        let id = run["run"]["id"].as_str().unwrap();
        app.wait_for_status(key, id, "cancelled", MINUTE).await;
    }
    // A member may do all of this; billing may not.
    let (status, _) = app
        .post(&keys[2], "/v1/runs/cancel", json!({"agent": "chat"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let _ = workspace;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_states_and_the_end_reach_the_webhooks_a_run_or_workspace_chose() {
    let (url, inbox) = receiver(vec![200]).await;
    let options = Options {
        allow: "127.0.0.1",
        ..Options::default()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("hooks").await;
    app.create_agent(&key, gated()).await;
    app.create_agent(&key, chat()).await;
    let (status, body) = app
        .request(
            "PUT",
            "/v1/workspace",
            Some(&key),
            Some(json!({"webhook_url": url, "webhook_events": ["approval.requested", "run.completed"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, workspace) = app.get(&key, "/v1/workspace").await;
    assert_eq!(
        workspace["webhook_events"],
        json!(["approval.requested", "run.completed"])
    );
    let secret = workspace["webhook_secret"].as_str().unwrap().to_string();

    // The workspace's choice: the approval request, then the end.
    let run_id = app.submit_to(&key, "gated", "What is 6 * 7?").await;
    let received = |kind: &'static str, run: String| {
        let inbox = inbox.clone();
        move || {
            inbox.lock().unwrap().iter().any(|(_, body)| {
                let body: Value = serde_json::from_str(body).unwrap();
                body["type"] == kind
                    && (body["data"]["run_id"] == run.as_str()
                        || body["data"]["id"] == run.as_str())
            })
        }
    };
    wait_until(
        MINUTE,
        "no approval.requested webhook",
        received("approval.requested", run_id.clone()),
    )
    .await;
    let (_, run) = app.get(&key, &format!("/v1/runs/{run_id}")).await;
    let call = run["pending_approvals"][0]["tool_call_id"]
        .as_str()
        .unwrap()
        .to_string();
    let decision = json!({"tool_call_id": call, "approve": true});
    let (status, _) = app.act(&key, &run_id, "approvals", Some(decision)).await;
    assert_eq!(status, StatusCode::OK);
    wait_until(
        MINUTE,
        "no run.completed webhook",
        received("run.completed", run_id.clone()),
    )
    .await;
    let calls = inbox.lock().unwrap().clone();
    for (headers, body) in &calls {
        verify(headers, body, &secret);
        let body: Value = serde_json::from_str(body).unwrap();
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'), "{body}");
    }
    let approval: Value = calls
        .iter()
        .map(|(_, b)| serde_json::from_str::<Value>(b).unwrap())
        .find(|b| b["type"] == "approval.requested")
        .unwrap();
    assert_eq!(approval["data"]["tool_call_id"], call.as_str());
    assert_eq!(approval["data"]["tool"], "calculator");
    assert_eq!(approval["data"]["agent"], "gated");
    let ids: Vec<&str> = calls
        .iter()
        .map(|(h, _)| h["webhook-id"].to_str().unwrap())
        .collect();
    assert!(
        ids.iter()
            .all(|id| id.starts_with(&format!("msg_{run_id}"))),
        "{ids:?}"
    );

    // The run's own choice wins: only input.requested, not the end.
    let (hook, own) = receiver(vec![200]).await;
    let body = app
        .submit_run(
            &key,
            json!({"agent": "chat", "input": "hello", "webhook_url": hook,
                   "webhook_events": ["input.requested"]}),
        )
        .await;
    assert_eq!(body["webhook_events"], json!(["input.requested"]));
    let chat_id = body["id"].as_str().unwrap().to_string();
    let own_received = {
        let own = own.clone();
        move || !own.lock().unwrap().is_empty()
    };
    wait_until(MINUTE, "no input.requested webhook", own_received).await;
    let body = own.lock().unwrap()[0].1.clone();
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["type"], "input.requested");
    assert_eq!(body["data"]["run_id"], chat_id.as_str());
    assert!(body["data"]["question"].is_string(), "{body}");
    // Bad choices are named.
    for (run, field) in [
        (
            json!({"agent": "chat", "input": "x", "webhook_url": hook, "webhook_events": ["llm.delta"]}),
            "webhook_events",
        ),
        (
            json!({"agent": "chat", "input": "x", "webhook_url": hook, "webhook_events": ["run.completed", "run.completed"]}),
            "webhook_events",
        ),
    ] {
        let (status, body) = app.post(&key, "/v1/runs", run).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(field)
        );
    }
}

//! Durability: continue-as-new keeps the conversation, histories replay against the current
//! code, and webhooks (tools and completion) are signed and delivered.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use longrun_activities::tools::webhook::{secret_bytes, sign};

use crate::fakes::{FakeLlm, Format, Script, claude_agent};
use crate::harness::{MINUTE, Options, TestApp, TestDb, executions, ledger_rows, wait_until};

/// A fake Claude answering with `script`, and an app whose models it answers and whose tools
/// may reach the hosts of `allow` (an egress allowlist).
async fn app_with(script: Script, allow: &'static str) -> (FakeLlm, TestApp) {
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let options = Options {
        allow,
        ..Options::answered_by(&fake)
    };
    (fake, TestApp::start_with(TestDb::sqlite(), options).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_as_new_keeps_the_conversation_and_bills_each_step_once() {
    let script = Script::new()
        .calculate("t1", "1+1")
        .calculate("t2", "2+2")
        .calculate("t3", "3+3")
        .answer("2, 4 and 6.");
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let mut options = Options::answered_by(&fake);
    options.tuning.continue_as_new_every = 2;
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (workspace, key) = app
        .tenant_with_agent("can", claude_agent(&["calculator"]))
        .await;
    let (run_id, run) = app.run_to_end(&key, "a", "add things").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["step"], 4);
    let last = &fake.received()[3].body["messages"];
    assert_eq!(
        last.as_array().unwrap().len(),
        7,
        "the whole conversation reached turn 4: {last}"
    );
    assert_eq!(last[6]["content"][0]["content"], "6");
    assert_eq!(fake.received().len(), 4, "no model turn ran twice");
    assert_eq!(
        app.ledger(&workspace.id, &run_id).await,
        ledger_rows(&[("agent_time", 7), ("llm", 4), ("tool", 3)])
    );
    assert_eq!(run["usage"]["input_tokens"], 400);

    let client = app.temporal_client().await;
    let workflow_id = run["workflow_id"].as_str().unwrap();
    assert_eq!(
        executions(&client, workflow_id).await,
        2,
        "one continue-as-new after two steps"
    );
}

/// Requests a receiver got: headers and body.
pub type Inbox = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// A loopback webhook receiver answering with `statuses` in turn (the last repeats) and the
/// body `{"answer": 42}`.
pub async fn receiver(statuses: Vec<u16>) -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let state = (inbox.clone(), Arc::new(Mutex::new(statuses)));
    async fn handle(
        State((inbox, statuses)): State<(Inbox, Arc<Mutex<Vec<u16>>>)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, axum::Json<Value>) {
        inbox
            .lock()
            .unwrap()
            .push((headers, String::from_utf8_lossy(&body).into_owned()));
        let mut statuses = statuses.lock().unwrap();
        let status = if statuses.len() > 1 {
            statuses.remove(0)
        } else {
            statuses[0]
        };
        (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(json!({"answer": 42})),
        )
    }
    let router = Router::new().route("/hook", post(handle)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, inbox)
}

pub fn verify(headers: &HeaderMap, body: &str, secret: &str) {
    let id = headers["webhook-id"].to_str().unwrap();
    let timestamp: i64 = headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let expected = sign(&secret_bytes(secret), id, timestamp, body);
    assert_eq!(
        headers["webhook-signature"].to_str().unwrap(),
        expected,
        "signature"
    );
    let now = longrun_store::now_ms() / 1000;
    assert!((now - timestamp).abs() < 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_tool_posts_signed_input_and_returns_the_answer() {
    let (url, inbox) = receiver(vec![200]).await;
    let script = Script::new()
        .call("t_hook", "lookup", json!({"order": "A-1"}))
        .answer("It is 42.");
    let (fake, app) = app_with(script, "127.0.0.1").await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let agent = json!({"name": "hooked", "model": "anthropic/claude-test", "tools": [
        {"name": "lookup", "type": "webhook", "url": url, "description": "Looks an order up.",
         "input_schema": {"type": "object", "properties": {"order": {"type": "string"}}}, "secret": secret}
    ]});
    let (_, key) = app.tenant_with_agent("hooks", agent).await;
    let (_, shown) = app.get(&key, "/v1/agents/hooked").await;
    assert!(
        shown["tools"][0].get("secret").is_none(),
        "secrets are write-only: {shown}"
    );
    assert_eq!(shown["tools"][0]["has_secret"], true);

    let (_, run) = app.run_to_end(&key, "hooked", "where is A-1?").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let first = &fake.received()[0].body;
    assert_eq!(first["tools"][0]["name"], "lookup");
    assert_eq!(first["tools"][0]["description"], "Looks an order up.");
    let calls = inbox.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (headers, body) = &calls[0];
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap(),
        json!({"order": "A-1"})
    );
    verify(headers, body, secret);
    fake.first_tool_result(false, "42");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_tool_input_that_breaks_its_schema_never_leaves() {
    let (url, inbox) = receiver(vec![200]).await;
    let script = Script::new()
        .call("t_bad", "lookup", json!({"order": 17, "extra": true}))
        .call("t_good", "lookup", json!({"order": "A-1"}))
        .answer("It is 42.");
    let (fake, app) = app_with(script, "127.0.0.1").await;
    let schema = json!({"type": "object", "properties": {"order": {"type": "string"}},
        "required": ["order"], "additionalProperties": false});
    let tool = |schema: Value| json!({"name": "lookup", "type": "webhook", "url": url, "input_schema": schema});
    let (_, key) = app
        .tenant_with_agent(
            "schemas",
            json!({"name": "hooked", "model": "anthropic/claude-test", "tools": [tool(schema)]}),
        )
        .await;
    // A schema that is no JSON Schema is refused when the agent is saved, naming the problem.
    for bad in [
        json!({"type": "strnig"}),
        json!({"$ref": "file:///etc/passwd"}),
    ] {
        let broken = json!({"name": "broken", "model": "offline/demo", "tools": [tool(bad)]});
        let (status, body) = app.post(&key, "/v1/agents", broken).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("tools[0].input_schema: not a valid JSON Schema"),
            "{message}"
        );
    }

    let (_, run) = app.run_to_end(&key, "hooked", "where is A-1?").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    // The bad input went back to the model as an error result; only the good one left.
    let calls = inbox.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&calls[0].1).unwrap(),
        json!({"order": "A-1"})
    );
    fake.first_tool_result(true, "does not match the tool's input_schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_address_is_refused_to_tools_unless_allowlisted() {
    let (url, inbox) = receiver(vec![200]).await;
    let script = Script::new()
        .call("t_fetch", "http_fetch", json!({ "url": url }))
        .answer("Could not.");
    let (fake, app) = app_with(script, "").await;
    let (_, key) = app
        .tenant_with_agent("ssrf", claude_agent(&["http_fetch"]))
        .await;
    let (_, run) = app.run_to_end(&key, "a", "fetch").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    fake.first_tool_result(true, "refused");
    assert!(
        inbox.lock().unwrap().is_empty(),
        "nothing reached the private address"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_finished_run_is_posted_to_its_webhook_signed_and_retried() {
    let (url, inbox) = receiver(vec![500, 200]).await;
    let options = Options {
        allow: "127.0.0.1",
        ..Options::default()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("notify").await;
    let body = app
        .submit_run(&key, json!({"agent": "demo", "input": "What is 3 * 3?", "webhook_url": url, "metadata": {"ticket": 7}}))
        .await;
    let run_id = body["id"].as_str().unwrap().to_string();
    app.wait_for_run(&key, &run_id, MINUTE).await;
    wait_until(MINUTE, "the webhook was not retried to success", || {
        inbox.lock().unwrap().len() >= 2
    })
    .await;
    let (_, workspace) = app.get(&key, "/v1/workspace").await;
    let secret = workspace["webhook_secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let calls = inbox.lock().unwrap().clone();
    assert_eq!(
        calls[0].0["webhook-id"], calls[1].0["webhook-id"],
        "one id across retries"
    );
    let (headers, body) = &calls[1];
    verify(headers, body, secret);
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["type"], "run.completed");
    assert_eq!(payload["data"]["id"], run_id.as_str());
    assert_eq!(payload["data"]["status"], "succeeded");
    assert_eq!(payload["data"]["result"], "3 * 3 = 9.");
    assert_eq!(payload["data"]["metadata"]["ticket"], 7);
}

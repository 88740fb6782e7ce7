//! MCP servers end to end: a real MCP server (tests/mcp/server.py, the official Python SDK
//! over streamable HTTP) on loopback, registered through the API, its tools discovered by
//! the worker, expanded into an agent and called in runs driven by a fake model.
//!
//! These tests need the Python MCP SDK in .venv (scripts/bootstrap installs it);
//! `scripts/test` leaves them out and reports them skipped when it is missing.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use longrun_store::Workspace;

use crate::answers::assert_invalid;
use crate::fakes::{FakeLlm, Format, Script};
use crate::harness::{MINUTE, Options, TestApp, TestDb, poll};
use crate::on_each_backend;
use crate::openapi::{Checked, Validator};

/// The MCP test server, killed when dropped.
struct McpServer {
    child: Child,
    /// Its MCP endpoint.
    url: String,
    base: String,
}

impl McpServer {
    /// Starts tests/mcp/server.py on a free loopback port and waits until it answers.
    async fn start() -> Self {
        let python = std::env::var("LONGRUN_TEST_MCP_PYTHON")
            .unwrap_or_else(|_| format!("{}/.venv/bin/python", env!("CARGO_MANIFEST_DIR")));
        let script = format!("{}/tests/mcp/server.py", env!("CARGO_MANIFEST_DIR"));
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let child = Command::new(&python)
            .args([script.as_str(), "--port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "cannot start the MCP test server with {python}: {err}. Run scripts/bootstrap \
                     (it installs the Python MCP SDK into .venv), or run the suite with \
                     scripts/test, which reports these tests skipped without it"
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let mut server = McpServer {
            child,
            url: format!("{base}/mcp"),
            base,
        };
        let health = format!("{}/health", server.base);
        let http = reqwest::Client::new();
        let child = &mut server.child;
        poll(
            Duration::from_secs(30),
            Duration::from_millis(100),
            async || {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "the MCP test server exited ({status}): is the Python MCP SDK installed?"
                    );
                }
                match http.get(&health).send().await {
                    Ok(response) if response.status().is_success() => Ok(()),
                    _ => Err("the MCP test server does not answer".to_string()),
                }
            },
        )
        .await;
        server
    }

    /// Changes the server's tool list (`lookup`'s definition changes, `big` goes away).
    async fn change_tools(&self) {
        let response = reqwest::Client::new()
            .post(format!("{}/change", self.base))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An app whose worker may reach loopback (the MCP server, allowlisted like the operator
/// would) and whose models are answered by a fake following `script`.
async fn app_with(script: Script, db: TestDb) -> (FakeLlm, TestApp) {
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let options = Options {
        allow: "127.0.0.1",
        ..Options::answered_by(&fake)
    };
    (fake, TestApp::start_with(db, options).await)
}

/// Registers `server` as `name`; the answer must be 201.
async fn register(app: &TestApp, key: &str, name: &str, server: &McpServer) -> Value {
    let body = json!({"name": name, "url": server.url, "headers": {"Authorization": "Bearer s3cret-token"}});
    let (status, created) = app.post(key, "/v1/mcp-servers", body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

/// Agent `a` on the fake model with `tool` (an MCP item) as its only tool.
fn agent_with(tool: Value) -> Value {
    json!({"name": "a", "model": "anthropic/claude-test", "tools": [tool]})
}

/// Workspace `slug` with `server` registered as `calc` and agent `a` using its `tools` (`"*"`
/// or names): the workspace and its key.
async fn calc_tenant(
    app: &TestApp,
    slug: &str,
    server: &McpServer,
    tools: Value,
) -> (Workspace, String) {
    let (workspace, key) = app.tenant(slug).await;
    register(app, &key, "calc", server).await;
    let tool = json!({"type": "mcp", "server": "calc", "tools": tools});
    app.create_agent(&key, agent_with(tool)).await;
    (workspace, key)
}

/// Runs agent `a` on `input`, which must succeed: its tool results.
async fn run_a(app: &TestApp, workspace: &Workspace, key: &str, input: &str) -> Vec<Value> {
    let (run_id, run) = app.run_to_end(key, "a", input).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    tool_results(app, &workspace.id, &run_id).await
}

/// The names of a list of tools.
fn names(tools: &Value) -> Vec<&str> {
    let tools = tools.as_array().unwrap();
    tools.iter().map(|t| t["name"].as_str().unwrap()).collect()
}

/// The `tool.completed` events of a run, in order.
async fn tool_results(app: &TestApp, workspace_id: &str, run_id: &str) -> Vec<Value> {
    app.events(workspace_id, run_id)
        .await
        .into_iter()
        .filter(|e| e.kind == "tool.completed")
        .map(|e| serde_json::from_str(&e.data).unwrap())
        .collect()
}

async fn discovery_lists_tools_and_hides_header_values(db: TestDb) {
    let server = McpServer::start().await;
    let (_fake, app) = app_with(Script::new().answer("ok"), db).await;
    let (_, key) = app.tenant("mcpdisc").await;
    // Every answer is checked against the OpenAPI document as well.
    let (_, document) = app.request("GET", "/openapi.json", None, None).await;
    let mut c = Checked {
        app: &app,
        validator: Validator::new(document),
    };
    let key = Some(key.as_str());

    let body = json!({"name": "calc", "url": server.url, "headers": {"Authorization": "Bearer s3cret-token"}});
    let (status, created) = c.call("POST", "/v1/mcp-servers", key, Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let names = names(&created["tools"]);
    assert_eq!(
        names,
        ["add", "lookup", "big", "explode", "slow"],
        "{created}"
    );
    assert_eq!(created["tools"][0]["description"], "Adds two integers.");
    assert_eq!(created["tools"][0]["input_schema"]["type"], "object");
    assert_eq!(created["tools_version"], 1);
    assert_eq!(created["needs_refresh"], false);
    assert_eq!(created["header_names"], json!(["Authorization"]));

    let (status, listed) = c.call("GET", "/v1/mcp-servers", key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["mcp_servers"][0]["name"], "calc");
    let one_path = "/v1/mcp-servers/calc";
    let (status, one) = c
        .at("GET", "/v1/mcp-servers/{name}", one_path, key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    for shown in [&created, &listed, &one] {
        assert!(!shown.to_string().contains("s3cret-token"), "{shown}");
    }

    // The same name twice is a conflict; the same definitions again keep their version.
    let again = json!({"name": "calc", "url": server.url});
    let (status, body) = c.call("POST", "/v1/mcp-servers", key, Some(again)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "mcp_server_exists");
    let refresh = "/v1/mcp-servers/{name}/refresh";
    let (status, refreshed) = c
        .at("POST", refresh, "/v1/mcp-servers/calc/refresh", key, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["tools_version"], 1);

    // Agents name servers and tools that exist, or are refused naming the field.
    let unknown_server = agent_with(json!({"type": "mcp", "server": "nope", "tools": "*"}));
    let (status, body) = c
        .call("POST", "/v1/agents", key, Some(unknown_server))
        .await;
    assert_invalid(status, &body, "tools[0].server:");
    let unknown_tool =
        agent_with(json!({"type": "mcp", "server": "calc", "tools": ["add", "nope"]}));
    let (status, body) = c.call("POST", "/v1/agents", key, Some(unknown_tool)).await;
    assert_invalid(status, &body, "tools[0].tools[1]:");
    let good = agent_with(json!({"type": "mcp", "server": "calc", "tools": ["add"]}));
    let (status, agent) = c.call("POST", "/v1/agents", key, Some(good)).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["tools"][0]["type"], "mcp");
    assert_eq!(agent["tools"][0]["tools"], json!(["add"]));
    assert_eq!(agent["tools"][0]["mcp_tools"][0]["name"], "calc__add");
    assert_eq!(agent["tools"][0]["mcp_tools"][0]["tool"], "add");
    let every = agent_with(json!({"type": "mcp", "server": "calc", "tools": "*"}));
    let (status, agent) = c
        .at("PUT", "/v1/agents/{name}", "/v1/agents/a", key, Some(every))
        .await;
    assert_eq!(status, StatusCode::OK, "{agent}");
    assert_eq!(agent["tools"][0]["tools"], "*");
    assert_eq!(agent["tools"][0]["mcp_tools"].as_array().unwrap().len(), 5);

    let (status, _) = c
        .at("DELETE", "/v1/mcp-servers/{name}", one_path, key, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = c
        .at("GET", "/v1/mcp-servers/{name}", one_path, key, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "mcp_server_not_found");
}
on_each_backend!(discovery_lists_tools_and_hides_header_values);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_calls_the_servers_tools_and_gets_their_results() {
    let server = McpServer::start().await;
    let script = Script::new()
        .call("toolu_add", "calc__add", json!({"a": 2, "b": 3}))
        .call("toolu_look", "calc__lookup", json!({"word": "alpha"}))
        .call("toolu_boom", "calc__explode", json!({}))
        .answer("2+3 is 5 and alpha is the first letter.");
    let (fake, app) = app_with(script, TestDb::sqlite()).await;
    let (workspace, key) = calc_tenant(&app, "mcprun", &server, json!("*")).await;

    let (run_id, run) = app.run_to_end(&key, "a", "add and look up").await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["usage"]["tool_calls"], 3);

    // The model was offered the server's tools under their model-facing names.
    let received = fake.received();
    let offered = names(&received[0].body["tools"]);
    assert_eq!(
        offered,
        [
            "calc__add",
            "calc__lookup",
            "calc__big",
            "calc__explode",
            "calc__slow"
        ]
    );
    assert_eq!(
        received[0].body["tools"][1]["description"],
        "Looks a word up."
    );
    // Their results are in the conversation; a tool's own error is an error result.
    let last = &received.last().unwrap().body["messages"];
    let result_of = |id: &str| {
        last.as_array()
            .unwrap()
            .iter()
            .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
            .find(|block| block["tool_use_id"] == id)
            .unwrap_or_else(|| panic!("no result for {id}: {last}"))
    };
    assert_eq!(result_of("toolu_add")["content"], "5");
    assert_eq!(result_of("toolu_add")["is_error"], false);
    assert_eq!(result_of("toolu_look")["content"], "the first letter");
    assert_eq!(result_of("toolu_boom")["is_error"], true);
    assert!(
        result_of("toolu_boom")["content"]
            .as_str()
            .unwrap()
            .contains("explode"),
        "{last}"
    );
    // Metered as tool calls like any other.
    let ledger = app.ledger(&workspace.id, &run_id).await;
    assert!(ledger.contains(&("tool".to_string(), 3)), "{ledger:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gated_mcp_tool_waits_for_approval() {
    let server = McpServer::start().await;
    let script = Script::new()
        .call("toolu_gate", "calc__add", json!({"a": 20, "b": 22}))
        .answer("42.");
    let (_fake, app) = app_with(script, TestDb::sqlite()).await;
    let (workspace, key) = app.tenant("mcpgate").await;
    register(&app, &key, "calc", &server).await;
    let gated =
        json!({"type": "mcp", "server": "calc", "tools": ["add"], "requires_approval": true});
    app.create_agent(&key, agent_with(gated)).await;

    let run_id = app.submit_to(&key, "a", "add").await;
    app.wait_for_status(&key, &run_id, "waiting_approval", MINUTE)
        .await;
    let requested = app
        .event_data(&workspace.id, &run_id, "approval.requested")
        .await
        .unwrap();
    assert_eq!(requested["tool"], "calc__add");
    assert!(
        tool_results(&app, &workspace.id, &run_id).await.is_empty(),
        "nothing is called before the decision"
    );
    let decision = json!({"tool_call_id": "toolu_gate", "approve": true});
    let (status, body) = app.act(&key, &run_id, "approvals", Some(decision)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let results = tool_results(&app, &workspace.id, &run_id).await;
    assert_eq!(results[0]["content"], "42");
    assert_eq!(results[0]["is_error"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_an_error_result_and_the_run_goes_on() {
    let mut server = McpServer::start().await;
    let script = Script::new()
        .call("toolu_add", "calc__add", json!({"a": 1, "b": 1}))
        .answer("The tool is down.");
    let (_fake, app) = app_with(script, TestDb::sqlite()).await;
    let (workspace, key) = calc_tenant(&app, "mcpdown", &server, json!("*")).await;
    server.stop();

    let results = run_a(&app, &workspace, &key, "add").await;
    assert_eq!(results[0]["is_error"], true, "{results:?}");
    let content = results[0]["content"].as_str().unwrap();
    assert!(content.contains("could not be reached"), "{content}");
    assert!(!content.contains("s3cret-token"), "{content}");
    // A refresh of a server that is down says so, and keeps what it knew.
    let (status, body) = app
        .post(&key, "/v1/mcp-servers/calc/refresh", json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "mcp_server_failed");
    let (_, shown) = app.get(&key, "/v1/mcp-servers/calc").await;
    assert_eq!(shown["tools"].as_array().unwrap().len(), 5);
    assert!(shown["last_error"].as_str().is_some(), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_is_an_error_result_and_the_run_goes_on() {
    let server = McpServer::start().await;
    let script = Script::new()
        .call("toolu_slow", "calc__slow", json!({"seconds": 30}))
        .answer("The tool was too slow.");
    let fake = FakeLlm::start(Format::Anthropic, script).await;
    let mut options = Options {
        allow: "127.0.0.1",
        ..Options::answered_by(&fake)
    };
    options.tuning.tool_timeout_s = 2;
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (workspace, key) = calc_tenant(&app, "mcpslow", &server, json!(["slow"])).await;

    let results = run_a(&app, &workspace, &key, "wait").await;
    assert_eq!(results[0]["is_error"], true, "{results:?}");
    assert_eq!(
        fake.received().len(),
        2,
        "the model got the error and answered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_tool_is_refused_and_its_server_flagged() {
    let server = McpServer::start().await;
    let script = Script::new()
        .call("toolu_look", "calc__lookup", json!({"word": "alpha"}))
        .answer("The tool changed.");
    let (_fake, app) = app_with(script, TestDb::sqlite()).await;
    let (workspace, key) = calc_tenant(&app, "mcpchange", &server, json!(["lookup"])).await;
    server.change_tools().await;

    let results = run_a(&app, &workspace, &key, "look it up").await;
    assert_eq!(results[0]["is_error"], true, "{results:?}");
    let content = results[0]["content"].as_str().unwrap();
    assert!(
        content.contains("changed since the agent was saved"),
        "{content}"
    );
    assert!(content.contains("refresh"), "{content}");

    let (_, shown) = app.get(&key, "/v1/mcp-servers/calc").await;
    assert_eq!(shown["needs_refresh"], true, "{shown}");
    let (status, refreshed) = app
        .post(&key, "/v1/mcp-servers/calc/refresh", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(refreshed["needs_refresh"], false);
    assert_eq!(refreshed["tools_version"], 2);
    assert_eq!(refreshed["tools"].as_array().unwrap().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_mcp_result_is_cut() {
    let server = McpServer::start().await;
    let script = Script::new()
        .call("toolu_big", "calc__big", json!({"size": 300000}))
        .answer("That was long.");
    let (_fake, app) = app_with(script, TestDb::sqlite()).await;
    let (workspace, key) = calc_tenant(&app, "mcpbig", &server, json!(["big"])).await;

    let results = run_a(&app, &workspace, &key, "be long").await;
    let content = results[0]["content"].as_str().unwrap();
    assert_eq!(results[0]["is_error"], false);
    assert!(content.ends_with("[output truncated]"), "{}", content.len());
    assert!(
        content.len() <= longrun_activities::tools::MAX_OUTPUT_BYTES + 32,
        "{}",
        content.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_servers_on_refused_addresses_are_422() {
    // The operator allowlisted nothing: loopback and metadata addresses are refused.
    let server = McpServer::start().await;
    let app = TestApp::start_with(TestDb::sqlite(), Options::default()).await;
    let (_, key) = app.tenant("mcpssrf").await;
    for url in [server.url.as_str(), "http://169.254.169.254/mcp"] {
        let body = json!({"name": "inside", "url": url});
        let (status, body) = app.post(&key, "/v1/mcp-servers", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("url: refused"), "{message}");
    }
    let (_, listed) = app.get(&key, "/v1/mcp-servers").await;
    assert_eq!(
        listed["mcp_servers"],
        json!([]),
        "refused servers are not kept"
    );
    let bad = json!({"name": "x", "url": "file:///etc/passwd"});
    let (status, _) = app.post(&key, "/v1/mcp-servers", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn another_workspaces_server_is_invisible(db: TestDb) {
    let server = McpServer::start().await;
    let (_fake, app) = app_with(Script::new().answer("ok"), db).await;
    let (_, owner) = app.tenant("mcpowner").await;
    let (_, other) = app.tenant("mcpother").await;
    register(&app, &owner, "calc", &server).await;

    let (_, listed) = app.get(&other, "/v1/mcp-servers").await;
    assert_eq!(listed["mcp_servers"], json!([]));
    for (method, path) in [
        ("GET", "/v1/mcp-servers/calc"),
        ("POST", "/v1/mcp-servers/calc/refresh"),
        ("DELETE", "/v1/mcp-servers/calc"),
    ] {
        let body = (method == "POST").then(|| json!({}));
        let (status, body) = app.request(method, path, Some(&other), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "mcp_server_not_found");
    }
    let borrowing = agent_with(json!({"type": "mcp", "server": "calc", "tools": "*"}));
    let (status, body) = app.post(&other, "/v1/agents", borrowing).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app.get(&owner, "/v1/mcp-servers/calc").await;
    assert_eq!(status, StatusCode::OK, "the owner still has it");
}
on_each_backend!(another_workspaces_server_is_invisible);

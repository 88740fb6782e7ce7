//! The HTTP contract: authentication, error shapes, bad input, isolation, idempotency.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{MINUTE, Options, TestApp, TestDb, executions, poll};
use crate::on_each_backend;

fn assert_error(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_tenant_route_requires_a_valid_key() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (_, key) = app.tenant("acme").await;
    let forged = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('a') { 'b' } else { 'a' }
    );
    let routes = [
        ("GET", "/v1/agents"),
        ("POST", "/v1/agents"),
        ("GET", "/v1/agents/demo"),
        ("GET", "/v1/runs"),
        ("POST", "/v1/runs"),
        ("GET", "/v1/runs/0190c0de00007000800000000000000a"),
    ];
    for (method, path) in routes {
        for credential in [
            None,
            Some("garbage"),
            Some("lr_short"),
            Some(forged.as_str()),
        ] {
            let (status, body) = app.request(method, path, credential, Some(json!({}))).await;
            assert_error(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    let (status, body) = app.request("GET", "/healthz", None, None).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    let (status, body) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["temporal"]["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_naming_the_field() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (_, key) = app.tenant("acme").await;
    let raw = async |body: &'static str, content_type: &str| {
        let response = app
            .http
            .post(format!("{}/v1/runs", app.base))
            .bearer_auth(&key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, body) = raw("{\"agent\": ", "application/json").await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid_json");
    let (status, body) = raw("{\"agent\":\"demo\",\"input\":\"x\"}", "text/plain").await;
    assert_error(
        status,
        &body,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    const RUNS: &str = "/v1/runs";
    const AGENTS: &str = "/v1/agents";
    // Refused with 422 `invalid_request`, naming the field.
    let invalid = |path, body, field| {
        (
            path,
            body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            field,
        )
    };
    let table: Vec<(&str, Value, StatusCode, &str, &str)> = vec![
        invalid(RUNS, json!({"agent": "demo"}), "input"),
        invalid(
            RUNS,
            json!({"agent": "demo", "input": "x", "colour": 1}),
            "colour",
        ),
        invalid(RUNS, json!({"agent": 7, "input": "x"}), "agent"),
        invalid(RUNS, json!({"agent": "demo", "input": "  "}), "input"),
        invalid(
            RUNS,
            json!({"agent": "demo", "input": "x", "budget": {"max_steps": 0}}),
            "budget.max_steps",
        ),
        invalid(
            RUNS,
            json!({"agent": "demo", "input": "x", "metadata": "no"}),
            "metadata",
        ),
        // Objects written as arrays of their fields (which serde would otherwise take).
        invalid(RUNS, json!(["demo", "x"]), "object"),
        invalid(
            RUNS,
            json!({"agent": "demo", "input": "x", "budget": [null, null]}),
            "budget",
        ),
        invalid(
            AGENTS,
            json!({"name": "arr", "model": "offline/demo", "limits": [null, null]}),
            "limits",
        ),
        invalid(
            AGENTS,
            json!({"name": "arr", "model": "offline/demo", "tools": [["calculator", true]]}),
            "tools[0]",
        ),
        (
            RUNS,
            json!({"agent": "ghost", "input": "x"}),
            StatusCode::NOT_FOUND,
            "agent_not_found",
            "ghost",
        ),
        invalid(
            AGENTS,
            json!({"name": "Bad Name", "model": "offline/demo"}),
            "name",
        ),
        invalid(AGENTS, json!({"name": "x", "model": "acme/gpt"}), "model"),
        invalid(AGENTS, json!({"name": "x", "model": "gpt"}), "model"),
        invalid(
            AGENTS,
            json!({"name": "x", "model": "offline/demo", "tools": ["calculator", "rm_rf"]}),
            "tools[1]",
        ),
        invalid(
            AGENTS,
            json!({"name": "x", "model": "offline/demo", "tools": ["calculator", {"name": "calculator"}]}),
            "tools[1]",
        ),
        invalid(
            AGENTS,
            json!({"name": "x", "model": "offline/demo", "limits": {"max_steps": 1000}}),
            "limits.max_steps",
        ),
        (
            AGENTS,
            json!({"name": "demo", "model": "offline/demo"}),
            StatusCode::CONFLICT,
            "agent_exists",
            "demo",
        ),
    ];
    for (path, body, expected, code, needle) in table {
        let (status, response) = app.post(&key, path, body.clone()).await;
        assert_error(status, &response, expected, code);
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body} → {message}");
    }

    let huge = json!({"agent": "demo", "input": "x".repeat(1024 * 1024 + 10)});
    let long_input = json!({"agent": "demo", "input": "x".repeat(300 * 1024)});
    for (body, expected, code) in [
        (huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        (
            long_input,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
    ] {
        let (status, body) = app.post(&key, "/v1/runs", body).await;
        assert_error(status, &body, expected, code);
    }

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("status=done", "status"),
        ("cursor=zz", "cursor"),
        ("colour=red", "colour"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (status, body) = app.get(&key, &format!("/v1/runs?{query}")).await;
        assert_error(
            status,
            &body,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        );
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
    let (status, body) = app.get(&key, "/v1/nowhere").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.request("DELETE", "/v1/runs", Some(&key), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    // Nothing above left a run behind.
    let (_, runs) = app.get(&key, "/v1/runs").await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 0);
}

on_each_backend!(a_workspace_never_sees_another_workspaces_data);
async fn a_workspace_never_sees_another_workspaces_data(db: TestDb) {
    let app = TestApp::start(db).await;
    let (_, key_a) = app.tenant("tenant-a").await;
    let (_, key_b) = app.tenant("tenant-b").await;
    let secret_agent = json!({"name": "secret-agent", "model": "offline/demo"});
    app.create_agent(&key_a, secret_agent).await;
    let run = app.submit(&key_a, "What is 2 + 2?").await;
    let run_id = run["id"].as_str().unwrap();

    let (status, body) = app.get(&key_b, &format!("/v1/runs/{run_id}")).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "run_not_found");
    let missing = "/v1/runs/0190c0de00007000800000000000000a";
    let (status_missing, body_missing) = app.get(&key_b, missing).await;
    assert_eq!(
        (status, &body),
        (status_missing, &body_missing),
        "another tenant's run looks exactly like a missing one"
    );
    let (_, list) = app.get(&key_b, "/v1/runs").await;
    assert_eq!(list["runs"].as_array().unwrap().len(), 0);
    let (status, body) = app.get(&key_b, "/v1/agents/secret-agent").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "agent_not_found");
    let (_, agents) = app.get(&key_b, "/v1/agents").await;
    let agents = agents["agents"].as_array().unwrap();
    let names: Vec<&str> = agents.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["demo"]);

    let finished = app.wait_for_run(&key_a, run_id, MINUTE).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
}

on_each_backend!(an_idempotency_key_starts_one_workflow);
async fn an_idempotency_key_starts_one_workflow(db: TestDb) {
    let app = TestApp::start(db).await;
    let (_, key) = app.tenant("idem").await;
    let body = json!({"agent": "demo", "input": "What is 6 * 7?"});
    let send = async |body: Value, idempotency: &str| {
        let response = app
            .http
            .post(format!("{}/v1/runs", app.base))
            .bearer_auth(&key)
            .header("idempotency-key", idempotency)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    let (first_status, first) = send(body.clone(), "order-42").await;
    assert_eq!(first_status, StatusCode::ACCEPTED, "{first}");
    let (second_status, second) = send(body.clone(), "order-42").await;
    assert_eq!(second_status, StatusCode::OK, "{second}");
    assert_eq!(first["id"], second["id"]);
    let (status, conflict) = send(
        json!({"agent": "demo", "input": "What is 1 + 1?"}),
        "order-42",
    )
    .await;
    assert_error(
        status,
        &conflict,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    );

    let run_id = first["id"].as_str().unwrap();
    let finished = app.wait_for_run(&key, run_id, MINUTE).await;
    assert_eq!(finished["result"], "6 * 7 = 42.", "{finished}");
    let (again_status, again) = send(body, "order-42").await;
    assert_eq!((again_status, &again["id"]), (StatusCode::OK, &first["id"]));

    let client = app.temporal_client().await;
    let workflow_id = first["workflow_id"].as_str().unwrap();
    assert_eq!(
        executions(&client, workflow_id).await,
        1,
        "exactly one workflow execution for the key"
    );
    let (_, list) = app.get(&key, "/v1/runs").await;
    assert_eq!(list["runs"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_scheduler_queues_the_run_and_answers_at_once() {
    let closed_port = longrun_temporal::dev_server::free_port().unwrap();
    let options = Options {
        api_temporal: Some(format!("http://127.0.0.1:{closed_port}")),
        ..Options::no_worker()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("offline").await;
    let run = json!({"agent": "demo", "input": "What is 1 + 1?"});
    let (status, body) = app.post(&key, "/v1/runs", run).await;
    // Admitted whatever Temporal's state: it starts when Temporal answers.
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "queued");
    let path = format!("/v1/runs/{}", body["id"].as_str().unwrap());
    let queued = poll(MINUTE, Duration::from_millis(100), async || {
        let (_, run) = app.get(&key, &path).await;
        match run["status_reason"].as_str() {
            Some(reason) if reason.starts_with("scheduler_unavailable") => Ok(run),
            _ => Err(format!("the start was not tried yet: {run}")),
        }
    })
    .await;
    assert_eq!(queued["status"], "queued");
    let (status, ready) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "the API still admits: {ready}");
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["temporal"]["status"], "unavailable");
    // Cancelled before it started: it never will.
    let (status, _) = app
        .act(&key, body["id"].as_str().unwrap(), "cancel", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, run) = app.get(&key, &path).await;
    assert_eq!(run["status"], "cancelled", "{run}");
}

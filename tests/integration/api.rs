//! The HTTP contract: authentication, error shapes, bad input, isolation, idempotency.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Options, TestApp, TestDb};
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
    let app = TestApp::start_with(
        TestDb::sqlite(),
        Options {
            with_worker: false,
            ..Default::default()
        },
    )
    .await;
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
    let app = TestApp::start_with(
        TestDb::sqlite(),
        Options {
            with_worker: false,
            ..Default::default()
        },
    )
    .await;
    let (_, key) = app.tenant("acme").await;
    let raw = |body: &'static str, content_type: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let response = app
                .http
                .post(format!("{}/v1/runs", app.base))
                .bearer_auth(key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
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

    let table: Vec<(&str, Value, StatusCode, &str, &str)> = vec![
        (
            "/v1/runs",
            json!({"agent": "demo"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "input",
        ),
        (
            "/v1/runs",
            json!({"agent": "demo", "input": "x", "colour": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "colour",
        ),
        (
            "/v1/runs",
            json!({"agent": 7, "input": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "agent",
        ),
        (
            "/v1/runs",
            json!({"agent": "demo", "input": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "input",
        ),
        (
            "/v1/runs",
            json!({"agent": "demo", "input": "x", "budget": {"max_steps": 0}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "budget.max_steps",
        ),
        (
            "/v1/runs",
            json!({"agent": "demo", "input": "x", "metadata": "no"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "metadata",
        ),
        (
            "/v1/runs",
            json!({"agent": "ghost", "input": "x"}),
            StatusCode::NOT_FOUND,
            "agent_not_found",
            "ghost",
        ),
        (
            "/v1/agents",
            json!({"name": "Bad Name", "model": "offline/demo"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "name",
        ),
        (
            "/v1/agents",
            json!({"name": "x", "model": "acme/gpt"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "model",
        ),
        (
            "/v1/agents",
            json!({"name": "x", "model": "gpt"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "model",
        ),
        (
            "/v1/agents",
            json!({"name": "x", "model": "offline/demo", "tools": ["calculator", "rm_rf"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "tools[1]",
        ),
        (
            "/v1/agents",
            json!({"name": "x", "model": "offline/demo", "tools": ["calculator", {"name": "calculator"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "tools[1]",
        ),
        (
            "/v1/agents",
            json!({"name": "x", "model": "offline/demo", "limits": {"max_steps": 1000}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "limits.max_steps",
        ),
        (
            "/v1/agents",
            json!({"name": "demo", "model": "offline/demo"}),
            StatusCode::CONFLICT,
            "agent_exists",
            "demo",
        ),
    ];
    for (path, body, expected, code, needle) in table {
        let (status, response) = app
            .request("POST", path, Some(&key), Some(body.clone()))
            .await;
        assert_error(status, &response, expected, code);
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body} → {message}");
    }

    let huge = json!({"agent": "demo", "input": "x".repeat(1024 * 1024 + 10)});
    let (status, body) = app
        .request("POST", "/v1/runs", Some(&key), Some(huge))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let long_input = json!({"agent": "demo", "input": "x".repeat(300 * 1024)});
    let (status, body) = app
        .request("POST", "/v1/runs", Some(&key), Some(long_input))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_request",
    );

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("status=done", "status"),
        ("cursor=zz", "cursor"),
        ("colour=red", "colour"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (status, body) = app
            .request("GET", &format!("/v1/runs?{query}"), Some(&key), None)
            .await;
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
    let (status, body) = app.request("GET", "/v1/nowhere", Some(&key), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not_found");
    let (status, body) = app.request("DELETE", "/v1/runs", Some(&key), None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    // Nothing above left a run behind.
    let (_, runs) = app.request("GET", "/v1/runs", Some(&key), None).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 0);
}

on_each_backend!(a_workspace_never_sees_another_workspaces_data);
async fn a_workspace_never_sees_another_workspaces_data(db: TestDb) {
    let app = TestApp::start(db).await;
    let (_, key_a) = app.tenant("tenant-a").await;
    let (_, key_b) = app.tenant("tenant-b").await;
    let (status, _) = app
        .request(
            "POST",
            "/v1/agents",
            Some(&key_a),
            Some(json!({"name": "secret-agent", "model": "offline/demo"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let run = app.submit(&key_a, "What is 2 + 2?").await;
    let run_id = run["id"].as_str().unwrap();

    let (status, body) = app
        .request("GET", &format!("/v1/runs/{run_id}"), Some(&key_b), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "run_not_found");
    let (status_missing, body_missing) = app
        .request(
            "GET",
            "/v1/runs/0190c0de00007000800000000000000a",
            Some(&key_b),
            None,
        )
        .await;
    assert_eq!(
        (status, &body),
        (status_missing, &body_missing),
        "another tenant's run looks exactly like a missing one"
    );
    let (_, list) = app.request("GET", "/v1/runs", Some(&key_b), None).await;
    assert_eq!(list["runs"].as_array().unwrap().len(), 0);
    let (status, body) = app
        .request("GET", "/v1/agents/secret-agent", Some(&key_b), None)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "agent_not_found");
    let (_, agents) = app.request("GET", "/v1/agents", Some(&key_b), None).await;
    let names: Vec<&str> = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["demo"]);

    let finished = app
        .wait_for_run(&key_a, run_id, Duration::from_secs(60))
        .await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
}

on_each_backend!(an_idempotency_key_starts_one_workflow);
async fn an_idempotency_key_starts_one_workflow(db: TestDb) {
    let app = TestApp::start(db).await;
    let (_, key) = app.tenant("idem").await;
    let body = json!({"agent": "demo", "input": "What is 6 * 7?"});
    let send = |body: Value, idempotency: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            let response = app
                .http
                .post(format!("{}/v1/runs", app.base))
                .bearer_auth(key)
                .header("idempotency-key", idempotency)
                .json(&body)
                .send()
                .await
                .unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
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
    let finished = app
        .wait_for_run(&key, run_id, Duration::from_secs(60))
        .await;
    assert_eq!(finished["result"], "6 * 7 = 42.", "{finished}");
    let (again_status, again) = send(body, "order-42").await;
    assert_eq!((again_status, &again["id"]), (StatusCode::OK, &first["id"]));

    let client =
        longrun_temporal::connect(&crate::harness::temporal_settings(&app.temporal), "test")
            .await
            .unwrap();
    let workflow_id = first["workflow_id"].as_str().unwrap();
    let count = client
        .count_workflows(format!("WorkflowId = '{workflow_id}'"), Default::default())
        .await
        .unwrap();
    assert_eq!(
        count.count(),
        1,
        "exactly one workflow execution for the key"
    );
    let (_, list) = app.request("GET", "/v1/runs", Some(&key), None).await;
    assert_eq!(list["runs"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_scheduler_answers_503_and_leaves_no_run() {
    let closed_port = longrun_temporal::dev_server::free_port().unwrap();
    let app = TestApp::start_with(
        TestDb::sqlite(),
        Options {
            with_worker: false,
            api_temporal: Some(format!("http://127.0.0.1:{closed_port}")),
            ..Default::default()
        },
    )
    .await;
    let (_, key) = app.tenant("offline").await;
    let started = std::time::Instant::now();
    let (status, body) = app
        .request(
            "POST",
            "/v1/runs",
            Some(&key),
            Some(json!({"agent": "demo", "input": "What is 1 + 1?"})),
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::SERVICE_UNAVAILABLE,
        "scheduler_unavailable",
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "answered in {:?}",
        started.elapsed()
    );
    let (_, list) = app.request("GET", "/v1/runs", Some(&key), None).await;
    assert_eq!(list["runs"].as_array().unwrap().len(), 0, "{list}");
    let (status, ready) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["checks"]["temporal"]["status"], "unavailable");
}

//! Tenancy: accounts and tokens, roles, the audit log, isolation of every route, rate limits,
//! admission caps and quotas, the hard cap mid-run, usage alerts, priority and fairness.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use longrun_api::access::ROUTES;
use longrun_api::auth::Role;

use crate::harness::{MINUTE, Options, TestApp, TestDb};
use crate::on_each_backend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_login_logout_and_token_tampering() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let register = json!({"workspace": "acme", "email": "Ada@Example.com", "password": "correct horse battery"});
    let (status, body) = app.post_public("/v1/auth/register", register.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert!(body["workspace_id"].as_str().unwrap().starts_with("ws_"));
    let (status, _) = app.get(&token, "/v1/runs").await;
    assert_eq!(status, StatusCode::OK, "a registration token works");
    let (_, quota) = app.get(&token, "/v1/quota").await;
    assert_eq!(quota["tier"], "free", "new workspaces start on free");

    // Duplicates and bad input.
    let (status, body) = app.post_public("/v1/auth/register", register).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("workspace_exists"))
    );
    // The same email in another workspace: created, so sign-up never tells whether an email
    // has an account (login goes to the first one unless the workspace is named).
    let again = json!({"workspace": "acme2", "email": "ada@example.com", "password": "another horse battery"});
    let (status, body) = app.post_public("/v1/auth/register", again).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (body, field) in [
        (
            json!({"workspace": "x", "email": "x@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"workspace": "Bad Slug", "email": "x@example.com", "password": "long enough!"}),
            "workspace",
        ),
        (
            json!({"workspace": "x", "email": "not-an-email", "password": "long enough!"}),
            "email",
        ),
    ] {
        let (status, response) = app.post_public("/v1/auth/register", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{response}");
        let message = response["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(field), "{response}");
    }

    // Login: the right password works; a wrong one and an unknown email look the same.
    let login = async |email: &str, password: &str| {
        let credentials = json!({"email": email, "password": password});
        app.post_public("/v1/auth/login", credentials).await
    };
    let (status, body) = login("ada@example.com", "correct horse battery").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session = body["token"].as_str().unwrap().to_string();
    let timed = async |email: &str| {
        let started = Instant::now();
        let (status, body) = login(email, "wrong password!").await;
        (status, body, started.elapsed())
    };
    let (s1, b1, wrong_password) = timed("ada@example.com").await;
    let (s2, b2, unknown_email) = timed("nobody@example.com").await;
    assert_eq!(
        (s1, s2),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(b1, b2, "the same answer");
    let ratio = wrong_password.as_secs_f64() / unknown_email.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "similar time: {wrong_password:?} vs {unknown_email:?}"
    );

    // Tampering: every variant is a plain 401.
    let [header, payload, signature]: [&str; 3] =
        session.split('.').collect::<Vec<_>>().try_into().unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"] = json!(1);
    let expired = URL_SAFE_NO_PAD.encode(claims.to_string());
    claims["exp"] = json!(4_000_000_000i64);
    claims["workspace"] = json!("ws_someone_else");
    let forged = URL_SAFE_NO_PAD.encode(claims.to_string());
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let expired_but_signed = {
        let keys =
            longrun_api::jwt::JwtKeys::new(crate::harness::TEST_JWT_SECRET.to_string().into(), 1);
        let mut c: longrun_api::jwt::Claims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        c.exp = 1;
        keys.sign(&c)
    };
    for bad in [
        format!("{header}.{expired}.{signature}"),
        format!("{header}.{forged}.{signature}"),
        format!("{none}.{payload}."),
        format!("{none}.{forged}."),
        expired_but_signed,
        format!("{header}.{payload}.{}", "A".repeat(43)),
    ] {
        let (status, body) = app.get(&bad, "/v1/runs").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{bad}"
        );
    }

    // Logout revokes the token at once; another session is unaffected.
    let (status, _) = app
        .request("POST", "/v1/auth/logout", Some(&session), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&session, "/v1/runs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get(&token, "/v1/runs").await;
    assert_eq!(status, StatusCode::OK);

    // The audit log saw it all.
    let audit = app.audit(&token, "?limit=100").await;
    let actions: BTreeSet<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "auth.register",
        "auth.login",
        "auth.login_failed",
        "auth.logout",
    ] {
        assert!(
            actions.contains(action),
            "{action} missing from {actions:?}"
        );
    }

    // Login is rate-limited per email.
    let mut limited = false;
    for _ in 0..12 {
        let (status, _) = login("ada@example.com", "wrong password!").await;
        limited |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "repeated failures are throttled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_can_be_turned_off() {
    let options = Options {
        allow_signup: false,
        ..Options::no_worker()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let account = json!({"workspace": "x", "email": "x@example.com", "password": "long enough!"});
    let (status, body) = app.post_public("/v1/auth/register", account).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("signup_disabled"))
    );
}

/// A concrete path for a route template.
fn path_of(route: &str, run_id: &str, key_id: &str) -> String {
    route
        .replace(
            "{id}",
            if route.starts_with("/v1/api-keys") {
                key_id
            } else {
                run_id
            },
        )
        .replace("{name}", "demo")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_admits_exactly_the_roles_it_declares() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (workspace, keys) = app.workspace("roles", "pro", &[]).await;
    app.demo_agent(&keys[0]).await;
    let run_id = app.submit_to(&keys[0], "demo", "What is 1 + 1?").await;
    let spare = app
        .store
        .list_api_keys(&workspace.id, None, 100)
        .await
        .unwrap()[2]
        .id
        .clone();
    for (method, route, admitted) in ROUTES {
        for (role, key) in Role::ALL.iter().zip(&keys) {
            if *route == "/v1/auth/logout"
                || (*route == "/v1/api-keys/{id}" && admitted.contains(role))
            {
                continue; // logout needs a token; revoking would cut the table short
            }
            let path = path_of(route, &run_id, &spare);
            let body = (method != "GET").then(|| json!({}));
            let (status, response) = app
                .request_or_stream(method.as_str(), &path, key, body)
                .await;
            if admitted.contains(role) {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{} may use {method} {route}: {status} {response}",
                    role.as_str()
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} may not use {method} {route}: {response}",
                    role.as_str()
                );
                assert_eq!(response["error"]["code"], "forbidden");
            }
        }
    }
}

on_each_backend!(another_workspace_gets_nothing_from_any_route);
async fn another_workspace_gets_nothing_from_any_route(db: TestDb) {
    let app = TestApp::start_with(db, Options::no_worker()).await;
    let (a, a_keys) = app.workspace("victim", "pro", &[]).await;
    let (_, b_keys) = app.workspace("intruder", "pro", &[]).await;
    app.demo_agent(&a_keys[0]).await;
    let secret_agent = json!({"name": "secret-agent", "model": "offline/demo", "system_prompt": "TOP-SECRET-PROMPT"});
    app.create_agent(&a_keys[0], secret_agent).await;
    let run_id = app.submit_to(&a_keys[0], "demo", "What is 40 + 2?").await;
    let a_key_id = app.store.list_api_keys(&a.id, None, 100).await.unwrap()[0]
        .id
        .clone();
    // What the intruder must not learn (names and ids it sent itself may come back in errors).
    let secrets = [
        "TOP-SECRET-PROMPT",
        "40 + 2",
        a.id.as_str(),
        a.slug.as_str(),
    ];
    for (method, route, _) in ROUTES {
        if *route == "/v1/auth/logout" {
            continue;
        }
        let path = path_of(route, &run_id, &a_key_id).replace("/demo", "/secret-agent");
        let body = match (method.as_str(), *route) {
            ("GET", _) => None,
            (_, "/v1/runs/{id}/approvals") => Some(json!({"tool_call_id": "x", "approve": true})),
            (_, "/v1/runs/{id}/messages") => Some(json!({"text": "hi"})),
            (_, "/v1/runs/{id}/tool-results") => {
                Some(json!({"tool_call_id": "x", "content": "out"}))
            }
            _ => Some(json!({})),
        };
        let (status, response) = app
            .request_or_stream(method.as_str(), &path, &b_keys[0], body)
            .await;
        let text = response.to_string();
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{method} {route} leaked {secret}: {text}"
            );
        }
        if route.contains('{') {
            assert!(
                matches!(
                    status,
                    StatusCode::NOT_FOUND
                        | StatusCode::FORBIDDEN
                        | StatusCode::UNPROCESSABLE_ENTITY
                ),
                "{method} {route} on another workspace's resource: {status} {text}"
            );
        }
    }
    // Nothing of A was touched.
    let (_, run) = app.get(&a_keys[0], &format!("/v1/runs/{run_id}")).await;
    assert_eq!(run["status"], "queued");
    assert!(app.store.agent(&a.id, "demo").await.unwrap().is_some());
    assert_eq!(
        app.store
            .list_api_keys(&a.id, None, 100)
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_shown_once_listed_without_secrets_and_revoked_at_once() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (_, keys) = app.workspace("keys", "pro", &[]).await;
    let ci = json!({"name": "ci", "role": "member"});
    let (status, created) = app.post(&keys[0], "/v1/api-keys", ci).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let (_, listed) = app.get(&keys[0], "/v1/api-keys").await;
    let text = listed.to_string();
    assert!(!text.contains(&secret) && !text.contains("hash"), "{text}");
    assert!(
        listed["api_keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == created["id"] && k["prefix"].as_str().is_some())
    );
    let (status, _) = app.get(&secret, "/v1/runs").await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/v1/api-keys/{}", created["id"].as_str().unwrap());
    let (status, _) = app.request("DELETE", &path, Some(&keys[0]), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&secret, "/v1/runs").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked at once");
    let root = json!({"name": "x", "role": "root"});
    let (status, body) = app.post(&keys[0], "/v1/api-keys", root).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let audit = app.audit(&keys[0], "").await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        &actions[..2],
        ["api_key.revoke", "api_key.create"],
        "newest first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_rate_limited_per_workspace_with_headers() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (_, keys) = app
        .workspace("chatty", "pro", &[("requests_per_minute", "5")])
        .await;
    let (_, other) = app
        .workspace("quiet", "pro", &[("requests_per_minute", "5")])
        .await;
    let list = async |key: &str| app.exchange("GET", "/v1/runs", Some(key), None).await;
    for n in 0..5 {
        let (status, headers, _) = list(&keys[1]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["ratelimit-limit"], "5");
        assert_eq!(headers["ratelimit-remaining"], (4 - n).to_string().as_str());
        assert!(headers.contains_key("ratelimit-reset"));
    }
    let (status, headers, body) = list(&keys[0]).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the limit is the workspace's, whatever the key"
    );
    assert_eq!(headers["retry-after"], "12", "5/min: one every 12 s");
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(body["error"]["code"], "rate_limited");
    let (status, _) = app.get(&other[0], "/v1/runs").await;
    assert_eq!(status, StatusCode::OK, "another workspace is not affected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_api_instances_sharing_redis_share_one_limit() {
    let redis = crate::harness::test_redis_url();
    let db = TestDb::sqlite();
    let sharing = |redis: &str| Options {
        redis: Some(redis.to_string()),
        ..Options::no_worker()
    };
    let first = TestApp::start_with(db.clone(), sharing(&redis)).await;
    let (_, keys) = first
        .workspace(
            &format!("shared-{}", &longrun_store::new_run_id()[20..]),
            "pro",
            &[("requests_per_minute", "20")],
        )
        .await;
    // A second instance on the same database and Redis.
    let second = TestApp::start_with(db, sharing(&redis)).await;
    let answers = join_all((0..60).map(|n| {
        let app = if n % 2 == 0 { &first } else { &second };
        app.get(&keys[1], "/v1/runs")
    }))
    .await;
    let allowed = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .count();
    assert!(
        (20..=21).contains(&allowed),
        "{allowed} requests passed a shared limit of 20/min"
    );
}

on_each_backend!(a_burst_of_submissions_admits_exactly_the_concurrency_cap);
async fn a_burst_of_submissions_admits_exactly_the_concurrency_cap(db: TestDb) {
    let app = TestApp::start_with(db, Options::no_worker()).await;
    let (_, keys) = app
        .workspace("burst", "starter", &[("requests_per_minute", "1000")])
        .await;
    app.demo_agent(&keys[0]).await;
    let answers = join_all((0..100).map(|n| {
        let run = json!({"agent": "demo", "input": format!("What is {n} + 1?")});
        app.exchange("POST", "/v1/runs", Some(&keys[1]), Some(run))
    }))
    .await;
    let (mut admitted, mut refused) = (0, 0);
    for (status, headers, body) in answers {
        match status {
            StatusCode::ACCEPTED => admitted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(body["error"]["code"], "concurrency_limit", "{body}");
                assert_eq!(body["error"]["limit"], 5);
                assert!(headers.contains_key("retry-after"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(
        (admitted, refused),
        (5, 95),
        "starter allows 5 concurrent runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_quota_refuses_new_runs_with_the_numbers() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, keys) = app
        .workspace("spent", "pro", &[("tokens_per_month", "100")])
        .await;
    app.demo_agent(&keys[0]).await;
    let run_id = app.submit_to(&keys[1], "demo", "What is 5 * 5?").await;
    let run = app.wait_for_run(&keys[1], &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let used = run["usage"]["input_tokens"].as_i64().unwrap()
        + run["usage"]["output_tokens"].as_i64().unwrap();
    assert!(used >= 100, "{used}");
    let again = json!({"agent": "demo", "input": "again"});
    let (status, body) = app.post(&keys[1], "/v1/runs", again).await;
    assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{body}");
    assert_eq!(body["error"]["code"], "quota_exhausted");
    assert_eq!(body["error"]["metric"], "tokens");
    assert_eq!(body["error"]["used"], used);
    assert_eq!(body["error"]["limit"], 100);
    let (_, quota) = app.get(&keys[1], "/v1/quota").await;
    assert_eq!(quota["used"]["tokens"], used);
    assert_eq!(quota["remaining"]["tokens"], 0);
    assert_eq!(quota["limits"]["tokens_per_month"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_pauses_at_the_hard_cap_resumes_when_raised_and_alerts_fire_once() {
    let mut options = Options::default();
    options.tuning.quota_recheck_s = 3600;
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    // Free: the hard cap is the quota itself.
    let quota = [("tokens_per_month", "150"), ("requests_per_minute", "1000")];
    let (workspace, keys) = app.workspace("capped", "free", &quota).await;
    app.demo_agent(&keys[0]).await;
    let first = app.submit_to(&keys[1], "demo", "What is 2 + 2?").await;
    assert_eq!(
        app.wait_for_run(&keys[1], &first, MINUTE).await["status"],
        "succeeded"
    );
    let second = app.submit_to(&keys[1], "demo", "What is 3 + 3?").await;
    let paused = app
        .wait_for_status(&keys[1], &second, "paused_quota", MINUTE)
        .await;
    assert!(paused["finished_at"].is_null());
    let tokens = async || {
        let usage = app.store.usage_since(&workspace.id, 0).await.unwrap();
        usage.tokens()
    };
    let tokens_when_paused = tokens().await;

    // Raising the limit (what `longrun admin workspace set-quota` does) and signalling.
    app.set_quota(&workspace, &[("tokens_per_month", "100000")])
        .await;
    let client = app.temporal_client().await;
    let handle = client.get_workflow_handle::<longrun_workflows::AgentRunWorkflow>(
        paused["workflow_id"].as_str().unwrap().to_string(),
    );
    handle
        .signal(
            longrun_workflows::AgentRunWorkflow::resume,
            (),
            Default::default(),
        )
        .await
        .unwrap();
    let run = app.wait_for_run(&keys[1], &second, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["result"], "3 + 3 = 6.");
    let kinds = app.event_kinds(&workspace.id, &second).await;
    let position = |kind: &str| kinds.iter().position(|k| k == kind).expect(kind);
    assert!(position("quota.paused") < position("quota.resumed"));
    let tokens_after = tokens().await;
    assert!(
        tokens_after > tokens_when_paused,
        "it went on spending only after the raise"
    );

    // Alerts at 80 %, 100 % (and, on the old 150-token quota, 200 % could not be reached
    // before the raise): each once.
    let (_, quota) = app.get(&keys[0], "/v1/quota").await;
    let raised: Vec<(String, i64)> = quota["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["metric"].as_str().unwrap().to_string(),
                a["threshold_percent"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(raised.contains(&("tokens".to_string(), 80)), "{raised:?}");
    assert!(raised.contains(&("tokens".to_string(), 100)), "{raised:?}");
    let audit = app.audit(&keys[0], "?limit=200").await;
    let alerts: Vec<(String, i64)> = audit
        .iter()
        .filter(|e| e["action"] == "quota.alert")
        .map(|e| {
            (
                e["data"]["metric"].as_str().unwrap().to_string(),
                e["data"]["threshold_percent"].as_i64().unwrap(),
            )
        })
        .collect();
    let unique: BTreeSet<_> = alerts.iter().cloned().collect();
    assert_eq!(alerts.len(), unique.len(), "each alert once: {alerts:?}");
    assert_eq!(alerts.len(), raised.len());
}

/// An app whose worker, once started, runs one workflow task at a time: the order in which
/// runs start is the order the queue hands them out.
async fn one_slot() -> TestApp {
    let options = Options {
        workflow_slots: 1,
        ..Options::no_worker()
    };
    TestApp::start_with(TestDb::sqlite(), options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pro_run_is_dispatched_before_queued_free_runs() {
    let mut app = one_slot().await;
    let roomy = [("concurrent_runs", "100"), ("requests_per_minute", "1000")];
    let (free, free_keys) = app.workspace("freebies", "free", &roomy).await;
    let (pro, pro_keys) = app.workspace("payers", "pro", &[]).await;
    app.demo_agent(&free_keys[0]).await;
    app.demo_agent(&pro_keys[0]).await;
    let mut free_runs = Vec::new();
    for n in 0..20 {
        free_runs.push(
            app.submit_to(&free_keys[1], "demo", &format!("What is {n} + 1?"))
                .await,
        );
    }
    let pro_run = app.submit_to(&pro_keys[1], "demo", "What is 7 * 6?").await;
    let queued: Vec<&str> = free_runs.iter().map(String::as_str).collect();
    app.wait_dispatched(free.id.as_str(), &queued).await;
    app.wait_dispatched(pro.id.as_str(), &[&pro_run]).await;
    app.start_worker();
    let pro_started = app.wait_for_run(&pro_keys[1], &pro_run, MINUTE).await["started_at"]
        .as_str()
        .unwrap()
        .to_string();
    let mut before = 0;
    for id in &free_runs {
        let run = app
            .wait_for_run(&free_keys[1], id, Duration::from_secs(180))
            .await;
        if run["started_at"].as_str().unwrap() < pro_started.as_str() {
            before += 1;
        }
    }
    assert_eq!(before, 0, "no free run started before the pro run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_of_one_tier_are_interleaved_not_first_come_first_served() {
    let mut app = one_slot().await;
    let overrides = [("concurrent_runs", "100"), ("requests_per_minute", "1000")];
    let (a, a_keys) = app.workspace("early", "starter", &overrides).await;
    let (b, b_keys) = app.workspace("late", "starter", &overrides).await;
    app.demo_agent(&a_keys[0]).await;
    app.demo_agent(&b_keys[0]).await;
    let mut runs = Vec::new();
    for (tenant, keys, plus) in [("early", &a_keys, 2), ("late", &b_keys, 3)] {
        for n in 0..30 {
            let input = format!("What is {n} + {plus}?");
            let id = app.submit_to(&keys[1], "demo", &input).await;
            runs.push((tenant, keys[1].clone(), id));
        }
    }
    for (workspace, tenant) in [(&a, "early"), (&b, "late")] {
        let queued: Vec<&str> = runs
            .iter()
            .filter(|(t, _, _)| *t == tenant)
            .map(|(_, _, id)| id.as_str())
            .collect();
        app.wait_dispatched(workspace.id.as_str(), &queued).await;
    }
    app.start_worker();
    let mut starts = Vec::new();
    for (tenant, key, id) in &runs {
        let run = app.wait_for_run(key, id, Duration::from_secs(300)).await;
        starts.push((run["started_at"].as_str().unwrap().to_string(), *tenant));
    }
    starts.sort();
    let late_in_first_half = starts[..30].iter().filter(|(_, t)| *t == "late").count();
    assert!(
        late_in_first_half >= 8,
        "the later tenant got {late_in_first_half} of the first 30 starts: served first-come-first-served"
    );
}

//! Hostile and careless clients, on a real server over real sockets: half-open connection
//! floods, stream floods, oversized model names, budgets that try to loosen an agent's
//! limits, password guessing, sign-up floods, retried messages. Sizes are smoke sizes; the
//! caps are scaled down through settings, never by sleeping.
//!
//! Attackers connect from other loopback addresses (127.0.0.2 and up: all of 127/8 is
//! loopback on Linux), as distinct clients would; the honest client uses 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{MINUTE, Options, TestApp, TestDb, wait_until};
use crate::sse::SseReader;

fn attacker(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// A client whose connections come from `ip`.
fn client_from(ip: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip)
        .build()
        .unwrap()
}

async fn connect_from(ip: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(to).await
}

fn server_address(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

/// Whether the server closed `stream` (EOF or reset), reading whatever it sent first.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> (bool, String) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return (false, String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(0)) | Ok(Err(_)) => return (true, String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Answers `/healthz` and an authenticated list from the honest client, each within a second.
async fn honest_requests_answer_quickly(app: &TestApp, key: &str) {
    for (path, auth) in [("/healthz", None), ("/v1/runs?limit=1", Some(key))] {
        let started = Instant::now();
        let mut request = app.http.get(format!("{}{path}", app.base));
        if let Some(key) = auth {
            request = request.bearer_auth(key);
        }
        let response = tokio::time::timeout(Duration::from_secs(1), request.send())
            .await
            .unwrap_or_else(|_| panic!("{path} did not answer within a second"))
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(started.elapsed() < Duration::from_secs(1), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_leave_the_api_answering() {
    let options = Options {
        server_limits: longrun_api::ServerLimits {
            header_timeout: Duration::from_secs(2),
            body_timeout: Duration::from_secs(2),
            max_connections: 2_000,
            max_connections_per_ip: 64,
            ..longrun_api::ServerLimits::default()
        },
        ..Options::no_worker()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (_, key) = app.tenant("honest").await;
    let to = server_address(&app);
    // 2,400 sockets from 24 addresses, each sending half a request and then nothing.
    let mut held = Vec::new();
    for n in 0..2_400u32 {
        let ip = attacker(2 + (n % 24) as u8);
        match connect_from(ip, to).await {
            Ok(mut stream) => {
                let _ = stream
                    .write_all(b"GET /healthz HTTP/1.1\r\nHost: longrun\r\nX-Slow: ")
                    .await;
                held.push(stream);
            }
            Err(err) => panic!("connect {n}: {err}"),
        }
    }
    honest_requests_answer_quickly(&app, &key).await;

    // Past the per-address cap, connections were answered 503 and closed at once.
    let (closed, answer) = closed_by_server(held.last_mut().unwrap(), Duration::from_secs(1)).await;
    assert!(closed, "a connection over the per-address cap stays open");
    assert!(
        answer.contains(" 503 ") && answer.contains("too_many_connections"),
        "{answer}"
    );
    let open = app
        .registry
        .gather()
        .into_iter()
        .find(|m| m.name() == "longrun_http_connections_open")
        .map(|m| m.get_metric()[0].get_gauge().get_value())
        .unwrap();
    assert!(open <= 24.0 * 64.0 + 2.0, "{open} connections held open");

    // The accepted half-requests are closed once the head timeout passes.
    let (closed, _) = closed_by_server(&mut held[0], Duration::from_secs(5)).await;
    assert!(
        closed,
        "a half-sent request head held its connection past the timeout"
    );
    honest_requests_answer_quickly(&app, &key).await;

    // A body that never arrives whole is answered 408.
    let mut slow = connect_from(attacker(30), to).await.unwrap();
    slow.write_all(
        format!(
            "POST /v1/agents HTTP/1.1\r\nHost: longrun\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (closed, answer) = closed_by_server(&mut slow, Duration::from_secs(10)).await;
    assert!(closed && answer.contains(" 408 "), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
}

/// A workspace whose `chat` agent waits for human input after its first answer.
async fn waiting_run(app: &TestApp, slug: &str) -> (longrun_store::Workspace, String, String) {
    let agent = json!({"name": "chat", "model": "offline/demo", "await_input": true});
    let (workspace, key) = app.tenant_with_agent(slug, agent).await;
    let run_id = app.submit_to(&key, "chat", "hello").await;
    app.wait_for_status(&key, &run_id, "waiting_input", MINUTE)
        .await;
    (workspace, key, run_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_flood_gets_429s_and_one_follower_per_run() {
    let options = Options {
        max_streams_per_run: 5,
        ..Options::default()
    };
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let (workspace, key, run_id) = waiting_run(&app, "flood").await;
    let mut readers = Vec::new();
    let mut refused = 0;
    for _ in 0..40 {
        let response = app
            .http
            .get(format!("{}/v1/runs/{run_id}/events", app.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => readers.push(response),
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(response.headers().contains_key("retry-after"));
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "too_many_streams", "{body}");
                assert_eq!(body["error"]["limit"], 5, "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((readers.len(), refused), (5, 35));
    assert_eq!(app.feeds.streams_of(&workspace.id), 5);
    assert_eq!(
        app.feeds.followers(),
        1,
        "one store follower serves every stream of a run"
    );

    // Every open stream gets what happens next.
    let mut streams: Vec<SseReader> = Vec::new();
    drop(readers);
    wait_until(MINUTE, "closed streams were not released", || {
        app.feeds.streams_of(&workspace.id) == 0
    })
    .await;
    for _ in 0..5 {
        streams.push(SseReader::open(&app, &key, &run_id, None).await);
    }
    let question = json!({"text": "What is 6 * 7?"});
    let (status, _) = app.act(&key, &run_id, "messages", Some(question)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    for stream in &mut streams {
        let mut kinds = Vec::new();
        while let Some(event) = stream.next(MINUTE).await {
            kinds.push(event.event.clone());
            if event.event == "run.completed" {
                break;
            }
        }
        assert!(kinds.contains(&"input.received".to_string()), "{kinds:?}");
        assert_eq!(kinds.last().map(String::as_str), Some("run.completed"));
        // Stored events arrive once each, in order.
        let mut seen = kinds.clone();
        seen.retain(|k| k != "llm.delta");
        seen.dedup();
        assert_eq!(
            seen.len(),
            kinds.iter().filter(|k| *k != "llm.delta").count()
        );
    }

    // The workspace's cap (its tier's, overridden here) holds across its runs.
    app.set_quota(&workspace, &[("event_streams", "3")]).await;
    let other = app.submit_to(&key, "chat", "hi").await;
    let third = app.submit_to(&key, "chat", "hi again").await;
    for run in [&other, &third] {
        app.wait_for_status(&key, run, "waiting_input", MINUTE)
            .await;
    }
    let _first = SseReader::open(&app, &key, &other, None).await;
    let _second = SseReader::open(&app, &key, &other, None).await;
    let _third = SseReader::open(&app, &key, &third, None).await;
    assert_eq!(app.feeds.streams_of(&workspace.id), 3);
    let (status, body) = app
        .request_or_stream("GET", &format!("/v1/runs/{other}/events"), &key, None)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["limit"], 3, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_names_are_bounded_and_never_become_label_values() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (_, key) = app.tenant("models").await;
    let huge = format!("openai/{}", "a".repeat(300_000));
    for (model, needle) in [
        (huge.as_str(), "longer than 128 bytes"),
        ("openai/<script>alert(1)</script>", "is not allowed"),
        ("openai/gpt 4", "is not allowed"),
        ("openai/gpt\n4", "is not allowed"),
        ("acme/model", "provider"),
    ] {
        let agent = json!({"name": "m", "model": model});
        let (status, body) = app.post(&key, "/v1/agents", agent).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("model:"), "{message}");
        assert!(message.contains(needle), "{message}");
        assert!(message.len() < 300, "the error echoes the whole name");
    }
    for model in [
        "openai/meta-llama/Llama-3.1-8B",
        "openai/llama3.1:8b",
        "anthropic/claude-sonnet-4-5",
    ] {
        let name = format!("ok-{}", model.len());
        let agent = json!({"name": name, "model": model});
        let (status, body) = app.post(&key, "/v1/agents", agent).await;
        assert_eq!(status, StatusCode::CREATED, "{model}: {body}");
    }
    // Methods a client invents are counted under one label value.
    for n in 0..50 {
        let method = reqwest::Method::from_bytes(format!("BREW{n}").as_bytes()).unwrap();
        let _ = app
            .http
            .request(method, format!("{}/v1/agents", app.base))
            .send()
            .await
            .unwrap();
    }
    let text = prometheus::TextEncoder::new()
        .encode_to_string(&app.registry.gather())
        .unwrap();
    assert!(
        !text.contains("BREW"),
        "client-chosen methods became label values"
    );
    assert!(text.contains("method=\"other\""));
    assert!(text.len() < 200_000, "{} bytes of metrics", text.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_budget_only_tightens_the_agents_limits() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let agent = json!({"name": "capped", "model": "offline/demo", "tools": ["calculator"],
        "limits": {"max_steps": 3, "max_tokens": 5000, "max_cost_usd": 0.1, "max_duration_s": 60}});
    let (workspace, admin) = app.tenant_with_agent("budgets", agent).await;
    let (_, member) = longrun_api::issue_api_key(&app.store, &workspace.id, "m", "member")
        .await
        .unwrap();
    for (budget, field) in [
        (json!({"max_steps": 4}), "budget.max_steps"),
        (json!({"max_tokens": 5001}), "budget.max_tokens"),
        (json!({"max_cost_usd": 0.5}), "budget.max_cost_usd"),
        (json!({"max_duration_s": 3600}), "budget.max_duration_s"),
    ] {
        for key in [&member, &admin] {
            let run = json!({"agent": "capped", "input": "1+1", "budget": budget});
            let (status, body) = app.post(key, "/v1/runs", run).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(field), "{message}");
        }
    }
    let run = json!({"agent": "capped", "input": "What is 1+1?", "budget": {"max_steps": 2, "max_cost_usd": 0.05}});
    let body = app.submit_run(&member, run).await;
    let run = app
        .wait_for_run(&member, body["id"].as_str().unwrap(), MINUTE)
        .await;
    assert_eq!(run["status"], "succeeded", "{run}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_logs_in_while_someone_guesses_the_password() {
    let mut options = Options::no_worker();
    options.signups_per_ip_per_day = 3;
    let app = TestApp::start_with(TestDb::sqlite(), options).await;
    let owner = client_from(attacker(1));
    let guesser = client_from(attacker(40));
    let password = "correct horse battery";
    let register = |client: &reqwest::Client, workspace: &str, email: &str| {
        client
            .post(format!("{}/v1/auth/register", app.base))
            .json(&json!({"workspace": workspace, "email": email, "password": password}))
            .send()
    };
    let created = register(&owner, "owned", "owner@example.com")
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let login = |client: &reqwest::Client, password: &str| {
        client
            .post(format!("{}/v1/auth/login", app.base))
            .json(&json!({"email": "owner@example.com", "password": password}))
            .send()
    };
    let mut refused_with_wait = 0;
    for n in 0..12 {
        let response = login(&guesser, &format!("guess-number-{n}")).await.unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => {
                let wait: u64 = response.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(wait >= 1);
                refused_with_wait += 1;
            }
            other => panic!("guess {n}: {other}"),
        }
        // Meanwhile the owner, from their own address, gets in every time.
        if n % 4 == 3 {
            assert_eq!(
                login(&owner, password).await.unwrap().status(),
                StatusCode::OK
            );
        }
    }
    assert!(refused_with_wait >= 5, "the guesser was never slowed down");
    assert_eq!(
        login(&guesser, password).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits out the guesser's delay"
    );

    // Sign-up never tells whether an email has an account: a second workspace for the same
    // email is simply created. Logging in goes to the email's first account unless the
    // workspace is named.
    let response = register(&guesser, "another", "owner@example.com")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let token_workspace = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["workspace_id"].as_str().unwrap().to_string()
    };
    let first = token_workspace(login(&owner, password).await.unwrap()).await;
    let named = |slug: &'static str| {
        owner
            .post(format!("{}/v1/auth/login", app.base))
            .json(&json!({"email": "owner@example.com", "password": password, "workspace": slug}))
            .send()
    };
    assert_eq!(token_workspace(named("owned").await.unwrap()).await, first);
    assert_ne!(
        token_workspace(named("another").await.unwrap()).await,
        first
    );
    // A taken slug is refused without a word about the email.
    let response = register(&guesser, "owned", "someone@example.com")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "workspace_exists");
    // Three attempts a day from one address, the refused one included.
    let response = register(&guesser, "third", "x@example.com").await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = register(&guesser, "fourth", "x@example.com").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let elsewhere = register(&owner, "from-elsewhere", "y@example.com").await;
    assert_eq!(elsewhere.unwrap().status(), StatusCode::CREATED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_messages_are_delivered_once() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (workspace, key, run_id) = waiting_run(&app, "retries").await;
    let send = |idempotency_key: &'static str, text: &'static str| {
        app.http
            .post(format!("{}/v1/runs/{run_id}/messages", app.base))
            .bearer_auth(&key)
            .header("idempotency-key", idempotency_key)
            .json(&json!({ "text": text }))
            .send()
    };
    // Not arithmetic: the model asks again and the run keeps waiting.
    let first = send("msg-1", "hello there").await.unwrap();
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    assert!(!first.headers().contains_key("idempotency-replayed"));
    let retry = send("msg-1", "hello there").await.unwrap();
    assert_eq!(retry.status(), StatusCode::ACCEPTED);
    assert_eq!(retry.headers()["idempotency-replayed"], "true");
    let reused = send("msg-1", "something else").await.unwrap();
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = reused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "idempotency_key_reused");

    // A request that died after signalling (its key never finished) is retried after the key
    // went stale: the workflow itself drops the message it already has.
    app.store
        .abandon_idempotent(&workspace.id, "msg-1")
        .await
        .unwrap();
    let again = send("msg-1", "hello there").await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED);
    assert!(!again.headers().contains_key("idempotency-replayed"));

    let done = send("msg-2", "What is 6 * 7?").await.unwrap();
    assert_eq!(done.status(), StatusCode::ACCEPTED);
    let run = app.wait_for_run(&key, &run_id, MINUTE).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let events = app
        .store
        .events_after(&workspace.id, &run_id, 0, 500)
        .await
        .unwrap();
    let received: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == "input.received")
        .map(|e| e.data.as_str())
        .collect();
    assert_eq!(received.len(), 2, "{received:?}");
    assert!(received[0].contains("hello there") && received[1].contains("6 * 7"));
}

//! Operations: readiness follows the dependencies it checks.

use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::process::{Child, Command};

use crate::harness::{Options, TestApp, TestDb};

async fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child
}

/// Polls `/readyz` until it answers `want`; returns how long that took.
/// Polls `/readyz` until its body's `status` is `want`; how long that took.
async fn readyz_becomes(app: &TestApp, want: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (status, body) = app.request("GET", "/readyz", None, None).await;
        if body["status"] == want {
            let expected = if want == "unavailable" {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            assert_eq!(status, expected, "{body}");
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "/readyz still {status} after {within:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Redis stopped: /readyz says so within 5 s, degraded but still 200 (a load balancer keeps
// the instance: requests are served, limits per instance); Redis back: ready again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_redis_down_and_back() {
    // Starts a Redis of its own; named `redis` with the tests that need the server, so it
    // runs where Redis is installed.
    crate::harness::test_redis_url();
    // A Redis of its own, on the same machine as the one the suite uses, so stopping it
    // disturbs no other test.
    let port = longrun_temporal::dev_server::free_port().unwrap();
    let mut redis = start_redis(port).await;
    let app = TestApp::start_with(
        TestDb::sqlite(),
        Options {
            with_worker: false,
            redis: Some(format!("redis://127.0.0.1:{port}")),
            ..Default::default()
        },
    )
    .await;
    let workspace = app
        .store
        .create_workspace("ready", "ready", longrun_domain::Tier::Starter)
        .await
        .unwrap();
    let (_, key) = longrun_api::issue_api_key(&app.store, &workspace.id, "k", "admin")
        .await
        .unwrap();
    let (status, body) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "ok");

    redis.kill().await.unwrap();
    let took = readyz_becomes(&app, "degraded", Duration::from_secs(5)).await;
    let (_, body) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(body["checks"]["redis"]["status"], "unavailable", "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["redis"]["required"], false, "{body}");
    eprintln!("degraded {took:?} after Redis stopped");
    let (status, _) = app.request("GET", "/v1/runs", Some(&key), None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "requests are still served, limited per instance"
    );

    let _redis = start_redis(port).await;
    readyz_becomes(&app, "ready", Duration::from_secs(15)).await;
    let (_, body) = app.request("GET", "/readyz", None, None).await;
    assert_eq!(body["checks"]["redis"]["status"], "ok", "{body}");
}

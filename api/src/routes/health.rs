//! Liveness and readiness.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;

/// The process is up and serving.
pub(crate) async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Every dependency answers: the database and Temporal. 503 names the one that does not.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let started = Instant::now();
    let database = state.store.ping().await;
    let database_ms = started.elapsed().as_millis() as u64;
    let started = Instant::now();
    let temporal = state.scheduler.ping().await;
    let temporal_ms = started.elapsed().as_millis() as u64;
    let started = Instant::now();
    let redis = state.limiter.ping().await;
    let redis_ms = started.elapsed().as_millis() as u64;
    let redis_ok = redis.as_ref().is_none_or(|r| r.is_ok());
    let ready = database.is_ok() && temporal.is_ok() && redis_ok;
    let check = |ok: bool, ms: u64| json!({ "status": if ok { "ok" } else { "unavailable" }, "latency_ms": ms });
    let mut checks = json!({
        "database": check(database.is_ok(), database_ms),
        "temporal": check(temporal.is_ok(), temporal_ms),
    });
    if redis.is_some() {
        let mut redis_check = check(redis_ok, redis_ms);
        if !redis_ok {
            // Requests are still served; limits are per instance until Redis is back.
            redis_check["rate_limits"] = json!("per instance");
        }
        checks["redis"] = redis_check;
    }
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": checks,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

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
    let ready = database.is_ok() && temporal.is_ok();
    let check = |ok: bool, ms: u64| json!({ "status": if ok { "ok" } else { "unavailable" }, "latency_ms": ms });
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "checks": {
            "database": check(database.is_ok(), database_ms),
            "temporal": check(temporal.is_ok(), temporal_ms),
        }
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body))
}

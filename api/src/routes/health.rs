//! Liveness and readiness.

use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::json;

use crate::AppState;

/// The process is up and serving.
pub(crate) async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Every dependency answers: the database, Temporal, and Redis when limits are shared through
/// it. 503 names the one that does not.
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    state.readiness.respond().await
}

//! Liveness and readiness.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::readiness::ReadinessReport;

/// What `/healthz` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok`.
    #[schema(inline, value_type = String, pattern = "^ok$")]
    status: &'static str,
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    responses((status = 200, description = "The process is up.", body = Health)),
)]
pub(crate) async fn healthz() -> impl IntoResponse {
    axum::Json(Health { status: "ok" })
}

/// Every dependency answers: the database, Temporal, and Redis when limits are shared through
/// it. 503 names the one that does not.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    responses(
        (status = 200, description = "Every dependency answered.", body = ReadinessReport),
        (status = 503, description = "A dependency did not answer; `checks` names it.", body = ReadinessReport),
    ),
)]
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    state.readiness.respond().await
}

//! The API's one error type. Each variant has a stable `code` and an HTTP status, and is
//! rendered once, here, as `{"error":{"code","message"}}`. Internal faults show a generic
//! message; their detail travels in a response extension to the logging middleware, which
//! logs it once with the request.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use longrun_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the scheduler (Temporal) is unavailable; retry later")]
    SchedulerUnavailable,
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error(
        "the workspace already has {active} of its {limit} concurrent runs; retry when one ends"
    )]
    ConcurrencyLimit { active: i64, limit: i64 },
    #[error("the monthly {metric} quota is used up: {used} of {limit}")]
    QuotaExhausted {
        metric: &'static str,
        used: i64,
        limit: i64,
    },
    #[error("internal error")]
    Internal(String),
}

/// Detail of an internal error, for the logging middleware; never sent to the client.
#[derive(Debug, Clone)]
pub struct InternalErrorDetail(pub String);

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::SchedulerUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } | ApiError::ConcurrencyLimit { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::QuotaExhausted { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound { code, .. } => code,
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Conflict { code, .. } => code,
            ApiError::SchedulerUnavailable => "scheduler_unavailable",
            ApiError::Forbidden { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::ConcurrencyLimit { .. } => "concurrency_limit",
            ApiError::QuotaExhausted { .. } => "quota_exhausted",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn forbidden(message: String) -> Self {
        ApiError::Forbidden {
            code: "forbidden",
            message,
        }
    }

    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> Self {
        ApiError::InvalidRequest(format!("{field}: {problem}"))
    }

    pub fn agent_not_found(name: &str) -> Self {
        ApiError::NotFound {
            code: "agent_not_found",
            message: format!("no agent named {name:?} in this workspace"),
        }
    }

    pub fn run_finished(status: &str) -> Self {
        ApiError::Conflict {
            code: "run_finished",
            message: format!("the run has already finished ({status})"),
        }
    }

    pub fn run_not_found() -> Self {
        ApiError::NotFound {
            code: "run_not_found",
            message: "no such run in this workspace".into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::Internal(err.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut error = json!({ "code": self.code(), "message": self.to_string() });
        match &self {
            ApiError::QuotaExhausted {
                metric,
                used,
                limit,
            } => {
                error["metric"] = json!(metric);
                error["used"] = json!(used);
                error["limit"] = json!(limit);
            }
            ApiError::ConcurrencyLimit { active, limit } => {
                error["active"] = json!(active);
                error["limit"] = json!(limit);
            }
            _ => {}
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        match &self {
            ApiError::RateLimited { retry_after_s } => {
                response
                    .headers_mut()
                    .insert("retry-after", (*retry_after_s).into());
            }
            // A slot frees when a run ends: a short pause is a fair guess.
            ApiError::ConcurrencyLimit { .. } => {
                response.headers_mut().insert("retry-after", 5u64.into());
            }
            _ => {}
        }
        if let ApiError::Internal(detail) = self {
            response
                .extensions_mut()
                .insert(InternalErrorDetail(detail));
        }
        response
    }
}

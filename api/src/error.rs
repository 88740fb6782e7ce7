//! The API's one error type. Each variant has a stable `code` and an HTTP status, and is
//! rendered once, here, as `{"error":{"code","message"}}`. Internal faults show a generic
//! message; their detail travels in a response extension to the logging middleware, which
//! logs it once with the request.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

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
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body did not arrive within {seconds} s")]
    RequestTimeout { seconds: u64 },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("the scheduler (Temporal) is unavailable; retry later")]
    SchedulerUnavailable,
    /// A service the request needed answered badly (an MCP server, at discovery).
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// The database dropped or refused the connection; the detail is logged, never sent.
    #[error("the database is unavailable; retry shortly")]
    StoreUnavailable(String),
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error(
        "the workspace already has {active} of its {limit} concurrent runs; retry when one ends"
    )]
    ConcurrencyLimit { active: i64, limit: i64 },
    #[error("{scope} already has its {limit} open event streams; close one or retry later")]
    TooManyStreams { scope: &'static str, limit: i64 },
    #[error("the monthly {metric} quota is used up: {used} of {limit}")]
    QuotaExhausted {
        metric: &'static str,
        used: i64,
        limit: i64,
    },
    #[error("internal error")]
    Internal(String),
}

/// The body of every error response: `{"error":{"code","message", …}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable snake_case `code`, a message for people, and for admission
/// refusals the figures behind them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable: `unauthorized`, `forbidden`, `invalid_json`, `invalid_request`,
    /// `payload_too_large`, `unsupported_media_type`, `rate_limited`, `concurrency_limit`,
    /// `quota_exhausted`, `run_not_found`, `agent_not_found`, `run_finished`,
    /// `scheduler_unavailable`, `store_unavailable`, … and `internal`.
    #[schema(example = "invalid_request")]
    pub code: &'static str,
    /// For people; an input error names the field at fault.
    #[schema(example = "budget.max_steps: must be between 1 and 200")]
    pub message: String,
    /// `quota_exhausted`: which monthly quota (`tokens` or `agent_minutes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub metric: Option<&'static str>,
    /// `quota_exhausted`: what this period used.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub used: Option<i64>,
    /// `quota_exhausted`, `concurrency_limit`, `too_many_streams`: the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub limit: Option<i64>,
    /// `concurrency_limit`: the workspace's active runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub active: Option<i64>,
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
            ApiError::InvalidRequest(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::SchedulerUnavailable | ApiError::StoreUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            ApiError::RateLimited { .. }
            | ApiError::ConcurrencyLimit { .. }
            | ApiError::TooManyStreams { .. } => StatusCode::TOO_MANY_REQUESTS,
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
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::Conflict { code, .. } => code,
            ApiError::SchedulerUnavailable => "scheduler_unavailable",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::Forbidden { code, .. } => code,
            ApiError::BadGateway { code, .. } => code,
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::ConcurrencyLimit { .. } => "concurrency_limit",
            ApiError::TooManyStreams { .. } => "too_many_streams",
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

impl From<crate::feeds::StreamRefusal> for ApiError {
    fn from(refusal: crate::feeds::StreamRefusal) -> Self {
        match refusal {
            crate::feeds::StreamRefusal::Run { limit } => ApiError::TooManyStreams {
                scope: "the run",
                limit: limit as i64,
            },
            crate::feeds::StreamRefusal::Workspace { limit } => ApiError::TooManyStreams {
                scope: "the workspace",
                limit: limit.min(i64::MAX as u64) as i64,
            },
        }
    }
}

impl ApiError {
    /// A store error of a capped creation under a unique name, as the client sees it: 409
    /// `taken` when the name is in use, 409 `full` (its message told the cap) when the cap is
    /// reached; any other error as usual.
    pub(crate) fn creation(
        err: StoreError,
        taken: (&'static str, String),
        full: (&'static str, fn(i64) -> String),
    ) -> ApiError {
        match err {
            StoreError::Conflict(_) => ApiError::Conflict {
                code: taken.0,
                message: taken.1,
            },
            StoreError::LimitReached { limit, .. } => ApiError::Conflict {
                code: full.0,
                message: full.1(limit),
            },
            other => other.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if let StoreError::LimitReached { .. } = err {
            return ApiError::Conflict {
                code: "limit_reached",
                message: err.to_string(),
            };
        }
        if err.is_unavailable() {
            ApiError::StoreUnavailable(err.to_string())
        } else {
            ApiError::Internal(err.to_string())
        }
    }
}

impl ApiError {
    /// The body's `error` object: code, message, and the figures of admission refusals.
    pub fn detail(&self) -> ErrorDetail {
        let mut error = ErrorDetail {
            code: self.code(),
            message: self.to_string(),
            metric: None,
            used: None,
            limit: None,
            active: None,
        };
        match self {
            ApiError::QuotaExhausted {
                metric,
                used,
                limit,
            } => {
                error.metric = Some(metric);
                error.used = Some(*used);
                error.limit = Some(*limit);
            }
            ApiError::ConcurrencyLimit { active, limit } => {
                error.active = Some(*active);
                error.limit = Some(*limit);
            }
            ApiError::TooManyStreams { limit, .. } => error.limit = Some(*limit),
            _ => {}
        }
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = self.detail();
        let mut response = (status, Json(ErrorBody { error })).into_response();
        match &self {
            ApiError::RateLimited { retry_after_s } => {
                response
                    .headers_mut()
                    .insert("retry-after", (*retry_after_s).into());
            }
            // A slot frees when a run or a stream ends: a short pause is a fair guess.
            ApiError::ConcurrencyLimit { .. } | ApiError::TooManyStreams { .. } => {
                response.headers_mut().insert("retry-after", 5u64.into());
            }
            // A dropped connection is replaced at once; a Temporal outage lasts longer.
            ApiError::StoreUnavailable(_) => {
                response.headers_mut().insert("retry-after", 1u64.into());
            }
            ApiError::SchedulerUnavailable => {
                response.headers_mut().insert("retry-after", 5u64.into());
            }
            // The rest of a body that did not arrive in time is not waited for.
            ApiError::RequestTimeout { .. } => {
                response.headers_mut().insert(
                    axum::http::header::CONNECTION,
                    axum::http::HeaderValue::from_static("close"),
                );
            }
            _ => {}
        }
        if let ApiError::Internal(detail) | ApiError::StoreUnavailable(detail) = self {
            response
                .extensions_mut()
                .insert(InternalErrorDetail(detail));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_creation_refused_by_the_store_is_taken_or_full_and_anything_else_as_usual() {
        let refused = |err| {
            ApiError::creation(
                err,
                ("thing_exists", "taken".into()),
                ("thing_limit", |limit| format!("at most {limit}")),
            )
        };
        let taken = refused(StoreError::Conflict("things_name_key"));
        assert_eq!(
            (taken.code(), taken.to_string()),
            ("thing_exists", "taken".into())
        );
        let full = refused(StoreError::LimitReached {
            what: "things",
            limit: 20,
        });
        assert_eq!(
            (full.code(), full.to_string()),
            ("thing_limit", "at most 20".into())
        );
        let other = refused(StoreError::Corrupt("bad row".into()));
        assert_eq!(other.code(), "internal");
    }
}

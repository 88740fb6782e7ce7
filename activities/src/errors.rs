//! How activity failures are classed. Retryable failures (a store hiccup, a provider's 5xx)
//! let Temporal's retry policy try again; non-retryable ones carry a stable type name that the
//! workflow turns into the run's error code.

use std::time::Duration;

use temporalio_common::error::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;

use longrun_store::StoreError;

/// A failure that retrying cannot fix; `code` becomes the run's error code.
pub(crate) fn non_retryable(code: &str, message: impl Into<String>) -> ActivityError {
    ActivityError::application(
        ApplicationFailure::builder(message.into())
            .type_name(code.to_string())
            .non_retryable(true)
            .build(),
    )
}

/// A failure worth another attempt, optionally not before `delay`.
pub(crate) fn retryable(
    code: &str,
    message: impl Into<String>,
    delay: Option<Duration>,
) -> ActivityError {
    let builder = ApplicationFailure::builder(message.into()).type_name(code.to_string());
    let failure = match delay {
        Some(delay) => builder.next_retry_delay(delay).build(),
        None => builder.build(),
    };
    ActivityError::application(failure)
}

/// A missing run cannot appear by retrying; anything else from the store might pass.
pub(crate) fn from_store(err: StoreError) -> ActivityError {
    match err {
        StoreError::NotFound(what) => non_retryable("run_not_found", format!("{what} not found")),
        other => {
            tracing::warn!(error = %other, "store write failed; the activity will retry");
            retryable("store_unavailable", "the database is unavailable", None)
        }
    }
}

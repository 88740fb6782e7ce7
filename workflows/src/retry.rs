//! The retry policy the workflows give their activities: exponential backoff between bounds.

use std::time::Duration;

use temporalio_workflow::RetryPolicy;

/// Retries doubling from `initial` up to `maximum` apart, `attempts` tries at the most (0: no
/// count, the activity's timeouts bound them).
pub(crate) fn backoff(initial: Duration, maximum: Duration, attempts: u32) -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(initial)
        .maximum_interval(maximum)
        .maximum_attempts(attempts)
        .build()
}

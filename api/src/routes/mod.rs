//! Route handlers, one module per resource. Handlers parse and check input, call the store
//! or the scheduler, and shape responses; they hold no SQL.

pub(crate) mod agents;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod billing;
pub(crate) mod events;
pub(crate) mod health;
pub(crate) mod keys;
pub(crate) mod mcp_servers;
pub(crate) mod quota;
pub(crate) mod runs;
pub(crate) mod usage;
pub(crate) mod workspace;

use chrono::{DateTime, SecondsFormat, Utc};

/// Epoch milliseconds as RFC 3339, the API's one time format.
pub(crate) fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

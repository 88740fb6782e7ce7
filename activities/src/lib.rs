//! longrun's activities: model providers, tools and metering, i.e. everything the workflows
//! need from the world. The workflow crate declares the activities (`contracts`); this crate
//! implements them.
//!
//! Invariants:
//! - every write an activity makes is idempotent under retry (ledger and event keys);
//! - failure classes are chosen on purpose: transient faults retry, a provider's or a user's
//!   mistake does not (see `errors`);
//! - tool output reaches the model only as a tool result, capped in size.

mod agent;
mod cancel;
mod delivery;
pub mod egress;
mod enforcement;
mod errors;
mod metering;
pub mod metrics;
pub mod models;
pub mod prices;
pub mod tools;

pub use agent::{ActivitySettings, AgentActivities};
pub use cancel::CancelWatch;
pub use models::{ModelRouter, ProviderEndpoint, ProviderSettings};

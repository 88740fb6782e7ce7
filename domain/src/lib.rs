//! longrun's typed domain, shared by every other crate: ids parsed once at the edge, run
//! statuses, tiers with their limits and periods, event kinds, usage totals, run budgets and
//! their resolution, model names, the built-in tool catalog, and the SSE wire format.
//!
//! Invariants, said as what is absent:
//! - no I/O of any kind: no files, sockets, databases, environment or clocks (callers pass
//!   times in), no randomness; the only dependency is `serde`;
//! - no policy lives twice: every list of statuses, tiers, event kinds or built-in tools that
//!   another crate needs derives from the enums here.

pub mod budget;
pub mod events;
pub mod ids;
pub mod model;
mod names;
pub mod period;
pub mod sse;
pub mod status;
pub mod tier;
pub mod tools;
pub mod usage;

pub use budget::{Budget, LimitError, RunLimits};
pub use events::EventKind;
pub use ids::{AgentName, ApiKeyId, IdError, RunId, WorkspaceId, WorkspaceSlug};
pub use model::{ModelError, ModelRef, Provider};
pub use period::{DAY_MS, Period, day_label, day_number, period_of};
pub use status::RunStatus;
pub use tier::{Limits, QuotaError, QuotaOverrides, Tier, TierConfig, TierValue, Tiers};
pub use tools::{BuiltinTool, FINAL_ANSWER_TOOL};
pub use usage::UsageTotals;

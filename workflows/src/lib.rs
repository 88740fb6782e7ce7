//! longrun's deterministic workflow code, and the payloads that cross the Temporal boundary.
//!
//! Invariants (what is absent here, on purpose):
//! - no I/O: this crate depends on no database, HTTP or runtime crate, only on the workflow
//!   half of the Temporal SDK; everything that touches the world is an activity declared in
//!   [`contracts`] and implemented in the `activities` crate;
//! - no clocks and no randomness except the workflow context's (`ctx.workflow_time()`,
//!   `ctx.random()`); `clippy.toml` bans the std ones;
//! - no hash-ordered collections, whose iteration order differs between processes.
//!
//! Workflow code runs again on every replay: a change that alters the commands a running
//! workflow would emit needs a patch marker (`ctx.patched`) and a replay test.

pub mod agent_run;
pub mod contracts;
pub mod mcp_discovery;
pub mod payloads;
mod retry;
pub mod rollup;
pub mod search;

pub use agent_run::AgentRunWorkflow;
pub use mcp_discovery::McpDiscoveryWorkflow;
pub use rollup::UsageRollupWorkflow;

//! `longrun-bench`: measures longrun against the agent loop a user would write on the Temporal
//! SDK alone, on one machine, with every part started by the tool itself (an in-memory
//! Temporal dev server per phase, an in-process fake Anthropic model, longrun's `api` and
//! `worker` processes, the reference worker process).
//!
//! It reports figures and checks answers; it never asserts timings. It talks to longrun only
//! the way users and operators do (HTTP API, CLI), never through longrun's crates.

pub mod drive;
pub mod fake_llm;
pub mod processes;
pub mod procstat;
pub mod reference;
pub mod report;
pub mod scenarios;
pub mod sse;
pub mod stack;
pub mod temporal;
pub mod waiting;

//! Integration tests over real parts: a Temporal dev server, SQLite (and Postgres when
//! `LONGRUN_TEST_DATABASE_URL` is set), the HTTP API on a real port, the worker.

// Items of a test binary are public to its modules only.
#![allow(unreachable_pub)]

mod answers;
mod cluster;
mod fakes;
mod harness;
mod sse;

mod agent_loop;
mod agent_tools;
mod api;
mod billing;
mod cli;
mod console;
mod durability;
mod hostile;
mod mcp;
mod openapi;
mod operations;
mod outages;
mod processes;
mod replay;
mod run_features;
mod runs;
mod tenancy;

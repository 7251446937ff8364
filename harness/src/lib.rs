//! authconform: an end-to-end conformance suite for the auth surfaces of MCP servers, API gateways and
//! their CLIs.
//!
//! A run loads a [`target::Target`] (how to launch or reach the implementation) and [`scenario::Scenario`]s
//! (steps and checks, as data), then [`runner::run`]s each scenario in isolation against its own mocks
//! ([`authconform_mocks`]), and renders a [`report::RunReport`]. See `ARCHITECTURE.md` for the map.
#![warn(missing_docs)]

pub mod authorization;
pub mod baseline;
pub mod challenge;
pub mod cli;
pub mod cors;
pub mod error;
pub mod exchange;
pub mod expect;
pub mod host;
pub mod http;
pub mod launch;
pub mod lookalike;
pub mod mutation;
pub mod origin;
pub mod pkce;
pub mod progress;
pub mod random;
pub mod redact;
pub mod report;
pub mod reports;
pub mod requirements;
pub mod runner;
pub mod scenario;
pub mod selftest;
pub mod snapshot;
pub mod spans;
pub mod step;
pub mod target;
pub mod template;
pub mod transcript;
pub mod verdict;
pub mod world;

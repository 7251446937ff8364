//! Expectations: one module per kind, all registered in the single [`expectations!`] list at the bottom.
//!
//! A kind is a key of a check's `expect` table whose value type implements [`Expectation`]: it validates
//! itself and judges either each named step's [`View`] or the run as a whole (the mocks' journals).

pub mod challenge;
pub mod client_sent;
pub mod cors;
pub mod exit;
pub mod header;
pub mod host;
pub mod json;
pub mod mcp;
pub mod oauth_flow;
pub mod output;
pub mod property;
pub mod samples;
pub mod status;
pub mod upstream;
pub mod world;

use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use authconform_mocks::JournalEntry;
use serde::Deserialize;

/// What failed: (expected, got).
pub type Fail = (String, String);

/// Whether an expectation is about each named step or about the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Judged on each step the check names.
    Step,
    /// Judged once, on what the mocks saw.
    Run,
}

/// What run-scope expectations judge.
pub struct RunView<'a> {
    /// Requests the mock upstream API received.
    pub journal: &'a [JournalEntry],
}

/// A kind of expectation.
pub trait Expectation {
    /// Checks the expectation's fields; paths are relative to its key.
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        Ok(())
    }
    /// Step or run.
    fn scope(&self) -> Scope {
        Scope::Step
    }
    /// Judges one step's view (step scope).
    fn judge_step(&self, _view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        Ok(())
    }
    /// Judges the run (run scope).
    fn judge_run(&self, _run: &RunView<'_>, _vars: &Vars) -> Result<(), Fail> {
        Ok(())
    }
}

/// Expands a template for a comparison; a missing value is a failure naming it.
pub fn expand(vars: &Vars, t: &str) -> Result<String, Fail> {
    vars.expand(t)
        .map_err(|e| ("a value to compare with".into(), e.to_string()))
}

/// The first 160 characters of `s`, for failure texts.
pub fn snippet(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return "(empty body)".into();
    }
    let cut: String = s.chars().take(160).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The step's HTTP response, or the failure of a response expectation on a step without one.
pub fn response<'a>(view: &View<'a>) -> Result<&'a crate::exchange::Response, Fail> {
    match view.response {
        Some(Ok(r)) => Ok(r),
        Some(Err(e)) => Err(("an HTTP response".into(), format!("none: {e}"))),
        None => Err((
            "an HTTP response".into(),
            "this kind of step has no single HTTP response".into(),
        )),
    }
}

macro_rules! expectations {
    ($( $key:ident : $module:ident :: $ty:ident ),+ $(,)?) => {
        /// Expectations on what steps observed; every given one must hold.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Expect {
            $(
                #[doc = concat!("See [`", stringify!($module), "::", stringify!($ty), "`].")]
                pub $key: Option<$module::$ty>,
            )+
        }

        impl Expect {
            /// Nothing is expected (a check that cannot fail).
            pub fn is_empty(&self) -> bool {
                true $( && self.$key.is_none() )+
            }

            /// Validates every given expectation.
            pub fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
                $(
                    if let Some(e) = &self.$key {
                        e.validate(cx).map_err(|x| x.under(stringify!($key)))?;
                    }
                )+
                Ok(())
            }

            /// Some expectation is judged per step (so the check needs `steps`).
            pub fn judges_steps(&self) -> bool {
                false $( || self.$key.as_ref().is_some_and(|e| e.scope() == Scope::Step) )+
            }

            /// Judges every step-scope expectation on `view`.
            pub fn judge_step(&self, view: &View<'_>, vars: &Vars) -> Result<(), Fail> {
                $(
                    if let Some(e) = &self.$key && e.scope() == Scope::Step {
                        e.judge_step(view, vars)?;
                    }
                )+
                Ok(())
            }

            /// Judges every run-scope expectation.
            pub fn judge_run(&self, run: &RunView<'_>, vars: &Vars) -> Result<(), Fail> {
                $(
                    if let Some(e) = &self.$key && e.scope() == Scope::Run {
                        e.judge_run(run, vars)?;
                    }
                )+
                Ok(())
            }
        }
    };
}

expectations! {
    status: status::StatusIs,
    status_not: status::StatusNot,
    challenge: challenge::ChallengeExpect,
    header: header::HeaderExpects,
    json: json::JsonExpects,
    mcp_ok: mcp::McpOk,
    tool_error: mcp::ToolError,
    output: output::OutputExpect,
    exit: exit::ExitExpect,
    no_oauth_flow: oauth_flow::NoOAuthFlow,
    upstream: upstream::UpstreamExpect,
    property_holds: property::PropertyHolds,
    samples: samples::SamplesExpect,
    cors: cors::CorsExpect,
    polls: host::PollsExpect,
    host: host::HostExpect,
    world: world::WorldExpect,
    client_sent: client_sent::ClientSent,
}

//! Steps: one module per kind, all registered in the single [`step_kinds!`] list at the bottom of this file.
//!
//! A kind is a TOML key of `[[step]]` (`http = {…}`, `mcp_stdio = {…}`) whose value type implements [`Kind`]:
//! it validates itself, names the surface it needs, runs, and returns a record that implements [`Recorded`]
//! (what the transcript shows, and the [`View`] expectations judge). The runner, the checks and the
//! transcript never match on kinds.

pub mod capture;
pub mod exec;
pub mod http;
pub mod key_property;
pub mod mcp_http;
pub mod mcp_session;
pub mod mcp_stdio;
pub mod origin_property;
pub mod rest;
pub mod sample;
pub mod search;
pub mod validate;
pub mod wait;

use crate::error::Invalid;
use crate::exchange::{McpSession, Response};
use crate::http::HttpClient;
use crate::target::Target;
use crate::template::{TemplateError, Vars};
pub use capture::Capture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::time::Duration;
pub use validate::ValidateCx;

/// What a step needs while it runs.
pub struct StepCx<'a> {
    /// Template variables: target values, mocks, tokens, principals, earlier captures.
    pub vars: &'a Vars,
    /// The run's HTTP client (trusts the test CA).
    pub client: &'a HttpClient,
    /// Deadline of the step.
    pub timeout: Duration,
    /// The target (its surfaces).
    pub target: &'a Target,
    /// A private folder of this scenario (HOME and config folders of child processes live under it).
    pub workdir: &'a Path,
    /// The scenario's mock vendor host, when it has one (`[host]`).
    pub host: Option<&'a authconform_mocks::MockCliHost>,
    /// The scenario's world, when it has one (`[world]`).
    pub world: Option<&'a crate::world::World>,
}

/// A kind of step.
pub trait Kind {
    /// What running it records.
    type Record: Recorded + Serialize;
    /// Checks the step's fields; paths in the result are relative to the step's kind key.
    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid>;
    /// The surface it needs (one of [`crate::target::surface::SURFACES`]), if any.
    fn surface(&self) -> Option<&'static str> {
        None
    }
    /// Runs the step; never fails: what went wrong is part of the record.
    fn run(&self, cx: &StepCx<'_>) -> impl Future<Output = Result<Self::Record, String>> + Send;
}

/// What a step's record offers to transcripts and expectations.
pub trait Recorded {
    /// What expectations judge.
    fn view(&self) -> View<'_>;
    /// One line saying what the step sent (for failure reports).
    fn request_line(&self) -> String;
    /// The record as transcript text (before redaction and normalisation).
    fn render(&self, out: &mut String);
}

/// What a step observed, in the terms expectations use. A kind fills in what it has.
#[derive(Debug, Default)]
pub struct View<'a> {
    /// An HTTP response, or why there is none.
    pub response: Option<Result<&'a Response, &'a str>>,
    /// An MCP session: what it achieved, or the error that ended it.
    pub mcp: Option<Result<&'a McpSession, &'a str>>,
    /// Where the step's JSON document comes from (parsed only when an expectation asks, see [`View::json`]).
    pub json: JsonSource<'a>,
    /// A child process's exit code (`None` inside when it was killed or timed out).
    pub exit: Option<Option<i32>>,
    /// Named texts the step saw (`stdout`, `stderr`, `body`, `tool`…), for output expectations.
    pub outputs: Vec<(&'static str, &'a str)>,
    /// Signs of an OAuth flow a local server should not start (browser opens, listening sockets); `None` when
    /// they could not be observed.
    pub oauth_signs: Option<Vec<String>>,
    /// Why the step did not run at all.
    pub not_run: Option<&'a str>,
    /// A property's verdict: the cases it held for, or why it does not hold.
    pub property: Option<Result<u32, String>>,
    /// Values a sampling step collected.
    pub samples: Option<&'a [String]>,
    /// What the scenario's mock host saw during the step.
    pub host: Option<&'a crate::host::HostSeen>,
    /// What the scenario's world saw during the step.
    pub world: Option<&'a crate::world::WorldSeen>,
}

/// The text a step's JSON document is parsed from.
#[derive(Debug, Default, Clone, Copy)]
pub enum JsonSource<'a> {
    /// None.
    #[default]
    None,
    /// An HTTP response: its body as JSON, or the last JSON `data:` event of an SSE stream.
    Response(&'a Response),
    /// A text that is JSON (a tool result, a program's stdout).
    Text(&'a str),
}

impl View<'_> {
    /// The step's JSON document, if it has one that parses.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self.json {
            JsonSource::None => None,
            JsonSource::Response(r) => r.json(),
            JsonSource::Text(t) => serde_json::from_str(t).ok(),
        }
    }
}

/// A template error as a reason, saying why a missing variable is missing when that is known.
pub fn why_missing(vars: &Vars, e: &TemplateError) -> String {
    if let TemplateError::Missing(name) = e
        && let Some(why) = vars.get(&format!("missing.{name}"))
    {
        return format!("`{{{name}}}` has no value: {why}");
    }
    e.to_string()
}

/// Expands `tpl`, or gives the reason why it cannot be.
pub fn expand(vars: &Vars, tpl: &str) -> Result<String, String> {
    vars.expand(tpl).map_err(|e| why_missing(vars, &e))
}

macro_rules! step_kinds {
    ($( $key:ident => $variant:ident ( $module:ident :: $ty:ident ) ),+ $(,)?) => {
        /// One step of a scenario: a name, exactly one action (one key per kind), and captures.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Step {
            /// Name that checks and later steps refer to.
            pub name: String,
            $(
                #[doc = concat!("A `", stringify!($key), "` step: see [`", stringify!($module), "`].")]
                pub $key: Option<$module::$ty>,
            )+
            /// Values to take from the result, as template variables for later steps and checks.
            #[serde(default)]
            pub capture: BTreeMap<String, Capture>,
            /// Credentials this step's response may show because the protocol returns them there (templates,
            /// e.g. a publishable key in a key listing); every other known credential in it fails the global
            /// secret check.
            #[serde(default)]
            pub may_show: Vec<String>,
        }

        /// The record of one step.
        #[derive(Debug, Clone, Serialize)]
        #[serde(tag = "kind", rename_all = "snake_case")]
        pub enum Record {
            $(
                #[doc = concat!("A `", stringify!($key), "` step's record.")]
                $variant(<$module::$ty as Kind>::Record),
            )+
            /// The step could not run (a variable it needs has no value).
            NotRun {
                /// Why.
                reason: String,
            },
        }

        /// The TOML keys of the step kinds.
        pub const KINDS: &[&str] = &[$(stringify!($key)),+];

        impl Step {
            /// Checks that exactly one kind is given and that it is valid.
            pub fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
                let mut found = None;
                $(
                    if let Some(s) = &self.$key {
                        if found.is_some() {
                            return Err(Invalid::new(stringify!($key), format!(
                                "a step needs exactly one of {}", KINDS.join(", "))));
                        }
                        found = Some(s.validate(cx).map_err(|e| e.under(stringify!($key))));
                    }
                )+
                found.unwrap_or_else(|| Err(Invalid::new("name", format!(
                    "a step needs exactly one of {}", KINDS.join(", ")))))
            }

            /// The surface the step's kind needs.
            pub fn surface(&self) -> Option<&'static str> {
                $( if let Some(s) = &self.$key { return s.surface(); } )+
                None
            }

            /// Runs the step.
            pub async fn run(&self, cx: &StepCx<'_>) -> Record {
                $(
                    if let Some(s) = &self.$key {
                        return match s.run(cx).await {
                            Ok(r) => Record::$variant(r),
                            Err(reason) => Record::NotRun { reason },
                        };
                    }
                )+
                Record::NotRun { reason: "step has no action".into() }
            }
        }

        impl Record {
            fn recorded(&self) -> Option<&dyn Recorded> {
                match self {
                    $( Record::$variant(r) => Some(r), )+
                    Record::NotRun { .. } => None,
                }
            }
        }
    };
}

impl Record {
    /// What expectations judge.
    pub fn view(&self) -> View<'_> {
        match (self.recorded(), self) {
            (Some(r), _) => r.view(),
            (None, Record::NotRun { reason }) => View {
                not_run: Some(reason),
                ..View::default()
            },
            (None, _) => View::default(),
        }
    }

    /// The HTTP response, if the step got one.
    pub fn response(&self) -> Option<&Response> {
        self.view().response.and_then(Result::ok)
    }

    /// One line saying what the step sent.
    pub fn request_line(&self) -> String {
        match (self.recorded(), self) {
            (Some(r), _) => r.request_line(),
            (None, Record::NotRun { reason }) => format!("(not run: {reason})"),
            (None, _) => String::new(),
        }
    }

    /// The record as transcript text.
    pub fn render(&self, out: &mut String) {
        match (self.recorded(), self) {
            (Some(r), _) => r.render(out),
            (None, Record::NotRun { reason }) => {
                out.push_str(&format!("(not run: {reason})\n"));
            }
            (None, _) => {}
        }
    }
}

step_kinds! {
    http => Http(http::HttpStep),
    mcp_client => Mcp(mcp_http::McpClientStep),
    mcp_stdio => McpStdio(mcp_stdio::McpStdioStep),
    exec => Exec(exec::ExecStep),
    rest => Rest(rest::RestStep),
    key_property => KeyProperty(key_property::KeyPropertyStep),
    sample => Sample(sample::SampleStep),
    origin_property => OriginProperty(origin_property::OriginPropertyStep),
    wait => Wait(wait::WaitStep),
}

impl Step {
    /// The steps this one stands for on `target`: itself, or one per item of a `rest` step's operation set
    /// or query names, named `NAME/ITEM`.
    pub fn expand(&self, target: &Target) -> Vec<Step> {
        let Some(rest) = &self.rest else {
            return vec![self.clone()];
        };
        rest.items(target)
            .into_iter()
            .map(|(suffix, r)| Step {
                name: if suffix.is_empty() {
                    self.name.clone()
                } else {
                    format!("{}/{suffix}", self.name)
                },
                rest: Some(r),
                ..self.clone()
            })
            .collect()
    }
}

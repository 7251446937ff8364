//! `world`: what an MCP client under test made happen in its world during a step: which metadata it fetched
//! and in what order, whether it started an authorization, which servers it reached, what it opened, and
//! whether it got to call the tool.

use super::{Expectation, Fail};
use crate::error::Invalid;
use crate::step::{ValidateCx, View};
use crate::template::Vars;
use crate::world::WorldSeen;
use authconform_mocks::WorldRequest;
use serde::Deserialize;

pub(crate) fn seen<'a>(view: &View<'a>) -> Result<&'a WorldSeen, Fail> {
    view.world.ok_or_else(|| {
        (
            "a client step in the scenario's world".into(),
            "this step has no world activity (no `[world]`, or not an exec step)".into(),
        )
    })
}

/// A discovery request: a GET of metadata (a `.well-known` path or the custom PRM path).
fn is_probe(r: &WorldRequest) -> bool {
    r.method == "GET" && (r.path.contains("/.well-known/") || r.path.starts_with("/meta/"))
}

/// `server:path` of a request.
pub(crate) fn at(r: &WorldRequest) -> String {
    format!("{}:{}", r.server, r.path)
}

pub(crate) fn endpoint<'a>(
    seen: &'a WorldSeen,
    path_end: &'a str,
) -> impl Iterator<Item = &'a WorldRequest> {
    seen.requests
        .iter()
        .filter(move |r| r.server.starts_with("as") || r.server.starts_with("rs"))
        .filter(move |r| r.path.ends_with(path_end))
}

/// A count between bounds.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// At least.
    pub min: Option<usize>,
    /// At most.
    pub max: Option<usize>,
}

impl Bounds {
    fn check(&self, what: &str, n: usize) -> Result<(), Fail> {
        if let Some(m) = self.min.filter(|m| n < *m) {
            return Err((format!("at least {m} {what}"), n.to_string()));
        }
        if let Some(m) = self.max.filter(|m| n > *m) {
            return Err((format!("at most {m} {what}"), n.to_string()));
        }
        Ok(())
    }
}

/// `world = { probes = ["rs:/meta/custom-prm.json"], authorized = false, no_contact = ["evil"], … }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldExpect {
    /// The step's discovery requests (`server:path`) begin with these, in this order.
    #[serde(default)]
    pub probes: Vec<String>,
    /// Discovery requests that must not happen (`server:path`).
    #[serde(default)]
    pub never_probes: Vec<String>,
    /// An authorization request reached an authorization server (true), or none did and nothing was
    /// opened (false).
    pub authorized: Option<bool>,
    /// Authorization requests.
    pub authorizations: Option<Bounds>,
    /// Token requests.
    pub token_requests: Option<Bounds>,
    /// Parameters no request carried (`code=code#1`: secret values by their labels).
    #[serde(default)]
    pub never_param: Vec<String>,
    /// Servers no request reached (`evil`, `as`, `rs2`…).
    #[serde(default)]
    pub no_contact: Vec<String>,
    /// The client called the tool and got its result (`tools/call` answered 200).
    pub tool_called: Option<bool>,
    /// The `BROWSER` hook was never run.
    #[serde(default)]
    pub opened_nothing: bool,
    /// The shell side effect planted in an authorization URL did not happen.
    #[serde(default)]
    pub no_shell: bool,
}

impl Expectation for WorldExpect {
    fn validate(&self, _cx: &ValidateCx) -> Result<(), Invalid> {
        let any = !self.probes.is_empty()
            || !self.never_probes.is_empty()
            || self.authorized.is_some()
            || self.authorizations.is_some()
            || self.token_requests.is_some()
            || !self.no_contact.is_empty()
            || !self.never_param.is_empty()
            || self.tool_called.is_some()
            || self.opened_nothing
            || self.no_shell;
        if !any {
            return Err(Invalid::new("", "expects nothing"));
        }
        Ok(())
    }

    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let seen = seen(view)?;
        self.discovery(seen)?;
        self.flow(seen)?;
        for p in &self.never_param {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            if let Some(r) = seen.requests.iter().find(|r| r.param(name) == Some(value)) {
                return Err((format!("no request with {p}"), r.line()));
            }
        }
        for s in &self.no_contact {
            if let Some(r) = seen.requests.iter().find(|r| &r.server == s) {
                return Err((format!("no request to `{s}`"), r.line()));
            }
        }
        if self.opened_nothing
            && let Some(o) = seen.opened.first()
        {
            return Err(("no URL opened".into(), format!("opened {}", o.url)));
        }
        if self.no_shell && seen.shell_ran {
            return Err((
                "the authorization URL opened without shell interpretation".into(),
                "`$(touch …)` in the URL ran: the marker file exists".into(),
            ));
        }
        Ok(())
    }
}

impl WorldExpect {
    fn discovery(&self, seen: &WorldSeen) -> Result<(), Fail> {
        let probes: Vec<String> = seen
            .requests
            .iter()
            .filter(|r| is_probe(r))
            .map(at)
            .collect();
        if !self.probes.is_empty() && !probes.starts_with(&self.probes) {
            return Err((
                format!("discovery requests beginning {}", self.probes.join(", ")),
                list(&probes),
            ));
        }
        if let Some(p) = self.never_probes.iter().find(|p| probes.contains(p)) {
            return Err((format!("no request for {p}"), list(&probes)));
        }
        Ok(())
    }

    fn flow(&self, seen: &WorldSeen) -> Result<(), Fail> {
        let auths: Vec<&WorldRequest> = endpoint(seen, "/authorize").collect();
        match self.authorized {
            Some(true) if auths.is_empty() => {
                return Err(("an authorization request".into(), "none".into()));
            }
            Some(false) if !auths.is_empty() || !seen.opened.is_empty() => {
                let got = auths
                    .first()
                    .map_or_else(|| format!("opened {}", seen.opened[0].url), |r| r.line());
                return Err(("no authorization started".into(), got));
            }
            _ => {}
        }
        if let Some(b) = &self.authorizations {
            b.check("authorization requests", auths.len())?;
        }
        if let Some(b) = &self.token_requests {
            b.check("token requests", endpoint(seen, "/token").count())?;
        }
        if let Some(want) = self.tool_called {
            let called = seen
                .requests
                .iter()
                .any(|r| r.rpc.as_deref() == Some("tools/call") && r.status == 200);
            if called != want {
                let what = if want {
                    "the tool called"
                } else {
                    "no successful tool call"
                };
                return Err((
                    what.into(),
                    if called {
                        "called".into()
                    } else {
                        "not called".into()
                    },
                ));
            }
        }
        Ok(())
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

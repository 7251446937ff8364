//! `origin_property` steps: a property over look-alikes of an allowed origin (`crate::lookalike`): none may be
//! granted — no `Access-Control-Allow-Origin` equal to the origin sent, and no `*` — on the request or on its
//! preflight. Driven like the key property (`super::search`): seeded, shrunk, reported with the seed.

use super::rest::RestStep;
use super::search::{self, Trial, Verdict};
use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
use crate::exchange::{Response, SentRequest};
use crate::lookalike::{LookAlike, strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The property: no look-alike of `origin` is granted on `op`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OriginPropertyStep {
    /// The operation (template, e.g. `{cors.probe}`).
    pub op: String,
    /// The allowed origin the look-alikes derive from (template, e.g. `{cors.allowed}`).
    pub origin: String,
    /// A principal whose key the request carries (a credentialed request), if any.
    pub key: Option<String>,
    /// Placeholders of the operation.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Send a preflight (`OPTIONS` asking for this method and these headers) instead of the request.
    pub preflight: Option<Preflight>,
    /// Number of cases (default 64).
    #[serde(default = "default_cases")]
    pub cases: u32,
}

/// A CORS preflight's questions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preflight {
    /// `Access-Control-Request-Method`.
    pub method: String,
    /// `Access-Control-Request-Headers` (templates).
    #[serde(default)]
    pub headers: Vec<String>,
}

fn default_cases() -> u32 {
    64
}

/// What the property run saw.
#[derive(Debug, Clone, Serialize)]
pub struct OriginRecord {
    /// The operation.
    pub op: String,
    /// The seed (hex).
    pub seed: String,
    /// The grant the allowed origin itself got (the positive control), or why there was none.
    pub control: Result<String, String>,
    /// Look-alikes sent.
    pub sent: u32,
    /// Cases whose variant did not apply.
    pub unchanged: u32,
    /// How many look-alikes got each status.
    pub statuses: BTreeMap<String, u32>,
    /// The smallest look-alike that was granted, and the grant.
    pub counterexample: Option<(String, String)>,
    /// Shrinking steps taken.
    pub shrinks: u32,
}

/// The grant a response makes to `origin`, if any: `Access-Control-Allow-Origin` equal to it, or `*`.
fn grant(r: &Response, origin: &str) -> Option<String> {
    let acao: Vec<&str> = r.header_values("access-control-allow-origin").collect();
    acao.iter()
        .any(|v| v.trim() == origin || v.trim() == "*")
        .then(|| format!("Access-Control-Allow-Origin: {}", acao.join(", ")))
}

impl OriginPropertyStep {
    fn request(&self, cx: &StepCx<'_>) -> Result<(String, SentRequest), String> {
        let rest = RestStep {
            op: Some(self.op.clone()),
            key: self.key.clone(),
            method: self.preflight.as_ref().map(|_| "OPTIONS".to_string()),
            vars: self.vars.clone(),
            raw: true,
            ..RestStep::default()
        };
        let (op, mut request) = rest.build(cx.vars, cx.target)?;
        if let Some(p) = &self.preflight {
            // A preflight carries no credential (browsers never send one) and no body.
            request.headers.clear();
            request
                .headers
                .push(("Access-Control-Request-Method".into(), p.method.clone()));
            if !p.headers.is_empty() {
                let names: Result<Vec<String>, String> = p
                    .headers
                    .iter()
                    .map(|h| super::expand(cx.vars, h))
                    .collect();
                request
                    .headers
                    .push(("Access-Control-Request-Headers".into(), names?.join(", ")));
            }
        }
        Ok((op, request))
    }
}

/// Sends the request with a given `Origin`.
struct Probe<'a, 'c> {
    cx: &'a StepCx<'c>,
    request: &'a SentRequest,
    origin: &'a str,
}

impl Probe<'_, '_> {
    async fn send(&self, origin: &str) -> Result<Response, String> {
        let mut r = self.request.clone();
        r.headers.push(("Origin".into(), origin.to_string()));
        self.cx.client.send(&r, self.cx.timeout).await
    }
}

impl Trial<LookAlike> for Probe<'_, '_> {
    async fn try_one(&self, l: &LookAlike) -> Option<Verdict> {
        let sent = l.apply(self.origin)?;
        let response = self.send(&sent).await;
        let granted = response.as_ref().ok().and_then(|r| grant(r, &sent));
        Some(Verdict {
            label: response.map_or("no response".to_string(), |r| r.status.to_string()),
            fails: granted.is_some(),
            detail: format!(
                "Origin: {} got {}",
                sent.escape_debug(),
                granted.unwrap_or_default()
            ),
        })
    }
}

impl Kind for OriginPropertyStep {
    type Record = OriginRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        cx.template("op", &self.op)?;
        cx.template("origin", &self.origin)?;
        if let Some(k) = &self.key {
            cx.principal("key", k)?;
        }
        for v in self.vars.values() {
            cx.template("vars", v)?;
        }
        if self.cases == 0 {
            return Err(Invalid::new("cases", "at least one case"));
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        Some("rest")
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<OriginRecord, String> {
        let (op, request) = self.request(cx)?;
        let origin = super::expand(cx.vars, &self.origin)?;
        let probe = Probe {
            cx,
            request: &request,
            origin: &origin,
        };
        let control = probe
            .send(&origin)
            .await
            .map(|r| grant(&r, &origin).unwrap_or_else(|| format!("no grant ({})", r.status)));
        let (seed, bytes) = search::seed();
        let found = search::search(strategy(), self.cases, bytes, &probe).await?;
        Ok(OriginRecord {
            op,
            seed,
            control,
            sent: found.sent,
            unchanged: found.unchanged,
            statuses: found.labels,
            counterexample: found
                .counterexample
                .map(|(l, detail)| (format!("{l:?}"), detail)),
            shrinks: found.shrinks,
        })
    }
}

impl Recorded for OriginRecord {
    fn view(&self) -> View<'_> {
        let verdict = match (&self.control, &self.counterexample) {
            (Err(e), _) => Err(format!("the allowed origin got no response: {e}")),
            (Ok(g), _) if !g.starts_with("Access-Control-Allow-Origin") => Err(format!(
                "the allowed origin itself got {g}, so the property proves nothing"
            )),
            (_, Some((kind, detail))) => Err(format!(
                "look-alike {kind}: {detail}; {}",
                search::replay_hint(self.shrinks, &self.seed)
            )),
            (_, None) if self.sent == 0 => Err("no look-alike was sent".into()),
            (_, None) => Ok(self.sent),
        };
        View {
            property: Some(verdict),
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!("{}: look-alike origins (seed {})", self.op, self.seed)
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "(operation {}, look-alike origins, seed {})",
            self.op, self.seed
        );
        match &self.control {
            Ok(g) => drop(writeln!(out, "control: the allowed origin -> {g}")),
            Err(e) => drop(writeln!(out, "control: no response: {e}")),
        }
        search::write_counts(
            out,
            "look-alikes",
            self.sent,
            &self.statuses,
            self.unchanged,
        );
        if let Some((kind, detail)) = &self.counterexample {
            let _ = writeln!(
                out,
                "counter-example: {kind}: {detail} (after {} shrinking steps)",
                self.shrinks
            );
        }
    }
}

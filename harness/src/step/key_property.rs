//! `key_property` steps: a property over near misses of a live key (`crate::mutation`), driven by proptest
//! from async code. Cases come from a seeded [`TestRunner`]; each is sent as a real request; a mutant that
//! authenticates (2xx) is shrunk through the value tree (`simplify`/`complicate`) to the smallest one that
//! still does, and reported by its description, never its value, with the seed that replays it
//! (`AUTHCONFORM_SEED`).

use super::rest::{RestStep, Via};
use super::search::{self, Trial, Verdict};
use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
use crate::exchange::SentRequest;
use crate::mutation::{Mutation, Prefixes, strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The property: no mutant of `key` authenticates on `op`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPropertyStep {
    /// The operation (template, e.g. `{rest.probe}`).
    pub op: String,
    /// The principal selector whose key is mutated.
    pub key: String,
    /// How the key travels.
    #[serde(default)]
    pub via: Via,
    /// Placeholders of the operation.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Number of cases (default 64).
    #[serde(default = "default_cases")]
    pub cases: u32,
}

fn default_cases() -> u32 {
    64
}

/// What the property run saw.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyRecord {
    /// The operation.
    pub op: String,
    /// The seed (hex).
    pub seed: String,
    /// Status of the unmutated key (the positive control), or why there was none.
    pub control: Result<u16, String>,
    /// Cases sent, and cases whose mutation left the key unchanged (not sent).
    pub sent: u32,
    /// Cases not sent (the mutation did not apply).
    pub unchanged: u32,
    /// How many mutants got each status (`"401"`, or `"no response"`).
    pub statuses: BTreeMap<String, u32>,
    /// The smallest mutant that authenticated, described without the key, with its status.
    pub counterexample: Option<(String, u16)>,
    /// Shrinking steps taken.
    pub shrinks: u32,
}

impl KeyPropertyStep {
    fn rest(&self) -> RestStep {
        RestStep {
            op: Some(self.op.clone()),
            key: Some(self.key.clone()),
            via: self.via,
            vars: self.vars.clone(),
            raw: true,
            ..RestStep::default()
        }
    }
}

fn authenticates(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

impl Kind for KeyPropertyStep {
    type Record = PropertyRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        cx.principal("key", &self.key)?;
        cx.template("op", &self.op)?;
        for v in self.vars.values() {
            cx.template("vars", v)?;
        }
        if self.via == Via::Query {
            return Err(Invalid::new(
                "via",
                "the property sends the key in a header (`header` or `bearer`)",
            ));
        }
        if self.cases == 0 {
            return Err(Invalid::new("cases", "at least one case"));
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        Some("rest")
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<PropertyRecord, String> {
        let (op, request) = self.rest().build(cx.vars, cx.target)?;
        let key = super::expand(cx.vars, &format!("{{principal.{}.key}}", self.key))?;
        let name = cx.vars.get(&format!("principal.{}.name", self.key));
        let placeholder = format!("[KEY:{}]", name.unwrap_or("key"));
        let prefixes = Prefixes {
            secret: cx.vars.get("rest.secret_prefix").map(String::from),
            publishable: cx.vars.get("rest.publishable_prefix").map(String::from),
        };
        let (seed, bytes) = search::seed();
        let control = cx.client.send(&request, cx.timeout).await.map(|r| r.status);
        let probe = Probe {
            cx,
            request: &request,
            key: &key,
            prefixes: &prefixes,
        };
        let found = search::search(strategy(), self.cases, bytes, &probe).await?;
        Ok(PropertyRecord {
            op,
            seed,
            control,
            sent: found.sent,
            unchanged: found.unchanged,
            statuses: found.labels,
            counterexample: found
                .counterexample
                .map(|(m, detail)| (m.describe(&key, &placeholder), detail.parse().unwrap_or(0))),
            shrinks: found.shrinks,
        })
    }
}

/// One request shape and key, for sending mutants.
struct Probe<'a, 'c> {
    cx: &'a StepCx<'c>,
    request: &'a SentRequest,
    key: &'a str,
    prefixes: &'a Prefixes,
}

impl Trial<Mutation> for Probe<'_, '_> {
    /// The mutant sent with the key replaced wherever it appears; `None` when the mutation left it unchanged.
    async fn try_one(&self, m: &Mutation) -> Option<Verdict> {
        let value = m.apply(self.key, self.prefixes)?;
        let mut r = self.request.clone();
        for (_, v) in r.headers.iter_mut() {
            *v = v.replace(self.key, &value);
        }
        let status = self
            .cx
            .client
            .send(&r, self.cx.timeout)
            .await
            .ok()
            .map(|r| r.status);
        Some(Verdict {
            label: status.map_or("no response".to_string(), |s| s.to_string()),
            fails: authenticates(status),
            detail: status.map(|s| s.to_string()).unwrap_or_default(),
        })
    }
}

impl Recorded for PropertyRecord {
    fn view(&self) -> View<'_> {
        let verdict = match (&self.control, &self.counterexample) {
            (Err(e), _) => Err(format!("the unmutated key got no response: {e}")),
            (Ok(s), _) if !(200..300).contains(s) => Err(format!(
                "the unmutated key was refused ({s}), so the property proves nothing"
            )),
            (_, Some((what, status))) => Err(format!(
                "{what} authenticated ({status}); {}",
                search::replay_hint(self.shrinks, &self.seed)
            )),
            (_, None) if self.sent == 0 => Err("no mutant was sent".into()),
            (_, None) => Ok(self.sent),
        };
        View {
            property: Some(verdict),
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!("{}: mutants of the key (seed {})", self.op, self.seed)
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "(operation {}, key mutants, seed {})",
            self.op, self.seed
        );
        match &self.control {
            Ok(s) => {
                let _ = writeln!(out, "control: the unmutated key -> {s}");
            }
            Err(e) => {
                let _ = writeln!(out, "control: no response: {e}");
            }
        }
        search::write_counts(out, "mutants", self.sent, &self.statuses, self.unchanged);
        if let Some((what, status)) = &self.counterexample {
            let _ = writeln!(
                out,
                "counter-example: {what} -> {status} (after {} shrinking steps)",
                self.shrinks
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let base = PropertyRecord {
            op: "probe".into(),
            seed: search::DEFAULT_SEED.into(),
            control: Ok(200),
            sent: 3,
            unchanged: 0,
            statuses: BTreeMap::new(),
            counterexample: None,
            shrinks: 0,
        };
        assert_eq!(base.view().property, Some(Ok(3)));
        let refused = PropertyRecord {
            control: Ok(401),
            ..base.clone()
        };
        assert!(
            refused
                .view()
                .property
                .unwrap()
                .unwrap_err()
                .contains("proves nothing")
        );
        let found = PropertyRecord {
            counterexample: Some(("[KEY:dev] followed by \"=\"".into(), 200)),
            shrinks: 4,
            ..base
        };
        let why = found.view().property.unwrap().unwrap_err();
        assert!(
            why.contains("[KEY:dev] followed by") && why.contains("AUTHCONFORM_SEED="),
            "{why}"
        );
    }
}

//! Baselines: a target's list of checks expected to fail, so a CI gate can ratchet instead of being
//! all-or-nothing. The gate passes when only listed checks fail, and fails when a listed check starts
//! passing (remove it: the baseline only ever shrinks).
//!
//! ```toml
//! [[expected]]
//! scenario = "oauth-resource/expired-token"
//! requirement = "OAUTH-401-005"
//! what = "an expired token is refused with 401"   # optional: one check; without it, all of the requirement's
//! reason = "tracked in ACME-123"                  # optional, for people
//! ```

use crate::error::FileError;
use crate::report::{Outcome, RunReport};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A baseline file.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Checks expected to fail.
    #[serde(default)]
    pub expected: Vec<Expected>,
}

/// One expected failure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expected {
    /// Scenario ID, `profile/id`.
    pub scenario: String,
    /// Requirement ID.
    pub requirement: String,
    /// The check's `what`; absent = every check of the requirement in the scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    /// Why it is expected to fail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The gate's verdict.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    /// Failed checks the baseline expects: `scenario requirement what`.
    pub expected_failures: Vec<String>,
    /// Failed checks the baseline does not list.
    pub unexpected_failures: Vec<String>,
    /// Baseline entries whose checks ran and passed: the baseline must shrink.
    pub now_passing: Vec<Expected>,
}

impl Gate {
    /// True when the gate lets the run through.
    pub fn passes(&self) -> bool {
        self.unexpected_failures.is_empty() && self.now_passing.is_empty()
    }
}

impl Baseline {
    /// Reads a baseline file; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Baseline, FileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FileError::whole_file(path, format!("cannot read baseline: {e}")))?;
        FileError::parse_toml(path, &text)
    }

    /// A baseline listing exactly the checks that failed in `report`.
    pub fn from_failures(report: &RunReport) -> Baseline {
        let expected = report
            .scenarios
            .iter()
            .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
            .filter(|(_, c)| c.outcome == Outcome::Fail)
            .map(|(s, c)| Expected {
                scenario: s.id.clone(),
                requirement: c.requirement.clone(),
                what: Some(c.what.clone()),
                reason: None,
            })
            .collect();
        Baseline { expected }
    }

    fn matches(e: &Expected, scenario: &str, requirement: &str, what: &str) -> bool {
        e.scenario == scenario
            && e.requirement == requirement
            && e.what.as_deref().is_none_or(|w| w == what)
    }

    /// Judges `report` against this baseline.
    pub fn judge(&self, report: &RunReport) -> Gate {
        let mut gate = Gate::default();
        for s in &report.scenarios {
            for c in &s.checks {
                if c.outcome != Outcome::Fail {
                    continue;
                }
                let line = format!("{} {} {}", s.id, c.requirement, c.what);
                if self
                    .expected
                    .iter()
                    .any(|e| Self::matches(e, &s.id, &c.requirement, &c.what))
                {
                    gate.expected_failures.push(line);
                } else {
                    gate.unexpected_failures.push(line);
                }
            }
        }
        for e in &self.expected {
            let ran: Vec<_> = report
                .scenarios
                .iter()
                .filter(|s| s.id == e.scenario)
                .flat_map(|s| s.checks.iter())
                .filter(|c| Self::matches(e, &e.scenario, &c.requirement, &c.what))
                .collect();
            // Entries for scenarios not run this time (filtered out, skipped) say nothing.
            let judged: Vec<_> = ran.iter().filter(|c| c.outcome != Outcome::Skip).collect();
            if !judged.is_empty() && judged.iter().all(|c| c.outcome != Outcome::Fail) {
                gate.now_passing.push(e.clone());
            }
        }
        gate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckResult, ScenarioResult};
    use crate::requirements::Level;

    fn report(outcome: Outcome) -> RunReport {
        let check = CheckResult {
            requirement: "OAUTH-401-005".into(),
            level: Level::Must,
            what: "w".into(),
            outcome,
            mismatch: None,
            request: None,
            skip_reason: None,
        };
        RunReport {
            schema_version: 1,
            authconform_version: "0".into(),
            target: "t".into(),
            profiles: vec![],
            scenarios: vec![ScenarioResult {
                id: "p/s".into(),
                profile: "p".into(),
                title: "t".into(),
                outcome,
                checks: vec![check],
                setup_error: None,
                not_started: false,
                transcript: serde_json::Value::Null,
                transcript_text: String::new(),
                duration_ms: 0,
                launch_ms: None,
                phases: None,
            }],
            duration_ms: 0,
        }
    }

    #[test]
    fn expected_failure_passes_and_recovery_ratchets() {
        let failing = report(Outcome::Fail);
        let base = Baseline::from_failures(&failing);
        assert!(base.judge(&failing).passes());
        assert!(!Baseline::default().judge(&failing).passes());
        let fixed = report(Outcome::Pass);
        let gate = base.judge(&fixed);
        assert!(!gate.passes());
        assert_eq!(gate.now_passing.len(), 1);
        let skipped = report(Outcome::Skip);
        assert!(
            base.judge(&skipped).passes(),
            "an entry whose check did not run says nothing"
        );
    }
}

//! Results of a run and their rendering for a terminal.

use crate::checks::Mismatch;
use crate::requirements::Level;
use serde::Serialize;
use std::fmt::Write as _;

/// The outcome of one check or scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every expectation held.
    Pass,
    /// Informational (a MAY check that did not hold).
    Info,
    /// Not applicable to this target.
    Skip,
    /// A SHOULD check did not hold.
    Warn,
    /// A MUST check did not hold.
    Fail,
}

impl Outcome {
    /// The outcome of a check at `level` that did not hold.
    pub fn failed_at(level: Level) -> Outcome {
        match level {
            Level::Must => Outcome::Fail,
            Level::Should => Outcome::Warn,
            Level::May => Outcome::Info,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Info => "INFO",
            Outcome::Skip => "SKIP",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// Requirement ID.
    pub requirement: String,
    /// Level the check was held to.
    pub level: Level,
    /// What the check asserts.
    pub what: String,
    /// Outcome.
    pub outcome: Outcome,
    /// For a check that did not hold: expected vs got (redacted).
    pub mismatch: Option<Mismatch>,
    /// The request that produced the response the mismatch is about (redacted).
    pub request: Option<String>,
    /// Why the check was skipped.
    pub skip_reason: Option<String>,
}

/// The result of one scenario.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ScenarioResult {
    /// `profile/id`.
    pub id: String,
    /// Profile.
    pub profile: String,
    /// Title.
    pub title: String,
    /// Worst check outcome (Skip only when every check was skipped).
    pub outcome: Outcome,
    /// Check results, in file order.
    pub checks: Vec<CheckResult>,
    /// Why the scenario could not run (target did not start, deadline), if so (redacted).
    pub setup_error: Option<String>,
    /// What every step sent and got, redacted (JSON).
    pub transcript: serde_json::Value,
    /// The same as normalised text, with the check outcomes: what snapshots hold ([`crate::transcript`]).
    pub transcript_text: String,
    /// Wall time in milliseconds.
    pub duration_ms: u128,
    /// Of which launching the target until it was ready, when it was launched.
    pub launch_ms: Option<u128>,
}

impl ScenarioResult {
    /// Derives the scenario outcome from its checks.
    pub fn outcome_of(checks: &[CheckResult]) -> Outcome {
        if checks.iter().all(|c| c.outcome == Outcome::Skip) {
            return Outcome::Skip;
        }
        checks
            .iter()
            .map(|c| c.outcome)
            .filter(|o| *o != Outcome::Skip && *o != Outcome::Info)
            .max()
            .unwrap_or(Outcome::Pass)
    }
}

/// Version of the JSON report format ([`RunReport`] serialized); bumped on any incompatible change.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// The result of a whole run.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RunReport {
    /// [`REPORT_SCHEMA_VERSION`] of the writer.
    pub schema_version: u32,
    /// Version of authconform that wrote the report.
    pub authconform_version: String,
    /// Target name.
    pub target: String,
    /// Profiles the target claims.
    pub profiles: Vec<String>,
    /// Scenario results, sorted by ID.
    pub scenarios: Vec<ScenarioResult>,
    /// Wall time in milliseconds.
    pub duration_ms: u128,
}

impl RunReport {
    /// Process exit code: 0 when no MUST check failed, 1 when one did, 2 when the target never started.
    pub fn exit_code(&self) -> i32 {
        let ran = self
            .scenarios
            .iter()
            .filter(|s| s.outcome != Outcome::Skip)
            .count();
        let never_started = ran > 0
            && self
                .scenarios
                .iter()
                .filter(|s| s.outcome != Outcome::Skip)
                .all(|s| {
                    s.setup_error
                        .as_deref()
                        .is_some_and(|e| e.starts_with(crate::runner::NOT_STARTED))
                });
        if never_started {
            2
        } else if self.scenarios.iter().any(|s| s.outcome == Outcome::Fail) {
            1
        } else {
            0
        }
    }

    /// Counts of check outcomes: (pass, fail, warn, skip, info).
    pub fn check_counts(&self) -> [usize; 5] {
        let mut n = [0; 5];
        for c in self.scenarios.iter().flat_map(|s| &s.checks) {
            let i = match c.outcome {
                Outcome::Pass => 0,
                Outcome::Fail => 1,
                Outcome::Warn => 2,
                Outcome::Skip => 3,
                Outcome::Info => 4,
            };
            n[i] += 1;
        }
        n
    }
}

/// Terminal styling.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
    /// Show passing checks too.
    pub verbose: bool,
}

impl Style {
    fn paint(&self, o: Outcome) -> String {
        let label = o.label();
        if !self.color {
            return label.to_string();
        }
        let code = match o {
            Outcome::Pass => "32",
            Outcome::Fail => "31;1",
            Outcome::Warn => "33",
            Outcome::Skip | Outcome::Info => "2",
        };
        format!("\x1b[{code}m{label}\x1b[0m")
    }
}

/// Renders the report: per profile, per scenario, failed and warned checks in detail, then a summary.
pub fn render(report: &RunReport, style: Style) -> String {
    let mut out = String::new();
    let mut profile = "";
    for s in &report.scenarios {
        if s.profile != profile {
            profile = &s.profile;
            let in_profile: Vec<_> = report
                .scenarios
                .iter()
                .filter(|x| x.profile == profile)
                .collect();
            let worst = in_profile
                .iter()
                .map(|x| x.outcome)
                .filter(|o| *o != Outcome::Skip)
                .max()
                .unwrap_or(Outcome::Skip);
            let _ = writeln!(
                out,
                "\n{} profile {profile} ({} scenarios)",
                style.paint(worst),
                in_profile.len()
            );
        }
        let _ = writeln!(
            out,
            "  {}  {:<34} {}  ({} ms)",
            style.paint(s.outcome),
            s.id.split('/').nth(1).unwrap_or(&s.id),
            s.title,
            s.duration_ms
        );
        if let Some(e) = &s.setup_error {
            for (i, line) in e.lines().enumerate() {
                let _ = writeln!(out, "        {}{line}", if i == 0 { "! " } else { "  " });
            }
        }
        for c in &s.checks {
            let show =
                style.verbose || matches!(c.outcome, Outcome::Fail | Outcome::Warn | Outcome::Info);
            if !show {
                continue;
            }
            let _ = writeln!(
                out,
                "        {} {} {}  {}",
                style.paint(c.outcome),
                c.requirement,
                c.level,
                c.what
            );
            if let Some(r) = &c.skip_reason {
                let _ = writeln!(out, "             skipped: {r}");
            }
            if let Some(m) = &c.mismatch {
                if let Some(step) = &m.step {
                    let _ = writeln!(out, "             step:     {step}");
                }
                let _ = writeln!(out, "             expected: {}", m.expected);
                let _ = writeln!(out, "             got:      {}", m.got);
            }
            if let Some(r) = &c.request {
                let _ = writeln!(out, "             request:  {r}");
            }
        }
    }
    let n = report.check_counts();
    let count = |o: Outcome| report.scenarios.iter().filter(|s| s.outcome == o).count();
    let _ = writeln!(
        out,
        "\ntarget {}: {} scenarios: {} passed, {} failed, {} warned, {} skipped; {} checks: {} pass, {} fail, {} warn, {} skip, {} info; {:.2} s",
        report.target,
        report.scenarios.len(),
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Warn),
        count(Outcome::Skip),
        n.iter().sum::<usize>(),
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        report.duration_ms as f64 / 1000.0
    );
    let failed: Vec<String> = report
        .scenarios
        .iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.requirement.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "failed requirements: {}", failed.join(", "));
    }
    out
}

//! The result model of a run: outcomes of checks and scenarios, and the exit code they imply. It reads
//! nothing from the runner; renderers live in [`crate::reports`] (the terminal one is re-exported here).

pub use crate::reports::terminal::{Style, render};
use crate::requirements::Level;
use serde::Serialize;

/// Why a check did not hold: the first expectation that failed, and where.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Mismatch {
    /// The step whose result failed the expectation (None for run-wide expectations such as journals).
    pub step: Option<String>,
    /// What was expected.
    pub expected: String,
    /// What was observed.
    pub got: String,
}

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

    /// The upper-case label (`PASS`, `FAIL`, …).
    pub fn label(self) -> &'static str {
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
    /// The target never became ready for this scenario (with every scenario so, the run exits 2).
    #[serde(default)]
    pub not_started: bool,
    /// What every step sent and got, redacted (JSON).
    pub transcript: serde_json::Value,
    /// The same as normalised text, with the check outcomes: what snapshots hold ([`crate::transcript`]).
    pub transcript_text: String,
    /// Wall time in milliseconds.
    pub duration_ms: u128,
    /// Of which launching the target until it was ready, when it was launched.
    pub launch_ms: Option<u128>,
    /// Where the scenario's time went, phase by phase, for a scenario that ran (added without a schema bump:
    /// absent in older reports and for scenarios that were skipped or did not start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases: Option<Phases>,
}

/// Where a scenario's wall time went, in microseconds, phase by phase in the order they run. The phases do
/// not overlap; their sum is at most the scenario's `duration_ms` (the rest is bookkeeping between them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Phases {
    /// Starting the mocks: the upstream API (wiremock), the authorization servers (signing keys, TLS).
    pub mocks_us: u64,
    /// Starting the scenario's mock vendor host (`[host]`) or MCP-client world (`[world]`).
    pub host_us: u64,
    /// Launching the target process until it was ready (`launch_ms`, finer).
    pub target_us: u64,
    /// Minting the scenario's tokens.
    pub tokens_us: u64,
    /// Running the steps, except protocol-mandated waits.
    pub steps_us: u64,
    /// Protocol-mandated waits (`wait` steps, such as a device code's lifetime).
    pub wait_us: u64,
    /// Judging the checks, the global secret check, rendering the transcript.
    pub judge_us: u64,
    /// Stopping the target process.
    pub stop_us: u64,
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
                .all(|s| s.not_started);
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

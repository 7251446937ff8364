//! The one policy that turns a run into an exit code: checks, the baseline gate and the snapshot comparison.
//! The CLI and the libtest entry point (`tests/scenarios.rs`) both call [`decide`].
//!
//! 0: every applicable MUST check passed, or failed only where the baseline expects it, and snapshots match;
//! 1: a check failed (or a baseline entry now passes), or a transcript differs from its snapshot;
//! 2: the target never started for any scenario, or no scenario ran.

use crate::baseline::Baseline;
use crate::report::{Outcome, RunReport};
use crate::snapshot::SnapshotReport;

/// The decision and the lines that explain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Process exit code.
    pub exit_code: i32,
    /// What the gate and the snapshots said, one line each, for the terminal or a test failure.
    pub lines: Vec<String>,
}

/// Decides the exit code of `report`, gated by `baseline` (`name` shown in the lines) and `snapshots`.
pub fn decide(
    report: &RunReport,
    baseline: Option<(&str, &Baseline)>,
    snapshots: Option<&SnapshotReport>,
) -> Verdict {
    let mut lines = Vec::new();
    let ran = report.scenarios.iter().any(|s| s.outcome != Outcome::Skip);
    if report.scenarios.is_empty() || report.exit_code() == 2 {
        if report.scenarios.is_empty() {
            lines.push("no scenario ran".into());
        }
        return Verdict {
            exit_code: 2,
            lines,
        };
    }
    let mut failed = match baseline {
        Some((name, b)) => !gate(report, name, b, &mut lines),
        None => report.exit_code() == 1,
    };
    if let Some(snaps) = snapshots {
        failed |= !snapshot_lines(snaps, &mut lines);
    }
    if !ran {
        lines.push("every scenario was skipped".into());
    }
    Verdict {
        exit_code: i32::from(failed),
        lines,
    }
}

/// The baseline gate's lines; whether it passes.
fn gate(report: &RunReport, name: &str, b: &Baseline, lines: &mut Vec<String>) -> bool {
    let gate = b.judge(report);
    lines.push(format!(
        "baseline {name}: {} expected failure(s), {} unexpected, {} now passing",
        gate.expected_failures.len(),
        gate.unexpected_failures.len(),
        gate.now_passing.len()
    ));
    for f in &gate.unexpected_failures {
        lines.push(format!("  unexpected failure: {f}"));
    }
    for e in &gate.now_passing {
        lines.push(format!(
            "  now passing, remove from the baseline: {} {}{}",
            e.scenario,
            e.requirement,
            e.what
                .as_deref()
                .map(|w| format!(" ({w})"))
                .unwrap_or_default()
        ));
    }
    gate.passes()
}

/// The snapshot comparison's lines; whether it passes (nothing recorded passes, and says so).
fn snapshot_lines(snaps: &SnapshotReport, lines: &mut Vec<String>) -> bool {
    let dir = snaps.dir.display();
    if snaps.no_snapshots {
        lines.push(format!(
            "snapshots: none recorded in {dir} (record them with --update-snapshots)"
        ));
        return true;
    }
    if snaps.differing.is_empty() {
        lines.push(format!(
            "snapshots: {} transcripts match {dir}",
            snaps.compared
        ));
        return true;
    }
    lines.push(format!(
        "snapshots: {} of {} transcripts differ from {dir}: {}",
        snaps.differing.len(),
        snaps.compared,
        snaps.differing.join(", ")
    ));
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{CheckResult, ScenarioResult};
    use crate::requirements::Level;

    fn report(outcome: Outcome, not_started: bool) -> RunReport {
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
                checks: vec![CheckResult {
                    requirement: "R-1".into(),
                    level: Level::Must,
                    what: "w".into(),
                    outcome,
                    mismatch: None,
                    request: None,
                    skip_reason: None,
                }],
                setup_error: None,
                not_started,
                transcript: serde_json::Value::Null,
                transcript_text: String::new(),
                duration_ms: 0,
                launch_ms: None,
                phases: None,
            }],
            duration_ms: 0,
        }
    }

    fn snaps(differing: &[&str]) -> SnapshotReport {
        SnapshotReport {
            dir: "snapshots/t".into(),
            compared: 1,
            differing: differing.iter().map(|s| s.to_string()).collect(),
            no_snapshots: false,
            written: 0,
        }
    }

    #[test]
    fn checks_snapshots_and_start_failures() {
        assert_eq!(
            decide(&report(Outcome::Pass, false), None, None).exit_code,
            0
        );
        assert_eq!(
            decide(&report(Outcome::Warn, false), None, None).exit_code,
            0
        );
        assert_eq!(
            decide(&report(Outcome::Fail, false), None, None).exit_code,
            1
        );
        assert_eq!(
            decide(&report(Outcome::Fail, true), None, None).exit_code,
            2
        );
        let v = decide(&report(Outcome::Pass, false), None, Some(&snaps(&["p/s"])));
        assert_eq!(v.exit_code, 1);
        assert!(v.lines[0].contains("differ"), "{v:?}");
    }

    #[test]
    fn the_baseline_ratchets() {
        let failed = report(Outcome::Fail, false);
        let expected = Baseline::from_failures(&failed);
        assert_eq!(decide(&failed, Some(("b", &expected)), None).exit_code, 0);
        let v = decide(&report(Outcome::Pass, false), Some(("b", &expected)), None);
        assert_eq!(v.exit_code, 1, "a now-passing entry fails: {v:?}");
        assert!(v.lines.iter().any(|l| l.contains("now passing")));
    }

    #[test]
    fn no_scenario_is_an_input_problem() {
        let mut r = report(Outcome::Pass, false);
        r.scenarios.clear();
        assert_eq!(decide(&r, None, None).exit_code, 2);
    }
}

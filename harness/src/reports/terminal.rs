//! The report as terminal text: per profile, per scenario, failed and warned checks in detail, then a
//! summary line.

use crate::report::{CheckResult, Outcome, RunReport, ScenarioResult};
use std::fmt::Write as _;

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
    if let Some(why) = never_started(report) {
        // Nothing ran, for one reason: that reason is the report.
        let ran = report
            .scenarios
            .iter()
            .filter(|s| s.outcome != Outcome::Skip)
            .count();
        let why = why.lines().collect::<Vec<_>>().join("\n    ");
        let _ = writeln!(
            out,
            "\n{} target {}: {why}\n  no scenario ran ({ran} scenarios need it); nothing was judged",
            style.paint(Outcome::Fail),
            report.target,
        );
        return out;
    }
    let mut profile = "";
    for s in &report.scenarios {
        if s.profile != profile {
            profile = &s.profile;
            profile_line(&mut out, report, profile, style);
        }
        scenario(&mut out, s, style);
    }
    summary(&mut out, report);
    out
}

fn profile_line(out: &mut String, report: &RunReport, profile: &str, style: Style) {
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

fn scenario(out: &mut String, s: &ScenarioResult, style: Style) {
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
    if s.setup_error.is_some() {
        // Every check failed for the reason above: name them, without repeating it under each.
        let reqs: std::collections::BTreeSet<&str> =
            s.checks.iter().map(|c| c.requirement.as_str()).collect();
        let _ = writeln!(
            out,
            "        {} checks not judged: {}",
            s.checks.len(),
            reqs.into_iter().collect::<Vec<_>>().join(", ")
        );
        return;
    }
    for c in &s.checks {
        let show =
            style.verbose || matches!(c.outcome, Outcome::Fail | Outcome::Warn | Outcome::Info);
        if show {
            check(out, c, style);
        }
    }
}

/// The one reason no scenario of `report` ran, when every scenario that applies never started for the
/// same reason (the target did not start, or cannot be reached).
fn never_started(report: &RunReport) -> Option<&str> {
    let mut ran = report
        .scenarios
        .iter()
        .filter(|s| s.outcome != Outcome::Skip);
    let first = ran.next()?;
    let why = first.setup_error.as_deref().filter(|_| first.not_started)?;
    ran.all(|s| s.not_started && s.setup_error.as_deref() == Some(why))
        .then_some(why)
}

fn check(out: &mut String, c: &CheckResult, style: Style) {
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

fn summary(out: &mut String, report: &RunReport) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Mismatch;
    use crate::requirements::Level;

    fn failed_check(req: &str, why: &str) -> CheckResult {
        CheckResult {
            requirement: req.into(),
            level: Level::Must,
            what: format!("what {req}"),
            outcome: Outcome::Fail,
            mismatch: Some(Mismatch {
                step: None,
                expected: "the scenario to run".into(),
                got: why.into(),
            }),
            request: None,
            skip_reason: None,
        }
    }

    fn scenario(id: &str, why: Option<&str>, not_started: bool) -> ScenarioResult {
        ScenarioResult {
            id: format!("p/{id}"),
            profile: "p".into(),
            title: "t".into(),
            outcome: Outcome::Fail,
            checks: ["R-001", "R-002", "R-003"]
                .iter()
                .map(|r| failed_check(r, why.unwrap_or("bad")))
                .collect(),
            setup_error: why.map(str::to_string),
            not_started,
            transcript: serde_json::Value::Null,
            transcript_text: String::new(),
            duration_ms: 0,
            launch_ms: None,
            phases: None,
        }
    }

    fn report(scenarios: Vec<ScenarioResult>) -> RunReport {
        RunReport {
            schema_version: crate::report::REPORT_SCHEMA_VERSION,
            authconform_version: "0".into(),
            target: "t".into(),
            profiles: vec!["p".into()],
            scenarios,
            duration_ms: 0,
        }
    }

    const STYLE: Style = Style {
        color: false,
        verbose: false,
    };

    #[test]
    fn a_scenario_that_did_not_start_says_why_once() {
        let why = "target did not start: exited with exit status: 3";
        let r = report(vec![
            scenario("a", Some(why), true),
            scenario("b", None, false),
        ]);
        let text = render(&r, STYLE);
        assert_eq!(text.matches(why).count(), 1, "{text}");
        assert!(
            text.contains("3 checks not judged: R-001, R-002, R-003"),
            "{text}"
        );
    }

    #[test]
    fn a_run_where_nothing_started_for_one_reason_is_one_line() {
        let why = "cannot reach http://127.0.0.1:9/mcp: connection refused";
        let r = report(vec![
            scenario("a", Some(why), true),
            scenario("b", Some(why), true),
        ]);
        let text = render(&r, STYLE);
        assert_eq!(text.matches(why).count(), 1, "{text}");
        assert!(!text.contains("R-001"), "{text}");
        assert!(
            text.contains("no scenario ran (2 scenarios need it)"),
            "{text}"
        );
    }

    #[test]
    fn different_reasons_are_each_said_once_per_scenario() {
        let r = report(vec![
            scenario("a", Some("target did not start: one"), true),
            scenario("b", Some("target did not start: two"), true),
        ]);
        let text = render(&r, STYLE);
        assert_eq!(
            text.matches("target did not start: one").count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches("target did not start: two").count(),
            1,
            "{text}"
        );
    }
}

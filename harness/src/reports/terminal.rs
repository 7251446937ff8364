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
    for c in &s.checks {
        let show =
            style.verbose || matches!(c.outcome, Outcome::Fail | Outcome::Warn | Outcome::Info);
        if show {
            check(out, c, style);
        }
    }
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

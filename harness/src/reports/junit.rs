//! JUnit XML for CI dashboards (GitHub, GitLab, Jenkins), written with `quick-junit`.

use super::{detail_text, label, short_id};
use crate::report::{CheckResult, Outcome, RunReport, ScenarioResult};
use anyhow::Context as _;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

/// The report as JUnit XML: one `<testsuite>` per profile, one `<testcase>` per check named
/// `SCENARIO :: REQ-ID :: what` (classname `profile/scenario`).
///
/// A failed MUST check is a `<failure>` whose text holds the step, expected, got and request lines; a
/// warning (failed SHOULD) passes and carries `WARN …` in its `<system-out>`, as does an informational MAY
/// (`INFO …`); a skipped check is `<skipped>` with the reason.
pub fn junit(report: &RunReport) -> anyhow::Result<String> {
    let mut out = Report::new(format!("authconform: {}", report.target));
    out.set_time(Duration::from_millis(
        u64::try_from(report.duration_ms).unwrap_or(u64::MAX),
    ));
    let mut profiles: Vec<&str> = Vec::new();
    for s in &report.scenarios {
        if !profiles.contains(&s.profile.as_str()) {
            profiles.push(&s.profile);
        }
    }
    for profile in profiles {
        let mut suite = TestSuite::new(profile);
        // Scenarios run concurrently: the run's wall time is on the report, none is made up per suite.
        for s in report.scenarios.iter().filter(|s| s.profile == profile) {
            suite.add_test_cases(s.checks.iter().enumerate().map(|(i, c)| case(s, c, i == 0)));
        }
        out.add_test_suite(suite);
    }
    out.to_string().context("cannot write JUnit XML")
}

/// One check as a test case; a scenario that did not run gives its reason on its `first` check only.
fn case(s: &ScenarioResult, c: &CheckResult, first: bool) -> TestCase {
    let name = format!("{} :: {} :: {}", short_id(&s.id), c.requirement, c.what);
    let headline = format!("{} {} {}", label(c.outcome), c.requirement, c.level);
    let mut details = detail_text(c);
    match (&s.setup_error, first) {
        (Some(e), true) => details.push_str(&format!("scenario did not run: {e}\n")),
        (Some(_), false) => {
            details.push_str("scenario did not run: the reason is on its first check\n")
        }
        (None, _) => {}
    }
    let status = match c.outcome {
        Outcome::Fail => {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = match &c.mismatch {
                Some(m) => format!("{headline}: expected {}, got {}", m.expected, m.got),
                None => headline.clone(),
            };
            st.set_message(message)
                .set_type(c.level.to_string())
                .set_description(details.clone());
            st
        }
        Outcome::Skip => {
            let mut st = TestCaseStatus::skipped();
            if let Some(r) = &c.skip_reason {
                st.set_message(r.as_str());
            }
            st
        }
        Outcome::Pass | Outcome::Warn | Outcome::Info => TestCaseStatus::success(),
    };
    let mut tc = TestCase::new(name, status);
    tc.set_classname(s.id.as_str());
    if matches!(c.outcome, Outcome::Warn | Outcome::Info) {
        tc.set_system_out(format!("{headline}  {}\n{details}", c.what));
    }
    tc
}

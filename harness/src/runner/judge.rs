//! The judge phase: each check's expectations against what the steps recorded and the mocks saw, to a
//! verdict. Everything that leaves here is redacted.

use crate::expect::RunView;
use crate::redact::Redactor;
use crate::report::{CheckResult, Mismatch, Outcome};
use crate::requirements::Catalog;
use crate::scenario::{Check, Scenario};
use crate::step::Record;
use crate::template::Vars;
use std::collections::BTreeMap;

/// What the judge reads: the steps' records in order, the variables, the run's journals.
pub struct Evidence<'a> {
    /// Step name and record, in the order run.
    pub records: &'a [(String, Record)],
    /// Variables after the last step.
    pub vars: &'a Vars,
    /// What the mocks saw.
    pub run: RunView<'a>,
    /// How the target process ended, if it did during the steps.
    pub exited: Option<String>,
    /// Steps that ran as several (a `rest` step over an operation set): name → the names they ran under.
    pub groups: &'a BTreeMap<String, Vec<String>>,
}

impl Evidence<'_> {
    fn record(&self, step: &str) -> Option<&Record> {
        self.records.iter().find(|(n, _)| n == step).map(|(_, r)| r)
    }

    /// The step names a check's `steps` stand for, expanded groups included.
    fn expand(&self, steps: &[String]) -> Vec<String> {
        steps
            .iter()
            .flat_map(|s| match self.groups.get(s) {
                Some(names) => names.clone(),
                None => vec![s.clone()],
            })
            .collect()
    }
}

/// Judges every check of `s`.
pub fn judge_all(
    s: &Scenario,
    ev: &Evidence<'_>,
    redactor: &Redactor,
    catalog: &Catalog,
) -> Vec<CheckResult> {
    s.checks
        .iter()
        .map(|c| judge_one(c, s, ev, redactor, catalog))
        .collect()
}

fn judge_one(
    c: &Check,
    s: &Scenario,
    ev: &Evidence<'_>,
    redactor: &Redactor,
    catalog: &Catalog,
) -> CheckResult {
    let mut result = CheckResult {
        requirement: c.requirement.clone(),
        level: s.level_in(c, catalog, ev.vars),
        what: c.what.clone(),
        outcome: Outcome::Pass,
        mismatch: None,
        request: None,
        skip_reason: None,
    };
    if let Some(why) = c
        .applies_if
        .iter()
        .find_map(|cond| cond.holds(ev.vars).err())
    {
        result.outcome = Outcome::Skip;
        result.skip_reason = Some(redactor.redact(&why));
        return result;
    }
    if let Err(mut m) = evaluate(c, ev) {
        if let Some(status) = &ev.exited {
            m.got = format!("{} (the target process had exited: {status})", m.got);
        }
        let step = m.step.as_deref().and_then(|st| ev.record(st));
        if let Some(cut) = step
            .and_then(|r| r.response()?.body_cut.as_deref())
            .filter(|c| *c != crate::http::STREAM_NOT_READ)
        {
            m.got = format!("{} (response body cut: {cut})", m.got);
        }
        result.request = m
            .step
            .as_deref()
            .and_then(|st| ev.record(st))
            .map(|r| redactor.redact(&r.request_line()));
        m.expected = redactor.redact(&m.expected);
        m.got = redactor.redact(&m.got);
        result.outcome = Outcome::failed_at(result.level);
        result.mismatch = Some(m);
    }
    result
}

/// Evaluates `check`; Ok when every expectation holds for every named step (or, with `any`, for one).
pub fn evaluate(check: &Check, ev: &Evidence<'_>) -> Result<(), Mismatch> {
    let mut first_mismatch = None;
    let mut judged = 0;
    let steps = ev.expand(&check.steps);
    for step in &steps {
        if let Some(when) = &check.when_status {
            // Only responses with one of these statuses are judged; steps without a response are not.
            let Some(r) = ev.record(step).and_then(Record::response) else {
                continue;
            };
            if !when.iter().any(|p| p.matches(r.status)) {
                continue;
            }
        }
        judged += 1;
        match step_holds(check, step, ev) {
            Ok(()) if check.any => {
                first_mismatch = None;
                break;
            }
            Ok(()) => {}
            Err(m) if check.any => {
                first_mismatch.get_or_insert(m);
            }
            Err(m) => return Err(m),
        }
    }
    if let Some(m) = first_mismatch {
        return Err(m);
    }
    if judged == 0 && !steps.is_empty() {
        let when = check
            .when_status
            .as_deref()
            .map(crate::expect::status::list)
            .unwrap_or_default();
        return Err(Mismatch {
            step: steps.first().cloned(),
            expected: format!("at least one of the steps answered with status {when}"),
            got: "none did".into(),
        });
    }
    check
        .expect
        .judge_run(&ev.run, ev.vars)
        .map_err(|(expected, got)| Mismatch {
            step: None,
            expected,
            got,
        })
}

fn step_holds(check: &Check, step: &str, ev: &Evidence<'_>) -> Result<(), Mismatch> {
    let mm = |(expected, got): (String, String)| Mismatch {
        step: Some(step.to_string()),
        expected,
        got,
    };
    let Some(record) = ev.record(step) else {
        return Err(mm((
            "the step to run".into(),
            "it did not run (scenario stopped early)".into(),
        )));
    };
    let view = record.view();
    if let Some(reason) = view.not_run {
        return Err(mm(("the step to run".into(), format!("not run: {reason}"))));
    }
    check.expect.judge_step(&view, ev.vars).map_err(mm)
}

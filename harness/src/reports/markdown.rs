//! The Markdown summary of one run (`report.md`): fit for a CI job summary or a pull-request comment.

use super::{detail_text, label, short_id, worst};
use crate::report::{Outcome, RunReport};
use crate::requirements::{Catalog, PROFILES};
use std::fmt::Write as _;

/// A human summary of `report`: the counts, then per profile a table of the requirements the run checked
/// (ID, level, title, outcome, scenarios; the outcome is the worst of the requirement's checks), then every
/// failed and warned check with its expected, got and request lines, and the scenarios that could not run.
pub fn markdown(report: &RunReport, catalog: &Catalog) -> String {
    let mut out = String::new();
    summary(&mut out, report);
    for profile in profiles_of(report) {
        profile_section(&mut out, report, catalog, &profile);
    }
    problems_section(&mut out, report);
    not_run_section(&mut out, report);
    out
}

/// The title, the verdict line, the scenario and check counts, and the failed and warned requirement IDs.
fn summary(out: &mut String, report: &RunReport) {
    let n = report.check_counts();
    let count = |o: Outcome| report.scenarios.iter().filter(|s| s.outcome == o).count();
    let verdict = match report.exit_code() {
        0 => "PASS",
        1 => "FAIL",
        _ => "ERROR (the target never started)",
    };
    let _ = writeln!(out, "# authconform report: {}\n", cell(&report.target));
    let _ = writeln!(
        out,
        "**{verdict}** · authconform {} · report schema {} · profiles: {} · {:.2} s\n",
        cell(&report.authconform_version),
        report.schema_version,
        cell(&report.profiles.join(", ")),
        report.duration_ms as f64 / 1000.0
    );
    let _ = writeln!(
        out,
        "| | total | pass | fail | warn | skip | info |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    let _ = writeln!(
        out,
        "| scenarios | {} | {} | {} | {} | {} | |",
        report.scenarios.len(),
        count(Outcome::Pass),
        count(Outcome::Fail),
        count(Outcome::Warn),
        count(Outcome::Skip)
    );
    let _ = writeln!(out, "| checks | {} |\n", count_cells(n));
    let failed = requirement_ids(report, Outcome::Fail);
    if !failed.is_empty() {
        let _ = writeln!(out, "Failed requirements: {}\n", failed.join(", "));
    }
    let warned = requirement_ids(report, Outcome::Warn);
    if !warned.is_empty() {
        let _ = writeln!(out, "Warned requirements: {}\n", warned.join(", "));
    }
}

/// The section of `profile`: how many of its catalog requirements the run checked, a table row per checked
/// requirement, and the IDs of those it did not check.
fn profile_section(out: &mut String, report: &RunReport, catalog: &Catalog, profile: &str) {
    let in_catalog = catalog.iter().filter(|r| r.profile == profile).count();
    let mut table = String::new();
    let mut checked = 0;
    let mut unchecked = Vec::new();
    let rows = profile_rows(report, catalog, profile);
    for (id, level, title) in &rows {
        if requirement_row(&mut table, report, id, level, title) {
            checked += 1;
        } else {
            unchecked.push(id.as_str());
        }
    }
    let _ = writeln!(
        out,
        "## Profile {profile}\n\n{checked} of {in_catalog} requirements checked.\n"
    );
    if checked > 0 {
        let _ = writeln!(
            out,
            "| requirement | level | title | outcome | scenarios |\n| --- | --- | --- | --- | --- |\n{table}"
        );
    }
    if !unchecked.is_empty() {
        let _ = writeln!(out, "Not checked by this run: {}.\n", unchecked.join(", "));
    }
}

/// (ID, level, title) of the requirements of `profile`: the catalog's, in catalog order, then those the
/// report's scenarios of that profile name but this catalog does not know (a report from another version).
fn profile_rows(
    report: &RunReport,
    catalog: &Catalog,
    profile: &str,
) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = catalog
        .iter()
        .filter(|r| r.profile == profile)
        .map(|r| (r.id.clone(), r.level.to_string(), r.title.clone()))
        .collect();
    for s in report.scenarios.iter().filter(|s| s.profile == profile) {
        for c in &s.checks {
            if catalog.get(&c.requirement).is_none() && !rows.iter().any(|r| r.0 == c.requirement) {
                rows.push((
                    c.requirement.clone(),
                    c.level.to_string(),
                    "(not in this catalog)".into(),
                ));
            }
        }
    }
    rows
}

/// Appends the table row of requirement `id` to `table`: its worst outcome over all the report's checks of
/// it, and the scenarios holding those checks. False, and nothing appended, when the run did not check it.
fn requirement_row(
    table: &mut String,
    report: &RunReport,
    id: &str,
    level: &str,
    title: &str,
) -> bool {
    let checks: Vec<_> = report
        .scenarios
        .iter()
        .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
        .filter(|(_, c)| c.requirement == id)
        .collect();
    let Some(o) = worst(checks.iter().map(|(_, c)| *c)) else {
        return false;
    };
    let mut scenarios: Vec<&str> = checks.iter().map(|(s, _)| short_id(&s.id)).collect();
    scenarios.dedup();
    let _ = writeln!(
        table,
        "| {id} | {level} | {} | {} | {} |",
        cell(title),
        mark(o),
        cell(&scenarios.join(", "))
    );
    true
}

/// Every failed and warned check, in report order, with its scenario and detail lines.
fn problems_section(out: &mut String, report: &RunReport) {
    let problems: Vec<_> = report
        .scenarios
        .iter()
        .flat_map(|s| s.checks.iter().map(move |c| (s, c)))
        .filter(|(_, c)| matches!(c.outcome, Outcome::Fail | Outcome::Warn))
        .collect();
    if problems.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Failures and warnings\n");
    for (s, c) in problems {
        let _ = writeln!(
            out,
            "### {} {} {}: {}\n\nScenario `{}`: {}\n\n{}",
            label(c.outcome),
            c.requirement,
            c.level,
            cell(&c.what),
            s.id,
            cell(&s.title),
            fenced(&detail_text(c))
        );
    }
}

/// The scenarios that could not run, each with its setup error.
fn not_run_section(out: &mut String, report: &RunReport) {
    let not_run: Vec<_> = report
        .scenarios
        .iter()
        .filter_map(|s| s.setup_error.as_ref().map(|e| (s, e)))
        .collect();
    if not_run.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Scenarios that could not run\n");
    for (s, e) in not_run {
        let _ = writeln!(out, "### `{}`: {}\n\n{}", s.id, cell(&s.title), fenced(e));
    }
}

/// Profiles of the report's scenarios, in catalog order (unknown ones last, in report order).
fn profiles_of(report: &RunReport) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for s in &report.scenarios {
        if !seen.contains(&s.profile) {
            seen.push(s.profile.clone());
        }
    }
    seen.sort_by_key(|p| PROFILES.iter().position(|x| x == p).unwrap_or(usize::MAX));
    seen
}

/// Sorted, distinct IDs of requirements with at least one check of outcome `o`.
fn requirement_ids(report: &RunReport, o: Outcome) -> Vec<String> {
    let ids: std::collections::BTreeSet<&str> = report
        .scenarios
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.outcome == o)
        .map(|c| c.requirement.as_str())
        .collect();
    ids.into_iter().map(String::from).collect()
}

/// An outcome with a symbol, readable without colour.
pub(super) fn mark(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass | Outcome::Info => "✅ pass",
        Outcome::Fail => "❌ **FAIL**",
        Outcome::Warn => "⚠️ warn",
        Outcome::Skip => "➖ skip",
    }
}

/// Check counts (pass, fail, warn, skip, info) as Markdown cells: total, then each.
pub(super) fn count_cells(n: [usize; 5]) -> String {
    let total = n.iter().sum::<usize>();
    std::iter::once(total)
        .chain(n)
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Text safe inside a Markdown table cell or heading: one line, no pipes, no raw HTML.
pub(super) fn cell(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// `text` in a fenced code block whose fence is longer than any backtick run inside it.
pub(super) fn fenced(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}text\n{}\n{fence}\n", text.trim_end())
}

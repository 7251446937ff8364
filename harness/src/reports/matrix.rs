//! The compatibility matrix: requirements down the side, one column per report.

use super::markdown::{cell as md, count_cells, mark};
use super::{detail_lines, short_id, worst};
use crate::report::{Outcome, RunReport, ScenarioResult};
use crate::requirements::{Catalog, Level};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Requirements (grouped by profile, in catalog order, only those checked by at least one report) down
/// the side, one column per report, each cell the worst outcome of that requirement's checks in that
/// report. Rendered as a Markdown table ([`Matrix::to_markdown`]) or one self-contained HTML page with the
/// failing transcripts ([`Matrix::to_html`]).
///
/// ```no_run
/// # use authconform::{reports::{self, Matrix}, requirements::Catalog, report::Outcome};
/// # fn main() -> anyhow::Result<()> {
/// let clean = reports::load("clean.json".as_ref())?;
/// let faulty = reports::load("faulty.json".as_ref())?;
/// let m = Matrix::build(&[("clean".into(), clean), ("faulty".into(), faulty)], &Catalog::builtin());
/// assert_eq!(m.cell("OAUTH-401-005", "faulty"), Some(Outcome::Fail));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Matrix {
    pub(super) columns: Vec<Column>,
    pub(super) groups: Vec<Group>,
}

/// One report, as a column.
#[derive(Debug, Clone)]
pub(super) struct Column {
    pub(super) label: String,
    pub(super) target: String,
    pub(super) authconform_version: String,
    pub(super) profiles: Vec<String>,
    /// Check counts: pass, fail, warn, skip, info.
    pub(super) counts: [usize; 5],
    pub(super) exit_code: i32,
    /// The scenarios with a failed or warned check, for the details.
    pub(super) problems: Vec<ScenarioResult>,
}

/// The rows of one profile.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) profile: String,
    pub(super) rows: Vec<Row>,
}

/// One requirement across the columns.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) id: String,
    pub(super) level: Level,
    pub(super) title: String,
    /// One per column: None when that report has no check of this requirement.
    pub(super) cells: Vec<Option<Outcome>>,
}

/// Group name of requirements a report names that the catalog does not know.
const UNKNOWN_GROUP: &str = "(not in this catalog)";

impl Matrix {
    /// Builds the matrix of `reports`, each with its column label (see [`super::labels`]), in order.
    pub fn build(reports: &[(String, RunReport)], catalog: &Catalog) -> Matrix {
        let per_report = worst_per_requirement(reports);
        let mut groups = catalog_groups(catalog, &per_report);
        groups.extend(unknown_group(reports, catalog, &per_report));
        let columns = reports
            .iter()
            .map(|(label, r)| Column::new(label, r))
            .collect();
        Matrix { columns, groups }
    }

    /// The worst outcome of `requirement`'s checks in the report labelled `column` (fail > warn > pass >
    /// skip; info counts as pass), or None when that report did not check it or there is no such row or
    /// column.
    pub fn cell(&self, requirement: &str, column: &str) -> Option<Outcome> {
        let col = self.columns.iter().position(|c| c.label == column)?;
        self.rows().find(|r| r.id == requirement)?.cells[col]
    }

    /// Column labels, in order.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.label.as_str())
    }

    /// Requirement IDs of the rows, top to bottom.
    pub fn requirements(&self) -> impl Iterator<Item = &str> {
        self.rows().map(|r| r.id.as_str())
    }

    pub(super) fn rows(&self) -> impl Iterator<Item = &Row> {
        self.groups.iter().flat_map(|g| &g.rows)
    }

    /// The compatibility table in Markdown: a bold row per profile, a row per requirement with its level,
    /// a cell per report (`✅ pass`, `❌ **FAIL**`, `⚠️ warn`, `➖ skip`, `·` not checked), then the failed
    /// and warned cells with their expected/got lines.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# authconform compatibility matrix\n\n");
        self.markdown_table(&mut out);
        let _ = writeln!(
            out,
            "\n· = not checked in that run. Each cell is the worst outcome of the requirement's checks \
             (fail > warn > pass > skip).\n"
        );
        self.markdown_counts(&mut out);
        let notes = self.markdown_notes();
        if !notes.is_empty() {
            let _ = writeln!(out, "\n## Failed and warned cells\n\n{notes}");
        }
        out
    }

    /// The Markdown table proper: a header with a column per report, a bold row per profile, a row per
    /// requirement.
    fn markdown_table(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| requirement | level | title | {} |",
            self.columns
                .iter()
                .map(|c| md(&c.label))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(
            out,
            "| --- | --- | --- |{}",
            " :---: |".repeat(self.columns.len())
        );
        for g in &self.groups {
            let _ = writeln!(
                out,
                "| **{}** | | |{}",
                md(&g.profile),
                " |".repeat(self.columns.len())
            );
            for r in &g.rows {
                let cells: Vec<&str> = r.cells.iter().map(|o| o.map_or("·", mark)).collect();
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    md(&r.id),
                    r.level,
                    md(&r.title),
                    cells.join(" | ")
                );
            }
        }
    }

    /// A table of the reports: label, target and check counts.
    fn markdown_counts(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "| report | target | checks | pass | fail | warn | skip | info |"
        );
        let _ = writeln!(
            out,
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        );
        for c in &self.columns {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                md(&c.label),
                md(&c.target),
                count_cells(c.counts)
            );
        }
    }

    /// A bullet per failed or warned cell, report by report, with a sub-bullet per failed or warned check
    /// giving its expected and got lines. Empty when every cell passed, was skipped or was not checked.
    fn markdown_notes(&self) -> String {
        let mut notes = String::new();
        for (col, c) in self.columns.iter().enumerate() {
            for r in self.rows() {
                let Some(o @ (Outcome::Fail | Outcome::Warn)) = r.cells[col] else {
                    continue;
                };
                let _ = writeln!(notes, "- **{}** {} {}:", md(&c.label), r.id, mark(o));
                for (s, check) in c.problem_checks(&r.id) {
                    let lines: Vec<String> = detail_lines(check)
                        .into_iter()
                        .filter(|(k, _)| matches!(*k, "expected" | "got"))
                        .map(|(k, v)| format!("{k} {}", md(&v)))
                        .collect();
                    let _ = writeln!(
                        notes,
                        "  - `{}` {}: {}",
                        short_id(&s.id),
                        md(&check.what),
                        lines.join("; ")
                    );
                }
            }
        }
        notes
    }
}

/// Per report, the worst outcome of each requirement it checks, by requirement ID.
fn worst_per_requirement(reports: &[(String, RunReport)]) -> Vec<BTreeMap<&str, Outcome>> {
    reports
        .iter()
        .map(|(_, r)| {
            let mut ids: BTreeMap<&str, Vec<_>> = BTreeMap::new();
            for c in r.scenarios.iter().flat_map(|s| &s.checks) {
                ids.entry(c.requirement.as_str()).or_default().push(c);
            }
            ids.into_iter()
                .filter_map(|(id, checks)| Some((id, worst(checks)?)))
                .collect()
        })
        .collect()
}

/// The cells of requirement `id`, one per report: None where that report did not check it.
fn cells_of(per_report: &[BTreeMap<&str, Outcome>], id: &str) -> Vec<Option<Outcome>> {
    per_report.iter().map(|m| m.get(id).copied()).collect()
}

/// The catalog's requirements checked by at least one report, in catalog order, grouped by profile (a new
/// group whenever the profile changes).
fn catalog_groups(catalog: &Catalog, per_report: &[BTreeMap<&str, Outcome>]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for r in catalog.iter() {
        let cells = cells_of(per_report, &r.id);
        if cells.iter().all(Option::is_none) {
            continue;
        }
        if groups.last().is_none_or(|g| g.profile != r.profile) {
            groups.push(Group {
                profile: r.profile.clone(),
                rows: Vec::new(),
            });
        }
        if let Some(g) = groups.last_mut() {
            g.rows.push(Row {
                id: r.id.clone(),
                level: r.level,
                title: r.title.clone(),
                cells,
            });
        }
    }
    groups
}

/// The group of requirements the reports check but the catalog does not know (sorted by ID, each with the
/// level of its first check), or None when there are none.
fn unknown_group(
    reports: &[(String, RunReport)],
    catalog: &Catalog,
    per_report: &[BTreeMap<&str, Outcome>],
) -> Option<Group> {
    let mut unknown: BTreeMap<&str, Level> = BTreeMap::new();
    for c in reports
        .iter()
        .flat_map(|(_, r)| r.scenarios.iter().flat_map(|s| &s.checks))
    {
        if catalog.get(&c.requirement).is_none() {
            unknown.entry(&c.requirement).or_insert(c.level);
        }
    }
    if unknown.is_empty() {
        return None;
    }
    Some(Group {
        profile: UNKNOWN_GROUP.into(),
        rows: unknown
            .into_iter()
            .map(|(id, level)| Row {
                id: id.into(),
                level,
                title: String::new(),
                cells: cells_of(per_report, id),
            })
            .collect(),
    })
}

impl Column {
    /// The column of report `r`, labelled `label`, keeping only its scenarios with a failed or warned check.
    fn new(label: &str, r: &RunReport) -> Column {
        Column {
            label: label.to_string(),
            target: r.target.clone(),
            authconform_version: r.authconform_version.clone(),
            profiles: r.profiles.clone(),
            counts: r.check_counts(),
            exit_code: r.exit_code(),
            problems: r
                .scenarios
                .iter()
                .filter(|s| {
                    s.checks
                        .iter()
                        .any(|c| matches!(c.outcome, Outcome::Fail | Outcome::Warn))
                })
                .cloned()
                .collect(),
        }
    }

    /// The failed and warned checks of `requirement` in this report, with their scenarios.
    pub(super) fn problem_checks<'a>(
        &'a self,
        requirement: &'a str,
    ) -> impl Iterator<Item = (&'a ScenarioResult, &'a crate::report::CheckResult)> + 'a {
        self.problems.iter().flat_map(move |s| {
            s.checks
                .iter()
                .filter(move |c| {
                    c.requirement == requirement
                        && matches!(c.outcome, Outcome::Fail | Outcome::Warn)
                })
                .map(move |c| (s, c))
        })
    }
}

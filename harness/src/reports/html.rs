//! The matrix as one self-contained HTML page: inline CSS, no scripts, no external assets.

use super::matrix::{Column, Matrix, Row};
use super::{detail_lines, short_id};
use crate::report::{Outcome, ScenarioResult};
use std::collections::BTreeSet;
use std::fmt::Write as _;

const CSS: &str = r#"
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --band: #e8edf3;
  --pass-bg: #dcf3e2; --pass-fg: #0f5323; --fail-bg: #b42318; --fail-fg: #ffffff;
  --warn-bg: #ffe08a; --warn-fg: #5c3c00; --skip-bg: #eef1f4; --skip-fg: #4d5761; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 64px; color: var(--fg); background: #fff;
  font: 14px/1.45 "DejaVu Sans", "Liberation Sans", system-ui, sans-serif; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 40px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 28px 0 8px; }
h4 { font-size: 15px; margin: 0 0 8px; }
p.sub { margin: 0 0 16px; color: var(--muted); }
code, pre, .id { font-family: "DejaVu Sans Mono", "Liberation Mono", ui-monospace, monospace; }
.legend { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 0 0 16px; color: var(--muted); }
.legend .o { display: inline-block; padding: 2px 10px; border-radius: 4px; }
table.matrix { border-collapse: separate; border-spacing: 0; border: 1px solid var(--line); border-radius: 6px; }
table.matrix th, table.matrix td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: middle; }
table.matrix thead th { position: sticky; top: 0; z-index: 1; background: #f6f8fa; border-bottom: 2px solid var(--line); vertical-align: bottom; }
table.matrix thead th.col { text-align: center; min-width: 9.5em; }
th.col .lbl { display: block; font-size: 14px; }
th.col .meta { display: block; font-weight: normal; font-size: 12px; color: var(--muted); }
tr.group th { background: var(--band); font-size: 13px; letter-spacing: .02em; padding-top: 8px; }
tr.group th small { font-weight: normal; color: var(--muted); margin-left: 6px; }
th[scope=row] { font-weight: normal; max-width: 34em; }
th[scope=row] .id { font-weight: bold; font-size: 13px; white-space: nowrap; }
th[scope=row] .title { display: block; color: var(--muted); font-size: 12px; }
td.lvl { font-size: 12px; color: var(--muted); }
table.matrix td.o { text-align: center; font-weight: bold; font-size: 13px; white-space: nowrap; border-left: 1px solid #fff; }
.o.pass { background: var(--pass-bg); color: var(--pass-fg); }
.o.fail { background: var(--fail-bg); color: var(--fail-fg); }
.o.warn { background: var(--warn-bg); color: var(--warn-fg); }
.o.skip { background: var(--skip-bg); color: var(--skip-fg); font-weight: normal; }
.o.none { color: #8c959f; font-weight: normal; }
td.o a { color: inherit; display: block; text-decoration: underline; text-underline-offset: 3px; }
td.o a:focus { outline: 3px solid #0969da; outline-offset: -3px; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px; font-weight: bold; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
article.problem { border: 1px solid var(--line); border-left: 6px solid var(--warn-bg); border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
article.problem.fail { border-left-color: var(--fail-bg); }
article.problem:target { box-shadow: 0 0 0 3px #0969da; }
article.problem h4 .o { padding: 1px 8px; border-radius: 4px; margin-right: 6px; }
.scenario { margin: 12px 0 0; }
.scenario h5 { font-size: 14px; margin: 0 0 6px; }
.check { margin: 6px 0 10px; }
.check .what { font-weight: bold; }
dl.lines { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0 0 16px; }
dl.lines dt { color: var(--muted); }
dl.lines dd { margin: 0; white-space: pre-wrap; font-family: "DejaVu Sans Mono", monospace; font-size: 12.5px; overflow-wrap: anywhere; }
details { margin: 8px 0 0; }
summary { cursor: pointer; color: #0969da; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin: 4px 0 8px;
  font-size: 12px; line-height: 1.4; white-space: pre-wrap; overflow-wrap: anywhere; }
.step.culprit pre { border-color: var(--fail-bg); border-left-width: 4px; }
.step .name { font-size: 12.5px; color: var(--muted); }
.step.culprit .name { color: var(--fg); font-weight: bold; }
a.top { font-size: 12px; }
"#;

impl Matrix {
    /// The matrix as one self-contained HTML page (inline CSS, no scripts, no external assets).
    ///
    /// A band row per profile, a row per requirement, a column per report; every cell shows its outcome as
    /// colour and as text (`✓ PASS`, `✗ FAIL`, `! WARN`, `– SKIP`, `·` not checked). Each failed or warned
    /// cell links to a section further down that holds the failed and warned checks of that requirement in
    /// that report (step, expected, got, request) and the redacted transcript of each scenario concerned,
    /// pretty-printed. Every value taken from a report is HTML-escaped.
    pub fn to_html(&self) -> String {
        let mut h = String::with_capacity(64 * 1024);
        self.html_head(&mut h);
        legend(&mut h);
        self.html_table(&mut h);
        self.html_details(&mut h);
        h.push_str("</body>\n</html>\n");
        h
    }

    /// The document head with the inline CSS, the page title and the subtitle (row and report counts, the
    /// distinct authconform versions of the reports).
    fn html_head(&self, h: &mut String) {
        let version = self
            .columns
            .iter()
            .map(|c| c.authconform_version.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ");
        let rows = self.rows().count();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>authconform compatibility matrix</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
             <h1 id=\"matrix\">authconform compatibility matrix</h1>\n\
             <p class=\"sub\">{rows} requirements checked across {} report{} · authconform {}</p>\n",
            self.columns.len(),
            if self.columns.len() == 1 { "" } else { "s" },
            esc(&version)
        );
    }

    /// The matrix table: a header cell per report, then a band row per profile and a row per requirement.
    fn html_table(&self, h: &mut String) {
        let width = 2 + self.columns.len();
        h.push_str("<table class=\"matrix\">\n<thead><tr><th scope=\"col\">Requirement</th><th scope=\"col\">Level</th>");
        for c in &self.columns {
            column_header(h, c);
        }
        h.push_str("</tr></thead>\n<tbody>\n");
        for g in &self.groups {
            let _ = writeln!(
                h,
                "<tr class=\"group\"><th scope=\"colgroup\" colspan=\"{width}\">{}<small>{} requirement{}</small></th></tr>",
                esc(&g.profile),
                g.rows.len(),
                if g.rows.len() == 1 { "" } else { "s" }
            );
            for r in &g.rows {
                self.html_row(h, r);
            }
        }
        h.push_str("</tbody>\n</table>\n");
    }

    /// One requirement's table row: its ID, title and level, then a cell per report.
    fn html_row(&self, h: &mut String, r: &Row) {
        let _ = write!(
            h,
            "<tr><th scope=\"row\"><span class=\"id\">{}</span><span class=\"title\">{}</span></th>\
             <td class=\"lvl\">{}</td>",
            esc(&r.id),
            esc(&r.title),
            r.level
        );
        for (col, (c, o)) in self.columns.iter().zip(&r.cells).enumerate() {
            let body = cell_body(col, c, r, *o);
            let _ = write!(h, "<td class=\"o {}\">{body}</td>", class(*o));
        }
        h.push_str("</tr>\n");
    }

    /// The details of every failed or warned cell: a heading when there is any, then a section per report
    /// with such cells.
    fn html_details(&self, h: &mut String) {
        let any = self.rows().any(|r| {
            r.cells
                .iter()
                .any(|o| matches!(o, Some(Outcome::Fail | Outcome::Warn)))
        });
        if any {
            h.push_str("<h2 id=\"details\">Failures and warnings</h2>\n");
        }
        for (col, c) in self.columns.iter().enumerate() {
            self.column_details(h, col, c);
        }
    }

    /// The section of column `col` (report `c`): an article per failed or warned cell, each the target of
    /// that cell's link. Nothing when the column has no such cell.
    fn column_details(&self, h: &mut String, col: usize, c: &Column) {
        let cells: Vec<_> = self
            .rows()
            .filter_map(|r| match r.cells[col] {
                Some(o @ (Outcome::Fail | Outcome::Warn)) => Some((r, o)),
                _ => None,
            })
            .collect();
        if cells.is_empty() {
            return;
        }
        let _ = writeln!(
            h,
            "<section><h3>{} <small>(target {})</small></h3>",
            esc(&c.label),
            esc(&c.target)
        );
        for (r, o) in cells {
            let _ = writeln!(
                h,
                "<article class=\"problem {}\" id=\"{}\"><h4><span class=\"o {}\">{}</span>{} {} · {}</h4>",
                class(Some(o)),
                anchor(col, &r.id),
                class(Some(o)),
                text(Some(o)),
                esc(&r.id),
                r.level,
                esc(&r.title)
            );
            self.problem(h, c, &r.id);
            h.push_str(
                "<p><a class=\"top\" href=\"#matrix\">↑ back to the matrix</a></p></article>\n",
            );
        }
        h.push_str("</section>\n");
    }

    /// The failed and warned checks of `requirement` in column `c`, scenario by scenario, each scenario
    /// followed by its transcript.
    fn problem(&self, h: &mut String, c: &Column, requirement: &str) {
        let mut scenarios: Vec<&ScenarioResult> = Vec::new();
        for (s, _) in c.problem_checks(requirement) {
            if !scenarios.iter().any(|x| x.id == s.id) {
                scenarios.push(s);
            }
        }
        for s in scenarios {
            let _ = writeln!(
                h,
                "<div class=\"scenario\"><h5>Scenario <code>{}</code>: {}</h5>",
                esc(&s.id),
                esc(&s.title)
            );
            let mut culprits = BTreeSet::new();
            for (_, check) in c.problem_checks(requirement).filter(|(x, _)| x.id == s.id) {
                let _ = write!(
                    h,
                    "<div class=\"check\"><span class=\"o {} badge\">{}</span> <span class=\"what\">{} {}: {}</span>\
                     <dl class=\"lines\">",
                    class(Some(check.outcome)),
                    text(Some(check.outcome)),
                    esc(&check.requirement),
                    check.level,
                    esc(&check.what)
                );
                for (k, v) in detail_lines(check) {
                    let _ = write!(h, "<dt>{k}</dt><dd>{}</dd>", esc(&v));
                }
                h.push_str("</dl></div>\n");
                if let Some(step) = check.mismatch.as_ref().and_then(|m| m.step.as_deref()) {
                    culprits.insert(step.to_string());
                }
            }
            if let Some(e) = &s.setup_error {
                let _ = writeln!(h, "<p>The scenario did not run:</p><pre>{}</pre>", esc(e));
            }
            transcript(h, s, &culprits);
            h.push_str("</div>\n");
        }
    }
}

/// The legend: one sample of each outcome, then how to read a cell.
fn legend(h: &mut String) {
    h.push_str("<p class=\"legend\"><span>Legend:</span>");
    for o in [Outcome::Pass, Outcome::Fail, Outcome::Warn, Outcome::Skip] {
        let _ = write!(
            h,
            "<span class=\"o {}\">{}</span>",
            class(Some(o)),
            text(Some(o))
        );
    }
    h.push_str(
        "<span class=\"o none\">· not checked</span>\
         <span>Each cell is the worst of the requirement's checks; FAIL and WARN cells link to the details.</span></p>\n",
    );
}

/// The header cell of report `c`: its label, target, verdict badge and check counts.
fn column_header(h: &mut String, c: &Column) {
    let n = c.counts;
    let verdict = match c.exit_code {
        0 => Outcome::Pass,
        _ => Outcome::Fail,
    };
    let _ = write!(
        h,
        "<th scope=\"col\" class=\"col\"><span class=\"lbl\">{}</span>\
         <span class=\"meta\" title=\"profiles: {}\">target {} · <span class=\"badge o {}\">{}</span></span>\
         <span class=\"meta\">{} pass · {} fail · {} warn · {} skip</span></th>",
        esc(&c.label),
        esc(&c.profiles.join(", ")),
        esc(&c.target),
        class(Some(verdict)),
        if c.exit_code == 0 {
            "conforms"
        } else {
            "MUST failed"
        },
        n[0] + n[4],
        n[1],
        n[2],
        n[3]
    );
}

/// The content of the cell of row `r` in column `col` (report `c`) with outcome `o`: failed and warned
/// cells link to their details, unchecked ones carry a screen-reader note.
fn cell_body(col: usize, c: &Column, r: &Row, o: Option<Outcome>) -> String {
    match o {
        Some(Outcome::Fail | Outcome::Warn) => format!(
            "<a href=\"#{}\" title=\"{} {} in {}: details below\">{}</a>",
            anchor(col, &r.id),
            text(o),
            esc(&r.id),
            esc(&c.label),
            text(o)
        ),
        None => "·<span class=\"sr\">not checked</span>".into(),
        _ => text(o).into(),
    }
}

/// The scenario's redacted transcript, pretty-printed: step by step when it is a list of steps, the steps
/// the mismatches are about marked.
fn transcript(h: &mut String, s: &ScenarioResult, culprits: &BTreeSet<String>) {
    if s.transcript.is_null() {
        return;
    }
    let _ = writeln!(
        h,
        "<details open><summary>Transcript of <code>{}</code> (redacted)</summary>",
        esc(short_id(&s.id))
    );
    match s.transcript.as_array() {
        Some(steps) => {
            for (i, step) in steps.iter().enumerate() {
                let name = step.get("step").and_then(|v| v.as_str());
                let culprit = name.is_some_and(|n| culprits.contains(n));
                let _ = writeln!(
                    h,
                    "<div class=\"step{}\"><div class=\"name\">{}. step <code>{}</code>{}</div><pre>{}</pre></div>",
                    if culprit { " culprit" } else { "" },
                    i + 1,
                    esc(name.unwrap_or("?")),
                    if culprit {
                        " ← the mismatch above is about this step"
                    } else {
                        ""
                    },
                    esc(&pretty(step))
                );
            }
        }
        None => {
            let _ = writeln!(h, "<pre>{}</pre>", esc(&pretty(&s.transcript)));
        }
    }
    h.push_str("</details>\n");
}

/// `v` as indented JSON, with short arrays of scalars (header pairs) kept on one line.
fn pretty(v: &serde_json::Value) -> String {
    let mut out = String::new();
    pretty_into(&mut out, v, 0);
    out
}

fn pretty_into(out: &mut String, v: &serde_json::Value, indent: usize) {
    use serde_json::Value;
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match v {
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items)
            if items.iter().all(|i| !i.is_array() && !i.is_object())
                && items.iter().map(|i| i.to_string().len() + 2).sum::<usize>() <= 100 =>
        {
            let inline: Vec<String> = items.iter().map(Value::to_string).collect();
            let _ = write!(out, "[{}]", inline.join(", "));
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, indent + 2);
                pretty_into(out, item, indent + 2);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                pad(out, indent + 2);
                let _ = write!(out, "{}: ", Value::String(k.clone()));
                pretty_into(out, item, indent + 2);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The fragment ID of the details of `requirement` in column `col`.
fn anchor(col: usize, requirement: &str) -> String {
    let id: String = requirement
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("c{}-{id}", col + 1)
}

fn class(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Pass | Outcome::Info) => "pass",
        Some(Outcome::Fail) => "fail",
        Some(Outcome::Warn) => "warn",
        Some(Outcome::Skip) => "skip",
        None => "none",
    }
}

fn text(o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Pass | Outcome::Info) => "✓ PASS",
        Some(Outcome::Fail) => "✗ FAIL",
        Some(Outcome::Warn) => "! WARN",
        Some(Outcome::Skip) => "– SKIP",
        None => "·",
    }
}

/// `s` escaped for HTML text and attribute values.
pub(super) fn esc(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#x27;y&#x27;&lt;/script&gt;"
        );
        assert_eq!(anchor(0, "OAUTH-401-005"), "c1-OAUTH-401-005");
        assert_eq!(anchor(2, "X\"><b>"), "c3-X___b_");
    }

    #[test]
    fn pretty_json_keeps_short_scalar_arrays_inline_and_stays_json() {
        let v = serde_json::json!({"headers": [["Accept", "*/*"]], "empty": [], "o": {}, "n": [1, {"a": null}]});
        let text = pretty(&v);
        assert!(text.contains("[\"Accept\", \"*/*\"]"), "{text}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), v);
    }
}

//! Report files written from a [`RunReport`]: the JSON report and its loader, JUnit XML for CI dashboards,
//! a Markdown summary, and the compatibility [`Matrix`] of several reports side by side (Markdown or one
//! self-contained HTML page).
//!
//! Everything here renders text the runner has already redacted; nothing in this module sees a secret, and
//! nothing adds one back. HTML and XML output escape every value taken from a report.
//!
//! ```no_run
//! use authconform::reports::{self, Matrix};
//! use authconform::requirements::Catalog;
//! use std::path::{Path, PathBuf};
//!
//! # fn main() -> anyhow::Result<()> {
//! let catalog = Catalog::builtin();
//! let report = reports::load(Path::new("reports/report.json"))?;
//! reports::write_all(&report, &catalog, Path::new("out"))?;
//!
//! let paths = [PathBuf::from("a.json"), PathBuf::from("b.json")];
//! let loaded = paths
//!     .iter()
//!     .map(|p| Ok((p.clone(), reports::load(p)?)))
//!     .collect::<anyhow::Result<Vec<_>>>()?;
//! let columns: Vec<_> = reports::labels(&loaded)
//!     .into_iter()
//!     .zip(loaded.into_iter().map(|(_, r)| r))
//!     .collect();
//! std::fs::write("matrix.html", Matrix::build(&columns, &catalog).to_html())?;
//! # Ok(())
//! # }
//! ```

mod html;
mod json;
mod junit;
mod markdown;
mod matrix;
pub mod terminal;

pub use json::{labels, load};
pub use junit::junit;
pub use markdown::markdown;
pub use matrix::Matrix;

use crate::report::{CheckResult, Outcome, RunReport};
use crate::requirements::Catalog;
use anyhow::Context as _;
use std::path::Path;

/// File names [`write_all`] writes into its folder.
pub const REPORT_JSON: &str = "report.json";
/// JUnit XML file name in a report folder.
pub const JUNIT_XML: &str = "junit.xml";
/// Markdown summary file name in a report folder.
pub const REPORT_MD: &str = "report.md";

/// Writes `DIR/report.json` (the pretty-printed [`RunReport`]), `DIR/junit.xml` ([`junit`]) and
/// `DIR/report.md` ([`markdown`]), creating `dir` if needed. Errors name the file that could not be written.
pub fn write_all(report: &RunReport, catalog: &Catalog, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create report folder {}", dir.display()))?;
    let json = serde_json::to_string_pretty(report).context("cannot serialize the report")?;
    write(&dir.join(REPORT_JSON), &(json + "\n"))?;
    write(&dir.join(JUNIT_XML), &junit(report)?)?;
    write(&dir.join(REPORT_MD), &markdown(report, catalog))?;
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Severity used to pick the worst of several outcomes: fail > warn > pass (and info) > skip.
fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::Skip => 0,
        Outcome::Pass | Outcome::Info => 1,
        Outcome::Warn => 2,
        Outcome::Fail => 3,
    }
}

/// The worst outcome of `checks` (fail > warn > pass > skip, info counting as pass); None when empty.
fn worst<'a>(checks: impl IntoIterator<Item = &'a CheckResult>) -> Option<Outcome> {
    checks
        .into_iter()
        .map(|c| match c.outcome {
            Outcome::Info => Outcome::Pass,
            o => o,
        })
        .max_by_key(|o| severity(*o))
}

/// Upper-case label of an outcome, as the terminal report prints it.
fn label(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Info => "INFO",
        Outcome::Skip => "SKIP",
        Outcome::Warn => "WARN",
        Outcome::Fail => "FAIL",
    }
}

/// The scenario ID without its `profile/` prefix.
fn short_id(id: &str) -> &str {
    id.split_once('/').map_or(id, |(_, s)| s)
}

/// Lines describing a check that did not hold: step, expected, got, request, skip reason.
fn detail_lines(c: &CheckResult) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(m) = &c.mismatch {
        if let Some(step) = &m.step {
            lines.push(("step", step.clone()));
        }
        lines.push(("expected", m.expected.clone()));
        lines.push(("got", m.got.clone()));
    }
    if let Some(r) = &c.request {
        lines.push(("request", r.clone()));
    }
    if let Some(r) = &c.skip_reason {
        lines.push(("skipped", r.clone()));
    }
    lines
}

/// [`detail_lines`] as aligned text, one `name: value` per line.
fn detail_text(c: &CheckResult) -> String {
    detail_lines(c)
        .into_iter()
        .map(|(k, v)| format!("{:<9} {v}\n", format!("{k}:")))
        .collect()
}

//! Reading JSON reports back, and naming them as matrix columns.

use crate::report::{REPORT_SCHEMA_VERSION, RunReport};
use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads a JSON report written by `run --json` or [`super::write_all`], checking its `schema_version`
/// first: a report of another version is refused with an error naming the file, its version and the one
/// this authconform reads.
pub fn load(path: &Path) -> anyhow::Result<RunReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON report", path.display()))?;
    let version = value.get("schema_version").and_then(|v| v.as_u64());
    match version {
        None => bail!(
            "{}: not an authconform report (no numeric `schema_version`; this authconform reads version {})",
            path.display(),
            REPORT_SCHEMA_VERSION
        ),
        Some(v) if v != u64::from(REPORT_SCHEMA_VERSION) => bail!(
            "{}: report schema_version {v} is not supported (this authconform {} reads version {})",
            path.display(),
            env!("CARGO_PKG_VERSION"),
            REPORT_SCHEMA_VERSION
        ),
        Some(_) => {}
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        anyhow::anyhow!(
            "{}: invalid report at `{}`: {}",
            path.display(),
            e.path(),
            e.inner()
        )
    })
}

/// Column labels for report files, in order: each report's target name, or its file stem when several
/// reports share a target name. When the stems collide too (`--report-dir` always writes `report.json`),
/// the name of the folder holding the file, then `folder/stem`, then the whole path. Labels are unique.
pub fn labels(paths_and_reports: &[(PathBuf, RunReport)]) -> Vec<String> {
    let mut targets: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, r) in paths_and_reports {
        *targets.entry(r.target.as_str()).or_default() += 1;
    }
    // Ever longer names for a file; the first level at which a shared target's files differ is used.
    let names = |p: &Path| -> [String; 4] {
        let stem = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string());
        let folder = p
            .parent()
            .and_then(Path::file_name)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| stem.clone());
        [
            stem.clone(),
            folder.clone(),
            format!("{folder}/{stem}"),
            p.display().to_string(),
        ]
    };
    let mut out: Vec<String> = Vec::with_capacity(paths_and_reports.len());
    for (p, r) in paths_and_reports {
        let mut label = if targets[r.target.as_str()] == 1 {
            r.target.clone()
        } else {
            let sharing: Vec<[String; 4]> = paths_and_reports
                .iter()
                .filter(|(_, x)| x.target == r.target)
                .map(|(q, _)| names(q))
                .collect();
            let mine = names(p);
            (0..4)
                .find(|&level| sharing.iter().filter(|n| n[level] == mine[level]).count() == 1)
                .map_or_else(|| mine[3].clone(), |level| mine[level].clone())
        };
        // The same path given twice, or a file name equal to another report's target name.
        if out.contains(&label) {
            let base = label.clone();
            let mut n = 2;
            while out.contains(&label) {
                label = format!("{base} ({n})");
                n += 1;
            }
        }
        out.push(label);
    }
    out
}

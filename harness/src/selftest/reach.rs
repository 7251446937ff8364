//! The `reach` scope: the clean reference run scenario by scenario, each process of it recording which
//! faults it asked about ([`authconform_reference::Faults::PROBE_ENV`]).
//!
//! A fault changes the reference only where a process asks whether it is seeded, so a scenario whose clean
//! run never asked about a fault runs the same with that fault seeded (up to the timing every run has) and
//! passes as it did. Running each fault against the scenarios that asked about it therefore finds every kill
//! that running it against the whole suite would, for a fraction of the cost.

use super::{Config, run_with};
use crate::report::{REPORT_SCHEMA_VERSION, RunReport};
use crate::scenario::Scenario;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

/// Scenario (`profile/id`) → the faults its clean run asked the reference about.
pub type Asked = BTreeMap<String, BTreeSet<String>>;

/// The clean reference against each of `all` in a run of its own, with a probe file per scenario: the merged
/// report, and what each scenario asked.
pub(super) async fn clean_probed(
    cfg: &Config,
    all: &[Scenario],
) -> Result<(RunReport, Asked), String> {
    let start = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("authconform-probe-")
        .tempdir()
        .map_err(|e| format!("probe folder: {e}"))?;
    let one = |i: usize, s: &Scenario| {
        let path = dir.path().join(format!("{i}.faults"));
        let s = s.clone();
        async move {
            let report = run_with(cfg, "", vec![s.clone()], Some(&path)).await?;
            Ok::<_, String>((report, s.full_id(), read(&path)))
        }
    };
    // As in a run: a scenario with a mock host mostly waits on protocol timers, so those all run at once
    // beside the others; the rest `jobs` at once.
    let (waiting, busy): (Vec<_>, Vec<_>) =
        all.iter().enumerate().partition(|(_, s)| s.host.is_some());
    let waiting = futures::future::join_all(waiting.into_iter().map(|(i, s)| one(i, s)));
    let busy = futures::stream::iter(busy.into_iter().map(|(i, s)| one(i, s)))
        .buffer_unordered(cfg.jobs.max(1))
        .collect::<Vec<_>>();
    let (waiting, busy) = futures::future::join(waiting, busy).await;
    let mut scenarios = Vec::new();
    let mut asked = Asked::new();
    for result in waiting.into_iter().chain(busy) {
        let (report, id, faults) = result?;
        scenarios.extend(report.scenarios);
        asked.insert(id, faults);
    }
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    let report = RunReport {
        schema_version: REPORT_SCHEMA_VERSION,
        authconform_version: env!("CARGO_PKG_VERSION").to_string(),
        target: cfg.target.name.clone(),
        profiles: cfg.target.profiles.clone(),
        scenarios,
        duration_ms: start.elapsed().as_millis(),
    };
    Ok((report, asked))
}

/// The fault names a probe file holds (none when no process asked about any).
fn read(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_file_is_a_set_of_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("p");
        assert!(read(&path).is_empty(), "no file: nothing asked");
        std::fs::write(&path, "accept-expired\nignore-audience\n\naccept-expired\n")
            .expect("write");
        assert_eq!(
            read(&path),
            BTreeSet::from(["accept-expired".to_string(), "ignore-audience".to_string()])
        );
    }
}

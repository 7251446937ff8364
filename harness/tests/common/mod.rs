//! Shared by the integration tests: running the suite against the bundled reference with seeded faults.
#![allow(dead_code)] // each test binary uses part of it

use authconform::report::RunReport;
use authconform::requirements::Catalog;
use authconform::runner::{self, RunConfig};
use authconform::scenario::{self, Scenario};
use authconform::target::Target;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The project root (holding `targets/`, `scenarios/`, `snapshots/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every scenario of the project.
pub fn scenarios() -> Vec<Scenario> {
    scenario::load_all(&root().join("scenarios"), &Catalog::builtin()).expect("scenarios load")
}

/// The bundled reference's target file, loaded.
pub fn reference_target() -> Target {
    Target::load(&root().join("targets/reference.toml")).expect("target loads")
}

/// Runs the reference's scenarios (only `filter`'s when given) with `faults` seeded.
pub async fn run_reference(faults: &[&str], filter: Option<&str>) -> RunReport {
    run_target(reference_target(), faults, filter).await
}

/// Runs `target` (the reference, perhaps launched with other arguments) with `faults` seeded.
pub async fn run_target(mut target: Target, faults: &[&str], filter: Option<&str>) -> RunReport {
    let faults = faults.join(",");
    if let Some(launch) = target.launch.as_mut() {
        launch
            .env
            .insert("AUTHCONFORM_REFERENCE_FAULT".into(), faults.clone());
    }
    if let Some(stdio) = target.surfaces.mcp_stdio.as_mut() {
        stdio
            .env
            .insert("AUTHCONFORM_REFERENCE_FAULT".into(), faults.clone());
    }
    if let Some(cli) = target.surfaces.cli.as_mut() {
        cli.env.insert("AUTHCONFORM_REFERENCE_FAULT".into(), faults);
    }
    let scenarios = scenarios()
        .into_iter()
        .filter(|s| target.profiles.contains(&s.profile))
        .filter(|s| filter.is_none_or(|f| s.full_id() == f))
        .collect();
    let cfg = RunConfig {
        target,
        scenarios,
        jobs: 4,
        step_timeout: Duration::from_secs(10),
        scenario_timeout: Duration::from_secs(60),
        run_timeout: Duration::from_secs(300),
        self_exe: PathBuf::from(env!("CARGO_BIN_EXE_authconform")),
    };
    runner::run(cfg, Catalog::builtin(), |_| {})
        .await
        .expect("run completes")
}

/// Debian's Chromium (`/usr/bin/chromium`) or one on `PATH`; `AUTHCONFORM_CHROMIUM` names another (a path that
/// is not a file means "no Chromium", which is how the skip path itself is tested).
pub fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AUTHCONFORM_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let fixed = PathBuf::from("/usr/bin/chromium");
    if fixed.is_file() {
        return Some(fixed);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| [d.join("chromium"), d.join("chromium-browser")])
        .find(|p| p.is_file())
}

/// Whether this is a CI run: `CI` set to anything but `false`, `0` or empty (the convention insta and most
/// CI services share).
pub fn is_ci() -> bool {
    !matches!(
        std::env::var("CI").ok().as_deref(),
        None | Some("false") | Some("0") | Some("")
    )
}

/// An external tool (`chromium`, `node`, …) that test `test` needs is missing. Under CI ([`is_ci`]) that is a
/// failure: panics with "TOOL is required in CI". Otherwise prints a SKIP banner saying what did not run
/// (`purpose`) and how to get the tool (`install`), written to the process's stderr directly so libtest's
/// output capture (which would hide it for a passing test) does not swallow it, and returns.
pub fn skip_missing_tool(tool: &str, test: &str, purpose: &str, install: &str) {
    if is_ci() {
        panic!("{tool} is required in CI: {test} cannot {purpose} without it ({install})");
    }
    let bar = "!".repeat(80);
    let banner = format!(
        "\n{bar}\n!! SKIP: {tool} not found: {test} did not run (reported `ignored`).\n\
         !! Install it ({install}) to {purpose}; under CI=true a missing {tool} fails.\n{bar}\n"
    );
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(banner.as_bytes());
}

/// Chromium for test `test`, or `None` after a visible SKIP banner saying what did not run (`purpose`).
/// Under CI a missing Chromium is a failure, never a skip (`.ci/run` installs it).
pub fn chromium_or_skip(test: &str, purpose: &str) -> Option<PathBuf> {
    if let Some(exe) = chromium() {
        return Some(exe);
    }
    skip_missing_tool(
        "chromium",
        test,
        purpose,
        "Debian: apt-get install chromium",
    );
    None
}

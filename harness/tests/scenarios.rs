//! The scenarios as a libtest-compatible test binary, one test per scenario, so `cargo test` and
//! `cargo nextest run` (partitioning with `--partition count:K/N`, retries, JUnit) can drive them.
//!
//! The target comes from `AUTHCONFORM_TARGET` (a target file; default `targets/reference.toml`):
//! `AUTHCONFORM_TARGET=targets/acme.toml cargo nextest run -p authconform --test scenarios --partition count:1/2`.
//! A scenario fails when one of its MUST checks fails; warnings are printed, not failed. With
//! `AUTHCONFORM_BASELINE` (a baseline file, as `run --baseline`), a scenario passes when only the checks the
//! baseline lists fail, and fails when one of them passes.

use authconform::baseline::Baseline;
use authconform::report::{Outcome, Style};
use authconform::requirements::Catalog;
use authconform::runner::{self, RunConfig};
use authconform::scenario;
use authconform::target::Target;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target_path = std::env::var_os("AUTHCONFORM_TARGET")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("targets/reference.toml"));
    let catalog = Catalog::builtin();
    let target = match Target::load(&target_path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("authconform: {e}");
            std::process::exit(2);
        }
    };
    let baseline = match std::env::var_os("AUTHCONFORM_BASELINE").map(PathBuf::from) {
        None => None,
        Some(path) => match Baseline::load(&path) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("authconform: {e}");
                std::process::exit(2);
            }
        },
    };
    let scenarios = match scenario::load_all(&root.join("scenarios"), &catalog) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("authconform: {e}");
            std::process::exit(2);
        }
    };
    let trials = scenarios
        .into_iter()
        .filter(|s| target.profiles.contains(&s.profile))
        .map(|s| {
            let target = target.clone();
            let baseline = baseline.clone();
            Trial::test(s.full_id(), move || run_one(target, s, baseline.as_ref()))
                .with_kind(target_kind(&target_path))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

fn target_kind(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn run_one(
    target: Target,
    scenario: scenario::Scenario,
    baseline: Option<&Baseline>,
) -> Result<(), Failed> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let cfg = RunConfig {
        target,
        scenarios: vec![scenario],
        jobs: 1,
        step_timeout: Duration::from_secs(10),
        scenario_timeout: Duration::from_secs(120),
        run_timeout: Duration::from_secs(120),
        self_exe: PathBuf::from(env!("CARGO_BIN_EXE_authconform")),
    };
    let report = rt
        .block_on(runner::run(cfg, Catalog::builtin(), |_| {}))
        .map_err(|e| format!("run: {e:#}"))?;
    let text = authconform::report::render(
        &report,
        Style {
            color: false,
            verbose: true,
        },
    );
    // The same gate and exit-code policy as `authconform run` (snapshots are the CLI's business).
    let verdict =
        authconform::verdict::decide(&report, baseline.map(|b| ("AUTHCONFORM_BASELINE", b)), None);
    let explained = format!("{text}\n{}", verdict.lines.join("\n"));
    match verdict.exit_code {
        0 => {
            if report.scenarios.iter().any(|s| s.outcome == Outcome::Warn) || baseline.is_some() {
                println!("{explained}");
            }
            Ok(())
        }
        _ => Err(explained.into()),
    }
}

//! `authconform selftest`: the suite against its own reference once per seeded fault, and the kill matrix.
//!
//! Each fault of the reference ([`authconform_reference::FAULTS`]) is aimed at a scenario and a requirement
//! ([`FAULT_TABLE`]). The selftest runs the clean reference (everything must pass), then the reference with
//! each fault seeded alone, and judges:
//!
//! - the aimed scenario's requirement must reach the table's outcome (the fault is *killed* where aimed);
//! - a fault that fails a MUST check of another requirement in a profile none of its aimed scenarios belong to
//!   is a *collateral kill*, an error (within the aimed profile such kills are only listed; so are kills by
//!   the global secret check, which every profile runs, and the kills [`RELATED`] records as the same
//!   behaviour checked by two profiles, each with its reason);
//! - a fault nobody kills, a scenario no fault makes fail, a fault missing from the table and a table row
//!   naming an unknown fault or scenario are errors; so is a relation of [`RELATED`] its fault no longer
//!   shows (in the scopes that run other profiles).
//!
//! Which scenarios a fault runs against is the [`Scope`]. Running every fault against the whole suite costs
//! about 125 × 130 scenario runs. The default, `Scope::Reach`, finds the same kills for a fraction of that:
//! the clean reference runs each scenario with a probe recording which faults its processes asked about
//! (`reach.rs`), and each fault then runs against its aimed scenarios and the scenarios that asked about it —
//! a scenario that never asks about a fault cannot be changed by it (1341 scenario runs instead of about
//! 16,600). `Scope::Cross`, what `cargo test` runs, keeps of those only the scenarios of other profiles: every
//! kill the errors judge, for about twice the runs of `Scope::Aimed`. `Scope::Surface` is the blunt
//! equivalent for the other profiles: the aimed profiles, and every scenario of another profile that starts a
//! process the fault is seeded in (the reference's server for `mcp-http`, `rest`, `device-host`, `oauth-as`;
//! its stdio server for `mcp-stdio`; the CLI for `cli`) — for a server fault most of the suite.

mod reach;
mod table;

pub use reach::Asked;
pub use table::{FAULT_TABLE, RELATED};

use crate::report::{Outcome, RunReport, ScenarioResult};
use crate::requirements::Catalog;
use crate::runner::{self, RunConfig};
use crate::scenario::Scenario;
use crate::target::Target;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Marks a kill of the global secret check (run in every scenario of every profile, so never collateral).
pub const GLOBAL: &str = " (global)";

/// The variable the reference reads its seeded faults from.
pub const FAULT_ENV: &str = "AUTHCONFORM_REFERENCE_FAULT";

/// Which scenarios each fault runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scope {
    /// Only the scenarios the fault is aimed at (no collateral kills seen outside them).
    Aimed,
    /// Every scenario of the aimed scenarios' profiles.
    Profile,
    /// The aimed profiles, and the scenarios of other profiles that start a process the fault is seeded in.
    Surface,
    /// The aimed scenarios, and every scenario whose clean run asked the reference about the fault: the kills
    /// of the whole suite, for a fraction of its cost.
    Reach,
    /// The aimed scenarios, and the scenarios of other profiles whose clean run asked the reference about the
    /// fault: every kill the errors judge (as `reach`), without the collateral kills within the aimed
    /// profiles, which are only listed.
    Cross,
}

impl Scope {
    /// The name used on the command line and in the matrix.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Aimed => "aimed",
            Scope::Profile => "profile",
            Scope::Surface => "surface",
            Scope::Reach => "reach",
            Scope::Cross => "cross",
        }
    }

    /// Whether the scope runs the scenarios of other profiles (so the collateral kills and relations are
    /// judged).
    pub fn sees_other_profiles(self) -> bool {
        matches!(self, Scope::Surface | Scope::Reach | Scope::Cross)
    }

    /// Whether the scope needs each scenario's clean run probed (what it asks the reference about).
    fn probes(self) -> bool {
        matches!(self, Scope::Reach | Scope::Cross)
    }
}

/// What a selftest runs.
pub struct Config {
    /// The reference's target file, loaded; faults are seeded through its launch, stdio and CLI environments.
    pub target: Target,
    /// The scenarios of the suite (the target's profiles are selected from them).
    pub scenarios: Vec<Scenario>,
    /// Only these faults (empty: every fault); the coverage errors are then not judged.
    pub only: Vec<String>,
    /// Which scenarios each fault runs against.
    pub scope: Scope,
    /// Scenarios at once within each run; about four times as many run at once in all.
    pub jobs: usize,
    /// Deadline of one step.
    pub step_timeout: Duration,
    /// Deadline of one scenario.
    pub scenario_timeout: Duration,
    /// The `authconform` executable (the reference's launcher).
    pub self_exe: PathBuf,
    /// Print a line on stderr as each fault's run ends (on a terminal; the summary repeats them).
    pub progress: bool,
}

/// A scenario that did not pass under a fault, with the requirements that failed or warned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    /// `profile/id`.
    pub scenario: String,
    /// Its profile.
    pub profile: String,
    /// Requirement → the worst outcome of its checks that did not hold (`Warn` or `Fail`).
    pub requirements: BTreeMap<String, Outcome>,
}

/// One row of the fault table, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aimed {
    /// `profile/id` of the aimed scenario.
    pub scenario: String,
    /// The requirement aimed at.
    pub requirement: String,
    /// The outcome its worst check must have.
    pub want: Outcome,
    /// The outcome its worst check had (`None`: no check of it ran, or the scenario did not run).
    pub got: Option<Outcome>,
}

/// One fault's run, judged.
#[derive(Debug, Clone)]
pub struct FaultResult {
    /// The fault's name.
    pub fault: String,
    /// Its rows of the fault table.
    pub aimed: Vec<Aimed>,
    /// Every scenario that did not pass.
    pub kills: Vec<Kill>,
    /// How many scenarios ran.
    pub ran: usize,
}

impl FaultResult {
    /// The profiles of the aimed scenarios.
    pub fn aimed_profiles(&self) -> BTreeSet<&str> {
        self.aimed.iter().map(|a| profile_of(&a.scenario)).collect()
    }

    /// Kills of a MUST check of a requirement not aimed at, in a profile no aimed scenario belongs to, with
    /// the relation that allows each (`None`: a collateral kill, an error). The global secret check is
    /// always allowed: it belongs to every profile, and a fault that leaks a key leaks it wherever the key is
    /// used.
    pub fn other_profile_kills(&self) -> Vec<(&str, &str, Option<&'static str>)> {
        let profiles = self.aimed_profiles();
        let aimed: BTreeSet<&str> = self.aimed.iter().map(|a| a.requirement.as_str()).collect();
        self.kills
            .iter()
            .filter(|k| !profiles.contains(k.profile.as_str()))
            .flat_map(|k| {
                k.requirements
                    .iter()
                    .filter(|(r, o)| {
                        **o == Outcome::Fail && !aimed.contains(r.as_str()) && !r.ends_with(GLOBAL)
                    })
                    .map(|(r, _)| (k.scenario.as_str(), r.as_str(), related(&self.fault, r)))
            })
            .collect()
    }

    /// The kills of [`FaultResult::other_profile_kills`] no relation allows: `(scenario, requirement)`.
    pub fn collateral(&self) -> Vec<(&str, &str)> {
        self.other_profile_kills()
            .into_iter()
            .filter(|k| k.2.is_none())
            .map(|(s, r, _)| (s, r))
            .collect()
    }
}

/// Why `fault` may fail `requirement` of another profile, if [`RELATED`] says it may.
pub fn related(fault: &str, requirement: &str) -> Option<&'static str> {
    RELATED
        .iter()
        .find(|r| r.0 == fault && r.1 == requirement)
        .map(|r| r.2)
}

/// The whole selftest: the clean run, every fault's run, and the errors found.
#[derive(Debug, Clone)]
pub struct Selftest {
    /// The scope the faults ran in.
    pub scope: Scope,
    /// The clean reference's report.
    pub clean: RunReport,
    /// Each fault's result, by fault name.
    pub faults: Vec<FaultResult>,
    /// Every error (empty: exit 0).
    pub errors: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Selftest {
    /// 0 when every property holds, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.errors.is_empty())
    }
}

/// The profile of a `profile/id`.
fn profile_of(full_id: &str) -> &str {
    full_id.split_once('/').map_or(full_id, |(p, _)| p)
}

/// The process of the reference that serves a surface (where a fault seeded in the environment acts).
fn process_of(surface: &str) -> &'static str {
    match surface {
        "mcp-stdio" => "stdio",
        "cli" => "cli",
        _ => "server",
    }
}

/// `target` with `faults` (comma-separated) seeded into every process it starts.
pub fn seed(target: Target, faults: &str) -> Target {
    with_env(target, FAULT_ENV, faults)
}

/// `target` with the variable `name` set to `value` in every process it starts.
fn with_env(mut target: Target, name: &str, value: &str) -> Target {
    if let Some(launch) = target.launch.as_mut() {
        launch.env.insert(name.into(), value.into());
    }
    if let Some(stdio) = target.surfaces.mcp_stdio.as_mut() {
        stdio.env.insert(name.into(), value.into());
    }
    if let Some(cli) = target.surfaces.cli.as_mut() {
        cli.env.insert(name.into(), value.into());
    }
    target
}

/// The scenarios `fault`, aimed at `aimed` (full IDs), runs against in `scope`; `asked` is what each
/// scenario's clean run asked the reference about (used by [`Scope::Reach`] and [`Scope::Cross`] only).
pub fn selection<'a>(
    scope: Scope,
    fault: &str,
    aimed: &BTreeSet<&str>,
    all: &'a [Scenario],
    asked: &Asked,
) -> Vec<&'a Scenario> {
    let aimed_scenarios: Vec<&Scenario> = all
        .iter()
        .filter(|s| aimed.contains(s.full_id().as_str()))
        .collect();
    let profiles: BTreeSet<&str> = aimed_scenarios.iter().map(|s| s.profile.as_str()).collect();
    let processes: BTreeSet<&str> = aimed_scenarios
        .iter()
        .flat_map(|s| s.needed_surfaces().into_iter().map(process_of))
        .collect();
    all.iter()
        .filter(|s| match scope {
            Scope::Aimed => aimed.contains(s.full_id().as_str()),
            Scope::Profile => profiles.contains(s.profile.as_str()),
            Scope::Surface => {
                profiles.contains(s.profile.as_str())
                    || s.needed_surfaces()
                        .into_iter()
                        .any(|x| processes.contains(process_of(x)))
            }
            Scope::Reach | Scope::Cross => {
                let id = s.full_id();
                let reached = asked.get(&id).is_some_and(|a| a.contains(fault));
                aimed.contains(id.as_str())
                    || (reached
                        && (scope == Scope::Reach || !profiles.contains(s.profile.as_str())))
            }
        })
        .collect()
}

/// The scenarios of `report` that did not pass, with what failed.
pub fn kills(report: &RunReport) -> Vec<Kill> {
    report
        .scenarios
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Fail | Outcome::Warn))
        .map(|s| Kill {
            scenario: s.id.clone(),
            profile: s.profile.clone(),
            requirements: failed_requirements(s),
        })
        .collect()
}

fn failed_requirements(s: &ScenarioResult) -> BTreeMap<String, Outcome> {
    let mut out: BTreeMap<String, Outcome> = BTreeMap::new();
    for c in &s.checks {
        if matches!(c.outcome, Outcome::Fail | Outcome::Warn) {
            let key = if c.what.starts_with("global:") {
                format!("{}{GLOBAL}", c.requirement)
            } else {
                c.requirement.clone()
            };
            let worst = out.entry(key).or_insert(c.outcome);
            *worst = (*worst).max(c.outcome);
        }
    }
    out
}

/// The worst outcome (of pass, warn, fail) of `requirement`'s checks in scenario `id` of `report`.
pub fn worst(report: &RunReport, id: &str, requirement: &str) -> Option<Outcome> {
    report
        .scenarios
        .iter()
        .find(|s| s.id == id)?
        .checks
        .iter()
        .filter(|c| c.requirement == requirement)
        .map(|c| c.outcome)
        .filter(|o| matches!(o, Outcome::Pass | Outcome::Warn | Outcome::Fail))
        .max()
}

/// Runs `scenarios` against `target` with `faults` seeded (empty: the clean reference), its processes
/// recording the faults they ask about in `probe` when given.
async fn run_with(
    cfg: &Config,
    faults: &str,
    scenarios: Vec<Scenario>,
    probe: Option<&Path>,
) -> Result<RunReport, String> {
    let mut target = seed(cfg.target.clone(), faults);
    if let Some(path) = probe {
        target = with_env(
            target,
            authconform_reference::Faults::PROBE_ENV,
            &path.display().to_string(),
        );
    }
    let rc = RunConfig {
        target,
        scenarios,
        jobs: cfg.jobs,
        step_timeout: cfg.step_timeout,
        scenario_timeout: cfg.scenario_timeout,
        run_timeout: Duration::from_secs(900),
        self_exe: cfg.self_exe.clone(),
    };
    runner::run(rc, Catalog::builtin(), |_| {})
        .await
        .map_err(|e| format!("run with fault `{faults}` failed: {e:#}"))
}

/// The fault table's rows by fault, for the selected faults.
fn rows_by_fault(
    only: &[String],
) -> BTreeMap<&'static str, Vec<(&'static str, &'static str, Outcome)>> {
    let mut rows: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for (fault, scenario, requirement, want) in FAULT_TABLE {
        if only.is_empty() || only.iter().any(|o| o == fault) {
            rows.entry(*fault)
                .or_default()
                .push((*scenario, *requirement, *want));
        }
    }
    rows
}

/// Runs the selftest.
pub async fn run(cfg: Config) -> Result<Selftest, String> {
    let start = Instant::now();
    let all: Vec<Scenario> = cfg
        .scenarios
        .iter()
        .filter(|s| cfg.target.profiles.contains(&s.profile))
        .cloned()
        .collect();
    let rows = rows_by_fault(&cfg.only);
    // The reach scope needs every scenario's clean run first (it says where each fault is asked about).
    let (probed, asked) = if cfg.scope.probes() {
        let (report, asked) = reach::clean_probed(&cfg, &all).await?;
        if !all.is_empty() && asked.values().all(BTreeSet::is_empty) {
            return Err(format!(
                "no run of the clean reference recorded a fault it asked about ({}): the probe does not \
                 reach the reference, so where faults act is unknown",
                authconform_reference::Faults::PROBE_ENV
            ));
        }
        (Some(report), asked)
    } else {
        (None, Asked::new())
    };
    let plans: Vec<(&str, Vec<Scenario>)> = rows
        .iter()
        .map(|(fault, rows)| {
            let aimed: BTreeSet<&str> = rows.iter().map(|r| r.0).collect();
            let picked = selection(cfg.scope, fault, &aimed, &all, &asked);
            (*fault, picked.into_iter().cloned().collect())
        })
        .collect();
    let clean = match probed {
        Some(report) => report,
        None => {
            let used: BTreeSet<String> = plans
                .iter()
                .flat_map(|p| p.1.iter().map(Scenario::full_id))
                .collect();
            let clean_set = all
                .iter()
                .filter(|s| used.contains(&s.full_id()))
                .cloned()
                .collect();
            run_with(&cfg, "", clean_set, None).await?
        }
    };
    let faults = run_faults(&cfg, &rows, plans).await?;
    let mut errors = clean_errors(&clean);
    errors.extend(fault_errors(&faults));
    if cfg.scope.sees_other_profiles() {
        errors.extend(relation_errors(&faults));
    }
    if cfg.only.is_empty() {
        errors.extend(coverage_errors(&all, &faults));
    }
    Ok(Selftest {
        scope: cfg.scope,
        clean,
        faults,
        errors,
        elapsed: start.elapsed(),
    })
}

type Rows = BTreeMap<&'static str, Vec<(&'static str, &'static str, Outcome)>>;

/// Every fault's run, `cfg.jobs` at once, judged against its rows.
async fn run_faults(
    cfg: &Config,
    rows: &Rows,
    plans: Vec<(&str, Vec<Scenario>)>,
) -> Result<Vec<FaultResult>, String> {
    // About `4 × jobs` scenarios in flight: many small runs at once, or fewer large ones.
    let per_run = plans.iter().map(|p| p.1.len()).sum::<usize>() / plans.len().max(1);
    let at_once = (cfg.jobs * 4 / per_run.clamp(1, cfg.jobs.max(1))).max(1);
    let runs = plans.into_iter().map(|(fault, scenarios)| async move {
        let ran = scenarios.len();
        let report = run_with(cfg, fault, scenarios, None).await?;
        let aimed = rows[fault]
            .iter()
            .map(|(scenario, requirement, want)| Aimed {
                scenario: scenario.to_string(),
                requirement: requirement.to_string(),
                want: *want,
                got: worst(&report, scenario, requirement),
            })
            .collect();
        let result = FaultResult {
            fault: fault.to_string(),
            aimed,
            kills: kills(&report),
            ran,
        };
        if cfg.progress {
            eprint!("{}", fault_line(&result));
        }
        Ok::<_, String>(result)
    });
    let mut out: Vec<FaultResult> = futures::stream::iter(runs)
        .buffer_unordered(at_once)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| a.fault.cmp(&b.fault));
    Ok(out)
}

/// The clean reference must pass every scenario it ran.
fn clean_errors(clean: &RunReport) -> Vec<String> {
    clean
        .scenarios
        .iter()
        .filter(|s| s.outcome != Outcome::Pass)
        .map(|s| {
            let failed: Vec<String> = failed_requirements(s).into_keys().collect();
            format!(
                "the clean reference does not pass {}: {} ({})",
                s.id,
                s.outcome.label(),
                failed.join(", ")
            )
        })
        .collect()
}

/// A fault that survives its aimed check, that nobody kills, or that kills a MUST check of another profile.
fn fault_errors(faults: &[FaultResult]) -> Vec<String> {
    let mut errors = Vec::new();
    for f in faults {
        for a in f.aimed.iter().filter(|a| a.got != Some(a.want)) {
            let got = a.got.map_or("not checked", |o| o.label());
            errors.push(format!(
                "fault `{}` survives {}: {} was {got}, expected {}",
                f.fault,
                a.scenario,
                a.requirement,
                a.want.label()
            ));
        }
        if f.kills.is_empty() {
            errors.push(format!("fault `{}`: no scenario kills it", f.fault));
        }
        for (scenario, requirement) in f.collateral() {
            errors.push(format!(
                "fault `{}` also fails MUST {requirement} in {scenario}, another profile than it is aimed at",
                f.fault
            ));
        }
    }
    errors
}

/// A relation of [`RELATED`] whose fault ran and did not fail its requirement in another profile is stale
/// (judged only in the scopes that run other profiles' scenarios); one naming an unknown fault is wrong.
fn relation_errors(faults: &[FaultResult]) -> Vec<String> {
    let known: BTreeSet<&str> = authconform_reference::FAULTS.iter().map(|f| f.0).collect();
    let mut errors = Vec::new();
    for (fault, requirement, _) in RELATED {
        if !known.contains(fault) {
            errors.push(format!(
                "the relation of `{fault}` to {requirement} names a fault the reference does not have"
            ));
            continue;
        }
        let Some(f) = faults.iter().find(|f| f.fault == *fault) else {
            continue;
        };
        if !f.other_profile_kills().iter().any(|k| k.1 == *requirement) {
            errors.push(format!(
                "fault `{fault}` no longer fails {requirement} in another profile: remove its relation"
            ));
        }
    }
    errors
}

/// Every fault is in the table and every table row names a known fault and scenario; every scenario fails
/// under some fault.
fn coverage_errors(all: &[Scenario], faults: &[FaultResult]) -> Vec<String> {
    let known: BTreeSet<&str> = authconform_reference::FAULTS.iter().map(|f| f.0).collect();
    let tabled: BTreeSet<&str> = FAULT_TABLE.iter().map(|r| r.0).collect();
    let ids: BTreeSet<String> = all.iter().map(Scenario::full_id).collect();
    let mut errors: Vec<String> = known
        .difference(&tabled)
        .map(|f| format!("fault `{f}` is aimed at no scenario (not in the fault table)"))
        .collect();
    errors.extend(
        tabled
            .difference(&known)
            .map(|f| format!("the fault table names `{f}`, which the reference does not have")),
    );
    for (fault, scenario, ..) in FAULT_TABLE {
        if !ids.contains(*scenario) {
            errors.push(format!(
                "the fault table aims `{fault}` at {scenario}, which does not exist"
            ));
        }
    }
    let killed: BTreeSet<&str> = faults
        .iter()
        .flat_map(|f| f.kills.iter().map(|k| k.scenario.as_str()))
        .collect();
    for id in ids.iter().filter(|id| !killed.contains(id.as_str())) {
        errors.push(format!("scenario {id}: no fault makes it fail"));
    }
    errors
}

/// The kill matrix as Markdown (deterministic: no timings), for `docs/kill-matrix.md`.
pub fn markdown(st: &Selftest) -> String {
    let mut md = String::new();
    let against = match st.scope {
        Scope::Aimed => "the scenarios it is aimed at",
        Scope::Profile => "the scenarios of the profiles it is aimed at",
        Scope::Surface => {
            "the scenarios of the profiles it is aimed at and those of other profiles that start a process \
             the fault is seeded in"
        }
        Scope::Reach => {
            "the scenarios it is aimed at and every scenario whose clean run asked the reference about the \
             fault (any other scenario runs the same with the fault seeded, so these are the kills of the \
             whole suite)"
        }
        Scope::Cross => {
            "the scenarios it is aimed at and the scenarios of other profiles whose clean run asked the \
             reference about the fault (any other scenario runs the same with the fault seeded)"
        }
    };
    let _ = writeln!(
        md,
        "# Kill matrix\n\nGenerated by `authconform selftest --write docs/kill-matrix.md` (scope `{}`): the \
         reference with each seeded fault alone, against {against}. {} faults; the clean reference passes {} \
         of {} scenarios.\n",
        st.scope.as_str(),
        st.faults.len(),
        st.clean
            .scenarios
            .iter()
            .filter(|s| s.outcome == Outcome::Pass)
            .count(),
        st.clean.scenarios.len()
    );
    md.push_str("## Faults\n\nA kill is a scenario that does not pass: its failed (F) or warned (W) requirements.\n\n");
    md.push_str("| fault | aimed at | killed there | other kills |\n| --- | --- | :---: | --- |\n");
    for f in &st.faults {
        let _ = writeln!(md, "{}", fault_row(f));
    }
    md.push_str(&scenario_table(st));
    md.push_str(&relations_section(st));
    md.push_str(&errors_section(&st.errors));
    md
}

/// The kills of MUST checks in other profiles that [`RELATED`] allows, each with its reason.
fn relations_section(st: &Selftest) -> String {
    let mut md = String::from(
        "\n## Related kills in other profiles\n\nA fault may fail a MUST check of another profile only where \
         that check is the same behaviour as the one the fault breaks (the fault table's `RELATED`):\n\n\
         | fault | requirement | scenarios | why |\n| --- | --- | --- | --- |\n",
    );
    for (fault, requirement, why) in RELATED {
        let seen: Vec<String> = st
            .faults
            .iter()
            .filter(|f| f.fault == *fault)
            .flat_map(|f| f.other_profile_kills())
            .filter(|k| k.1 == *requirement)
            .map(|k| format!("`{}`", k.0))
            .collect();
        let seen = if seen.is_empty() {
            "(not run in this scope)".to_string()
        } else {
            seen.join("<br>")
        };
        let _ = writeln!(md, "| `{fault}` | {requirement} | {seen} | {why} |");
    }
    md
}

fn kill_text(k: &Kill) -> String {
    let reqs: Vec<String> = k
        .requirements
        .iter()
        .map(|(r, o)| format!("{r} {}", if *o == Outcome::Fail { "F" } else { "W" }))
        .collect();
    format!("`{}` ({})", k.scenario, reqs.join(", "))
}

fn fault_row(f: &FaultResult) -> String {
    let aimed: Vec<String> = f
        .aimed
        .iter()
        .map(|a| format!("`{}` {} {}", a.scenario, a.requirement, a.want.label()))
        .collect();
    let verdict: Vec<&str> = f
        .aimed
        .iter()
        .map(|a| {
            if a.got == Some(a.want) {
                "yes"
            } else {
                "**no**"
            }
        })
        .collect();
    let aimed_ids: BTreeSet<&str> = f.aimed.iter().map(|a| a.scenario.as_str()).collect();
    let others: Vec<String> = f
        .kills
        .iter()
        .filter(|k| !aimed_ids.contains(k.scenario.as_str()))
        .map(kill_text)
        .collect();
    format!(
        "| `{}` | {} | {} | {} |",
        f.fault,
        aimed.join("<br>"),
        verdict.join("<br>"),
        others.join("<br>")
    )
}

/// Scenario → the faults that make it fail.
fn scenario_table(st: &Selftest) -> String {
    let mut by: BTreeMap<&str, Vec<&str>> = st
        .clean
        .scenarios
        .iter()
        .map(|s| (s.id.as_str(), Vec::new()))
        .collect();
    for f in &st.faults {
        for k in &f.kills {
            by.entry(k.scenario.as_str()).or_default().push(&f.fault);
        }
    }
    let mut md =
        String::from("\n## Scenarios\n\n| scenario | faults that make it fail |\n| --- | --- |\n");
    for (id, faults) in by {
        let list: Vec<String> = faults.iter().map(|f| format!("`{f}`")).collect();
        let text = if list.is_empty() {
            "**none**".to_string()
        } else {
            list.join(", ")
        };
        let _ = writeln!(md, "| `{id}` | {text} |");
    }
    md
}

fn errors_section(errors: &[String]) -> String {
    if errors.is_empty() {
        return "\n## Errors\n\nNone: every fault is killed where aimed, no fault fails an unrelated MUST check \
                of another profile, and every scenario fails under some fault.\n"
            .into();
    }
    let mut md = String::from("\n## Errors\n\n");
    for e in errors {
        let _ = writeln!(md, "- {e}");
    }
    md
}

/// One fault's line: killed where aimed without collateral (`ok`) or not (`FAIL`), and what failed.
pub fn fault_line(f: &FaultResult) -> String {
    let ok = f.aimed.iter().all(|a| a.got == Some(a.want)) && f.collateral().is_empty();
    let kills: Vec<String> = f.kills.iter().map(kill_text).collect();
    format!(
        "{} {:<32} {} of {} scenarios fail: {}\n",
        if ok { "ok  " } else { "FAIL" },
        f.fault,
        f.kills.len(),
        f.ran,
        kills.join("; ")
    )
}

/// The terminal summary: one line per fault, then the errors and the verdict.
pub fn summary(st: &Selftest) -> String {
    let mut out: String = st.faults.iter().map(fault_line).collect();
    for e in &st.errors {
        let _ = writeln!(out, "error: {e}");
    }
    let _ = writeln!(
        out,
        "selftest (scope {}): {} faults, {} errors, {:.1} s",
        st.scope.as_str(),
        st.faults.len(),
        st.errors.len(),
        st.elapsed.as_secs_f64()
    );
    out
}

/// Options of `selftest`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The reference's target file [default: targets/reference.toml].
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Scenarios folder [default: scenarios].
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Which scenarios each fault runs against.
    #[arg(long, value_enum, default_value_t = Scope::Reach)]
    pub scope: Scope,
    /// Only these faults (comma-separated); the coverage errors are then not judged.
    #[arg(long, value_delimiter = ',')]
    pub fault: Vec<String>,
    /// Scenarios at once within each fault's run (about four times as many in all) [default: twice the CPU count].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Deadline of one step, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub step_timeout_ms: u64,
    /// Deadline of one scenario, in seconds.
    #[arg(long, default_value_t = 60)]
    pub scenario_timeout_s: u64,
    /// Write the kill matrix (Markdown) to this file, e.g. docs/kill-matrix.md.
    #[arg(long)]
    pub write: Option<PathBuf>,
}

/// `authconform selftest`: 0 when every property holds, 1 naming what does not, 2 on bad input.
pub async fn main(args: Args) -> i32 {
    let cfg = match config(&args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("authconform selftest: {e}");
            return 2;
        }
    };
    let st = match run(cfg).await {
        Ok(st) => st,
        Err(e) => {
            eprintln!("authconform selftest: {e}");
            return 2;
        }
    };
    print!("{}", summary(&st));
    if let Some(path) = &args.write
        && let Err(e) = std::fs::write(path, markdown(&st))
    {
        eprintln!("authconform selftest: cannot write {}: {e}", path.display());
        return 2;
    }
    st.exit_code()
}

/// The selftest's configuration from its options; an error is an input error.
fn config(args: &Args) -> Result<Config, String> {
    let root = crate::cli::project_root();
    let target_path = args
        .target
        .clone()
        .unwrap_or_else(|| root.join("targets/reference.toml"));
    let target = Target::load(&target_path).map_err(|e| e.to_string())?;
    let dir = args
        .scenarios
        .clone()
        .unwrap_or_else(|| root.join("scenarios"));
    let scenarios =
        crate::scenario::load_all(&dir, &Catalog::builtin()).map_err(|e| e.to_string())?;
    let known: BTreeSet<&str> = authconform_reference::FAULTS.iter().map(|f| f.0).collect();
    if let Some(f) = args.fault.iter().find(|f| !known.contains(f.as_str())) {
        return Err(format!(
            "unknown fault `{f}` (`authconform reference http --help` lists them)"
        ));
    }
    Ok(Config {
        target,
        scenarios,
        only: args.fault.clone(),
        scope: args.scope,
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() * 2)
                .unwrap_or(4)
        }),
        step_timeout: Duration::from_millis(args.step_timeout_ms),
        scenario_timeout: Duration::from_secs(args.scenario_timeout_s),
        self_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("authconform")),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fault's aimed check: R1 of `a/x`, which should fail and got `got`.
    fn aimed_r1(got: Outcome) -> Aimed {
        Aimed {
            scenario: "a/x".into(),
            requirement: "R1".into(),
            want: Outcome::Fail,
            got: Some(got),
        }
    }

    fn kill(scenario: &str, reqs: &[(&str, Outcome)]) -> Kill {
        Kill {
            scenario: scenario.into(),
            profile: profile_of(scenario).into(),
            requirements: reqs.iter().map(|(r, o)| (r.to_string(), *o)).collect(),
        }
    }

    #[test]
    fn collateral_is_an_unrelated_must_in_another_profile() {
        let mut f = FaultResult {
            fault: "f".into(),
            aimed: vec![aimed_r1(Outcome::Fail)],
            kills: vec![
                kill("a/x", &[("R1", Outcome::Fail)]),
                kill("a/y", &[("R2", Outcome::Fail)]),
                kill(
                    "b/z",
                    &[
                        ("R1", Outcome::Fail),
                        ("R3", Outcome::Warn),
                        ("R4", Outcome::Fail),
                    ],
                ),
            ],
            ran: 4,
        };
        f.kills
            .push(kill("c/w", &[("HYG-004 (global)", Outcome::Fail)]));
        assert_eq!(f.collateral(), vec![("b/z", "R4")]);
        assert!(
            fault_errors(&[f])
                .iter()
                .any(|e| e.contains("MUST R4 in b/z"))
        );
    }

    #[test]
    fn a_related_kill_is_listed_and_no_error() {
        let (fault, requirement, _) = RELATED[0];
        let f = FaultResult {
            fault: fault.into(),
            aimed: vec![aimed_r1(Outcome::Fail)],
            kills: vec![
                kill("a/x", &[("R1", Outcome::Fail)]),
                kill(
                    "b/z",
                    &[(requirement, Outcome::Fail), ("R4", Outcome::Fail)],
                ),
            ],
            ran: 2,
        };
        let other = f.other_profile_kills();
        assert_eq!(other.len(), 2);
        assert!(other.iter().any(|k| k.1 == requirement && k.2.is_some()));
        assert_eq!(f.collateral(), vec![("b/z", "R4")]);
        let stale = |f: &FaultResult| {
            relation_errors(std::slice::from_ref(f))
                .into_iter()
                .filter(|e| e.contains(&format!(" {requirement} ")))
                .collect::<Vec<_>>()
        };
        assert!(stale(&f).is_empty(), "{:?}", stale(&f));
        // The same fault without that kill: its relation is stale.
        let mut quiet = f;
        quiet.kills.truncate(1);
        assert!(
            stale(&quiet)
                .iter()
                .any(|e| e.contains("remove its relation")),
            "{:?}",
            stale(&quiet)
        );
    }

    #[test]
    fn reach_runs_a_fault_where_it_was_asked_and_cross_only_in_other_profiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
        let all = crate::scenario::load_all(&dir, &Catalog::builtin()).expect("scenarios load");
        let aimed_id = "oauth-resource/expired-token";
        let same = "oauth-resource/wrong-audience";
        let other = "cors/mcp-origin";
        let untouched = "api-key/missing-key";
        let asked: Asked = [aimed_id, same, other]
            .into_iter()
            .map(|id| {
                (
                    id.to_string(),
                    BTreeSet::from(["accept-expired".to_string()]),
                )
            })
            .chain([(untouched.to_string(), BTreeSet::from(["other".to_string()]))])
            .collect();
        let aimed = BTreeSet::from([aimed_id]);
        let ids = |scope| -> Vec<String> {
            selection(scope, "accept-expired", &aimed, &all, &asked)
                .into_iter()
                .map(Scenario::full_id)
                .collect()
        };
        assert_eq!(ids(Scope::Reach), [other, aimed_id, same]);
        assert_eq!(ids(Scope::Cross), [other, aimed_id]);
        assert_eq!(ids(Scope::Aimed), [aimed_id]);
    }

    #[test]
    fn a_fault_that_survives_or_kills_nothing_is_named() {
        let f = FaultResult {
            fault: "weak".into(),
            aimed: vec![aimed_r1(Outcome::Pass)],
            kills: vec![],
            ran: 1,
        };
        let errors = fault_errors(&[f]);
        assert_eq!(
            errors,
            [
                "fault `weak` survives a/x: R1 was PASS, expected FAIL",
                "fault `weak`: no scenario kills it"
            ]
        );
    }
}

//! The command line: `run`, `list`, and `reference` (the bundled reference implementation).

use crate::baseline::Baseline;
use crate::progress::{Display, Progress};
use crate::report::{self, Style};
use crate::requirements::{Catalog, PROFILES};
use crate::runner::{self, RunConfig};
use crate::scenario::{self, Scenario};
use crate::snapshot;
use crate::target::Target;
use crate::verdict;
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Conformance suite for the auth surfaces of MCP servers, API gateways and their CLIs.
#[derive(Parser, Debug)]
#[command(name = "authconform", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the scenarios of the target's profiles against it.
    Run(RunArgs),
    /// List scenarios, or requirements with the scenarios that check them.
    List(ListArgs),
    /// The suite against the reference once per seeded fault: the kill matrix, and what no fault can fail.
    Selftest(crate::selftest::Args),
    /// Fold several JSON reports (`run --json` / `--report-dir`) into one compatibility table.
    Matrix(MatrixArgs),
    /// The mocks alone on loopback (authorization server, upstream API, device-flow server), for manual poking.
    Mocks(authconform_mocks::standalone::MocksCli),
    /// The bundled reference implementation (what `targets/reference.toml` launches).
    Reference(authconform_reference::ReferenceCli),
}

/// Options of `run`.
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Target file [default: targets/reference.toml].
    #[arg(long)]
    pub target: Option<PathBuf>,
    /// Scenarios folder [default: scenarios].
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Only these profiles (comma-separated); default: every profile the target claims.
    #[arg(long, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// Only scenarios whose `profile/id` contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Scenarios run at once [default: twice the CPU count].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Deadline of one step, in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub step_timeout_ms: u64,
    /// Deadline of one scenario, in seconds.
    #[arg(long, default_value_t = 60)]
    pub scenario_timeout_s: u64,
    /// Deadline of the whole run, in seconds.
    #[arg(long, default_value_t = 600)]
    pub run_timeout_s: u64,
    /// Show passing checks too, and every exchange (redacted transcripts).
    #[arg(long, short)]
    pub verbose: bool,
    /// Print only the summary.
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write the full report (with redacted transcripts) as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Snapshot folder; transcripts are compared with `DIR/TARGET/*.snap` [default: snapshots].
    #[arg(long)]
    pub snapshots: Option<PathBuf>,
    /// Write new or differing transcripts as `.snap.new` files for `cargo insta review`.
    #[arg(long)]
    pub update_snapshots: bool,
    /// Do not compare transcripts with snapshots.
    #[arg(long, conflicts_with = "update_snapshots")]
    pub no_snapshots: bool,
    /// Checks expected to fail (TOML): the gate passes when only those fail, and fails when one passes.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Write the checks that failed in this run as a baseline file.
    #[arg(long)]
    pub write_baseline: Option<PathBuf>,
    /// Write report.json (versioned schema), junit.xml and report.md into this folder.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

/// Options of `matrix`.
#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// JSON reports, one per target (columns, in this order).
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Write the Markdown table here instead of printing it.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write a self-contained HTML page here.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// Options of `list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Scenarios folder [default: scenarios].
    #[arg(long)]
    pub scenarios: Option<PathBuf>,
    /// Only these profiles (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub profile: Vec<String>,
    /// List requirements with the scenarios that check them, uncovered ones marked.
    #[arg(long)]
    pub requirements: bool,
}

/// The folder holding `targets/` and `scenarios/`: the current directory when it has them, else the source tree.
pub fn project_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = if cwd.join("scenarios").is_dir() && cwd.join("targets").is_dir() {
        cwd
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    };
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("authconform: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Run(args) => ExitCode::from(rt.block_on(run(args)) as u8),
        Command::List(args) => ExitCode::from(list(args) as u8),
        Command::Selftest(args) => ExitCode::from(rt.block_on(crate::selftest::main(args)) as u8),
        Command::Matrix(args) => ExitCode::from(matrix(args) as u8),
        Command::Mocks(m) => match rt.block_on(authconform_mocks::standalone::run(m)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("authconform mocks: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Reference(r) => match rt.block_on(authconform_reference::run(r)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("authconform reference: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

fn check_profiles(profiles: &[String]) -> Result<(), String> {
    for p in profiles {
        if !PROFILES.contains(&p.as_str()) {
            return Err(format!(
                "unknown profile `{p}` (known: {})",
                PROFILES.join(", ")
            ));
        }
    }
    Ok(())
}

/// Loads the target and selects scenarios; errors are input errors (exit 2).
pub fn prepare(args: &RunArgs, catalog: &Catalog) -> Result<(Target, Vec<Scenario>), String> {
    let root = project_root();
    let target_path = args
        .target
        .clone()
        .unwrap_or_else(|| root.join("targets/reference.toml"));
    let target = Target::load(&target_path).map_err(|e| e.to_string())?;
    let dir = args
        .scenarios
        .clone()
        .unwrap_or_else(|| root.join("scenarios"));
    let all = scenario::load_all(&dir, catalog).map_err(|e| e.to_string())?;
    check_profiles(&args.profile)?;
    let selected = all
        .into_iter()
        .filter(|s| target.profiles.contains(&s.profile))
        .filter(|s| args.profile.is_empty() || args.profile.contains(&s.profile))
        .filter(|s| {
            args.filter
                .as_ref()
                .is_none_or(|f| s.full_id().contains(f.as_str()))
        })
        .collect();
    Ok((target, selected))
}

async fn run(args: RunArgs) -> i32 {
    let catalog = Catalog::builtin();
    let (target, scenarios, baseline) = match load_inputs(&args, &catalog) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("authconform: {e}");
            return 2;
        }
    };
    let Some(report) = execute(&args, target, scenarios, catalog).await else {
        return 2;
    };
    print_report(&args, &report);
    let snaps = (!args.no_snapshots).then(|| compare_snapshots(&args, &report));
    let name = args
        .baseline
        .as_deref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let verdict = verdict::decide(
        &report,
        baseline.as_ref().map(|b| (name.as_str(), b)),
        snaps.as_ref(),
    );
    for line in &verdict.lines {
        let quiet_ok = line.starts_with("snapshots: none") || line.contains(" transcripts match ");
        if !(args.quiet && quiet_ok) {
            println!("{line}");
        }
    }
    if snaps.as_ref().is_some_and(|s| !s.differing.is_empty()) {
        println!("{}", snapshot_hint(args.update_snapshots, snaps.as_ref()));
    }
    if let Err(e) = write_outputs(&args, &report) {
        eprintln!("authconform: {e}");
        return 2;
    }
    verdict.exit_code
}

type Inputs = (Target, Vec<Scenario>, Option<Baseline>);

/// The target, the selected scenarios and the baseline; an error is an input error (exit 2).
fn load_inputs(args: &RunArgs, catalog: &Catalog) -> Result<Inputs, String> {
    let (target, scenarios) = prepare(args, catalog)?;
    if scenarios.is_empty() {
        return Err(format!(
            "no scenario selected (target profiles: {})",
            target.profiles.join(", ")
        ));
    }
    let baseline = match &args.baseline {
        Some(p) => Some(Baseline::load(p).map_err(|e| e.to_string())?),
        None => None,
    };
    Ok((target, scenarios, baseline))
}

/// Runs the scenarios with a progress display; `None` (after saying why) when the run itself failed.
async fn execute(
    args: &RunArgs,
    target: Target,
    scenarios: Vec<Scenario>,
    catalog: Catalog,
) -> Option<report::RunReport> {
    let display = if args.quiet {
        Display::Quiet
    } else if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
        Display::Bar
    } else {
        Display::Lines
    };
    if !args.quiet {
        println!(
            "authconform {}: target `{}` ({}), {} scenarios",
            env!("CARGO_PKG_VERSION"),
            target.name,
            target.path.display(),
            scenarios.len()
        );
    }
    let progress = std::sync::Arc::new(Progress::new(scenarios.len(), display));
    let cfg = RunConfig {
        target,
        scenarios,
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get() * 2)
                .unwrap_or(4)
        }),
        step_timeout: Duration::from_millis(args.step_timeout_ms),
        scenario_timeout: Duration::from_secs(args.scenario_timeout_s),
        run_timeout: Duration::from_secs(args.run_timeout_s),
        self_exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("authconform")),
    };
    let on_done = progress.clone();
    let report = runner::run(cfg, catalog, move |r| on_done.finished(r)).await;
    progress.finish();
    report
        .map_err(|e| eprintln!("authconform: run failed: {e:#}"))
        .ok()
}

fn print_report(args: &RunArgs, report: &report::RunReport) {
    if args.verbose {
        for s in &report.scenarios {
            println!("\n=== {} ===\n{}", s.id, s.transcript_text);
        }
    }
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let text = report::render(
        report,
        Style {
            color,
            verbose: args.verbose,
        },
    );
    if args.quiet {
        for l in text
            .lines()
            .filter(|l| l.starts_with("target ") || l.starts_with("failed "))
        {
            println!("{l}");
        }
    } else {
        print!("{text}");
    }
}

fn compare_snapshots(args: &RunArgs, report: &report::RunReport) -> snapshot::SnapshotReport {
    let dir = args
        .snapshots
        .clone()
        .unwrap_or_else(|| project_root().join("snapshots"));
    let mode = if args.update_snapshots {
        snapshot::Mode::Update
    } else {
        snapshot::Mode::Check
    };
    snapshot::compare(report, &dir, mode)
}

fn snapshot_hint(update: bool, snaps: Option<&snapshot::SnapshotReport>) -> &'static str {
    if snaps.is_some_and(|s| s.written > 0) {
        "  wrote .snap.new files: review them with `cargo insta review` (or `cargo insta accept`)"
    } else if update && snapshot::is_ci() {
        "  CI is set: no .snap.new file was written; rerun with --update-snapshots outside CI"
    } else {
        "  to record the new transcripts: rerun with --update-snapshots, then `cargo insta review`"
    }
}

/// The JSON report, the report folder and a new baseline, when asked for.
fn write_outputs(args: &RunArgs, report: &report::RunReport) -> Result<(), String> {
    if let Some(path) = &args.json {
        serde_json::to_string_pretty(report)
            .map_err(|e| e.to_string())
            .and_then(|j| std::fs::write(path, j).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if let Some(dir) = &args.report_dir {
        crate::reports::write_all(report, &Catalog::builtin(), dir)
            .map_err(|e| format!("cannot write reports to {}: {e:#}", dir.display()))?;
    }
    if let Some(path) = &args.write_baseline {
        toml::to_string_pretty(&Baseline::from_failures(report))
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn matrix(args: MatrixArgs) -> i32 {
    let mut loaded = Vec::new();
    for p in &args.reports {
        match crate::reports::load(p) {
            Ok(r) => loaded.push((p.clone(), r)),
            Err(e) => {
                eprintln!("authconform: {e:#}");
                return 2;
            }
        }
    }
    let labels = crate::reports::labels(&loaded);
    let columns: Vec<(String, crate::report::RunReport)> = labels
        .into_iter()
        .zip(loaded.into_iter().map(|(_, r)| r))
        .collect();
    let m = crate::reports::Matrix::build(&columns, &Catalog::builtin());
    let md = m.to_markdown();
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| eprintln!("authconform: cannot write {}: {e}", path.display()))
    };
    match &args.out {
        Some(p) => {
            if write(p, &md).is_err() {
                return 2;
            }
        }
        None => print!("{md}"),
    }
    if let Some(p) = &args.html
        && write(p, &m.to_html()).is_err()
    {
        return 2;
    }
    0
}

fn list(args: ListArgs) -> i32 {
    let catalog = Catalog::builtin();
    let dir = args
        .scenarios
        .clone()
        .unwrap_or_else(|| project_root().join("scenarios"));
    let scenarios = match scenario::load_all(&dir, &catalog) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("authconform: {e}");
            return 2;
        }
    };
    if let Err(e) = check_profiles(&args.profile) {
        eprintln!("authconform: {e}");
        return 2;
    }
    let wanted = |p: &str| args.profile.is_empty() || args.profile.iter().any(|x| x == p);
    if !args.requirements {
        for s in scenarios.iter().filter(|s| wanted(&s.profile)) {
            println!("{:<44} {}", s.full_id(), s.requirements.join(" "));
            println!("{:<44} {}", "", s.title);
        }
        return 0;
    }
    let mut profile = String::new();
    let mut total = (0, 0);
    for r in catalog.iter().filter(|r| wanted(&r.profile)) {
        if r.profile != profile {
            profile = r.profile.clone();
            let all: Vec<_> = catalog.iter().filter(|x| x.profile == profile).collect();
            let covered = all
                .iter()
                .filter(|x| scenarios.iter().any(|s| s.requirements.contains(&x.id)))
                .count();
            println!("\n{profile}: {covered}/{} requirements checked", all.len());
        }
        let by: Vec<String> = scenarios
            .iter()
            .filter(|s| s.requirements.contains(&r.id))
            .map(|s| s.full_id())
            .collect();
        total.1 += 1;
        let mark = if by.is_empty() {
            "uncovered".to_string()
        } else {
            total.0 += 1;
            by.join(", ")
        };
        println!(
            "  {:<15} {:<6} {:<62} {}",
            r.id,
            r.level.to_string(),
            truncate(&r.title, 62),
            mark
        );
    }
    println!(
        "\n{} of {} requirements checked by at least one scenario",
        total.0, total.1
    );
    0
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

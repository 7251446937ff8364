//! Snapshots: each scenario's transcript ([`crate::transcript`]) stored as an insta `.snap` file under
//! `snapshots/TARGET/PROFILE__ID.snap`, so a run is also a regression record.
//!
//! A transcript that differs from its snapshot fails the run, with insta's coloured diff on stderr. With
//! `--update-snapshots` the new transcript is written beside it as `.snap.new`, for `cargo insta review`
//! (or `cargo insta accept`). insta never writes when `CI` is set.

use crate::report::{Outcome, RunReport};
use std::path::{Path, PathBuf};

/// Whether differing transcripts are only reported or also written as `.snap.new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compare; write nothing.
    Check,
    /// Compare, and write `.snap.new` for each new or differing transcript.
    Update,
}

/// Configures insta for this process. Call once, before any other thread starts (it sets environment
/// variables insta reads on first use).
pub fn configure(mode: Mode, project_root: &Path) {
    let root = std::fs::canonicalize(project_root).unwrap_or_else(|_| project_root.to_path_buf());
    // SAFETY: called from `main` before the async runtime or any other thread exists.
    unsafe {
        std::env::set_var(
            "INSTA_UPDATE",
            if mode == Mode::Update { "new" } else { "no" },
        );
        std::env::set_var("INSTA_WORKSPACE_ROOT", root);
        if std::env::var_os("INSTA_OUTPUT").is_none() {
            std::env::set_var("INSTA_OUTPUT", "diff");
        }
    }
}

/// What the comparison found.
#[derive(Debug, Clone, Default)]
pub struct SnapshotReport {
    /// Folder of the target's snapshots.
    pub dir: PathBuf,
    /// Scenarios compared.
    pub compared: usize,
    /// Scenarios whose transcript differs from (or has no) snapshot.
    pub differing: Vec<String>,
    /// The folder did not exist and nothing was compared (a target without a recorded baseline yet).
    pub no_snapshots: bool,
}

/// The snapshot name of a scenario ID (`oauth-resource/x` → `oauth-resource__x`).
pub fn name_of(id: &str) -> String {
    id.replace('/', "__")
}

/// Compares every run scenario's transcript with `dir/TARGET/NAME.snap`.
pub fn compare(report: &RunReport, dir: &Path, mode: Mode) -> SnapshotReport {
    let dir = dir.join(&report.target);
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir().map(|c| c.join(&dir)).unwrap_or(dir)
    };
    let mut out = SnapshotReport {
        dir: dir.clone(),
        ..Default::default()
    };
    if !dir.is_dir() && mode == Mode::Check {
        out.no_snapshots = true;
        return out;
    }
    if mode == Mode::Update {
        let _ = std::fs::create_dir_all(&dir);
    }
    let previous_hook = std::panic::take_hook();
    // insta reports a mismatch by panicking after printing its diff; keep the panic message itself quiet.
    std::panic::set_hook(Box::new(|_| {}));
    for s in &report.scenarios {
        if s.outcome == Outcome::Skip {
            continue;
        }
        out.compared += 1;
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_description(format!("{}: {}", s.id, s.title));
        let name = name_of(&s.id);
        let text = s.transcript_text.clone();
        let matched = settings
            .bind(|| std::panic::catch_unwind(|| insta::assert_snapshot!(name, text)).is_ok());
        if !matched {
            out.differing.push(s.id.clone());
        }
    }
    std::panic::set_hook(previous_hook);
    out
}

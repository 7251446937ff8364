//! Snapshots: each scenario's transcript ([`crate::transcript`]) stored as an insta `.snap` file under
//! `snapshots/TARGET/PROFILE__ID.snap`, so a run is also a regression record.
//!
//! A transcript that differs from its snapshot fails the run, with a unified diff on stderr. With
//! `--update-snapshots` the new transcript is written beside it as `.snap.new` in insta's format, for
//! `cargo insta review` (or `cargo insta accept`). Nothing is written when `CI` is set (insta's rule).

use crate::report::{Outcome, RunReport};
use insta::TextSnapshotKind;
use insta::internals::TextSnapshotContents;
use std::path::{Path, PathBuf};

/// Whether differing transcripts are only reported or also written as `.snap.new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Compare; write nothing.
    Check,
    /// Compare, and write `.snap.new` for each new or differing transcript.
    Update,
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
    /// `.snap.new` files written ([`Mode::Update`] outside CI).
    pub written: usize,
}

/// The snapshot name of a scenario ID (`oauth-resource/x` → `oauth-resource__x`).
pub fn name_of(id: &str) -> String {
    id.replace('/', "__")
}

/// Compares every run scenario's transcript with `dir/TARGET/NAME.snap`.
///
/// Nothing here is process-wide: no panic hook, no environment variable, no insta runtime state. The stored
/// snapshot is read with [`insta::Snapshot::from_file`] and matched with insta's own normalisation
/// ([`TextSnapshotContents::matches_latest`], or the legacy form), so two comparisons may run at once on
/// different threads. In [`Mode::Update`], outside CI, a new or differing transcript is written as
/// `NAME.snap.new` in insta's format for `cargo insta review`.
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
    let write = mode == Mode::Update && !is_ci();
    if write {
        let _ = std::fs::create_dir_all(&dir);
    }
    let show_diff = !matches!(
        std::env::var("INSTA_OUTPUT").ok().as_deref(),
        Some("none" | "summary" | "minimal")
    );
    let color = {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
    };
    for s in &report.scenarios {
        if s.outcome == Outcome::Skip {
            continue;
        }
        out.compared += 1;
        let file = dir.join(format!("{}.snap", name_of(&s.id)));
        let description = format!("{}: {}", s.id, s.title);
        match compare_one(&file, &s.transcript_text) {
            Verdict::Same => continue,
            Verdict::Differs(old) => {
                out.differing.push(s.id.clone());
                let mut text = format!("snapshot {}: {}\n", s.id, verdict_line(&file, &old));
                if show_diff {
                    let d = diff(old.as_deref().unwrap_or(""), &s.transcript_text);
                    text.push_str(&if color { paint(&d) } else { d });
                }
                if write {
                    match write_new(&file, &description, &s.transcript_text) {
                        Ok(new) => {
                            out.written += 1;
                            text.push_str(&format!("  wrote {}\n", new.display()));
                        }
                        Err(e) => {
                            text.push_str(&format!("  cannot write {}.new: {e}\n", file.display()))
                        }
                    }
                }
                // One write per scenario, so concurrent comparisons never interleave their lines.
                use std::io::Write;
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
        }
    }
    out
}

/// Whether this is a CI run, by insta's rule: `CI` set to anything but `false`, `0` or empty, or `TF_BUILD` set.
pub fn is_ci() -> bool {
    match std::env::var("CI").ok().as_deref() {
        Some("false" | "0" | "") => false,
        None => std::env::var_os("TF_BUILD").is_some(),
        Some(_) => true,
    }
}

enum Verdict {
    Same,
    /// The stored snapshot's text, `None` when there is none (or it cannot be read).
    Differs(Option<String>),
}

fn compare_one(file: &Path, transcript: &str) -> Verdict {
    let Ok(old) = insta::Snapshot::from_file(file) else {
        return Verdict::Differs(None);
    };
    let Some(old) = old.as_text() else {
        return Verdict::Differs(None);
    };
    let new = TextSnapshotContents::new(transcript.to_string(), TextSnapshotKind::File);
    if old.matches_latest(&new) || old.matches_legacy(&new) {
        Verdict::Same
    } else {
        Verdict::Differs(Some(old.to_string()))
    }
}

fn verdict_line(file: &Path, old: &Option<String>) -> String {
    match old {
        Some(_) => format!("the transcript differs from {}", file.display()),
        None => format!("no snapshot at {}", file.display()),
    }
}

/// A unified line diff of the stored snapshot and the new transcript (`-` old, `+` new), three lines of context.
fn diff(old: &str, new: &str) -> String {
    let new = TextSnapshotContents::new(new.to_string(), TextSnapshotKind::File).to_string();
    similar::TextDiff::from_lines(old, &new)
        .unified_diff()
        .context_radius(3)
        .header("old snapshot", "new transcript")
        .to_string()
}

/// A unified diff with removed lines red and added lines green (for a terminal).
fn paint(diff: &str) -> String {
    diff.split_inclusive('\n')
        .map(|l| {
            let code = if l.starts_with("---") || l.starts_with("+++") {
                "1"
            } else if l.starts_with('-') {
                "31"
            } else if l.starts_with('+') {
                "32"
            } else if l.starts_with("@@") {
                "36"
            } else {
                return l.to_string();
            };
            let (body, nl) = l.strip_suffix('\n').map_or((l, ""), |b| (b, "\n"));
            format!("\x1b[{code}m{body}\x1b[0m{nl}")
        })
        .collect()
}

/// Writes `FILE.new` (`NAME.snap.new`) in insta's file format: a YAML header (`source`, `description`), `---`,
/// the contents. `cargo insta review` and `cargo insta accept` read it with insta's own parser.
fn write_new(file: &Path, description: &str, transcript: &str) -> std::io::Result<PathBuf> {
    let new_path = file.with_extension("snap.new");
    let contents = TextSnapshotContents::new(transcript.to_string(), TextSnapshotKind::File);
    // A JSON string is a valid YAML double-quoted scalar, whatever the description holds.
    let description = serde_json::Value::String(description.to_string()).to_string();
    let text = format!(
        "---\nsource: harness/src/snapshot.rs\ndescription: {description}\n---\n{contents}\n"
    );
    std::fs::write(&new_path, text)?;
    Ok(new_path)
}

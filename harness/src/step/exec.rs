//! `exec` steps: a child process (a named command of the target's `cli` surface, or any program) with
//! arguments, environment and stdin, a private HOME and config folder shared by the scenario's exec steps, and
//! a deadline; records the exit code, stdout, stderr and the files it wrote under HOME (with mode bits).

use super::{Kind, Recorded, StepCx, ValidateCx, View, expand};
use crate::error::Invalid;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// A long hexadecimal run in a file name (a hash of a URL with a run-specific port, a random ID): shown as
/// `[HASH]` so that transcripts are the same from run to run.
static HASHED: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new("[0-9a-f]{16,}").expect("valid pattern"));

/// The default deadline of an exec step in a scenario with a `[world]`.
pub const WORLD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(15);

/// A child process to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecStep {
    /// A named command of the target's `cli` surface (`login`, `status`, …).
    pub command: Option<String>,
    /// Or any program (template), e.g. `{authconform}`.
    pub program: Option<String>,
    /// Arguments after the command's own (templates).
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment (templates).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Text written to stdin, which is then closed; stdin is closed at once without it.
    pub stdin: Option<String>,
    /// Values of the command's placeholders (`key`, `org`, `email`…), templates themselves.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Deadline in seconds, for a step a protocol keeps waiting (default: the run's step deadline).
    pub deadline_s: Option<u64>,
}

/// A file the process wrote (new or changed) under its HOME.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WrittenFile {
    /// Path relative to HOME.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits (`0o600`), 0 elsewhere.
    pub mode: u32,
}

/// What an exec step's process did.
#[derive(Debug, Clone, Serialize)]
pub struct ExecRecord {
    /// What ran: the named command or the program, with arguments.
    pub command_line: String,
    /// Exit code; `None` when killed at the deadline or ended by a signal.
    pub exit: Option<i32>,
    /// Whether it was killed at the deadline.
    pub timed_out: bool,
    /// Whether it was stopped early: it gave its browser a URL the user agent does not open, so no callback
    /// could ever come.
    pub stopped: bool,
    /// Its stdout (lossy UTF-8).
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
    /// Files written under HOME.
    pub files: Vec<WrittenFile>,
    /// What the scenario's mock host saw meanwhile (when the scenario has one).
    pub host: Option<crate::host::HostSeen>,
    /// What the scenario's world saw meanwhile (when the scenario has one).
    pub world: Option<crate::world::WorldSeen>,
}

impl Kind for ExecStep {
    type Record = ExecRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        if self.command.is_some() == self.program.is_some() {
            return Err(Invalid::new(
                "command",
                "give exactly one of `command` or `program`",
            ));
        }
        if let Some(p) = &self.program {
            cx.template("program", p)?;
        }
        for a in &self.args {
            cx.template("args", a)?;
        }
        for (k, v) in &self.env {
            cx.template("env", k)?;
            cx.template("env", v)?;
        }
        for v in self.vars.values() {
            cx.template("vars", v)?;
        }
        if let Some(s) = &self.stdin {
            cx.template("stdin", s)?;
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        self.command.as_ref().map(|_| "cli")
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<ExecRecord, String> {
        let (program, args, env) = self.command_line(cx)?;
        let home = cx.workdir.join("home");
        std::fs::create_dir_all(home.join(".config")).map_err(|e| format!("HOME: {e}"))?;
        let before = list_files(&home);
        let mark = cx.host.map(|h| h.mark());
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .envs(env)
            .current_dir(cx.target.dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let agent = cx.world.map(|w| w.user_agent());
        let input = match &self.stdin {
            Some(s) => expand(cx.vars, s)?,
            None => String::new(),
        };
        // A client in a world signs in through a browser and a callback: more round trips than a step.
        let default = if cx.world.is_some() {
            cx.timeout.max(WORLD_DEADLINE)
        } else {
            cx.timeout
        };
        let deadline = self
            .deadline_s
            .map_or(default, std::time::Duration::from_secs);
        let give_up = agent.as_ref().map(|a| a.gave_up());
        let ran = run_child(child, input, deadline, give_up).await;
        let world = match (agent, cx.world) {
            (Some(a), Some(w)) => Some(a.finish(w).await),
            _ => None,
        };
        let after = list_files(&home);
        let files = written(&before, &after);
        let host = cx.host.zip(mark).map(|(h, m)| {
            let present: Vec<(String, u32)> = after.iter().map(|(p, v)| (p.clone(), v.1)).collect();
            let paths = files.iter().map(|f| f.path.clone()).collect();
            crate::host::HostSeen::collect(h, m, &home, &present, paths)
        });
        let (exit, timed_out, stopped, stdout, stderr) =
            ran.map_err(|e| format!("waiting for `{program}`: {e}"))?;
        Ok(ExecRecord {
            command_line: std::iter::once(self.command.clone().unwrap_or(program))
                .chain(args)
                .collect::<Vec<_>>()
                .join(" "),
            exit,
            timed_out,
            stopped,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            files,
            host,
            world,
        })
    }
}

/// Exit code, killed at the deadline, stopped early, stdout, stderr.
type Ran = (Option<i32>, bool, bool, Vec<u8>, Vec<u8>);

/// Most bytes kept of a child's stdout or stderr; the rest is read and dropped.
const KEEP: usize = 256 * 1024;

/// How long the pipes are read after the child is gone: a process outside its group may still hold them.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Feeds `input` to the child, waits up to `timeout` or until `give_up` is notified (then kills it), and keeps
/// what it printed either way (the first [`KEEP`] bytes of each stream). Whatever happened, every process of the
/// child's process group is killed afterwards: nothing it started outlives the step.
async fn run_child(
    mut child: tokio::process::Child,
    input: String,
    timeout: std::time::Duration,
    give_up: Option<std::sync::Arc<tokio::sync::Notify>>,
) -> std::io::Result<Ran> {
    let deadline = tokio::time::Instant::now() + timeout;
    let group = child.id();
    group.into_iter().for_each(crate::launch::track_group);
    if let Some(mut stdin) = child.stdin.take() {
        // A child that never reads its stdin cannot hold the step past its deadline.
        let _ = tokio::time::timeout_at(deadline, stdin.write_all(input.as_bytes())).await;
    }
    let out = read_capped(child.stdout.take().map(|r| Box::new(r) as _));
    let err = read_capped(child.stderr.take().map(|r| Box::new(r) as _));
    let stop = async {
        match give_up {
            Some(n) => n.notified().await,
            None => std::future::pending().await,
        }
    };
    let waited = tokio::select! {
        waited = tokio::time::timeout_at(deadline, child.wait()) => match waited {
            Ok(status) => Ok(status?.code()),
            Err(_) => Err(true),
        },
        () = stop => Err(false),
    };
    if let Some(group) = group {
        crate::launch::kill_group(group);
    }
    let (exit, timed_out, stopped) = match waited {
        Ok(code) => (code, false, false),
        Err(timed_out) => {
            let _ = child.kill().await;
            (None, timed_out, !timed_out)
        }
    };
    let drained = |h: tokio::task::JoinHandle<Vec<u8>>| async move {
        tokio::time::timeout(DRAIN, h)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    let stdout = drained(out).await;
    let stderr = drained(err).await;
    Ok((exit, timed_out, stopped, stdout, stderr))
}

/// Reads `r` to its end in a task, keeping the first [`KEEP`] bytes (and a note when there were more).
fn read_capped(
    r: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>,
) -> tokio::task::JoinHandle<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    tokio::spawn(async move {
        let mut kept = Vec::new();
        let Some(mut r) = r else { return kept };
        let mut chunk = [0u8; 8192];
        let mut dropped = false;
        while let Ok(n) = r.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let room = KEEP.saturating_sub(kept.len());
            kept.extend_from_slice(&chunk[..n.min(room)]);
            dropped |= n > room;
        }
        if dropped {
            kept.extend_from_slice(format!("\n… (output cut at {KEEP} bytes)").as_bytes());
        }
        kept
    })
}

type CommandLine = (String, Vec<String>, Vec<(String, String)>);

impl ExecStep {
    /// Program, arguments and environment, expanded.
    fn command_line(&self, cx: &StepCx<'_>) -> Result<CommandLine, String> {
        let mut local = cx.vars.clone();
        for (k, v) in &self.vars {
            local.set(k.clone(), expand(cx.vars, v)?);
        }
        let t = |s: &str| expand(&local, s);
        let mut env = Vec::new();
        let (program, mut args) = match (&self.command, &self.program) {
            (Some(name), _) => {
                let cli = cx
                    .target
                    .surfaces
                    .cli
                    .as_ref()
                    .ok_or("the target declares no `cli` surface")?;
                let own = cli
                    .commands
                    .get(name)
                    .ok_or_else(|| format!("the target's `cli` surface has no command `{name}`"))?;
                for (k, v) in &cli.env {
                    env.push((k.clone(), t(v)?));
                }
                let mut args = Vec::new();
                for a in cli.args.iter().chain(own) {
                    args.push(t(a)?);
                }
                (t(&cli.command)?, args)
            }
            (None, Some(p)) => (t(p)?, Vec::new()),
            (None, None) => return Err("no command".into()),
        };
        for a in &self.args {
            args.push(t(a)?);
        }
        if let (Some(cli), true) = (&cx.target.surfaces.cli, cx.host.is_some()) {
            for (name, var) in [
                (&cli.base_url_env, "host.url"),
                (&cli.ca_bundle_env, "host.ca_pem"),
            ] {
                if let (Some(name), Some(value)) = (name, cx.vars.get(var)) {
                    env.push((name.clone(), value.to_string()));
                }
            }
        }
        if let Some(w) = cx.world {
            let ca = cx
                .target
                .surfaces
                .cli
                .as_ref()
                .and_then(|c| c.ca_bundle_env.as_deref());
            env.extend(w.env(ca));
        }
        for (k, v) in &self.env {
            env.push((t(k)?, t(v)?));
        }
        Ok((program, args, env))
    }
}

/// Every file under `root`: relative path → (size, mode, modified).
fn list_files(root: &Path) -> BTreeMap<String, (u64, u32, Option<std::time::SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path: PathBuf = e.path();
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    (meta.len(), mode(&meta), meta.modified().ok()),
                );
            }
        }
    }
    out
}

#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(_: &std::fs::Metadata) -> u32 {
    0
}

type Listing = BTreeMap<String, (u64, u32, Option<std::time::SystemTime>)>;

fn written(before: &Listing, after: &Listing) -> Vec<WrittenFile> {
    after
        .iter()
        .filter(|(p, v)| before.get(*p) != Some(v))
        .map(|(p, (size, mode, _))| WrittenFile {
            path: p.clone(),
            size: *size,
            mode: *mode,
        })
        .collect()
}

impl Recorded for ExecRecord {
    fn view(&self) -> View<'_> {
        View {
            exit: Some(self.exit),
            host: self.host.as_ref(),
            world: self.world.as_ref(),
            json: super::JsonSource::Text(&self.stdout),
            outputs: vec![("stdout", &self.stdout), ("stderr", &self.stderr)],
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!("$ {}", self.command_line)
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "$ {}", self.command_line);
        for (name, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            for line in text.lines().take(40) {
                let _ = writeln!(out, "{name}: {}", crate::transcript::cut(line));
            }
        }
        for f in &self.files {
            let path = HASHED.replace_all(&f.path, "[HASH]");
            let _ = writeln!(out, "wrote ~/{path} ({} bytes, mode {:o})", f.size, f.mode);
        }
        if let Some(h) = &self.host {
            h.render(out);
        }
        if let Some(w) = &self.world {
            w.render(out);
        }
        let exit = match (self.exit, self.timed_out) {
            _ if self.stopped => {
                "stopped: it opened a URL the user agent does not open, so no callback can come"
                    .to_string()
            }
            (_, true) => "killed at the deadline".to_string(),
            (Some(c), _) => c.to_string(),
            (None, _) => "ended by a signal".to_string(),
        };
        let _ = writeln!(out, "exit: {exit}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> ValidateCx {
        ValidateCx::new(Vec::<String>::new(), Vec::<String>::new())
    }

    #[test]
    fn exactly_one_of_command_or_program() {
        let both: ExecStep = toml::from_str("command = \"login\"\nprogram = \"x\"\n").unwrap();
        assert_eq!(both.validate(&cx()).unwrap_err().field, "command");
        let none: ExecStep = toml::from_str("args = []\n").unwrap();
        assert_eq!(none.validate(&cx()).unwrap_err().field, "command");
        let ok: ExecStep = toml::from_str("command = \"status\"\n").unwrap();
        assert!(ok.validate(&cx()).is_ok());
        assert_eq!(ok.surface(), Some("cli"));
    }

    #[test]
    fn templates_are_checked() {
        let s: ExecStep = toml::from_str("program = \"{nothing}\"\n").unwrap();
        assert_eq!(s.validate(&cx()).unwrap_err().field, "program");
    }

    /// A real child process: exit code, both streams, stdin, and a credential file written with its mode.
    #[tokio::test]
    async fn records_what_a_real_process_did() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        let script = "read line; echo \"out:$line\"; echo oops >&2; umask 077; \
                      mkdir -p \"$XDG_CONFIG_HOME/acme\"; echo k > \"$XDG_CONFIG_HOME/acme/cred\"; exit 3";
        std::fs::write(
            &path,
            format!(
                "name = \"t\"\nprofiles = []\n[surfaces.cli]\ncommand = \"sh\"\ncommands = {{ login = [\"-c\", '{script}'] }}\n"
            ),
        )
        .unwrap();
        let target = crate::target::Target::load(&path).unwrap();
        let work = tempfile::tempdir().unwrap();
        let client = crate::http::HttpClient::new(None).unwrap();
        let vars = crate::template::Vars::default();
        let cx = StepCx {
            vars: &vars,
            client: &client,
            timeout: std::time::Duration::from_secs(10),
            target: &target,
            workdir: work.path(),
            host: None,
            world: None,
        };
        let step: ExecStep = toml::from_str("command = \"login\"\nstdin = \"hello\\n\"\n").unwrap();
        let r = step.run(&cx).await.unwrap();
        assert_eq!(r.exit, Some(3), "{r:?}");
        assert_eq!(r.stdout.trim(), "out:hello");
        assert_eq!(r.stderr.trim(), "oops");
        assert_eq!(
            r.files,
            vec![WrittenFile {
                path: ".config/acme/cred".into(),
                size: 2,
                mode: 0o600
            }]
        );
    }

    #[tokio::test]
    async fn a_process_past_its_deadline_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        std::fs::write(
            &path,
            "name = \"t\"\nprofiles = []\n[surfaces.cli]\ncommand = \"sh\"\n",
        )
        .unwrap();
        let target = crate::target::Target::load(&path).unwrap();
        let client = crate::http::HttpClient::new(None).unwrap();
        let vars = crate::template::Vars::default();
        let cx = StepCx {
            vars: &vars,
            client: &client,
            timeout: std::time::Duration::from_millis(200),
            target: &target,
            workdir: dir.path(),
            host: None,
            world: None,
        };
        let step: ExecStep = toml::from_str("program = \"sleep\"\nargs = [\"30\"]\n").unwrap();
        let r = step.run(&cx).await.unwrap();
        assert!(r.timed_out && r.exit.is_none(), "{r:?}");
    }

    /// A flood of output is kept to KEEP bytes, and a background process left holding the pipes neither holds
    /// the step nor outlives it.
    #[tokio::test]
    async fn output_is_capped_and_leftover_processes_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("bg.pid");
        let script = format!(
            "sleep 30 & echo $! > '{}'; head -c 1000000 /dev/zero | tr '\\0' x; exit 0",
            pid_file.display()
        );
        let child = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let timeout = std::time::Duration::from_secs(20);
        let (exit, timed_out, _, stdout, _) = run_child(child, String::new(), timeout, None)
            .await
            .unwrap();
        assert_eq!((exit, timed_out), (Some(0), false));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let note = format!("\n… (output cut at {KEEP} bytes)");
        assert_eq!(stdout.len(), KEEP + note.len());
        assert!(stdout.ends_with(note.as_bytes()));
        let bg = std::fs::read_to_string(&pid_file).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        let running = || {
            std::fs::read_to_string(format!("/proc/{}/stat", bg.trim())).is_ok_and(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        };
        while running() && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            !running(),
            "the background sleep {} outlived the step",
            bg.trim()
        );
    }

    #[test]
    fn written_files_are_new_or_changed_ones() {
        let mut before = Listing::new();
        before.insert("a".into(), (1, 0o644, None));
        before.insert("b".into(), (1, 0o644, None));
        let mut after = before.clone();
        after.insert("b".into(), (2, 0o600, None));
        after.insert("c".into(), (3, 0o600, None));
        let w = written(&before, &after);
        assert_eq!(
            w.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            vec!["b", "c"]
        );
    }
}

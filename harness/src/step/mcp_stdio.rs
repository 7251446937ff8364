//! `mcp_stdio` steps: launch the target's `mcp-stdio` command with a principal's key in the variable the
//! target names (or an empty, invalid or unset key), speak MCP to it with the real client (rmcp), and record
//! the session, everything the process wrote to stdout and stderr, its exit, and any sign of an OAuth flow
//! (a browser opened through `BROWSER`, a listening socket).
//!
//! The child's stdout is read by a tee before it reaches rmcp's async read/write transport, so bytes that are
//! not protocol (a key echoed on stdout) are still seen; rmcp's own child-process transport would consume them.

use super::mcp_session::{self, Call};
use super::{Kind, Recorded, StepCx, ValidateCx, View, expand};
use crate::error::Invalid;
use crate::exchange::McpSession;
use crate::target::McpStdio;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// Most bytes kept of a child's stdout or stderr.
const KEEP: usize = 256 * 1024;

/// Longest stdout line passed on to the MCP client, which holds a line whole until its newline: past this the
/// server's output is no longer passed on (the session then ends), so it cannot grow the harness's memory.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// Bytes of a stdout line looked at to tell JSON-RPC from anything else.
const PEEK: usize = 200;

/// An MCP session with a freshly launched stdio server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpStdioStep {
    /// The principal whose key goes into the target's `key_env`.
    pub key: Option<String>,
    /// A literal value for `key_env` instead (template; `""` for an empty key).
    pub key_value: Option<String>,
    /// A principal whose key is planted in every `decoy_env` variable of the target.
    pub decoy: Option<String>,
    /// A tool call after `tools/list`.
    pub call: Option<ToolCall>,
}

/// A tool call: name and arguments, both templates.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// Tool name, e.g. `{scope.list_tool}`.
    pub tool: String,
    /// Arguments as a JSON object (a template, so its braces are doubled), e.g.
    /// `'{{"{scope.unit_arg}": "{principal.narrow.seen}"}}'`; none by default.
    pub args: Option<String>,
}

impl ToolCall {
    /// The tool's name and arguments, expanded.
    pub fn resolve(
        &self,
        vars: &crate::template::Vars,
    ) -> Result<super::mcp_session::Call, String> {
        let args = match &self.args {
            Some(a) => expand(vars, a)?,
            None => "{}".into(),
        };
        let args = match serde_json::from_str(&args) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(format!("call.args is not a JSON object: {args}")),
        };
        Ok((expand(vars, &self.tool)?, args))
    }

    /// Checks the templates.
    pub fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        cx.template("call.tool", &self.tool)?;
        if let Some(a) = &self.args {
            cx.template("call.args", a)?;
        }
        Ok(())
    }
}

/// What a stdio session achieved and what the process did.
#[derive(Debug, Clone, Serialize)]
pub struct StdioRecord {
    /// How the key variable was set: `NAME=value`, `NAME=""` or `NAME unset` (redacted in output).
    pub key_env: String,
    /// The decoy variables that held another principal's key.
    pub decoys: Vec<String>,
    /// The session's result, or the error that ended it.
    pub result: Result<McpSession, String>,
    /// Everything the process wrote to stdout (the protocol stream), lossy UTF-8.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// Exit code; `None` when it had to be killed (or died by a signal).
    pub exit: Option<i32>,
    /// URLs the process asked a browser to open (through `BROWSER`).
    pub browser_opened: Vec<String>,
    /// Ports the process listened on after its tool call; `None` where this cannot be seen (no `/proc`, or the
    /// process had already exited).
    pub listening: Option<Vec<u16>>,
}

impl Kind for McpStdioStep {
    type Record = StdioRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        if self.key.is_some() && self.key_value.is_some() {
            return Err(Invalid::new(
                "key_value",
                "give `key` or `key_value`, not both",
            ));
        }
        for (field, p) in [("key", &self.key), ("decoy", &self.decoy)] {
            if let Some(p) = p {
                cx.principal(field, p)?;
            }
        }
        if let Some(v) = &self.key_value {
            cx.template("key_value", v)?;
        }
        if let Some(c) = &self.call {
            cx.template("call.tool", &c.tool)?;
            if let Some(a) = &c.args {
                cx.template("call.args", a)?;
            }
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        Some("mcp-stdio")
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<StdioRecord, String> {
        let surface = cx
            .target
            .surfaces
            .mcp_stdio
            .as_ref()
            .ok_or("the target declares no `mcp-stdio` surface")?;
        let plan = self.plan(cx, surface)?;
        let (mut child, browser_log) = plan.spawn(cx)?;
        let pid = child.id();
        pid.into_iter().for_each(crate::launch::track_group);
        let Tee {
            stdout,
            stderr,
            transport,
            readers,
            noise,
        } = tee(&mut child)?;
        let session = tokio::time::timeout(cx.timeout, converse(transport, plan.call.clone()));
        let (result, service) = match session.await {
            Ok(Ok((s, service))) => (Ok(s), Some(service)),
            Ok(Err(e)) => (Err(e), None),
            Err(_) => (
                Err(format!("no answer within {} ms", cx.timeout.as_millis())),
                None,
            ),
        };
        let result = result.map_err(|e| noise.lock().map_or(e.clone(), |n| n.explain(e)));
        // Sockets are looked at while the process still runs: closing the session closes its stdin.
        let listening = pid.and_then(listening_ports);
        if let Some(service) = service {
            let _ = service.cancel().await;
        }
        let exit = finish(&mut child).await;
        // Nothing the server started (in its process group) outlives the step.
        if let Some(group) = pid {
            crate::launch::kill_group(group);
        }
        // The pipes reach end-of-file once the process is gone: read them to the end before recording.
        let drained = futures::future::join_all(readers);
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), drained).await;
        Ok(StdioRecord {
            key_env: plan.key_shown,
            decoys: plan.decoys,
            result,
            stdout: take(&stdout),
            stderr: take(&stderr),
            exit,
            browser_opened: read_lines(&browser_log),
            listening,
        })
    }
}

type Service = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// Initialize, list tools, make the call; the session is handed back open, so the process still runs.
async fn converse(
    transport: (tokio::io::DuplexStream, tokio::process::ChildStdin),
    call: Option<Call>,
) -> Result<(McpSession, Service), String> {
    use rmcp::ServiceExt;
    let service = ().serve(transport).await.map_err(|e| format!("initialize failed: {e}"))?;
    let session = mcp_session::exercise_open(&service, call).await?;
    Ok((session, service))
}

/// Everything needed to launch one stdio server.
struct Plan {
    command: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    remove: Vec<String>,
    cwd: PathBuf,
    key_shown: String,
    decoys: Vec<String>,
    call: Option<Call>,
}

impl McpStdioStep {
    fn plan(&self, cx: &StepCx<'_>, s: &McpStdio) -> Result<Plan, String> {
        let vars = cx.vars;
        let t = |tpl: &str| expand(vars, tpl);
        let mut env: Vec<(String, String)> = Vec::new();
        for (k, v) in &s.env {
            env.push((k.clone(), t(v)?));
        }
        let mut remove = vec![s.key_env.clone()];
        remove.extend(s.decoy_env.iter().cloned());
        let key = match (&self.key, &self.key_value) {
            (Some(p), _) => Some(t(&format!("{{principal.{p}.key}}"))?),
            (None, Some(v)) => Some(t(v)?),
            (None, None) => None,
        };
        let key_shown = match &key {
            Some(k) if k.is_empty() => format!("{}=\"\"", s.key_env),
            Some(k) => format!("{}={k}", s.key_env),
            None => format!("{} unset", s.key_env),
        };
        if let Some(k) = key {
            env.push((s.key_env.clone(), k));
        }
        let mut decoys = Vec::new();
        if let Some(d) = &self.decoy {
            let value = t(&format!("{{principal.{d}.key}}"))?;
            for name in &s.decoy_env {
                env.push((name.clone(), value.clone()));
                decoys.push(name.clone());
            }
        }
        let call = self.call.as_ref().map(|c| c.resolve(vars)).transpose()?;
        let cwd = cx.target.dir().join(t(s.cwd.as_deref().unwrap_or("."))?);
        let mut args = Vec::new();
        for a in &s.args {
            args.push(t(a)?);
        }
        Ok(Plan {
            command: t(&s.command)?,
            args,
            env,
            remove,
            cwd,
            key_shown,
            decoys,
            call,
        })
    }
}

impl Plan {
    /// Starts the process with a private HOME and config folder and a `BROWSER` that only records (the
    /// second value is the file it records to).
    fn spawn(&self, cx: &StepCx<'_>) -> Result<(Child, PathBuf), String> {
        let home = private_dir(cx.workdir).map_err(|e| format!("private folder: {e}"))?;
        let browser = write_browser_recorder(&home).map_err(|e| format!("BROWSER hook: {e}"))?;
        let mut cmd = Command::new(&self.command);
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("BROWSER", &browser)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        for k in &self.remove {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", self.command))?;
        Ok((child, home.join("browser.log")))
    }
}

/// A new folder under the scenario's work folder, used as HOME.
fn private_dir(workdir: &Path) -> std::io::Result<PathBuf> {
    let dir = tempfile::Builder::new()
        .prefix("home-")
        .tempdir_in(workdir)?;
    let path = dir.keep();
    std::fs::create_dir_all(path.join(".config"))?;
    Ok(path)
}

/// A `BROWSER` program that appends the URL it is given to `browser.log` beside it, and opens nothing.
fn write_browser_recorder(home: &Path) -> std::io::Result<PathBuf> {
    let script = home.join("browser");
    let log = home.join("browser.log");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n", log.display()),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(script)
}

type Buffer = Arc<Mutex<Vec<u8>>>;

/// The child's pipes, split.
struct Tee {
    /// What the child wrote to stdout (the first [`KEEP`] bytes).
    stdout: Buffer,
    /// What it wrote to stderr.
    stderr: Buffer,
    /// The MCP client's transport.
    transport: (tokio::io::DuplexStream, tokio::process::ChildStdin),
    /// The reader tasks.
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// What on stdout was not MCP.
    noise: Arc<Mutex<Noise>>,
}

/// Splits the child's pipes: stdout is copied into a buffer and on to the MCP client (until a line passes
/// [`MAX_LINE`]); stderr into a buffer.
fn tee(child: &mut Child) -> Result<Tee, String> {
    let (Some(mut out), Some(mut err), Some(stdin)) =
        (child.stdout.take(), child.stderr.take(), child.stdin.take())
    else {
        return Err("the child's pipes are missing".into());
    };
    let stdout: Buffer = Arc::default();
    let stderr: Buffer = Arc::default();
    let noise: Arc<Mutex<Noise>> = Arc::default();
    let (to_client, from_tee) = tokio::io::duplex(64 * 1024);
    let (seen, heard) = (stdout.clone(), noise.clone());
    let out_task = tokio::spawn(async move {
        let mut to_client = Some(to_client);
        let mut buf = [0u8; 8192];
        while let Ok(n) = out.read(&mut buf).await {
            if n == 0 {
                break;
            }
            keep(&seen, &buf[..n]);
            let within = heard.lock().is_ok_and(|mut h| h.feed(&buf[..n]));
            // Past the longest line the client is handed end-of-file; the rest is still read (and kept up to
            // KEEP) so the child never blocks on a full pipe.
            if !within {
                to_client = None;
            }
            if let Some(c) = to_client.as_mut()
                && c.write_all(&buf[..n]).await.is_err()
            {
                to_client = None;
            }
        }
    });
    let seen = stderr.clone();
    let err_task = tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        while let Ok(n) = err.read(&mut buf).await {
            if n == 0 {
                break;
            }
            keep(&seen, &buf[..n]);
        }
    });
    Ok(Tee {
        stdout,
        stderr,
        transport: (from_tee, stdin),
        readers: vec![out_task, err_task],
        noise,
    })
}

/// What a stdio server wrote on stdout that is not MCP: its first line that is not a JSON-RPC message, and
/// whether a line grew past [`MAX_LINE`].
#[derive(Default)]
struct Noise {
    /// The first [`PEEK`] bytes of the line being read.
    head: Vec<u8>,
    /// Its length so far.
    len: usize,
    /// The first line that is not JSON-RPC (its start).
    first: Option<String>,
    /// Lines that were not JSON-RPC.
    count: usize,
    /// A line passed [`MAX_LINE`] bytes.
    too_long: bool,
}

impl Noise {
    /// Takes in stdout bytes; false once a line has passed [`MAX_LINE`] bytes.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let room = PEEK.saturating_sub(self.head.len());
            self.head.extend_from_slice(&body[..body.len().min(room)]);
            self.len += body.len();
            if self.len > MAX_LINE {
                self.too_long = true;
            }
            if body.len() < line.len() {
                self.end_line();
            }
        }
        !self.too_long
    }

    fn end_line(&mut self) {
        let text = String::from_utf8_lossy(&self.head);
        let text = text.trim();
        // A JSON-RPC message is one JSON object naming its version; blank lines are tolerated.
        let protocol = text.is_empty() || (text.starts_with('{') && text.contains("\"jsonrpc\""));
        if !protocol {
            self.count += 1;
            if self.first.is_none() {
                self.first = Some(text.chars().take(80).collect());
            }
        }
        self.head.clear();
        self.len = 0;
    }

    /// `error` with what stdout held instead of MCP, if anything.
    fn explain(&self, error: String) -> String {
        let mut out = error;
        if let Some(first) = &self.first {
            let _ = write!(
                out,
                "; stdout is not MCP: {} line(s) that are not JSON-RPC, the first {first:?}",
                self.count
            );
        }
        if self.too_long {
            let _ = write!(
                out,
                "; a stdout line longer than {MAX_LINE} bytes (not MCP), not passed on to the client"
            );
        }
        out
    }
}

fn keep(buffer: &Buffer, bytes: &[u8]) {
    if let Ok(mut b) = buffer.lock() {
        let room = KEEP.saturating_sub(b.len());
        b.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

fn take(buffer: &Buffer) -> String {
    buffer
        .lock()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Lets the process exit on its own (its stdin is closed by now) for a moment, then kills it. The moment is
/// generous (3 s): a conforming server exits at once, so it costs nothing then, and a short one turned "exit 0"
/// into "killed" for a Node server on a loaded CI machine (a flaky transcript).
async fn finish(child: &mut Child) -> Option<i32> {
    let limit = std::time::Duration::from_secs(3);
    match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => status.code(),
        _ => {
            let _ = child.kill().await;
            None
        }
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Ports process `pid` listens on (Linux `/proc`); `None` elsewhere.
fn listening_ports(pid: u32) -> Option<Vec<u16>> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let inodes: Vec<String> = fds
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| {
            let l = l.to_string_lossy().into_owned();
            Some(l.strip_prefix("socket:[")?.strip_suffix(']')?.to_string())
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" && inodes.iter().any(|i| i == cols[9]) {
                let port = cols[1]
                    .rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok());
                ports.extend(port);
            }
        }
    }
    Some(ports)
}

impl Recorded for StdioRecord {
    fn view(&self) -> View<'_> {
        let mut outputs = vec![
            ("stdout", self.stdout.as_str()),
            ("stderr", self.stderr.as_str()),
        ];
        outputs.extend(mcp_session::outputs(&self.result));
        View {
            mcp: Some(self.result.as_ref().map_err(String::as_str)),
            json: mcp_session::call_json(&self.result),
            exit: Some(self.exit),
            outputs,
            oauth_signs: self.listening.is_some().then(|| self.oauth_signs()),
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!("MCP client over stdio, {}", self.key_env)
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "= MCP client over stdio, {}", self.key_env);
        if !self.decoys.is_empty() {
            let _ = writeln!(out, "= decoy key in: {}", self.decoys.join(", "));
        }
        mcp_session::render(out, &self.result);
        for line in self.stderr.lines().take(20) {
            let _ = writeln!(out, "= stderr: {}", crate::transcript::cut(line));
        }
        let _ = writeln!(
            out,
            "= exit: {}",
            self.exit.map_or("killed".to_string(), |c| c.to_string())
        );
        for s in self.oauth_signs() {
            let _ = writeln!(out, "= {s}");
        }
    }
}

impl StdioRecord {
    /// Signs of an OAuth flow: browser opens and listening sockets.
    pub fn oauth_signs(&self) -> Vec<String> {
        let mut signs: Vec<String> = self
            .browser_opened
            .iter()
            .map(|u| format!("opened a browser at {u}"))
            .collect();
        signs.extend(
            self.listening
                .iter()
                .flatten()
                .map(|p| format!("listened on port {p}")),
        );
        signs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(text: &str) -> McpStdioStep {
        toml::from_str(text).expect("parses")
    }

    fn cx() -> ValidateCx {
        ValidateCx::new(Vec::<String>::new(), ["narrow".to_string()])
    }

    #[test]
    fn stdout_that_is_not_json_rpc_is_named() {
        let mut n = Noise::default();
        assert!(n.feed(b"{\"jsonrpc\":\"2.0\",\"id\":0,\"result\":{}}\n\nWelcome, "));
        assert!(n.feed(b"this is not MCP\n{\"hello\": 1}\n"));
        let e = n.explain("no answer within 10 ms".into());
        assert_eq!(
            e,
            "no answer within 10 ms; stdout is not MCP: 2 line(s) that are not JSON-RPC, the first \
             \"Welcome, this is not MCP\""
        );
        let clean = Noise::default();
        assert_eq!(clean.explain("e".into()), "e");
    }

    #[test]
    fn a_line_past_the_longest_stops_the_tee() {
        let mut n = Noise::default();
        let chunk = vec![b'#'; 1024 * 1024];
        for _ in 0..4 {
            assert!(n.feed(&chunk));
        }
        assert!(!n.feed(b"#"));
        assert!(
            n.explain("e".into())
                .contains("a stdout line longer than 4194304 bytes")
        );
    }

    #[test]
    fn key_and_key_value_are_exclusive() {
        let s = step("key = \"narrow\"\nkey_value = \"\"\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "key_value");
    }

    #[test]
    fn principals_must_be_declared() {
        assert_eq!(
            step("key = \"wide\"\n").validate(&cx()).unwrap_err().field,
            "key"
        );
        assert_eq!(
            step("decoy = \"wide\"\n")
                .validate(&cx())
                .unwrap_err()
                .field,
            "decoy"
        );
        assert!(
            step("key = \"narrow\"\ndecoy = \"narrow\"\n")
                .validate(&cx())
                .is_ok()
        );
    }

    #[test]
    fn call_templates_are_checked() {
        let s =
            step("call = { tool = \"{scope.list_tool}\", args = '{{\"x\": \"{nothing}\"}}' }\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "call.args");
    }
}

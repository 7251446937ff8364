//! Starting the implementation under test as a child process and waiting, with a deadline, until it is ready.

use crate::target::Launch;
use crate::template::Vars;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

/// Most output lines kept from a child, for error reports.
const KEEP_LINES: usize = 40;

/// Longest output line kept (the rest of a longer line is dropped), so a target that writes without newlines
/// cannot grow the harness's memory.
const MAX_LINE: usize = 8 * 1024;

/// How long a target that closed its stdout before it was ready is given to exit, to report its status.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// How long [`Launched::stop`] waits for the killed process to be reaped.
const REAP_DEADLINE: Duration = Duration::from_secs(5);

/// A running target process, in a process group of its own; the whole group is killed when stopped or dropped,
/// so nothing it started (a forked server still holding the port) outlives it.
pub struct Launched {
    child: Child,
    /// The process group (the child's pid) while it may still hold processes.
    group: Option<u32>,
    output: Arc<Mutex<Vec<String>>>,
}

impl Drop for Launched {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            kill_group(group);
        }
    }
}

impl Launched {
    /// The last lines the process wrote (stdout and stderr, interleaved as read).
    pub fn output_tail(&self) -> Vec<String> {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Has the process exited? Returns its status text if so.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// Waits up to `limit` for the process to exit; its status text if it did. Used only after a request found
    /// nobody listening, to tell a crashed target from a slow one.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<String> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => Some(status.to_string()),
            _ => None,
        }
    }

    /// Kills the process and everything in its process group (SIGKILL: a target that ignores SIGTERM is
    /// stopped all the same), then reaps it, waiting at most [`REAP_DEADLINE`].
    pub async fn stop(mut self) {
        if let Some(group) = self.group.take() {
            kill_group(group);
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(REAP_DEADLINE, self.child.wait()).await;
    }
}

/// Process groups of children that may still run: killed if the harness itself is interrupted.
static LIVE_GROUPS: Mutex<std::collections::BTreeSet<u32>> =
    Mutex::new(std::collections::BTreeSet::new());

/// Notes that `group` (a child started with `process_group(0)`: its pid) runs until [`kill_group`]. Its own group
/// keeps it out of the terminal's Ctrl-C, so on the first call a watcher thread is started that, on SIGINT or
/// SIGTERM to the harness, kills every such group and exits (130 or 143) — nothing is left running either way.
pub fn track_group(group: u32) {
    if let Ok(mut live) = LIVE_GROUPS.lock() {
        live.insert(group);
    }
    static WATCHER: std::sync::Once = std::sync::Once::new();
    WATCHER.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("authconform-interrupt".into())
            .spawn(watch_interrupts);
    });
}

/// Waits for SIGINT or SIGTERM, then kills every live group and exits as the signal would have.
fn watch_interrupts() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let code = rt.block_on(async {
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return None;
        };
        tokio::select! {
            _ = int.recv() => Some(130),
            _ = term.recv() => Some(143),
        }
    });
    if let Some(code) = code {
        let live: Vec<u32> = LIVE_GROUPS
            .lock()
            .map(|l| l.iter().copied().collect())
            .unwrap_or_default();
        live.into_iter().for_each(kill_group);
        std::process::exit(code);
    }
}

/// Sends SIGKILL to every process of process group `group` (a child started with `process_group(0)`: its pid)
/// and forgets it. A group that is already gone is not an error.
pub fn kill_group(group: u32) {
    if let Ok(mut live) = LIVE_GROUPS.lock() {
        live.remove(&group);
    }
    let Ok(pid) = libc::pid_t::try_from(group) else {
        return;
    };
    if pid > 1 {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours; a negative pid names a group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Why a launch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LaunchError {
    /// The command could not be started at all (not found, not executable).
    #[error("cannot start `{command}`: {reason}")]
    Spawn {
        /// The program.
        command: String,
        /// The OS error.
        reason: String,
    },
    /// The process started but did not become ready.
    #[error("{reason}{}", tail(.output))]
    NotReady {
        /// What went wrong.
        reason: String,
        /// Its last output lines.
        output: Vec<String>,
    },
    /// A template in the launch section has no value.
    #[error("launch: {0}")]
    Template(String),
}

fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("; last output:\n    {}", lines.join("\n    "))
    }
}

/// Starts `launch` with templates expanded from `vars`; on success, `vars` gains `ready.NAME` for each named
/// group of the stdout pattern.
pub async fn start(
    launch: &Launch,
    vars: &mut Vars,
    default_cwd: &std::path::Path,
    client: &crate::http::HttpClient,
) -> Result<Launched, LaunchError> {
    let t = |s: &str| {
        vars.expand(s)
            .map_err(|e| LaunchError::Template(e.to_string()))
    };
    let command = t(&launch.command)?;
    let mut cmd = Command::new(&command);
    for a in &launch.args {
        cmd.arg(t(a)?);
    }
    for (k, v) in &launch.env {
        cmd.env(k, t(v)?);
    }
    let cwd = match &launch.cwd {
        Some(c) => default_cwd.join(t(c)?),
        None => default_cwd.to_path_buf(),
    };
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| LaunchError::Spawn {
        command: command.clone(),
        reason: e.to_string(),
    })?;
    let group = child.id();
    group.into_iter().for_each(track_group);
    let output = Arc::new(Mutex::new(Vec::new()));
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, output.clone(), Some(line_tx));
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, output.clone(), None);
    }
    let mut launched = Launched {
        child,
        group,
        output,
    };
    let deadline = Instant::now() + Duration::from_millis(launch.ready.timeout_ms);
    if let Some(pattern) = &launch.ready.stdout {
        wait_for_line(&mut launched, &mut line_rx, pattern, &launch.ready, vars).await?;
    }
    if let Some(url) = &launch.ready.http {
        let url = vars
            .expand(url)
            .map_err(|e| LaunchError::Template(e.to_string()))?;
        wait_for_http(&mut launched, &url, &launch.ready, deadline, client).await?;
    }
    Ok(launched)
}

fn not_ready(launched: &Launched, reason: String) -> LaunchError {
    LaunchError::NotReady {
        reason,
        output: launched.output_tail(),
    }
}

/// Waits for a stdout line matching `pattern`; its named groups become `ready.NAME`.
async fn wait_for_line(
    launched: &mut Launched,
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    pattern: &str,
    ready: &crate::target::Ready,
    vars: &mut Vars,
) -> Result<(), LaunchError> {
    let deadline = Instant::now() + Duration::from_millis(ready.timeout_ms);
    let re = regex::Regex::new(pattern).map_err(|e| LaunchError::Template(e.to_string()))?;
    loop {
        match tokio::time::timeout_at(deadline, lines.recv()).await {
            Err(_) => {
                return Err(not_ready(
                    launched,
                    format!(
                        "no stdout line matched `{pattern}` within {} ms",
                        ready.timeout_ms
                    ),
                ));
            }
            // Stdout closed: most likely the process is exiting; say how, if it does so promptly.
            Ok(None) => {
                let reason = match launched.wait_exit(EXIT_GRACE).await {
                    Some(status) => format!("target exited before it was ready ({status})"),
                    None => "target closed its stdout before it was ready".to_string(),
                };
                return Err(not_ready(launched, reason));
            }
            Ok(Some(line)) => {
                if let Some(caps) = re.captures(&line) {
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            vars.set(format!("ready.{name}"), m.as_str());
                        }
                    }
                    return Ok(());
                }
            }
        }
    }
}

/// Polls `url` until it answers with any HTTP status.
async fn wait_for_http(
    launched: &mut Launched,
    url: &str,
    ready: &crate::target::Ready,
    deadline: Instant,
    client: &crate::http::HttpClient,
) -> Result<(), LaunchError> {
    loop {
        if let Some(status) = launched.exited() {
            return Err(not_ready(
                launched,
                format!("target exited before it was ready ({status})"),
            ));
        }
        let probe = client
            .reqwest()
            .get(url)
            .timeout(Duration::from_millis(500))
            .send();
        if tokio::time::timeout_at(deadline, probe)
            .await
            .is_ok_and(|r| r.is_ok())
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(not_ready(
                launched,
                format!("{url} did not answer within {} ms", ready.timeout_ms),
            ));
        }
        // Poll interval while waiting for a socket to open; bounded by the deadline above.
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Reads `stream` line by line into `output` (the last [`KEEP_LINES`]) and on to `lines`; a line longer than
/// [`MAX_LINE`] bytes is cut there and marked, the rest of it dropped unread into memory.
fn spawn_reader<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    stream: R,
    output: Arc<Mutex<Vec<String>>>,
    lines: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        while let Some(line) = next_line(&mut reader).await {
            if let Ok(mut o) = output.lock() {
                if o.len() == KEEP_LINES {
                    o.remove(0);
                }
                o.push(line.clone());
            }
            if let Some(tx) = &lines {
                let _ = tx.send(line);
            }
        }
    });
}

/// The next line of `reader` (lossy UTF-8, without its newline), at most [`MAX_LINE`] bytes of it; `None` at
/// the end of the stream or on a read error.
async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<String> {
    let mut line = Vec::new();
    let mut cut = false;
    loop {
        let buf = reader.fill_buf().await.ok()?;
        if buf.is_empty() {
            return (!line.is_empty()).then(|| finish_line(&line, cut));
        }
        let (take, end) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        cut |= take > room;
        line.extend_from_slice(&buf[..take.min(room)]);
        reader.consume(take + usize::from(end));
        if end {
            return Some(finish_line(&line, cut));
        }
    }
}

fn finish_line(line: &[u8], cut: bool) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.strip_suffix('\r').unwrap_or(&text);
    if cut {
        format!("{text}… (line cut at {MAX_LINE} bytes)")
    } else {
        text.to_string()
    }
}

/// The first port of the kernel's ephemeral range (what binding port 0 hands out); Linux's default elsewhere.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768)
}

/// A free loopback port for targets that can only be told a port (`{port}`).
///
/// Released before the target binds it, so it is taken from below the kernel's ephemeral range: the mocks and
/// every outgoing connection bind `127.0.0.1:0`, which only hands out ephemeral ports, and could otherwise take
/// the port in between (seen as `EADDRINUSE` from a Node target). A port is never handed out twice by one run.
pub fn free_port() -> std::io::Result<u16> {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let ephemeral_low = ephemeral_low();
    let (low, high) = (
        ephemeral_low.saturating_sub(12_000).max(1024),
        ephemeral_low,
    );
    let span = u32::from(high.saturating_sub(low)).max(1);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let start = rand::random::<u32>() % span;
    for i in 0..span {
        let port = low + ((start + i) % span) as u16;
        if !handed_out.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.push(port);
            return Ok(port);
        }
    }
    // Nothing free below the ephemeral range: fall back to one the kernel picks.
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::{MAX_LINE, ephemeral_low, free_port, next_line};

    /// A line without end is kept to MAX_LINE bytes and marked; the lines around it are whole.
    #[tokio::test]
    async fn output_lines_are_capped() {
        let mut bytes = b"ready\r\n".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE));
        bytes.extend_from_slice(b"\nafter\nlast");
        let mut reader = tokio::io::BufReader::with_capacity(1024, bytes.as_slice());
        assert_eq!(next_line(&mut reader).await.as_deref(), Some("ready"));
        let long = next_line(&mut reader).await.expect("the long line");
        assert!(long.starts_with(&"x".repeat(MAX_LINE)), "{}", long.len());
        assert!(
            long.ends_with(&format!("… (line cut at {MAX_LINE} bytes)")),
            "{}",
            &long[MAX_LINE..]
        );
        assert_eq!(next_line(&mut reader).await.as_deref(), Some("after"));
        assert_eq!(next_line(&mut reader).await.as_deref(), Some("last"));
        assert_eq!(next_line(&mut reader).await, None);
    }

    #[test]
    fn free_ports_avoid_the_ephemeral_range_and_never_repeat() {
        let low = ephemeral_low();
        let ports: Vec<u16> = (0..64).map(|_| free_port().expect("a free port")).collect();
        let distinct: std::collections::BTreeSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "a port was handed out twice");
        assert!(
            ports.iter().all(|p| *p < low),
            "{ports:?} (ephemeral from {low})"
        );
    }
}

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

/// A running target process; killed when dropped.
pub struct Launched {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
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

    /// Stops the process and waits for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
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
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| LaunchError::Spawn {
        command: command.clone(),
        reason: e.to_string(),
    })?;
    let output = Arc::new(Mutex::new(Vec::new()));
    let (line_tx, mut line_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, output.clone(), Some(line_tx));
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, output.clone(), None);
    }
    let mut launched = Launched { child, output };
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
            Ok(None) => {
                let status = launched
                    .exited()
                    .unwrap_or_else(|| "closed its stdout".into());
                return Err(not_ready(
                    launched,
                    format!("target exited before it was ready ({status})"),
                ));
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

fn spawn_reader<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    stream: R,
    output: Arc<Mutex<Vec<String>>>,
    lines: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
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
    use super::{ephemeral_low, free_port};

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

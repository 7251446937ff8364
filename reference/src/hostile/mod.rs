//! Hostile targets: fake implementations that misbehave on purpose, for the suite's own tests of how it copes
//! (`authconform reference hostile --mode MODE --port PORT`, hidden from `--help`).
//!
//! Each mode breaks one thing a real target may break: answering ([`http`]: hangs, closes mid-body, a 10 MB or
//! endless body, invalid JSON, invalid HTTP, headers dripping one byte a second), starting (crashes at start,
//! never becomes ready), stopping (ignores SIGTERM, forks a child that keeps the port) or speaking MCP over
//! stdio ([`stdio`]: garbage on stdout). Every process a mode starts writes its pid, as a file named after it
//! holding the address it listens on (empty when none), into the folder named by [`PIDS_ENV`] (when set), so a
//! test can tell that none survived a run and that the port is free again.
//! Servers bind 127.0.0.1 only.

mod http;
mod stdio;

use std::path::PathBuf;

/// Environment variable naming a folder where every hostile process records its pid (a file named after it).
pub const PIDS_ENV: &str = "AUTHCONFORM_HOSTILE_PIDS";

/// How a hostile target misbehaves.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads each request and never answers it.
    HangBeforeAnswer,
    /// Announces a 4096-byte body, sends a few bytes of it, closes the connection.
    CloseMidBody,
    /// Answers every request with a 10 MB body.
    HugeBody,
    /// Answers every request with a chunked body that never ends.
    EndlessBody,
    /// Answers every request with `application/json` that is not JSON.
    InvalidJson,
    /// Answers every request with bytes that are not HTTP, then closes.
    InvalidHttp,
    /// Sends its response headers one byte a second.
    DripHeaders,
    /// Exits with status 3 before listening.
    CrashAtStart,
    /// Runs but never listens nor prints a ready line.
    NeverReady,
    /// Ignores SIGTERM; otherwise answers every request with 200 and an empty JSON-RPC result.
    IgnoreSigterm,
    /// Starts a child process that listens on the port (and prints the ready line), then waits forever.
    ForkKeepsPort,
    /// The child of `fork-keeps-port` (not for direct use).
    #[value(hide = true)]
    ForkChild,
    /// An MCP server over stdio that writes garbage on stdout instead of MCP.
    GarbageStdio,
}

/// Command line of `hostile`.
#[derive(clap::Args, Debug, Clone)]
pub struct HostileArgs {
    /// How to misbehave.
    #[arg(long, value_enum)]
    pub mode: Mode,
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

/// Runs the hostile target; returns only when a mode ends by itself (or fails to start).
pub async fn run(args: HostileArgs) -> anyhow::Result<()> {
    record_pid();
    match args.mode {
        Mode::CrashAtStart => {
            eprintln!("hostile: crashing at start");
            std::process::exit(3);
        }
        Mode::NeverReady => {
            eprintln!("hostile: running, never ready");
            std::future::pending::<()>().await;
            Ok(())
        }
        Mode::GarbageStdio => stdio::run().await,
        Mode::ForkKeepsPort => fork_keeper(args.port).await,
        Mode::IgnoreSigterm => {
            ignore_sigterm()?;
            http::serve(args.mode, args.port).await
        }
        _ => http::serve(args.mode, args.port).await,
    }
}

/// Writes this process's pid as a file into [`PIDS_ENV`]'s folder; `listening` (the address it listens on, if
/// any) is the file's content.
fn record_pid_with(listening: &str) {
    if let Some(dir) = std::env::var_os(PIDS_ENV) {
        let path = PathBuf::from(dir).join(std::process::id().to_string());
        let _ = std::fs::write(path, listening);
    }
}

fn record_pid() {
    record_pid_with("");
}

/// Records the address this process listens on in its pid file.
fn record_listening(addr: std::net::SocketAddr) {
    record_pid_with(&addr.to_string());
}

/// Handles SIGTERM by saying so and carrying on.
fn ignore_sigterm() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        while term.recv().await.is_some() {
            eprintln!("hostile: ignoring SIGTERM");
        }
    });
    Ok(())
}

/// Starts this program again as the `fork-child` mode on `port` (sharing stdout, so its ready line is the
/// target's) and waits forever without reaping it: killing this process alone leaves the child on the port.
async fn fork_keeper(port: u16) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let child = std::process::Command::new(exe)
        .args(["reference", "hostile", "--mode", "fork-child"])
        .args(["--port", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .spawn()?;
    // Dropping a std `Child` neither kills nor reaps it.
    eprintln!("hostile: started child {}", child.id());
    drop(child);
    std::future::pending::<()>().await;
    Ok(())
}

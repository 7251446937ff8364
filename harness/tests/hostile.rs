//! The suite against hostile targets (`authconform reference hostile --mode MODE`): fake implementations that
//! hang, break HTTP, flood, crash, never start, ignore SIGTERM, fork, or write garbage instead of MCP.
//!
//! Each test runs the real binary on one scenario and holds it to the same promises: the run ends within a bound
//! derived from its deadlines, with the expected exit code and failed checks (or a setup error) whose reason names
//! the misbehaviour; nothing panics; the report files are written and parse; the harness's peak memory stays
//! bounded; and no process the target started is still running afterwards, nor holding its port. Linux only: memory
//! and processes are looked at in `/proc`.

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Peak resident memory allowed to the harness process: about two and a half times what a run needs (50 MB),
/// passed by a harness that reads an endless body until the step deadline.
const MAX_PEAK_RSS_KB: u64 = 128 * 1024;

/// One run of `authconform run` against a hostile target.
struct Run {
    code: Option<i32>,
    wall: Duration,
    stdout: String,
    stderr: String,
    report: serde_json::Value,
    peak_rss_kb: u64,
    /// Pids the hostile processes recorded, with the address each listened on (empty when none).
    pids: Vec<(u32, String)>,
    _dir: tempfile::TempDir,
}

impl Run {
    /// Every failed check's reason (`got`), with the scenario's setup error if it had one.
    fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self.report["scenarios"].as_array().into_iter().flatten() {
            if let Some(e) = s["setup_error"].as_str() {
                out.push(e.to_string());
            }
            for c in s["checks"].as_array().into_iter().flatten() {
                if c["outcome"] == "fail" {
                    out.push(c["mismatch"]["got"].as_str().unwrap_or("").to_string());
                }
            }
        }
        out
    }

    fn transcript_text(&self) -> String {
        self.report["scenarios"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["transcript_text"].as_str())
            .collect()
    }

    fn context(&self) -> String {
        format!(
            "exit {:?} after {:?}\nreasons: {:#?}\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.wall,
            self.reasons(),
            self.stdout,
            self.stderr
        )
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A target file launching the hostile HTTP server in `mode`, recording pids into `pids`.
fn http_target(dir: &Path, mode: &str, pids: &Path, ready_ms: u64) -> PathBuf {
    let text = format!(
        r#"name = "hostile-{mode}"
profiles = ["oauth-resource"]

[launch]
command = "{{authconform}}"
args = ["reference", "hostile", "--mode", "{mode}", "--port", "{{port}}"]
env = {{ AUTHCONFORM_HOSTILE_PIDS = "{pids}" }}
ready = {{ stdout = "listening on (?P<url>http://\\S+)", timeout_ms = {ready_ms} }}

[surfaces.mcp-http]
url = "{{ready.url}}"
mcp_version = "2025-11-25"

[oauth]
scope = "mcp:read mcp:tools"
call_tool = "echo"
call_args = '{{"text": "hello"}}'
"#,
        pids = pids.display()
    );
    let path = dir.join(format!("hostile-{mode}.toml"));
    std::fs::write(&path, text).expect("target file");
    path
}

/// A target file whose `mcp-stdio` server is the hostile `garbage-stdio` mode.
fn stdio_target(dir: &Path, pids: &Path) -> PathBuf {
    let text = format!(
        r#"name = "hostile-garbage-stdio"
profiles = ["local-stdio"]

[surfaces.mcp-stdio]
command = "{{authconform}}"
args = ["reference", "hostile", "--mode", "garbage-stdio"]
env = {{ AUTHCONFORM_HOSTILE_PIDS = "{pids}" }}
key_env = "HOSTILE_API_KEY"

[scope]
list_tool = "list_projects"
unit_tool = "get_project"
unit_arg = "project_id"

[[units]]
id = "P1"
tenant = "acct-a"

[principals.project-p1]
kind = "project-key"
key = {{ value = "hostile-test-only-key" }}
tenant = "acct-a"
sees = ["P1"]
"#,
        pids = pids.display()
    );
    let path = dir.join("hostile-garbage-stdio.toml");
    std::fs::write(&path, text).expect("target file");
    path
}

/// How to run: the scenario filter and the deadlines.
struct Plan<'a> {
    mode: &'a str,
    filter: &'a str,
    step_ms: u64,
    ready_ms: u64,
    scenario_s: u64,
}

impl Plan<'static> {
    /// An HTTP mode against `no-credentials`, with a 10 s ready deadline and a 30 s scenario deadline.
    fn http(mode: &'static str, step_ms: u64) -> Self {
        Plan {
            mode,
            filter: NO_CREDENTIALS,
            step_ms,
            ready_ms: 10_000,
            scenario_s: 30,
        }
    }
}

/// Peak resident memory of a running process (`VmHWM`), in kB.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the suite on `plan` and collects everything the assertions need; gives up (and fails) after `limit`.
fn run(plan: &Plan, limit: Duration) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let pids = dir.path().join("pids");
    std::fs::create_dir(&pids).expect("pid folder");
    let target = if plan.mode == "garbage-stdio" {
        stdio_target(dir.path(), &pids)
    } else {
        http_target(dir.path(), plan.mode, &pids, plan.ready_ms)
    };
    let reports = dir.path().join("reports");
    let json = dir.path().join("run.json");
    let (stdout_path, stderr_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authconform"))
        .arg("run")
        .arg("--target")
        .arg(&target)
        .arg("--scenarios")
        .arg(root().join("scenarios"))
        .args(["--filter", plan.filter, "--no-snapshots", "-v"])
        .args(["--step-timeout-ms", &plan.step_ms.to_string()])
        .args(["--scenario-timeout-s", &plan.scenario_s.to_string()])
        .args(["--run-timeout-s", "60"])
        .arg("--json")
        .arg(&json)
        .arg("--report-dir")
        .arg(&reports)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path).expect("stdout file"))
        .stderr(std::fs::File::create(&stderr_path).expect("stderr file"))
        .spawn()
        .expect("the authconform binary starts");
    let (status, peak) = wait_sampling(&mut child, started + limit, plan.mode);
    let wall = started.elapsed();
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
    let report = serde_json::from_str(&read(&json)).unwrap_or_else(|e| {
        panic!("--json report does not parse: {e}\nstdout:\n{stdout}\nstderr:\n{stderr}")
    });
    let run = Run {
        code: status.code(),
        wall,
        stdout,
        stderr,
        report,
        peak_rss_kb: peak,
        pids: recorded(&pids),
        _dir: dir,
    };
    assert_reports(&run, &reports);
    // Shown with --nocapture: what each mode ends as.
    eprintln!(
        "[{}] exit {:?} in {:?}, peak RSS {} kB: {:?}",
        plan.mode,
        run.code,
        run.wall,
        run.peak_rss_kb,
        run.reasons().first()
    );
    run
}

/// Waits for `child` until `deadline` (killing it and failing past it), sampling its peak memory meanwhile.
fn wait_sampling(
    child: &mut std::process::Child,
    deadline: Instant,
    mode: &str,
) -> (std::process::ExitStatus, u64) {
    let mut peak = 0;
    loop {
        peak = peak.max(peak_rss_kb(child.id()).unwrap_or(0));
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, peak);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{mode}` did not finish in time");
        }
        // Sampling interval of the memory probe (the exit itself is seen at the next try_wait).
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pids the hostile processes recorded in `folder`, each with the address it listened on.
fn recorded(folder: &Path) -> Vec<(u32, String)> {
    std::fs::read_dir(folder)
        .expect("pid folder")
        .filter_map(|e| {
            let e = e.ok()?;
            let pid = e.file_name().to_str()?.parse().ok()?;
            Some((pid, std::fs::read_to_string(e.path()).unwrap_or_default()))
        })
        .collect()
}

/// The report folder holds report.json, junit.xml and report.md, each parsing or readable.
fn assert_reports(run: &Run, reports: &Path) {
    let json = std::fs::read_to_string(reports.join("report.json"))
        .unwrap_or_else(|e| panic!("report.json: {e}\n{}", run.context()));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("report.json parses");
    assert!(parsed.is_object(), "{json}");
    let junit = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuite"), "{junit}");
    let md = std::fs::read_to_string(reports.join("report.md")).expect("report.md");
    assert!(!md.trim().is_empty(), "report.md is empty");
}

/// Is process `pid` gone (or a zombie, which no longer runs nor holds sockets)?
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// The promises every hostile run keeps, whatever the mode: the exit code, the wall-time bound, no panic,
/// bounded memory, every hostile process gone and its port free again.
fn assert_contained(run: &Run, code: i32, max_wall: Duration, processes: usize) {
    let cx = run.context();
    assert_eq!(run.code, Some(code), "{cx}");
    assert!(
        run.wall < max_wall,
        "took {:?} (bound {max_wall:?})\n{cx}",
        run.wall
    );
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains("panicked"), "{cx}");
    }
    assert!(
        run.peak_rss_kb > 0 && run.peak_rss_kb < MAX_PEAK_RSS_KB,
        "peak RSS {} kB\n{cx}",
        run.peak_rss_kb
    );
    assert_eq!(
        run.pids.len(),
        processes,
        "hostile processes recorded: {:?}\n{cx}",
        run.pids
    );
    // SIGKILL is delivered at once but a process takes a moment to be torn down.
    let deadline = Instant::now() + Duration::from_secs(3);
    for (pid, listening) in &run.pids {
        while !gone(*pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(*pid), "hostile process {pid} outlived the run\n{cx}");
        if !listening.is_empty() {
            let bound = std::net::TcpListener::bind(listening.as_str());
            assert!(bound.is_ok(), "{listening} is still taken: {bound:?}\n{cx}");
        }
    }
}

/// The scenario did not start: its setup error says the target did not, and every check failed unjudged.
fn assert_not_started(run: &Run) {
    let scenario = &run.report["scenarios"][0];
    assert_eq!(scenario["not_started"], true, "{}", run.context());
    let setup = scenario["setup_error"].as_str().unwrap_or_default();
    assert!(
        setup.starts_with("target did not start: "),
        "{}",
        run.context()
    );
    let checks = scenario["checks"].as_array().expect("checks");
    assert!(
        !checks.is_empty() && checks.iter().all(|c| c["outcome"] == "fail"),
        "{}",
        run.context()
    );
}

/// Every failed check of the run names `what`, and there is at least one.
fn assert_every_reason(run: &Run, what: &str) {
    let reasons = run.reasons();
    assert!(!reasons.is_empty(), "no failed check\n{}", run.context());
    for r in &reasons {
        assert!(
            r.contains(what),
            "`{r}` does not say `{what}`\n{}",
            run.context()
        );
    }
}

const NO_CREDENTIALS: &str = "oauth-resource/no-credentials";

#[test]
fn a_target_that_never_answers_fails_at_the_step_deadline() {
    let plan = Plan::http("hang-before-answer", 1000);
    let run = run(&plan, Duration::from_secs(60));
    // Three steps of one second each, plus launch and judging.
    assert_contained(&run, 1, Duration::from_secs(15), 1);
    assert_every_reason(&run, "no response within 1000 ms");
}

#[test]
fn a_response_that_breaks_off_mid_body_is_no_response() {
    let plan = Plan::http("close-mid-body", 3000);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(15), 1);
    assert_every_reason(
        &run,
        "broke off mid-body after 28 bytes of the 4096 announced",
    );
}

/// The 10 MB body is cut at the cap, marked so in the failed checks, the transcript text and the JSON report,
/// and the harness never holds it whole.
#[test]
fn a_huge_body_is_capped_and_marked_truncated() {
    let plan = Plan::http("huge-body", 5000);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(20), 1);
    assert_truncated(&run);
}

/// An endless body ends at the cap, not at the step deadline (10 s here, never reached).
#[test]
fn an_endless_body_is_capped_long_before_the_deadline() {
    let plan = Plan::http("endless-body", 10_000);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(9), 1);
    assert_truncated(&run);
}

fn assert_truncated(run: &Run) {
    let mark = "body longer than 262144 bytes; truncated";
    assert_every_reason(run, mark);
    assert!(
        run.transcript_text()
            .contains(&format!("(body cut: {mark}")),
        "{}",
        run.transcript_text()
    );
    let steps = run.report["scenarios"][0]["transcript"]
        .as_array()
        .expect("JSON transcript");
    assert_eq!(steps.len(), 3, "{steps:?}");
    for s in steps {
        let response = &s["record"]["response"]["Ok"];
        let cut = response["body_cut"].as_str().unwrap_or_default();
        assert!(cut.starts_with(mark), "{}: {cut:?}", s["step"]);
        let body = response["body"].as_str().expect("a body");
        assert!(
            body.len() <= authconform::http::MAX_BODY && body.len() > 1000,
            "{} bytes",
            body.len()
        );
    }
}

#[test]
fn invalid_json_fails_the_mcp_session_with_the_parse_error() {
    let plan = Plan {
        mode: "invalid-json",
        filter: "oauth-resource/mcp-client-session",
        step_ms: 3000,
        ready_ms: 10_000,
        scenario_s: 30,
    };
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(15), 1);
    assert_every_reason(&run, "initialize failed");
    assert_every_reason(&run, "could not parse JSON response");
    let reasons = run.reasons().join("\n");
    assert!(!reasons.contains("WorkerTransport"), "{}", run.context());
}

#[test]
fn bytes_that_are_not_http_fail_every_request() {
    let plan = Plan::http("invalid-http", 3000);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(15), 1);
    assert_every_reason(&run, "none: ");
    let reasons = run.reasons().join("\n");
    assert!(reasons.contains("invalid HTTP"), "{}", run.context());
}

#[test]
fn headers_dripping_a_byte_a_second_end_at_the_step_deadline() {
    let plan = Plan::http("drip-headers", 1500);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(15), 1);
    assert_every_reason(&run, "no response within 1500 ms");
}

#[test]
fn a_target_that_crashes_at_start_is_not_started() {
    let plan = Plan::http("crash-at-start", 3000);
    let run = run(&plan, Duration::from_secs(60));
    // Exits 2: the target never started, the README's "target never started".
    assert_contained(&run, 2, Duration::from_secs(10), 1);
    assert_not_started(&run);
    let setup = run.report["scenarios"][0]["setup_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        setup.contains("target exited before it was ready (exit status: 3)"),
        "{setup}"
    );
    assert!(setup.contains("hostile: crashing at start"), "{setup}");
}

#[test]
fn a_target_that_never_becomes_ready_is_not_started_at_its_ready_deadline() {
    let plan = Plan {
        mode: "never-ready",
        filter: NO_CREDENTIALS,
        step_ms: 3000,
        ready_ms: 1500,
        scenario_s: 30,
    };
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 2, Duration::from_secs(10), 1);
    assert_not_started(&run);
    let setup = run.report["scenarios"][0]["setup_error"]
        .as_str()
        .unwrap_or_default();
    assert!(setup.contains("within 1500 ms"), "{setup}");
}

/// SIGTERM is not how the harness stops a target: the process is killed and gone after the run.
#[test]
fn a_target_that_ignores_sigterm_is_still_stopped() {
    let plan = Plan::http("ignore-sigterm", 3000);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(15), 1);
    // It serves without credentials: the refusal checks fail on the status.
    assert!(
        run.reasons().iter().any(|r| r.contains("200")),
        "{}",
        run.context()
    );
}

/// The child the target started keeps listening on the port unless the harness kills the whole process group.
#[test]
fn a_forked_child_that_keeps_the_port_does_not_outlive_the_run() {
    let plan = Plan::http("fork-keeps-port", 3000);
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(15), 2);
    assert!(
        run.pids.iter().any(|(_, l)| !l.is_empty()),
        "the child recorded no port: {:?}",
        run.pids
    );
}

#[test]
fn garbage_on_stdout_fails_the_stdio_session_and_is_bounded() {
    let plan = Plan {
        mode: "garbage-stdio",
        filter: "local-stdio/key-from-environment",
        step_ms: 3000,
        ready_ms: 10_000,
        scenario_s: 30,
    };
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(20), 1);
    assert_every_reason(
        &run,
        "stdout is not MCP: 3 line(s) that are not JSON-RPC, the first \"Welcome to the hostile server! This is not MCP.\"",
    );
    assert_every_reason(&run, "a stdout line longer than 4194304 bytes");
    let step = &run.report["scenarios"][0]["transcript"][0]["record"];
    let stdout = step["stdout"].as_str().expect("stdout recorded");
    assert!(
        stdout.starts_with("Welcome") && stdout.len() <= 256 * 1024 + 64,
        "{} bytes",
        stdout.len()
    );
}

/// A scenario cut off by its own deadline (before the step's) still stops the target it launched.
#[test]
fn a_scenario_past_its_deadline_stops_its_hanging_target() {
    let plan = Plan {
        mode: "hang-before-answer",
        filter: NO_CREDENTIALS,
        step_ms: 20_000,
        ready_ms: 10_000,
        scenario_s: 2,
    };
    let run = run(&plan, Duration::from_secs(60));
    assert_contained(&run, 1, Duration::from_secs(10), 1);
    let setup = run.report["scenarios"][0]["setup_error"]
        .as_str()
        .unwrap_or_default();
    assert!(
        setup.starts_with("scenario did not finish before its deadline"),
        "{}",
        run.context()
    );
}

/// Ctrl-C on the harness (SIGINT; the target, in its own process group, does not get it from the terminal)
/// still stops the target: the harness kills every live group before it exits.
#[test]
fn an_interrupted_run_leaves_no_target_running() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pids = dir.path().join("pids");
    std::fs::create_dir(&pids).expect("pid folder");
    let target = http_target(dir.path(), "hang-before-answer", &pids, 10_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_authconform"))
        .arg("run")
        .arg("--target")
        .arg(&target)
        .arg("--scenarios")
        .arg(root().join("scenarios"))
        .args(["--filter", NO_CREDENTIALS, "--no-snapshots", "-q"])
        .args(["--step-timeout-ms", "30000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the authconform binary starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    let listening = loop {
        let found = recorded(&pids);
        if found.iter().any(|(_, l)| !l.is_empty()) {
            break found;
        }
        assert!(Instant::now() < deadline, "the target never listened");
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended early"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let harness = libc::pid_t::try_from(child.id()).expect("a pid");
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(harness, libc::SIGINT) }, 0);
    let (status, _) = wait_sampling(
        &mut child,
        Instant::now() + Duration::from_secs(10),
        "interrupted",
    );
    assert_eq!(status.code(), Some(130), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(3);
    for (pid, _) in &listening {
        while !gone(*pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(gone(*pid), "the target {pid} outlived the interrupted run");
    }
}

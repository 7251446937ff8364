//! The `authconform` command as a user meets it: exit codes, located errors for bad input, robustness
//! against targets that hang, crash or answer garbage, and secrets kept out of the output.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_authconform"));
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
    c.env_remove("AUTHCONFORM_REFERENCE_FAULT");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write(dir: &Path, rel: &str, content: &str) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    p
}

const GOOD_SCENARIO: &str = r#"id = "probe"
title = "t"
requirements = ["OAUTH-401-001"]

[[step]]
name = "s"
http = { url = "{mcp_url}", mcp = "initialize" }

[[check]]
requirement = "OAUTH-401-001"
what = "401"
steps = ["s"]
expect = { status = [401] }
"#;

/// Runs `run` on a scenarios folder holding one scenario file; returns the output.
fn run_with_scenario(content: &str) -> (Output, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "oauth-resource/bad.toml", content);
    let out = bin()
        .args(["run", "--scenarios"])
        .arg(dir.path())
        .output()
        .unwrap();
    (out, path, dir)
}

#[test]
fn malformed_scenarios_exit_2_naming_file_line_and_field() {
    let cases: &[(&str, &str, usize, &str)] = &[
        // (edit, replacement, expected line, expected words)
        (
            "what = \"401\"",
            "what = \"401\"\ncolour = \"red\"",
            12,
            "colour",
        ),
        ("title = \"t\"\n", "", 1, "title"),
        ("status = [401]", "status = [\"6xx\"]", 13, "expect.status"),
        (
            "requirements = [\"OAUTH-401-001\"]",
            "requirements = [\"OAUTH-999-001\"]",
            3,
            "OAUTH-999-001",
        ),
        (
            "steps = [\"s\"]",
            "steps = [\"nope\"]",
            12,
            "check[0].steps",
        ),
        (
            "expect = { status = [401] }",
            "expect = {}",
            13,
            "check that cannot fail",
        ),
        ("http = { url", "bogus = 1\nhttp = { url", 7, "bogus"),
    ];
    for (from, to, line, words) in cases {
        let bad = GOOD_SCENARIO.replacen(from, to, 1);
        assert_ne!(bad, GOOD_SCENARIO, "edit {from} did not apply");
        let (out, path, _dir) = run_with_scenario(&bad);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        let located = format!("{}:{line}:", path.display());
        assert!(t.contains(&located), "expected `{located}` in: {t}");
        assert!(t.contains(words), "expected `{words}` in: {t}");
    }
}

#[test]
fn malformed_target_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/reference.toml"),
    )
    .unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "profiles = [\"oauth-resource\",",
            "profiles = [\"oauth-resorce\",",
            "oauth-resorce",
        ),
        (
            "[surfaces.mcp-http]",
            "[surfaces.mcp-http]\nbase = 1",
            "base",
        ),
        ("url = \"{ready.url}\"", "", "url"),
        (
            "key_env = \"REFERENCE_API_KEY\"",
            "key_env = \"REFERENCE API KEY\"",
            "surfaces.mcp-stdio.key_env",
        ),
        (
            "timeout_ms = 15000",
            "timeout_ms = \"soon\"",
            "launch.ready.timeout_ms",
        ),
    ];
    for (from, to, words) in cases {
        let bad = good.replacen(from, to, 1);
        assert_ne!(&bad, &good);
        let path = write(dir.path(), "t.toml", &bad);
        let out = bin().args(["run", "--target"]).arg(&path).output().unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{t}");
        assert!(
            t.contains(&format!("{}:", path.display())) && t.contains(words),
            "{t}"
        );
        let line: usize = t
            .split(&format!("{}:", path.display()))
            .nth(1)
            .and_then(|r| r.split(':').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(line >= 1, "no line number in: {t}");
    }
}

fn looks_like_jwt(s: &str) -> bool {
    regex::Regex::new(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}")
        .unwrap()
        .is_match(s)
}

#[test]
fn seeded_fault_from_the_environment_exits_1_naming_the_requirement_without_leaking_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = bin()
        .args(["run", "--json"])
        .arg(&json)
        .env("AUTHCONFORM_REFERENCE_FAULT", "accept-expired")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("FAIL OAUTH-401-005 MUST"), "{t}");
    assert!(t.contains("failed requirements: OAUTH-401-005"), "{t}");
    assert!(
        t.contains("[TOKEN:expired]"),
        "the failing request is shown, redacted: {t}"
    );
    let report = std::fs::read_to_string(&json).unwrap();
    assert!(
        report.contains("[TOKEN:valid]"),
        "transcripts name tokens by placeholder"
    );
    assert!(
        !looks_like_jwt(&t) && !looks_like_jwt(&report),
        "a token leaked into the output"
    );
}

#[test]
fn clean_run_exits_0_and_prints_the_summary() {
    let out = bin().args(["run", "--quiet"]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("target reference:") && t.contains(" 0 failed"),
        "{t}"
    );
}

fn target_file(dir: &Path, launch: &str, mcp_url: &str) -> PathBuf {
    write(
        dir,
        "t.toml",
        &format!(
            "name = \"t\"\nprofiles = [\"oauth-resource\"]\n{launch}\n[surface]\nmcp_url = \"{mcp_url}\"\n"
        ),
    )
}

#[test]
fn a_target_that_never_gets_ready_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let t = target_file(
        dir.path(),
        "[launch]\ncommand = \"sh\"\nargs = [\"-c\", \"echo starting; sleep 30\"]\nready = { stdout = \"listening\", timeout_ms = 300 }",
        "http://127.0.0.1:9/mcp",
    );
    let reports = dir.path().join("reports");
    let out = bin()
        .args(["run", "--filter", "credentials", "--report-dir"])
        .arg(&reports)
        .arg("--target")
        .arg(&t)
        .output()
        .unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(2), "{s}");
    assert!(
        s.contains("target did not start") && s.contains("300 ms") && s.contains("starting"),
        "{s}"
    );
    // The reason once per scenario in every report, not once per check.
    let report = std::fs::read_to_string(reports.join("report.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&report).unwrap();
    let scenarios = json["scenarios"].as_array().unwrap();
    let checks: usize = scenarios
        .iter()
        .map(|s| s["checks"].as_array().unwrap().len())
        .sum();
    assert!(scenarios.len() >= 2 && checks > scenarios.len(), "{report}");
    for name in ["report.json", "junit.xml", "report.md"] {
        let text = std::fs::read_to_string(reports.join(name)).unwrap();
        let times = text.matches("no stdout line matched").count();
        let expected = if name == "report.json" { 2 } else { 1 } * scenarios.len();
        assert_eq!(times, expected, "{name}: {text}");
    }
}

#[test]
fn a_target_without_launch_that_is_not_listening_is_one_line_and_exits_2() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let t = target_file(dir.path(), "", &url);
    let started = std::time::Instant::now();
    let out = bin().args(["run", "--target"]).arg(&t).output().unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(2), "{s}");
    let line = format!("cannot reach {url}: connection refused");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).matches(&line).count(),
        1,
        "{s}"
    );
    // No check is listed as failed: nothing was judged.
    assert!(!s.contains("MUST"), "{s}");
    assert!(!s.contains("failed requirements"), "{s}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{s}"
    );
}

#[test]
fn a_target_that_crashes_fails_checks_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = target_file(
        dir.path(),
        "[launch]\ncommand = \"sh\"\nargs = [\"-c\", \"echo ready; exit 3\"]\nready = { stdout = \"ready\" }",
        &format!("http://127.0.0.1:{port}/mcp"),
    );
    let out = bin()
        .args(["run", "--filter", "no-credentials", "--target"])
        .arg(&t)
        .output()
        .unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("FAIL OAUTH-401-001 MUST") && s.contains("none:"),
        "{s}"
    );
    assert!(s.contains("exit status: 3"), "{s}");
}

#[test]
fn a_target_that_answers_garbage_fails_checks_with_the_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(b"this is not HTTP\r\n\r\n");
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let t = target_file(dir.path(), "", &format!("http://127.0.0.1:{port}/mcp"));
    let out = bin()
        .args(["run", "--filter", "no-credentials", "--target"])
        .arg(&t)
        .output()
        .unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("FAIL OAUTH-401-001 MUST") && s.contains("got:      none"),
        "{s}"
    );
}

#[test]
fn list_requirements_shows_coverage_and_uncovered_requirements() {
    let out = bin().args(["list", "--requirements"]).output().unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(
        s.contains("OAUTH-401-001") && s.contains("oauth-resource/no-credentials"),
        "{s}"
    );
    assert!(s.contains("OAUTH-AS-002") && s.contains("uncovered"), "{s}");
    assert_eq!(
        s.lines()
            .filter(
                |l| l.trim_start().starts_with(|c: char| c.is_ascii_uppercase())
                    && l.contains("-0")
            )
            .count(),
        143,
        "{s}"
    );
}

#[test]
fn a_target_that_hangs_meets_the_step_and_run_deadlines() {
    // Accepts connections and reads, but never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let t = target_file(dir.path(), "", &format!("http://127.0.0.1:{port}/mcp"));
    let out = bin()
        .args([
            "run",
            "--filter",
            "no-credentials",
            "--step-timeout-ms",
            "200",
            "--target",
        ])
        .arg(&t)
        .output()
        .unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("no response within 200 ms"), "{s}");

    let started = std::time::Instant::now();
    let out = bin()
        .args([
            "run",
            "--filter",
            "no-credentials",
            "--step-timeout-ms",
            "60000",
            "--run-timeout-s",
            "1",
            "--target",
        ])
        .arg(&t)
        .output()
        .unwrap();
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(s.contains("whole-run deadline (1 s), during step `"), "{s}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the run deadline did not stop the run"
    );
}

#[test]
fn upstream_rules_may_not_use_values_that_do_not_exist_yet() {
    let bad = GOOD_SCENARIO.replacen(
        "[[step]]",
        "[tokens.t]\n\n[[upstream]]\nwhen = { headers = [[\"Authorization\", \"Bearer {token.t}\"]] }\nrespond = { status = 200 }\n\n[[step]]",
        1,
    );
    let (out, path, _dir) = run_with_scenario(&bad);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("{}:", path.display())) && t.contains("upstream[0]"),
        "{t}"
    );
}

#[test]
fn a_baseline_lets_known_failures_through_and_ratchets_when_one_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let baseline = dir.path().join("baseline.toml");
    let faulty = || {
        let mut c = bin();
        c.env("AUTHCONFORM_REFERENCE_FAULT", "accept-expired");
        c.args(["run", "-q", "--no-snapshots", "--filter", "expired-token"]);
        c
    };
    let out = faulty()
        .arg("--write-baseline")
        .arg(&baseline)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let written = std::fs::read_to_string(&baseline).unwrap();
    assert!(
        written.contains("OAUTH-401-005") && written.contains("oauth-resource/expired-token"),
        "{written}"
    );

    let out = faulty().arg("--baseline").arg(&baseline).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "only expected failures: {t}");
    assert!(
        t.contains("1 expected failure(s), 0 unexpected, 0 now passing"),
        "{t}"
    );

    let out = bin()
        .args([
            "run",
            "-q",
            "--no-snapshots",
            "--filter",
            "expired-token",
            "--baseline",
        ])
        .arg(&baseline)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a fixed check must be removed from the baseline: {t}"
    );
    assert!(
        t.contains(
            "now passing, remove from the baseline: oauth-resource/expired-token OAUTH-401-005"
        ),
        "{t}"
    );
}

/// A plain-HTTP MCP endpoint that refuses a `tools/call` without `mcp:tools` in the token's scope with a
/// JSON-RPC error object (not an `isError` result), and otherwise echoes. It reads the scope from the JWT
/// without verifying it: it stands for a server's answer shape, not its token checks. `isError` refusals
/// (with `rpc_error = false`) make the same server refuse the other way.
fn scope_refusing_server(rpc_error: bool) -> u16 {
    use base64::Engine as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut req = Vec::new();
            let mut buf = [0u8; 8192];
            let head_end = loop {
                let Ok(n) = conn.read(&mut buf) else {
                    break None;
                };
                if n == 0 {
                    break None;
                }
                req.extend_from_slice(&buf[..n]);
                if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&req[..head_end]).to_string();
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_string())
                })
            };
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while req.len() < head_end + len {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body: serde_json::Value =
                serde_json::from_slice(&req[head_end..]).unwrap_or_default();
            let scope = header("authorization")
                .and_then(|a| a.strip_prefix("Bearer ").map(str::to_string))
                .and_then(|t| t.split('.').nth(1).map(str::to_string))
                .and_then(|p| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(p)
                        .ok()
                })
                .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
                .and_then(|c| c["scope"].as_str().map(str::to_string));
            let id = body["id"].clone();
            let (status, extra, answer) = match (scope, body["method"].as_str()) {
                (None, _) => (
                    "401 Unauthorized",
                    "WWW-Authenticate: Bearer\r\n",
                    String::new(),
                ),
                (_, Some("initialize")) => (
                    "200 OK",
                    "Mcp-Session-Id: s1\r\n",
                    serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {
                        "protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                        "serverInfo": {"name": "fake", "version": "0"}}})
                    .to_string(),
                ),
                (_, Some("notifications/initialized")) => ("202 Accepted", "", String::new()),
                (Some(scope), Some("tools/call")) => {
                    let answer = if scope.split(' ').any(|s| s == "mcp:tools") {
                        serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {
                            "content": [{"type": "text", "text": "hello"}], "isError": false}})
                    } else if rpc_error {
                        serde_json::json!({"jsonrpc": "2.0", "id": id,
                            "error": {"code": -32003, "message": "insufficient scope"}})
                    } else {
                        serde_json::json!({"jsonrpc": "2.0", "id": id, "result": {
                            "content": [{"type": "text", "text": "insufficient scope"}], "isError": true}})
                    };
                    ("200 OK", "", answer.to_string())
                }
                _ => ("400 Bad Request", "", String::new()),
            };
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .as_bytes(),
            );
        }
    });
    port
}

/// OAUTH-SCOPE-002's tool-level check judges a refusal by meaning: a JSON-RPC error object refuses as an
/// `isError` result does, and the control call beside it must be served a result that is not an error.
#[test]
fn a_tool_level_refusal_may_be_a_json_rpc_error_or_an_is_error_result() {
    for rpc_error in [true, false] {
        let port = scope_refusing_server(rpc_error);
        let dir = tempfile::tempdir().unwrap();
        let t = write(
            dir.path(),
            "t.toml",
            &format!(
                "name = \"t\"\nprofiles = [\"oauth-resource\"]\n[surface]\nmcp_url = \"http://127.0.0.1:{port}/mcp\"\n\
                 [oauth]\nscope = \"mcp:read mcp:tools\"\nlow_scope = \"mcp:read\"\ncall_tool = \"echo\"\n\
                 call_args = '{{\"text\": \"hello\"}}'\nscope_errors = \"tool-level\"\n"
            ),
        );
        let out = bin()
            .args([
                "run",
                "--no-snapshots",
                "--verbose",
                "--filter",
                "insufficient-scope",
                "--target",
            ])
            .arg(&t)
            .output()
            .unwrap();
        let s = text(&out);
        assert_eq!(out.status.code(), Some(0), "rpc_error={rpc_error}\n{s}");
        assert!(
            s.contains(
                "PASS OAUTH-SCOPE-002 MUST the low-scope call is refused with a tool error result"
            ),
            "rpc_error={rpc_error}\n{s}"
        );
        assert!(
            s.contains(
                "PASS OAUTH-SCOPE-002 SHOULD control: a token with the full scope may call the tool"
            ),
            "{s}"
        );
    }
}

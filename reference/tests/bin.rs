//! Tests of the `authconform-reference` binary: the ready line and fault errors.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_authconform-reference");

#[test]
fn prints_the_ready_line_with_the_bound_port() {
    let mut child = Command::new(BIN)
        .args([
            "http",
            "--issuer",
            "http://127.0.0.1:9",
            "--fault",
            "accept-expired",
        ])
        .env_remove("AUTHCONFORM_REFERENCE_FAULT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    let read = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
    let _ = child.kill();
    let _ = child.wait();
    read.expect("read line");
    let port = line
        .strip_prefix("authconform-reference listening on http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/mcp\n"))
        .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
    assert!(port.parse::<u16>().expect("port") > 0);
}

#[test]
fn unknown_faults_exit_2_and_list_the_valid_names() {
    let output = Command::new(BIN)
        .args(["http", "--issuer", "http://127.0.0.1:9"])
        .env(
            "AUTHCONFORM_REFERENCE_FAULT",
            "accept-expired, no-such-fault",
        )
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-fault"), "{stderr}");
    for (name, _) in authconform_reference::FAULTS {
        assert!(stderr.contains(name), "{stderr}");
    }

    let output = Command::new(BIN)
        .args(["http", "--issuer", "http://127.0.0.1:9", "--fault", "bogus"])
        .env_remove("AUTHCONFORM_REFERENCE_FAULT")
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ignore-audience"));
}

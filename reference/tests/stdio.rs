//! End-to-end tests of `authconform-reference stdio`: the binary is spawned and
//! spoken to in JSON-RPC lines over stdin/stdout, against an in-test upstream
//! API that answers per `X-API-Key` and records every request it receives.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_authconform-reference");
const DEADLINE: Duration = Duration::from_secs(15);

const P1_LIST: &str = r#"[{"id":"P1","name":"Project one"}]"#;
const P1: &str = r#"{"id":"P1","name":"Project one"}"#;
const PARTNER_LIST: &str = r#"[{"id":"P1","name":"Project one","organization":"org-a"},{"id":"P2","name":"Project two","organization":"org-b"},{"id":"P3","name":"Project three","organization":"org-a"}]"#;
/// `PARTNER_LIST` restricted to the first project's organization.
const ORG_A_LIST: &str = r#"[{"id":"P1","name":"Project one","organization":"org-a"},{"id":"P3","name":"Project three","organization":"org-a"}]"#;
const PROJECT_KEY: &str = "key-p1";
const PARTNER_KEY: &str = "key-partner";
const DENIED_KEY: &str = "key-denied";
const SENTINEL: &str = "SENTINEL_INVALID";
const SERVICE_AUTH: &str = "Bearer ref-service-token-7c1d9e";

/// One request the upstream received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    key: Option<String>,
    authorization: Option<String>,
    cookie: Option<String>,
}

/// The in-test upstream API.
struct Upstream {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }
}

/// The upstream's answer to `path` for `key`: a project key sees P1 (and, like
/// the real API, the owner's account-wide `/partner/projects`); a partner key
/// sees everything (projects of two organizations); `key-denied` gets 403; any other key 401.
fn upstream_answer(key: Option<&str>, path: &str) -> (StatusCode, &'static str) {
    match (key, path) {
        (Some(PROJECT_KEY), "/projects") => (StatusCode::OK, P1_LIST),
        (Some(PROJECT_KEY), "/projects/P1") => (StatusCode::OK, P1),
        (Some(PROJECT_KEY | PARTNER_KEY), "/partner/projects") => (StatusCode::OK, PARTNER_LIST),
        (Some(PROJECT_KEY), _) => (StatusCode::FORBIDDEN, r#"{"error":"forbidden"}"#),
        (Some(PARTNER_KEY), "/projects") => (StatusCode::OK, PARTNER_LIST),
        (Some(PARTNER_KEY), "/projects/P1") => (StatusCode::OK, P1),
        (Some(PARTNER_KEY), _) => (StatusCode::NOT_FOUND, r#"{"error":"not found"}"#),
        (Some(DENIED_KEY), _) => (StatusCode::FORBIDDEN, r#"{"error":"forbidden"}"#),
        _ => (StatusCode::UNAUTHORIZED, r#"{"error":"unauthorized"}"#),
    }
}

async fn start_upstream() -> Upstream {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let header = |request: &Request, name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let router = axum::Router::new().fallback(move |request: Request| {
        let seen = Seen {
            path: request.uri().path().to_owned(),
            key: header(&request, "x-api-key"),
            authorization: header(&request, "authorization"),
            cookie: header(&request, "cookie"),
        };
        let (status, body) = upstream_answer(seen.key.as_deref(), &seen.path);
        record.lock().unwrap().push(seen);
        async move {
            let response: Response =
                (status, [("content-type", "application/json")], body).into_response();
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Upstream { base, seen }
}

/// A running `authconform-reference stdio`.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: JoinHandle<String>,
    /// Every line read from stdout so far.
    lines: Vec<String>,
    next_id: u64,
}

/// How to start the server.
#[derive(Default)]
struct Launch<'a> {
    key: Option<&'a str>,
    faults: &'a [&'a str],
    env: &'a [(&'a str, &'a str)],
    args: &'a [&'a str],
}

fn command(upstream: &str, launch: &Launch) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["stdio", "--upstream", upstream])
        .args(launch.args)
        .env_remove("REFERENCE_API_KEY")
        .env_remove("REFERENCE_FALLBACK_KEY")
        .env_remove("AUTHCONFORM_REFERENCE_FAULT")
        .env_remove("BROWSER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for fault in launch.faults {
        command.args(["--fault", fault]);
    }
    if let Some(key) = launch.key {
        command.env("REFERENCE_API_KEY", key);
    }
    for (name, value) in launch.env {
        command.env(name, value);
    }
    command
}

fn spawn(upstream: &Upstream, launch: Launch) -> Server {
    let mut child = command(&upstream.base, &launch).spawn().expect("spawn");
    let stdin = child.stdin.take();
    let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr_pipe = child.stderr.take().expect("stderr");
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr_pipe.read_to_string(&mut text).await;
        text
    });
    Server {
        child,
        stdin,
        stdout,
        stderr,
        lines: Vec::new(),
        next_id: 1,
    }
}

impl Server {
    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.expect("write");
        stdin.flush().await.expect("flush");
    }

    /// The next stdout line within `limit`, which must be a JSON-RPC message;
    /// `None` on timeout.
    async fn recv_within(&mut self, limit: Duration) -> Option<Value> {
        let line = timeout(limit, self.stdout.next_line()).await.ok()?;
        let line = line.expect("read stdout").expect("stdout closed early");
        let value: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:?}"));
        assert_eq!(value["jsonrpc"], "2.0", "{line}");
        self.lines.push(line);
        Some(value)
    }

    /// Sends a request and returns its `result` (skipping notifications).
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let message = self
                .recv_within(DEADLINE)
                .await
                .unwrap_or_else(|| panic!("no answer to {method} in time"));
            if message["id"] == id {
                assert!(message.get("error").is_none(), "{method}: {message}");
                return message["result"].clone();
            }
        }
    }

    fn initialize_params() -> Value {
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "stdio-test", "version": "0"},
        })
    }

    async fn initialize(&mut self) -> Value {
        let result = self.request("initialize", Self::initialize_params()).await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        result
    }

    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }

    /// Closes stdin and waits for the exit; returns the status, every stdout
    /// line and stderr. Any further stdout line must be JSON-RPC too.
    async fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        drop(self.stdin.take());
        while let Ok(Some(line)) = timeout(DEADLINE, self.stdout.next_line())
            .await
            .expect("stdout closes in time")
        {
            let value: Value = serde_json::from_str(&line).expect("JSON-RPC on stdout");
            assert_eq!(value["jsonrpc"], "2.0");
            self.lines.push(line);
        }
        let status = timeout(DEADLINE, self.child.wait())
            .await
            .expect("exits in time")
            .expect("wait");
        let stderr = timeout(DEADLINE, self.stderr)
            .await
            .expect("stderr closes")
            .expect("stderr task");
        (status, self.lines, stderr)
    }
}

fn text(result: &Value) -> &str {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content: {result}"))
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true
}

/// A fresh directory below the system temp directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "authconform-reference-stdio-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes an executable "browser" into `dir` that appends its first argument
/// (one line) to the file named by `$BROWSER_LOG`.
fn fake_browser(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let script = dir.join("browser");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$1\" >> \"$BROWSER_LOG\"\n",
    )
    .expect("write browser script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("chmod browser script");
    script
}

/// The first line of `path`, waiting for it until [`DEADLINE`].
async fn first_line_of(path: &Path) -> String {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some((line, _)) = text.split_once('\n')
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "nothing written to {} in time",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The TCP ports process `pid` listens on (from `/proc`: the LISTEN entries of
/// its network namespace whose socket inode is one of its descriptors).
fn listening_ports(pid: u32) -> Vec<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("read fd dir")
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_owned(),
            )
        })
        .collect();
    let mut ports = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 9 && fields[3] == "0A" && inodes.contains(fields[9]) {
                let port = fields[1].rsplit(':').next().expect("port");
                ports.push(u16::from_str_radix(port, 16).expect("hex port"));
            }
        }
    }
    ports
}

/// Runs `list_projects` once and returns its result, the upstream's record,
/// stdout and stderr.
async fn list_once(launch: Launch<'_>) -> (Value, Vec<Seen>, Vec<String>, String) {
    let upstream = start_upstream().await;
    let mut server = spawn(&upstream, launch);
    server.initialize().await;
    let result = server.call("list_projects", json!({})).await;
    let (status, lines, stderr) = server.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    (result, upstream.seen(), lines, stderr)
}

#[tokio::test]
async fn clean_run_lists_projects_and_forwards_exactly_the_key() {
    let upstream = start_upstream().await;
    let mut server = spawn(
        &upstream,
        Launch {
            key: Some(PROJECT_KEY),
            env: &[("REFERENCE_FALLBACK_KEY", PARTNER_KEY)],
            ..Launch::default()
        },
    );
    let init = server.initialize().await;
    assert_eq!(
        init["serverInfo"]["name"], "authconform-reference",
        "{init}"
    );
    let tools = server.request("tools/list", json!({})).await;
    let mut names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["get_project", "list_projects"]);
    let get = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "get_project")
        .unwrap();
    assert_eq!(get["inputSchema"]["required"], json!(["project_id"]));

    let list = server.call("list_projects", json!({})).await;
    assert!(!is_error(&list), "{list}");
    assert_eq!(text(&list), P1_LIST);
    let one = server
        .call("get_project", json!({"project_id": "P1"}))
        .await;
    assert!(!is_error(&one), "{one}");
    assert_eq!(text(&one), P1);

    let other = server
        .call("get_project", json!({"project_id": "P2/../x"}))
        .await;
    assert!(is_error(&other), "{other}");
    assert_eq!(
        text(&other),
        "upstream refused the request: HTTP 403 Forbidden"
    );
    let dots = server
        .call("get_project", json!({"project_id": ".."}))
        .await;
    assert!(is_error(&dots), "{dots}");

    let pid = server.child.id().expect("pid");
    assert_eq!(
        listening_ports(pid),
        [] as [u16; 0],
        "listens without a fault"
    );

    let (status, lines, stderr) = server.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(
        upstream.paths(),
        ["/projects", "/projects/P1", "/projects/P2%2F..%2Fx"]
    );
    for seen in upstream.seen() {
        assert_eq!(seen.key.as_deref(), Some(PROJECT_KEY), "{seen:?}");
        assert_eq!(seen.authorization, None, "{seen:?}");
        assert_eq!(seen.cookie, None, "{seen:?}");
    }
    for output in lines.iter().chain([&stderr]) {
        assert!(!output.contains(PROJECT_KEY), "key leaked: {output}");
        assert!(!output.contains(PARTNER_KEY), "fallback leaked: {output}");
    }
}

#[tokio::test]
async fn upstream_refusals_are_tool_errors_without_the_key() {
    let (denied, seen, _, _) = list_once(Launch {
        key: Some(DENIED_KEY),
        ..Launch::default()
    })
    .await;
    assert!(is_error(&denied), "{denied}");
    assert_eq!(
        text(&denied),
        "upstream refused the request: HTTP 403 Forbidden"
    );
    assert_eq!(seen.len(), 1);

    let (invalid, _, lines, stderr) = list_once(Launch {
        key: Some(SENTINEL),
        ..Launch::default()
    })
    .await;
    assert!(is_error(&invalid), "{invalid}");
    assert_eq!(
        text(&invalid),
        "upstream refused the request: HTTP 401 Unauthorized"
    );
    for output in lines.iter().chain([&stderr]) {
        assert!(!output.contains(SENTINEL), "key leaked: {output}");
    }
}

#[tokio::test]
async fn missing_key_still_initializes_and_names_the_variable() {
    for key in [None, Some(""), Some("  \t ")] {
        let upstream = start_upstream().await;
        let mut server = spawn(
            &upstream,
            Launch {
                key,
                ..Launch::default()
            },
        );
        server.initialize().await;
        let tools = server.request("tools/list", json!({})).await;
        assert_eq!(tools["tools"].as_array().map(Vec::len), Some(2));
        for (tool, args) in [
            ("list_projects", json!({})),
            ("get_project", json!({"project_id": "P1"})),
        ] {
            let result = server.call(tool, args).await;
            assert!(is_error(&result), "{key:?} {tool}: {result}");
            assert_eq!(text(&result), "no API key: set REFERENCE_API_KEY");
        }
        let (status, _, stderr) = server.finish().await;
        assert!(status.success(), "{status}: {stderr}");
        assert!(stderr.contains("warning"), "{stderr}");
        assert!(upstream.seen().is_empty());
    }

    let (result, _, _, _) = list_once(Launch {
        key: Some(PROJECT_KEY),
        args: &["--key-env", "CUSTOM_KEY"],
        ..Launch::default()
    })
    .await;
    assert_eq!(text(&result), "no API key: set CUSTOM_KEY");
}

#[tokio::test]
async fn key_env_names_the_variable_read() {
    let (result, seen, _, _) = list_once(Launch {
        args: &["--key-env", "CUSTOM_KEY"],
        env: &[("CUSTOM_KEY", PROJECT_KEY)],
        ..Launch::default()
    })
    .await;
    assert_eq!(text(&result), P1_LIST);
    assert_eq!(seen[0].key.as_deref(), Some(PROJECT_KEY));
}

#[tokio::test]
async fn fault_partner_scope_for_project_key() {
    let (result, seen, _, _) = list_once(Launch {
        key: Some(PROJECT_KEY),
        faults: &["partner-scope-for-project-key"],
        ..Launch::default()
    })
    .await;
    assert!(!is_error(&result), "{result}");
    assert_eq!(text(&result), PARTNER_LIST);
    assert_eq!(seen[0].path, "/partner/projects");
}

#[tokio::test]
async fn fault_mask_upstream_403() {
    let (result, _, _, _) = list_once(Launch {
        key: Some(DENIED_KEY),
        faults: &["mask-upstream-403"],
        ..Launch::default()
    })
    .await;
    assert!(!is_error(&result), "{result}");
    assert_eq!(text(&result), "[]");
    let (unauthorized, _, _, _) = list_once(Launch {
        key: Some(SENTINEL),
        faults: &["mask-upstream-403"],
        ..Launch::default()
    })
    .await;
    assert!(
        is_error(&unauthorized),
        "401 stays an error: {unauthorized}"
    );
}

#[tokio::test]
async fn fault_retry_with_env_credential() {
    let (result, seen, _, _) = list_once(Launch {
        key: Some(SENTINEL),
        faults: &["retry-with-env-credential"],
        env: &[("REFERENCE_FALLBACK_KEY", PARTNER_KEY)],
        ..Launch::default()
    })
    .await;
    assert!(!is_error(&result), "{result}");
    assert_eq!(text(&result), PARTNER_LIST);
    let keys: Vec<_> = seen.iter().map(|s| s.key.clone().unwrap()).collect();
    assert_eq!(keys, [SENTINEL, PARTNER_KEY]);

    let (without, seen, _, _) = list_once(Launch {
        key: Some(SENTINEL),
        faults: &["retry-with-env-credential"],
        env: &[("REFERENCE_FALLBACK_KEY", " ")],
        ..Launch::default()
    })
    .await;
    assert!(is_error(&without), "{without}");
    assert_eq!(seen.len(), 1, "no retry without a fallback key");
}

#[tokio::test]
async fn fault_forward_other_credential_from_the_environment() {
    let (result, seen, _, _) = list_once(Launch {
        key: Some(PROJECT_KEY),
        env: &[("AUTHCONFORM_REFERENCE_FAULT", " forward-other-credential ,")],
        ..Launch::default()
    })
    .await;
    assert_eq!(text(&result), P1_LIST);
    assert_eq!(seen[0].key.as_deref(), Some(PROJECT_KEY));
    assert_eq!(seen[0].authorization.as_deref(), Some(SERVICE_AUTH));
}

#[tokio::test]
async fn fault_echo_key_in_error() {
    let (result, _, _, stderr) = list_once(Launch {
        key: Some(SENTINEL),
        faults: &["echo-key-in-error"],
        ..Launch::default()
    })
    .await;
    let want = format!("upstream refused key {SENTINEL}: HTTP 401 Unauthorized");
    assert!(is_error(&result), "{result}");
    assert_eq!(text(&result), want);
    assert!(stderr.contains(&want), "{stderr}");

    let (blank, _, _, _) = list_once(Launch {
        key: Some("  "),
        faults: &["echo-key-in-error"],
        ..Launch::default()
    })
    .await;
    assert!(is_error(&blank), "{blank}");
    assert_eq!(text(&blank), r#"no API key (got "  ")"#);
}

#[tokio::test]
async fn fault_partner_lists_one_organization() {
    let upstream = start_upstream().await;
    let mut server = spawn(
        &upstream,
        Launch {
            key: Some(PARTNER_KEY),
            faults: &["partner-lists-one-organization"],
            ..Launch::default()
        },
    );
    server.initialize().await;
    let list = server.call("list_projects", json!({})).await;
    assert!(!is_error(&list), "{list}");
    assert_eq!(text(&list), ORG_A_LIST);
    let one = server
        .call("get_project", json!({"project_id": "P1"}))
        .await;
    assert_eq!(text(&one), P1, "get_project is untouched");
    let (status, _, stderr) = server.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert_eq!(upstream.paths(), ["/projects", "/projects/P1"]);

    // A single-organization listing is unchanged.
    let (result, _, _, _) = list_once(Launch {
        key: Some(PROJECT_KEY),
        faults: &["partner-lists-one-organization"],
        ..Launch::default()
    })
    .await;
    assert_eq!(text(&result), P1_LIST);
}

#[tokio::test]
async fn fault_oauth_callback_listener() {
    let dir = TempDir::new();
    let browser = fake_browser(&dir.0);
    let log = dir.0.join("opened");
    let upstream = start_upstream().await;
    let mut server = spawn(
        &upstream,
        Launch {
            key: Some(PROJECT_KEY),
            faults: &["oauth-callback-listener"],
            env: &[
                ("BROWSER", browser.to_str().expect("utf-8 path")),
                ("BROWSER_LOG", log.to_str().expect("utf-8 path")),
            ],
            ..Launch::default()
        },
    );
    server.initialize().await;
    let list = server.call("list_projects", json!({})).await;
    assert_eq!(text(&list), P1_LIST, "MCP is still served over stdio");

    let url = first_line_of(&log).await;
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.split_once('/'))
        .and_then(|(port, _)| port.parse().ok())
        .unwrap_or_else(|| panic!("not a loopback URL: {url}"));
    assert_eq!(
        url,
        format!(
            "http://127.0.0.1:{port}/authorize?response_type=code&client_id=authconform-reference\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback"
        )
    );
    let pid = server.child.id().expect("pid");
    assert_eq!(listening_ports(pid), [port]);
    timeout(
        DEADLINE,
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    .expect("connect in time")
    .expect("the callback port accepts connections");

    let (status, _, stderr) = server.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    let opened = std::fs::read_to_string(&log).expect("log");
    assert_eq!(opened.lines().count(), 1, "{opened}");

    // Without BROWSER the listener is still opened; nothing else is started.
    let mut server = spawn(
        &upstream,
        Launch {
            key: Some(PROJECT_KEY),
            faults: &["oauth-callback-listener"],
            env: &[("BROWSER", "")],
            ..Launch::default()
        },
    );
    server.initialize().await;
    let pid = server.child.id().expect("pid");
    assert_eq!(listening_ports(pid).len(), 1);
    let (status, _, stderr) = server.finish().await;
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("BROWSER is not set"), "{stderr}");
}

#[tokio::test]
async fn fault_hang_without_key() {
    let upstream = start_upstream().await;
    let mut server = spawn(
        &upstream,
        Launch {
            faults: &["hang-without-key"],
            ..Launch::default()
        },
    );
    server
        .send(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                     "params": Server::initialize_params()}))
        .await;
    assert!(
        server
            .recv_within(Duration::from_millis(500))
            .await
            .is_none(),
        "initialize was answered"
    );
    assert!(
        server.child.try_wait().expect("try_wait").is_none(),
        "exited"
    );
    let (status, lines, _) = server.finish().await;
    assert!(status.success(), "{status}");
    assert!(lines.is_empty(), "{lines:?}");

    // With a key the fault changes nothing.
    let (result, _, _, _) = list_once(Launch {
        key: Some(PROJECT_KEY),
        faults: &["hang-without-key"],
        ..Launch::default()
    })
    .await;
    assert_eq!(text(&result), P1_LIST);
}

#[tokio::test]
async fn bad_arguments_fail_before_any_output() {
    let output = command(
        "http://127.0.0.1:9",
        &Launch {
            faults: &["bogus"],
            ..Launch::default()
        },
    )
    .output()
    .await
    .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());

    let output = command("ftp://127.0.0.1:9", &Launch::default())
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run");
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--upstream"), "{stderr}");
}

//! A scenario's mock world for an MCP client under test (`[world]`, `oauth-client` profile): the mocks'
//! protected MCP server, authorization server and evil server ([`authconform_mocks::MockWorld`]), plus the
//! mock user agent that stands in for the browser. The client's `BROWSER` is a script that appends the URL
//! it is given to a file; while a step runs, the user agent reads that file, opens each URL that points at
//! one of the world's authorization servers, and follows the redirect to the client's loopback callback.
//! When the scenario's AS tampers with `state` in that redirect, the user agent then delivers the callback
//! again with the `state` of the authorization request (the attacker's callback first, the user's after).
//!
//! Offered to templates: `{world.url}` (the MCP endpoint), `{world.url_b}` (the second one),
//! `{world.url_localhost}` and `{world.url_upper_host}` (the first with the host `localhost`, and in upper
//! case with an upper-case scheme), `{world.rs}`, `{world.as}`, `{world.evil}`, `{world.issuer}`,
//! `{world.ca_pem}`.

use crate::redact::Redactor;
use crate::template::Vars;
use authconform_mocks::{
    AsPlace, AsScript, CallbackState, ClientKey, KnownClient, MockWorld, PrmPlace, RsScript,
    TestCa, WorldConfig, WorldMark, WorldRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the RS serves its metadata.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PrmAt {
    /// `/meta/custom-prm.json`, only reachable through `resource_metadata`.
    Custom,
    /// `/.well-known/oauth-protected-resource/mcp`.
    Path,
    /// `/.well-known/oauth-protected-resource`.
    Root,
}

/// Where the AS serves its metadata.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum MetaAt {
    /// RFC 8414 path insertion.
    Oauth,
    /// OpenID Connect discovery, path inserted.
    Oidc,
    /// OpenID Connect discovery, path appended.
    OidcAppended,
    /// RFC 8414 at the root of the MCP server's origin (2025-03-26).
    Legacy,
}

/// How the callback carries `state`.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum StateDef {
    /// The client's.
    #[default]
    Echo,
    /// Another value.
    Wrong,
    /// None.
    Missing,
}

/// A client the AS knows in advance; its credentials reach the client through the context.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDef {
    /// `client_id`.
    pub id: String,
    /// `none`, `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    pub method: String,
    /// Use the client-credentials grant (the extension) instead of a user's authorization.
    #[serde(default)]
    pub client_credentials: bool,
}

/// `[world]`: what the client under test meets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldDef {
    /// The official suite's name for this situation, passed as `MCP_CONFORMANCE_SCENARIO`.
    pub official: Option<String>,
    /// `WWW-Authenticate` fields of the RS's 401 (`{prm}`, `{rs}`, `{issuer}`, `{evil}` filled in).
    #[serde(default)]
    pub challenges: Vec<String>,
    /// Where the RS serves its metadata (default: all three places).
    #[serde(default = "all_prm")]
    pub prm_at: Vec<PrmAt>,
    /// Metadata members set.
    #[serde(default)]
    pub prm: Map<String, Value>,
    /// Metadata members removed.
    #[serde(default)]
    pub prm_remove: Vec<String>,
    /// The n-th authorized MCP request is refused with `invalid_token`.
    pub expire_at: Option<usize>,
    /// The scope `tools/call` needs.
    pub tool_scope: Option<String>,
    /// The issuer's path.
    #[serde(default)]
    pub issuer_path: String,
    /// Where the AS serves its metadata (default: OAuth and both OIDC places).
    #[serde(default = "all_meta")]
    pub metadata_at: Vec<MetaAt>,
    /// AS metadata members set.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// AS metadata members removed.
    #[serde(default)]
    pub metadata_remove: Vec<String>,
    /// The method dynamic registration assigns (`none` by default).
    pub registration_method: Option<String>,
    /// A pre-registered client.
    pub client: Option<ClientDef>,
    /// The AS accepts client ID metadata documents; the context offers `client_metadata_url`.
    #[serde(default)]
    pub cimd: bool,
    /// Scopes the AS grants.
    pub grantable: Option<Vec<String>>,
    /// How the callback carries `state`.
    #[serde(default)]
    pub callback_state: StateDef,
    /// The 2025-03-26 layout: endpoints on the MCP server's origin.
    #[serde(default)]
    pub endpoints_on_rs: bool,
    /// Every AS metadata request is redirected here (`{evil}/…`).
    pub metadata_redirect: Option<String>,
    /// A second RS with its own AS (`{world.url_b}`).
    #[serde(default)]
    pub second: bool,
}

fn all_prm() -> Vec<PrmAt> {
    vec![PrmAt::Custom, PrmAt::Path, PrmAt::Root]
}

fn all_meta() -> Vec<MetaAt> {
    vec![MetaAt::Oauth, MetaAt::Oidc, MetaAt::OidcAppended]
}

/// The URL a CIMD client uses as its `client_id`.
const CLIENT_METADATA_URL: &str = "https://client.authconform.test/client-metadata.json";

/// A running world with its user agent's inputs.
pub struct World {
    mock: std::sync::Arc<MockWorld>,
    opened_file: PathBuf,
    marker: PathBuf,
    browser: PathBuf,
    ca_pem: PathBuf,
    context: String,
    scenario: String,
    /// After a callback with a wrong or missing `state`, deliver the right one too.
    redeliver: bool,
    ua: reqwest::Client,
}

impl WorldDef {
    fn config(&self, secret: Option<&str>, key: Option<&ClientKey>) -> WorldConfig {
        let prm_at = self
            .prm_at
            .iter()
            .map(|p| match p {
                PrmAt::Custom => PrmPlace::Custom,
                PrmAt::Path => PrmPlace::PathInserted,
                PrmAt::Root => PrmPlace::Root,
            })
            .collect();
        let metadata_at = self
            .metadata_at
            .iter()
            .map(|m| match m {
                MetaAt::Oauth => AsPlace::OAuth,
                MetaAt::Oidc => AsPlace::OidcInserted,
                MetaAt::OidcAppended => AsPlace::OidcAppended,
                MetaAt::Legacy => AsPlace::LegacyOnRs,
            })
            .collect();
        let clients = self
            .client
            .iter()
            .map(|c| KnownClient {
                id: c.id.clone(),
                secret: secret.map(str::to_owned),
                method: c.method.clone(),
                public_key: key.map(|k| k.public.clone()),
            })
            .collect();
        WorldConfig {
            rs: RsScript {
                challenges: self.challenges.clone(),
                prm_at,
                prm_set: self.prm.clone(),
                prm_remove: self.prm_remove.clone(),
                expire_at: self.expire_at,
                tool_scope: self.tool_scope.clone(),
            },
            authz: AsScript {
                issuer_path: self.issuer_path.clone(),
                metadata_at,
                metadata_set: self.metadata.clone(),
                metadata_remove: self.metadata_remove.clone(),
                registration_method: self.registration_method.clone(),
                clients,
                grantable: self.grantable.clone(),
                callback_state: match self.callback_state {
                    StateDef::Echo => CallbackState::Echo,
                    StateDef::Wrong => CallbackState::Wrong,
                    StateDef::Missing => CallbackState::Missing,
                },
                cimd: self.cimd,
                endpoints_on_rs: self.endpoints_on_rs,
                metadata_redirect: self.metadata_redirect.clone(),
            },
            second: self.second,
        }
    }

    /// The client's context (`MCP_CONFORMANCE_CONTEXT`), and the secrets in it.
    fn context(
        &self,
        name: &str,
        redactor: &mut Redactor,
    ) -> anyhow::Result<(Value, Option<String>, Option<ClientKey>)> {
        let mut ctx = json!({ "name": name });
        if self.cimd {
            ctx["client_metadata_url"] = json!(CLIENT_METADATA_URL);
        }
        let Some(c) = &self.client else {
            return Ok((ctx, None, None));
        };
        ctx["client_id"] = json!(c.id);
        if c.client_credentials {
            ctx["grant_type"] = json!("client_credentials");
        }
        if c.method == "private_key_jwt" {
            let key = ClientKey::generate()?;
            redactor.add(key.private_pem.clone(), "[KEY:client-private-key]");
            ctx["private_key_pem"] = json!(key.private_pem);
            ctx["signing_algorithm"] = json!("ES256");
            return Ok((ctx, None, Some(key)));
        }
        if c.method == "none" {
            return Ok((ctx, None, None));
        }
        let secret = format!(
            "pre-secret-{}",
            crate::random::string(b"abcdefghijkmnpqrstuvwxyz23456789", 24)
        );
        redactor.add(secret.clone(), "[KEY:client-secret]");
        ctx["client_secret"] = json!(secret);
        Ok((ctx, Some(secret), None))
    }

    /// Starts the world for scenario `id`; its files go to `dir`.
    pub async fn start(
        &self,
        id: &str,
        ca: &TestCa,
        dir: &Path,
        vars: &mut Vars,
        redactor: &mut Redactor,
    ) -> anyhow::Result<World> {
        let name = self
            .official
            .clone()
            .unwrap_or_else(|| format!("authconform/{id}"));
        let (context, secret, key) = self.context(&name, redactor)?;
        let marker = dir.join("pwned.marker");
        let mut config = self.config(secret.as_deref(), key.as_ref());
        plant(&mut config.authz.metadata_set, &marker);
        let mock = MockWorld::start(config, ca.server_config()?).await?;
        let ca_pem = dir.join("world-ca.pem");
        std::fs::write(&ca_pem, ca.ca_pem())?;
        let opened_file = dir.join("opened-urls");
        let browser = dir.join("browser");
        write_browser(&browser, &opened_file)?;
        let o = mock.origins();
        for (k, v) in [
            ("world.url", mock.mcp_url(0)),
            (
                "world.url_localhost",
                mock.mcp_url(0).replacen("127.0.0.1", "localhost", 1),
            ),
            (
                "world.url_upper_host",
                mock.mcp_url(0)
                    .replacen("https://127.0.0.1", "HTTPS://LOCALHOST", 1),
            ),
            ("world.rs", o.rs.clone()),
            ("world.as", o.authz.clone()),
            ("world.evil", o.evil.clone()),
            ("world.issuer", mock.issuer(0)),
            ("world.ca_pem", ca_pem.display().to_string()),
        ] {
            vars.set(k, v);
        }
        if self.second {
            vars.set("world.url_b", mock.mcp_url(1));
        }
        let ua = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.ca_pem().as_bytes())?])
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(World {
            mock: std::sync::Arc::new(mock),
            opened_file,
            marker,
            browser,
            ca_pem,
            context: context.to_string(),
            scenario: name,
            redeliver: self.callback_state != StateDef::Echo,
            ua,
        })
    }
}

/// `{marker}` in metadata strings becomes the path of the file a shell command in a URL would create.
fn plant(map: &mut Map<String, Value>, marker: &Path) {
    for v in map.values_mut() {
        if let Value::String(s) = v {
            *s = s.replace("{marker}", &marker.display().to_string());
        }
    }
}

/// `BROWSER`: appends its argument, unchanged and uninterpreted, as one line of `opened`.
fn write_browser(path: &Path, opened: &Path) -> std::io::Result<()> {
    let quoted = opened.display().to_string().replace('\'', "'\\''");
    std::fs::write(
        path,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{quoted}'\n"),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// What the user agent did with one URL the client asked it to open.
#[derive(Debug, Clone, Serialize)]
pub struct Opened {
    /// The URL.
    pub url: String,
    /// What happened: `followed to the callback → 200`, `not an authorization server of the world`…
    pub outcome: String,
}

/// What the world saw during one step.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WorldSeen {
    /// Requests, in arrival order.
    pub requests: Vec<WorldRequest>,
    /// URLs the client opened through `BROWSER`.
    pub opened: Vec<Opened>,
    /// The shell command planted in an authorization URL (`{marker}`) ran.
    pub shell_ran: bool,
    /// The marker's path (run-specific), shown as `[MARKER]`.
    #[serde(skip)]
    pub marker: String,
}

/// The client's loopback callback (plain http; the world's servers are https), also percent-encoded.
static CALLBACK_PORT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"(http://(?:127\.0\.0\.1|localhost|\[::1\]):|http%3A%2F%2F(?:127\.0\.0\.1|localhost)%3A)\d+")
        .expect("valid pattern")
});

impl WorldSeen {
    /// Transcript lines (the callback's port, chosen by the client, shown as `[PORT:callback]`).
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let mut text = String::new();
        for r in stable_order(&self.requests) {
            let _ = writeln!(text, "world: {}", r.line());
        }
        for o in &self.opened {
            let _ = writeln!(text, "browser: opened {} ({})", o.url, o.outcome);
        }
        if !self.marker.is_empty() {
            let encoded: String =
                url::form_urlencoded::byte_serialize(self.marker.as_bytes()).collect();
            text = text
                .replace(&self.marker, "[MARKER]")
                .replace(&encoded, "[MARKER]");
        }
        out.push_str(&CALLBACK_PORT.replace_all(&text, "${1}[PORT:callback]"));
    }
}

/// The journal in arrival order, without the GETs of the MCP endpoint. A client may open that SSE stream
/// beside its POSTs (the world answers 405, before authentication), racing them and its own exit, so whether
/// and when it lands differs from run to run; it stays in the journal the checks read (a GET that carries a
/// token still counts for OCLI-TOK-*), but not in the transcript. A client's POSTs are sequential, so the
/// transcript is the same from run to run.
fn stable_order(requests: &[WorldRequest]) -> Vec<&WorldRequest> {
    requests
        .iter()
        .filter(|r| !(r.method == "GET" && r.path == "/mcp"))
        .collect()
}

/// The user agent at work during one step; [`UserAgent::finish`] stops it.
pub struct UserAgent {
    stop: tokio::sync::watch::Sender<bool>,
    gave_up: std::sync::Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<Vec<Opened>>,
    mark: WorldMark,
}

impl World {
    /// Environment for the client: `BROWSER`, the CA under `ca_env`, the scenario name and context.
    pub fn env(&self, ca_env: Option<&str>) -> Vec<(String, String)> {
        let mut env = vec![
            ("BROWSER".to_owned(), self.browser.display().to_string()),
            ("MCP_CONFORMANCE_SCENARIO".to_owned(), self.scenario.clone()),
            ("MCP_CONFORMANCE_CONTEXT".to_owned(), self.context.clone()),
        ];
        if let Some(name) = ca_env {
            env.push((name.to_owned(), self.ca_pem.display().to_string()));
        }
        env
    }

    /// Starts the user agent for a step.
    pub fn user_agent(&self) -> UserAgent {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let file = self.opened_file.clone();
        // URLs opened by earlier steps of the scenario are theirs.
        let before = new_lines(&file, 0).len();
        let ua = self.ua.clone();
        let redeliver = self.redeliver;
        let gave_up = std::sync::Arc::new(tokio::sync::Notify::new());
        let notify = gave_up.clone();
        let mock = self.mock.clone();
        let o = self.mock.origins();
        let servers = [
            o.authz.clone(),
            o.authz2.clone(),
            o.rs.clone(),
            o.rs2.clone(),
        ];
        let task = tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let last = *stopped.borrow();
                for url in new_lines(&file, before + done.len()) {
                    let outcome = open(&ua, &servers, &url, redeliver).await;
                    if outcome.starts_with(NOT_OPENED) {
                        gave_up.notify_one();
                    }
                    let url = mock.relabel_url(&url);
                    done.push(Opened { url, outcome });
                }
                if last {
                    return done;
                }
                let _ = tokio::time::timeout(Duration::from_millis(20), stopped.changed()).await;
            }
        });
        UserAgent {
            stop,
            gave_up: notify,
            task,
            mark: self.mock.mark(),
        }
    }

    /// Every secret the world handed out, for the redactor.
    pub fn secrets(&self, redactor: &mut Redactor) {
        for (value, label) in self.mock.secrets() {
            redactor.add(value, format!("[{label}]"));
        }
    }

    /// The base URLs of the world's servers, with their names (for port normalisation).
    pub fn origins(&self) -> Vec<(String, &'static str)> {
        let o = self.mock.origins();
        let mut v = vec![
            (o.rs.clone(), "rs"),
            (o.authz.clone(), "as"),
            (o.evil.clone(), "evil"),
        ];
        if !o.rs2.is_empty() {
            v.push((o.rs2.clone(), "rs2"));
            v.push((o.authz2.clone(), "as2"));
        }
        v
    }
}

/// The outcome of a URL the user agent does not open.
const NOT_OPENED: &str = "not opened";

impl UserAgent {
    /// Notified when the client hands the user agent a URL it does not open: no callback can come then.
    pub fn gave_up(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.gave_up.clone()
    }

    /// Stops the user agent (after a last look at the file) and returns what the world saw.
    pub async fn finish(self, world: &World) -> WorldSeen {
        let _ = self.stop.send(true);
        let opened = self.task.await.unwrap_or_default();
        WorldSeen {
            requests: world.mock.since(self.mark),
            opened,
            shell_ran: world.marker.exists(),
            marker: world.marker.display().to_string(),
        }
    }
}

fn new_lines(file: &Path, seen: usize) -> Vec<String> {
    std::fs::read_to_string(file)
        .map(|t| t.lines().skip(seen).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Opens `url` as a user's browser would, if it points at the world: the authorization request, then the
/// redirect to the client's loopback callback.
async fn open(ua: &reqwest::Client, servers: &[String], url: &str, redeliver: bool) -> String {
    let ours = servers
        .iter()
        .any(|s| !s.is_empty() && url.starts_with(&format!("{s}/")));
    if !ours {
        return format!("{NOT_OPENED}: not a server of this world");
    }
    let resp = match ua.get(url).send().await {
        Ok(r) => r,
        Err(e) => return format!("authorization request failed: {e}"),
    };
    let Some(location) = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return format!(
            "authorization server answered {} without a redirect",
            resp.status().as_u16()
        );
    };
    let right_code = resp
        .headers()
        .get(authconform_mocks::RIGHT_CODE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Ok(target) = url::Url::parse(&location) else {
        return "redirect to an unparsable URL".into();
    };
    let loopback = matches!(target.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if target.scheme() != "http" || !loopback {
        return "redirect not followed: the callback is not an http loopback URL".into();
    }
    let first = match ua.get(target.as_str()).send().await {
        Ok(r) => format!("followed to the callback → {}", r.status().as_u16()),
        Err(e) => return format!("callback unreachable: {}", short(&e)),
    };
    let (true, Some(code)) = (redeliver, right_code) else {
        return first;
    };
    let right = with_state(&target, url, &code);
    match ua.get(right.as_str()).send().await {
        Ok(r) => format!(
            "{first}; then with the state it sent → {}",
            r.status().as_u16()
        ),
        Err(e) => format!("{first}; then with the state it sent: {}", short(&e)),
    }
}

/// The callback `target` with `code` and the `state` of the authorization request `authorize` (none: none).
fn with_state(target: &url::Url, authorize: &str, code: &str) -> url::Url {
    let state = url::Url::parse(authorize).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
    });
    let kept: Vec<(String, String)> = target
        .query_pairs()
        .filter(|(k, _)| k != "state" && k != "code")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut right = target.clone();
    {
        let mut q = right.query_pairs_mut();
        q.clear();
        q.append_pair("code", code);
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        if let Some(s) = &state {
            q.append_pair("state", s);
        }
    }
    right
}

fn short(e: &reqwest::Error) -> String {
    if e.is_connect() {
        "connection refused".into()
    } else if e.is_timeout() {
        "timed out".into()
    } else {
        "error".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(server: &str, method: &str, path: &str) -> WorldRequest {
        let mut r = WorldRequest::default();
        r.server = server.into();
        r.method = method.into();
        r.path = path.into();
        r
    }

    #[test]
    fn the_right_callback_has_the_users_code_and_state() {
        let tampered =
            url::Url::parse("http://127.0.0.1:9/cb?code=c1&state=tampered&iss=https%3A%2F%2Fas")
                .expect("url");
        let right = with_state(
            &tampered,
            "https://as/authorize?state=s%2B1&client_id=x",
            "c2",
        );
        let q: Vec<(String, String)> = right.query_pairs().into_owned().collect();
        assert_eq!(
            q,
            [
                ("code".to_owned(), "c2".to_owned()),
                ("iss".to_owned(), "https://as".to_owned()),
                ("state".to_owned(), "s+1".to_owned()),
            ]
        );
        let none = with_state(&tampered, "https://as/authorize?client_id=x", "c2");
        assert!(!none.as_str().contains("state"), "{none}");
    }

    #[test]
    fn stream_gets_leave_the_transcript_the_rest_in_arrival_order() {
        let journal = [
            req("rs", "POST", "/mcp"),
            req("rs", "GET", "/mcp"),
            req("as", "POST", "/token"),
            req("rs", "DELETE", "/mcp"),
        ];
        let order: Vec<String> = stable_order(&journal)
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        assert_eq!(order, ["POST /mcp", "POST /token", "DELETE /mcp"]);
    }

    #[test]
    fn callback_ports_are_named_world_ports_are_not() {
        let text = "redirect_uri=http://127.0.0.1:41234/cb http%3A%2F%2Flocalhost%3A5555%2Fcb https://127.0.0.1:443/mcp";
        assert_eq!(
            CALLBACK_PORT.replace_all(text, "${1}[PORT:callback]"),
            "redirect_uri=http://127.0.0.1:[PORT:callback]/cb http%3A%2F%2Flocalhost%3A[PORT:callback]%2Fcb https://127.0.0.1:443/mcp"
        );
    }

    #[test]
    fn the_browser_script_records_its_argument_uninterpreted() {
        let dir = tempfile::tempdir().expect("dir");
        let (script, opened) = (dir.path().join("browser"), dir.path().join("it's opened"));
        write_browser(&script, &opened).expect("script");
        let url = "https://as/authorize?x=$(touch${IFS}marker)&y='q'";
        let status = std::process::Command::new(&script)
            .arg(url)
            .current_dir(dir.path())
            .status()
            .expect("run");
        assert!(status.success());
        assert_eq!(
            std::fs::read_to_string(&opened).expect("opened"),
            format!("{url}\n")
        );
        assert!(!dir.path().join("marker").exists());
    }
}

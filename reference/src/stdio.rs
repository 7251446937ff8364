//! `stdio`: the "local install" shape of an MCP server, a thin layer over an
//! upstream REST API that acts as the owner of an API key read from the
//! environment (never OAuth). Tools: `list_projects` and `get_project`.
//!
//! Nothing but the protocol is written to stdout; logs go to stderr.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use http::HeaderValue;
use reqwest::StatusCode;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::ServerInitializeError;
use rmcp::{ServerHandler, ServiceExt as _, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::Value;

use crate::faults::{Fault, Faults};
use crate::upstream_client::{Answer, ApiKey, UpstreamClient};

/// Arguments of `stdio`: the MCP server over stdin/stdout.
#[derive(clap::Args, Debug, Clone)]
pub struct StdioArgs {
    /// Base URL of the upstream REST API the tools call (http or https)
    #[arg(long)]
    pub upstream: String,
    /// Extra root CA (PEM) trusted for outbound HTTPS
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Environment variable holding the API key sent upstream as X-API-Key
    #[arg(long, value_name = "NAME", default_value = "REFERENCE_API_KEY")]
    pub key_env: String,
    /// Environment variable with another credential (read only by the fault retry-with-env-credential)
    #[arg(long, value_name = "NAME", default_value = "REFERENCE_FALLBACK_KEY")]
    pub fallback_key_env: String,
    /// Seeded fault to enable (repeatable); also read from AUTHCONFORM_REFERENCE_FAULT (comma-separated)
    #[arg(long = "fault", value_name = "NAME", value_parser = crate::fault_parser())]
    pub faults: Vec<String>,
}

/// Arguments of the `get_project` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct GetProjectArgs {
    /// The id of the project to read.
    pub project_id: String,
}

/// Everything the tools share.
struct Inner {
    upstream: UpstreamClient,
    key: ApiKey,
    key_env: String,
    /// The fallback credential, read only with `retry-with-env-credential`.
    fallback: Option<(String, HeaderValue)>,
    faults: Faults,
}

/// The stdio MCP server handler.
#[derive(Clone)]
struct StdioServer {
    inner: Arc<Inner>,
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// Serves MCP over stdin/stdout until stdin closes (faults already merged
/// from the environment by the caller).
pub(crate) async fn run(args: StdioArgs) -> anyhow::Result<()> {
    crate::install_crypto_providers();
    let faults = Faults::parse(&args.faults)?;
    let http = crate::build_http_client(args.ca_file.as_ref())?;
    let upstream = UpstreamClient::new(
        &args.upstream,
        http,
        faults.has(Fault::ForwardOtherCredential),
    )?;
    let key = ApiKey::from_env(&args.key_env);
    let fallback = if faults.has(Fault::RetryWithEnvCredential) {
        match ApiKey::from_env(&args.fallback_key_env) {
            ApiKey::Present { value, header } => Some((value, header)),
            _ => None,
        }
    } else {
        None
    };
    if !faults.is_empty() {
        let names: Vec<&str> = faults.iter().map(Fault::name).collect();
        eprintln!(
            "authconform-reference: faults enabled: {}",
            names.join(", ")
        );
    }
    // Held (never accepted on) until the process ends.
    let _oauth_listener = if faults.has(Fault::OauthCallbackListener) {
        start_oauth_flow()
    } else {
        None
    };
    if key.present().is_none() {
        eprintln!(
            "authconform-reference: warning: no usable API key in {}; every tool call will fail",
            args.key_env
        );
        if faults.has(Fault::HangWithoutKey) && matches!(key, ApiKey::Missing { .. }) {
            return hang_until_stdin_closes().await;
        }
    }
    let server = StdioServer {
        inner: Arc::new(Inner {
            upstream,
            key,
            key_env: args.key_env,
            fallback,
            faults,
        }),
    };
    serve(server).await
}

/// Runs the MCP session until stdin closes. A stdin closed before `initialize`
/// is a clean exit.
async fn serve(server: StdioServer) -> anyhow::Result<()> {
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        Err(ServerInitializeError::ConnectionClosed(_)) => {
            eprintln!("authconform-reference: stdin closed before initialize");
            return Ok(());
        }
        Err(e) => return Err(anyhow::anyhow!("MCP initialization failed: {e}")),
    };
    let reason = running.waiting().await?;
    eprintln!("authconform-reference: MCP session ended ({reason:?})");
    Ok(())
}

/// The OAuth authorization URL the `oauth-callback-listener` fault opens,
/// with its redirect URI on the loopback callback listener at `port`.
fn authorize_url(port: u16) -> String {
    format!(
        "http://127.0.0.1:{port}/authorize?response_type=code&client_id=authconform-reference\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback"
    )
}

/// The `oauth-callback-listener` fault: behave like a local server starting
/// an OAuth flow. Binds a callback listener on 127.0.0.1 (returned, to be kept
/// open without accepting) and, when `BROWSER` is set and non-empty, starts it
/// on the authorization URL (reaped in the background, never waited for).
/// Nothing but loopback is contacted; failures are only logged.
fn start_oauth_flow() -> Option<TcpListener> {
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("authconform-reference: binding the OAuth callback listener failed: {e}");
            return None;
        }
    };
    let port = match listener.local_addr() {
        Ok(addr) => addr.port(),
        Err(e) => {
            eprintln!("authconform-reference: OAuth callback listener has no address: {e}");
            return Some(listener);
        }
    };
    let url = authorize_url(port);
    eprintln!(
        "authconform-reference: OAuth callback listener on 127.0.0.1:{port}; authorize at {url}"
    );
    match std::env::var_os("BROWSER") {
        Some(browser) if !browser.is_empty() => {
            let spawned = tokio::process::Command::new(&browser)
                .arg(&url)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            match spawned {
                Ok(mut child) => {
                    tokio::spawn(async move {
                        let _ = child.wait().await;
                    });
                }
                Err(e) => eprintln!("authconform-reference: starting $BROWSER failed: {e}"),
            }
        }
        _ => eprintln!("authconform-reference: BROWSER is not set; not opening the authorize URL"),
    }
    Some(listener)
}

/// The `partner-lists-one-organization` fault: of a JSON array of objects,
/// keeps only those whose `organization` equals the first one's (compared as
/// JSON, a missing member equal only to a missing member). Any other body,
/// including an empty array, is returned unchanged.
fn first_organization_only(body: String) -> String {
    let Ok(Value::Array(projects)) = serde_json::from_str::<Value>(&body) else {
        return body;
    };
    if !projects.iter().all(Value::is_object) {
        return body;
    }
    let Some(organization) = projects.first().map(|p| p.get("organization").cloned()) else {
        return body;
    };
    let kept: Vec<Value> = projects
        .into_iter()
        .filter(|p| p.get("organization") == organization.as_ref())
        .collect();
    serde_json::to_string(&kept).unwrap_or(body)
}

/// The `hang-without-key` fault: read and ignore stdin (never answering)
/// until it closes.
async fn hang_until_stdin_closes() -> anyhow::Result<()> {
    eprintln!("authconform-reference: not answering without an API key");
    let mut stdin = tokio::io::stdin();
    tokio::io::copy(&mut stdin, &mut tokio::io::sink()).await?;
    Ok(())
}

impl StdioServer {
    /// The tool error for a call without a usable key.
    fn key_problem(&self) -> CallToolResult {
        let inner = &self.inner;
        let echo = inner.faults.has(Fault::EchoKeyInError);
        let text = match (&inner.key, echo) {
            (ApiKey::Missing { raw }, true) => format!("no API key (got {raw:?})"),
            (ApiKey::Unusable { value }, true) => format!(
                "the API key in {} is not a valid HTTP header value (got {value:?})",
                inner.key_env
            ),
            (ApiKey::Unusable { .. }, false) => format!(
                "the API key in {} is not a valid HTTP header value",
                inner.key_env
            ),
            _ => format!("no API key: set {}", inner.key_env),
        };
        if echo {
            eprintln!("authconform-reference: {text}");
        }
        tool_error(text)
    }

    /// `GET`s `segments` upstream as the key owner and turns the answer into a
    /// tool result, applying the seeded faults.
    async fn fetch(&self, segments: &[&str]) -> CallToolResult {
        self.fetch_shaped(segments, |body| body).await
    }

    /// [`Self::fetch`], with `shape` applied to a successful answer's body.
    async fn fetch_shaped(
        &self,
        segments: &[&str],
        shape: impl FnOnce(String) -> String,
    ) -> CallToolResult {
        let inner = &self.inner;
        let Some((mut key, header)) = inner.key.present() else {
            return self.key_problem();
        };
        let mut answer = inner.upstream.get(segments, header).await;
        if let (Answer::Refused(StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), Some(fb)) =
            (&answer, &inner.fallback)
        {
            eprintln!("authconform-reference: retrying with the key from the fallback variable");
            key = &fb.0;
            answer = inner.upstream.get(segments, &fb.1).await;
        }
        match answer {
            Answer::Success(body) => CallToolResult::success(vec![ContentBlock::text(shape(body))]),
            Answer::Refused(StatusCode::FORBIDDEN) if inner.faults.has(Fault::MaskUpstream403) => {
                CallToolResult::success(vec![ContentBlock::text("[]")])
            }
            Answer::Refused(status) if inner.faults.has(Fault::EchoKeyInError) => {
                let text = format!("upstream refused key {key}: HTTP {status}");
                eprintln!("authconform-reference: {text}");
                tool_error(text)
            }
            Answer::Refused(status) => {
                tool_error(format!("upstream refused the request: HTTP {status}"))
            }
            Answer::Failed(text) if inner.faults.has(Fault::EchoKeyInError) => {
                let text = format!("{text} (key {key})");
                eprintln!("authconform-reference: {text}");
                tool_error(text)
            }
            Answer::Failed(text) => tool_error(text),
        }
    }
}

#[tool_router]
impl StdioServer {
    /// Lists the projects the API key can see.
    #[tool(
        description = "Lists the projects the configured API key can access (GET /projects upstream)"
    )]
    async fn list_projects(&self) -> CallToolResult {
        let faults = &self.inner.faults;
        let segments: &[&str] = if faults.has(Fault::PartnerScopeForProjectKey) {
            &["partner", "projects"]
        } else {
            &["projects"]
        };
        if faults.has(Fault::PartnerListsOneOrganization) {
            self.fetch_shaped(segments, first_organization_only).await
        } else {
            self.fetch(segments).await
        }
    }

    /// Reads one project.
    #[tool(description = "Reads one project by id (GET /projects/{project_id} upstream)")]
    async fn get_project(
        &self,
        Parameters(GetProjectArgs { project_id }): Parameters<GetProjectArgs>,
    ) -> CallToolResult {
        if self.inner.key.present().is_none() {
            return self.key_problem();
        }
        if matches!(project_id.as_str(), "" | "." | "..") {
            return tool_error("invalid project_id: it must be a non-empty id other than . or ..");
        }
        self.fetch(&["projects", &project_id]).await
    }
}

#[tool_handler(name = "authconform-reference")]
impl ServerHandler for StdioServer {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_organization_only_filters_arrays_of_objects() {
        let keep = |body: &str| first_organization_only(body.to_owned());
        assert_eq!(
            keep(
                r#"[{"id":"A","organization":"o1"}, {"id":"B","organization":"o2"}, {"id":"C","organization":"o1"}]"#
            ),
            r#"[{"id":"A","organization":"o1"},{"id":"C","organization":"o1"}]"#
        );
        assert_eq!(
            keep(r#"[{"id":"A"},{"id":"B","organization":"o2"},{"id":"C"}]"#),
            r#"[{"id":"A"},{"id":"C"}]"#
        );
        for unchanged in [
            "[]",
            " [ ] ",
            r#"{"organization":"o1"}"#,
            r#"[{"organization":"o1"}, 3]"#,
            "not json",
            "",
        ] {
            assert_eq!(keep(unchanged), unchanged);
        }
    }

    #[test]
    fn authorize_url_redirects_to_the_loopback_callback() {
        assert_eq!(
            authorize_url(4711),
            "http://127.0.0.1:4711/authorize?response_type=code&client_id=authconform-reference&redirect_uri=http%3A%2F%2F127.0.0.1%3A4711%2Fcallback"
        );
    }
}

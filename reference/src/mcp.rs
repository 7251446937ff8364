//! The MCP server behind the authorization layer: tools `echo`, `list_projects`
//! and `call_endpoint` (the session layer, `crate::session`).

use std::sync::Arc;

use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

use crate::auth::AuthContext;

/// What the tools need to reach the upstream REST API.
pub(crate) struct ToolEnv {
    /// Base URL of the upstream API, if configured.
    pub upstream: Option<String>,
    /// The server's own upstream API key.
    pub upstream_key: String,
    /// Outbound HTTP client.
    pub http: reqwest::Client,
    /// The active faults (`token-passthrough`, asked when `list_projects` calls upstream).
    pub faults: crate::faults::Faults,
    /// A tool call without the `mcp:tools` scope reaches the tools (`--scope-errors tool-level`), which
    /// refuse it with an error result.
    pub tool_level_scope_errors: bool,
    /// The REST API's state: the compiled APIs and their target-site sessions (`call_endpoint`).
    pub rest: Arc<crate::rest::Rest>,
}

/// Arguments of the `echo` tool.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct EchoArgs {
    /// The text to return.
    pub text: String,
}

/// The MCP server handler.
#[derive(Clone)]
pub(crate) struct ReferenceServer {
    env: Arc<ToolEnv>,
}

impl ReferenceServer {
    pub(crate) fn new(env: Arc<ToolEnv>) -> Self {
        Self { env }
    }
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

impl ReferenceServer {
    /// The tool-level refusal of a caller without the `mcp:tools` scope, when scope errors are tool-level.
    fn scope_refusal(&self, parts: &http::request::Parts) -> Option<CallToolResult> {
        let allowed = parts
            .extensions
            .get::<AuthContext>()
            .is_some_and(|auth| auth.may_call_tools);
        (self.env.tool_level_scope_errors && !allowed)
            .then(|| tool_error("insufficient scope: this tool needs mcp:tools"))
    }
}

#[tool_router]
impl ReferenceServer {
    /// Returns the given text unchanged.
    #[tool(description = "Returns the given text unchanged")]
    fn echo(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(EchoArgs { text }): Parameters<EchoArgs>,
    ) -> CallToolResult {
        self.scope_refusal(&parts)
            .unwrap_or_else(|| CallToolResult::success(vec![ContentBlock::text(text)]))
    }

    /// Calls an endpoint of a compiled API (`crate::session`).
    #[tool(
        description = "Calls an endpoint of a compiled API: login (initiates a target-site session) or inbox (protected). Session credentials session_id and encryption_key are top-level arguments; endpoint parameters go under params"
    )]
    fn call_endpoint(
        &self,
        Extension(parts): Extension<http::request::Parts>,
        Parameters(args): Parameters<crate::session::CallEndpointArgs>,
    ) -> CallToolResult {
        self.scope_refusal(&parts).unwrap_or_else(|| {
            crate::session::call_endpoint(
                &self.env.rest,
                parts.extensions.get::<AuthContext>(),
                args,
            )
        })
    }

    /// Lists the projects of the upstream API.
    #[tool(description = "Lists the projects of the upstream REST API")]
    async fn list_projects(
        &self,
        Extension(parts): Extension<http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        if let Some(refusal) = self.scope_refusal(&parts) {
            return Ok(refusal);
        }
        let Some(upstream) = &self.env.upstream else {
            return Ok(tool_error("no upstream API is configured"));
        };
        let url = format!("{}/projects", upstream.trim_end_matches('/'));
        let mut request = self.env.http.get(&url);
        if self.env.faults.has(crate::faults::Fault::TokenPassthrough) {
            let token = parts
                .extensions
                .get::<AuthContext>()
                .and_then(|auth| auth.token.clone());
            match token {
                Some(token) => request = request.bearer_auth(token),
                None => return Ok(tool_error("no client token to pass upstream")),
            }
        } else {
            request = request.header("X-API-Key", &self.env.upstream_key);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Ok(tool_error(format!(
                    "upstream request failed: {}",
                    e.without_url()
                )));
            }
        };
        let status = response.status();
        if !status.is_success() {
            return Ok(tool_error(format!("upstream answered HTTP {status}")));
        }
        match response.text().await {
            Ok(body) => Ok(CallToolResult::success(vec![ContentBlock::text(body)])),
            Err(e) => Ok(tool_error(format!(
                "reading the upstream response failed: {}",
                e.without_url()
            ))),
        }
    }
}

#[tool_handler(name = "authconform-reference")]
impl ServerHandler for ReferenceServer {}

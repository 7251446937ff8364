//! `mcp_client` steps: a session of the real MCP client (rmcp) over streamable HTTP: initialize, list tools,
//! optionally call the target's `oauth.call_tool`.

use super::mcp_session::{self, Call};
use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
use crate::exchange::McpSession;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// A real MCP client session over streamable HTTP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpClientStep {
    /// Token name used as the bearer credential.
    pub bearer: String,
    /// Also call `{oauth.call_tool}` with `{oauth.call_args}`.
    #[serde(default)]
    pub call_tool: bool,
    /// Or call this tool with these arguments.
    pub call: Option<super::mcp_stdio::ToolCall>,
}

/// What an MCP client session over HTTP achieved.
#[derive(Debug, Clone, Serialize)]
pub struct McpRecord {
    /// Endpoint URL.
    pub url: String,
    /// Token name used.
    pub bearer: String,
    /// The session's result, or the error that ended it.
    pub result: Result<McpSession, String>,
}

impl Kind for McpClientStep {
    type Record = McpRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        cx.token("bearer", &self.bearer)?;
        if let Some(c) = &self.call {
            if self.call_tool {
                return Err(Invalid::new("call", "give `call_tool` or `call`, not both"));
            }
            c.validate(cx)?;
        }
        Ok(())
    }

    fn surface(&self) -> Option<&'static str> {
        Some("mcp-http")
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<McpRecord, String> {
        let vars = cx.vars;
        let url = vars.get("mcp_url").unwrap_or_default().to_string();
        let token = super::expand(vars, &format!("{{token.{}}}", self.bearer))?;
        let call = if let Some(c) = &self.call {
            Some(c.resolve(vars)?)
        } else if self.call_tool {
            let name = super::expand(vars, "{oauth.call_tool}")?;
            let args = serde_json::from_str(vars.get("oauth.call_args").unwrap_or("{}"))
                .unwrap_or_default();
            Some((name, args))
        } else {
            None
        };
        let result = match tokio::time::timeout(cx.timeout, session(cx, &url, token, call)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "MCP session did not finish within {} ms",
                cx.timeout.as_millis()
            )),
        };
        Ok(McpRecord {
            url,
            bearer: self.bearer.clone(),
            result,
        })
    }
}

async fn session(
    cx: &StepCx<'_>,
    url: &str,
    token: String,
    call: Option<Call>,
) -> Result<McpSession, String> {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    let transport = StreamableHttpClientTransport::with_client(
        cx.client.reqwest().clone(),
        StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token),
    );
    let service = ()
        .serve(transport)
        .await
        .map_err(|e| format!("initialize failed: {}", tidy(&e.to_string())))?;
    mcp_session::exercise(service, call).await
}

/// An rmcp error as a reason: without the transport's Rust type name (`Transport [rmcp::…<reqwest::…>]`),
/// which says nothing about the target.
fn tidy(error: &str) -> String {
    let mut out = String::new();
    let mut rest = error;
    while let Some(i) = rest.find("Transport [") {
        let Some(end) = rest[i..].find(']') else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str("transport");
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    out
}

impl Recorded for McpRecord {
    fn view(&self) -> View<'_> {
        View {
            mcp: Some(self.result.as_ref().map_err(String::as_str)),
            json: mcp_session::call_json(&self.result),
            outputs: mcp_session::outputs(&self.result),
            ..View::default()
        }
    }

    fn request_line(&self) -> String {
        format!(
            "MCP client session to {} with token `{}`",
            self.url, self.bearer
        )
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "= MCP client session to {} with token `{}`",
            self.url, self.bearer
        );
        mcp_session::render(out, &self.result);
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;

    #[test]
    fn rust_type_names_leave_rmcp_errors() {
        let e = "Send message error Transport [rmcp::transport::worker::WorkerTransport<A<B>>] error: \
                 unexpected server response: could not parse JSON response";
        assert_eq!(
            tidy(e),
            "Send message error transport error: unexpected server response: could not parse JSON response"
        );
        assert_eq!(tidy("no brackets ["), "no brackets [");
    }
}

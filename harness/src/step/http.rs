//! `http` steps: one request, through reqwest or, with `raw = true`, byte-exact over a raw HTTP/1.1
//! connection (header case, duplicate fields, control bytes).

use super::{Kind, Recorded, StepCx, ValidateCx, View};
use crate::error::Invalid;
use crate::exchange::{Response, SentRequest};
use crate::template::{TemplateError, Vars};
use crate::transcript::{body_text, response_text};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// An HTTP request. Every string is a template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpStep {
    /// Method (default POST).
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in order; a name may repeat. Case is kept exactly with `raw = true`.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Shorthand for `Authorization: Bearer {token.NAME}`.
    pub bearer: Option<String>,
    /// A standard MCP JSON-RPC message as the body, with the MCP request headers.
    pub mcp: Option<McpMessage>,
    /// Tool for `mcp = "tools/call"` (default `{oauth.call_tool}`).
    pub tool: Option<String>,
    /// A literal body (template).
    pub body: Option<String>,
    /// Send the exact bytes over a raw HTTP/1.1 connection (header case, duplicate fields, control bytes).
    #[serde(default)]
    pub raw: bool,
}

fn default_method() -> String {
    "POST".into()
}

/// The standard MCP request bodies of the requirements catalog (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum McpMessage {
    /// `R-INIT`.
    #[serde(rename = "initialize")]
    Initialize,
    /// The `notifications/initialized` notification.
    #[serde(rename = "initialized")]
    Initialized,
    /// `R-LIST`.
    #[serde(rename = "tools/list")]
    ToolsList,
    /// `R-CALL(tool, args)`.
    #[serde(rename = "tools/call")]
    ToolsCall,
}

/// What an `http` step sent and got back.
#[derive(Debug, Clone, Serialize)]
pub struct HttpRecord {
    /// The request.
    pub request: SentRequest,
    /// The response, or why there is none (timeout, refused, garbage).
    pub response: Result<Response, String>,
}

impl Kind for HttpStep {
    type Record = HttpRecord;

    fn validate(&self, cx: &ValidateCx) -> Result<(), Invalid> {
        for (k, v) in [
            ("url", Some(&self.url)),
            ("body", self.body.as_ref()),
            ("tool", self.tool.as_ref()),
        ] {
            if let Some(v) = v {
                cx.template(k, v)?;
            }
        }
        for (n, v) in &self.headers {
            cx.template("headers", n)?;
            cx.template("headers", v)?;
            let bad = |s: &str| s.bytes().any(|b| b < 0x20 && b != b'\t');
            if !self.raw && (bad(n) || bad(v)) {
                return Err(Invalid::new(
                    "headers",
                    "control bytes in a header need `raw = true`",
                ));
            }
        }
        if let Some(b) = &self.bearer {
            cx.token("bearer", b)?;
        }
        if self.mcp.is_some() && self.body.is_some() {
            return Err(Invalid::new("mcp", "give `mcp` or `body`, not both"));
        }
        if self.method.is_empty() || !self.method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(Invalid::new("method", "method must be upper-case letters"));
        }
        Ok(())
    }

    async fn run(&self, cx: &StepCx<'_>) -> Result<HttpRecord, String> {
        let request = build_request(self, cx.vars).map_err(|e| super::why_missing(cx.vars, &e))?;
        let response = cx.client.send(&request, cx.timeout).await;
        Ok(HttpRecord { request, response })
    }
}

impl Recorded for HttpRecord {
    fn view(&self) -> View<'_> {
        let mut v = View {
            response: Some(self.response.as_ref().map_err(String::as_str)),
            ..View::default()
        };
        if let Ok(r) = &self.response {
            v.json = super::JsonSource::Response(r);
            v.outputs.push(("body", &r.body));
        }
        v
    }

    fn request_line(&self) -> String {
        let request = &self.request;
        let mut s = format!("{} {}", request.method, request.url);
        for (n, v) in &request.headers {
            if n.eq_ignore_ascii_case("authorization")
                || n.eq_ignore_ascii_case("mcp-session-id")
                || n.eq_ignore_ascii_case("content-type")
            {
                s.push_str(&format!("  {n}: {}", v.escape_debug()));
            }
        }
        if request.raw {
            s.push_str("  (raw)");
        }
        s
    }

    fn render(&self, out: &mut String) {
        request_text(out, &self.request);
        match &self.response {
            Ok(r) => response_text(out, r),
            Err(e) => {
                let _ = writeln!(out, "< (no response: {e})");
            }
        }
    }
}

fn request_text(out: &mut String, r: &SentRequest) {
    let _ = writeln!(
        out,
        "> {} {}{}",
        r.method,
        r.url,
        if r.raw { "  (raw)" } else { "" }
    );
    let mut headers = r.headers.clone();
    headers.sort_by_key(|(n, _)| n.to_ascii_lowercase());
    for (n, v) in headers {
        let _ = writeln!(out, "> {n}: {}", v.escape_debug());
    }
    if let Some(b) = &r.body {
        let _ = writeln!(out, ">");
        for line in body_text(b).lines() {
            let _ = writeln!(out, "> {line}");
        }
    }
}

/// The body of one of the catalog's standard MCP messages (§1: R-INIT, R-LIST, R-CALL).
pub fn mcp_body(msg: McpMessage, vars: &Vars, tool: Option<&str>) -> Result<String, TemplateError> {
    let version = vars.get("mcp_version").unwrap_or("2025-11-25");
    let v = match msg {
        McpMessage::Initialize => serde_json::json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "authconf", "version": "0"}}
        }),
        McpMessage::Initialized => {
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
        }
        McpMessage::ToolsList => {
            serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        }
        McpMessage::ToolsCall => {
            let name = match tool {
                Some(t) => vars.expand(t)?,
                None => vars.expand("{oauth.call_tool}")?,
            };
            let args: serde_json::Value =
                serde_json::from_str(vars.get("oauth.call_args").unwrap_or("{}"))
                    .unwrap_or_else(|_| serde_json::json!({}));
            serde_json::json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": name, "arguments": args}})
        }
    };
    Ok(v.to_string())
}

/// Builds the request an HTTP step sends.
pub fn build_request(h: &HttpStep, vars: &Vars) -> Result<SentRequest, TemplateError> {
    let url = vars.expand(&h.url)?;
    let mut explicit = Vec::new();
    for (n, v) in &h.headers {
        explicit.push((vars.expand(n)?, vars.expand(v)?));
    }
    let has = |name: &str| {
        explicit
            .iter()
            .any(|(n, _): &(String, String)| n.eq_ignore_ascii_case(name))
    };
    let mut headers = Vec::new();
    let mut body = match &h.body {
        Some(b) => Some(vars.expand(b)?),
        None => None,
    };
    if let Some(msg) = h.mcp {
        body = Some(mcp_body(msg, vars, h.tool.as_deref())?);
        let version = vars.get("mcp_version").unwrap_or("2025-11-25").to_string();
        for (n, v) in [
            ("Content-Type", "application/json".to_string()),
            ("Accept", "application/json, text/event-stream".to_string()),
            ("MCP-Protocol-Version", version),
        ] {
            if !has(n) {
                headers.push((n.to_string(), v));
            }
        }
    }
    if let Some(token) = &h.bearer
        && !has("authorization")
    {
        let value = expand_token(vars, token)?;
        headers.push(("Authorization".into(), format!("Bearer {value}")));
    }
    headers.extend(explicit);
    Ok(SentRequest {
        method: h.method.clone(),
        url,
        headers,
        body,
        raw: h.raw,
    })
}

fn expand_token(vars: &Vars, token: &str) -> Result<String, TemplateError> {
    vars.expand(&format!("{{token.{token}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(toml_text: &str) -> HttpStep {
        toml::from_str(toml_text).expect("parses")
    }

    fn cx() -> ValidateCx {
        ValidateCx::new(["valid".to_string()], Vec::<String>::new())
    }

    #[test]
    fn control_bytes_need_raw() {
        let s = step("url = \"{mcp_url}\"\nheaders = [[\"X\", \"a\\u0001b\"]]\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "headers");
        let s = step("url = \"{mcp_url}\"\nraw = true\nheaders = [[\"X\", \"a\\u0001b\"]]\n");
        assert!(s.validate(&cx()).is_ok());
    }

    #[test]
    fn bearer_must_name_a_token() {
        let s = step("url = \"{mcp_url}\"\nbearer = \"other\"\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "bearer");
    }

    #[test]
    fn mcp_and_body_are_exclusive() {
        let s = step("url = \"{mcp_url}\"\nmcp = \"initialize\"\nbody = \"x\"\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "mcp");
    }

    #[test]
    fn method_is_upper_case() {
        let s = step("url = \"{mcp_url}\"\nmethod = \"get\"\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "method");
    }

    #[test]
    fn templates_are_checked() {
        let s = step("url = \"{nowhere}\"\n");
        assert_eq!(s.validate(&cx()).unwrap_err().field, "url");
    }

    #[test]
    fn mcp_messages_get_their_headers_and_bearer() {
        let mut vars = Vars::default();
        vars.set("mcp_url", "https://x/mcp");
        vars.set("token.valid", "tok");
        let s = step("url = \"{mcp_url}\"\nmcp = \"initialize\"\nbearer = \"valid\"\n");
        let r = build_request(&s, &vars).unwrap();
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Bearer tok".into()))
        );
        assert!(r.headers.iter().any(|(n, _)| n == "MCP-Protocol-Version"));
        assert!(r.body.unwrap().contains("\"initialize\""));
    }
}

//! Running one step: building the request from its template, sending it, and capturing values.

use crate::exchange::{McpSession, SentRequest, StepRecord};
use crate::http::HttpClient;
use crate::scenario::{Capture, HttpStep, McpClientStep, McpMessage, Step};
use crate::template::{TemplateError, Vars};
use std::time::Duration;

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
        explicit.push((n.clone(), vars.expand(v)?));
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
        headers.push((
            "Authorization".into(),
            format!("Bearer {}", vars.expand(&format!("{{token.{token}}}"))?),
        ));
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

/// Runs one step; never fails: a step that cannot run is recorded as such.
pub async fn run(
    step: &Step,
    vars: &mut Vars,
    client: &HttpClient,
    timeout: Duration,
) -> StepRecord {
    let record = if let Some(h) = &step.http {
        match build_request(h, vars) {
            Err(e) => StepRecord::NotRun {
                reason: why_missing(vars, &e),
            },
            Ok(request) => {
                let response = client.send(&request, timeout).await;
                StepRecord::Http { request, response }
            }
        }
    } else if let Some(m) = &step.mcp_client {
        run_mcp(m, vars, client, timeout).await
    } else {
        StepRecord::NotRun {
            reason: "step has no action".into(),
        }
    };
    for (name, cap) in &step.capture {
        match capture(cap, &record) {
            Some(v) => vars.set(name.clone(), v),
            // A capture that finds nothing keeps a value an earlier step found.
            None if vars.get(name).is_some() => {}
            None => vars.set(
                format!("missing.{name}"),
                format!("step `{}` yielded no {}", step.name, describe_capture(cap)),
            ),
        }
    }
    record
}

fn why_missing(vars: &Vars, e: &TemplateError) -> String {
    if let TemplateError::Missing(name) = e
        && let Some(why) = vars.get(&format!("missing.{name}"))
    {
        return format!("`{{{name}}}` has no value: {why}");
    }
    e.to_string()
}

fn describe_capture(c: &Capture) -> String {
    if let Some(h) = &c.header {
        format!("`{h}` header")
    } else if let Some(p) = &c.json {
        format!("JSON value at `{p}`")
    } else if let Some(p) = &c.challenge {
        format!("Bearer challenge parameter `{p}`")
    } else {
        "value".into()
    }
}

fn capture(c: &Capture, record: &StepRecord) -> Option<String> {
    let r = record.response()?;
    if let Some(h) = &c.header {
        return r.header(h).map(str::to_string);
    }
    if let Some(p) = &c.json {
        let v = r.json()?;
        let v = v.pointer(p)?;
        return Some(match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    }
    if let Some(p) = &c.challenge {
        return r
            .challenges()
            .iter()
            .filter(|ch| ch.is("bearer"))
            .find_map(|ch| ch.param(p).map(str::to_string));
    }
    None
}

async fn run_mcp(
    m: &McpClientStep,
    vars: &Vars,
    client: &HttpClient,
    timeout: Duration,
) -> StepRecord {
    use rmcp::ServiceExt;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    let url = vars.get("mcp_url").unwrap_or_default().to_string();
    let token = match vars.expand(&format!("{{token.{}}}", m.bearer)) {
        Ok(t) => t,
        Err(e) => {
            return StepRecord::NotRun {
                reason: e.to_string(),
            };
        }
    };
    let call = if m.call_tool {
        match vars.expand("{oauth.call_tool}") {
            Ok(name) => Some((
                name,
                vars.get("oauth.call_args").unwrap_or("{}").to_string(),
            )),
            Err(e) => {
                return StepRecord::NotRun {
                    reason: e.to_string(),
                };
            }
        }
    } else {
        None
    };
    let session = async {
        let transport = StreamableHttpClientTransport::with_client(
            client.reqwest().clone(),
            StreamableHttpClientTransportConfig::with_uri(url.clone()).auth_header(token),
        );
        let service = ().serve(transport).await.map_err(|e| format!("initialize failed: {e}"))?;
        let info = service.peer_info();
        let (server, protocol_version) = match info.as_deref() {
            Some(i) => (
                i.server_info
                    .as_ref()
                    .map(|s| format!("{} {}", s.name, s.version))
                    .unwrap_or_else(|| "(no server info)".into()),
                i.protocol_version.to_string(),
            ),
            None => ("(no peer info)".into(), String::new()),
        };
        let tools = service
            .list_all_tools()
            .await
            .map_err(|e| format!("tools/list failed: {e}"))?
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        let call = match call {
            None => None,
            Some((name, args)) => {
                let args: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&args).unwrap_or_default();
                let params = rmcp::model::CallToolRequestParams::new(name).with_arguments(args);
                Some(match service.call_tool(params).await {
                    Ok(r) if r.is_error == Some(true) => {
                        Err(format!("tool error: {}", content_text(&r)))
                    }
                    Ok(r) => Ok(content_text(&r)),
                    Err(e) => Err(e.to_string()),
                })
            }
        };
        let _ = service.cancel().await;
        Ok::<_, String>(McpSession {
            server,
            protocol_version,
            tools,
            call,
        })
    };
    let result = match tokio::time::timeout(timeout, session).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "MCP session did not finish within {} ms",
            timeout.as_millis()
        )),
    };
    StepRecord::Mcp {
        url,
        bearer: m.bearer.clone(),
        result,
    }
}

fn content_text(r: &rmcp::model::CallToolResult) -> String {
    serde_json::to_value(&r.content)
        .ok()
        .and_then(|v| {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|c| c.get("text").and_then(|t| t.as_str()).map(str::to_string))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        })
        .unwrap_or_default()
}

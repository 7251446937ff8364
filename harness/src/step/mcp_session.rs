//! What the real MCP client (rmcp) does once connected, over either transport: list tools, optionally call
//! one; and how such a session reads in a transcript.

use crate::exchange::McpSession;
use rmcp::RoleClient;
use rmcp::service::RunningService;
use std::fmt::Write as _;

/// A tool call to make: name and JSON-object arguments.
pub type Call = (String, serde_json::Map<String, serde_json::Value>);

/// Lists the tools, makes `call` if given, and closes the session.
pub async fn exercise(
    service: RunningService<RoleClient, ()>,
    call: Option<Call>,
) -> Result<McpSession, String> {
    let session = exercise_open(&service, call).await;
    let _ = service.cancel().await;
    session
}

/// Lists the tools and makes `call` if given, leaving the session open.
pub async fn exercise_open(
    service: &RunningService<RoleClient, ()>,
    call: Option<Call>,
) -> Result<McpSession, String> {
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
    Ok(McpSession {
        server,
        protocol_version,
        tools,
        call,
    })
}

/// The text contents of a tool result, joined by newlines.
pub fn content_text(r: &rmcp::model::CallToolResult) -> String {
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

/// A session's outcome as transcript lines (`= …`).
pub fn render(out: &mut String, result: &Result<McpSession, String>) {
    match result {
        Ok(s) => {
            let _ = writeln!(out, "= server: {}", s.server);
            let _ = writeln!(out, "= protocol: {}", s.protocol_version);
            let _ = writeln!(out, "= tools: {}", s.tools.join(", "));
            match &s.call {
                Some(Ok(text)) => {
                    let _ = writeln!(out, "= call: ok: {}", crate::transcript::cut(text));
                }
                Some(Err(e)) => {
                    let _ = writeln!(out, "= call: error: {}", crate::transcript::cut(e));
                }
                None => {}
            }
        }
        Err(e) => {
            let _ = writeln!(out, "= failed: {e}");
        }
    }
}

/// The text of a successful tool call, as the step's JSON document.
pub fn call_json(result: &Result<McpSession, String>) -> super::JsonSource<'_> {
    match result {
        Ok(McpSession {
            call: Some(Ok(text)),
            ..
        }) => super::JsonSource::Text(text),
        _ => super::JsonSource::None,
    }
}

/// The texts a session saw (tool output or error, failure), for output expectations.
pub fn outputs(result: &Result<McpSession, String>) -> Vec<(&'static str, &str)> {
    match result {
        Ok(s) => match &s.call {
            Some(Ok(t)) | Some(Err(t)) => vec![("tool", t.as_str())],
            None => vec![],
        },
        Err(e) => vec![("error", e.as_str())],
    }
}

//! `mcp_ok` and `tool_error`: how an MCP client session (over HTTP or stdio) ended.

use super::{Expectation, Fail, snippet};
use crate::exchange::McpSession;
use crate::step::View;
use crate::template::Vars;
use serde::Deserialize;

fn session<'a>(view: &View<'a>) -> Result<Result<&'a McpSession, &'a str>, Fail> {
    view.mcp.ok_or_else(|| {
        (
            "an MCP client session".into(),
            "this kind of step has none".into(),
        )
    })
}

/// `mcp_ok = true`: the session (and its tool call, if any) succeeded; `false`: the session was refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct McpOk(pub bool);

impl Expectation for McpOk {
    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        match (session(view)?, self.0) {
            (Ok(s), true) => match &s.call {
                Some(Err(e)) => Err(("the tool call to succeed".into(), e.clone())),
                _ => Ok(()),
            },
            (Err(e), true) => Err(("an MCP session to succeed".into(), e.to_string())),
            (Ok(_), false) => Err((
                "the MCP session to be refused".into(),
                "it succeeded".into(),
            )),
            (Err(_), false) => Ok(()),
        }
    }
}

/// `tool_error = true`: the tool call was refused, judged by meaning: a tool result with `isError: true` and a
/// JSON-RPC error object both refuse and return no data, the catalog's tool-level "refused"; `false`: the call
/// succeeded (a result that is not an error).
///
/// On an MCP client step (`mcp_client`, `mcp_stdio`) the session must have started and made the call. On an
/// `http` step (`mcp = "tools/call"`) the response's JSON-RPC message is judged: its `error` object, or its
/// `result.isError`.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ToolError(pub bool);

/// How a JSON-RPC response to `tools/call` answered: `Err` the refusal (a JSON-RPC error or an `isError`
/// result), `Ok` the served result; `None` when it is not such a response.
fn jsonrpc_call(doc: &serde_json::Value) -> Option<Result<String, String>> {
    if let Some(e) = doc.get("error").filter(|e| e.is_object()) {
        return Some(Err(format!(
            "a JSON-RPC error: {}",
            snippet(&e.to_string())
        )));
    }
    let result = doc.get("result")?;
    if result.get("isError").and_then(serde_json::Value::as_bool) == Some(true) {
        Some(Err(format!(
            "a tool result with isError: {}",
            snippet(&result.to_string())
        )))
    } else {
        Some(Ok(result.to_string()))
    }
}

impl Expectation for ToolError {
    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let want = if self.0 {
            "the tool call to be refused (an isError result or a JSON-RPC error)"
        } else {
            "the tool call to succeed"
        };
        let call = match view.mcp {
            Some(s) => {
                let s = s.map_err(|e| (want.to_string(), format!("the session failed: {e}")))?;
                s.call.clone()
            }
            None if !matches!(view.json, crate::step::JsonSource::None) => {
                let doc = view.json().ok_or_else(|| {
                    (
                        want.to_string(),
                        "the response is not a JSON-RPC message".to_string(),
                    )
                })?;
                Some(jsonrpc_call(&doc).ok_or_else(|| {
                    (
                        want.to_string(),
                        format!(
                            "a JSON-RPC message with neither `result` nor `error`: {}",
                            snippet(&doc.to_string())
                        ),
                    )
                })?)
            }
            None => {
                return Err((
                    "an MCP tool call".into(),
                    "this kind of step has none".into(),
                ));
            }
        };
        match (&call, self.0) {
            (None, _) => Err((want.into(), "no tool call was made".into())),
            (Some(Err(_)), true) | (Some(Ok(_)), false) => Ok(()),
            (Some(Ok(t)), true) => Err((want.into(), format!("it succeeded: {}", snippet(t)))),
            (Some(Err(e)), false) => Err((want.into(), snippet(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(call: Option<Result<String, String>>) -> McpSession {
        McpSession {
            server: "s".into(),
            protocol_version: "v".into(),
            tools: vec![],
            call,
        }
    }

    fn view(s: &Result<McpSession, String>) -> View<'_> {
        View {
            mcp: Some(s.as_ref().map_err(String::as_str)),
            ..View::default()
        }
    }

    #[test]
    fn tool_error_needs_a_started_session_and_a_refused_call() {
        let v = Vars::default();
        let refused = Ok(session(Some(Err("tool error: no".into()))));
        let served = Ok(session(Some(Ok("[]".into()))));
        let broken: Result<McpSession, String> = Err("no answer within 10 ms".into());
        assert!(ToolError(true).judge_step(&view(&refused), &v).is_ok());
        assert!(ToolError(true).judge_step(&view(&served), &v).is_err());
        assert!(
            ToolError(true).judge_step(&view(&broken), &v).is_err(),
            "a hang is not a refusal"
        );
        assert!(ToolError(false).judge_step(&view(&served), &v).is_ok());
        assert!(ToolError(true).judge_step(&View::default(), &v).is_err());
    }

    fn http_view(doc: &str) -> View<'_> {
        View {
            json: crate::step::JsonSource::Text(doc),
            ..View::default()
        }
    }

    #[test]
    fn tool_error_judges_an_http_tools_call_by_meaning() {
        let v = Vars::default();
        let is_error = r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"no"}],"isError":true}}"#;
        let rpc_error =
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32001,"message":"insufficient scope"}}"#;
        let served =
            r#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"hi"}]}}"#;
        let served_false = r#"{"jsonrpc":"2.0","id":3,"result":{"content":[],"isError":false}}"#;
        for refused in [is_error, rpc_error] {
            assert!(
                ToolError(true).judge_step(&http_view(refused), &v).is_ok(),
                "{refused}"
            );
            assert!(
                ToolError(false)
                    .judge_step(&http_view(refused), &v)
                    .is_err(),
                "{refused}"
            );
        }
        for ok in [served, served_false] {
            let (_, got) = ToolError(true).judge_step(&http_view(ok), &v).unwrap_err();
            assert!(got.starts_with("it succeeded"), "{got}");
            assert!(
                ToolError(false).judge_step(&http_view(ok), &v).is_ok(),
                "{ok}"
            );
        }
        assert!(
            ToolError(true)
                .judge_step(&http_view("not json"), &v)
                .is_err()
        );
        assert!(
            ToolError(true)
                .judge_step(&http_view(r#"{"jsonrpc":"2.0","id":3}"#), &v)
                .is_err(),
            "neither result nor error"
        );
        assert!(
            ToolError(true)
                .judge_step(&http_view(r#"{"jsonrpc":"2.0","id":3,"error":"x"}"#), &v)
                .is_err(),
            "an error that is not an object is no JSON-RPC error"
        );
    }

    #[test]
    fn mcp_ok_both_ways() {
        let v = Vars::default();
        let served = Ok(session(Some(Ok("x".into()))));
        let refused_call = Ok(session(Some(Err("e".into()))));
        let broken: Result<McpSession, String> = Err("401".into());
        assert!(McpOk(true).judge_step(&view(&served), &v).is_ok());
        assert!(McpOk(true).judge_step(&view(&refused_call), &v).is_err());
        assert!(McpOk(false).judge_step(&view(&broken), &v).is_ok());
        assert!(McpOk(false).judge_step(&view(&served), &v).is_err());
    }
}

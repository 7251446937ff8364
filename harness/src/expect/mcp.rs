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

/// `tool_error = true`: the session started and the tool call was refused (a result with `isError`, or a
/// JSON-RPC error), the catalog's tool-level "refused"; `false`: the call succeeded.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct ToolError(pub bool);

impl Expectation for ToolError {
    fn judge_step(&self, view: &View<'_>, _vars: &Vars) -> Result<(), Fail> {
        let want = if self.0 {
            "the session to start and the tool call to be refused"
        } else {
            "the tool call to succeed"
        };
        let s =
            session(view)?.map_err(|e| (want.to_string(), format!("the session failed: {e}")))?;
        match (&s.call, self.0) {
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

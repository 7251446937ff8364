//! The `call_endpoint` tool on `/mcp`: session values are top-level
//! arguments; values inside `params` are ordinary parameters (and are not
//! passed on to the site as such).

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::schemars;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Endpoint, HostPrincipal, Pair, Presented, SessionRefusal};
use crate::auth::AuthContext;
use crate::faults::Fault;
use crate::rest::Rest;

/// The subject prefix of an MCP caller authenticated by `X-API-Key`.
const API_KEY_SUBJECT: &str = "api-key:";

/// Arguments of the `call_endpoint` tool.
#[derive(Deserialize, schemars::JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
pub(crate) struct CallEndpointArgs {
    /// The compiled API to call.
    pub api_id: String,
    /// The endpoint: `login` (initiates a session) or `inbox` (needs a session).
    pub endpoint_name: String,
    /// The session ID from `login` (protected endpoints).
    #[serde(default)]
    pub session_id: Option<String>,
    /// The encryption key from `login` (protected endpoints).
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// The endpoint's parameters (`login`: email, password; `inbox`: folder).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
}

fn text(value: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(value.to_string())])
}

fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// The host principal of an MCP caller: its key for `X-API-Key`, else its
/// OAuth subject.
fn principal(auth: &AuthContext) -> HostPrincipal {
    match auth.subject.strip_prefix(API_KEY_SUBJECT) {
        Some(key_id) if auth.token.is_none() => HostPrincipal::Key(key_id.to_owned()),
        _ => HostPrincipal::OAuth(auth.subject.clone()),
    }
}

/// The session values among the top-level arguments.
fn presented(id: Option<String>, key: Option<String>) -> Presented {
    match (id, key) {
        (None, None) => Presented::Nothing,
        (Some(id), Some(key)) if !id.is_empty() && !key.is_empty() => {
            Presented::Pair(Pair { id, key })
        }
        _ => Presented::Partial,
    }
}

/// Runs `call_endpoint` for the authenticated MCP caller `auth`.
///
/// Results are JSON text: `login` → `{session_id, encryption_key,
/// initiates_session}`, `inbox` → `{user, folder}`. Refusals are error
/// results with the text `session_required`, `invalid_session`,
/// `login_failed` or `not_found: …`.
pub(crate) fn call_endpoint(
    rest: &Rest,
    auth: Option<&AuthContext>,
    args: CallEndpointArgs,
) -> CallToolResult {
    let Some(auth) = auth else {
        return tool_error("unauthenticated");
    };
    let caller = principal(auth);
    if !rest.api_exists(&args.api_id) {
        return tool_error("not_found: no such API");
    }
    let Some(endpoint) = Endpoint::parse(&args.endpoint_name) else {
        return tool_error("not_found: no such endpoint");
    };
    let params = super::site_params(args.params.unwrap_or_default());
    let faults = rest.faults();
    match endpoint {
        Endpoint::Login => {
            let (email, password) = super::login_fields(&params);
            match rest.sessions().login(caller, email, password) {
                Some(pair) => text(&super::login_result(&pair)),
                None => tool_error("login_failed"),
            }
        }
        Endpoint::Inbox => {
            let presented = presented(args.session_id, args.encryption_key);
            let skip = faults.has(Fault::SessionOptional)
                || (auth.token.is_some() && faults.has(Fault::BearerReplacesSession));
            match rest.sessions().resolve(presented, &caller, skip) {
                Ok(user) => text(&super::inbox(user, &params)),
                Err(SessionRefusal::Invalid(pair)) if faults.has(Fault::EchoSession) => {
                    tool_error(format!(
                        "invalid_session (session_id: {}, encryption_key: {})",
                        pair.id, pair.key
                    ))
                }
                Err(refusal) => tool_error(refusal.code()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_key_subjects_without_a_token_are_key_principals() {
        let auth = |subject: &str, token: Option<&str>| AuthContext {
            subject: subject.to_owned(),
            token: token.map(str::to_owned),
            may_call_tools: true,
        };
        assert_eq!(
            principal(&auth("api-key:key-a", None)),
            HostPrincipal::Key("key-a".into())
        );
        assert_eq!(
            principal(&auth("api-key:key-a", Some("jwt"))),
            HostPrincipal::OAuth("api-key:key-a".into())
        );
        assert_eq!(
            principal(&auth("alice", Some("jwt"))),
            HostPrincipal::OAuth("alice".into())
        );
    }

    #[test]
    fn both_top_level_values_are_needed() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(presented(None, None), Presented::Nothing);
        assert_eq!(presented(s("i"), None), Presented::Partial);
        assert_eq!(presented(None, s("k")), Presented::Partial);
        assert_eq!(presented(s(""), s("k")), Presented::Partial);
        assert!(matches!(presented(s("i"), s("k")), Presented::Pair(_)));
    }
}

//! The world's protected MCP server: `/mcp` answering JSON-RPC (initialize, tools/list, tools/call `whoami`)
//! to requests that carry a live token of its own AS, and a 401 with the scripted challenges otherwise; its
//! protected-resource metadata at the scripted places.

use super::authz::{self, check_token, issuer_of};
use super::record::status;
use super::{PrmPlace, Role, Shared, State, WorldRequest};
use axum::http::{self, request::Parts};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Handles a request to side `i`'s RS.
pub(crate) fn handle(
    w: &Shared,
    st: &mut State,
    i: usize,
    parts: &Parts,
    body: &[u8],
    rec: &mut WorldRequest,
) -> Response {
    let path = parts.uri.path();
    if path == "/mcp" && parts.method == http::Method::GET {
        // No SSE stream here (MCP streamable HTTP allows 405), answered before authentication so that a
        // client's stream, which races its POSTs, never drives its OAuth (nor counts toward `expire_at`).
        presented(st, rec);
        return status(405, r#"{"error":"method not allowed"}"#);
    }
    if path == "/mcp" {
        return mcp(w, st, i, parts, body, rec);
    }
    if parts.method == http::Method::GET
        && let Some(place) = prm_place(path)
    {
        if w.config.rs.prm_at.contains(&place) {
            return axum::Json(prm(w, i)).into_response();
        }
        return status(404, r#"{"error":"not_found"}"#);
    }
    if authz::legacy(w) {
        return authz::handle(w, st, i, parts, rec);
    }
    status(404, r#"{"error":"not_found"}"#)
}

fn prm_place(path: &str) -> Option<PrmPlace> {
    match path {
        "/meta/custom-prm.json" => Some(PrmPlace::Custom),
        "/.well-known/oauth-protected-resource/mcp" => Some(PrmPlace::PathInserted),
        "/.well-known/oauth-protected-resource" => Some(PrmPlace::Root),
        _ => None,
    }
}

fn prm(w: &Shared, i: usize) -> Value {
    let mut m = json!({
        "resource": format!("{}/mcp", w.origin(Role::Rs(i))),
        "authorization_servers": [w.issuer(i)],
        "bearer_methods_supported": ["header"],
    });
    let map = m.as_object_mut().expect("object");
    w.expand_map(i, map, &w.config.rs.prm_set);
    for k in &w.config.rs.prm_remove {
        map.remove(k);
    }
    m
}

fn challenge(w: &Shared, i: usize, extra: &str) -> Vec<String> {
    if !extra.is_empty() {
        return vec![w.expand(i, &format!("Bearer {extra}, resource_metadata=\"{{prm}}\""))];
    }
    if w.config.rs.challenges.is_empty() {
        return vec![w.expand(i, "Bearer resource_metadata=\"{prm}\"")];
    }
    w.config
        .rs
        .challenges
        .iter()
        .map(|c| w.expand(i, c))
        .collect()
}

fn refuse(w: &Shared, i: usize, code: u16, extra: &str, rec: &mut WorldRequest) -> Response {
    let mut resp = status(
        code,
        r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"unauthorized"}}"#,
    );
    for c in challenge(w, i, extra) {
        if let Ok(v) = http::HeaderValue::from_str(&c) {
            resp.headers_mut().append(http::header::WWW_AUTHENTICATE, v);
        }
    }
    if !extra.is_empty() {
        rec.note = Some(extra.to_owned());
    }
    resp
}

/// Which token the request presents, and whether it is in the URL.
fn presented(st: &State, rec: &mut WorldRequest) -> Option<String> {
    rec.token_in_url = rec.query.iter().any(|(n, v)| {
        n == "access_token" || st.labels.known(v).is_some_and(|l| l.starts_with("at#"))
    });
    let h = rec.raw_authorization()?.to_owned();
    let (scheme, t) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = t.trim().to_owned();
    rec.token = st.labels.known(&t).map(str::to_owned);
    rec.token_from = issuer_of(st, &t).map(str::to_owned);
    Some(t)
}

fn mcp(
    w: &Shared,
    st: &mut State,
    i: usize,
    parts: &Parts,
    body: &[u8],
    rec: &mut WorldRequest,
) -> Response {
    let Some(token) = presented(st, rec) else {
        return refuse(w, i, 401, "", rec);
    };
    let Some((true, scope)) = check_token(st, i, &token) else {
        return refuse(w, i, 401, "error=\"invalid_token\"", rec);
    };
    st.authorized[i] += 1;
    if w.config.rs.expire_at == Some(st.authorized[i]) {
        st.sides[i].expire(&token);
        return refuse(w, i, 401, "error=\"invalid_token\"", rec);
    }
    rpc(w, i, parts, body, scope.as_deref(), rec)
}

fn rpc(
    w: &Shared,
    i: usize,
    parts: &Parts,
    body: &[u8],
    scope: Option<&str>,
    rec: &mut WorldRequest,
) -> Response {
    match parts.method.as_str() {
        "POST" => {}
        "DELETE" => return status(200, "{}"),
        _ => return status(405, r#"{"error":"method not allowed"}"#),
    }
    let msg: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(id) = msg.get("id").cloned() else {
        return status(202, "");
    };
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let result = match method {
        "initialize" => json!({
            "protocolVersion": msg.pointer("/params/protocolVersion").cloned().unwrap_or(json!("2025-06-18")),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "authconform-world", "version": "1"},
        }),
        "tools/list" => json!({"tools": [{
            "name": "whoami",
            "description": "Who the token is for",
            "inputSchema": {"type": "object", "properties": {}},
        }]}),
        "tools/call" => {
            if let Some(need) = &w.config.rs.tool_scope
                && !scope.unwrap_or("").split(' ').any(|s| s == need)
            {
                let extra = format!("error=\"insufficient_scope\", scope=\"{need}\"");
                return refuse(w, i, 403, &extra, rec);
            }
            json!({"content": [{"type": "text", "text": "alice"}], "isError": false})
        }
        "ping" => json!({}),
        _ => {
            return axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "method not found"}}))
                .into_response();
        }
    };
    let mut resp =
        axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
    if method == "initialize" {
        resp.headers_mut().insert(
            "mcp-session-id",
            http::HeaderValue::from_static("world-session-1"),
        );
    }
    resp
}

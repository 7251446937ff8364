//! The world's journal: one [`WorldRequest`] per request any of its servers received, with every secret
//! value replaced by a stable label ([`Labels`]) such as `at#1`, `code#2` or `state#1`.

use axum::http;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use std::collections::BTreeMap;

/// Parameters whose values are secrets or random per run: labelled, never stored.
const LABELLED: &[(&str, &str)] = &[
    ("code", "code"),
    ("code_verifier", "verifier"),
    ("code_challenge", "challenge"),
    ("refresh_token", "rt"),
    ("access_token", "at"),
    ("client_secret", "secret"),
    ("client_assertion", "assertion"),
    ("assertion", "assertion"),
    ("state", "state"),
];

/// How a token request authenticated its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `client_id` only.
    None,
    /// An HTTP Basic header.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
    /// A JWT assertion (RFC 7523).
    PrivateKeyJwt,
    /// More than one method in the same request (RFC 6749 §2.3 forbids it).
    Several,
}

impl ClientAuth {
    /// The RFC 7591 name.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::ClientSecretBasic => "client_secret_basic",
            ClientAuth::ClientSecretPost => "client_secret_post",
            ClientAuth::PrivateKeyJwt => "private_key_jwt",
            ClientAuth::Several => "several",
        }
    }
}

/// What the AS made of an authorization-code exchange's PKCE (RFC 7636 §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pkce {
    /// S256 challenge, and the verifier matches it and is 43–128 unreserved characters.
    S256Verified,
    /// `plain` was used.
    Plain,
    /// No challenge in the authorization request.
    NoChallenge,
    /// No verifier in the token request.
    NoVerifier,
    /// The verifier does not match the challenge.
    Mismatch,
    /// The verifier is not 43–128 unreserved characters.
    BadVerifier,
}

/// One request, as a server of the world received it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct WorldRequest {
    /// `rs`, `as`, `evil`, `rs2` or `as2`.
    pub server: String,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query parameters (secret values labelled).
    pub query: Vec<(String, String)>,
    /// Form-encoded or JSON body members (secret values labelled; JSON arrays joined by spaces).
    pub form: Vec<(String, String)>,
    /// The JSON-RPC method of an MCP request.
    pub rpc: Option<String>,
    /// The `Authorization` header, secret parts labelled (`Bearer at#1`, `Basic client#1:secret#1`).
    pub authorization: Option<String>,
    /// The label of the access token presented in the header, if one the world issued.
    pub token: Option<String>,
    /// Which AS issued that token (`as`, `as2`).
    pub token_from: Option<String>,
    /// An issued token, or `access_token`, appears in the URL.
    pub token_in_url: bool,
    /// Token endpoint: the client authentication used.
    pub client_auth: Option<ClientAuth>,
    /// Token endpoint, authorization-code grant: PKCE.
    pub pkce: Option<Pkce>,
    /// Scope granted, or challenged in a refusal.
    pub scope: Option<String>,
    /// Status answered.
    pub status: u16,
    /// What the server made of it, when not obvious from the status (`invalid_token`, `insufficient_scope`).
    pub note: Option<String>,
    #[serde(skip)]
    raw_authorization: Option<String>,
}

impl WorldRequest {
    /// A record of a request, before handling.
    pub(crate) fn new(server: &str, parts: &http::request::Parts, body: &[u8]) -> WorldRequest {
        let query = pairs(parts.uri.query().unwrap_or(""));
        let ctype = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let (form, rpc) = if ctype.contains("json") {
            json_members(body)
        } else {
            (pairs(&String::from_utf8_lossy(body)), None)
        };
        WorldRequest {
            server: server.into(),
            method: parts.method.to_string(),
            path: parts.uri.path().into(),
            query,
            form,
            rpc,
            raw_authorization: parts
                .headers
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..WorldRequest::default()
        }
    }

    /// The raw `Authorization` header (never stored).
    pub(crate) fn raw_authorization(&self) -> Option<&str> {
        self.raw_authorization.as_deref()
    }

    /// A query or body parameter, raw (before labelling).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .chain(&self.form)
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The record with its secrets labelled, ready to keep.
    pub(crate) fn labelled(mut self, labels: &mut Labels) -> WorldRequest {
        for list in [&mut self.query, &mut self.form] {
            for (name, value) in list.iter_mut() {
                *value = labels.relabel(name, value);
            }
        }
        self.authorization = self.raw_authorization.take().map(|h| labels.header(&h));
        self
    }

    /// One line: `as POST /token grant_type=… → 200`.
    pub fn line(&self) -> String {
        let params: Vec<String> = self
            .query
            .iter()
            .chain(&self.form)
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let mut out = format!("{} {} {}", self.server, self.method, self.path);
        if let Some(r) = &self.rpc {
            out.push_str(&format!(" [{r}]"));
        }
        if !params.is_empty() {
            out.push_str(&format!(" {}", params.join(" ")));
        }
        if let Some(a) = &self.authorization {
            out.push_str(&format!(" (Authorization: {a})"));
        }
        out.push_str(&format!(" → {}", self.status));
        if let Some(n) = &self.note {
            out.push_str(&format!(" {n}"));
        }
        out
    }
}

/// Labels for secret values: the same value always gets the same label within a world.
#[derive(Debug, Default)]
pub struct Labels {
    by_value: BTreeMap<String, String>,
    counts: BTreeMap<String, usize>,
}

impl Labels {
    /// The label of `value` as a `kind` (`at`, `code`…), made on first sight.
    pub fn label(&mut self, kind: &str, value: &str) -> String {
        if let Some(l) = self.by_value.get(value) {
            return l.clone();
        }
        let n = self.counts.entry(kind.to_owned()).or_insert(0);
        *n += 1;
        let label = format!("{kind}#{n}");
        self.by_value.insert(value.to_owned(), label.clone());
        label
    }

    /// The label of `value`, if it has one.
    pub fn known(&self, value: &str) -> Option<&str> {
        self.by_value.get(value).map(String::as_str)
    }

    pub(crate) fn relabel(&mut self, name: &str, value: &str) -> String {
        if value.is_empty() {
            return String::new();
        }
        if let Some(l) = self.known(value) {
            return l.to_owned();
        }
        match LABELLED.iter().find(|(n, _)| *n == name) {
            Some((_, kind)) => self.label(kind, value),
            None => value.to_owned(),
        }
    }

    fn header(&mut self, h: &str) -> String {
        let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            return match basic_pair(rest) {
                Some((id, secret)) => format!(
                    "{scheme} {}:{}",
                    self.known(&id).map_or(id.clone(), str::to_owned),
                    self.relabel("client_secret", &secret)
                ),
                None => format!("{scheme} [undecodable]"),
            };
        }
        let label = self.relabel("access_token", rest);
        format!("{scheme} {label}")
    }

    /// Every (value, label) pair.
    pub fn secrets(&self) -> Vec<(String, String)> {
        self.by_value
            .iter()
            .map(|(v, l)| (v.clone(), l.clone()))
            .collect()
    }
}

/// The form-urlencoded `client_id` and `client_secret` of a Basic credential (RFC 6749 §2.3.1).
pub fn basic_pair(b64: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

fn pairs(s: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(s.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

fn json_members(body: &[u8]) -> (Vec<(String, String)>, Option<String>) {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return (Vec::new(), None);
    };
    if let Some(m) = map.get("method").and_then(|m| m.as_str()) {
        return (Vec::new(), Some(m.to_owned()));
    }
    let members = map
        .iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(" "),
                o => o.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    (members, None)
}

/// A JSON answer with `status`.
pub(crate) fn status(code: u16, body: &str) -> Response {
    (
        http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}

//! What HTTP and MCP steps sent and got back: requests, responses and MCP sessions.

use serde::Serialize;

/// A request as sent.
#[derive(Debug, Clone, Serialize)]
pub struct SentRequest {
    /// Method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers in the order and case sent.
    pub headers: Vec<(String, String)>,
    /// Body, if any (lossy UTF-8).
    pub body: Option<String>,
    /// Sent over a raw HTTP/1.1 connection.
    pub raw: bool,
}

/// A response as received.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body (lossy UTF-8), possibly cut (see `body_cut`).
    pub body: String,
    /// Why the body is incomplete, if it is (size cap, stream left open).
    pub body_cut: Option<String>,
}

impl Response {
    /// Every value of header `name`.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The challenges of every `WWW-Authenticate` field.
    pub fn challenges(&self) -> Vec<crate::challenge::Challenge> {
        crate::challenge::parse_all(self.header_values("www-authenticate"))
    }

    /// The body as JSON: plain JSON, or the last JSON `data:` event of an SSE stream.
    pub fn json(&self) -> Option<serde_json::Value> {
        if let Ok(v) = serde_json::from_str(&self.body) {
            return Some(v);
        }
        self.body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .next_back()
    }
}

/// What an MCP client session achieved.
#[derive(Debug, Clone, Serialize)]
pub struct McpSession {
    /// Server name and version from `initialize`.
    pub server: String,
    /// Negotiated protocol version.
    pub protocol_version: String,
    /// Tool names from `tools/list`.
    pub tools: Vec<String>,
    /// Result of the tool call, if one was made: text content, or the error.
    pub call: Option<Result<String, String>>,
}

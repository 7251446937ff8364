//! The mock upstream API an MCP server calls on the user's behalf.

use std::fmt;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A mock upstream API (plain HTTP on `127.0.0.1`), recording every request.
///
/// Serves `GET /projects` with `200` and the JSON array
/// `[{"id":"p1","name":"Project One"},{"id":"p2","name":"Project Two"}]`;
/// anything else gets wiremock's default `404`. Shuts down when dropped.
pub struct MockUpstream {
    server: MockServer,
}

impl fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUpstream")
            .field("base_url", &self.server.uri())
            .finish_non_exhaustive()
    }
}

/// One request received by a [`MockUpstream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The request path, without the query string.
    pub path: String,
    /// The request headers, names lower-case, in arrival order (repeated
    /// values of one header name are listed together).
    pub headers: Vec<(String, String)>,
}

impl JournalEntry {
    /// The values of header `name` (matched case-insensitively), in order.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl MockUpstream {
    /// Start the upstream on `127.0.0.1` with an OS-chosen port.
    ///
    /// Must be called within a Tokio runtime.
    pub async fn start() -> MockUpstream {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/projects"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"id": "p1", "name": "Project One"},
                {"id": "p2", "name": "Project Two"},
            ])))
            .mount(&server)
            .await;
        MockUpstream { server }
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// Every request received so far, oldest first.
    pub async fn journal(&self) -> Vec<JournalEntry> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|request| JournalEntry {
                method: request.method.as_str().to_owned(),
                path: request.url.path().to_owned(),
                headers: request
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        (
                            name.as_str().to_owned(),
                            String::from_utf8_lossy(value.as_bytes()).into_owned(),
                        )
                    })
                    .collect(),
            })
            .collect()
    }
}

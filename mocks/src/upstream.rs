//! The mock upstream API an MCP server (or gateway) calls on the user's
//! behalf: scripted rules, a journal, HTTPS when asked.
//!
//! Rules are data ([`UpstreamRule`]: `when` → `respond`), deserializable from
//! TOML or JSON so scenario files can embed them:
//!
//! ```toml
//! [[rule]]
//! when = { method = "GET", path = "/projects", headers = [["X-API-Key", "project-key"]] }
//! respond = { json = [{ id = "p1" }] }
//!
//! [[rule]]
//! when = { method = "GET", path = "/projects", headers = [["X-API-Key", "partner-key"]] }
//! respond = { json = [{ id = "p1" }, { id = "p2" }] }
//! ```
//!
//! Rules are tried in order and the first match answers; a request no rule
//! matches gets `404` with a JSON body naming the method and path.
//!
//! The upstream is served by this crate's own axum router rather than
//! wiremock: the same [`RunningServer`] as the other
//! mocks, so it serves HTTPS from the per-run [`TestCa`](crate::TestCa), can be
//! pinned to a port, and journals bodies as well as headers.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use anyhow::{Context, anyhow};
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::journal::BODY_LIMIT;
use crate::server::RunningServer;

/// One scripted behaviour: when a request matches [`When`], answer with
/// [`Respond`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRule {
    /// Which requests the rule answers.
    #[serde(default)]
    pub when: When,
    /// The answer.
    #[serde(default)]
    pub respond: Respond,
}

/// Conditions a request must all meet (an empty `When` matches everything).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct When {
    /// The method, e.g. `GET` (case-insensitive).
    pub method: Option<String>,
    /// The exact path, without the query string.
    pub path: Option<String>,
    /// A path prefix, e.g. `/v1/`.
    pub path_prefix: Option<String>,
    /// Headers that must be present with exactly this value (names
    /// case-insensitive, values exact), e.g. `[["X-API-Key", "k1"]]`.
    pub headers: Vec<(String, String)>,
    /// A substring the body must contain.
    pub body_contains: Option<String>,
}

impl When {
    /// Whether a request with these parts matches.
    pub fn matches(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &str,
    ) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.path.as_deref().is_none_or(|p| p == path)
            && self
                .path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p))
            && self.headers.iter().all(|(name, value)| {
                headers
                    .iter()
                    .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
            })
            && self
                .body_contains
                .as_deref()
                .is_none_or(|needle| body.contains(needle))
    }

    /// Whether a journaled request matches.
    pub fn matches_entry(&self, entry: &JournalEntry) -> bool {
        self.matches(&entry.method, &entry.path, &entry.headers, &entry.body)
    }
}

/// The answer of a rule.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Respond {
    /// The status code (default 200).
    pub status: u16,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// A JSON body (`Content-Type: application/json` unless set in
    /// `headers`). Exclusive with `body`.
    pub json: Option<serde_json::Value>,
    /// A text body (`Content-Type: text/plain; charset=utf-8` unless set).
    pub body: Option<String>,
}

impl Default for Respond {
    fn default() -> Self {
        Respond {
            status: 200,
            headers: Vec::new(),
            json: None,
            body: None,
        }
    }
}

/// A list of rules as a file holds them: `[[rule]]` tables in TOML, or
/// `{"rule": [...]}` in JSON.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRules {
    /// The rules, in matching order.
    #[serde(default)]
    pub rule: Vec<UpstreamRule>,
}

impl UpstreamRules {
    /// Parse TOML (`[[rule]]` tables).
    pub fn from_toml(text: &str) -> anyhow::Result<UpstreamRules> {
        toml::from_str(text).context("parsing upstream rules (TOML)")
    }

    /// Parse JSON: `{"rule": [...]}` or a bare array of rules.
    pub fn from_json(text: &str) -> anyhow::Result<UpstreamRules> {
        let value: serde_json::Value =
            serde_json::from_str(text).context("parsing upstream rules (JSON)")?;
        if value.is_array() {
            let rule = serde_json::from_value(value).context("parsing upstream rules (JSON)")?;
            return Ok(UpstreamRules { rule });
        }
        serde_json::from_value(value).context("parsing upstream rules (JSON)")
    }
}

/// The rule [`MockUpstream::start`] mounts: `GET /projects` answers `200`
/// with `[{"id":"p1","name":"Project One"},{"id":"p2","name":"Project Two"}]`.
pub fn default_rules() -> Vec<UpstreamRule> {
    vec![UpstreamRule {
        when: When {
            method: Some("GET".to_owned()),
            path: Some("/projects".to_owned()),
            ..When::default()
        },
        respond: Respond {
            json: Some(json!([
                {"id": "p1", "name": "Project One"},
                {"id": "p2", "name": "Project Two"},
            ])),
            ..Respond::default()
        },
    }]
}

/// How to run a [`MockUpstream`].
#[derive(Clone, Debug, Default)]
pub struct UpstreamConfig {
    /// Serve over TLS with this configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The port on `127.0.0.1`; `0` lets the OS choose.
    pub port: u16,
    /// The rules, in matching order.
    pub rules: Vec<UpstreamRule>,
}

/// One request received by a [`MockUpstream`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalEntry {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The request path, without the query string.
    pub path: String,
    /// The request headers, names lower-case, in arrival order (repeated
    /// values of one header name are listed together). Recorded as received:
    /// the upstream is where a test looks for leaked credentials.
    pub headers: Vec<(String, String)>,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The body, decoded as UTF-8 (invalid sequences replaced).
    pub body: String,
    /// Wall-clock arrival time.
    pub at: SystemTime,
    /// The index of the rule that answered; `None` for a 404.
    pub rule: Option<usize>,
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

/// A rule checked and ready to answer.
#[derive(Clone, Debug)]
struct Compiled {
    when: When,
    status: StatusCode,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
}

fn compile(index: usize, rule: &UpstreamRule) -> anyhow::Result<Compiled> {
    let context = || format!("upstream rule {index}");
    let status = StatusCode::from_u16(rule.respond.status)
        .map_err(|_| anyhow!("status {} is not a valid HTTP status", rule.respond.status))
        .with_context(context)?;
    let (body, default_type) = match (&rule.respond.json, &rule.respond.body) {
        (Some(_), Some(_)) => {
            return Err(anyhow!("`json` and `body` are exclusive")).with_context(context);
        }
        (Some(json), None) => (
            serde_json::to_vec(json).with_context(context)?,
            Some("application/json"),
        ),
        (None, Some(text)) => (text.as_bytes().to_vec(), Some("text/plain; charset=utf-8")),
        (None, None) => (Vec::new(), None),
    };
    let mut headers = Vec::new();
    for (name, value) in &rule.respond.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| anyhow!("`{name}` is not a valid header name"))
            .with_context(context)?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| anyhow!("the value of `{name}` is not a valid header value"))
            .with_context(context)?;
        headers.push((name, value));
    }
    if let Some(content_type) = default_type
        && !headers.iter().any(|(n, _)| n == header::CONTENT_TYPE)
    {
        headers.push((header::CONTENT_TYPE, HeaderValue::from_static(content_type)));
    }
    Ok(Compiled {
        when: rule.when.clone(),
        status,
        headers,
        body,
    })
}

struct Inner {
    rules: Vec<Compiled>,
    journal: Mutex<Vec<JournalEntry>>,
}

impl Inner {
    fn journal(&self) -> MutexGuard<'_, Vec<JournalEntry>> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let at = SystemTime::now();
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let matched = inner
        .rules
        .iter()
        .position(|rule| rule.when.matches(&method, &path, &headers, &body));
    let response = match matched.and_then(|i| inner.rules.get(i)) {
        Some(rule) => {
            let mut response = Response::new(Body::from(rule.body.clone()));
            *response.status_mut() = rule.status;
            for (name, value) in &rule.headers {
                response.headers_mut().append(name.clone(), value.clone());
            }
            response
        }
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "error": "not_found",
                "message": format!("no upstream rule matches {method} {path}"),
            })),
        )
            .into_response(),
    };
    inner.journal().push(JournalEntry {
        method,
        path,
        headers,
        query: parts.uri.query().map(str::to_owned),
        body,
        at,
        rule: matched,
    });
    response
}

/// A mock upstream API on `127.0.0.1`, answering scripted [`UpstreamRule`]s
/// and recording every request. Shuts down when dropped.
pub struct MockUpstream {
    server: RunningServer,
    inner: Arc<Inner>,
}

impl fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUpstream")
            .field("base_url", &self.server.base_url())
            .field("rules", &self.inner.rules.len())
            .finish_non_exhaustive()
    }
}

impl MockUpstream {
    /// Start on `127.0.0.1` (plain HTTP, OS-chosen port) with
    /// [`default_rules`].
    ///
    /// # Panics
    ///
    /// If no loopback port can be bound (as wiremock's `MockServer::start`
    /// does); [`MockUpstream::start_with`] returns that error instead.
    pub async fn start() -> MockUpstream {
        match Self::start_with(&default_rules()).await {
            Ok(upstream) => upstream,
            Err(e) => panic!("starting the mock upstream: {e:#}"),
        }
    }

    /// Start on `127.0.0.1` (plain HTTP, OS-chosen port) with `rules`, tried
    /// in order, first match wins.
    ///
    /// Fails on a rule that cannot answer (an invalid status or header, both
    /// `json` and `body`) or when no port can be bound.
    pub async fn start_with(rules: &[UpstreamRule]) -> anyhow::Result<MockUpstream> {
        Self::start_with_config(UpstreamConfig {
            rules: rules.to_vec(),
            ..UpstreamConfig::default()
        })
        .await
    }

    /// Start with a full configuration (TLS, port, rules).
    pub async fn start_with_config(config: UpstreamConfig) -> anyhow::Result<MockUpstream> {
        let rules = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| compile(i, rule))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let inner = Arc::new(Inner {
            rules,
            journal: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let server = RunningServer::start_on(config.port, router, config.tls).await?;
        Ok(MockUpstream { server, inner })
    }

    /// The base URL, `http://127.0.0.1:PORT` (or `https://…`), without a
    /// trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url().to_owned()
    }

    /// Every request received so far, oldest first.
    pub async fn journal(&self) -> Vec<JournalEntry> {
        self.inner.journal().clone()
    }

    /// How many journaled requests match `when`.
    pub async fn count_matching(&self, when: &When) -> usize {
        self.inner
            .journal()
            .iter()
            .filter(|e| when.matches_entry(e))
            .count()
    }

    /// Forget the journal so far.
    pub async fn clear_journal(&self) {
        self.inner.journal().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_toml_and_json() -> anyhow::Result<()> {
        let rules = UpstreamRules::from_toml(
            r#"
            [[rule]]
            when = { method = "GET", path = "/projects", headers = [["X-API-Key", "k1"]] }
            respond = { json = [{ id = "p1" }] }

            [[rule]]
            when = { path_prefix = "/v1/", body_contains = "x" }
            respond = { status = 403, headers = [["X-Why", "no"]], body = "forbidden" }
            "#,
        )?;
        assert_eq!(rules.rule.len(), 2);
        assert_eq!(rules.rule[0].respond.status, 200);
        assert_eq!(
            rules.rule[0].when.headers,
            vec![("X-API-Key".to_owned(), "k1".to_owned())]
        );
        assert_eq!(rules.rule[1].respond.status, 403);

        let json = UpstreamRules::from_json(
            r#"[{"when": {"method": "POST"}, "respond": {"status": 201}}]"#,
        )?;
        assert_eq!(json.rule[0].when.method.as_deref(), Some("POST"));

        // Unknown fields are errors, in both places.
        assert!(UpstreamRules::from_toml("[[rule]]\nwhen = { colour = \"red\" }").is_err());
        assert!(UpstreamRules::from_json(r#"[{"respond": {"stauts": 201}}]"#).is_err());
        Ok(())
    }

    #[test]
    fn bad_rules_are_refused() {
        let both = UpstreamRule {
            respond: Respond {
                json: Some(json!({})),
                body: Some("x".into()),
                ..Respond::default()
            },
            ..UpstreamRule::default()
        };
        assert!(compile(0, &both).is_err());
        let status = UpstreamRule {
            respond: Respond {
                status: 1000,
                ..Respond::default()
            },
            ..UpstreamRule::default()
        };
        assert!(compile(0, &status).is_err());
        let header = UpstreamRule {
            respond: Respond {
                headers: vec![("bad name".into(), "v".into())],
                ..Respond::default()
            },
            ..UpstreamRule::default()
        };
        assert!(compile(0, &header).is_err());
    }
}

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
//! # Served by wiremock
//!
//! A [`MockUpstream`] is a [`wiremock::MockServer`] on `127.0.0.1`. Each rule
//! is compiled to a [`wiremock::Mock`] whose matchers are this module's own
//! small [`wiremock::Match`] implementations of the `when` conditions (so the
//! server and [`When::matches`] can never disagree), answering with a
//! [`wiremock::ResponseTemplate`]. Rule `i` is mounted with priority `i + 1`
//! (wiremock: lower wins, ties go to the earlier mount), so at most 254 rules
//! fit; priority 255 is a catch-all answering the JSON `404`. The journal is
//! wiremock's record of received requests ([`MockServer::received_requests`]).
//!
//! [`MockUpstream::server`] hands out the `MockServer` itself, so a test can
//! mount its own `Mock::given(…)` next to the rules.
//!
//! wiremock serves plain HTTP only. When [`UpstreamConfig::tls`] is set, a
//! small tokio-rustls front listens on `127.0.0.1` (the configured port),
//! terminates TLS and relays the bytes to wiremock's loopback address; the
//! [`MockUpstream::base_url`] is then the front's `https://` URL.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use anyhow::{Context, anyhow, bail};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

use crate::server::bind_localhost;

mod front;

use front::TlsFront;

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
        let parts = Parts {
            method,
            path,
            headers,
            body,
        };
        self.conditions().iter().all(|c| c.holds(&parts))
    }

    /// Whether a journaled request matches.
    pub fn matches_entry(&self, entry: &JournalEntry) -> bool {
        self.matches(&entry.method, &entry.path, &entry.headers, &entry.body)
    }

    /// The conditions, one per field set (none for an empty `When`).
    fn conditions(&self) -> Vec<Condition> {
        let mut conditions = Vec::new();
        if let Some(method) = &self.method {
            conditions.push(Condition::Method(method.clone()));
        }
        if let Some(path) = &self.path {
            conditions.push(Condition::Path(path.clone()));
        }
        if let Some(prefix) = &self.path_prefix {
            conditions.push(Condition::PathPrefix(prefix.clone()));
        }
        for (name, value) in &self.headers {
            conditions.push(Condition::Header(name.clone(), value.clone()));
        }
        if let Some(needle) = &self.body_contains {
            conditions.push(Condition::BodyContains(needle.clone()));
        }
        conditions
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
    /// The request path, without the query string, as wiremock parsed it
    /// (dot segments resolved).
    pub path: String,
    /// The request headers, names lower-case, in arrival order (repeated
    /// values of one header name are listed together). Recorded as received:
    /// the upstream is where a test looks for leaked credentials.
    pub headers: Vec<(String, String)>,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The body, decoded as UTF-8 (invalid sequences replaced).
    pub body: String,
    /// Wall-clock time at which wiremock began matching the request (after
    /// its body had been read), taken by an always-false matcher mounted
    /// ahead of every rule: wiremock itself records no timestamps. Entries
    /// are in arrival order, so `at` never decreases along the journal. Only
    /// if that matcher was removed (by [`MockServer::reset`] on
    /// [`MockUpstream::server`]) is it [`SystemTime::UNIX_EPOCH`].
    pub at: SystemTime,
    /// The index of the first rule whose [`When`] matches this entry
    /// (recomputed when the journal is read), which is the rule that
    /// answered; `None` when none matches (the request got the `404`, or a
    /// [`Mock`] mounted through [`MockUpstream::server`] answered it).
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

/// The parts of a request a [`When`] looks at.
struct Parts<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(String, String)],
    body: &'a str,
}

/// One condition of a [`When`], also a wiremock matcher.
///
/// wiremock's own matchers differ in edge cases (its `header` matcher splits
/// values at commas and wants all of them to match, `method` compares the
/// request's method case-sensitively, `body_string_contains` refuses
/// non-UTF-8 bodies), so the rules match with these instead, which share one
/// predicate with [`When::matches`] and hence with the journal's `rule`.
#[derive(Clone, Debug)]
enum Condition {
    /// The method, case-insensitively.
    Method(String),
    /// The exact path.
    Path(String),
    /// A path prefix.
    PathPrefix(String),
    /// A header: name case-insensitive, value exact.
    Header(String, String),
    /// A substring of the body (decoded as lossy UTF-8).
    BodyContains(String),
}

impl Condition {
    fn holds(&self, parts: &Parts<'_>) -> bool {
        match self {
            Condition::Method(method) => method.eq_ignore_ascii_case(parts.method),
            Condition::Path(path) => parts.path == path,
            Condition::PathPrefix(prefix) => parts.path.starts_with(prefix.as_str()),
            Condition::Header(name, value) => parts
                .headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value),
            Condition::BodyContains(needle) => parts.body.contains(needle.as_str()),
        }
    }
}

impl Match for Condition {
    fn matches(&self, request: &Request) -> bool {
        let headers = header_pairs(request);
        let body = String::from_utf8_lossy(&request.body);
        self.holds(&Parts {
            method: request.method.as_str(),
            path: request.url.path(),
            headers: &headers,
            body: &body,
        })
    }
}

/// The headers of `request`, names lower-case, values as lossy UTF-8.
fn header_pairs(request: &Request) -> Vec<(String, String)> {
    request
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// At most this many rules: wiremock priorities are `1..=255`, rule `i` has
/// priority `i + 1` and 255 is the catch-all `404`.
const MAX_RULES: usize = 254;

/// The priority of the catch-all `404`: the lowest.
const CATCH_ALL_PRIORITY: u8 = u8::MAX;

/// The response of a rule: checked here, so that wiremock's panicking
/// conversions never see a bad status or header.
fn template(respond: &Respond) -> anyhow::Result<ResponseTemplate> {
    let status = StatusCode::from_u16(respond.status)
        .map_err(|_| anyhow!("status {} is not a valid HTTP status", respond.status))?;
    let (body, default_type) = match (&respond.json, &respond.body) {
        (Some(_), Some(_)) => bail!("`json` and `body` are exclusive"),
        (Some(json), None) => (serde_json::to_vec(json)?, Some("application/json")),
        (None, Some(text)) => (text.as_bytes().to_vec(), Some("text/plain; charset=utf-8")),
        (None, None) => (Vec::new(), None),
    };
    let mut headers = Vec::new();
    for (name, value) in &respond.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| anyhow!("`{name}` is not a valid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| anyhow!("the value of `{name}` is not a valid header value"))?;
        headers.push((name, value));
    }
    if let Some(content_type) = default_type
        && !headers.iter().any(|(n, _)| n == header::CONTENT_TYPE)
    {
        headers.push((header::CONTENT_TYPE, HeaderValue::from_static(content_type)));
    }
    // `set_body_bytes` sets no content type, so the headers above are all
    // there is (`set_body_json`/`set_body_string` would override them).
    let mut template = ResponseTemplate::new(status).set_body_bytes(body);
    for (name, value) in headers {
        template = template.append_header(name, value);
    }
    Ok(template)
}

/// Compile rule `index` to a wiremock [`Mock`] with priority `index + 1`.
fn compile(index: usize, rule: &UpstreamRule) -> anyhow::Result<Mock> {
    let context = || format!("upstream rule {index}");
    let priority = u8::try_from(index + 1)
        .ok()
        .filter(|p| *p < CATCH_ALL_PRIORITY)
        .ok_or_else(|| anyhow!("at most {MAX_RULES} rules are supported"))
        .with_context(context)?;
    let template = template(&rule.respond).with_context(context)?;
    let mut builder = Mock::given(any());
    for condition in rule.when.conditions() {
        builder = builder.and(condition);
    }
    Ok(builder
        .respond_with(template)
        .with_priority(priority)
        .named(context()))
}

/// The catch-all: `404` with a JSON body naming the method and path.
fn not_found() -> Mock {
    Mock::given(any())
        .respond_with(|request: &Request| {
            ResponseTemplate::new(StatusCode::NOT_FOUND).set_body_json(json!({
                "error": "not_found",
                "message": format!(
                    "no upstream rule matches {} {}",
                    request.method,
                    request.url.path()
                ),
            }))
        })
        .with_priority(CATCH_ALL_PRIORITY)
        .named("no upstream rule matches")
}

/// Arrival times, one per request wiremock handles, in order.
type Arrivals = Arc<Mutex<Vec<SystemTime>>>;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A matcher that never matches but notes when it was asked. Mounted first
/// with priority 1, it is asked about every request, in the order wiremock
/// records them (it matches under the lock it records under).
struct ArrivalClock(Arrivals);

impl Match for ArrivalClock {
    fn matches(&self, _request: &Request) -> bool {
        lock(&self.0).push(SystemTime::now());
        false
    }
}

/// The wiremock server for `config`: on the configured port when serving
/// plain HTTP, on any loopback port behind a TLS front otherwise.
async fn start_server(config: &UpstreamConfig) -> anyhow::Result<MockServer> {
    let port = if config.tls.is_some() { 0 } else { config.port };
    let listener = bind_localhost(port)?;
    Ok(MockServer::builder().listener(listener).start().await)
}

/// A mock upstream API on `127.0.0.1`, answering scripted [`UpstreamRule`]s
/// and recording every request: a [`wiremock::MockServer`], behind a TLS
/// front when configured. Shuts down when dropped.
pub struct MockUpstream {
    /// The TLS front, if any (declared first: dropped, hence stopped, first).
    front: Option<TlsFront>,
    server: MockServer,
    base_url: String,
    whens: Vec<When>,
    arrivals: Arrivals,
    /// How many received requests [`MockUpstream::clear_journal`] hides.
    cleared: Mutex<usize>,
}

impl fmt::Debug for MockUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUpstream")
            .field("base_url", &self.base_url)
            .field("wiremock", self.server.address())
            .field("tls_front", &self.front.as_ref().map(TlsFront::addr))
            .field("rules", &self.whens.len())
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
    /// `json` and `body`), on more than 254 rules (wiremock has 255
    /// priorities, one is the catch-all `404`), or when no port can be bound.
    pub async fn start_with(rules: &[UpstreamRule]) -> anyhow::Result<MockUpstream> {
        Self::start_with_config(UpstreamConfig {
            rules: rules.to_vec(),
            ..UpstreamConfig::default()
        })
        .await
    }

    /// Start with a full configuration (TLS, port, rules); fails as
    /// [`MockUpstream::start_with`] does.
    pub async fn start_with_config(config: UpstreamConfig) -> anyhow::Result<MockUpstream> {
        if config.rules.len() > MAX_RULES {
            bail!(
                "{} upstream rules: at most {MAX_RULES} are supported (wiremock priorities \
                 are 1..=255, and 255 answers the 404)",
                config.rules.len()
            );
        }
        let mocks = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| compile(i, rule))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let server = start_server(&config).await?;
        let arrivals = Arrivals::default();
        Mock::given(ArrivalClock(Arc::clone(&arrivals)))
            .respond_with(ResponseTemplate::new(StatusCode::INTERNAL_SERVER_ERROR))
            .with_priority(1)
            .named("arrival clock")
            .mount(&server)
            .await;
        for mock in mocks {
            mock.mount(&server).await;
        }
        not_found().mount(&server).await;
        let (front, base_url) = match config.tls {
            Some(tls) => {
                let front = TlsFront::start(config.port, tls, *server.address())?;
                let url = format!("https://{}", front.addr());
                (Some(front), url)
            }
            None => (None, server.uri()),
        };
        Ok(MockUpstream {
            front,
            server,
            base_url,
            whens: config.rules.into_iter().map(|r| r.when).collect(),
            arrivals,
            cleared: Mutex::new(0),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT` (or `https://…` through the TLS
    /// front), without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The wiremock server behind this upstream (plain HTTP on `127.0.0.1`;
    /// with TLS configured, the front relays to it). Mount your own
    /// [`Mock`]s on it; they take part in the same priority order as the
    /// rules: rule `i` has priority `i + 1` and wins ties (it was mounted
    /// first), the catch-all `404` has priority 255. Do not call
    /// [`MockServer::reset`] on it: that unmounts the rules and the journal's
    /// clock.
    ///
    /// ```
    /// use authconform_mocks::MockUpstream;
    /// use wiremock::matchers::{method, path};
    /// use wiremock::{Mock, ResponseTemplate};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> anyhow::Result<()> {
    /// # authconform_mocks::tls::install_crypto_provider();
    /// let upstream = MockUpstream::start().await; // GET /projects → two projects
    /// Mock::given(method("GET"))
    ///     .and(path("/health"))
    ///     .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
    ///     .expect(1) // verified when `upstream` is dropped, as wiremock does
    ///     .mount(upstream.server())
    ///     .await;
    ///
    /// let http = reqwest::Client::new();
    /// let health = http.get(format!("{}/health", upstream.base_url())).send().await?;
    /// assert_eq!(health.text().await?, "ok");
    /// let projects = http.get(format!("{}/projects", upstream.base_url())).send().await?;
    /// assert_eq!(projects.status(), 200);
    ///
    /// // Both are journaled; only the second was answered by a rule.
    /// let journal = upstream.journal().await;
    /// assert_eq!(journal.iter().map(|e| e.rule).collect::<Vec<_>>(), [None, Some(0)]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn server(&self) -> &MockServer {
        &self.server
    }

    /// Every request received so far (since the last
    /// [`MockUpstream::clear_journal`]), oldest first.
    pub async fn journal(&self) -> Vec<JournalEntry> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        let arrivals = lock(&self.arrivals).clone();
        let skip = *lock(&self.cleared);
        requests
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(i, request)| self.entry(request, arrivals.get(i).copied()))
            .collect()
    }

    fn entry(&self, request: &Request, at: Option<SystemTime>) -> JournalEntry {
        let mut entry = JournalEntry {
            method: request.method.as_str().to_owned(),
            path: request.url.path().to_owned(),
            headers: header_pairs(request),
            query: request.url.query().map(str::to_owned),
            body: String::from_utf8_lossy(&request.body).into_owned(),
            at: at.unwrap_or(SystemTime::UNIX_EPOCH),
            rule: None,
        };
        entry.rule = self.whens.iter().position(|w| w.matches_entry(&entry));
        entry
    }

    /// How many journaled requests match `when`.
    pub async fn count_matching(&self, when: &When) -> usize {
        self.journal()
            .await
            .iter()
            .filter(|e| when.matches_entry(e))
            .count()
    }

    /// Forget the journal so far (wiremock keeps its record; the journal
    /// starts after it).
    pub async fn clear_journal(&self) {
        let received = self.server.received_requests().await.map_or(0, |r| r.len());
        let mut cleared = lock(&self.cleared);
        *cleared = (*cleared).max(received);
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

    #[test]
    fn mock_upstream_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<MockUpstream>();
    }

    #[test]
    fn rule_priorities_stop_before_the_catch_all() {
        let rule = UpstreamRule::default();
        assert!(compile(MAX_RULES - 1, &rule).is_ok());
        let err = compile(MAX_RULES, &rule).err().map(|e| format!("{e:#}"));
        assert!(
            err.as_deref().is_some_and(|e| e.contains("at most 254")),
            "{err:?}"
        );
    }
}

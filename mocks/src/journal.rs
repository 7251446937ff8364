//! The request journal of the mock authorization server and the mock device
//! server: what arrived, when, and how it was answered, with secrets replaced
//! by [`REDACTED`].

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::oauth::OAuthError;

/// The placeholder written in place of every secret in a journal.
pub const REDACTED: &str = "[REDACTED]";

/// Request bodies larger than this are refused with `413`.
pub(crate) const BODY_LIMIT: usize = 1024 * 1024;

/// Parameter names whose values are credentials and never journaled.
const SECRET_PARAMS: &[&str] = &[
    "code",
    "code_verifier",
    "client_secret",
    "client_assertion",
    "assertion",
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "device_code",
    "api_key",
    "password",
    "subject_token",
    "actor_token",
    "registration_access_token",
];

/// Header names whose values are credentials (only an auth scheme is kept).
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Whether the parameter `name` carries a secret (its value is journaled as
/// [`REDACTED`]).
pub fn is_secret_param(name: &str) -> bool {
    SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name))
}

/// One request received by a [`crate::MockAuthServer`] or
/// [`crate::MockDeviceServer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    /// Wall-clock arrival time.
    pub at: SystemTime,
    /// Arrival time on the server's monotonic clock, measured from the
    /// server's start: use differences of this to judge polling intervals.
    pub elapsed: Duration,
    /// The request method, e.g. `POST`.
    pub method: String,
    /// The request path, without the query string.
    pub path: String,
    /// Query parameters, then form parameters (or, for a JSON object body,
    /// its top-level members, non-strings as compact JSON), in order. The
    /// values of secret parameters (`code`, `code_verifier`, `client_secret`,
    /// tokens, `device_code`, …) are [`REDACTED`].
    pub params: Vec<(String, String)>,
    /// Request headers, names lower-case, in arrival order. `Authorization`
    /// keeps only its scheme (`Basic [REDACTED]`); cookies and API keys are
    /// [`REDACTED`].
    pub headers: Vec<(String, String)>,
    /// The response status.
    pub status: u16,
    /// What the server decided: an OAuth error code (`invalid_grant`,
    /// `authorization_pending`, …) or a success word (`code_issued`,
    /// `token_issued`, `registered`, `api_key_issued`, …). `None` for plain
    /// documents (metadata, JWKS).
    pub outcome: Option<String>,
}

impl RequestRecord {
    /// The first value of parameter `name` (redacted if secret).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (case-insensitive, redacted if
    /// secret).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The decision a handler attaches to its response (read by the journal).
#[derive(Clone, Debug)]
pub(crate) struct Outcome(pub(crate) String);

/// A shared, append-only journal.
#[derive(Clone, Debug)]
pub(crate) struct Journal {
    started: Instant,
    records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl Journal {
    pub(crate) fn new() -> Journal {
        Journal {
            started: Instant::now(),
            records: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RequestRecord>> {
        // A poisoned lock only means a panic elsewhere; the data is still a
        // valid list.
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every record so far, in arrival order.
    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        let mut records = self.lock().clone();
        records.sort_by_key(|r| r.elapsed);
        records
    }

    /// Records from position `from` on, in completion order (for following
    /// the journal as it grows).
    pub(crate) fn tail(&self, from: usize) -> Vec<RequestRecord> {
        self.lock()
            .get(from..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// Monotonic time since the server started.
    pub(crate) fn elapsed(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.started)
    }

    fn push(&self, record: RequestRecord) {
        self.lock().push(record);
    }
}

fn redacted_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_owned();
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                match value.split_once(' ') {
                    Some((scheme, _)) if name.ends_with("authorization") => {
                        format!("{scheme} {REDACTED}")
                    }
                    _ => REDACTED.to_owned(),
                }
            } else {
                value
            };
            (name, value)
        })
        .collect()
}

/// Query and body parameters of a request, secrets redacted.
fn redacted_params(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(q) = query {
        params.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(url::form_urlencoded::parse(body).into_owned());
    } else if content_type.starts_with("application/json")
        && let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body)
    {
        params.extend(map.into_iter().map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        }));
    }
    for (name, value) in &mut params {
        if is_secret_param(name) {
            *value = REDACTED.to_owned();
        }
    }
    params
}

/// axum middleware: buffer the body (at most [`BODY_LIMIT`]), run the
/// handler, journal the exchange.
pub(crate) async fn record(
    State(journal): State<Journal>,
    request: Request,
    next: Next,
) -> Response {
    let arrived = Instant::now();
    let at = SystemTime::now();
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let headers = redacted_headers(&parts.headers);
    let (response, params) = match to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => {
            let params = redacted_params(parts.uri.query(), &parts.headers, &bytes);
            let request = Request::from_parts(parts, Body::from(bytes));
            (next.run(request).await, params)
        }
        Err(_) => (
            OAuthError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "request body too large or unreadable",
            )
            .into_response(),
            Vec::new(),
        ),
    };
    journal.push(RequestRecord {
        at,
        elapsed: journal.elapsed(arrived),
        method,
        path,
        params,
        headers,
        status: response.status().as_u16(),
        outcome: response.extensions().get::<Outcome>().map(|o| o.0.clone()),
    });
    response
}

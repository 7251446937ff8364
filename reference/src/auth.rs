//! The authorization layer in front of the MCP endpoint (RFC 6750, RFC 9728,
//! MCP authorization), with the seeded faults.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::jwt::TokenError;
use crate::rest::McpKey;
use crate::{AppState, ScopeErrors};

/// Scope every request to the MCP endpoint needs.
pub const SCOPE_READ: &str = "mcp:read";
/// Scope a `tools/call` additionally needs.
pub const SCOPE_TOOLS: &str = "mcp:tools";
/// Largest POST body the authorization layer buffers.
const MAX_BODY_BYTES: usize = 1024 * 1024;
const SESSION_HEADER: &str = "mcp-session-id";

/// The authenticated caller, put into the request extensions for the MCP handler.
///
/// rmcp copies the HTTP request parts into the MCP request context, so a tool
/// reads this from `Extension<http::request::Parts>` → `parts.extensions`.
#[derive(Clone)]
pub struct AuthContext {
    /// The verified subject of the access token.
    pub subject: String,
    /// The raw bearer token the client presented (absent when a session
    /// authenticated the request under the `session-authenticates` fault).
    pub token: Option<String>,
    /// The credential may call tools (it carries `mcp:tools`, or the
    /// `ignore-tool-scope` fault is on).
    pub may_call_tools: bool,
}

impl AuthContext {
    fn new(subject: String, token: Option<String>) -> Self {
        Self {
            subject,
            token,
            may_call_tools: false,
        }
    }
}

impl std::fmt::Debug for AuthContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("AuthContext")
            .field("subject", &self.subject)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Who created an MCP session, and with which scopes.
#[derive(Clone, Debug)]
pub(crate) struct SessionOwner {
    subject: String,
    scopes: HashSet<String>,
}

/// MCP session id → owner.
pub(crate) type SessionOwners = std::sync::Mutex<HashMap<String, SessionOwner>>;

/// The `sequential-session-ids` fault: the outward ID of the Nth session the
/// process creates is `session-N`, mapped to and from rmcp's own (random) ID.
#[derive(Debug, Default)]
pub(crate) struct SessionAliases(std::sync::Mutex<AliasTable>);

#[derive(Debug, Default)]
struct AliasTable {
    /// Number of aliases handed out so far.
    issued: u64,
    /// `session-N` → rmcp's ID.
    real: HashMap<String, String>,
    /// rmcp's ID → `session-N`.
    alias: HashMap<String, String>,
}

impl SessionAliases {
    /// rmcp's ID behind an outward alias, if it is one this process handed out.
    fn real(&self, alias: &str) -> Option<String> {
        self.0.lock().ok()?.real.get(alias).cloned()
    }

    /// The outward alias of rmcp's ID `real`: the one it already has, or the next `session-N`.
    fn alias(&self, real: &str) -> Option<String> {
        let mut table = self.0.lock().ok()?;
        if let Some(alias) = table.alias.get(real) {
            return Some(alias.clone());
        }
        table.issued += 1;
        let alias = format!("session-{}", table.issued);
        table.real.insert(alias.clone(), real.to_owned());
        table.alias.insert(real.to_owned(), alias.clone());
        Some(alias)
    }

    /// Forgets the alias of an ended session (its number is not reused).
    fn forget(&self, real: &str) {
        if let Ok(mut table) = self.0.lock()
            && let Some(alias) = table.alias.remove(real)
        {
            table.real.remove(&alias);
        }
    }

    /// Replaces every `Mcp-Session-Id` value that is a known alias by rmcp's ID;
    /// other values (unknown `session-N` included) are left as they are.
    fn unalias_request(&self, headers: &mut HeaderMap) {
        let values: Vec<HeaderValue> = headers.get_all(SESSION_HEADER).iter().cloned().collect();
        if values.is_empty() {
            return;
        }
        let values: Vec<HeaderValue> = values
            .into_iter()
            .map(|value| {
                value
                    .to_str()
                    .ok()
                    .and_then(|alias| self.real(alias))
                    .and_then(|real| HeaderValue::from_str(&real).ok())
                    .unwrap_or(value)
            })
            .collect();
        headers.remove(SESSION_HEADER);
        for value in values {
            headers.append(SESSION_HEADER, value);
        }
    }

    /// Replaces the `Mcp-Session-Id` of a response by its alias (a new session
    /// gets the next `session-N`).
    fn alias_response(&self, headers: &mut HeaderMap) {
        let Some(real) = session_id(headers) else {
            return;
        };
        if let Some(alias) = self
            .alias(&real)
            .and_then(|alias| HeaderValue::from_str(&alias).ok())
        {
            headers.insert(SESSION_HEADER, alias);
        }
    }
}

/// Escapes a value for an auth-param quoted-string.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn challenge_response(
    status: StatusCode,
    challenge: String,
    error: &str,
    description: Option<&str>,
) -> Response {
    let mut body = json!({ "error": error });
    if let Some(d) = description {
        body["error_description"] = Value::String(d.to_owned());
    }
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

impl AppState {
    fn resource_metadata_param(&self) -> Option<String> {
        (!self.faults.has(Fault::NoResourceMetadata))
            .then(|| format!("resource_metadata={}", quote(&self.prm_url)))
    }

    fn bearer_challenge(&self, mut params: Vec<String>) -> String {
        params.extend(self.resource_metadata_param());
        if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        }
    }

    /// 401 for a request without (usable) credentials: no error parameter.
    pub(crate) fn unauthorized(&self) -> Response {
        if self.faults.has(Fault::Wrong401Scheme) {
            return challenge_response(
                StatusCode::UNAUTHORIZED,
                "Basic realm=\"mcp\"".into(),
                "unauthorized",
                None,
            );
        }
        let mut params = Vec::new();
        if self.faults.has(Fault::ErrorWithoutToken) {
            params.push("error=\"invalid_token\"".to_owned());
        }
        params.extend(self.resource_metadata_param());
        if !self.faults.has(Fault::NoChallengeScope) {
            params.push(format!(
                "scope={}",
                quote(&format!("{SCOPE_READ} {SCOPE_TOOLS}"))
            ));
        }
        let challenge = if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        };
        challenge_response(StatusCode::UNAUTHORIZED, challenge, "unauthorized", None)
    }

    fn invalid_token(&self, description: &str) -> Response {
        if self.faults.has(Fault::Wrong401Scheme) {
            return challenge_response(
                StatusCode::UNAUTHORIZED,
                "Basic realm=\"mcp\"".into(),
                "invalid_token",
                Some(description),
            );
        }
        let challenge = self.bearer_challenge(vec![
            "error=\"invalid_token\"".to_owned(),
            format!("error_description={}", quote(description)),
        ]);
        challenge_response(
            StatusCode::UNAUTHORIZED,
            challenge,
            "invalid_token",
            Some(description),
        )
    }

    fn invalid_request(&self, description: &str) -> Response {
        let challenge = self.bearer_challenge(vec![
            "error=\"invalid_request\"".to_owned(),
            format!("error_description={}", quote(description)),
        ]);
        challenge_response(
            StatusCode::BAD_REQUEST,
            challenge,
            "invalid_request",
            Some(description),
        )
    }

    fn insufficient_scope(&self, scope: &str) -> Response {
        let description = format!("the request needs scope {scope}");
        let challenge = self.bearer_challenge(vec![
            "error=\"insufficient_scope\"".to_owned(),
            format!("error_description={}", quote(&description)),
            format!("scope={}", quote(scope)),
        ]);
        let status = if self.faults.has(Fault::InsufficientScope401) {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::FORBIDDEN
        };
        challenge_response(status, challenge, "insufficient_scope", Some(&description))
    }
}

fn unavailable(description: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(json!({
            "error": "temporarily_unavailable",
            "error_description": description,
        })),
    )
        .into_response()
}

fn session_not_found() -> Response {
    (StatusCode::NOT_FOUND, "Not Found: Session not found").into_response()
}

/// RFC 6750 b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The outcome of reading the credentials of a request.
enum Credential {
    /// No usable credentials (absent, ignored, or an unsupported scheme).
    None,
    /// A bearer token to validate.
    Bearer(String),
    /// A malformed request (400 invalid_request) with this description.
    Malformed(&'static str),
}

fn parse_authorization(state: &AppState, value: &HeaderValue) -> Credential {
    let Ok(value) = value.to_str() else {
        return Credential::Malformed("the Authorization header is not visible ASCII");
    };
    if value.trim().is_empty() {
        return Credential::Malformed("the Authorization header is empty");
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let is_bearer = scheme.eq_ignore_ascii_case("bearer")
        && (scheme == "Bearer" || !state.faults.has(Fault::CaseSensitiveScheme));
    if !is_bearer {
        if state.faults.has(Fault::IgnoreScheme) {
            return Credential::Bearer(rest.trim().to_owned());
        }
        return Credential::None;
    }
    let credentials = rest.trim_start_matches(' ');
    // A well-formed token reads the same under `lenient-bearer`: it is asked only about malformed ones.
    let strict = !credentials.is_empty() && is_b64token(credentials);
    if !strict && state.faults.has(Fault::LenientBearer) {
        let unquoted = credentials.replace('"', "");
        let first = unquoted
            .split([' ', ','])
            .find(|s| !s.is_empty())
            .unwrap_or("");
        return if is_b64token(first) {
            Credential::Bearer(first.to_owned())
        } else {
            Credential::Malformed("the bearer credentials are not a b64token")
        };
    }
    if credentials.is_empty() {
        return Credential::Malformed("the Bearer scheme needs a token");
    }
    if !is_b64token(credentials) {
        return Credential::Malformed("the bearer credentials are not a b64token");
    }
    Credential::Bearer(credentials.to_owned())
}

fn query_access_token(uri: &Uri) -> Option<String> {
    let query = uri.query()?;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

fn is_form_post(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                ct.split(';').next().is_some_and(|e| {
                    e.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            })
}

fn is_tools_call(message: &Value) -> bool {
    message.get("method").and_then(Value::as_str) == Some("tools/call")
}

fn needs_tools_scope(body: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) => batch.iter().any(is_tools_call),
        Ok(message) => is_tools_call(&message),
        Err(_) => false,
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The caller of an MCP request and its scopes, or the response refusing it.
type Authenticated = Result<(AuthContext, HashSet<String>), Response>;

/// Authenticates an MCP request by an `X-API-Key` secret key (served with
/// every scope), or `None` when it has no such field.
fn api_key_credential(state: &AppState, headers: &HeaderMap) -> Option<Authenticated> {
    match state.rest.judge_mcp_key(headers) {
        McpKey::Absent => None,
        McpKey::Conflict => Some(Err(state.invalid_request(
            "more than one credential (X-API-Key fields, or X-API-Key beside Authorization)",
        ))),
        McpKey::Invalid => Some(Err(state.unauthorized())),
        McpKey::Valid(subject) => {
            let scopes = [SCOPE_READ, SCOPE_TOOLS].map(str::to_owned).into();
            Some(Ok((AuthContext::new(subject, None), scopes)))
        }
    }
}

/// Reads the OAuth credential of an MCP request (the Authorization field, or
/// the access_token query parameter under its fault); several credentials are
/// malformed.
fn read_oauth_credential(state: &AppState, request: &http::request::Parts) -> Credential {
    let faults = &state.faults;
    let authorizations: Vec<HeaderValue> = request
        .headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .cloned()
        .collect();
    let query_token = query_access_token(&request.uri);
    let several = if authorizations.len() > 1 {
        Some("more than one Authorization header field")
    } else if authorizations.is_empty() {
        None
    } else if query_token.is_some() {
        Some("credentials in both the Authorization header and the access_token query parameter")
    } else if is_form_post(&request.method, &request.headers) {
        Some("credentials in both the Authorization header and a form-encoded body")
    } else {
        None
    };
    if let Some(description) = several
        && !faults.has(Fault::FirstAuthorizationWins)
    {
        return Credential::Malformed(description);
    }

    match authorizations.first() {
        Some(value) => parse_authorization(state, value),
        None => match query_token {
            Some(token) if faults.has(Fault::AcceptQueryToken) => {
                if is_b64token(&token) {
                    Credential::Bearer(token)
                } else {
                    Credential::Malformed("the access_token parameter is not a b64token")
                }
            }
            _ => Credential::None,
        },
    }
}

/// Authenticates an MCP request by its OAuth bearer token (or, under the
/// `session-authenticates` fault, by its session).
async fn oauth_credential(
    state: &AppState,
    request: &http::request::Parts,
    session_owner: Option<&SessionOwner>,
) -> Authenticated {
    let faults = &state.faults;
    let credential = read_oauth_credential(state, request);
    // The `session-authenticates` fault: a known session stands in for credentials.
    let session_fallback = || {
        session_owner
            .filter(|_| faults.has(Fault::SessionAuthenticates))
            .cloned()
            .map(|owner| (AuthContext::new(owner.subject, None), owner.scopes))
    };

    match credential {
        Credential::Malformed(description) => Err(state.invalid_request(description)),
        Credential::None => session_fallback().ok_or_else(|| state.unauthorized()),
        Credential::Bearer(token) => match state.validator.validate(&token).await {
            Ok(verified) => Ok((
                AuthContext::new(verified.subject, Some(token)),
                verified.scopes,
            )),
            Err(TokenError::Invalid(description)) => {
                session_fallback().ok_or_else(|| state.invalid_token(&description))
            }
            Err(TokenError::Unavailable(reason)) => {
                eprintln!("authconform-reference: cannot obtain the issuer's keys: {reason}");
                Err(unavailable(
                    "the authorization server's keys are unavailable",
                ))
            }
        },
    }
}

/// The authorization middleware of the MCP endpoint.
pub(crate) async fn authorize(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    // DNS-rebinding protection: a foreign Origin is refused before authentication.
    if let Some(refused) = state.rest.refuse_mcp_origin(request.headers()) {
        return refused;
    }
    let faults = &state.faults;
    // `sequential-session-ids` acts only on requests and responses that carry a session.
    let aliased_sessions = || faults.has(Fault::SequentialSessionIds);
    let mut request = request;
    if request.headers().contains_key(SESSION_HEADER) && aliased_sessions() {
        // From here on (session binding, rmcp) the session is rmcp's own ID.
        state.session_aliases.unalias_request(request.headers_mut());
    }
    let request_session = session_id(request.headers());
    let session_owner = request_session.as_ref().and_then(|sid| {
        state
            .sessions
            .lock()
            .ok()
            .and_then(|owners| owners.get(sid).cloned())
    });
    let (mut parts, body) = request.into_parts();
    let authenticated = match api_key_credential(&state, &parts.headers) {
        Some(outcome) => outcome,
        None => oauth_credential(&state, &parts, session_owner.as_ref()).await,
    };
    let (mut auth, scopes) = match authenticated {
        Ok(pair) => pair,
        Err(response) => return response,
    };

    if !scopes.contains(SCOPE_READ) {
        return state.insufficient_scope(SCOPE_READ);
    }
    auth.may_call_tools = scopes.contains(SCOPE_TOOLS) || faults.has(Fault::IgnoreToolScope);

    let body = match checked_body(&state, &parts.method, body, &auth).await {
        Ok(body) => body,
        Err(response) => return response,
    };

    if let Some(owner) = &session_owner
        && owner.subject != auth.subject
        && !faults.has(Fault::NoSessionBinding)
    {
        return session_not_found();
    }

    let subject = auth.subject.clone();
    let method = parts.method.clone();
    parts.extensions.insert(auth);
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if response.status().is_success() {
        track_session(&state, request_session.as_ref(), &method, &response, || {
            SessionOwner { subject, scopes }
        });
    }
    if response.headers().contains_key(SESSION_HEADER) && aliased_sessions() {
        state.session_aliases.alias_response(response.headers_mut());
    }
    response
}

/// Buffers a POST body, refusing a `tools/call` without the tools scope when
/// scope errors are HTTP errors.
async fn checked_body(
    state: &AppState,
    method: &Method,
    body: Body,
    auth: &AuthContext,
) -> Result<Body, Response> {
    if method != Method::POST {
        return Ok(body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return Err((StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response());
    };
    if needs_tools_scope(&bytes) && !auth.may_call_tools && state.scope_errors == ScopeErrors::Http
    {
        return Err(state.insufficient_scope(SCOPE_TOOLS));
    }
    Ok(Body::from(bytes))
}

/// After a successful response: records the owner of a session it created, or
/// forgets a session a DELETE ended.
fn track_session(
    state: &AppState,
    request_session: Option<&String>,
    method: &Method,
    response: &Response,
    owner: impl FnOnce() -> SessionOwner,
) {
    match (request_session, session_id(response.headers())) {
        (None, Some(created)) => {
            if let Ok(mut owners) = state.sessions.lock() {
                owners.insert(created, owner());
            }
        }
        (Some(sid), _) if method == Method::DELETE => {
            if let Ok(mut owners) = state.sessions.lock() {
                owners.remove(sid);
            }
            state.session_aliases.forget(sid);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::{SESSION_HEADER, SessionAliases, is_b64token, needs_tools_scope, quote};

    #[test]
    fn session_aliases_map_both_ways() {
        let aliases = SessionAliases::default();
        let mut response = HeaderMap::new();
        response.insert(SESSION_HEADER, HeaderValue::from_static("real-a"));
        aliases.alias_response(&mut response);
        assert_eq!(response[SESSION_HEADER], "session-1");
        response.insert(SESSION_HEADER, HeaderValue::from_static("real-a"));
        aliases.alias_response(&mut response);
        assert_eq!(response[SESSION_HEADER], "session-1");
        response.insert(SESSION_HEADER, HeaderValue::from_static("real-b"));
        aliases.alias_response(&mut response);
        assert_eq!(response[SESSION_HEADER], "session-2");

        let mut request = HeaderMap::new();
        request.insert(SESSION_HEADER, HeaderValue::from_static("session-2"));
        aliases.unalias_request(&mut request);
        assert_eq!(request[SESSION_HEADER], "real-b");
        request.insert(SESSION_HEADER, HeaderValue::from_static("session-3"));
        aliases.unalias_request(&mut request);
        assert_eq!(request[SESSION_HEADER], "session-3");

        aliases.forget("real-a");
        request.insert(SESSION_HEADER, HeaderValue::from_static("session-1"));
        aliases.unalias_request(&mut request);
        assert_eq!(request[SESSION_HEADER], "session-1");
        response.insert(SESSION_HEADER, HeaderValue::from_static("real-c"));
        aliases.alias_response(&mut response);
        assert_eq!(response[SESSION_HEADER], "session-3");
    }

    #[test]
    fn b64token_grammar() {
        assert!(is_b64token("abc.DEF-_~+/=="));
        assert!(!is_b64token(""));
        assert!(!is_b64token("=="));
        assert!(!is_b64token("\"abc\""));
        assert!(!is_b64token("a,b"));
        assert!(!is_b64token("a b"));
        assert!(!is_b64token("a=b"));
    }

    #[test]
    fn tools_call_detection() {
        assert!(needs_tools_scope(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#
        ));
        assert!(needs_tools_scope(
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"tools/call"}]"#
        ));
        assert!(!needs_tools_scope(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!needs_tools_scope(b"not json"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}

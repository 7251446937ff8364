//! Peel's second auth layer: target-site sessions of compiled APIs.
//!
//! Every API of the host API (`/v1/apis/{id}`) is a "compiled API" over one
//! built-in fake target site with two users, `u1` (`u1@mock.test` / `pw1`)
//! and `u2` (`u2@mock.test` / `pw2`). It publishes two endpoints:
//!
//! - `login` (initiates a session): `{email, password}` →
//!   `{session_id, encryption_key, initiates_session: true}`;
//! - `inbox` (protected): needs both session values on every call →
//!   `{user, folder}`.
//!
//! They are invoked over REST (`POST /v1/apis/{api_id}/endpoints/{name}:call`,
//! [`call`]) and over MCP (the `call_endpoint` tool, [`call_endpoint`]). The
//! session layer comes after host auth and never replaces it: session values
//! do not authenticate to the host, and host credentials do not stand in for a
//! session. A session is bound to the host principal that created it
//! ([`HostPrincipal`]); an OAuth identity on `/mcp` (no key) is accepted with
//! any session, since OAuth subjects and host keys share no principal.
//! Sessions are not bound to the API they were created through (all APIs
//! front the same fake site) and do not expire.

mod mcp;
mod rest;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt as _;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value, json};

pub(crate) use mcp::{CallEndpointArgs, call_endpoint};
pub(crate) use rest::call;

/// The users of the fake target site: (user, email, password).
const USERS: [(&str, &str, &str); 2] =
    [("u1", "u1@mock.test", "pw1"), ("u2", "u2@mock.test", "pw2")];
/// The user the faults that skip the session serve.
const DEFAULT_USER: &str = "u1";
/// The folder of `inbox` when the call names none.
const DEFAULT_FOLDER: &str = "inbox";
/// The session-ID body field and tool argument.
pub(crate) const SESSION_ID: &str = "session_id";
/// The encryption-key body field and tool argument.
pub(crate) const ENCRYPTION_KEY: &str = "encryption_key";
/// Length of a session ID (alphanumeric characters).
const SESSION_ID_LEN: usize = 32;
/// Random bytes of an encryption key (43 base64url characters, no padding).
const ENCRYPTION_KEY_BYTES: usize = 32;

/// An endpoint of the compiled API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `login`: initiates a session.
    Login,
    /// `inbox`: protected, needs a session.
    Inbox,
}

impl Endpoint {
    /// The endpoint named `name`.
    pub(crate) fn parse(name: &str) -> Option<Endpoint> {
        match name {
            "login" => Some(Endpoint::Login),
            "inbox" => Some(Endpoint::Inbox),
            _ => None,
        }
    }
}

/// The host principal a session belongs to, or that uses one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPrincipal {
    /// A credential of the principal store (a secret key or user token), by its ID.
    Key(String),
    /// The subject of an OAuth access token on `/mcp`.
    OAuth(String),
}

impl HostPrincipal {
    /// Whether this principal may use a session created by `owner`: a key
    /// principal only its own sessions; an OAuth subject any session.
    fn may_use(&self, owner: &HostPrincipal) -> bool {
        match self {
            HostPrincipal::Key(_) => self == owner,
            HostPrincipal::OAuth(_) => true,
        }
    }
}

/// A complete pair of session values as presented.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Pair {
    pub id: String,
    pub key: String,
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pair(<redacted>)")
    }
}

/// What a call presented as session values, after the transport rules.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    /// No session value at all.
    Nothing,
    /// One value missing or empty.
    Partial,
    /// Values that cannot be a session (not text, several header fields…),
    /// as they were presented (only echoed under `echo-session`).
    Unusable(Pair),
    /// Both values.
    Pair(Pair),
    /// Both values from different transports, under `split-pair-accepted`: the session is found by its ID
    /// and the key is not compared (the fault's defect).
    Split(Pair),
}

/// Why the session layer refused a call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SessionRefusal {
    /// `session_required`: no complete pair.
    Required,
    /// `invalid_session`: unknown, mismatched or another principal's session;
    /// the presented pair (only echoed under `echo-session`).
    Invalid(Pair),
}

impl SessionRefusal {
    /// The error code.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            SessionRefusal::Required => "session_required",
            SessionRefusal::Invalid(_) => "invalid_session",
        }
    }
}

struct Session {
    key: String,
    user: &'static str,
    owner: HostPrincipal,
}

/// The live target-site sessions (session ID → session).
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Session>>);

fn random_session_id() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(SESSION_ID_LEN)
        .map(char::from)
        .collect()
}

fn random_encryption_key() -> String {
    let mut bytes = [0u8; ENCRYPTION_KEY_BYTES];
    rand::rng().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Compares two strings in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Session>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs `email` in at the fake site for `owner`: the new pair, or `None`
    /// for wrong credentials.
    pub(crate) fn login(&self, owner: HostPrincipal, email: &str, password: &str) -> Option<Pair> {
        let (user, _, _) = USERS
            .iter()
            .find(|(_, e, p)| *e == email && same_secret(p, password))?;
        let mut sessions = self.lock();
        let id = loop {
            let id = random_session_id();
            if !sessions.contains_key(&id) {
                break id;
            }
        };
        let key = random_encryption_key();
        sessions.insert(
            id.clone(),
            Session {
                key: key.clone(),
                user,
                owner,
            },
        );
        Some(Pair { id, key })
    }

    /// The user of session `id` when `caller` may use it, whatever key came with it (`split-pair-accepted`).
    fn user_by_id(&self, id: &str, caller: &HostPrincipal) -> Option<&'static str> {
        let sessions = self.lock();
        let session = sessions.get(id)?;
        caller.may_use(&session.owner).then_some(session.user)
    }

    /// The user of the session `pair` when `caller` may use it.
    fn user(&self, pair: &Pair, caller: &HostPrincipal) -> Option<&'static str> {
        let sessions = self.lock();
        let session = sessions.get(&pair.id)?;
        (same_secret(&session.key, &pair.key) && caller.may_use(&session.owner))
            .then_some(session.user)
    }

    /// The target-site user a protected call runs as, or why it is refused.
    /// `skip` is set when a fault lets a call without any session value run as
    /// [`DEFAULT_USER`].
    pub(crate) fn resolve(
        &self,
        presented: Presented,
        caller: &HostPrincipal,
        skip: bool,
    ) -> Result<&'static str, SessionRefusal> {
        match presented {
            Presented::Nothing if skip => Ok(DEFAULT_USER),
            Presented::Nothing | Presented::Partial => Err(SessionRefusal::Required),
            Presented::Unusable(pair) => Err(SessionRefusal::Invalid(pair)),
            Presented::Pair(pair) => self
                .user(&pair, caller)
                .ok_or(SessionRefusal::Invalid(pair)),
            Presented::Split(pair) => self
                .user_by_id(&pair.id, caller)
                .ok_or(SessionRefusal::Invalid(pair)),
        }
    }
}

/// The login result.
pub(crate) fn login_result(pair: &Pair) -> Value {
    json!({ SESSION_ID: pair.id, ENCRYPTION_KEY: pair.key, "initiates_session": true })
}

/// `{email, password}` of a login call (missing or non-string fields are empty).
pub(crate) fn login_fields(params: &Map<String, Value>) -> (&str, &str) {
    let field = |name| params.get(name).and_then(Value::as_str).unwrap_or("");
    (field("email"), field("password"))
}

/// What the fake site answers to `inbox` as `user`; `params` no longer hold
/// session values.
pub(crate) fn inbox(user: &str, params: &Map<String, Value>) -> Value {
    let folder = params
        .get("folder")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_FOLDER);
    json!({ "user": user, "folder": folder })
}

/// `params` without the session values (they are never site parameters).
pub(crate) fn site_params(mut params: Map<String, Value>) -> Map<String, Value> {
    params.remove(SESSION_ID);
    params.remove(ENCRYPTION_KEY);
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> HostPrincipal {
        HostPrincipal::Key(id.to_owned())
    }

    #[test]
    fn pairs_have_the_documented_shape() {
        let sessions = Sessions::default();
        let pair = sessions.login(key("k"), "u1@mock.test", "pw1").unwrap();
        assert_eq!(pair.id.len(), 32);
        assert!(pair.id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(pair.key.len(), 43);
        assert!(
            pair.key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let other = sessions.login(key("k"), "u1@mock.test", "pw1").unwrap();
        assert_ne!(pair, other);
        assert!(sessions.login(key("k"), "u1@mock.test", "pw2").is_none());
        assert!(sessions.login(key("k"), "u3@mock.test", "pw1").is_none());
    }

    #[test]
    fn sessions_resolve_for_their_principal_only() {
        let sessions = Sessions::default();
        let a = sessions.login(key("a"), "u1@mock.test", "pw1").unwrap();
        let b = sessions.login(key("a"), "u2@mock.test", "pw2").unwrap();
        let resolve = |p: &Pair, caller: &HostPrincipal| {
            sessions.resolve(Presented::Pair(p.clone()), caller, false)
        };
        assert_eq!(resolve(&a, &key("a")), Ok("u1"));
        assert_eq!(resolve(&b, &key("a")), Ok("u2"));
        assert_eq!(
            resolve(&a, &key("b")),
            Err(SessionRefusal::Invalid(a.clone()))
        );
        assert_eq!(resolve(&a, &HostPrincipal::OAuth("alice".into())), Ok("u1"));
        let mixed = Pair {
            id: a.id.clone(),
            key: b.key.clone(),
        };
        assert!(resolve(&mixed, &key("a")).is_err());
        let caller = key("a");
        assert_eq!(
            sessions.resolve(Presented::Nothing, &caller, false),
            Err(SessionRefusal::Required)
        );
        assert_eq!(
            sessions.resolve(Presented::Nothing, &caller, true),
            Ok("u1")
        );
        assert_eq!(
            sessions.resolve(Presented::Partial, &caller, true),
            Err(SessionRefusal::Required)
        );
    }

    #[test]
    fn session_values_are_not_site_params() {
        let params = json!({ "folder": "sent", "session_id": "s", "encryption_key": "e" });
        let Value::Object(params) = params else {
            unreachable!()
        };
        let params = site_params(params);
        assert_eq!(Value::Object(params.clone()), json!({ "folder": "sent" }));
        assert_eq!(
            inbox("u2", &params),
            json!({ "user": "u2", "folder": "sent" })
        );
        assert_eq!(
            inbox("u1", &Map::new()),
            json!({ "user": "u1", "folder": "inbox" })
        );
    }
}

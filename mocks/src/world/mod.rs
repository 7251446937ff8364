//! The world an MCP client under test meets (`oauth-client` profile): a protected MCP server (the resource
//! server, RS) with its protected-resource metadata, its authorization server (AS), optionally a second RS with
//! a second AS, and an "evil" server that only records what reaches it. All on `127.0.0.1` over TLS, each on
//! its own port (its own origin), all scripted by a [`WorldConfig`] and recorded in one journal of
//! [`WorldRequest`]s in which every secret value (tokens, codes, verifiers, client secrets, `state`) is
//! replaced by a label such as `at#1` before it is stored.
//!
//! The AS approves every authorization request at once (the user always consents), so whoever fetches the
//! authorization URL gets the redirect to the client's callback; it is lenient where leniency lets the
//! journal show a client's mistake (a token request without PKCE is answered, and recorded as such).

mod assertion;
mod authz;
mod record;
mod rs;

pub use assertion::ClientKey;
pub use authz::RIGHT_CODE;

pub use record::{ClientAuth, Labels, Pkce, WorldRequest};

use crate::server::{RunningServer, base_url_for, bind_localhost};
use axum::Router;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the RS serves its protected-resource metadata (RFC 9728).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrmPlace {
    /// `/meta/custom-prm.json`, a path no client would guess: reachable only through `resource_metadata`.
    Custom,
    /// `/.well-known/oauth-protected-resource/mcp` (path inserted, RFC 9728 §3.1).
    PathInserted,
    /// `/.well-known/oauth-protected-resource`.
    Root,
}

/// Where the AS serves its metadata, for an issuer `https://as/t` (RFC 8414 §3, OpenID Discovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsPlace {
    /// `/.well-known/oauth-authorization-server/t`.
    OAuth,
    /// `/.well-known/openid-configuration/t`.
    OidcInserted,
    /// `/t/.well-known/openid-configuration`.
    OidcAppended,
    /// `/.well-known/oauth-authorization-server` on the RS's own origin (the 2025-03-26 revision: the MCP
    /// server's origin is the authorization base URL; with [`AsScript::endpoints_on_rs`]).
    LegacyOnRs,
}

/// How the AS's redirect to the client's callback carries `state`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CallbackState {
    /// The client's own `state`.
    #[default]
    Echo,
    /// Another value.
    Wrong,
    /// None.
    Missing,
}

/// A client the AS knows before the run.
#[derive(Debug, Clone)]
pub struct KnownClient {
    /// `client_id`.
    pub id: String,
    /// Its secret, if confidential.
    pub secret: Option<String>,
    /// Its token-endpoint authentication method.
    pub method: String,
    /// The ES256 public key (uncompressed point) of a `private_key_jwt` client.
    pub public_key: Option<Vec<u8>>,
}

/// The script of the resource server.
#[derive(Debug, Clone, Default)]
pub struct RsScript {
    /// The `WWW-Authenticate` fields of a 401, one per entry; `{prm}` is the custom metadata URL, `{rs}`,
    /// `{issuer}`, `{evil}` as in [`WorldConfig`]. Empty: `Bearer resource_metadata="{prm}"`.
    pub challenges: Vec<String>,
    /// Where the metadata is served (nowhere when empty).
    pub prm_at: Vec<PrmPlace>,
    /// Members set in (string values expanded) or added to the metadata.
    pub prm_set: Map<String, Value>,
    /// Members removed from the metadata.
    pub prm_remove: Vec<String>,
    /// The n-th authorized MCP request (1-based) is refused with `invalid_token` and its token dies.
    pub expire_at: Option<usize>,
    /// The scope a `tools/call` needs; without it the answer is 403 `insufficient_scope`.
    pub tool_scope: Option<String>,
}

/// The script of the authorization server.
#[derive(Debug, Clone, Default)]
pub struct AsScript {
    /// The issuer's path (`""` or `/tenant1`).
    pub issuer_path: String,
    /// Where the metadata is served (nowhere when empty).
    pub metadata_at: Vec<AsPlace>,
    /// Members set in or added to the metadata (string values expanded).
    pub metadata_set: Map<String, Value>,
    /// Members removed from the metadata.
    pub metadata_remove: Vec<String>,
    /// The method given to dynamically registered clients (`none` by default).
    pub registration_method: Option<String>,
    /// Clients known in advance.
    pub clients: Vec<KnownClient>,
    /// Scopes the AS grants (absent: whatever is asked).
    pub grantable: Option<Vec<String>>,
    /// How the callback carries `state`.
    pub callback_state: CallbackState,
    /// Accept any https `client_id` as a client ID metadata document.
    pub cimd: bool,
    /// The endpoints (`/authorize`, `/token`, `/register`) live on the RS's origin and the issuer is that
    /// origin (the 2025-03-26 layout).
    pub endpoints_on_rs: bool,
    /// Every metadata request is answered with a redirect here (expanded).
    pub metadata_redirect: Option<String>,
}

/// A world's configuration.
#[derive(Debug, Clone, Default)]
pub struct WorldConfig {
    /// The RS.
    pub rs: RsScript,
    /// The AS.
    pub authz: AsScript,
    /// Also run a second RS with its own AS (same scripts).
    pub second: bool,
}

/// The origins of a world's servers.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// Resource server.
    pub rs: String,
    /// Authorization server.
    pub authz: String,
    /// The evil server.
    pub evil: String,
    /// Second resource server (empty without one).
    pub rs2: String,
    /// Second authorization server.
    pub authz2: String,
}

/// One side of the world: an RS and the AS it trusts (0: the first; 1: the second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Rs(usize),
    Authz(usize),
    Evil,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Rs(0) => "rs",
            Role::Rs(_) => "rs2",
            Role::Authz(0) => "as",
            Role::Authz(_) => "as2",
            Role::Evil => "evil",
        }
    }
}

#[derive(Default)]
struct State {
    requests: Vec<WorldRequest>,
    labels: Labels,
    sides: [authz::Side; 2],
    authorized: [usize; 2],
}

struct Shared {
    config: WorldConfig,
    origins: Origins,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn origin(&self, role: Role) -> &str {
        match role {
            Role::Rs(0) => &self.origins.rs,
            Role::Rs(_) => &self.origins.rs2,
            Role::Authz(0) => &self.origins.authz,
            Role::Authz(_) => &self.origins.authz2,
            Role::Evil => &self.origins.evil,
        }
    }

    /// The issuer of side `i`.
    fn issuer(&self, i: usize) -> String {
        if self.config.authz.endpoints_on_rs {
            return self.origin(Role::Rs(i)).to_owned();
        }
        format!(
            "{}{}",
            self.origin(Role::Authz(i)),
            self.config.authz.issuer_path
        )
    }

    /// `s` with `{rs}`, `{issuer}`, `{as}`, `{evil}` and `{prm}` of side `i` filled in (and `{rs_plain}`,
    /// `{rs_localhost}`: the RS's origin with `http`, or with the host name `localhost`).
    fn expand(&self, i: usize, s: &str) -> String {
        let rs = self.origin(Role::Rs(i));
        s.replace("{prm}", &format!("{rs}/meta/custom-prm.json"))
            .replace("{rs_plain}", &rs.replacen("https://", "http://", 1))
            .replace("{rs_localhost}", &rs.replacen("127.0.0.1", "localhost", 1))
            .replace("{rs}", rs)
            .replace("{issuer}", &self.issuer(i))
            .replace("{as}", self.origin(Role::Authz(i)))
            .replace("{evil}", &self.origins.evil)
    }

    fn expand_map(&self, i: usize, base: &mut Map<String, Value>, set: &Map<String, Value>) {
        for (k, v) in set {
            let v = match v {
                Value::String(s) => Value::String(self.expand(i, s)),
                Value::Array(a) => Value::Array(
                    a.iter()
                        .map(|x| match x {
                            Value::String(s) => Value::String(self.expand(i, s)),
                            o => o.clone(),
                        })
                        .collect(),
                ),
                o => o.clone(),
            };
            base.insert(k.clone(), v);
        }
    }
}

/// A position in the journal.
#[derive(Debug, Clone, Copy, Default)]
pub struct WorldMark(usize);

/// The running world. Shuts down when dropped.
pub struct MockWorld {
    shared: Arc<Shared>,
    _servers: Vec<RunningServer>,
}

impl MockWorld {
    /// Binds every server, then serves them with `tls`.
    pub async fn start(
        config: WorldConfig,
        tls: Arc<rustls::ServerConfig>,
    ) -> anyhow::Result<MockWorld> {
        let roles: Vec<Role> = if config.second {
            vec![
                Role::Rs(0),
                Role::Authz(0),
                Role::Evil,
                Role::Rs(1),
                Role::Authz(1),
            ]
        } else {
            vec![Role::Rs(0), Role::Authz(0), Role::Evil]
        };
        let listeners = roles
            .iter()
            .map(|_| bind_localhost(0))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut urls = HashMap::new();
        for (role, l) in roles.iter().zip(&listeners) {
            urls.insert(role.name(), base_url_for(l.local_addr()?, true));
        }
        let get = |n: &str| urls.get(n).cloned().unwrap_or_default();
        let origins = Origins {
            rs: get("rs"),
            authz: get("as"),
            evil: get("evil"),
            rs2: get("rs2"),
            authz2: get("as2"),
        };
        let shared = Arc::new(Shared {
            config,
            origins,
            state: Mutex::new(State::default()),
        });
        let mut servers = Vec::new();
        for (role, listener) in roles.into_iter().zip(listeners) {
            let router = Router::new()
                .fallback(serve)
                .with_state((Arc::clone(&shared), role));
            servers.push(RunningServer::from_listener(
                listener,
                router,
                Some(Arc::clone(&tls)),
            )?);
        }
        Ok(MockWorld {
            shared,
            _servers: servers,
        })
    }

    /// The origins of the servers.
    pub fn origins(&self) -> &Origins {
        &self.shared.origins
    }

    /// The MCP endpoint of side `i` (0 or 1).
    pub fn mcp_url(&self, i: usize) -> String {
        format!("{}/mcp", self.shared.origin(Role::Rs(i)))
    }

    /// The issuer of side `i`.
    pub fn issuer(&self, i: usize) -> String {
        self.shared.issuer(i)
    }

    /// The present end of the journal.
    pub fn mark(&self) -> WorldMark {
        WorldMark(self.shared.lock().requests.len())
    }

    /// The requests since `mark`.
    pub fn since(&self, mark: WorldMark) -> Vec<WorldRequest> {
        let st = self.shared.lock();
        st.requests
            .get(mark.0..)
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// Every secret value the world handed out or received, with its label (to redact client output).
    pub fn secrets(&self) -> Vec<(String, String)> {
        self.shared.lock().labels.secrets()
    }

    /// `url` with the values of its secret query parameters (`state`, `code_challenge`, `code`…) replaced by
    /// their labels, as the journal shows them (labels made on first sight).
    pub fn relabel_url(&self, url: &str) -> String {
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let query = query.split_once('#').map_or(query, |(q, _)| q);
        let mut out = url.to_owned();
        let mut st = self.shared.lock();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let label = st.labels.relabel(&name, &value);
            if label == value {
                continue;
            }
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            for raw in [encoded, value.into_owned()] {
                out = out.replace(&format!("{name}={raw}"), &format!("{name}={label}"));
            }
        }
        out
    }
}

async fn serve(
    axum::extract::State((shared, role)): axum::extract::State<(Arc<Shared>, Role)>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let mut rec = WorldRequest::new(role.name(), &parts, &bytes);
    let mut st = shared.lock();
    let response = match role {
        Role::Rs(i) => rs::handle(&shared, &mut st, i, &parts, &bytes, &mut rec),
        Role::Authz(i) => authz::handle(&shared, &mut st, i, &parts, &mut rec),
        Role::Evil => record::status(404, "{\"error\":\"not_found\"}"),
    };
    rec.status = response.status().as_u16();
    let State {
        requests, labels, ..
    } = &mut *st;
    requests.push(rec.labelled(labels));
    response
}

/// A random value with a prefix, for codes, tokens and client IDs.
pub(crate) fn random_token(prefix: &str) -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..32)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{tail}")
}

#[cfg(test)]
mod tests;

//! The mock OAuth 2.1 authorization server.
//!
//! It serves, on one `127.0.0.1` port (HTTPS when a TLS configuration is
//! given):
//!
//! | route | standard | behaviour |
//! | --- | --- | --- |
//! | `GET /.well-known/oauth-authorization-server`, `GET /.well-known/openid-configuration` | RFC 8414 | metadata |
//! | `GET /jwks` | RFC 7517 | current key, plus the previous one after [`MockAuthServer::rotate_key`] until [`MockAuthServer::retire_previous`] |
//! | `GET /authorize` | RFC 6749 §4.1, RFC 7636, RFC 8707, RFC 9207 | scripted consent ([`Consent`]), no browser: answers `302` to the redirect URI |
//! | `POST /token` | RFC 6749 §4.1.3, §4.4, §6, RFC 7636 §4.6, RFC 8628 §3.4 | `authorization_code`, `refresh_token` (rotating), `client_credentials`, `urn:ietf:params:oauth:grant-type:device_code` |
//! | `POST /device_authorization` | RFC 8628 §3.1 | device authorization ([`DeviceFlowConfig`]) |
//! | `GET /device` | RFC 8628 §3.3 | the verification page (informational: approval is scripted) |
//! | `POST /register` | RFC 7591 | dynamic client registration |
//! | `POST /introspect` | RFC 7662 | for confidential clients (and, with [`AuthServerConfig::public_introspection`], public clients' own tokens) |
//! | `POST /revoke` | RFC 7009 | always `200` |
//!
//! It is strict where a client can go wrong, and answers with the error the
//! standards prescribe:
//!
//! * `/authorize`: an unknown `client_id`, or a `redirect_uri` that is not
//!   exactly a registered one, gets a `400` HTML error page and never a
//!   redirect. Everything else is redirected to the registered URI with
//!   `error=…`: a missing `code_challenge`, `code_challenge_method` other
//!   than `S256` (absent means `plain`, which is refused) and a malformed
//!   challenge are `invalid_request`; a repeated parameter is
//!   `invalid_request`; `response_type` other than `code` is
//!   `unsupported_response_type`; a scope outside `scopes_supported` is
//!   `invalid_scope`; a `resource` that is not an absolute URI, has a
//!   fragment, or is outside [`AuthServerConfig::allowed_resources`] is
//!   `invalid_target`. `state` is echoed, `iss` is added (RFC 9207).
//! * `/token`: errors are RFC 6749 §5.2 JSON with status 400, except
//!   `invalid_client`, which is 401 with `WWW-Authenticate: Basic`. Every
//!   token response carries `Cache-Control: no-store`. Codes are single use
//!   (any redemption attempt consumes the code); a second use is
//!   `invalid_grant` and revokes every token issued from that code (OAuth 2.1
//!   §4.1.3). A missing or mismatching `code_verifier` is `invalid_grant`.
//!   Refresh tokens rotate on every use; presenting a superseded one is
//!   `invalid_grant` and revokes the whole family. `resource` becomes the
//!   access token's `aud`; at the token endpoint it must be one of the
//!   resources authorized for the grant (`invalid_target` otherwise).
//!
//! * Device flow (RFC 8628): `/device_authorization` takes a form with
//!   `client_id` (a registered client; confidential ones authenticate as at
//!   `/token`), optional `scope` (`invalid_scope` outside
//!   `scopes_supported`; absent means all) and optional `resource`s
//!   (`invalid_target` as above), and answers `device_code` (256 random
//!   bits), `user_code` (`XXXX-XXXX` from the RFC 8628 §6.1 alphabet
//!   `BCDFGHJKLMNPQRSTVWXZ`), `verification_uri` (`{issuer}/device`),
//!   `verification_uri_complete`, `expires_in` and `interval` with
//!   `Cache-Control: no-store`. A poll of `/token` with the device-code grant
//!   is judged in this order: an unknown device code, or one issued to
//!   another client, is `invalid_grant`; an exchanged one `invalid_grant`, a
//!   denied one `access_denied`, an expired one `expired_token` (terminal); a
//!   poll sooner than the code's interval after the previous poll (or the
//!   device authorization response) is `slow_down` and the interval grows by
//!   [`DeviceFlowConfig::slow_down_increment`] for good; then a code approved
//!   through [`MockAuthServer::approve_user_code`] gets its tokens, and an
//!   undecided one gets what [`DeviceFlowConfig::script`] says
//!   (`authorization_pending`, …). Tokens are issued as for an authorization
//!   code: a signed JWT access token with `aud` = the requested `resource`s
//!   (a `resource` at `/token` must be one of them), the code's scope, the
//!   approving user as `sub`, and a rotating refresh token; the code is then
//!   spent (`invalid_grant` ever after). Every poll is recorded with its
//!   timing ([`MockAuthServer::device_polls`]) besides the journal.
//!
//! [`AuthServerConfig::lenience`] turns some of this strictness off on
//! purpose ([`Lenience`]: optional PKCE, prefix redirect matching, a loopback
//! redirect URI's authority ignored, no refresh rotation, any `resource`,
//! access tokens not bound to it, any registered redirect URI), to play a
//! careless AS.
//!
//! Every request is journaled ([`MockAuthServer::journal`]) with secrets
//! replaced by [`crate::REDACTED`].

mod authorize;
mod device;
#[cfg(test)]
mod lenience_tests;
mod register;
mod token;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

pub use device::{DeviceFlowConfig, UserCodeError};

use crate::device::{DEVICE_CODE_GRANT, DevicePoll};
use crate::journal::{self, Journal, RequestRecord};
use crate::keys::{SigningAlg, SigningKey, sign_jws, verify_jws};
use crate::oauth::{Form, OAuthError, random_token};
use crate::server::{RunningServer, base_url_for, bind_localhost};
use crate::token::{Signer, TokenSpec};

/// The `client_id` claim of tokens minted with [`MockAuthServer::mint`].
pub const MINT_CLIENT_ID: &str = "authconform";

/// The user the scripted consent approves as: the `sub` of tokens issued
/// through `/authorize` unless [`AuthServerConfig::subject`] says otherwise.
pub const DEFAULT_SUBJECT: &str = "alice";

/// What the scripted resource owner answers at `/authorize`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Consent {
    /// Approve at once: `302` to `redirect_uri?code=…&state=…&iss=…`.
    #[default]
    Approve,
    /// Deny: `302` to `redirect_uri?error=access_denied&state=…&iss=…`.
    Deny,
    /// Approve after this long (a slow user; the `302` comes late).
    Delay(Duration),
}

/// A client known to the server from the start.
///
/// A client with a `secret` is confidential: it must authenticate at the
/// token, introspection and revocation endpoints with `client_secret_basic`
/// or `client_secret_post`, and may use the `client_credentials` grant. One
/// without is public (`token_endpoint_auth_method` `none`). Both may use
/// `authorization_code` and `refresh_token`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientConfig {
    /// The `client_id`.
    pub client_id: String,
    /// The redirect URIs, matched exactly (no port or path variance).
    pub redirect_uris: Vec<String>,
    /// The client secret of a confidential client.
    pub secret: Option<String>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("secret", &self.secret.as_ref().map(|_| crate::REDACTED))
            .finish()
    }
}

/// How to run a [`MockAuthServer`]. Build it with `..Default::default()`.
#[derive(Clone, Debug)]
pub struct AuthServerConfig {
    /// Serve over TLS with this configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// The port on `127.0.0.1`; `0` (the default) lets the OS choose.
    pub port: u16,
    /// The access-token signing algorithm (default ES256), used by
    /// [`MockAuthServer::mint`] and the token endpoint.
    pub alg: SigningAlg,
    /// Pre-registered clients (more can register through `/register`).
    pub clients: Vec<ClientConfig>,
    /// The scripted answer at `/authorize` (default [`Consent::Approve`]).
    pub consent: Consent,
    /// The `sub` of tokens issued through `/authorize` (default `alice`).
    pub subject: String,
    /// `scopes_supported`; a request for another scope is `invalid_scope`.
    /// Default `mcp:read mcp:tools`. A request without `scope` is granted all
    /// of them.
    pub scopes_supported: Vec<String>,
    /// Resources (RFC 8707) tokens may be issued for; empty (the default)
    /// accepts any absolute URI without a fragment (and
    /// [`Lenience::ignore_resource`] accepts anything).
    pub allowed_resources: Vec<String>,
    /// Lifetime of issued access tokens (default one hour).
    pub access_token_lifetime: Duration,
    /// Lifetime of authorization codes (default one minute).
    pub code_lifetime: Duration,
    /// Members merged into the metadata document last; a `null` value removes
    /// the member (e.g. `code_challenge_methods_supported: null` plays an AS
    /// without PKCE).
    pub metadata_overrides: Map<String, Value>,
    /// The device flow (RFC 8628): interval, lifetime and the scripted user.
    pub device: DeviceFlowConfig,
    /// Deliberate deviations from the specifications (all off by default).
    pub lenience: Lenience,
    /// A public client may introspect the tokens issued to it (`client_id`
    /// alone, no secret; anyone else's token introspects as inactive), as
    /// oidc-provider's default introspection policy allows; `none` is then
    /// listed in `introspection_endpoint_auth_methods_supported`. Off by
    /// default: only confidential clients may introspect.
    pub public_introspection: bool,
}

/// Deliberate deviations from the specifications, for seeding faults and for
/// testing clients against a careless AS; all off by default.
#[derive(Clone, Debug, Default)]
pub struct Lenience {
    /// PKCE is optional: `/authorize` issues a code without `code_challenge`,
    /// with `code_challenge_method=plain` (or absent) and with a malformed
    /// challenge, and `/token` does not check `code_verifier` (missing or
    /// mismatching is accepted). Violates RFC 7636 §4.4.1 and §4.6.
    pub pkce_optional: bool,
    /// A requested `redirect_uri` matches a registered one when it starts
    /// with it (`…/cb/x` and `…/cb?x=1` match `…/cb`). Violates the exact
    /// matching of OAuth 2.1 §2.3.1 and the MCP "Open Redirection" rule.
    pub loose_redirect_match: bool,
    /// A careless loopback port exception: a requested `redirect_uri`
    /// matches a registered `http` loopback one when both authorities merely
    /// mention a loopback host (`127.0.0.1`, `localhost`, `[::1]`) and the
    /// scheme, path and query are equal, so `http://localhost:33418/cb`,
    /// `http://127.0.0.1.evil.test:33418/cb` and
    /// `http://127.0.0.1:33418@evil.test/cb` match
    /// `http://127.0.0.1:33418/cb`. RFC 8252 §7.3 lets only the port vary.
    pub loopback_any_authority: bool,
    /// The refresh grant answers with the same refresh token, which stays
    /// usable (no rotation, so no reuse detection). Violates OAuth 2.1 §4.3.1
    /// for public clients.
    pub no_refresh_rotation: bool,
    /// Any `resource` value is accepted at `/authorize` and `/token` (no
    /// `invalid_target`: neither [`AuthServerConfig::allowed_resources`], nor
    /// the absolute-URI and fragment checks, nor the subset check at `/token`).
    /// Ignores RFC 8707 §2.
    pub ignore_resource: bool,
    /// Access tokens are not audience-restricted: their `aud` is the AS's
    /// own issuer, whatever `resource` was requested (and accepted). Ignores
    /// RFC 8707 §2 ("SHOULD audience-restrict issued access tokens").
    pub unbound_audience: bool,
    /// Dynamic registration accepts any redirect URIs: `javascript:`, URIs
    /// with fragments, non-loopback `http`, an empty or missing list.
    /// Violates RFC 7591 §2 and RFC 6749 §3.1.2.
    pub register_any_redirect: bool,
}

impl Default for AuthServerConfig {
    fn default() -> Self {
        AuthServerConfig {
            tls: None,
            port: 0,
            alg: SigningAlg::default(),
            clients: Vec::new(),
            consent: Consent::default(),
            subject: DEFAULT_SUBJECT.to_owned(),
            scopes_supported: vec!["mcp:read".to_owned(), "mcp:tools".to_owned()],
            allowed_resources: Vec::new(),
            access_token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(60),
            metadata_overrides: Map::new(),
            device: DeviceFlowConfig::default(),
            lenience: Lenience::default(),
            public_introspection: false,
        }
    }
}

/// Which client authentication a registered client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AuthMethod {
    None,
    Basic,
    Post,
    /// Pre-registered confidential clients accept either.
    BasicOrPost,
}

#[derive(Clone, Debug)]
struct Client {
    secret: Option<String>,
    redirect_uris: Vec<String>,
    method: AuthMethod,
    grant_types: Vec<String>,
}

impl Client {
    fn allows(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// `unauthorized_client` (RFC 6749 §5.2) unless the client is registered for `grant_type`.
    fn require_grant(&self, grant_type: &str) -> Result<(), OAuthError> {
        if self.allows(grant_type) {
            return Ok(());
        }
        Err(OAuthError::bad(
            "unauthorized_client",
            format!("the client is not registered for the {grant_type} grant"),
        ))
    }
}

/// An issued authorization code.
#[derive(Clone, Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    /// Whether `/authorize` named the redirect URI (then `/token` must too).
    redirect_explicit: bool,
    challenge: String,
    scope: String,
    resources: Vec<String>,
    subject: String,
    expires: Instant,
    /// Set on the first redemption attempt; the family of tokens issued from
    /// it, if any.
    consumed: bool,
    family: Option<u64>,
}

/// Everything issued from one grant (an authorization code or a client
/// credentials request).
#[derive(Clone, Debug)]
struct Family {
    client_id: String,
    subject: String,
    scope: String,
    resources: Vec<String>,
    revoked: bool,
    jtis: Vec<String>,
}

#[derive(Clone, Debug)]
struct Refresh {
    family: u64,
    superseded: bool,
}

#[derive(Default)]
struct Grants {
    clients: HashMap<String, Client>,
    codes: HashMap<String, Code>,
    refresh: HashMap<String, Refresh>,
    families: HashMap<u64, Family>,
    revoked_jtis: HashSet<String>,
    next_family: u64,
    device: device::DeviceSessions,
}

impl Grants {
    fn new_family(&mut self, family: Family) -> u64 {
        self.next_family += 1;
        self.families.insert(self.next_family, family);
        self.next_family
    }

    /// Revoke every token of a family.
    fn revoke_family(&mut self, id: u64) {
        if let Some(family) = self.families.get_mut(&id) {
            family.revoked = true;
            self.revoked_jtis.extend(family.jtis.iter().cloned());
        }
    }
}

struct KeyRing {
    current: Arc<SigningKey>,
    previous: Option<Arc<SigningKey>>,
    /// Not published; signs [`Signer::Foreign`] tokens under the current kid.
    foreign: Arc<SigningKey>,
}

/// A token response before its access token is signed.
struct Issued {
    claims: Map<String, Value>,
    expires_in: u64,
    refresh_token: Option<String>,
    scope: String,
}

/// State shared by the handlers and the [`MockAuthServer`] handle.
struct Shared {
    issuer: String,
    alg: SigningAlg,
    subject: String,
    scopes_supported: Vec<String>,
    allowed_resources: Vec<String>,
    access_lifetime: Duration,
    code_lifetime: Duration,
    metadata: Value,
    consent: Mutex<Consent>,
    device: DeviceFlowConfig,
    lenience: Lenience,
    public_introspection: bool,
    keys: RwLock<KeyRing>,
    grants: Mutex<Grants>,
    journal: Journal,
}

impl Shared {
    fn grants(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Sign `claims` with the current key (or the foreign one).
    fn sign(&self, claims: &Map<String, Value>, signer: Signer) -> anyhow::Result<String> {
        let keys = self.keys();
        let key = match signer {
            Signer::Trusted => &keys.current,
            Signer::Foreign => &keys.foreign,
        };
        sign_jws(key, keys.current.kid(), "at+jwt", claims)
    }

    /// Claims of a valid (published key, not expired, our issuer, not
    /// revoked) access token.
    fn validate_access_token(
        &self,
        token: &str,
        revoked: &HashSet<String>,
    ) -> Option<Map<String, Value>> {
        let claims = {
            let keys = self.keys();
            let mut published: Vec<&SigningKey> = vec![&keys.current];
            if let Some(previous) = &keys.previous {
                published.push(previous);
            }
            verify_jws(token, &published)?
        };
        let now = now_secs();
        let exp = claims.get("exp")?.as_i64()?;
        if exp <= now || claims.get("iss")?.as_str()? != self.issuer {
            return None;
        }
        if let Some(jti) = claims.get("jti").and_then(Value::as_str)
            && revoked.contains(jti)
        {
            return None;
        }
        Some(claims)
    }

    /// The claims of a new access token in a family (its subject and
    /// client), for `scope` and `resources`; records its `jti`. Signing
    /// happens later, outside the grants lock.
    fn access_token_claims(
        &self,
        grants: &mut Grants,
        family_id: u64,
        scope: &str,
        resources: &[String],
    ) -> Result<Issued, OAuthError> {
        let family = grants
            .families
            .get_mut(&family_id)
            .ok_or_else(|| OAuthError::invalid_grant("grant not found"))?;
        let now = now_secs();
        let lifetime = self.access_lifetime.as_secs();
        let jti = random_token(16);
        let mut claims = Map::new();
        claims.insert("iss".into(), Value::from(self.issuer.as_str()));
        claims.insert("sub".into(), Value::from(family.subject.as_str()));
        match resources {
            _ if self.lenience.unbound_audience => {
                // Careless AS: one audience for everything, itself.
                claims.insert("aud".into(), Value::from(self.issuer.as_str()));
            }
            [] => {}
            [one] => {
                claims.insert("aud".into(), Value::from(one.as_str()));
            }
            many => {
                claims.insert("aud".into(), Value::from(many.to_vec()));
            }
        }
        if !scope.is_empty() {
            claims.insert("scope".into(), Value::from(scope));
        }
        claims.insert("client_id".into(), Value::from(family.client_id.as_str()));
        claims.insert("iat".into(), Value::from(now));
        claims.insert(
            "exp".into(),
            Value::from(now.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX))),
        );
        claims.insert("jti".into(), Value::from(jti.as_str()));
        family.jtis.push(jti);
        Ok(Issued {
            claims,
            expires_in: lifetime,
            refresh_token: None,
            scope: scope.to_owned(),
        })
    }

    fn scope_allowed(&self, scope: &str) -> bool {
        scope
            .split(' ')
            .filter(|s| !s.is_empty())
            .all(|s| self.scopes_supported.iter().any(|x| x == s))
    }

    fn resource_allowed(&self, resource: &str) -> bool {
        crate::oauth::valid_resource(resource)
            && (self.allowed_resources.is_empty()
                || self.allowed_resources.iter().any(|r| r == resource))
    }

    /// Every `resource` of an authorization or token request, validated and
    /// without repeats; when `authorized` is not empty, each must be one of
    /// them (RFC 8707 §2.2).
    fn requested_resources(
        &self,
        form: &Form,
        authorized: &[String],
    ) -> Result<Vec<String>, OAuthError> {
        let mut out: Vec<String> = Vec::new();
        for resource in form.all("resource") {
            if self.lenience.ignore_resource {
                if !out.iter().any(|r| r == resource) {
                    out.push(resource.to_owned());
                }
                continue;
            }
            if !self.resource_allowed(resource) {
                return Err(OAuthError::bad(
                    "invalid_target",
                    format!(
                        "resource `{resource}` is not an acceptable absolute URI without a fragment"
                    ),
                ));
            }
            if !authorized.is_empty() && !authorized.iter().any(|r| r == resource) {
                return Err(OAuthError::bad(
                    "invalid_target",
                    format!("resource `{resource}` was not authorized for this grant"),
                ));
            }
            if !out.iter().any(|r| r == resource) {
                out.push(resource.to_owned());
            }
        }
        Ok(out)
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Mock OAuth 2.1 authorization server: see the [module documentation](self)
/// for the routes and the errors it answers with.
///
/// The server shuts down when dropped.
pub struct MockAuthServer {
    server: RunningServer,
    shared: Arc<Shared>,
}

impl fmt::Debug for MockAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAuthServer")
            .field("issuer", &self.shared.issuer)
            .field("alg", &self.shared.alg)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

fn metadata_document(issuer: &str, scopes: &[String], overrides: &Map<String, Value>) -> Value {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "registration_endpoint": format!("{issuer}/register"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported":
            ["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported":
            ["none", "client_secret_basic", "client_secret_post"],
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
    });
    if let Value::Object(map) = &mut doc {
        for (name, value) in overrides {
            if value.is_null() {
                map.remove(name);
            } else {
                map.insert(name.clone(), value.clone());
            }
        }
    }
    doc
}

async fn serve_metadata(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.metadata.clone()).into_response()
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> Response {
    let keys = shared.keys();
    let mut list = vec![keys.current.jwk().clone()];
    if let Some(previous) = &keys.previous {
        list.push(previous.jwk().clone());
    }
    Json(json!({ "keys": list })).into_response()
}

async fn not_found() -> Response {
    OAuthError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint").into_response()
}

fn router(shared: Arc<Shared>) -> Router {
    let journal = shared.journal.clone();
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(serve_metadata),
        )
        .route("/.well-known/openid-configuration", get(serve_metadata))
        .route("/jwks", get(serve_jwks))
        .route("/authorize", get(authorize::authorize))
        .route("/token", post(token::token))
        .route("/introspect", post(token::introspect))
        .route("/revoke", post(token::revoke))
        .route("/register", post(register::register))
        .route("/device_authorization", post(device::device_authorization))
        .route("/device", get(crate::device::verification_page))
        .fallback(not_found)
        .with_state(shared)
        .layer(axum::middleware::from_fn_with_state(
            journal,
            journal::record,
        ))
}

fn client_from_config(config: &ClientConfig) -> Client {
    let mut grant_types = vec![
        "authorization_code".to_owned(),
        "refresh_token".to_owned(),
        DEVICE_CODE_GRANT.to_owned(),
    ];
    if config.secret.is_some() {
        grant_types.push("client_credentials".to_owned());
    }
    Client {
        secret: config.secret.clone(),
        redirect_uris: config.redirect_uris.clone(),
        method: if config.secret.is_some() {
            AuthMethod::BasicOrPost
        } else {
            AuthMethod::None
        },
        grant_types,
    }
}

impl MockAuthServer {
    /// Generate fresh keys, bind `127.0.0.1:{config.port}` and start serving.
    ///
    /// Must be called within a Tokio runtime.
    pub async fn start(config: AuthServerConfig) -> anyhow::Result<MockAuthServer> {
        let current = SigningKey::generate(config.alg).context("generating the signing key")?;
        let foreign = SigningKey::generate(config.alg).context("generating the foreign key")?;

        let listener = bind_localhost(config.port)?;
        let addr = listener
            .local_addr()
            .context("reading the listener's local address")?;
        let issuer = base_url_for(addr, config.tls.is_some());

        let mut grants = Grants::default();
        for client in &config.clients {
            if client.client_id.is_empty() {
                return Err(anyhow!("a pre-registered client has an empty client_id"));
            }
            grants
                .clients
                .insert(client.client_id.clone(), client_from_config(client));
        }
        let mut overrides = config.metadata_overrides.clone();
        if config.public_introspection {
            overrides
                .entry("introspection_endpoint_auth_methods_supported")
                .or_insert_with(|| json!(["none", "client_secret_basic", "client_secret_post"]));
        }
        let shared = Arc::new(Shared {
            metadata: metadata_document(&issuer, &config.scopes_supported, &overrides),
            issuer,
            alg: config.alg,
            subject: config.subject,
            scopes_supported: config.scopes_supported,
            allowed_resources: config.allowed_resources,
            access_lifetime: config.access_token_lifetime,
            code_lifetime: config.code_lifetime,
            consent: Mutex::new(config.consent),
            device: config.device,
            lenience: config.lenience,
            public_introspection: config.public_introspection,
            keys: RwLock::new(KeyRing {
                current: Arc::new(current),
                previous: None,
                foreign: Arc::new(foreign),
            }),
            grants: Mutex::new(grants),
            journal: Journal::new(),
        });
        let server =
            RunningServer::from_listener(listener, router(Arc::clone(&shared)), config.tls)?;
        Ok(MockAuthServer { server, shared })
    }

    /// The issuer identifier, equal to the server's base URL, e.g.
    /// `https://127.0.0.1:PORT` (no trailing slash, no path).
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// The RFC 8414 metadata URL:
    /// `{issuer}/.well-known/oauth-authorization-server`.
    pub fn metadata_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-authorization-server",
            self.shared.issuer
        )
    }

    /// The JWKS URL: `{issuer}/jwks`.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.shared.issuer)
    }

    /// `{issuer}/authorize`.
    pub fn authorization_endpoint(&self) -> String {
        format!("{}/authorize", self.shared.issuer)
    }

    /// `{issuer}/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared.issuer)
    }

    /// `{issuer}/register`.
    pub fn registration_endpoint(&self) -> String {
        format!("{}/register", self.shared.issuer)
    }

    /// `{issuer}/introspect`.
    pub fn introspection_endpoint(&self) -> String {
        format!("{}/introspect", self.shared.issuer)
    }

    /// `{issuer}/revoke`.
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke", self.shared.issuer)
    }

    /// The signing algorithm.
    pub fn alg(&self) -> SigningAlg {
        self.shared.alg
    }

    /// The `kid` of the current signing key (an RFC 7638 thumbprint).
    pub fn kid(&self) -> String {
        self.shared.keys().current.kid().to_owned()
    }

    /// Generate a new signing key (same algorithm) and make it current; the
    /// key it replaces stays in the JWKS until [`Self::retire_previous`] (an
    /// older previous key is dropped). Returns the new `kid`.
    pub fn rotate_key(&self) -> anyhow::Result<String> {
        let fresh = Arc::new(SigningKey::generate(self.shared.alg)?);
        let foreign = Arc::new(SigningKey::generate(self.shared.alg)?);
        let kid = fresh.kid().to_owned();
        let mut keys = self.shared.keys.write().unwrap_or_else(|e| e.into_inner());
        let old = std::mem::replace(&mut keys.current, fresh);
        keys.previous = Some(old);
        keys.foreign = foreign;
        Ok(kid)
    }

    /// Stop publishing the key replaced by the last [`Self::rotate_key`];
    /// tokens it signed then fail verification and introspect as inactive.
    pub fn retire_previous(&self) {
        let mut keys = self.shared.keys.write().unwrap_or_else(|e| e.into_inner());
        keys.previous = None;
    }

    /// Change the scripted consent for later `/authorize` requests.
    pub fn set_consent(&self, consent: Consent) {
        *self
            .shared
            .consent
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = consent;
    }

    /// `{issuer}/device_authorization` (RFC 8628 §3.1).
    pub fn device_authorization_endpoint(&self) -> String {
        format!("{}/device_authorization", self.shared.issuer)
    }

    /// The user, as [`AuthServerConfig::subject`], approves the device
    /// authorization with this user code (compared ignoring case and
    /// punctuation): its next well-paced poll gets tokens, whatever the
    /// script says. Refused when the code is unknown, expired, denied or
    /// already exchanged.
    pub fn approve_user_code(&self, user_code: &str) -> Result<(), UserCodeError> {
        let subject = self.shared.subject.clone();
        self.approve_user_code_as(user_code, &subject)
    }

    /// As [`Self::approve_user_code`], as the user `subject` (the tokens'
    /// `sub`).
    pub fn approve_user_code_as(
        &self,
        user_code: &str,
        subject: &str,
    ) -> Result<(), UserCodeError> {
        self.shared.grants().device.decide(
            user_code,
            device::DeviceStatus::Approved {
                subject: subject.to_owned(),
            },
        )
    }

    /// The user denies: every later poll is `access_denied`. Refused when the
    /// code is unknown, expired, approved or exchanged.
    pub fn deny_user_code(&self, user_code: &str) -> Result<(), UserCodeError> {
        self.shared
            .grants()
            .device
            .decide(user_code, device::DeviceStatus::Denied)
    }

    /// End the device authorization now: every later poll is
    /// `expired_token`, and approval is refused. Refused only when the code
    /// is unknown or already exchanged.
    pub fn expire_user_code(&self, user_code: &str) -> Result<(), UserCodeError> {
        self.shared
            .grants()
            .device
            .decide(user_code, device::DeviceStatus::Expired)
    }

    /// Every user code issued so far, oldest first (a harness approves the
    /// last one when it cannot read the client's display).
    pub fn user_codes(&self) -> Vec<String> {
        self.shared.grants().device.user_codes()
    }

    /// Every device-code poll of `/token` that got as far as naming a device
    /// code, in arrival order, with the gap since the previous poll of the
    /// same code and the interval in force. `outcome` is the error code or
    /// `token_issued`; `vendor` is always false.
    pub fn device_polls(&self) -> Vec<DevicePoll> {
        self.shared.grants().device.polls.clone()
    }

    /// Register (or replace) a client, as if pre-registered.
    pub fn register_client(&self, client: &ClientConfig) {
        self.shared
            .grants()
            .clients
            .insert(client.client_id.clone(), client_from_config(client));
    }

    /// Every request received so far, in arrival order, secrets redacted.
    pub fn journal(&self) -> Vec<RequestRecord> {
        self.shared.journal.snapshot()
    }

    /// Forget the journal so far.
    pub fn clear_journal(&self) {
        self.shared.journal.clear();
    }

    pub(crate) fn journal_tail(&self, from: usize) -> Vec<RequestRecord> {
        self.shared.journal.tail(from)
    }

    /// Mint an access token as described by `spec`, signed with the
    /// configured algorithm.
    ///
    /// Header: `alg` per [`AuthServerConfig::alg`], `typ` `at+jwt`, `kid` of
    /// the current key (also for [`Signer::Foreign`]). Claims: `iss`, `sub`,
    /// `aud` (per [`TokenSpec::audience`]), `scope` (when set), `client_id`
    /// [`MINT_CLIENT_ID`], `iat`, `exp` and a random `jti`, then `spec.extra`.
    ///
    /// `exp` is now plus `expires_in`. `iat` is now, except for an already
    /// expired token (`expires_in < 0`), whose `iat` is 300 seconds before its
    /// `exp`, as a genuinely old token's would be.
    pub fn mint(&self, spec: &TokenSpec) -> anyhow::Result<String> {
        let now = now_secs();
        let exp = now
            .checked_add(spec.expires_in)
            .context("expires_in out of range")?;
        let iat = if spec.expires_in < 0 {
            exp.saturating_sub(300)
        } else {
            now
        };

        let mut claims = Map::new();
        let iss = spec.issuer.as_deref().unwrap_or(&self.shared.issuer);
        claims.insert("iss".into(), Value::from(iss));
        claims.insert("sub".into(), Value::from(spec.subject.as_str()));
        match spec.audience.as_slice() {
            [] => {}
            [one] => {
                claims.insert("aud".into(), Value::from(one.as_str()));
            }
            many => {
                claims.insert("aud".into(), Value::from(many.to_vec()));
            }
        }
        if let Some(scope) = &spec.scope {
            claims.insert("scope".into(), Value::from(scope.as_str()));
        }
        claims.insert("client_id".into(), Value::from(MINT_CLIENT_ID));
        claims.insert("iat".into(), Value::from(iat));
        claims.insert("exp".into(), Value::from(exp));
        claims.insert("jti".into(), Value::from(random_token(16)));
        for (name, value) in &spec.extra {
            claims.insert(name.clone(), value.clone());
        }
        self.shared
            .sign(&claims, spec.signer)
            .context("signing the access token")
    }
}

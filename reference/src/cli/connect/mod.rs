//! `connect <server>`: the reference MCP client of the `oauth-client` profile
//! (docs/oauth-client-contract.md). It connects to an MCP server over
//! streamable HTTP and, on 401, authorizes as the MCP authorization spec
//! (2025-11-25) says: protected-resource metadata (RFC 9728), AS metadata
//! (RFC 8414 / OIDC), registration (pre-registered, client ID metadata
//! document, or RFC 7591), the authorization code grant with PKCE S256,
//! `state`, `resource` (RFC 8707) and a loopback redirect, or the
//! client-credentials grant. A server without protected-resource metadata is
//! treated as MCP 2025-03-26 says (metadata or default endpoints on its origin). Then `initialize`, `tools/list`, `tools/call
//! whoami`, and the tool's text on stdout. 401 `invalid_token` refreshes once;
//! 403 `insufficient_scope` re-authorizes with the union of scopes, at most
//! twice. Tokens never appear in output.

mod authorize;
mod challenge;
mod context;
mod discovery;
mod http;
mod pkce;
mod registration;
mod session;
mod store;
mod token;
mod urls;

use std::sync::Arc;

use url::Url;

use self::authorize::{Expect, Listener};
use self::challenge::Challenge;
use self::context::Context;
use self::discovery::{AsMetadata, Leniency, ResourceMetadata};
use self::http::Http;
use self::pkce::{Method, Pkce, random_token};
use self::registration::{AuthMethod, Client};
use self::session::{Failure, Session, SharedToken};
use self::store::{Store, StoredToken};
use self::token::{SigningKey, TokenEndpoint, Tokens};
use super::{CliError, CliResult};
use crate::faults::{Fault, Faults};

/// Re-authorizations on 403 `insufficient_scope` before giving up.
pub(crate) const MAX_STEP_UPS: u32 = 2;
/// The same under the `endless-step-up` fault (bounded so tests end).
pub(crate) const FAULTY_STEP_UPS: u32 = 10;
/// The scope added when the AS lists it, for refresh tokens.
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";
/// The scope every authorization asks for under the `fixed-scope` fault.
pub(crate) const FIXED_SCOPE: &str = "mcp";

/// What discovery found for the server.
#[derive(Clone)]
struct Discovered {
    prm: ResourceMetadata,
    meta: AsMetadata,
}

/// One run of `connect`.
struct Flow {
    faults: Faults,
    http: Http,
    server: Url,
    resource: String,
    /// The server URL as given (the `raw-resource` fault sends it as `resource`).
    raw_server: String,
    store: Store,
    ctx: Context,
    token: SharedToken,
    current: Option<StoredToken>,
    discovered: Option<Discovered>,
    scopes: Vec<String>,
    step_ups: u32,
    refreshed: bool,
    reauthorized: bool,
}

/// Runs `connect <server>`.
pub(crate) async fn run(faults: &Faults, verbose: bool, server: &str) -> CliResult {
    let raw_server = server.trim();
    let server =
        Url::parse(raw_server).map_err(|_| CliError::usage(format!("{server:?} is not a URL")))?;
    urls::check_endpoint(&server, "MCP server URL").map_err(CliError::usage)?;
    let http = Http::new(verbose)?;
    let token: SharedToken = Arc::default();
    let mut session = Session::new(
        server.clone(),
        http.client().clone(),
        token.clone(),
        faults.has(Fault::TokenInQuery),
        verbose,
    );
    let mut flow = Flow {
        resource: urls::canonical_resource(&server),
        raw_server: raw_server.to_owned(),
        store: Store::open(faults.has(Fault::TokenToOtherHost))?,
        ctx: Context::from_env()?,
        faults: faults.clone(),
        http,
        server,
        token,
        current: None,
        discovered: None,
        scopes: Vec::new(),
        step_ups: 0,
        refreshed: false,
        reauthorized: false,
    };
    let result = flow.drive(&mut session).await;
    session.close().await;
    let text = result?;
    println!("{text}");
    Ok(())
}

impl Flow {
    /// Authorizes if needed, then steps the session to the tool's text,
    /// handling 401 and 403 on the way.
    async fn drive(&mut self, session: &mut Session) -> Result<String, CliError> {
        match self.store.token(&self.resource)? {
            Some(stored) => self.adopt(stored),
            None => self.first_contact().await?,
        }
        loop {
            match session.step().await {
                Ok(Some(text)) => return Ok(text),
                Ok(None) => {}
                Err(Failure::Unauthorized(header)) => self.on_unauthorized(&header).await?,
                Err(Failure::Forbidden(header)) => self.on_forbidden(&header).await?,
                Err(Failure::Other(e)) => return Err(e),
            }
        }
    }

    /// Makes `token` the one sent from now on.
    fn adopt(&mut self, token: StoredToken) {
        if let Some(scope) = &token.scope {
            union_into(&mut self.scopes, scope);
        }
        if let Ok(mut shared) = self.token.write() {
            *shared = Some(token.access_token.clone());
        }
        self.current = Some(token);
    }

    /// Stores and adopts a fresh token set.
    fn keep(&mut self, tokens: Tokens, issuer: &str, scope: Option<String>) -> CliResult {
        let token = StoredToken {
            resource: self.resource.clone(),
            issuer: issuer.to_owned(),
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            scope,
        };
        self.store.save_token(token.clone())?;
        self.adopt(token);
        Ok(())
    }

    /// An unauthenticated `initialize`: on 401, authorize with its challenges.
    async fn first_contact(&mut self) -> CliResult {
        let challenges = self.probe().await?;
        match challenges {
            Some(challenges) => self.authorize(&challenges).await,
            None => Ok(()),
        }
    }

    /// POSTs `initialize` without a token: every challenge of a 401, else `None`.
    async fn probe(&self) -> Result<Option<Vec<Challenge>>, CliError> {
        let message = serde_json::json!({
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": session::CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")},
            },
        });
        let reply = self.http.post_mcp(&self.server, &message).await?;
        Ok((reply.status == 401).then(|| challenge::parse_fields(&reply.challenges)))
    }

    /// 401 during the session: refresh once if possible, else authorize again once.
    async fn on_unauthorized(&mut self, header: &str) -> CliResult {
        if let Some(current) = self.current.clone() {
            if current.refresh_token.is_some() && !self.refreshed {
                self.refreshed = true;
                match self.refresh(&current).await {
                    Ok(()) => return Ok(()),
                    Err(e) => eprintln!("{e}; authorizing again"),
                }
            }
            self.store.remove_token(&self.resource, &current.issuer)?;
            self.current = None;
        }
        if self.reauthorized {
            return Err(CliError::failure(
                "the MCP server refused the new access token too (401)",
            ));
        }
        self.reauthorized = true;
        // The resource may have moved to another AS: discover afresh.
        self.discovered = None;
        let challenges = match self.probe().await? {
            Some(c) if challenge::bearer(&c).is_some() => c,
            _ => challenge::parse(header),
        };
        self.authorize(&challenges).await
    }

    /// 403: step up on `insufficient_scope` (bounded), refuse anything else.
    async fn on_forbidden(&mut self, header: &str) -> CliResult {
        let challenges = challenge::parse(header);
        let error = challenge::bearer(&challenges).and_then(|c| c.param("error"));
        if error != Some("insufficient_scope") {
            return Err(CliError::failure(format!(
                "the MCP server refused access (403{})",
                error.map(|e| format!(", {e}")).unwrap_or_default()
            )));
        }
        let limit = if self.faults.has(Fault::EndlessStepUp) {
            FAULTY_STEP_UPS
        } else {
            MAX_STEP_UPS
        };
        if self.step_ups >= limit {
            return Err(CliError::failure(format!(
                "the MCP server still wants more scope after {limit} re-authorizations; giving up"
            )));
        }
        self.step_ups += 1;
        self.authorize(&challenges).await
    }

    /// Discovery (cached for the run), then the grant that fits.
    async fn authorize(&mut self, challenges: &[Challenge]) -> CliResult {
        let bearer = challenge::bearer(challenges).cloned();
        let discovered = match self.discovered.clone() {
            Some(d) => d,
            None => self.discover(bearer.as_ref()).await?,
        };
        let scope = self.choose_scope(bearer.as_ref(), &discovered);
        let meta = &discovered.meta;
        let tokens = if self.client_credentials(meta) {
            self.client_credentials_grant(meta, scope.as_deref())
                .await?
        } else {
            self.code_grant(meta, scope.as_deref()).await?
        };
        self.discovered = Some(discovered.clone());
        self.keep(tokens, &discovered.meta.issuer, scope)
    }

    /// PRM (the challenge's `resource_metadata` unless faulted), then the AS;
    /// without any PRM, the 2025-03-26 way (metadata or defaults on the origin).
    async fn discover(&self, bearer: Option<&Challenge>) -> Result<Discovered, CliError> {
        let header_url = bearer
            .and_then(|c| c.param("resource_metadata"))
            .filter(|_| !self.faults.has(Fault::IgnoreResourceMetadata));
        let lenient = self.leniency();
        let found =
            discovery::resource_metadata(&self.http, &self.server, header_url, lenient).await?;
        let Some(prm) = found else {
            let meta = discovery::legacy_metadata(&self.http, &self.server, lenient).await?;
            let prm = ResourceMetadata {
                authorization_servers: vec![meta.issuer.clone()],
                scopes_supported: None,
            };
            return Ok(Discovered { prm, meta });
        };
        let issuer_url = discovery::choose_issuer(&prm.authorization_servers)?;
        let issuer = prm
            .authorization_servers
            .iter()
            .find(|s| Url::parse(s).ok().as_ref() == Some(&issuer_url))
            .cloned()
            .unwrap_or_else(|| issuer_url.to_string());
        let meta = discovery::as_metadata(&self.http, &issuer, &issuer_url, lenient).await?;
        Ok(Discovered { prm, meta })
    }

    /// The discovery faults in force.
    fn leniency(&self) -> Leniency {
        Leniency {
            accept_issuer_mismatch: self.faults.has(Fault::AcceptIssuerMismatch),
            root_prm_first: self.faults.has(Fault::RootPrmFirst),
            root_as_metadata_only: self.faults.has(Fault::RootAsMetadataOnly),
            accept_any_prm_resource: self.faults.has(Fault::AcceptAnyPrmResource),
            follow_redirects: self.faults.has(Fault::FollowMetadataRedirects),
            no_legacy_endpoints: self.faults.has(Fault::NoLegacyEndpoints),
        }
    }

    /// The challenge's scope, else the PRM's `scopes_supported`, united with
    /// what was asked before; `offline_access` added where the AS lists it.
    fn choose_scope(&mut self, bearer: Option<&Challenge>, d: &Discovered) -> Option<String> {
        if self.faults.has(Fault::FixedScope) {
            return Some(FIXED_SCOPE.to_owned());
        }
        let challenged = bearer.and_then(|c| c.param("scope")).unwrap_or("");
        if !challenged.trim().is_empty() {
            union_into(&mut self.scopes, challenged);
        } else if let Some(supported) = &d.prm.scopes_supported {
            union_into(&mut self.scopes, &supported.join(" "));
        }
        let offered = d.meta.scopes_supported.as_deref().unwrap_or_default();
        let always = self.faults.has(Fault::AlwaysOfflineAccess);
        if always || (!self.scopes.is_empty() && offered.iter().any(|s| s == OFFLINE_ACCESS)) {
            union_into(&mut self.scopes, OFFLINE_ACCESS);
        }
        (!self.scopes.is_empty()).then(|| self.scopes.join(" "))
    }

    /// The `resource` parameter, unless faulted away.
    fn resource_param(&self) -> Option<&str> {
        if self.faults.has(Fault::NoResourceParam) {
            None
        } else if self.faults.has(Fault::RawResource) {
            Some(self.raw_server.as_str())
        } else {
            Some(self.resource.as_str())
        }
    }

    /// The token endpoint of `meta` as `client`, with the token faults in force.
    fn token_endpoint<'a>(
        &'a self,
        meta: &'a AsMetadata,
        url: &'a Url,
        client: &'a Client,
    ) -> TokenEndpoint<'a> {
        TokenEndpoint {
            http: &self.http,
            url,
            issuer: &meta.issuer,
            client,
            key: None,
            resource: self.resource_param(),
            two_methods: self.faults.has(Fault::TwoAuthMethods),
            expired_assertion: self.faults.has(Fault::ExpiredAssertion),
        }
    }

    /// The configured client for `meta`'s AS: pre-registered, else (unless
    /// faulted away) the client ID metadata document.
    fn configured_client(&self, meta: &AsMetadata) -> Option<Client> {
        registration::pre_registered(&self.ctx, meta).or_else(|| {
            (!self.faults.has(Fault::IgnoreCimd))
                .then(|| registration::metadata_document(&self.ctx, meta))
                .flatten()
        })
    }

    /// Whether to use the client-credentials grant: the context says so, or it
    /// holds a secret for an AS that offers only that grant.
    fn client_credentials(&self, meta: &AsMetadata) -> bool {
        let grants = meta.grant_types.as_deref().unwrap_or_default();
        let only_cc = grants.iter().any(|g| g == "client_credentials")
            && !grants.iter().any(|g| g == "authorization_code");
        self.ctx.wants_client_credentials()
            || (only_cc && self.ctx.client_id.is_some() && self.ctx.client_secret.is_some())
    }

    /// The client-credentials grant: no browser, no user.
    async fn client_credentials_grant(
        &self,
        meta: &AsMetadata,
        scope: Option<&str>,
    ) -> Result<Tokens, CliError> {
        let url = token_endpoint(meta)?;
        let client = self.cc_client(meta)?;
        let key = self.ctx.private_key_pem.as_deref().map(|pem| SigningKey {
            pem,
            algorithm: self.ctx.signing_algorithm.as_deref().unwrap_or("ES256"),
        });
        let mut endpoint = self.token_endpoint(meta, &url, &client);
        endpoint.key = key;
        endpoint.client_credentials(scope).await
    }

    /// The client of the client-credentials grant: `private_key_jwt` with a
    /// key, else its secret the way the AS takes it (Basic by default).
    fn cc_client(&self, meta: &AsMetadata) -> Result<Client, CliError> {
        let Some(client_id) = self.ctx.client_id.clone() else {
            return Err(CliError::usage(
                "the client credentials grant needs client_id in MCP_CONFORMANCE_CONTEXT",
            ));
        };
        if self.ctx.private_key_pem.is_some() {
            return Ok(Client {
                client_id,
                client_secret: None,
                auth_method: AuthMethod::PrivateKeyJwt,
            });
        }
        registration::pre_registered(&self.ctx, meta)
            .filter(|c| c.client_secret.is_some())
            .ok_or_else(|| {
                CliError::usage(
                    "the client credentials grant needs client_secret or private_key_pem in MCP_CONFORMANCE_CONTEXT",
                )
            })
    }

    /// The authorization code grant: checks, client, browser, callback, exchange.
    async fn code_grant(&self, meta: &AsMetadata, scope: Option<&str>) -> Result<Tokens, CliError> {
        if !self.faults.has(Fault::PkceUnadvertisedOk) {
            require_s256(meta)?;
        }
        let authorization = self.authorization_endpoint(meta)?;
        let token_url = token_endpoint(meta)?;
        let (client, mut listener) = self.client_and_listener(meta).await?;
        let pkce = Pkce::new(self.pkce_method());
        let state = random_token();
        let redirect_uri = listener.redirect_uri().to_owned();
        let request = authorize::Request {
            endpoint: &authorization,
            client_id: &client.client_id,
            redirect_uri: &redirect_uri,
            scope,
            state: &state,
            pkce: &pkce,
            resource: self.resource_param(),
        };
        let expect = Expect {
            state: &state,
            issuer: &meta.issuer,
            iss_required: meta.iss_parameter_supported,
            skip_state: self.faults.has(Fault::NoStateCheck),
        };
        let via_shell = self.faults.has(Fault::BrowserViaShell);
        let url = request.url();
        let code =
            authorize::obtain_code(&self.http, &mut listener, &url, &expect, via_shell).await?;
        self.token_endpoint(meta, &token_url, &client)
            .exchange_code(&code, pkce.verifier.as_deref(), &redirect_uri)
            .await
    }

    /// The authorization endpoint, checked unless the `open-any-scheme` fault.
    fn authorization_endpoint(&self, meta: &AsMetadata) -> Result<Url, CliError> {
        let raw = meta.authorization_endpoint.as_deref();
        if self.faults.has(Fault::OpenAnyScheme) {
            return Url::parse(raw.unwrap_or_default().trim())
                .map_err(|_| CliError::failure("the authorization endpoint is not a URL"));
        }
        endpoint_of(raw, "authorization endpoint")
    }

    fn pkce_method(&self) -> Method {
        if self.faults.has(Fault::NoPkce) {
            Method::Off
        } else if self.faults.has(Fault::PlainPkce) {
            Method::Plain
        } else {
            Method::S256
        }
    }

    /// Pre-registered client, else client ID metadata document, else the
    /// registration kept for this AS (when its loopback port can be had again),
    /// else a new dynamic registration; with the listener for the redirect.
    async fn client_and_listener(&self, meta: &AsMetadata) -> Result<(Client, Listener), CliError> {
        if let Some(client) = self.configured_client(meta) {
            return Ok((client, Listener::bind(None).await?));
        }
        let kept = self.store.registration(&meta.issuer)?;
        let port = kept
            .as_ref()
            .and_then(|r| Url::parse(&r.redirect_uri).ok())
            .and_then(|u| u.port());
        let listener = Listener::bind(port).await?;
        if let Some(kept) = kept.filter(|r| r.redirect_uri == listener.redirect_uri()) {
            return Ok(((&kept).into(), listener));
        }
        let with_refresh = !self.faults.has(Fault::NoRefreshGrantType);
        let registered =
            registration::register(&self.http, meta, listener.redirect_uri(), with_refresh).await?;
        self.store.save_registration(registered.clone())?;
        Ok(((&registered).into(), listener))
    }

    /// Refreshes `current` at its AS (with `resource`), keeping the rotated refresh token.
    async fn refresh(&mut self, current: &StoredToken) -> CliResult {
        let Some(refresh_token) = current.refresh_token.as_deref() else {
            return Err(CliError::failure("no refresh token"));
        };
        let meta = match &self.discovered {
            Some(d) if d.meta.issuer == current.issuer => d.meta.clone(),
            _ => self.issuer_metadata(&current.issuer).await?,
        };
        let client = self.refresh_client(&meta)?;
        let url = token_endpoint(&meta)?;
        let endpoint = self.token_endpoint(&meta, &url, &client);
        let mut tokens = endpoint.refresh(refresh_token).await?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = current.refresh_token.clone();
        }
        self.keep(tokens, &current.issuer, current.scope.clone())
    }

    /// The metadata of a stored token's issuer (checked as in discovery).
    async fn issuer_metadata(&self, issuer: &str) -> Result<AsMetadata, CliError> {
        let issuer_url = discovery::choose_issuer(&[issuer.to_owned()])?;
        discovery::as_metadata(&self.http, issuer, &issuer_url, self.leniency()).await
    }

    /// The client a refresh authenticates as at `meta`'s AS.
    fn refresh_client(&self, meta: &AsMetadata) -> Result<Client, CliError> {
        if let Some(client) = self.configured_client(meta) {
            return Ok(client);
        }
        self.store
            .registration(&meta.issuer)?
            .map(|r| (&r).into())
            .ok_or_else(|| CliError::failure("no client registration for the refresh"))
    }
}

/// Refuses an AS that does not advertise PKCE `S256`.
fn require_s256(meta: &AsMetadata) -> CliResult {
    let methods = meta.code_challenge_methods.as_deref().unwrap_or_default();
    if methods.iter().any(|m| m == "S256") {
        Ok(())
    } else {
        Err(CliError::failure(
            "refusing the authorization server: its metadata does not list S256 in \
             code_challenge_methods_supported (PKCE is required)",
        ))
    }
}

/// The checked token endpoint.
fn token_endpoint(meta: &AsMetadata) -> Result<Url, CliError> {
    endpoint_of(meta.token_endpoint.as_deref(), "token endpoint")
}

/// A metadata endpoint, present and https (or http on loopback).
fn endpoint_of(raw: Option<&str>, what: &str) -> Result<Url, CliError> {
    let raw = raw.ok_or_else(|| {
        CliError::failure(format!("the authorization server metadata has no {what}"))
    })?;
    urls::endpoint(raw, what).map_err(CliError::failure)
}

/// Adds the space-separated `scope` values to `scopes`, keeping order, no repeats.
fn union_into(scopes: &mut Vec<String>, scope: &str) {
    for s in scope.split_ascii_whitespace() {
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_union_keeps_order_without_repeats() {
        let mut scopes = Vec::new();
        union_into(&mut scopes, "mcp:basic");
        union_into(&mut scopes, "mcp:write  mcp:basic");
        assert_eq!(scopes, ["mcp:basic", "mcp:write"]);
    }

    #[test]
    fn s256_is_required() {
        let mut meta = AsMetadata::default();
        assert!(require_s256(&meta).is_err());
        meta.code_challenge_methods = Some(vec!["plain".into()]);
        assert!(require_s256(&meta).is_err());
        meta.code_challenge_methods = Some(vec!["plain".into(), "S256".into()]);
        assert!(require_s256(&meta).is_ok());
    }

    #[test]
    fn endpoints_are_checked() {
        assert!(endpoint_of(None, "token endpoint").is_err());
        assert!(endpoint_of(Some("javascript:alert(1)"), "authorization endpoint").is_err());
        assert!(endpoint_of(Some("https://as.test/token"), "token endpoint").is_ok());
    }
}

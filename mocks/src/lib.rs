//! Mock parties for authconform, the conformance suite for the auth of MCP
//! servers, API gateways and CLIs.
//!
//! The mocks play the real parties an implementation under test talks to,
//! faithfully enough that it cannot tell them from the real thing, and
//! strictly enough to catch its mistakes:
//!
//! * [`MockAuthServer`]: an OAuth 2.1 authorization server: RFC 8414
//!   metadata, a rotating JWKS (ES256, RS256 or EdDSA), `/authorize` with
//!   PKCE and scripted [`Consent`], `/token` (authorization code, rotating
//!   refresh tokens, client credentials), dynamic registration,
//!   introspection and revocation; plus in-process minting of access tokens
//!   described by a [`TokenSpec`] ([`MockAuthServer::mint`]).
//! * [`MockDeviceServer`]: RFC 8628 device authorization and the Peel CLI's
//!   `POST /public/device/start` / `POST /public/device/exchange`, with a
//!   scripted user ([`DeviceScript`]) and polling discipline enforced and
//!   recorded.
//! * [`MockUpstream`]: the upstream API a server calls on the user's behalf,
//!   answering scripted [`UpstreamRule`]s and recording every request; a
//!   wiremock `MockServer` (behind a TLS front for HTTPS) on which a test can
//!   also mount its own mocks ([`MockUpstream::server`]).
//! * [`TestCa`]: a per-run certificate authority and a leaf certificate for
//!   `127.0.0.1` and `localhost`, so every mock can serve HTTPS.
//!
//! Every server binds `127.0.0.1` (port 0 unless pinned) and accepts
//! connections as soon as its `start` returns: nothing here sleeps or polls
//! for readiness. Journals replace secrets with [`REDACTED`]. All
//! cryptography goes through aws-lc-rs. The same mocks run standalone:
//! `cargo run -p authconform-mocks -- --help` (see [`standalone`]).
//!
//! # Mint a token and verify it against the JWKS
//!
//! ```
//! use authconform_mocks::{tls, AuthServerConfig, MockAuthServer, SigningAlg, TestCa, TokenSpec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! tls::install_crypto_provider();
//! let ca = TestCa::generate()?;
//! let auth = MockAuthServer::start(AuthServerConfig {
//!     tls: Some(ca.server_config()?),
//!     alg: SigningAlg::EdDsa,
//!     ..Default::default()
//! })
//! .await?;
//! assert!(auth.issuer().starts_with("https://127.0.0.1:"));
//!
//! let token = auth.mint(&TokenSpec {
//!     subject: "bob".to_owned(),
//!     audience: vec!["https://127.0.0.1:8443/mcp".to_owned()],
//!     scope: Some("mcp:read".to_owned()),
//!     expires_in: 60,
//!     ..TokenSpec::default()
//! })?;
//! // Present `token` as `Authorization: Bearer {token}` to the server under test;
//! // it verifies it with the key published at `auth.jwks_url()`.
//! let client = reqwest::Client::builder()
//!     .tls_certs_only([reqwest::Certificate::from_pem(ca.ca_pem().as_bytes())?])
//!     .build()?;
//! let jwks: serde_json::Value = client.get(auth.jwks_url()).send().await?.json().await?;
//! assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
//! assert_eq!(jwks["keys"][0]["kid"], auth.kid());
//! # let _ = token;
//! # Ok(())
//! # }
//! ```
//!
//! # Script the upstream and read its journal
//!
//! ```
//! use authconform_mocks::{MockUpstream, UpstreamRules, When};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # authconform_mocks::tls::install_crypto_provider();
//! // "This key sees one project, that key sees all": two rules, first match wins.
//! let rules = UpstreamRules::from_toml(r#"
//!     [[rule]]
//!     when = { method = "GET", path = "/projects", headers = [["X-API-Key", "project-key"]] }
//!     respond = { json = [{ id = "p1" }] }
//!     [[rule]]
//!     when = { method = "GET", path = "/projects", headers = [["X-API-Key", "partner-key"]] }
//!     respond = { json = [{ id = "p1" }, { id = "p2" }] }
//! "#)?;
//! let upstream = MockUpstream::start_with(&rules.rule).await?;
//!
//! let http = reqwest::Client::new();
//! let url = format!("{}/projects", upstream.base_url());
//! let one: serde_json::Value =
//!     http.get(&url).header("X-API-Key", "project-key").send().await?.json().await?;
//! assert_eq!(one.as_array().map(Vec::len), Some(1));
//! let stranger = http.get(&url).header("X-API-Key", "nobody").send().await?;
//! assert_eq!(stranger.status(), 404);
//!
//! let journal = upstream.journal().await;
//! assert_eq!(journal.len(), 2);
//! assert_eq!(journal[0].header_values("x-api-key"), ["project-key"]);
//! let with_key = When { headers: vec![("X-API-Key".into(), "project-key".into())], ..When::default() };
//! assert_eq!(upstream.count_matching(&with_key).await, 1);
//! # Ok(())
//! # }
//! ```
//!
//! # An authorization-code + PKCE exchange, as a client would run it
//!
//! ```
//! use authconform_mocks::{s256_challenge, AuthServerConfig, ClientConfig, MockAuthServer, REDACTED};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # authconform_mocks::tls::install_crypto_provider();
//! let redirect = "http://127.0.0.1:33418/cb";
//! let auth = MockAuthServer::start(AuthServerConfig {
//!     clients: vec![ClientConfig {
//!         client_id: "cli".into(),
//!         redirect_uris: vec![redirect.into()],
//!         secret: None,
//!     }],
//!     ..Default::default()
//! })
//! .await?;
//! let http = reqwest::Client::builder()
//!     .redirect(reqwest::redirect::Policy::none())
//!     .build()?;
//!
//! let verifier = "a-fresh-high-entropy-verifier-of-43-chars-or-more";
//! let authorize = http
//!     .get(auth.authorization_endpoint())
//!     .query(&[
//!         ("response_type", "code"),
//!         ("client_id", "cli"),
//!         ("redirect_uri", redirect),
//!         ("state", "xyz"),
//!         ("code_challenge", &s256_challenge(verifier)),
//!         ("code_challenge_method", "S256"),
//!         ("resource", "https://mcp.example/mcp"),
//!     ])
//!     .send()
//!     .await?;
//! assert_eq!(authorize.status(), 302); // consent is scripted: no browser
//! let location = url::Url::parse(authorize.headers()["location"].to_str()?)?;
//! let param = |name: &str| location.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
//! assert_eq!(param("state").as_deref(), Some("xyz"));
//! let code = param("code").expect("a code");
//!
//! let tokens: serde_json::Value = http
//!     .post(auth.token_endpoint())
//!     .form(&[
//!         ("grant_type", "authorization_code"),
//!         ("code", &code),
//!         ("redirect_uri", redirect),
//!         ("client_id", "cli"),
//!         ("code_verifier", verifier),
//!         ("resource", "https://mcp.example/mcp"),
//!     ])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(tokens["token_type"], "Bearer");
//! assert!(tokens["refresh_token"].is_string());
//!
//! // The journal shows what the client sent, secrets redacted.
//! let journal = auth.journal();
//! let token_request = journal.iter().find(|r| r.path == "/token").expect("journaled");
//! assert_eq!(token_request.param("code_verifier"), Some(REDACTED));
//! assert_eq!(token_request.param("resource"), Some("https://mcp.example/mcp"));
//! # Ok(())
//! # }
//! ```
//!
//! # A device flow (Peel CLI shape)
//!
//! ```
//! use std::time::Duration;
//! use authconform_mocks::{DeviceScript, DeviceServerConfig, MockDeviceServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # authconform_mocks::tls::install_crypto_provider();
//! let device = MockDeviceServer::start(DeviceServerConfig {
//!     script: DeviceScript::ApproveAfter(1),
//!     interval: Duration::from_millis(20), // fake-fast; the RFC default is 5 s
//!     ..Default::default()
//! })
//! .await?;
//! let http = reqwest::Client::new();
//! let start: serde_json::Value = http.post(device.start_url()).send().await?.json().await?;
//! let device_code = start["device_code"].as_str().expect("device_code").to_owned();
//! let exchange = |http: reqwest::Client, code: String, url: String| async move {
//!     http.post(url).json(&serde_json::json!({ "device_code": code })).send().await
//! };
//! tokio::time::sleep(Duration::from_millis(25)).await; // honour the interval
//! let pending = exchange(http.clone(), device_code.clone(), device.exchange_url()).await?;
//! assert_eq!(pending.json::<serde_json::Value>().await?["error"], "authorization_pending");
//! tokio::time::sleep(Duration::from_millis(25)).await;
//! let approved: serde_json::Value =
//!     exchange(http.clone(), device_code, device.exchange_url()).await?.json().await?;
//! assert!(approved["api_key"].as_str().is_some_and(|k| k.starts_with("sk_test_")));
//! assert_eq!(device.polls().len(), 2);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod auth_server;
pub mod device;
pub mod host;
pub mod journal;
mod keys;
mod oauth;
pub mod server;
pub mod standalone;
pub mod tls;
pub mod token;
pub mod upstream;
pub mod world;

pub use auth_server::{
    AuthServerConfig, ClientConfig, Consent, DeviceFlowConfig, Lenience, MockAuthServer,
    UserCodeError,
};
pub use device::{
    DevicePaths, DevicePoll, DeviceReply, DeviceScript, DeviceServerConfig, MockDeviceServer,
};
pub use host::{FixedRoute, HostActivity, HostConfig, HostKey, HostMark, HostRequest, MockCliHost};
pub use journal::{REDACTED, RequestRecord};
pub use keys::SigningAlg;
pub use oauth::s256_challenge;
pub use server::RunningServer;
pub use tls::TestCa;
pub use token::{Signer, Tamper, TokenSpec, tamper};
pub use upstream::{
    JournalEntry, MockUpstream, Respond, UpstreamConfig, UpstreamRule, UpstreamRules, When,
};
pub use world::{
    AsPlace, AsScript, CallbackState, ClientAuth, ClientKey, KnownClient, MockWorld, Origins, Pkce,
    PrmPlace, RIGHT_CODE, RsScript, WorldConfig, WorldMark, WorldRequest,
};

//! Mock parties for authconform, the conformance suite for MCP servers' OAuth
//! authorization.
//!
//! The mocks play the real parties an MCP server under test talks to:
//!
//! * [`MockAuthServer`]: an OAuth 2.0 authorization server publishing RFC 8414
//!   metadata and a JWKS, and minting ES256 access tokens in process
//!   ([`MockAuthServer::mint`], described by a [`TokenSpec`]);
//! * [`MockUpstream`]: the upstream API the MCP server calls on the user's
//!   behalf, recording every request it receives in a [`JournalEntry`] list;
//! * [`TestCa`]: a per-run certificate authority and a leaf certificate for
//!   `127.0.0.1` and `localhost`, so the mocks can serve HTTPS.
//!
//! Every server binds `127.0.0.1:0` and is ready to accept connections as soon
//! as its `start` returns; nothing here sleeps or polls. All cryptography goes
//! through aws-lc-rs.
//!
//! # Example
//!
//! ```no_run
//! use authconform_mocks::{tls, AuthServerConfig, MockAuthServer, TestCa, TokenSpec};
//!
//! # async fn example() -> anyhow::Result<()> {
//! tls::install_crypto_provider();
//! let ca = TestCa::generate()?;
//! let auth = MockAuthServer::start(AuthServerConfig {
//!     tls: Some(ca.server_config()?),
//! })
//! .await?;
//! assert!(auth.issuer().starts_with("https://127.0.0.1:"));
//!
//! let token = auth.mint(&TokenSpec {
//!     audience: vec!["https://127.0.0.1:8443/mcp".to_owned()],
//!     scope: Some("mcp:read".to_owned()),
//!     ..TokenSpec::default()
//! })?;
//! // Present `token` as `Authorization: Bearer {token}` to the server under test.
//! # let _ = token;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod auth_server;
pub mod server;
pub mod tls;
pub mod token;
pub mod upstream;

pub use auth_server::{AuthServerConfig, MockAuthServer};
pub use server::RunningServer;
pub use tls::TestCa;
pub use token::{Signer, Tamper, TokenSpec, tamper};
pub use upstream::{JournalEntry, MockUpstream};

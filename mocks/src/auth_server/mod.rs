//! The mock OAuth 2.0 authorization server.
//!
//! This first part serves RFC 8414 metadata and a JWKS, and mints access
//! tokens in process. The authorization and token endpoints are advertised
//! but answer `501 Not Implemented` until the complete mock authorization
//! server arrives.

use std::fmt;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::Json;
use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value, json};

use crate::server::{RunningServer, base_url_for, bind_localhost};
use crate::token::{Signer, TokenSpec};

/// The `client_id` claim of every minted token.
const CLIENT_ID: &str = "authconform";

/// How to run a [`MockAuthServer`].
#[derive(Clone, Debug, Default)]
pub struct AuthServerConfig {
    /// Serve over TLS with this configuration; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Mock OAuth 2.0 authorization server (first part): RFC 8414 metadata, JWKS,
/// and in-process token minting.
///
/// Routes:
/// * `GET /.well-known/oauth-authorization-server` and
///   `GET /.well-known/openid-configuration`: the metadata document;
/// * `GET /jwks`: the JWK set holding the trusted ES256 key;
/// * `/authorize` and `/token`: `501` with a `temporarily_unavailable` error
///   (completed in a later issue).
///
/// The server shuts down when dropped.
pub struct MockAuthServer {
    server: RunningServer,
    issuer: String,
    kid: String,
    trusted: EncodingKey,
    foreign: EncodingKey,
}

impl fmt::Debug for MockAuthServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockAuthServer")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

/// A freshly generated P-256 signing key.
struct SigningKey {
    pkcs8: Vec<u8>,
    /// Base64url (no padding) affine coordinates.
    x: String,
    y: String,
}

fn generate_key() -> anyhow::Result<SigningKey> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| anyhow!("generating a P-256 key failed"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref())
        .map_err(|e| anyhow!("loading the generated P-256 key failed: {e}"))?;
    let point = pair.public_key().as_ref();
    // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
    if point.len() != 65 || point[0] != 0x04 {
        return Err(anyhow!(
            "unexpected P-256 public key encoding ({} bytes)",
            point.len()
        ));
    }
    Ok(SigningKey {
        pkcs8: doc.as_ref().to_vec(),
        x: URL_SAFE_NO_PAD.encode(&point[1..33]),
        y: URL_SAFE_NO_PAD.encode(&point[33..65]),
    })
}

/// The RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC P-256 key.
fn thumbprint(x: &str, y: &str) -> String {
    // Members in lexicographic order, no whitespace, as RFC 7638 requires.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

fn metadata_document(issuer: &str) -> Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["mcp:read", "mcp:tools"],
    })
}

fn jwks_document(key: &SigningKey, kid: &str) -> Value {
    json!({
        "keys": [{
            "kty": "EC",
            "crv": "P-256",
            "x": key.x,
            "y": key.y,
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
        }]
    })
}

async fn not_yet_implemented() -> impl IntoResponse {
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(json!({
            "error": "temporarily_unavailable",
            "error_description":
                "authorization and token endpoints arrive with the complete mock authorization server",
        })),
    )
}

fn router(metadata: Value, jwks: Value) -> Router {
    let metadata = Arc::new(metadata);
    let jwks = Arc::new(jwks);
    let serve_metadata = {
        let metadata = Arc::clone(&metadata);
        move || {
            let metadata = Arc::clone(&metadata);
            async move { Json(metadata.as_ref().clone()) }
        }
    };
    let serve_jwks = move || {
        let jwks = Arc::clone(&jwks);
        async move { Json(jwks.as_ref().clone()) }
    };
    Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(serve_metadata.clone()),
        )
        .route("/.well-known/openid-configuration", get(serve_metadata))
        .route("/jwks", get(serve_jwks))
        .route("/authorize", axum::routing::any(not_yet_implemented))
        .route("/token", axum::routing::any(not_yet_implemented))
}

impl MockAuthServer {
    /// Generate fresh keys, bind `127.0.0.1:0` and start serving.
    ///
    /// Must be called within a Tokio runtime.
    pub async fn start(config: AuthServerConfig) -> anyhow::Result<MockAuthServer> {
        let trusted = generate_key().context("generating the trusted signing key")?;
        let foreign = generate_key().context("generating the foreign signing key")?;
        let kid = thumbprint(&trusted.x, &trusted.y);

        let listener = bind_localhost()?;
        let addr = listener
            .local_addr()
            .context("reading the listener's local address")?;
        let issuer = base_url_for(addr, config.tls.is_some());

        let app = router(metadata_document(&issuer), jwks_document(&trusted, &kid));
        let server = RunningServer::from_listener(listener, app, config.tls)?;
        debug_assert_eq!(server.base_url(), issuer);

        Ok(MockAuthServer {
            server,
            issuer,
            kid,
            trusted: EncodingKey::from_ec_der(&trusted.pkcs8),
            foreign: EncodingKey::from_ec_der(&foreign.pkcs8),
        })
    }

    /// The issuer identifier, equal to the server's base URL, e.g.
    /// `https://127.0.0.1:PORT` (no trailing slash, no path).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The RFC 8414 metadata URL:
    /// `{issuer}/.well-known/oauth-authorization-server`.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-authorization-server", self.issuer)
    }

    /// The JWKS URL: `{issuer}/jwks`.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// Mint an ES256 access token as described by `spec`.
    ///
    /// Header: `alg` ES256, `typ` `at+jwt`, `kid` of the trusted key (also for
    /// [`Signer::Foreign`]). Claims: `iss`, `sub`, `aud` (per
    /// [`TokenSpec::audience`]), `scope` (when set), `client_id`
    /// `"authconform"`, `iat`, `exp` and a random `jti`, then `spec.extra`.
    ///
    /// `exp` is now plus `expires_in`. `iat` is now, except for an already
    /// expired token (`expires_in < 0`), whose `iat` is 300 seconds before its
    /// `exp`, as a genuinely old token's would be.
    pub fn mint(&self, spec: &TokenSpec) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let now = i64::try_from(now).context("current time out of range")?;
        let exp = now
            .checked_add(spec.expires_in)
            .context("expires_in out of range")?;
        let iat = if spec.expires_in < 0 {
            exp.saturating_sub(300)
        } else {
            now
        };

        let mut claims = Map::new();
        let iss = spec.issuer.as_deref().unwrap_or(&self.issuer);
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
        claims.insert("client_id".into(), Value::from(CLIENT_ID));
        claims.insert("iat".into(), Value::from(iat));
        claims.insert("exp".into(), Value::from(exp));
        claims.insert(
            "jti".into(),
            Value::from(URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())),
        );
        for (name, value) in &spec.extra {
            claims.insert(name.clone(), value.clone());
        }

        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(self.kid.clone());
        let key = match spec.signer {
            Signer::Trusted => &self.trusted,
            Signer::Foreign => &self.foreign,
        };
        jsonwebtoken::encode(&header, &claims, key).context("signing the access token")
    }
}

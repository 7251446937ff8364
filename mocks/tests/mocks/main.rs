//! End-to-end tests of the mock parties over real sockets: one test binary,
//! one module per mock.

mod auth_server;
mod auth_server_device;
mod device;
mod standalone;
mod support;
mod upstream;

use anyhow::Context;
use authconform_mocks::{
    AuthServerConfig, MockAuthServer, MockUpstream, RunningServer, Signer, Tamper, TestCa,
    TokenSpec, tamper, tls,
};
use axum::Router;
use axum::routing::get;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

const AUDIENCE: &str = "https://127.0.0.1:9/mcp";

fn client_trusting(ca: &TestCa) -> anyhow::Result<reqwest::Client> {
    tls::install_crypto_provider();
    let cert = reqwest::Certificate::from_pem(ca.ca_pem().as_bytes())?;
    Ok(reqwest::Client::builder()
        .tls_certs_only([cert])
        .no_proxy()
        .build()?)
}

async fn tls_auth_server() -> anyhow::Result<(TestCa, MockAuthServer, reqwest::Client)> {
    let ca = TestCa::generate()?;
    let server = MockAuthServer::start(AuthServerConfig {
        tls: Some(ca.server_config()?),
        ..AuthServerConfig::default()
    })
    .await?;
    let client = client_trusting(&ca)?;
    Ok((ca, server, client))
}

async fn fetch_jwks(server: &MockAuthServer, client: &reqwest::Client) -> anyhow::Result<JwkSet> {
    let response = client.get(server.jwks_url()).send().await?;
    anyhow::ensure!(
        response.status() == 200,
        "JWKS status {}",
        response.status()
    );
    Ok(response.json().await?)
}

async fn verify(
    server: &MockAuthServer,
    client: &reqwest::Client,
    token: &str,
) -> anyhow::Result<Map<String, Value>> {
    let jwks = fetch_jwks(server, client).await?;
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.context("token has no kid")?;
    let jwk = jwks.find(&kid).context("kid not in JWKS")?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[server.issuer()]);
    validation.leeway = 0;
    Ok(jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)?.claims)
}

fn spec() -> TokenSpec {
    TokenSpec {
        audience: vec![AUDIENCE.to_owned()],
        scope: Some("mcp:read mcp:tools".to_owned()),
        ..TokenSpec::default()
    }
}

#[tokio::test]
async fn tls_round_trip_with_test_ca() -> anyhow::Result<()> {
    let ca = TestCa::generate()?;
    let router = Router::new().route("/hello", get(|| async { "hello over tls" }));
    let server = RunningServer::start(router, Some(ca.server_config()?)).await?;
    assert!(server.base_url().starts_with("https://127.0.0.1:"));
    assert_eq!(
        server.base_url(),
        format!("https://127.0.0.1:{}", server.addr().port())
    );
    assert!(server.addr().ip().is_loopback());

    let client = client_trusting(&ca)?;
    let response = client
        .get(format!("{}/hello", server.base_url()))
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await?, "hello over tls");

    // `localhost` is in the certificate too.
    let response = client
        .get(format!("https://localhost:{}/hello", server.addr().port()))
        .send()
        .await?;
    assert_eq!(response.status(), 200);

    // A client trusting a different CA must refuse the certificate.
    let other = client_trusting(&TestCa::generate()?)?;
    let refused = other
        .get(format!("{}/hello", server.base_url()))
        .send()
        .await;
    assert!(refused.is_err(), "untrusted CA was accepted");
    Ok(())
}

#[tokio::test]
async fn plain_http_server_and_shutdown_on_drop() -> anyhow::Result<()> {
    let router = Router::new().route("/hello", get(|| async { "plain" }));
    let server = RunningServer::start(router, None).await?;
    assert_eq!(
        server.base_url(),
        format!("http://127.0.0.1:{}", server.addr().port())
    );
    let url = format!("{}/hello", server.base_url());
    let client = reqwest::Client::builder().no_proxy().build()?;
    assert_eq!(client.get(&url).send().await?.text().await?, "plain");

    drop(server);
    // A new client avoids reusing a pooled connection.
    let client = reqwest::Client::builder().no_proxy().build()?;
    assert!(client.get(&url).send().await.is_err(), "server still up");
    Ok(())
}

#[tokio::test]
async fn metadata_fields_and_issuer() -> anyhow::Result<()> {
    let (_ca, server, client) = tls_auth_server().await?;
    let issuer = server.issuer().to_owned();
    assert!(issuer.starts_with("https://127.0.0.1:"));
    assert!(!issuer.ends_with('/'));
    assert_eq!(
        server.metadata_url(),
        format!("{issuer}/.well-known/oauth-authorization-server")
    );
    assert_eq!(server.jwks_url(), format!("{issuer}/jwks"));

    for url in [
        server.metadata_url(),
        format!("{issuer}/.well-known/openid-configuration"),
    ] {
        let response = client.get(&url).send().await?;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str()?,
            "application/json"
        );
        let m: Value = response.json().await?;
        assert_eq!(m["issuer"], issuer.as_str());
        assert_eq!(m["authorization_endpoint"], format!("{issuer}/authorize"));
        assert_eq!(m["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(m["jwks_uri"], server.jwks_url());
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            m["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:device_code"
            ])
        );
        assert_eq!(
            m["device_authorization_endpoint"],
            format!("{issuer}/device_authorization")
        );
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            serde_json::json!(["none", "client_secret_basic", "client_secret_post"])
        );
        assert_eq!(
            m["scopes_supported"],
            serde_json::json!(["mcp:read", "mcp:tools"])
        );
        assert_eq!(m["registration_endpoint"], format!("{issuer}/register"));
        assert_eq!(m["introspection_endpoint"], format!("{issuer}/introspect"));
        assert_eq!(m["revocation_endpoint"], format!("{issuer}/revoke"));
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        // Every endpoint is served over https (OAUTH-AS-001).
        for (name, value) in m.as_object().context("object")? {
            if name.ends_with("_endpoint") || name == "jwks_uri" {
                assert!(
                    value.as_str().is_some_and(|u| u.starts_with("https://")),
                    "{name}"
                );
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn jwks_shape() -> anyhow::Result<()> {
    let (_ca, server, client) = tls_auth_server().await?;
    let jwks: Value = client.get(server.jwks_url()).send().await?.json().await?;
    let keys = jwks["keys"].as_array().context("keys")?;
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "EC");
    assert_eq!(key["crv"], "P-256");
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["use"], "sig");
    for coordinate in ["x", "y"] {
        let c = key[coordinate].as_str().context("coordinate")?;
        assert_eq!(c.len(), 43, "{coordinate} is not 32 bytes base64url-no-pad");
        assert!(!c.contains(['=', '+', '/']));
    }
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    Ok(())
}

#[tokio::test]
async fn jwks_verifies_minted_token() -> anyhow::Result<()> {
    let (_ca, server, client) = tls_auth_server().await?;
    let token = server.mint(&spec())?;

    let header = jsonwebtoken::decode_header(&token)?;
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));

    let claims = verify(&server, &client, &token).await?;
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["scope"], "mcp:read mcp:tools");
    assert_eq!(claims["client_id"], "authconform");
    let iat = claims["iat"].as_i64().context("iat")?;
    let exp = claims["exp"].as_i64().context("exp")?;
    assert_eq!(exp - iat, 300);
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));

    // jti is random per token.
    let again =
        jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(server.mint(&spec())?)?;
    assert_ne!(again.claims["jti"], claims["jti"]);
    Ok(())
}

#[tokio::test]
async fn audience_issuer_and_extra_claims() -> anyhow::Result<()> {
    let (_ca, server, _client) = tls_auth_server().await?;
    let claims = |token: String| -> anyhow::Result<Map<String, Value>> {
        Ok(jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(token)?.claims)
    };

    let none = claims(server.mint(&TokenSpec::default())?)?;
    assert!(!none.contains_key("aud"));
    assert!(!none.contains_key("scope"));

    let many = claims(server.mint(&TokenSpec {
        audience: vec!["a".into(), "b".into()],
        ..TokenSpec::default()
    })?)?;
    assert_eq!(many["aud"], serde_json::json!(["a", "b"]));

    let mut extra = Map::new();
    extra.insert("sub".into(), Value::from("mallory"));
    extra.insert("custom".into(), Value::from(7));
    let overridden = claims(server.mint(&TokenSpec {
        issuer: Some("https://evil.example".into()),
        extra,
        ..TokenSpec::default()
    })?)?;
    assert_eq!(overridden["iss"], "https://evil.example");
    assert_eq!(overridden["sub"], "mallory");
    assert_eq!(overridden["custom"], 7);
    Ok(())
}

#[tokio::test]
async fn foreign_signer_fails_verification() -> anyhow::Result<()> {
    let (_ca, server, client) = tls_auth_server().await?;
    let trusted = server.mint(&spec())?;
    let foreign = server.mint(&TokenSpec {
        signer: Signer::Foreign,
        ..spec()
    })?;
    // Same kid, so only the signature tells them apart.
    assert_eq!(
        jsonwebtoken::decode_header(&trusted)?.kid,
        jsonwebtoken::decode_header(&foreign)?.kid
    );
    let err = verify(&server, &client, &foreign)
        .await
        .expect_err("foreign-signed token verified");
    let err = err
        .downcast::<jsonwebtoken::errors::Error>()
        .context("not a jsonwebtoken error")?;
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidSignature
    );
    Ok(())
}

#[tokio::test]
async fn negative_expires_in_is_expired() -> anyhow::Result<()> {
    let (_ca, server, client) = tls_auth_server().await?;
    let token = server.mint(&TokenSpec {
        expires_in: -120,
        ..spec()
    })?;
    let claims = jsonwebtoken::dangerous::insecure_decode::<Map<String, Value>>(&token)?.claims;
    let now = i64::try_from(jsonwebtoken::get_current_timestamp())?;
    let exp = claims["exp"].as_i64().context("exp")?;
    let iat = claims["iat"].as_i64().context("iat")?;
    assert!(exp < now, "exp {exp} not before now {now}");
    assert!(iat < exp);

    let err = verify(&server, &client, &token)
        .await
        .expect_err("expired token verified");
    let err = err
        .downcast::<jsonwebtoken::errors::Error>()
        .context("not a jsonwebtoken error")?;
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::ExpiredSignature
    );
    Ok(())
}

#[tokio::test]
async fn every_tamper_breaks_verification() -> anyhow::Result<()> {
    let (_ca, server, client) = tls_auth_server().await?;
    let token = server.mint(&spec())?;
    verify(&server, &client, &token).await?;

    // alg=none: header rewritten, kid dropped, empty signature.
    let none = tamper(&token, Tamper::AlgNone);
    assert!(none.ends_with('.'));
    assert_eq!(none.split('.').nth(1), token.split('.').nth(1));
    let header: Value =
        serde_json::from_slice(&base64_decode(none.split('.').next().context("header")?)?)?;
    assert_eq!(header, serde_json::json!({"alg": "none", "typ": "JWT"}));
    assert!(verify(&server, &client, &none).await.is_err());

    // Truncated: last characters gone.
    let truncated = tamper(&token, Tamper::Truncate(4));
    assert_eq!(truncated, token[..token.len() - 4]);
    let err = verify_with_trusted_key(&server, &client, &token, &truncated).await;
    assert!(err.is_err(), "truncated token verified");

    // Flipped payload: one base64url character changed, signature kept.
    let flipped = tamper(&token, Tamper::FlipPayload);
    assert_eq!(flipped.len(), token.len());
    assert_ne!(flipped, token);
    assert_eq!(flipped.split('.').next(), token.split('.').next());
    assert_eq!(flipped.split('.').nth(2), token.split('.').nth(2));
    assert!(
        flipped
            .split('.')
            .nth(1)
            .context("payload")?
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
    let err = verify_with_trusted_key(&server, &client, &token, &flipped).await;
    assert!(err.is_err(), "flipped token verified");
    Ok(())
}

/// Verify `candidate` with the key named by `original`'s kid (a tampered token
/// might no longer carry a readable header).
async fn verify_with_trusted_key(
    server: &MockAuthServer,
    client: &reqwest::Client,
    original: &str,
    candidate: &str,
) -> anyhow::Result<()> {
    let jwks = fetch_jwks(server, client).await?;
    let kid = jsonwebtoken::decode_header(original)?
        .kid
        .context("no kid")?;
    let key = DecodingKey::from_jwk(jwks.find(&kid).context("kid not in JWKS")?)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_issuer(&[server.issuer()]);
    jsonwebtoken::decode::<Map<String, Value>>(candidate, &key, &validation)?;
    Ok(())
}

fn base64_decode(segment: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment)?)
}

#[tokio::test]
async fn upstream_serves_projects_and_journals_headers() -> anyhow::Result<()> {
    let upstream = MockUpstream::start().await;
    assert!(upstream.base_url().starts_with("http://127.0.0.1:"));
    assert!(upstream.journal().await.is_empty());

    let client = reqwest::Client::builder().no_proxy().build()?;
    let response = client
        .get(format!("{}/projects", upstream.base_url()))
        .header("Authorization", "Bearer upstream-token")
        .header("X-Trace", "one")
        .send()
        .await?;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("application/json")
    );
    let body: Value = response.json().await?;
    assert_eq!(
        body,
        serde_json::json!([
            {"id": "p1", "name": "Project One"},
            {"id": "p2", "name": "Project Two"}
        ])
    );

    let journal = upstream.journal().await;
    assert_eq!(journal.len(), 1);
    let entry = &journal[0];
    assert_eq!(entry.method, "GET");
    assert_eq!(entry.path, "/projects");
    assert!(entry.headers.contains(&(
        "authorization".to_owned(),
        "Bearer upstream-token".to_owned()
    )));
    assert_eq!(entry.header_values("X-Trace"), vec!["one"]);
    assert!(entry.headers.iter().all(|(n, _)| *n == n.to_lowercase()));
    let names: Vec<&str> = entry.headers.iter().map(|(n, _)| n.as_str()).collect();
    let auth = names.iter().position(|n| *n == "authorization");
    let trace = names.iter().position(|n| *n == "x-trace");
    assert!(auth < trace, "headers not in arrival order: {names:?}");
    Ok(())
}

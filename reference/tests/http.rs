//! End-to-end tests of the reference implementation over plain HTTP against an
//! in-test issuer (RFC 8414 metadata + JWKS with a fresh ES256 key).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authconform_reference::{HttpArgs, serve};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Json;
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const ACCEPT: &str = "application/json, text/event-stream";
const PROTOCOL: &str = "2025-06-18";

struct SigningKey {
    kid: String,
    key: EncodingKey,
    jwk: Jwk,
}

fn signing_key(kid: &str) -> SigningKey {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("generate key");
    let key = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some(kid.to_owned());
    SigningKey {
        kid: kid.to_owned(),
        key,
        jwk,
    }
}

impl SigningKey {
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).expect("sign")
    }
}

async fn listen(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// An authorization server that only publishes metadata and a JWKS.
async fn start_issuer(key: &SigningKey) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code"],
    });
    let jwks = json!({ "keys": [serde_json::to_value(&key.jwk).expect("jwk json")] });
    let router = axum::Router::new()
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    issuer
}

struct Fixture {
    base: String,
    issuer: String,
    key: SigningKey,
    http: reqwest::Client,
}

async fn start_with(faults: &[&str], upstream: Option<String>) -> Fixture {
    let key = signing_key("test-key");
    let issuer = start_issuer(&key).await;
    let args = HttpArgs {
        listen: "127.0.0.1:0".parse().expect("addr"),
        issuer: issuer.clone(),
        ca_file: None,
        tls_cert: None,
        tls_key: None,
        upstream,
        upstream_key: "test-upstream-key".into(),
        scope_errors: authconform_reference::ScopeErrors::Http,
        faults: faults.iter().map(|s| s.to_string()).collect(),
        rest: Default::default(),
    };
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Err(e) = serve(args, tx, std::future::pending()).await {
            eprintln!("serve failed: {e:#}");
        }
    });
    let base = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("ready in time")
        .expect("server started");
    Fixture {
        base,
        issuer,
        key,
        http: reqwest::Client::new(),
    }
}

async fn start(faults: &[&str]) -> Fixture {
    start_with(faults, None).await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

impl Fixture {
    fn mcp(&self) -> String {
        format!("{}/mcp", self.base)
    }

    fn prm(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    fn claims(&self, sub: &str, scope: &str) -> Value {
        json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": self.mcp(),
            "scope": scope,
            "iat": now(),
            "exp": now() + 300,
        })
    }

    fn token(&self, sub: &str, scope: &str) -> String {
        self.key.sign(&self.claims(sub, scope))
    }

    fn token_with(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims("alice", "mcp:read mcp:tools");
        edit(&mut claims);
        self.key.sign(&claims)
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.mcp())
            .header("accept", ACCEPT)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    async fn initialize(&self, token: &str) -> reqwest::Response {
        self.initialize_without_token_builder()
            .bearer_auth(token)
            .send()
            .await
            .expect("initialize")
    }

    /// Initializes a session as `token`'s subject and returns its id.
    async fn session(&self, token: &str) -> String {
        let response = self.initialize(token).await;
        assert_eq!(response.status(), 200);
        let sid = header(&response, "mcp-session-id");
        let _ = body_text(response).await;
        let response = self
            .post(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .bearer_auth(token)
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", PROTOCOL)
            .send()
            .await
            .expect("initialized");
        assert_eq!(response.status(), 202);
        sid
    }

    fn call(&self, sid: &str, tool: &str, arguments: Value) -> reqwest::RequestBuilder {
        self.post(&json!({
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": { "name": tool, "arguments": arguments }
        }))
        .header("mcp-session-id", sid)
        .header("mcp-protocol-version", PROTOCOL)
    }
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ascii")
        .to_owned()
}

async fn body_text(response: reqwest::Response) -> String {
    tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .expect("body in time")
        .expect("body")
}

/// The JSON-RPC message of an SSE (or JSON) response body.
async fn rpc_result(response: reqwest::Response) -> Value {
    let text = body_text(response).await;
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .find_map(|data| serde_json::from_str::<Value>(data).ok())
        .or_else(|| serde_json::from_str(&text).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {text:?}"))
}

fn challenge(response: &reqwest::Response) -> String {
    header(response, "www-authenticate")
}

#[tokio::test]
async fn no_token_gets_401_with_exact_challenge() {
    let f = start(&[]).await;
    let response = f.initialize_without_token().await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenge(&response),
        format!(
            "Bearer resource_metadata=\"{}\", scope=\"mcp:read mcp:tools\"",
            f.prm()
        )
    );
    let body: Value = response.json().await.expect("json body");
    assert_eq!(body["error"], "unauthorized");

    // GET and DELETE are protected too; a query token alone is ignored.
    let response = f.http.get(f.mcp()).send().await.expect("get");
    assert_eq!(response.status(), 401);
    let response = f
        .http
        .delete(format!(
            "{}?access_token={}",
            f.mcp(),
            f.token("alice", "mcp:read")
        ))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), 401);
    assert!(!challenge(&response).contains("error="));
}

impl Fixture {
    async fn initialize_without_token(&self) -> reqwest::Response {
        self.initialize_without_token_builder()
            .send()
            .await
            .expect("send")
    }
}

#[tokio::test]
async fn protected_resource_metadata_is_served_without_auth() {
    let f = start(&[]).await;
    for url in [
        f.prm(),
        format!("{}/.well-known/oauth-protected-resource", f.base),
    ] {
        let response = f.http.get(&url).send().await.expect("prm");
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "content-type"), "application/json");
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            body,
            json!({
                "resource": f.mcp(),
                "authorization_servers": [f.issuer],
                "scopes_supported": ["mcp:read", "mcp:tools"],
                "bearer_methods_supported": ["header"],
                "resource_name": "authconform reference",
            })
        );
    }
}

#[tokio::test]
async fn valid_token_initializes_and_calls_tools() {
    let f = start(&[]).await;
    let token = f.token("alice", "mcp:read mcp:tools");
    let response = f.initialize(&token).await;
    assert_eq!(response.status(), 200);
    assert!(!header(&response, "mcp-session-id").is_empty());
    let init = rpc_result(response).await;
    assert_eq!(
        init["result"]["serverInfo"]["name"],
        "authconform-reference"
    );

    let sid = f.session(&token).await;
    let response = f
        .call(&sid, "echo", json!({ "text": "hello there" }))
        .bearer_auth(&token)
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
    let result = rpc_result(response).await;
    assert_eq!(result["result"]["content"][0]["text"], "hello there");

    // The scheme is case-insensitive and several spaces may follow it.
    let response = f
        .call(&sid, "echo", json!({ "text": "x" }))
        .header("authorization", format!("bEaReR   {token}"))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn invalid_tokens_get_401_invalid_token() {
    let f = start(&[]).await;
    let other_key = signing_key("test-key");
    let mut unsigned_parts: Vec<String> = f
        .token("alice", "mcp:read")
        .split('.')
        .map(str::to_owned)
        .collect();
    // {"alg":"none","typ":"JWT"}
    unsigned_parts[0] = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0".into();
    unsigned_parts[2] = String::new();
    let cases = [
        ("expired", f.token_with(|c| c["exp"] = json!(now() - 60))),
        (
            "wrong audience",
            f.token_with(|c| c["aud"] = json!("https://other.example/mcp")),
        ),
        (
            "audience prefix",
            f.token_with(|c| c["aud"] = json!(format!("{}/extra", f.mcp()))),
        ),
        (
            "wrong issuer",
            f.token_with(|c| c["iss"] = json!("https://evil.example")),
        ),
        (
            "bad signature",
            other_key.sign(&f.claims("alice", "mcp:read mcp:tools")),
        ),
        ("alg none", unsigned_parts.join(".")),
        ("not a jwt", "abc".to_owned()),
    ];
    for (name, token) in cases {
        let response = f.initialize(&token).await;
        assert_eq!(response.status(), 401, "{name}");
        let challenge = challenge(&response);
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{name}: {challenge}"
        );
        assert!(
            challenge.ends_with(&format!("resource_metadata=\"{}\"", f.prm())),
            "{name}: {challenge}"
        );
        assert!(!challenge.contains(&token), "{name}: token leaked");
    }
    // An audience array containing the resource is fine.
    let token = f.token_with(|c| c["aud"] = json!(["https://other.example", f.mcp()]));
    assert_eq!(f.initialize(&token).await.status(), 200);
}

#[tokio::test]
async fn insufficient_scope_gets_403() {
    let f = start(&[]).await;
    let reader = f.token("alice", "mcp:read");
    let sid = f.session(&reader).await;
    let response = f
        .call(&sid, "echo", json!({ "text": "x" }))
        .bearer_auth(&reader)
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 403);
    let www = challenge(&response);
    assert!(
        www.starts_with("Bearer error=\"insufficient_scope\""),
        "{www}"
    );
    assert!(www.contains("scope=\"mcp:tools\""), "{www}");
    assert!(www.contains(&format!("resource_metadata=\"{}\"", f.prm())));

    let response = f.initialize(&f.token("alice", "profile")).await;
    assert_eq!(response.status(), 403);
    assert!(challenge(&response).contains("scope=\"mcp:read\""));
}

#[tokio::test]
async fn malformed_credentials_get_400() {
    let f = start(&[]).await;
    let token = f.token("alice", "mcp:read mcp:tools");
    let invalid_request = |response: &reqwest::Response, name: &str| {
        assert_eq!(response.status(), 400, "{name}");
        let challenge = challenge(response);
        assert!(
            challenge.starts_with("Bearer error=\"invalid_request\""),
            "{name}: {challenge}"
        );
        assert!(challenge.contains("resource_metadata="), "{name}");
    };
    for (name, value) in [
        ("bearer alone", "Bearer".to_owned()),
        ("quoted", format!("Bearer \"{token}\"")),
        ("extra words", format!("Bearer {token} extra")),
        ("comma", format!("Bearer {token},{token}")),
    ] {
        let response = f
            .initialize_without_token_builder()
            .header("authorization", value)
            .send()
            .await
            .expect("send");
        invalid_request(&response, name);
    }
    let response = f
        .initialize_without_token_builder()
        .header("authorization", format!("Bearer {token}"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("send");
    invalid_request(&response, "two headers");
    let response = f
        .http
        .post(format!("{}?access_token={token}", f.mcp()))
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .bearer_auth(&token)
        .body("{}")
        .send()
        .await
        .expect("send");
    invalid_request(&response, "header and query");
    let response = f
        .http
        .post(f.mcp())
        .bearer_auth(&token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("access_token={token}"))
        .send()
        .await
        .expect("send");
    invalid_request(&response, "header and form");

    // Another scheme is no credential at all: 401 without an error parameter.
    let response = f
        .initialize_without_token_builder()
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 401);
    assert!(!challenge(&response).contains("error="));
}

impl Fixture {
    fn initialize_without_token_builder(&self) -> reqwest::RequestBuilder {
        self.post(&json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": { "name": "authconform-test", "version": "0" }
            }
        }))
    }
}

#[tokio::test]
async fn sessions_are_bound_to_their_subject() {
    let f = start(&[]).await;
    let alice = f.token("alice", "mcp:read mcp:tools");
    let mallory = f.token("mallory", "mcp:read mcp:tools");
    let sid = f.session(&alice).await;
    let response = f
        .call(&sid, "echo", json!({ "text": "x" }))
        .bearer_auth(&mallory)
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 404);
    let response = f
        .call(&sid, "echo", json!({ "text": "x" }))
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 401);

    let g = start(&["no-session-binding"]).await;
    let alice = g.token("alice", "mcp:read mcp:tools");
    let mallory = g.token("mallory", "mcp:read mcp:tools");
    let sid = g.session(&alice).await;
    let response = g
        .call(&sid, "echo", json!({ "text": "x" }))
        .bearer_auth(&mallory)
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn faults_flip_behaviour() {
    let f = start(&["accept-expired", "wrong-401-scheme", "prm-wrong-resource"]).await;
    let expired = f.token_with(|c| c["exp"] = json!(now() - 3600));
    assert_eq!(f.initialize(&expired).await.status(), 200);
    let response = f.initialize_without_token().await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenge(&response), "Basic realm=\"mcp\"");
    let prm: Value = f
        .http
        .get(f.prm())
        .send()
        .await
        .expect("prm")
        .json()
        .await
        .expect("json");
    let port = f.base.rsplit(':').next().expect("port");
    assert_eq!(prm["resource"], format!("http://localhost:{port}/mcp"));

    let g = start(&[
        "lenient-bearer",
        "error-without-token",
        "no-resource-metadata",
    ])
    .await;
    let token = g.token("alice", "mcp:read");
    let response = g
        .initialize_without_token_builder()
        .header("authorization", format!("Bearer \"{token}\""))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    let response = g.initialize_without_token().await;
    assert_eq!(
        challenge(&response),
        "Bearer error=\"invalid_token\", scope=\"mcp:read mcp:tools\""
    );

    let h = start(&["session-authenticates", "insufficient-scope-401"]).await;
    let token = h.token("alice", "mcp:read");
    let sid = h.session(&token).await;
    let response = h
        .post(&json!({ "jsonrpc": "2.0", "id": 5, "method": "tools/list" }))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), 200);
    let response = h
        .call(&sid, "echo", json!({ "text": "x" }))
        .bearer_auth(&token)
        .send()
        .await
        .expect("call");
    assert_eq!(response.status(), 401);
    assert!(challenge(&response).starts_with("Bearer error=\"insufficient_scope\""));
}

/// The `X-API-Key` and `Authorization` values an upstream request carried.
type UpstreamCall = (Option<String>, Option<String>);

#[tokio::test]
async fn list_projects_calls_upstream_with_its_own_key() {
    let seen: Arc<Mutex<Vec<UpstreamCall>>> = Arc::default();
    let recorder = seen.clone();
    let upstream = listen(axum::Router::new().route(
        "/projects",
        get(move |headers: http::HeaderMap| {
            let recorder = recorder.clone();
            async move {
                let value = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                recorder
                    .lock()
                    .expect("lock")
                    .push((value("x-api-key"), value("authorization")));
                Json(json!([{ "id": 1, "name": "apollo" }]))
            }
        }),
    ))
    .await;

    for (faults, expect_passthrough) in [(&[][..], false), (&["token-passthrough"][..], true)] {
        let f = start_with(faults, Some(upstream.clone())).await;
        let token = f.token("alice", "mcp:read mcp:tools");
        let sid = f.session(&token).await;
        let response = f
            .call(&sid, "list_projects", json!({}))
            .bearer_auth(&token)
            .send()
            .await
            .expect("call");
        assert_eq!(response.status(), 200);
        let result = rpc_result(response).await;
        let text = result["result"]["content"][0]["text"]
            .as_str()
            .expect("text");
        assert!(text.contains("apollo"), "{result}");
        let (key, authorization) = seen.lock().expect("lock").pop().expect("upstream called");
        if expect_passthrough {
            assert_eq!(key, None);
            assert_eq!(authorization, Some(format!("Bearer {token}")));
        } else {
            assert_eq!(key.as_deref(), Some("test-upstream-key"));
            assert_eq!(authorization, None);
        }
    }
}

#[tokio::test]
async fn token_validation_faults() {
    // ignore-issuer: a token from another issuer, verified with that issuer's own JWKS.
    let f = start(&["ignore-issuer"]).await;
    let evil_key = signing_key("evil");
    let evil_issuer = start_issuer(&evil_key).await;
    let mut claims = f.claims("mallory", "mcp:read mcp:tools");
    claims["iss"] = json!(evil_issuer);
    assert_eq!(f.initialize(&evil_key.sign(&claims)).await.status(), 200);
    let g = start(&[]).await;
    let mut claims = g.claims("mallory", "mcp:read mcp:tools");
    claims["iss"] = json!(evil_issuer);
    assert_eq!(g.initialize(&evil_key.sign(&claims)).await.status(), 401);

    // prefix-audience: a longer audience sharing the resource as prefix.
    let f = start(&["prefix-audience"]).await;
    let token = f.token_with(|c| c["aud"] = json!(format!("{}-other", f.mcp())));
    assert_eq!(f.initialize(&token).await.status(), 200);
    let token = f.token_with(|c| c["aud"] = json!("https://other.example/mcp"));
    assert_eq!(f.initialize(&token).await.status(), 401);

    // accept-bad-signature: a token signed by an unknown key passes.
    let f = start(&["accept-bad-signature"]).await;
    let forged = signing_key("test-key").sign(&f.claims("alice", "mcp:read"));
    assert_eq!(f.initialize(&forged).await.status(), 200);
    let expired = f.token_with(|c| c["exp"] = json!(now() - 3600));
    assert_eq!(f.initialize(&expired).await.status(), 401);
}

/// Whether `id` looks like rmcp's random session IDs (a UUID: 32 hex digits, dashes allowed).
fn is_uuid_like(id: &str) -> bool {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

#[tokio::test]
async fn sequential_session_ids_fault() {
    let list = json!({ "jsonrpc": "2.0", "id": 3, "method": "tools/list" });

    let f = start(&["sequential-session-ids"]).await;
    let alice = f.token("alice", "mcp:read mcp:tools");
    let bob = f.token("bob", "mcp:read mcp:tools");
    assert_eq!(f.session(&alice).await, "session-1");
    assert_eq!(f.session(&bob).await, "session-2");
    let response = f
        .post(&list)
        .bearer_auth(&alice)
        .header("mcp-session-id", "session-1")
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), 200);
    let result = rpc_result(response).await;
    assert!(
        result["result"]["tools"]
            .as_array()
            .is_some_and(|tools| tools.iter().any(|t| t["name"] == "echo")),
        "{result}"
    );
    // Session binding still holds on the aliases, and an unknown alias is unknown to rmcp.
    let response = f
        .post(&list)
        .bearer_auth(&bob)
        .header("mcp-session-id", "session-1")
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), 404);
    let response = f
        .post(&list)
        .bearer_auth(&alice)
        .header("mcp-session-id", "session-99")
        .header("mcp-protocol-version", PROTOCOL)
        .send()
        .await
        .expect("list");
    assert_eq!(response.status(), 404);

    let g = start(&[]).await;
    let alice = g.token("alice", "mcp:read mcp:tools");
    let first = g.session(&alice).await;
    let second = g.session(&alice).await;
    assert!(is_uuid_like(&first), "{first}");
    assert!(is_uuid_like(&second), "{second}");
    assert_ne!(first, second);
}

//! Black-box tests of the session layer (target-site sessions of compiled
//! APIs): `POST /v1/apis/{api_id}/endpoints/{endpoint}:call` and the
//! `call_endpoint` MCP tool, with their seeded faults; over plain HTTP against
//! an in-test issuer (for OAuth on `/mcp`).

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authconform_reference::{HttpArgs, RestArgs, serve};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Json;
use axum::routing::get;
use common::{Reply, read};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const KEY_A: &str = "ref_sk_sess_a_0001";
const KEY_A2: &str = "ref_sk_sess_a2_0002";
const KEY_B: &str = "ref_sk_sess_b_0003";
const USER_A: &str = "usr_sess_a_tok_0004";
const CHALLENGE: &str = "Bearer realm=\"reference\"";
const LOGIN: &str = "/v1/apis/api-a/endpoints/login:call";
const INBOX: &str = "/v1/apis/api-a/endpoints/inbox:call";
const U1: (&str, &str) = ("u1@mock.test", "pw1");
const U2: (&str, &str) = ("u2@mock.test", "pw2");

/// An authorization server that only publishes metadata and a JWKS.
async fn start_issuer(key: &Jwk) -> String {
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
    let jwks = json!({ "keys": [serde_json::to_value(key).expect("jwk json")] });
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

/// A running reference server with two organisations' keys and APIs.
struct Fixture {
    base: String,
    issuer: String,
    signer: EncodingKey,
    http: reqwest::Client,
}

/// A session pair.
#[derive(Clone)]
struct Sess {
    id: String,
    key: String,
}

impl Reply {
    fn assert_user(&self, user: &str, folder: &str, what: &str) {
        assert_eq!(self.status, 200, "{what}: {}", self.text);
        assert_eq!(
            self.json(),
            json!({ "user": user, "folder": folder }),
            "{what}"
        );
    }

    fn assert_refused(&self, error: &str, what: &str) {
        assert_eq!(self.status, 403, "{what}: {}", self.text);
        assert_eq!(self.json(), json!({ "error": error }), "{what}");
        assert!(self.header("www-authenticate").is_none(), "{what}");
    }
}

async fn start(faults: &[&str]) -> Fixture {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .expect("generate key");
    let signer = EncodingKey::from_ec_der(pkcs8.as_ref());
    let mut jwk = Jwk::from_encoding_key(&signer, Algorithm::ES256).expect("jwk");
    jwk.common.key_id = Some("k1".to_owned());
    let issuer = start_issuer(&jwk).await;
    let rest = RestArgs {
        keys: [
            "key-a:secret:developer:org-a:ref_sk_sess_a_0001",
            "key-a2:secret:admin:org-a:ref_sk_sess_a2_0002",
            "key-b:secret:developer:org-b:ref_sk_sess_b_0003",
            "key-user-a:user:developer:org-a:usr_sess_a_tok_0004",
        ]
        .map(str::to_owned)
        .into(),
        apis: ["org-a:api-a", "org-b:api-b"].map(str::to_owned).into(),
        ..Default::default()
    };
    let args = HttpArgs {
        listen: "127.0.0.1:0".parse().expect("addr"),
        issuer: issuer.clone(),
        ca_file: None,
        tls_cert: None,
        tls_key: None,
        upstream: None,
        upstream_key: "test-upstream-key".into(),
        scope_errors: authconform_reference::ScopeErrors::Http,
        faults: faults.iter().map(|s| s.to_string()).collect(),
        rest,
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
        signer,
        http: common::client(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// The JSON-RPC message of an SSE (or JSON) response body.
fn rpc_message(text: &str) -> Value {
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .find_map(|data| serde_json::from_str::<Value>(data).ok())
        .or_else(|| serde_json::from_str(text).ok())
        .unwrap_or_else(|| panic!("no JSON-RPC message in {text:?}"))
}

impl Fixture {
    fn token(&self, sub: &str) -> String {
        let claims = json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": format!("{}/mcp", self.base),
            "scope": "mcp:read mcp:tools",
            "iat": now(),
            "exp": now() + 300,
        });
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".to_owned());
        jsonwebtoken::encode(&header, &claims, &self.signer).expect("sign")
    }

    /// `POST path` with `X-API-Key: key` (none when empty), extra headers and a JSON body.
    async fn post(&self, path: &str, key: &str, headers: &[(&str, &str)], body: Value) -> Reply {
        let mut builder = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if !key.is_empty() {
            builder = builder.header("X-API-Key", key);
        }
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        read(builder).await
    }

    async fn login(&self, key: &str, (email, password): (&str, &str)) -> Sess {
        let reply = self
            .post(
                LOGIN,
                key,
                &[],
                json!({ "email": email, "password": password }),
            )
            .await;
        assert_eq!(reply.status, 200, "login: {}", reply.text);
        let body = reply.json();
        Sess {
            id: body["session_id"].as_str().expect("session_id").to_owned(),
            key: body["encryption_key"]
                .as_str()
                .expect("encryption_key")
                .to_owned(),
        }
    }

    /// `inbox` with `key` and `sess` in the headers, body `{"folder":"inbox"}`.
    async fn inbox_headers(&self, key: &str, sess: &Sess) -> Reply {
        let headers = [
            ("X-Session-ID", &*sess.id),
            ("X-Encryption-Key", &*sess.key),
        ];
        self.post(INBOX, key, &headers, json!({ "folder": "inbox" }))
            .await
    }

    /// An initialized MCP session with the given credential header.
    async fn mcp_session(&self, auth: (&str, &str)) -> McpClient<'_> {
        let mut client = McpClient {
            f: self,
            auth: (auth.0.to_owned(), auth.1.to_owned()),
            sid: None,
        };
        let init = client
            .rpc(json!({
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "session-test", "version": "0" }
                }
            }))
            .await;
        assert_eq!(init.status, 200, "initialize: {}", init.text);
        client.sid = Some(init.header("mcp-session-id").expect("session").to_owned());
        let notified = client
            .rpc(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        assert_eq!(notified.status, 202, "initialized");
        client
    }
}

struct McpClient<'f> {
    f: &'f Fixture,
    auth: (String, String),
    sid: Option<String>,
}

impl McpClient<'_> {
    async fn rpc(&self, body: Value) -> Reply {
        let mut builder = self
            .f
            .http
            .post(format!("{}/mcp", self.f.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header(&self.auth.0, &self.auth.1)
            .body(body.to_string());
        if let Some(sid) = &self.sid {
            builder = builder
                .header("mcp-session-id", sid)
                .header("mcp-protocol-version", "2025-06-18");
        }
        read(builder).await
    }

    /// `call_endpoint` with `arguments`: (isError, the result text).
    async fn call(&self, arguments: Value) -> (bool, String) {
        let reply = self
            .rpc(json!({
                "jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": { "name": "call_endpoint", "arguments": arguments }
            }))
            .await;
        assert_eq!(reply.status, 200, "tools/call: {}", reply.text);
        let message = rpc_message(&reply.text);
        let result = &message["result"];
        let text = result["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("no text result: {message}"))
            .to_owned();
        (result["isError"] == json!(true), text)
    }

    async fn inbox(&self, sess: Option<&Sess>, params: Value) -> (bool, String) {
        let mut arguments =
            json!({ "api_id": "api-a", "endpoint_name": "inbox", "params": params });
        if let Some(sess) = sess {
            arguments["session_id"] = json!(sess.id);
            arguments["encryption_key"] = json!(sess.key);
        }
        self.call(arguments).await
    }
}

fn user_result(user: &str, folder: &str) -> (bool, String) {
    (false, json!({ "user": user, "folder": folder }).to_string())
}

#[tokio::test]
async fn login_issues_a_pair_after_host_auth() {
    let f = start(&[]).await;
    let body = json!({ "email": "u1@mock.test", "password": "pw1" });
    let reply = f.post(LOGIN, "", &[], body.clone()).await;
    assert_eq!(reply.status, 401, "no host auth");
    assert_eq!(reply.header("www-authenticate"), Some(CHALLENGE));
    let reply = f.post(LOGIN, "ref_sk_unknown", &[], body.clone()).await;
    assert_eq!(reply.status, 401, "unknown key");

    let reply = f.post(LOGIN, KEY_A, &[], body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let pair = reply.json();
    assert_eq!(pair["initiates_session"], json!(true));
    let id = pair["session_id"].as_str().unwrap();
    let key = pair["encryption_key"].as_str().unwrap();
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert!(
        key.len() == 43
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let again = f.post(LOGIN, KEY_A, &[], body.clone()).await.json();
    assert_ne!(again["session_id"], pair["session_id"]);

    for wrong in [
        json!({ "email": "u1@mock.test", "password": "pw2" }),
        json!({ "email": "u3@mock.test", "password": "pw1" }),
        json!({}),
    ] {
        let reply = f.post(LOGIN, KEY_A, &[], wrong).await;
        reply.assert_refused("login_failed", "wrong credentials");
    }
    for path in [
        "/v1/apis/api-x/endpoints/login:call",
        "/v1/apis/api-a/endpoints/nope:call",
        "/v1/apis/api-a/endpoints/login:run",
        "/v1/apis/api-a/endpoints/login",
    ] {
        let reply = f.post(path, KEY_A, &[], body.clone()).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
    }
    let reply = f
        .post("/v1/apis/api-a/endpoints/nope:call", "", &[], json!({}))
        .await;
    assert_eq!(reply.status, 401, "host auth comes before the endpoint");
    let reply = f.post(LOGIN, KEY_A, &[], json!([1])).await;
    assert_eq!(reply.status, 400, "not an object");
    // The existing host routes are unaffected.
    let reply = f.post("/v1/apis/api-a:revise", KEY_A, &[], json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Any organisation's API may be invoked.
    let b = f.login(KEY_B, U2).await;
    f.inbox_headers(KEY_B, &b)
        .await
        .assert_user("u2", "inbox", "org-b key on org-a's API");
}

#[tokio::test]
async fn protected_endpoint_takes_one_transport_headers_first() {
    let f = start(&[]).await;
    let a = f.login(KEY_A, U1).await;
    let b = f.login(KEY_A, U2).await;
    let folder = json!({ "folder": "inbox" });
    let with = |s: &Sess, extra: Value| {
        let mut body = json!({ "folder": "inbox", "session_id": s.id, "encryption_key": s.key });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        body
    };

    // SESS-002/003: nothing, or one value only.
    f.post(INBOX, KEY_A, &[], folder.clone())
        .await
        .assert_refused("session_required", "no session");
    for (headers, body) in [
        (vec![("X-Session-ID", a.id.as_str())], folder.clone()),
        (vec![("X-Encryption-Key", a.key.as_str())], folder.clone()),
        (vec![], json!({ "session_id": a.id })),
        (vec![], json!({ "encryption_key": a.key })),
    ] {
        f.post(INBOX, KEY_A, &headers, body)
            .await
            .assert_refused("session_required", "one value");
    }
    // SESS-004/005: either transport, any header-name case; folder from the body.
    f.inbox_headers(KEY_A, &a)
        .await
        .assert_user("u1", "inbox", "headers");
    let lower = [("x-session-id", &*a.id), ("X-ENCRYPTION-KEY", &*a.key)];
    f.post(INBOX, KEY_A, &lower, json!({ "folder": "sent" }))
        .await
        .assert_user("u1", "sent", "header case");
    f.post(INBOX, KEY_A, &[], with(&a, json!({})))
        .await
        .assert_user("u1", "inbox", "body");
    // SESS-006/007/008: headers win.
    let junk_body = json!({ "folder": "inbox", "session_id": "junk", "encryption_key": "junk" });
    let a_headers = [("X-Session-ID", &*a.id), ("X-Encryption-Key", &*a.key)];
    f.post(INBOX, KEY_A, &a_headers, junk_body)
        .await
        .assert_user("u1", "inbox", "valid header, junk body");
    let junk = [("X-Session-ID", "junk"), ("X-Encryption-Key", "junk")];
    let reply = f.post(INBOX, KEY_A, &junk, with(&a, json!({}))).await;
    reply.assert_refused("invalid_session", "junk header, valid body");
    assert!(!reply.text.contains("junk"));
    f.post(INBOX, KEY_A, &a_headers, with(&b, json!({})))
        .await
        .assert_user("u1", "inbox", "two sessions");
    // SESS-009: split pairs are refused.
    let id_header = [("X-Session-ID", &*a.id)];
    for key in [&a.key, &b.key] {
        let body = json!({ "folder": "inbox", "encryption_key": key });
        f.post(INBOX, KEY_A, &id_header, body)
            .await
            .assert_refused("session_required", "split pair");
    }
    // SESS-010: empty headers are present.
    let empty = [("X-Session-ID", ""), ("X-Encryption-Key", "")];
    f.post(INBOX, KEY_A, &empty, with(&a, json!({})))
        .await
        .assert_refused("session_required", "empty headers");
    // A mixed pair is invalid.
    let mixed = [("X-Session-ID", &*a.id), ("X-Encryption-Key", &*b.key)];
    f.post(INBOX, KEY_A, &mixed, folder.clone())
        .await
        .assert_refused("invalid_session", "mixed pair");
    // SESS-011: session values are not host auth.
    let reply = f.post(INBOX, "", &a_headers, folder.clone()).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    // SESS-012: a Bearer host credential is not a session.
    for bearer in [KEY_A, USER_A] {
        let auth = format!("Bearer {bearer}");
        f.post(INBOX, "", &[("Authorization", &auth)], folder.clone())
            .await
            .assert_refused("session_required", "bearer");
    }
    // SESS-014: bound to the creating principal (even in the same organisation).
    for other in [KEY_A2, KEY_B] {
        f.inbox_headers(other, &a)
            .await
            .assert_refused("invalid_session", "another principal");
    }
    let auth = format!("Bearer {KEY_A}");
    f.post(
        INBOX,
        "",
        &[("Authorization", &auth), a_headers[0], a_headers[1]],
        folder,
    )
    .await
    .assert_user("u1", "inbox", "the same key as Bearer");
}

#[tokio::test]
async fn call_endpoint_reads_top_level_session_arguments() {
    let f = start(&[]).await;
    let mcp = f.mcp_session(("X-API-Key", KEY_A)).await;
    let (error, text) = mcp
        .call(json!({
            "api_id": "api-a", "endpoint_name": "login",
            "params": { "email": "u1@mock.test", "password": "pw1" }
        }))
        .await;
    assert!(!error, "{text}");
    let pair: Value = serde_json::from_str(&text).expect("login result");
    assert_eq!(pair["initiates_session"], json!(true));
    let a = Sess {
        id: pair["session_id"].as_str().unwrap().to_owned(),
        key: pair["encryption_key"].as_str().unwrap().to_owned(),
    };
    let b = f.login(KEY_A, U2).await;
    let wrong = mcp
        .call(json!({
            "api_id": "api-a", "endpoint_name": "login",
            "params": { "email": "u1@mock.test", "password": "nope" }
        }))
        .await;
    assert_eq!(wrong, (true, "login_failed".to_owned()));

    // SESS-013 (a), (b), (c).
    assert_eq!(
        mcp.inbox(Some(&a), json!({ "folder": "inbox" })).await,
        user_result("u1", "inbox")
    );
    let nested = json!({ "folder": "inbox", "session_id": a.id, "encryption_key": a.key });
    assert_eq!(
        mcp.inbox(None, nested).await,
        (true, "session_required".to_owned())
    );
    let nested_b = json!({ "folder": "x", "session_id": b.id, "encryption_key": b.key });
    assert_eq!(mcp.inbox(Some(&a), nested_b).await, user_result("u1", "x"));
    // A session from REST under the same key; one value; junk.
    assert_eq!(
        mcp.inbox(Some(&b), json!({})).await,
        user_result("u2", "inbox")
    );
    let one = json!({ "api_id": "api-a", "endpoint_name": "inbox", "session_id": a.id });
    assert_eq!(mcp.call(one).await, (true, "session_required".to_owned()));
    let junk = Sess {
        id: "junk".into(),
        key: "junk".into(),
    };
    assert_eq!(
        mcp.inbox(Some(&junk), json!({})).await,
        (true, "invalid_session".to_owned())
    );
    let unknown = json!({ "api_id": "api-x", "endpoint_name": "inbox" });
    assert!(mcp.call(unknown).await.0);
    // Another key may not use them (SESS-014); the REST side agrees.
    let other = f.mcp_session(("X-API-Key", KEY_B)).await;
    assert_eq!(
        other.inbox(Some(&a), json!({})).await,
        (true, "invalid_session".to_owned())
    );
    f.inbox_headers(KEY_A, &a)
        .await
        .assert_user("u1", "inbox", "MCP session over REST, same key");
    f.inbox_headers(KEY_B, &a)
        .await
        .assert_refused("invalid_session", "MCP session over REST, other key");

    // OAuth (SESS-012): the token is no session; OAuth identities accept any session.
    let token = f.token("alice");
    let oauth = f
        .mcp_session(("Authorization", &format!("Bearer {token}")))
        .await;
    assert_eq!(
        oauth.inbox(None, json!({ "folder": "inbox" })).await,
        (true, "session_required".to_owned())
    );
    assert_eq!(
        oauth.inbox(Some(&a), json!({})).await,
        user_result("u1", "inbox")
    );
}

// Seeded faults: each changes only the behaviour it names.

#[tokio::test]
async fn fault_body_over_header() {
    let f = start(&["body-over-header"]).await;
    let a = f.login(KEY_A, U1).await;
    let b = f.login(KEY_A, U2).await;
    let a_headers = [("X-Session-ID", &*a.id), ("X-Encryption-Key", &*a.key)];
    let b_body = json!({ "session_id": b.id, "encryption_key": b.key });
    f.post(INBOX, KEY_A, &a_headers, b_body)
        .await
        .assert_user("u2", "inbox", "the body wins");
    f.inbox_headers(KEY_A, &a)
        .await
        .assert_user("u1", "inbox", "headers alone still work");
}

#[tokio::test]
async fn fault_session_optional() {
    let f = start(&["session-optional"]).await;
    f.post(INBOX, KEY_A, &[], json!({}))
        .await
        .assert_user("u1", "inbox", "no session");
    let one = [("X-Session-ID", "junk")];
    f.post(INBOX, KEY_A, &one, json!({}))
        .await
        .assert_refused("session_required", "one value is still refused");
    let mcp = f.mcp_session(("X-API-Key", KEY_A)).await;
    assert_eq!(mcp.inbox(None, json!({})).await, user_result("u1", "inbox"));
}

#[tokio::test]
async fn fault_bearer_replaces_session() {
    let f = start(&["bearer-replaces-session"]).await;
    let auth = format!("Bearer {KEY_A}");
    f.post(INBOX, "", &[("Authorization", &auth)], json!({}))
        .await
        .assert_user("u1", "inbox", "Bearer host auth");
    f.post(INBOX, KEY_A, &[], json!({}))
        .await
        .assert_refused("session_required", "X-API-Key is still refused");
    let token = f.token("alice");
    let oauth = f
        .mcp_session(("Authorization", &format!("Bearer {token}")))
        .await;
    assert_eq!(
        oauth.inbox(None, json!({})).await,
        user_result("u1", "inbox")
    );
}

#[tokio::test]
async fn fault_split_pair_accepted() {
    let f = start(&["split-pair-accepted"]).await;
    let a = f.login(KEY_A, U1).await;
    let b = f.login(KEY_A, U2).await;
    let id_header = [("X-Session-ID", &*a.id)];
    f.post(INBOX, KEY_A, &id_header, json!({ "encryption_key": a.key }))
        .await
        .assert_user("u1", "inbox", "header id + body key");
    // The defect: a split pair's session is found by its ID alone, so two sessions combine.
    f.post(INBOX, KEY_A, &id_header, json!({ "encryption_key": b.key }))
        .await
        .assert_user("u1", "inbox", "header id of u1 + body key of u2");
}

#[tokio::test]
async fn fault_echo_session() {
    let f = start(&["echo-session"]).await;
    let junk = [
        ("X-Session-ID", "SENTINEL_S"),
        ("X-Encryption-Key", "SENTINEL_E"),
    ];
    let reply = f.post(INBOX, KEY_A, &junk, json!({})).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json(),
        json!({ "error": "invalid_session", "session_id": "SENTINEL_S", "encryption_key": "SENTINEL_E" })
    );
    let mcp = f.mcp_session(("X-API-Key", KEY_A)).await;
    let sentinel = Sess {
        id: "SENTINEL_S".into(),
        key: "SENTINEL_E".into(),
    };
    let (error, text) = mcp.inbox(Some(&sentinel), json!({})).await;
    assert!(
        error && text.contains("SENTINEL_S") && text.contains("SENTINEL_E"),
        "{text}"
    );
    f.post(INBOX, KEY_A, &[], json!({}))
        .await
        .assert_refused("session_required", "session_required is unchanged");
}

#[tokio::test]
async fn fault_session_401() {
    let f = start(&["session-401"]).await;
    for headers in [
        vec![],
        vec![("X-Session-ID", "junk"), ("X-Encryption-Key", "junk")],
    ] {
        let reply = f.post(INBOX, KEY_A, &headers, json!({})).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert_eq!(reply.header("www-authenticate"), Some(CHALLENGE));
        assert!(reply.json()["error"].as_str().unwrap().contains("session"));
    }
    let a = f.login(KEY_A, U1).await;
    f.inbox_headers(KEY_A, &a)
        .await
        .assert_user("u1", "inbox", "valid sessions still work");
}

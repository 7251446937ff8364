//! Black-box tests of the REST API of `authconform-reference http` (keys,
//! organisation objects, embed configuration, host API, `X-API-Key` on
//! `/mcp`) and of its seeded faults, over the real binary.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, Reply, Server};
use http::{HeaderValue, Method};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ADMIN_A: &str = "ref_sk_admin_a_0001";
const DEV_A: &str = "ref_sk_dev_a_0002";
const ADMIN_B: &str = "ref_sk_admin_b_0003";
const PK_A: &str = "ref_pk_web_a_0004";
const PK_A2: &str = "ref_pk_other_0006";
const USER_A: &str = "usr_a:tok:0005";
const ORIGIN: &str = "https://app.example";
const CHALLENGE: &str = "Bearer realm=\"reference\"";
const KEYS_A: &str = "/api/v1/organizations/org-a/api-keys";
const KEYS_B: &str = "/api/v1/organizations/org-b/api-keys";

const FIXTURE: &[&str] = &[
    "--key=key-admin-a:secret:admin:org-a:ref_sk_admin_a_0001",
    "--key=key-dev-a:secret:developer:org-a:ref_sk_dev_a_0002",
    "--key=key-admin-b:secret:admin:org-b:ref_sk_admin_b_0003",
    "--key=key-pk-a:publishable:agent-a:org-a:ref_pk_web_a_0004",
    "--key=key-pk-a2:publishable:agent-a2:org-a:ref_pk_other_0006",
    "--key=key-user-a:user:admin:org-a:usr_a:tok:0005",
    "--origin=key-pk-a=https://app.example",
    "--server=org-a:srv-a",
    "--server=org-b:srv-b",
    "--agent=org-b:agent-b",
    "--api=org-a:api-a",
    "--api=org-b:api-b",
];

/// A credential to send.
#[derive(Clone, Copy)]
enum Cred<'a> {
    None,
    Key(&'a str),
    Bearer(&'a str),
}

impl Reply {
    fn assert_status(&self, status: u16, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text);
    }

    fn assert_error(&self, status: u16, error: &str, what: &str) {
        self.assert_status(status, what);
        assert_eq!(self.json(), json!({ "error": error }), "{what}");
        if status == 401 {
            assert_eq!(self.header("www-authenticate"), Some(CHALLENGE), "{what}");
        }
    }
}

impl Server {
    /// A running `authconform-reference http` with the standard fixture.
    fn start(faults: &[&str]) -> Server {
        Server::start_with(FIXTURE, faults)
    }

    fn start_with(args: &[&str], faults: &[&str]) -> Server {
        Server::launch(args, faults)
    }

    fn request(&self, method: Method, path: &str, cred: Cred) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match cred {
            Cred::None => builder,
            Cred::Key(key) => builder.header("X-API-Key", key),
            Cred::Bearer(token) => builder.header("Authorization", format!("Bearer {token}")),
        }
    }

    async fn get(&self, path: &str, cred: Cred<'_>) -> Reply {
        common::read(self.request(Method::GET, path, cred)).await
    }

    async fn delete(&self, path: &str, cred: Cred<'_>) -> Reply {
        common::read(self.request(Method::DELETE, path, cred)).await
    }

    async fn post(&self, path: &str, cred: Cred<'_>, body: Value) -> Reply {
        let builder = self
            .request(Method::POST, path, cred)
            .header("content-type", "application/json")
            .body(body.to_string());
        common::read(builder).await
    }

    /// Writes `head` (without the Host field and final CRLF) on a fresh
    /// connection; the status code of the answer.
    async fn raw(&self, head: &str) -> u16 {
        let host = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
        let request = format!("{head}\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        let text = String::from_utf8_lossy(&answer);
        text.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    async fn ids(&self, path: &str, cred: Cred<'_>) -> Vec<String> {
        let reply = self.get(path, cred).await;
        reply.assert_status(200, path);
        let list = reply.json();
        let items = list.as_array().expect("array");
        items
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn assert_rfc3339_ms(value: &Value) {
    let s = value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"));
    let bytes = s.as_bytes();
    assert_eq!(s.len(), 24, "{s}");
    assert!(
        s.ends_with('Z') && bytes[10] == b'T' && bytes[19] == b'.',
        "{s}"
    );
}

#[tokio::test]
async fn keys_are_listed_and_read_without_secret_values() {
    let s = Server::start(&[]);
    let ids = s.ids(KEYS_A, Cred::Key(DEV_A)).await;
    assert_eq!(ids, ["key-admin-a", "key-dev-a", "key-pk-a", "key-pk-a2"]);
    let reply = s.get(KEYS_A, Cred::Bearer(USER_A)).await;
    for secret in [ADMIN_A, DEV_A, ADMIN_B, USER_A] {
        assert!(!reply.text.contains(secret), "{}", reply.text);
    }
    let list = reply.json();
    let admin = &list[0];
    assert_eq!(admin["name"], "key-admin-a");
    assert_eq!(admin["role"], "admin");
    assert_eq!(admin["type"], "secret");
    assert_eq!(admin["hint"], "0001");
    assert!(admin["last_used_at"].is_null());
    assert_rfc3339_ms(&admin["created_at"]);
    let pk = &list[2];
    assert_eq!(
        (&pk["type"], &pk["key"]),
        (&json!("publishable"), &json!(PK_A))
    );
    assert_eq!(
        (&pk["agent"], &pk["origins"]),
        (&json!("agent-a"), &json!([ORIGIN]))
    );

    let dev = s
        .get(&format!("{KEYS_A}/key-dev-a"), Cred::Key(DEV_A))
        .await;
    dev.assert_status(200, "read");
    assert!(dev.json().get("key").is_none());
    let first = dev.json()["last_used_at"].clone();
    assert_rfc3339_ms(&first);
    let again = s
        .get(&format!("{KEYS_A}/key-dev-a"), Cred::Key(DEV_A))
        .await;
    assert!(again.json()["last_used_at"].as_str() > first.as_str());
    for missing in ["key-admin-b", "key-user-a", "nope"] {
        let reply = s
            .get(&format!("{KEYS_A}/{missing}"), Cred::Key(DEV_A))
            .await;
        reply.assert_error(404, "not_found", missing);
    }
}

#[tokio::test]
async fn admins_create_and_revoke_keys_at_once() {
    let s = Server::start(&[]);
    let body = json!({ "name": "ci", "role": "developer" });
    let created = s.post(KEYS_A, Cred::Key(ADMIN_A), body).await;
    created.assert_status(201, "create");
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let record = created.json();
    let (id, key) = (
        record["id"].as_str().unwrap(),
        record["key"].as_str().unwrap(),
    );
    assert!(id.starts_with("key-") && id.len() == 12, "{id}");
    let body = key.strip_prefix("ref_sk_").expect("secret prefix");
    assert!(body.len() == 32 && body.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        (&record["role"], &record["type"]),
        (&json!("developer"), &json!("secret"))
    );

    s.get(KEYS_A, Cred::Bearer(key))
        .await
        .assert_status(200, "new key works");
    let listed = s.get(KEYS_A, Cred::Key(ADMIN_A)).await;
    assert!(listed.text.contains(id) && !listed.text.contains(key));

    let path = format!("{KEYS_A}/{id}");
    s.delete(&path, Cred::Key(ADMIN_A))
        .await
        .assert_status(204, "revoke");
    let after = s.get(KEYS_A, Cred::Key(key)).await;
    after.assert_error(401, "unauthorized", "revoked key");
    assert!(!after.text.contains(key));
    s.get(&path, Cred::Key(ADMIN_A))
        .await
        .assert_error(404, "not_found", "revoked read");
    s.delete(&path, Cred::Key(ADMIN_A))
        .await
        .assert_error(404, "not_found", "twice");
    assert!(
        !s.ids(KEYS_A, Cred::Key(ADMIN_A))
            .await
            .contains(&id.to_owned())
    );
}

#[tokio::test]
async fn publishable_keys_are_created_for_agents_of_the_organisation() {
    let s = Server::start(&[]);
    let agent = s.post(
        "/api/v1/organizations/org-a/agents",
        Cred::Key(DEV_A),
        json!({"name": "w"}),
    );
    let agent = agent.await.json()["id"].as_str().unwrap().to_owned();
    let body = json!({ "name": "web", "type": "publishable", "agent": agent, "origins": [ORIGIN] });
    let created = s.post(KEYS_A, Cred::Key(ADMIN_A), body).await;
    created.assert_status(201, "create pk");
    let pk = created.json()["key"].as_str().unwrap().to_owned();
    assert!(pk.starts_with("ref_pk_") && pk.len() == 39, "{pk}");
    let path = format!("{KEYS_A}/{}", created.json()["id"].as_str().unwrap());
    assert_eq!(
        s.get(&path, Cred::Key(DEV_A)).await.json()["key"],
        json!(pk),
        "publishable keys stay retrievable"
    );
    let config = s
        .get(&format!("/api/v1/agents/{agent}/config"), Cred::Key(&pk))
        .await;
    config.assert_status(200, "embed with created pk");

    let other = json!({ "name": "x", "type": "publishable", "agent": "agent-b" });
    s.post(KEYS_A, Cred::Key(ADMIN_A), other)
        .await
        .assert_error(400, "invalid_request", "agent");
}

#[tokio::test]
async fn invalid_creation_bodies_are_400() {
    let s = Server::start(&[]);
    for body in [
        json!({ "name": "x", "role": "Admin" }),
        json!({ "name": "x", "role": "owner" }),
        json!({ "name": "x", "role": ["admin"] }),
        json!({ "name": "x", "role": "developer", "roles": ["admin"] }),
        json!({ "role": "developer" }),
        json!(["developer"]),
    ] {
        let reply = s.post(KEYS_A, Cred::Key(ADMIN_A), body.clone()).await;
        reply.assert_error(400, "invalid_request", &body.to_string());
    }
    assert_eq!(
        s.ids(KEYS_A, Cred::Key(ADMIN_A)).await.len(),
        4,
        "nothing created"
    );
}

#[tokio::test]
async fn roles_are_enforced_with_403() {
    let s = Server::start(&[]);
    let body = json!({ "name": "x", "role": "developer" });
    for cred in [Cred::Key(DEV_A), Cred::Bearer(DEV_A)] {
        let reply = s.post(KEYS_A, cred, body.clone()).await;
        reply.assert_error(403, "forbidden", "developer creates");
        let reply = s.delete(&format!("{KEYS_A}/key-admin-a"), cred).await;
        reply.assert_error(403, "forbidden", "developer revokes");
    }
    let escalate = json!({ "name": "x", "role": "admin" });
    let reply = s.post(KEYS_A, Cred::Key(DEV_A), escalate).await;
    reply.assert_error(403, "forbidden", "developer asks for admin");
    let reply = s.post(KEYS_A, Cred::Bearer(USER_A), body).await;
    reply.assert_status(201, "an admin user token creates keys");
    for path in [KEYS_A, "/v1/apis", "/api/v1/organizations/org-a/servers"] {
        s.get(path, Cred::Key(PK_A))
            .await
            .assert_error(403, "forbidden", path);
    }
}

#[tokio::test]
async fn another_organisation_is_404_for_every_method() {
    let s = Server::start(&[]);
    let body = json!({ "name": "x", "role": "developer" });
    let org_b = "/api/v1/organizations/org-b";
    for cred in [Cred::Key(ADMIN_A), Cred::Key(DEV_A), Cred::Bearer(USER_A)] {
        for reply in [
            s.get(KEYS_B, cred).await,
            s.get(&format!("{KEYS_B}/key-admin-b"), cred).await,
            s.post(KEYS_B, cred, body.clone()).await,
            s.delete(&format!("{KEYS_B}/key-admin-b"), cred).await,
            s.get(&format!("{org_b}/servers"), cred).await,
            s.get(&format!("{org_b}/servers/srv-b"), cred).await,
            s.post(&format!("{org_b}/servers"), cred, json!({"name": "x"}))
                .await,
            s.get(&format!("{org_b}/agents/agent-b"), cred).await,
            s.delete(&format!("{org_b}/agents/agent-b"), cred).await,
            s.get("/api/v1/organizations/org-zz/api-keys", cred).await,
        ] {
            reply.assert_error(404, "not_found", "cross-org");
        }
    }
    let foreign = format!("{KEYS_A}/key-admin-b");
    let reply = s.delete(&foreign, Cred::Key(ADMIN_A)).await;
    reply.assert_error(
        404,
        "not_found",
        "another organisation's key under one's own",
    );
    assert_eq!(s.ids(KEYS_B, Cred::Key(ADMIN_B)).await, ["key-admin-b"]);
    assert_eq!(
        s.ids(&format!("{org_b}/servers"), Cred::Key(ADMIN_B)).await,
        ["srv-b"]
    );
    assert_eq!(
        s.ids(&format!("{org_b}/agents"), Cred::Key(ADMIN_B)).await,
        ["agent-b"]
    );
    s.get(KEYS_A, Cred::Key(ADMIN_A))
        .await
        .assert_status(200, "admin-a untouched");
}

#[tokio::test]
async fn servers_and_agents_are_managed_by_developers() {
    let s = Server::start(&[]);
    let servers = "/api/v1/organizations/org-a/servers";
    assert_eq!(s.ids(servers, Cred::Key(DEV_A)).await, ["srv-a"]);
    let created = s
        .post(servers, Cred::Key(DEV_A), json!({ "name": "docs" }))
        .await;
    created.assert_status(201, "create server");
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("srv-") && id.len() == 12, "{id}");
    let read = s.get(&format!("{servers}/{id}"), Cred::Key(DEV_A)).await;
    assert_eq!(read.json(), json!({ "id": id, "name": "docs" }));
    let reply = s
        .post(servers, Cred::Key(DEV_A), json!({ "title": "x" }))
        .await;
    reply.assert_error(400, "invalid_request", "bad server body");

    let agents = "/api/v1/organizations/org-a/agents";
    assert_eq!(
        s.ids(agents, Cred::Key(DEV_A)).await,
        ["agent-a", "agent-a2"]
    );
    let created = s
        .post(agents, Cred::Key(DEV_A), json!({ "name": "bot" }))
        .await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("agent-"), "{id}");
    let path = format!("{agents}/{id}");
    s.get(&path, Cred::Key(DEV_A))
        .await
        .assert_status(200, "read agent");
    s.delete(&path, Cred::Key(DEV_A))
        .await
        .assert_status(204, "delete agent");
    s.get(&path, Cred::Key(DEV_A))
        .await
        .assert_error(404, "not_found", "deleted agent");
}

#[tokio::test]
async fn embed_config_needs_the_agents_publishable_key_and_origin() {
    let s = Server::start(&[]);
    let path = "/api/v1/agents/agent-a/config";
    let with_origin = s
        .request(Method::GET, path, Cred::Key(PK_A))
        .header("Origin", ORIGIN);
    let reply = common::read(with_origin).await;
    reply.assert_status(200, "pk with its origin");
    assert_eq!(reply.json(), json!({ "agent": "agent-a", "org": "org-a" }));
    assert_eq!(reply.header("access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(reply.header("vary"), Some("Origin"));
    let reply = s.get(path, Cred::Bearer(PK_A)).await;
    reply.assert_status(200, "pk without origin, as Bearer");
    assert_eq!(reply.header("access-control-allow-origin"), None);
    let other = s
        .request(Method::GET, path, Cred::Key(PK_A))
        .header("Origin", "https://evil.example");
    common::read(other)
        .await
        .assert_error(403, "forbidden", "other origin");
    for cred in [Cred::Key(ADMIN_A), Cred::Bearer(USER_A), Cred::Key(PK_A2)] {
        s.get(path, cred)
            .await
            .assert_error(403, "forbidden", "not the agent's pk");
    }
}

#[tokio::test]
async fn host_api_serves_only_the_owner() {
    let s = Server::start(&[]);
    let list = s.get("/v1/apis", Cred::Key(DEV_A)).await;
    assert_eq!(list.json(), json!([{ "id": "api-a", "version": 1 }]));
    let reply = s
        .post("/v1/apis/api-a:revise", Cred::Bearer(USER_A), json!({}))
        .await;
    assert_eq!(
        reply.json(),
        json!({ "id": "api-a", "version": 2, "rebuilds": 0 })
    );
    let reply = s
        .post("/v1/apis/api-a:rebuild", Cred::Key(DEV_A), json!({}))
        .await;
    assert_eq!(
        reply.json(),
        json!({ "id": "api-a", "version": 2, "rebuilds": 1 })
    );
    for path in [
        "/v1/apis/api-b:revise",
        "/v1/apis/api-b:rebuild",
        "/v1/apis/api-a:delete",
    ] {
        let reply = s.post(path, Cred::Key(ADMIN_A), json!({})).await;
        reply.assert_error(404, "not_found", path);
    }
    s.get("/v1/apis/api-b", Cred::Key(ADMIN_A))
        .await
        .assert_error(404, "not_found", "read b");
    let b = s.get("/v1/apis/api-b", Cred::Key(ADMIN_B)).await;
    assert_eq!(
        b.json(),
        json!({ "id": "api-b", "version": 1, "rebuilds": 0 })
    );
    s.get("/v1/apis", Cred::Key(PK_A))
        .await
        .assert_error(403, "forbidden", "pk on host");
}

#[tokio::test]
async fn credentials_are_judged_before_anything_else() {
    let s = Server::start(&[]);
    for (cred, what) in [
        (Cred::None, "none"),
        (Cred::Key("ref_sk_unknown"), "unknown"),
        (Cred::Key(&ADMIN_A[..ADMIN_A.len() - 1]), "truncated"),
        (Cred::Key(USER_A), "user token as X-API-Key"),
    ] {
        for path in [
            KEYS_A,
            "/api/v1/organizations/org-zz/servers",
            "/v1/apis/nope",
        ] {
            let reply = s.get(path, cred).await;
            reply.assert_error(401, "unauthorized", what);
        }
    }
    let padded = s
        .request(Method::GET, "/v1/apis", Cred::None)
        .header("X-API-Key", format!("\t{DEV_A} "));
    common::read(padded).await.assert_status(200, "padding");
    let lower = s
        .request(Method::GET, "/v1/apis", Cred::None)
        .header("authorization", format!("bearer   {DEV_A}"));
    common::read(lower)
        .await
        .assert_status(200, "scheme case, several spaces");
    for value in [
        format!("Basic {DEV_A}"),
        format!("Token {DEV_A}"),
        DEV_A.to_owned(),
    ] {
        let other = s
            .request(Method::GET, "/v1/apis", Cred::None)
            .header("authorization", value);
        common::read(other)
            .await
            .assert_error(401, "unauthorized", "other scheme");
    }
    let non_ascii = HeaderValue::from_bytes(b"ref_sk_dev_a_0002\xff").unwrap();
    let request = s
        .request(Method::GET, "/v1/apis", Cred::None)
        .header("X-API-Key", non_ascii);
    common::read(request)
        .await
        .assert_error(401, "unauthorized", "non-ASCII");
    let query = s
        .get(
            &format!("/v1/apis?api_key={DEV_A}&token={DEV_A}"),
            Cred::None,
        )
        .await;
    query.assert_error(401, "unauthorized", "query ignored");
}

#[tokio::test]
async fn several_credentials_are_400() {
    let s = Server::start(&[]);
    let two = s
        .request(Method::GET, "/v1/apis", Cred::Key(DEV_A))
        .header("X-API-Key", DEV_A);
    common::read(two)
        .await
        .assert_error(400, "invalid_request", "two X-API-Key");
    let both = s
        .request(Method::GET, "/v1/apis", Cred::Key(DEV_A))
        .bearer_auth(DEV_A);
    common::read(both)
        .await
        .assert_error(400, "invalid_request", "X-API-Key and Bearer");
    let two = format!("GET /v1/apis HTTP/1.1\r\nX-API-Key: {DEV_A}\r\nx-api-KEY: {DEV_A}");
    assert_eq!(s.raw(&two).await, 400);
    let auths = format!(
        "GET /v1/apis HTTP/1.1\r\nAuthorization: Bearer {DEV_A}\r\nauthorization: Bearer {DEV_A}"
    );
    assert_eq!(s.raw(&auths).await, 400);
    let nul = s
        .raw("GET /v1/apis HTTP/1.1\r\nX-API-Key: ref_sk_\0x")
        .await;
    assert!((400..500).contains(&nul), "NUL: {nul}");
    assert_eq!(
        s.raw(&format!("GET /v1/apis HTTP/1.1\r\nX-Api-Key: {DEV_A}"))
            .await,
        200
    );
}

async fn initialize(s: &Server, headers: &[(&str, &str)]) -> Reply {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "rest-test", "version": "0" }
        }
    });
    mcp_post(s, headers, body).await
}

async fn mcp_post(s: &Server, headers: &[(&str, &str)], body: Value) -> Reply {
    let mut builder = s
        .request(Method::POST, "/mcp", Cred::None)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    common::read(builder).await
}

#[tokio::test]
async fn mcp_accepts_live_secret_keys_in_x_api_key_only() {
    let s = Server::start(&[]);
    let ok = initialize(&s, &[("X-API-Key", DEV_A)]).await;
    ok.assert_status(200, "secret key on /mcp");
    let sid = ok.header("mcp-session-id").expect("session").to_owned();
    let session = [
        ("mcp-session-id", sid.as_str()),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let notify = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let with = |key| [session[0], session[1], ("X-API-Key", key)];
    mcp_post(&s, &with(DEV_A), notify)
        .await
        .assert_status(202, "initialized");
    let call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "text": "hi" } }
    });
    let echoed = mcp_post(&s, &with(DEV_A), call.clone()).await;
    echoed.assert_status(200, "tools/call with the key");
    assert!(echoed.text.contains("hi"), "{}", echoed.text);
    let other = mcp_post(&s, &with(ADMIN_A), call).await;
    other.assert_status(404, "the session is bound to its key");
    let prm = format!("{}/.well-known/oauth-protected-resource/mcp", s.base);
    for key in [PK_A, "ref_sk_unknown", " ", USER_A] {
        let reply = initialize(&s, &[("X-API-Key", key)]).await;
        reply.assert_status(401, key);
        assert!(
            reply.header("www-authenticate").unwrap().contains(&prm),
            "{key}"
        );
    }
    let bearer = format!("Bearer {DEV_A}");
    let reply = initialize(&s, &[("Authorization", &bearer)]).await;
    reply.assert_status(401, "API key as Bearer stays OAuth-only");
    let both = initialize(&s, &[("X-API-Key", DEV_A), ("Authorization", &bearer)]).await;
    assert!(matches!(both.status, 400 | 401), "both: {}", both.status);
    s.delete(&format!("{KEYS_A}/key-dev-a"), Cred::Key(ADMIN_A))
        .await;
    initialize(&s, &[("X-API-Key", DEV_A)])
        .await
        .assert_status(401, "revoked on /mcp");
}

// Seeded faults: each changes only the behaviour it names.

#[tokio::test]
async fn fault_accept_revoked() {
    let s = Server::start(&["accept-revoked"]);
    let path = format!("{KEYS_A}/key-dev-a");
    s.delete(&path, Cred::Key(ADMIN_A))
        .await
        .assert_status(204, "revoke");
    s.get(KEYS_A, Cred::Key(DEV_A))
        .await
        .assert_status(200, "revoked key works");
    assert!(
        s.ids(KEYS_A, Cred::Key(ADMIN_A))
            .await
            .contains(&"key-dev-a".to_owned())
    );
}

#[tokio::test]
async fn fault_revocation_lag() {
    let s = Server::start(&["revocation-lag"]);
    let path = format!("{KEYS_A}/key-dev-a");
    s.delete(&path, Cred::Key(ADMIN_A))
        .await
        .assert_status(204, "revoke");
    s.get(KEYS_A, Cred::Key(DEV_A))
        .await
        .assert_status(200, "within the lag");
    assert!(
        !s.ids(KEYS_A, Cred::Key(ADMIN_A))
            .await
            .contains(&"key-dev-a".to_owned())
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    s.get(KEYS_A, Cred::Key(DEV_A))
        .await
        .assert_error(401, "unauthorized", "after the lag");
}

#[tokio::test]
async fn fault_role_not_enforced() {
    let s = Server::start(&["role-not-enforced"]);
    let body = json!({ "name": "x", "role": "admin" });
    s.post(KEYS_A, Cred::Key(DEV_A), body)
        .await
        .assert_status(201, "developer creates");
    let path = format!("{KEYS_A}/key-admin-a");
    s.delete(&path, Cred::Key(DEV_A))
        .await
        .assert_status(204, "developer revokes");
}

#[tokio::test]
async fn fault_self_escalation() {
    let s = Server::start(&["self-escalation"]);
    let admin = s
        .post(
            KEYS_A,
            Cred::Key(DEV_A),
            json!({ "name": "x", "role": "admin" }),
        )
        .await;
    admin.assert_status(201, "developer asks for admin");
    let key = admin.json()["key"].as_str().unwrap().to_owned();
    let path = format!("{KEYS_A}/key-pk-a2");
    s.delete(&path, Cred::Key(&key))
        .await
        .assert_status(204, "the new admin key");
    let dev = s.post(
        KEYS_A,
        Cred::Key(DEV_A),
        json!({ "name": "x", "role": "developer" }),
    );
    dev.await
        .assert_error(403, "forbidden", "developer asks for developer");
}

#[tokio::test]
async fn fault_cross_org_read() {
    let s = Server::start(&["cross-org-read"]);
    assert_eq!(s.ids(KEYS_B, Cred::Key(DEV_A)).await, ["key-admin-b"]);
    let api = s.get("/v1/apis/api-b", Cred::Key(DEV_A)).await;
    api.assert_status(200, "other owner's API");
    let body = json!({ "name": "x", "role": "developer" });
    s.post(KEYS_B, Cred::Key(ADMIN_A), body)
        .await
        .assert_error(404, "not_found", "write");
    let path = format!("{KEYS_B}/key-admin-b");
    s.delete(&path, Cred::Key(ADMIN_A))
        .await
        .assert_error(404, "not_found", "revoke");
    let revise = s
        .post("/v1/apis/api-b:revise", Cred::Key(ADMIN_A), json!({}))
        .await;
    revise.assert_error(404, "not_found", "revise");
}

#[tokio::test]
async fn fault_list_shows_secret() {
    let s = Server::start(&["list-shows-secret"]);
    let list = s.get(KEYS_A, Cred::Key(DEV_A)).await;
    assert!(
        list.text.contains(ADMIN_A) && list.text.contains(DEV_A),
        "{}",
        list.text
    );
    let read = s
        .get(&format!("{KEYS_A}/key-admin-a"), Cred::Key(DEV_A))
        .await;
    assert_eq!(read.json()["key"], ADMIN_A);
}

#[tokio::test]
async fn fault_publishable_on_management() {
    let s = Server::start(&["publishable-on-management"]);
    s.get(KEYS_A, Cred::Key(PK_A))
        .await
        .assert_status(200, "pk lists keys");
    s.get("/v1/apis", Cred::Key(PK_A))
        .await
        .assert_status(200, "pk on host");
    let body = json!({ "name": "x", "role": "developer" });
    s.post(KEYS_A, Cred::Key(PK_A), body)
        .await
        .assert_error(403, "forbidden", "as a developer");
}

#[tokio::test]
async fn fault_forbidden_as_401() {
    let s = Server::start(&["forbidden-as-401"]);
    let body = json!({ "name": "x", "role": "developer" });
    let reply = s.post(KEYS_A, Cred::Key(DEV_A), body).await;
    reply.assert_error(401, "unauthorized", "role denial");
    s.get(KEYS_A, Cred::Key(PK_A))
        .await
        .assert_error(403, "forbidden", "not a role denial");
}

#[tokio::test]
async fn fault_invalid_as_403() {
    let s = Server::start(&["invalid-as-403"]);
    s.get(KEYS_A, Cred::Key("ref_sk_unknown"))
        .await
        .assert_error(403, "forbidden", "unknown");
    s.get(KEYS_A, Cred::Key(USER_A))
        .await
        .assert_error(403, "forbidden", "user as X-API-Key");
    for path in [KEYS_A, "/api/v1/agents/agent-a/config", "/v1/apis"] {
        s.get(path, Cred::None)
            .await
            .assert_error(403, "forbidden", "missing");
    }
    let reply = initialize(&s, &[]).await;
    reply.assert_status(401, "/mcp without credentials is unaffected");
}

/// `value` with the first `ch` replaced by its full-width form (U+FF01..U+FF5E).
fn full_width_one(value: &str, ch: char) -> HeaderValue {
    let wide = char::from_u32(u32::from(ch) + 0xFEE0).unwrap();
    HeaderValue::from_bytes(value.replacen(ch, &wide.to_string(), 1).as_bytes()).unwrap()
}

#[tokio::test]
async fn fault_fold_full_width_key() {
    let clean = Server::start(&[]);
    let s = Server::start(&["fold-full-width-key"]);
    let key = full_width_one(DEV_A, 'd');
    let bearer = full_width_one(&format!("Bearer {DEV_A}"), '0');
    for (server, status) in [(&clean, 401), (&s, 200)] {
        let request = server
            .request(Method::GET, KEYS_A, Cred::None)
            .header("X-API-Key", key.clone());
        common::read(request)
            .await
            .assert_status(status, "one full-width letter");
        let request = server
            .request(Method::GET, KEYS_A, Cred::None)
            .header("Authorization", bearer.clone());
        common::read(request)
            .await
            .assert_status(status, "one full-width digit, as Bearer");
    }
    for value in [
        &b"ref_sk_dev_a_0002\xff"[..],
        "ref_sk_dev_a_0002\u{3000}".as_bytes(),
    ] {
        let request = s
            .request(Method::GET, KEYS_A, Cred::None)
            .header("X-API-Key", HeaderValue::from_bytes(value).unwrap());
        common::read(request).await.assert_error(
            401,
            "unauthorized",
            "invalid UTF-8, outside the range",
        );
    }
}

#[tokio::test]
async fn fault_developer_read_only() {
    let s = Server::start(&["developer-read-only"]);
    let org_a = "/api/v1/organizations/org-a";
    for kind in ["servers", "agents"] {
        let path = format!("{org_a}/{kind}");
        s.get(&path, Cred::Key(DEV_A))
            .await
            .assert_status(200, "developer reads");
        s.post(&path, Cred::Key(DEV_A), json!({ "name": "x" }))
            .await
            .assert_error(403, "forbidden", "developer creates");
        s.post(&path, Cred::Key(ADMIN_A), json!({ "name": "x" }))
            .await
            .assert_status(201, "admin creates");
    }
    let agent = format!("{org_a}/agents/agent-a2");
    s.delete(&agent, Cred::Key(DEV_A))
        .await
        .assert_error(403, "forbidden", "developer deletes");
    s.get(&agent, Cred::Key(DEV_A))
        .await
        .assert_status(200, "still there");
}

#[tokio::test]
async fn fault_publishable_any_agent() {
    let s = Server::start(&["publishable-any-agent"]);
    let reply = s
        .get("/api/v1/agents/agent-a/config", Cred::Key(PK_A2))
        .await;
    reply.assert_status(200, "another agent of the organisation");
    assert_eq!(reply.json(), json!({ "agent": "agent-a", "org": "org-a" }));
    let other = s
        .request(
            Method::GET,
            "/api/v1/agents/agent-a2/config",
            Cred::Key(PK_A),
        )
        .header("Origin", ORIGIN);
    common::read(other)
        .await
        .assert_status(200, "from the key's own origin");
    for (path, what) in [
        (
            "/api/v1/agents/agent-b/config",
            "another organisation's agent",
        ),
        ("/api/v1/agents/agent-zz/config", "no such agent"),
    ] {
        s.get(path, Cred::Key(PK_A2))
            .await
            .assert_error(403, "forbidden", what);
    }
    s.get("/api/v1/agents/agent-a/config", Cred::Key(DEV_A))
        .await
        .assert_error(403, "forbidden", "still publishable keys only");
}

#[tokio::test]
async fn fault_owner_not_checked() {
    let s = Server::start(&["owner-not-checked"]);
    let reply = s
        .post("/v1/apis/api-b:revise", Cred::Key(DEV_A), json!({}))
        .await;
    assert_eq!(
        reply.json(),
        json!({ "id": "api-b", "version": 2, "rebuilds": 0 })
    );
    let reply = s
        .post("/v1/apis/api-b:rebuild", Cred::Bearer(USER_A), json!({}))
        .await;
    assert_eq!(
        reply.json(),
        json!({ "id": "api-b", "version": 2, "rebuilds": 1 })
    );
    s.get("/v1/apis/api-b", Cred::Key(DEV_A))
        .await
        .assert_error(404, "not_found", "reads stay owner-only");
    let b = s.get("/v1/apis/api-b", Cred::Key(ADMIN_B)).await;
    assert_eq!(b.json()["version"], 2);
}

#[tokio::test]
async fn fault_object_org_unchecked() {
    let s = Server::start(&["object-org-unchecked"]);
    let org_a = "/api/v1/organizations/org-a";
    let key = s
        .get(&format!("{KEYS_A}/key-admin-b"), Cred::Key(DEV_A))
        .await;
    key.assert_status(200, "org-b's key under org-a");
    assert_eq!(key.json()["id"], "key-admin-b");
    for path in ["servers/srv-b", "agents/agent-b"] {
        let reply = s.get(&format!("{org_a}/{path}"), Cred::Key(DEV_A)).await;
        reply.assert_status(200, path);
    }
    s.get(&format!("{KEYS_B}/key-admin-b"), Cred::Key(ADMIN_A))
        .await
        .assert_error(404, "not_found", "the path's organisation is still checked");
    s.delete(&format!("{KEYS_A}/key-admin-b"), Cred::Key(ADMIN_A))
        .await
        .assert_status(204, "revoked through org-a's path");
    s.get(KEYS_B, Cred::Key(ADMIN_B)).await.assert_error(
        401,
        "unauthorized",
        "org-b's key is revoked",
    );
    s.delete(&format!("{org_a}/agents/agent-b"), Cred::Key(DEV_A))
        .await
        .assert_status(204, "org-b's agent deleted through org-a's path");
    s.get(&format!("{KEYS_A}/key-user-a"), Cred::Key(DEV_A))
        .await
        .assert_error(404, "not_found", "user tokens are still not keys");
}

#[tokio::test]
async fn fault_accept_key_in_query() {
    let s = Server::start(&["accept-key-in-query"]);
    for name in ["api_key", "apikey", "key", "access_token", "token"] {
        let reply = s.get(&format!("/v1/apis?{name}={DEV_A}"), Cred::None).await;
        reply.assert_status(200, name);
    }
    let reply = s
        .get(&format!("/v1/apis?api_key={DEV_A}"), Cred::Key("ref_sk_x"))
        .await;
    reply.assert_error(401, "unauthorized", "a header credential wins");
}

#[tokio::test]
async fn fault_prefix_decides_type() {
    let s = Server::start(&["prefix-decides-type"]);
    let as_secret = PK_A.replacen("ref_pk_", "ref_sk_", 1);
    s.get(KEYS_A, Cred::Key(&as_secret))
        .await
        .assert_status(200, "pk body as sk");
    let body = json!({ "name": "x", "role": "developer" });
    let reply = s.post(KEYS_A, Cred::Key(&as_secret), body).await;
    reply.assert_error(403, "forbidden", "a developer");
    let as_publishable = ADMIN_A.replacen("ref_sk_", "ref_pk_", 1);
    let reply = s.get(KEYS_A, Cred::Key(&as_publishable)).await;
    reply.assert_error(403, "forbidden", "sk body as pk");
}

#[tokio::test]
async fn fault_echo_key_in_error() {
    let s = Server::start(&["echo-key-in-error"]);
    let reply = s.get(KEYS_A, Cred::Key("ref_sk_unknown_42")).await;
    reply.assert_status(401, "unknown");
    assert_eq!(reply.json()["key"], "ref_sk_unknown_42");
    let reply = s.get(KEYS_A, Cred::Key(PK_A)).await;
    assert_eq!(reply.json(), json!({ "error": "forbidden", "key": PK_A }));
    let reply = s
        .post(
            KEYS_A,
            Cred::Key(DEV_A),
            json!({"name": "x", "role": "admin"}),
        )
        .await;
    assert_eq!(reply.json()["key"], DEV_A);
}

#[test]
fn bad_fixture_arguments_exit_2_without_echoing_values() {
    for args in [
        &["--key", "k:secret:admin:org-a"][..],
        &["--key", "k:root:admin:org-a:ref_sk_hidden_value"],
        &["--key", "k:secret:admin:org-a:ref_sk_hidden value"],
        &[
            "--key",
            "k:secret:admin:org-a:ref_sk_hidden_value",
            "--origin",
            "k=https://a",
        ],
        &["--agent", "org-a"],
        &["--secret-prefix", "ref_pk_"],
    ] {
        let output = Command::new(BIN)
            .args(["http", "--issuer", "http://127.0.0.1:9"])
            .args(args)
            .env_remove("AUTHCONFORM_REFERENCE_FAULT")
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.is_empty() && !stderr.contains("hidden"), "{stderr}");
    }
}

#[tokio::test]
async fn created_keys_use_the_configured_prefixes() {
    let args = [
        FIXTURE,
        &[
            "--secret-prefix",
            "acme_sk_",
            "--publishable-prefix",
            "acme_pk_",
        ],
    ];
    let s = Server::start_with(&args.concat(), &[]);
    let created = s.post(
        KEYS_A,
        Cred::Key(ADMIN_A),
        json!({ "name": "x", "role": "admin" }),
    );
    let key = created.await.json()["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("acme_sk_") && key.len() == 40, "{key}");
    s.get(KEYS_A, Cred::Key(&key))
        .await
        .assert_status(200, "created key works");
}

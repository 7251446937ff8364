//! Black-box tests of the browser-origin rules of `authconform-reference http`
//! (`--cors-origin`: the CORS layer of the REST API, the embed route's
//! publishable-key origins, the `Origin` check of `/mcp`) and of their seeded
//! faults, over the real binary.

mod common;

use std::process::Command;

use common::{BIN, Reply, Server};
use http::Method;
use serde_json::json;

const ADMIN_A: &str = "ref_sk_admin_a_0001";
const DEV_A: &str = "ref_sk_dev_a_0002";
const PK_A: &str = "ref_pk_web_a_0004";
/// The `--cors-origin`.
const APP: &str = "https://app.example.test";
/// The publishable key's own origin (not a `--cors-origin`).
const PK_ORIGIN: &str = "https://embed.example";
const EVIL: &str = "https://evil.example";
const KEYS_A: &str = "/api/v1/organizations/org-a/api-keys";
const EMBED: &str = "/api/v1/agents/agent-a/config";
const REVISE: &str = "/v1/apis/api-a:revise";
const API: &str = "/v1/apis/api-a";
const AGENT: &str = "/api/v1/organizations/org-a/agents/agent-a2";
const METHODS: &str = "GET, POST, DELETE";
const HEADERS: &str = "content-type, authorization, x-api-key, x-session-id, x-encryption-key";

const FIXTURE: &[&str] = &[
    "--key=key-admin-a:secret:admin:org-a:ref_sk_admin_a_0001",
    "--key=key-dev-a:secret:developer:org-a:ref_sk_dev_a_0002",
    "--key=key-pk-a:publishable:agent-a:org-a:ref_pk_web_a_0004",
    "--origin=key-pk-a=https://embed.example",
    "--agent=org-a:agent-a2",
    "--api=org-a:api-a",
    "--cors-origin=https://app.example.test",
];

/// Look-alikes of [`APP`], none of which may be granted.
const LOOK_ALIKES: &[&str] = &[
    "https://app.example.test.evil.test",
    "https://evilapp.example.test",
    "https://x.app.example.test",
    "https://app.example.test:8443",
    "http://app.example.test",
    "https://APP.EXAMPLE.TEST",
    "https://app.example.test/",
    "https://app.example.test.",
    "https://app.example.test%2eevil.test",
    "null",
];

impl Reply {
    fn assert_status(&self, status: u16, what: &str) -> &Self {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        self
    }

    /// ACAO = `origin` and ACAC = `true`.
    fn assert_granted(&self, origin: &str, what: &str) -> &Self {
        assert_eq!(
            self.header("access-control-allow-origin"),
            Some(origin),
            "{what}"
        );
        assert_eq!(
            self.header("access-control-allow-credentials"),
            Some("true"),
            "{what}"
        );
        self
    }

    /// No ACAO, ACAC, ACAM or ACAH.
    fn assert_no_grant(&self, what: &str) -> &Self {
        for name in [
            "access-control-allow-origin",
            "access-control-allow-credentials",
            "access-control-allow-methods",
            "access-control-allow-headers",
        ] {
            assert_eq!(self.header(name), None, "{what}: {name}");
        }
        self
    }

    /// Exactly one `Vary` field, `Origin`.
    fn assert_vary(&self, what: &str) -> &Self {
        let vary: Vec<_> = self.headers.get_all("vary").iter().collect();
        assert_eq!(vary, ["Origin"], "{what}");
        self
    }
}

impl Server {
    /// A running `authconform-reference http` with [`FIXTURE`].
    fn start(faults: &[&str]) -> Server {
        Server::launch(FIXTURE, faults)
    }

    /// Sends `method path` with the key (if any), the Origin (if any) and `extra` fields.
    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        origin: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut builder = self.http.request(method, format!("{}{path}", self.base));
        if let Some(key) = key {
            builder = builder.header("X-API-Key", key);
        }
        if let Some(origin) = origin {
            builder = builder.header("Origin", origin);
        }
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        common::read(builder).await
    }

    async fn get(&self, path: &str, key: Option<&str>, origin: Option<&str>) -> Reply {
        self.send(Method::GET, path, key, origin, &[]).await
    }

    /// A preflight for `POST path` asking for `x-api-key` and `content-type`, without credentials.
    async fn preflight(&self, path: &str, origin: &str) -> Reply {
        let asked = [
            ("Access-Control-Request-Method", "POST"),
            ("Access-Control-Request-Headers", "content-type,x-api-key"),
        ];
        self.send(Method::OPTIONS, path, None, Some(origin), &asked)
            .await
    }

    /// The `version` of api-a, read without an Origin.
    async fn api_version(&self) -> u64 {
        let reply = self.get(API, Some(DEV_A), None).await;
        reply.assert_status(200, "read back");
        reply.json()["version"].as_u64().expect("version")
    }

    /// `initialize` on `/mcp` with the key and the Origin, if any.
    async fn initialize(&self, key: Option<&str>, origin: Option<&str>) -> Reply {
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": { "name": "cors-test", "version": "0" }
            }
        });
        let mut builder = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            builder = builder.header("X-API-Key", key);
        }
        if let Some(origin) = origin {
            builder = builder.header("Origin", origin);
        }
        common::read(builder).await
    }
}

#[tokio::test]
async fn allowed_origin_is_granted_exactly_with_vary_everywhere() {
    let s = Server::start(&[]);
    s.get(KEYS_A, Some(DEV_A), Some(APP))
        .await
        .assert_status(200, "allowed origin")
        .assert_granted(APP, "allowed origin")
        .assert_vary("allowed origin");
    s.get(KEYS_A, None, Some(APP))
        .await
        .assert_status(401, "refusals are readable by the app")
        .assert_granted(APP, "401")
        .assert_vary("401");
    s.get(KEYS_A, Some(DEV_A), None)
        .await
        .assert_status(200, "no Origin")
        .assert_no_grant("no Origin")
        .assert_vary("no Origin");
    for origin in [EVIL].iter().chain(LOOK_ALIKES) {
        s.get(KEYS_A, Some(DEV_A), Some(origin))
            .await
            .assert_status(200, origin)
            .assert_no_grant(origin)
            .assert_vary(origin);
    }
    let two = s
        .send(
            Method::GET,
            KEYS_A,
            Some(DEV_A),
            Some(EVIL),
            &[("Origin", APP)],
        )
        .await;
    two.assert_status(200, "two Origin fields")
        .assert_no_grant("two Origin fields");
}

#[tokio::test]
async fn preflights_are_granted_explicitly_without_credentials_for_allowed_origins_only() {
    let s = Server::start(&[]);
    for path in [KEYS_A, REVISE, EMBED] {
        let reply = s.preflight(path, APP).await;
        reply
            .assert_status(204, path)
            .assert_granted(APP, path)
            .assert_vary(path);
        assert_eq!(reply.header("access-control-allow-methods"), Some(METHODS));
        assert_eq!(reply.header("access-control-allow-headers"), Some(HEADERS));
        assert_eq!(reply.header("access-control-max-age"), Some("600"));
    }
    for origin in [EVIL].iter().chain(LOOK_ALIKES) {
        let reply = s.preflight(KEYS_A, origin).await;
        reply
            .assert_status(403, origin)
            .assert_no_grant(origin)
            .assert_vary(origin);
        assert_eq!(reply.json(), json!({ "error": "origin_not_allowed" }));
    }
    let no_origin = s
        .send(
            Method::OPTIONS,
            KEYS_A,
            None,
            None,
            &[("Access-Control-Request-Method", "POST")],
        )
        .await;
    no_origin
        .assert_status(405, "not a CORS preflight without Origin")
        .assert_no_grant("no Origin");
}

#[tokio::test]
async fn state_changing_requests_from_refused_origins_do_nothing() {
    let s = Server::start(&[]);
    for origin in [EVIL, "null", "https://app.example.test.evil.test"] {
        let reply = s
            .send(Method::POST, REVISE, Some(DEV_A), Some(origin), &[])
            .await;
        reply.assert_status(403, origin).assert_no_grant(origin);
        assert_eq!(reply.json(), json!({ "error": "origin_not_allowed" }));
        let reply = s
            .send(Method::DELETE, AGENT, Some(DEV_A), Some(origin), &[])
            .await;
        reply.assert_status(403, origin).assert_no_grant(origin);
    }
    assert_eq!(s.api_version().await, 1, "no revision happened");
    s.get(AGENT, Some(DEV_A), None)
        .await
        .assert_status(200, "the agent is still there");
    s.send(Method::POST, REVISE, Some(DEV_A), Some(APP), &[])
        .await
        .assert_status(200, "from the allowed origin")
        .assert_granted(APP, "from the allowed origin");
    s.send(Method::POST, REVISE, Some(DEV_A), None, &[])
        .await
        .assert_status(200, "server to server")
        .assert_no_grant("server to server");
    assert_eq!(s.api_version().await, 3);
}

#[tokio::test]
async fn publishable_keys_are_granted_only_their_own_origins_on_the_embed_route() {
    let s = Server::start(&[]);
    let own = s.get(EMBED, Some(PK_A), Some(PK_ORIGIN)).await;
    own.assert_status(200, "the key's origin")
        .assert_vary("embed");
    assert_eq!(own.header("access-control-allow-origin"), Some(PK_ORIGIN));
    assert_eq!(own.header("access-control-allow-credentials"), None);
    let preflight = s.preflight(EMBED, PK_ORIGIN).await;
    preflight.assert_status(204, "embed preflight from the key's origin");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(PK_ORIGIN)
    );
    assert_eq!(preflight.header("access-control-allow-credentials"), None);
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some(HEADERS)
    );
    s.preflight(KEYS_A, PK_ORIGIN)
        .await
        .assert_status(403, "the key's origin only on the embed route")
        .assert_no_grant("management route");
    for origin in [APP, EVIL, "https://embed.example.evil.test", "null"] {
        let reply = s.get(EMBED, Some(PK_A), Some(origin)).await;
        reply.assert_status(403, origin).assert_no_grant(origin);
        assert_eq!(reply.json(), json!({ "error": "forbidden" }));
    }
    s.preflight(EMBED, EVIL)
        .await
        .assert_status(403, "embed preflight from a foreign origin")
        .assert_no_grant("embed preflight");
}

#[tokio::test]
async fn mcp_refuses_foreign_origins_before_authentication() {
    let s = Server::start(&[]);
    for origin in [EVIL, "http://localhost:1", "null", PK_ORIGIN] {
        for key in [Some(DEV_A), None] {
            let reply = s.initialize(key, Some(origin)).await;
            reply.assert_status(403, origin);
            assert_eq!(reply.json(), json!({ "error": "invalid_origin" }));
            assert_eq!(reply.header("www-authenticate"), None, "{origin}");
        }
    }
    s.initialize(Some(DEV_A), Some(APP))
        .await
        .assert_status(200, "the allowed origin");
    s.initialize(Some(DEV_A), None)
        .await
        .assert_status(200, "no Origin");
    s.initialize(None, None)
        .await
        .assert_status(401, "no Origin, no credentials");
}

#[test]
fn bad_cors_origins_exit_2() {
    for bad in ["", "https://a b"] {
        let output = Command::new(BIN)
            .args([
                "http",
                "--issuer",
                "http://127.0.0.1:9",
                "--cors-origin",
                bad,
            ])
            .env_remove("AUTHCONFORM_REFERENCE_FAULT")
            .output()
            .expect("run");
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
    }
}

// Seeded faults: each changes only the behaviour it names.

#[tokio::test]
async fn fault_cors_wildcard_with_credentials() {
    let s = Server::start(&["cors-wildcard-with-credentials"]);
    s.get(KEYS_A, Some(DEV_A), Some(APP))
        .await
        .assert_status(200, "request")
        .assert_granted("*", "request");
    s.preflight(KEYS_A, APP)
        .await
        .assert_status(204, "preflight")
        .assert_granted("*", "preflight");
    s.get(KEYS_A, Some(DEV_A), Some(EVIL))
        .await
        .assert_no_grant("other origins are still refused");
}

#[tokio::test]
async fn fault_cors_reflect_any_origin() {
    let s = Server::start(&["cors-reflect-any-origin"]);
    let asked = [
        ("Access-Control-Request-Method", "DELETE"),
        ("Access-Control-Request-Headers", "x-api-key"),
    ];
    let reply = s
        .send(Method::OPTIONS, KEYS_A, None, Some(EVIL), &asked)
        .await;
    reply
        .assert_status(204, "preflight without credentials")
        .assert_granted(EVIL, "preflight");
    assert_eq!(
        reply.header("access-control-allow-headers"),
        Some("x-api-key")
    );
    assert_eq!(reply.header("access-control-allow-methods"), Some("DELETE"));
    for (key, status) in [(Some(DEV_A), 200), (None, 401)] {
        s.get(KEYS_A, key, Some(EVIL))
            .await
            .assert_status(status, "request")
            .assert_granted(EVIL, "request");
    }
    s.get(KEYS_A, Some(DEV_A), Some("null"))
        .await
        .assert_granted("null", "null");
    s.get(EMBED, Some(PK_A), Some(EVIL))
        .await
        .assert_status(403, "the embed route still checks the origin")
        .assert_granted(EVIL, "embed");
}

#[tokio::test]
async fn fault_cors_suffix_match() {
    let s = Server::start(&["cors-suffix-match"]);
    for origin in ["https://evilapp.example.test", "https://x.app.example.test"] {
        s.get(KEYS_A, Some(DEV_A), Some(origin))
            .await
            .assert_granted(origin, origin);
        s.preflight(KEYS_A, origin)
            .await
            .assert_status(204, origin)
            .assert_granted(origin, origin);
    }
    s.get(
        KEYS_A,
        Some(DEV_A),
        Some("https://app.example.test.evil.test"),
    )
    .await
    .assert_no_grant("a prefix look-alike");
}

#[tokio::test]
async fn fault_cors_prefix_match() {
    let s = Server::start(&["cors-prefix-match"]);
    for origin in [
        "https://app.example.test.evil.test",
        "https://app.example.test:8443",
    ] {
        s.get(KEYS_A, Some(DEV_A), Some(origin))
            .await
            .assert_granted(origin, origin);
        s.preflight(KEYS_A, origin)
            .await
            .assert_status(204, origin)
            .assert_granted(origin, origin);
    }
    s.get(KEYS_A, Some(DEV_A), Some("https://evilapp.example.test"))
        .await
        .assert_no_grant("a suffix look-alike");
}

#[tokio::test]
async fn fault_cors_no_vary() {
    let s = Server::start(&["cors-no-vary"]);
    for origin in [Some(APP), Some(EVIL), None] {
        let reply = s.get(KEYS_A, Some(DEV_A), origin).await;
        assert_eq!(reply.header("vary"), None, "{origin:?}");
    }
    let reply = s.get(KEYS_A, Some(DEV_A), Some(APP)).await;
    reply.assert_granted(APP, "still granted");
    let embed = s.get(EMBED, Some(PK_A), Some(PK_ORIGIN)).await;
    assert_eq!(embed.header("vary"), None, "embed");
    assert_eq!(s.preflight(KEYS_A, APP).await.header("vary"), None);
}

#[tokio::test]
async fn fault_preflight_needs_auth() {
    let s = Server::start(&["preflight-needs-auth"]);
    s.preflight(KEYS_A, APP)
        .await
        .assert_status(401, "preflight without credentials");
    let asked = [("Access-Control-Request-Method", "POST")];
    s.send(Method::OPTIONS, KEYS_A, Some(DEV_A), Some(APP), &asked)
        .await
        .assert_status(204, "preflight with a key")
        .assert_granted(APP, "with a key");
    s.preflight(KEYS_A, EVIL)
        .await
        .assert_status(403, "foreign origins are still refused");
}

#[tokio::test]
async fn fault_refused_origin_executes() {
    let s = Server::start(&["refused-origin-executes"]);
    s.send(Method::POST, REVISE, Some(DEV_A), Some(EVIL), &[])
        .await
        .assert_status(200, "executed")
        .assert_no_grant("no grant");
    assert_eq!(s.api_version().await, 2, "the revision happened");
    s.send(Method::DELETE, AGENT, Some(DEV_A), Some(EVIL), &[])
        .await
        .assert_status(204, "deleted");
    s.preflight(REVISE, EVIL)
        .await
        .assert_status(403, "preflights are still refused");
}

#[tokio::test]
async fn fault_publishable_any_origin() {
    let s = Server::start(&["publishable-any-origin"]);
    for origin in [EVIL, "null", APP] {
        let reply = s.get(EMBED, Some(PK_A), Some(origin)).await;
        reply
            .assert_status(200, origin)
            .assert_granted(origin, origin);
        assert_eq!(reply.json(), json!({ "agent": "agent-a", "org": "org-a" }));
        s.preflight(EMBED, origin)
            .await
            .assert_status(204, origin)
            .assert_granted(origin, origin);
    }
    s.get(KEYS_A, Some(DEV_A), Some(EVIL))
        .await
        .assert_no_grant("other routes are unaffected");
}

#[tokio::test]
async fn fault_mcp_ignores_origin() {
    let s = Server::start(&["mcp-ignores-origin"]);
    s.initialize(Some(DEV_A), Some(EVIL))
        .await
        .assert_status(200, "a foreign origin is served");
    s.initialize(None, Some(EVIL))
        .await
        .assert_status(401, "authentication still applies");
    s.get(KEYS_A, Some(ADMIN_A), Some(EVIL))
        .await
        .assert_no_grant("the REST API is unaffected");
}

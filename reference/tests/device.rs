//! Black-box tests of the device-authorization host of `authconform-reference
//! http` (`/public/device/start`, `/exchange`, `/approve`) and of its seeded
//! faults, over the real binary.

mod common;

use std::time::Duration;

use common::{Reply, Server};
use serde_json::{Value, json};

const USER_A: &str = "usr_dev_a_tok_0001";
const USER_B: &str = "usr_dev_b_tok_0002";
const SECRET_A: &str = "ref_sk_dev_a_0003";
const START: &str = "/public/device/start";
const EXCHANGE: &str = "/public/device/exchange";
const APPROVE: &str = "/public/device/approve";

const FIXTURE: &[&str] = &[
    "--key=key-user-a:user:developer:org-a:usr_dev_a_tok_0001",
    "--key=key-user-b:user:admin:org-b:usr_dev_b_tok_0002",
    "--key=key-sk-a:secret:admin:org-a:ref_sk_dev_a_0003",
    "--api=org-a:api-a",
    "--api=org-b:api-b",
    "--cors-origin=https://app.example",
];

impl Reply {
    fn assert_error(&self, status: u16, error: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.text);
        assert_eq!(self.json()["error"], error, "{what}: {}", self.text);
        assert!(self.json().get("api_key").is_none(), "{what}");
    }

    fn no_store(&self) -> bool {
        self.header("cache-control")
            .is_some_and(|v| v.contains("no-store"))
    }
}

/// A started grant.
struct Grant {
    device_code: String,
    user_code: String,
}

impl Server {
    /// A running `authconform-reference http` with the fixture and `args`.
    fn start(args: &[&str], faults: &[&str]) -> Server {
        let args: Vec<&str> = FIXTURE.iter().chain(args).copied().collect();
        Server::launch(&args, faults)
    }

    /// `POST path` with a JSON body and extra headers.
    async fn post(&self, path: &str, headers: &[(&str, &str)], body: Value) -> Reply {
        let mut builder = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        common::read(builder).await
    }

    async fn start_grant(&self) -> Grant {
        let reply = self.post(START, &[], json!({ "client_id": "cli" })).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        Grant {
            device_code: body["device_code"].as_str().expect("device_code").into(),
            user_code: body["user_code"].as_str().expect("user_code").into(),
        }
    }

    async fn exchange(&self, device_code: &str) -> Reply {
        self.post(EXCHANGE, &[], json!({ "device_code": device_code }))
            .await
    }

    async fn decide(&self, token: &str, user_code: &str, decision: &str) -> Reply {
        let bearer = format!("Bearer {token}");
        let body = json!({ "user_code": user_code, "decision": decision });
        self.post(APPROVE, &[("authorization", &bearer)], body)
            .await
    }

    /// Starts, approves as `token`, exchanges: the exchange response.
    async fn approved_exchange(&self, token: &str) -> (Grant, Reply) {
        let grant = self.start_grant().await;
        let approved = self.decide(token, &grant.user_code, "approve").await;
        assert_eq!(approved.status, 200, "{}", approved.text);
        let reply = self.exchange(&grant.device_code).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        (grant, reply)
    }

    /// `GET /v1/apis` with `X-API-Key`: the IDs listed.
    async fn apis(&self, key: &str) -> Vec<String> {
        let builder = self
            .http
            .get(format!("{}/v1/apis", self.base))
            .header("X-API-Key", key);
        let reply = common::read(builder).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        let list = body
            .as_array()
            .or_else(|| body["apis"].as_array())
            .unwrap_or_else(|| panic!("no list in {body}"));
        list.iter()
            .map(|a| a["id"].as_str().expect("id").to_owned())
            .collect()
    }
}

fn is_user_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && code
            .bytes()
            .enumerate()
            .all(|(i, c)| i == 4 || b"BCDFGHJKLMNPQRSTVWXZ".contains(&c))
}

#[tokio::test]
async fn start_answers_the_rfc8628_fields_without_a_credential() {
    let s = Server::start(&[], &[]);
    let reply = s.post(START, &[], json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.no_store());
    let body = reply.json();
    let dc = body["device_code"].as_str().expect("device_code");
    assert_eq!(dc.len(), 43, "{dc}");
    assert!(
        dc.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let uc = body["user_code"].as_str().expect("user_code");
    assert!(is_user_code(uc), "{uc}");
    assert!(
        body["verification_uri"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["interval"], 5);
    // A form body, and no body at all.
    let form = s
        .http
        .post(format!("{}{START}", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_id=cli&scope=x");
    let form = common::read(form).await;
    assert_eq!(form.status, 200, "{}", form.text);
    let bare = common::read(s.http.post(format!("{}{START}", s.base))).await;
    assert_eq!(bare.status, 200, "{}", bare.text);
    let mut codes: Vec<String> = Vec::new();
    for reply in [&reply, &form, &bare] {
        codes.push(reply.json()["device_code"].as_str().unwrap().into());
    }
    codes.dedup();
    assert_eq!(codes.len(), 3);
    let tuned = Server::start(&["--device-interval", "2", "--device-expires", "30"], &[]);
    let body = tuned.post(START, &[], json!({})).await.json();
    assert_eq!(
        (body["interval"].clone(), body["expires_in"].clone()),
        (json!(2), json!(30))
    );
}

#[tokio::test]
async fn approval_yields_one_developer_key_of_the_approver() {
    let s = Server::start(&[], &[]);
    let grant = s.start_grant().await;
    s.exchange(&grant.device_code).await.assert_error(
        400,
        "authorization_pending",
        "before approval",
    );
    let approved = s.decide(USER_A, &grant.user_code, "approve").await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let reply = s.exchange(&grant.device_code).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.no_store(), "{:?}", reply.headers);
    let key = reply.json()["api_key"]
        .as_str()
        .expect("api_key")
        .to_owned();
    assert!(key.starts_with("ref_sk_"), "{key}");
    assert_eq!(s.apis(&key).await, ["api-a"]);
    // The key works on /mcp too.
    let init = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": { "name": "device-test", "version": "0" }
        }
    });
    let mcp = s
        .post(
            "/mcp",
            &[
                ("X-API-Key", &key),
                ("accept", "application/json, text/event-stream"),
            ],
            init,
        )
        .await;
    assert_eq!(mcp.status, 200, "{}", mcp.text);
    // Single use.
    s.exchange(&grant.device_code)
        .await
        .assert_error(400, "invalid_grant", "replay");
    // The approver's organisation decides: user b is in org-b.
    let (_, other) = s.approved_exchange(USER_B).await;
    let key_b = other.json()["api_key"].as_str().unwrap().to_owned();
    assert_eq!(s.apis(&key_b).await, ["api-b"]);
    // A decided code cannot be decided again.
    let again = s.decide(USER_A, &grant.user_code, "deny").await;
    assert_eq!(again.status, 409, "{}", again.text);
}

#[tokio::test]
async fn fast_polling_gets_slow_down_and_denial_is_terminal() {
    let s = Server::start(&[], &[]);
    let grant = s.start_grant().await;
    s.exchange(&grant.device_code)
        .await
        .assert_error(400, "authorization_pending", "first poll");
    s.exchange(&grant.device_code)
        .await
        .assert_error(400, "slow_down", "second poll at once");
    let denied = s.decide(USER_A, &grant.user_code, "deny").await;
    assert_eq!(denied.status, 200, "{}", denied.text);
    for n in 0..2 {
        s.exchange(&grant.device_code).await.assert_error(
            400,
            "access_denied",
            &format!("poll {n} after denial"),
        );
    }
}

#[tokio::test]
async fn expiry_is_terminal_even_for_a_late_approval() {
    let s = Server::start(&["--device-expires", "1"], &[]);
    let grant = s.start_grant().await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    s.decide(USER_A, &grant.user_code, "approve")
        .await
        .assert_error(400, "expired_token", "late approval");
    s.exchange(&grant.device_code)
        .await
        .assert_error(400, "expired_token", "poll after expiry");
}

#[tokio::test]
async fn unknown_and_tampered_codes_are_invalid_grant() {
    let s = Server::start(&[], &[]);
    let grant = s.start_grant().await;
    let dc = &grant.device_code;
    let truncated = &dc[..dc.len() - 1];
    let flipped: String = dc
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    for bad in ["A".repeat(43).as_str(), truncated, &flipped] {
        s.exchange(bad)
            .await
            .assert_error(400, "invalid_grant", bad);
    }
    s.exchange("")
        .await
        .assert_error(400, "invalid_request", "empty");
    s.post(
        EXCHANGE,
        &[],
        json!({ "device_code": dc, "client_id": "other" }),
    )
    .await
    .assert_error(400, "invalid_grant", "another client_id");
    s.exchange(dc)
        .await
        .assert_error(400, "authorization_pending", "the real code");
}

#[tokio::test]
async fn approval_needs_a_user_token() {
    let s = Server::start(&[], &[]);
    let grant = s.start_grant().await;
    let body = json!({ "user_code": grant.user_code, "decision": "approve" });
    let none = s.post(APPROVE, &[], body.clone()).await;
    assert_eq!(none.status, 401, "{}", none.text);
    let wrong = s
        .post(
            APPROVE,
            &[("authorization", "Bearer nope_0000")],
            body.clone(),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let bearer_key = format!("Bearer {SECRET_A}");
    for headers in [
        [("authorization", bearer_key.as_str())],
        [("x-api-key", SECRET_A)],
    ] {
        let key = s.post(APPROVE, &headers, body.clone()).await;
        assert_eq!(key.status, 403, "{}", key.text);
    }
    let bearer_user = format!("Bearer {USER_A}");
    let csrf = s
        .post(
            APPROVE,
            &[
                ("authorization", bearer_user.as_str()),
                ("origin", "https://evil.example"),
            ],
            body.clone(),
        )
        .await;
    assert_eq!(csrf.status, 403, "{}", csrf.text);
    s.exchange(&grant.device_code).await.assert_error(
        400,
        "authorization_pending",
        "still pending",
    );
}

#[tokio::test]
async fn wrong_user_codes_are_rate_limited() {
    let s = Server::start(&[], &[]);
    let grant = s.start_grant().await;
    for n in 0..5 {
        s.decide(USER_A, "BBBB-BBBB", "approve").await.assert_error(
            400,
            "invalid_user_code",
            &format!("wrong code {n}"),
        );
    }
    let limited = s.decide(USER_A, &grant.user_code, "approve").await;
    limited.assert_error(429, "too_many_attempts", "sixth attempt");
    assert!(limited.header("retry-after").is_some());
    // Another user is not affected, and lower case works.
    let other = s
        .decide(USER_B, &grant.user_code.to_lowercase(), "approve")
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
}

#[tokio::test]
async fn fault_reuse_device_code() {
    let s = Server::start(&[], &["reuse-device-code"]);
    let (grant, first) = s.approved_exchange(USER_A).await;
    let second = s.exchange(&grant.device_code).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(first.json()["api_key"], second.json()["api_key"]);
}

#[tokio::test]
async fn fault_pending_for_unknown_code() {
    let s = Server::start(&[], &["pending-for-unknown-code"]);
    s.exchange(&"A".repeat(43))
        .await
        .assert_error(400, "authorization_pending", "unknown code");
}

#[tokio::test]
async fn fault_no_rate_limit() {
    let s = Server::start(&[], &["no-rate-limit"]);
    let grant = s.start_grant().await;
    for n in 0..10 {
        s.decide(USER_A, "BBBB-BBBB", "approve").await.assert_error(
            400,
            "invalid_user_code",
            &format!("wrong code {n}"),
        );
    }
    let ok = s.decide(USER_A, &grant.user_code, "approve").await;
    assert_eq!(ok.status, 200, "{}", ok.text);
}

#[tokio::test]
async fn fault_cacheable_key() {
    let s = Server::start(&[], &["cacheable-key"]);
    let (_, reply) = s.approved_exchange(USER_A).await;
    assert!(!reply.no_store(), "{:?}", reply.headers);
    let start = s.post(START, &[], json!({})).await;
    assert!(start.no_store());
}

//! The world end to end over real sockets: discovery, registration, authorization, token, MCP, refresh,
//! expiry and step-up, and the labels in its journal.

use super::*;
use crate::tls::{TestCa, install_crypto_provider};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

async fn world(config: WorldConfig) -> (MockWorld, reqwest::Client) {
    install_crypto_provider();
    let ca = TestCa::generate().expect("ca");
    let w = MockWorld::start(config, ca.server_config().expect("tls"))
        .await
        .expect("world");
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.ca_pem().as_bytes()).expect("pem")])
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    (w, client)
}

fn default_config() -> WorldConfig {
    WorldConfig {
        rs: RsScript {
            prm_at: vec![PrmPlace::Custom, PrmPlace::PathInserted, PrmPlace::Root],
            ..RsScript::default()
        },
        authz: AsScript {
            metadata_at: vec![AsPlace::OAuth],
            ..AsScript::default()
        },
        second: false,
    }
}

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge() -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, VERIFIER.as_bytes());
    URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// Registers, authorizes and exchanges the code; returns the token response.
async fn sign_in(w: &MockWorld, c: &reqwest::Client, scope: &str) -> serde_json::Value {
    let iss = w.issuer(0);
    let reg: serde_json::Value = c
        .post(format!("{iss}/register"))
        .json(&json!({"redirect_uris": ["http://127.0.0.1:9/cb"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let id = reg["client_id"].as_str().expect("client_id").to_owned();
    let resource = w.mcp_url(0);
    let auth = c
        .get(format!("{iss}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", &id),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("code_challenge", &challenge()),
            ("code_challenge_method", "S256"),
            ("state", "s-123"),
            ("scope", scope),
            ("resource", &resource),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(auth.status(), 302);
    let loc = url::Url::parse(auth.headers()["location"].to_str().expect("ascii")).expect("url");
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .expect("code")
        .1
        .into_owned();
    assert!(loc.query_pairs().any(|(k, v)| k == "state" && v == "s-123"));
    c.post(format!("{iss}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("client_id", &id),
            ("code_verifier", VERIFIER),
            ("resource", &resource),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json")
}

async fn call(w: &MockWorld, c: &reqwest::Client, token: &str, method: &str) -> u16 {
    c.post(w.mcp_url(0))
        .bearer_auth(token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {}}))
        .send()
        .await
        .expect("mcp")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_full_sign_in_is_recorded_with_labels_and_verified_pkce() {
    let (w, c) = world(default_config()).await;
    let r = c
        .post(w.mcp_url(0))
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"}))
        .send()
        .await
        .expect("mcp");
    assert_eq!(r.status(), 401);
    let h = r.headers()["www-authenticate"].to_str().expect("ascii");
    assert!(h.contains("/meta/custom-prm.json"), "{h}");
    let t = sign_in(&w, &c, "files:read").await;
    let at = t["access_token"].as_str().expect("token");
    assert_eq!(call(&w, &c, at, "tools/call").await, 200);
    let log = w.since(WorldMark::default());
    let token = log
        .iter()
        .find(|r| r.path == "/token")
        .expect("token request");
    assert_eq!(token.pkce, Some(Pkce::S256Verified));
    assert_eq!(token.client_auth, Some(ClientAuth::None));
    assert_eq!(token.param("code_verifier"), Some("verifier#1"));
    let last = log.last().expect("call");
    assert_eq!(last.token.as_deref(), Some("at#1"));
    assert_eq!(last.token_from.as_deref(), Some("as"));
    let text = format!("{log:?}");
    assert!(
        !text.contains(at) && !text.contains(VERIFIER),
        "secrets in the journal"
    );
}

#[tokio::test]
async fn expiry_refresh_rotation_and_step_up() {
    let mut config = default_config();
    config.rs.expire_at = Some(2);
    config.rs.tool_scope = Some("files:write".into());
    let (w, c) = world(config).await;
    let t = sign_in(&w, &c, "files:read").await;
    let at = t["access_token"].as_str().expect("token");
    assert_eq!(call(&w, &c, at, "tools/list").await, 200);
    assert_eq!(
        call(&w, &c, at, "tools/list").await,
        401,
        "the 2nd authorized request expires it"
    );
    assert_eq!(
        call(&w, &c, at, "tools/list").await,
        401,
        "and it stays dead"
    );
    let rt = t["refresh_token"].as_str().expect("refresh");
    let id = w
        .since(WorldMark::default())
        .iter()
        .find(|r| r.path == "/register")
        .and_then(|r| r.note.clone())
        .expect("registered");
    assert_eq!(id, "registered client#1");
    let secrets = w.secrets();
    let raw_id = secrets
        .iter()
        .find(|(_, l)| l == "client#1")
        .map(|(v, _)| v.clone())
        .expect("id");
    let refresh = |rt: String| {
        let form = [
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", rt),
            ("client_id", raw_id.clone()),
        ];
        c.post(format!("{}/token", w.issuer(0))).form(&form).send()
    };
    let t2: serde_json::Value = refresh(rt.to_owned())
        .await
        .expect("refresh")
        .json()
        .await
        .expect("json");
    let at2 = t2["access_token"].as_str().expect("new token");
    assert_eq!(call(&w, &c, at2, "tools/list").await, 200);
    let again = refresh(rt.to_owned()).await.expect("refresh");
    assert_eq!(again.status(), 400, "the old refresh token was rotated out");
    let denied = c
        .post(w.mcp_url(0))
        .bearer_auth(at2)
        .json(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "whoami"}}))
        .send()
        .await
        .expect("mcp");
    assert_eq!(denied.status(), 403);
    let h = denied.headers()["www-authenticate"]
        .to_str()
        .expect("ascii");
    assert!(
        h.contains(r#"error="insufficient_scope""#) && h.contains(r#"scope="files:write""#),
        "{h}"
    );
}

#[tokio::test]
async fn metadata_places_and_a_wrong_state_callback() {
    let mut config = default_config();
    config.rs.prm_at = vec![PrmPlace::Root];
    config.authz.issuer_path = "/t1".into();
    config.authz.metadata_at = vec![AsPlace::OidcAppended];
    config.authz.callback_state = CallbackState::Wrong;
    let (w, c) = world(config).await;
    let get = |u: String| c.get(u).send();
    assert_eq!(
        get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            w.origins().rs
        ))
        .await
        .expect("get")
        .status(),
        404
    );
    assert_eq!(
        get(format!(
            "{}/.well-known/oauth-protected-resource",
            w.origins().rs
        ))
        .await
        .expect("get")
        .status(),
        200
    );
    assert_eq!(
        get(format!(
            "{}/.well-known/oauth-authorization-server/t1",
            w.origins().authz
        ))
        .await
        .expect("get")
        .status(),
        404
    );
    let meta: serde_json::Value = get(format!(
        "{}/t1/.well-known/openid-configuration",
        w.origins().authz
    ))
    .await
    .expect("get")
    .json()
    .await
    .expect("json");
    assert_eq!(meta["issuer"], w.issuer(0));
    assert!(w.issuer(0).ends_with("/t1"));
    let auth = c
        .get(format!("{}/authorize", w.issuer(0)))
        .query(&[
            ("client_id", "https://client.example/cimd"),
            ("redirect_uri", "http://127.0.0.1:9/cb"),
            ("state", "mine"),
        ])
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        auth.status(),
        400,
        "a CIMD client_id is unknown unless cimd is on"
    );
}

#[test]
fn client_assertions_are_verified() {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let key = ClientKey::generate().expect("key");
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            key.private_pem
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .expect("pem");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).expect("pkcs8");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let sign = |claims: serde_json::Value| {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let sig = pair
            .sign(
                &aws_lc_rs::rand::SystemRandom::new(),
                format!("{h}.{p}").as_bytes(),
            )
            .expect("sign");
        format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    };
    let good = sign(
        json!({"iss": "m-1", "sub": "m-1", "aud": "https://as.test", "exp": now + 60, "jti": "j"}),
    );
    assert!(assertion::verify(
        &good,
        &key.public,
        "m-1",
        "https://as.test"
    ));
    let other_aud =
        sign(json!({"iss": "m-1", "sub": "m-1", "aud": "https://evil.test", "exp": now + 60}));
    assert!(!assertion::verify(
        &other_aud,
        &key.public,
        "m-1",
        "https://as.test"
    ));
    let expired =
        sign(json!({"iss": "m-1", "sub": "m-1", "aud": "https://as.test", "exp": now - 600}));
    assert!(!assertion::verify(
        &expired,
        &key.public,
        "m-1",
        "https://as.test"
    ));
    let other_key = ClientKey::generate().expect("key");
    assert!(!assertion::verify(
        &good,
        &other_key.public,
        "m-1",
        "https://as.test"
    ));
}
